/* Whole-file reads and atomic writes with messages that say what to do. */
#include "data/data_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

vkn_status vkn_data_read_file(const char *path, uint64_t max_bytes, const char *what, const char *fix,
                              uint8_t **buf, size_t *len)
{
    *buf = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkn_status_set(VKN_ERR_IO, "%s: %s: cannot open (%s) (%s)", what, path, strerror(errno), fix);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return vkn_status_set(VKN_ERR_IO, "%s: %s: not a regular file (%s)", what, path, fix);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return vkn_status_set(VKN_ERR_FORMAT, "%s: %s: file is %lld bytes, over the %llu-byte limit (is this "
                              "the right file? %s)", what, path, (long long)st.st_size,
                              (unsigned long long)max_bytes, fix);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        fclose(f);
        return vkn_status_set(VKN_ERR_HOST_OOM, "%s: %s: cannot allocate %zu bytes", what, path, n);
    }
    size_t got = fread(p, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(p);
        return vkn_status_set(VKN_ERR_IO, "%s: %s: read %zu of %zu bytes (%s)", what, path, got, n, fix);
    }
    *buf = p, *len = n;
    return VKN_OK;
}

vkn_status vkn_data_mkdirs(const char *dir, const char *what)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return vkn_status_set(VKN_ERR_ARG, "%s: %s: path too long", what, dir);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == 0) {
            char keep = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return vkn_status_set(VKN_ERR_IO, "%s: %s: cannot create folder (%s)", what, p, strerror(errno));
            *s = keep;
            if (!keep) break;
        }
    }
    return VKN_OK;
}

vkn_status vkn_data_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap)
        return vkn_status_set(VKN_ERR_ARG, "data: path too long (over %zu bytes): %.200s...", cap - 1, out);
    return VKN_OK;
}
