/* The library's version, commit and build type (include/vkn/version.h). */
#include "vkn/version.h"

#include "vkn_build_commit.h"
#include "vkn_build_config.h"

const char *vkn_version(void) { return VKN_VERSION_STRING; }
const char *vkn_version_commit(void) { return VKN_BUILD_COMMIT; }
const char *vkn_version_build_type(void) { return VKN_BUILD_TYPE; }
