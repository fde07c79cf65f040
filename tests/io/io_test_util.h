/* Helpers for the src/io tests: the shared file-test helpers plus the io header. */
#ifndef VKN_TEST_IO_UTIL_H
#define VKN_TEST_IO_UTIL_H

#include "../common/filetest.h"
#include "vkn/io.h"

#endif
