/* Where datasets, caches and installed files are: a search that does not depend on the current
 * directory, so an installed program works from anywhere (include/vkn/data.h has the order). */
#include "vkn/data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include("vkn_build_config.h")
#include "vkn_build_config.h"
#endif
#endif
#ifndef VKN_BUILD_BUILD_ROOT  /* compiled outside meson (tests/fuzz): no build tree, no install */
#define VKN_BUILD_SOURCE_ROOT ""
#define VKN_BUILD_BUILD_ROOT ""
#define VKN_INSTALL_DATA_DIR ""
#define VKN_INSTALL_DATA_FROM_BIN ""
#endif

#define PATH_CAP 4096

static int is_dir(const char *p)
{
    struct stat sb;
    return p && *p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The running program's folder ("" when /proc/self/exe cannot be read). */
static void exe_dir(char *out, size_t cap)
{
    char buf[PATH_CAP];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    out[0] = 0;
    if (n <= 0) return;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return;
    *slash = 0;
    snprintf(out, cap, "%s", buf);
}

/* 1 when the running program lies under this library's build directory: the source tree beside it is
 * then the one this build came from. */
static int running_from_build_dir(void)
{
    char dir[PATH_CAP];
    exe_dir(dir, sizeof dir);
    size_t n = strlen(VKN_BUILD_BUILD_ROOT);
    return n > 0 && strncmp(dir, VKN_BUILD_BUILD_ROOT, n) == 0 && (dir[n] == '/' || dir[n] == 0);
}

const char *vkn_data_user_dir(void)
{
    static _Thread_local char buf[PATH_CAP];
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0] == '/') {  /* the XDG spec: a relative value is invalid and ignored */
        snprintf(buf, sizeof buf, "%s/vknorm", xdg);
        return buf;
    }
    const char *home = getenv("HOME");
    snprintf(buf, sizeof buf, "%s/.local/share/vknorm", home && *home ? home : ".");
    return buf;
}

const char *vkn_data_share_dir(void)
{
    static _Thread_local char buf[PATH_CAP];
    char dir[PATH_CAP];
    exe_dir(dir, sizeof dir);
    if (*VKN_INSTALL_DATA_FROM_BIN && *dir) {
        snprintf(buf, sizeof buf, "%s/%s", dir, VKN_INSTALL_DATA_FROM_BIN);
        char real[PATH_MAX];
        if (is_dir(buf) && realpath(buf, real) && strlen(real) < sizeof buf) {
            memcpy(buf, real, strlen(real) + 1);
            return buf;
        }
    }
    return is_dir(VKN_INSTALL_DATA_DIR) ? VKN_INSTALL_DATA_DIR : NULL;
}

const char *vkn_data_dir(void)
{
    static _Thread_local char buf[PATH_CAP];
    const char *d = getenv("VKN_DATA_DIR");
    if (d && *d) return d;
    const char *root = getenv("VKN_SOURCE_ROOT");
    if (root && *root) {
        snprintf(buf, sizeof buf, "%s/data", root);
        return buf;
    }
    if (running_from_build_dir()) return VKN_BUILD_SOURCE_ROOT "/data";
    const char *user = vkn_data_user_dir();
    if (is_dir(user)) return user;
    const char *share = vkn_data_share_dir();
    if (share) return share;
    return user;  /* absent: where `vkn-data install` puts the datasets, named in error messages */
}

const char *vkn_data_cache_dir(void)
{
    static _Thread_local char buf[PATH_CAP];
    const char *d = vkn_data_dir();
    const char *share = vkn_data_share_dir();
    /* the installed folder is usually read-only: caches built from it go to the user's folder */
    if (share && strcmp(d, share) == 0) d = vkn_data_user_dir();
    snprintf(buf, sizeof buf, "%s/cache", d);
    return buf;
}
