/* --version for every tool: the library's version, the commit it was built from and the build type.
 * Checked before the tool's own options, so `vkn-xxx --version` answers whatever else is given. */
#ifndef VKN_APP_VERSION_H
#define VKN_APP_VERSION_H

#include <stdio.h>
#include <string.h>

#include "vkn/version.h"

static inline int vkn_app_version(int argc, char **argv, const char *program)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s (commit %s, %s build)\n", program, vkn_version(), vkn_version_commit(),
                   vkn_version_build_type());
            return 1;
        }
    return 0;
}

#endif
