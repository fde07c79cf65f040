/* Helpers shared by the viewer tests: temporary folders and PNG header checks. */
#ifndef VKN_TEST_VIEWER_H
#define VKN_TEST_VIEWER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>

#include "viewer.h"

static inline int vt_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static char vt_dir[64];
static inline void vt_cleanup(void)
{
    if (vt_dir[0]) nftw(vt_dir, vt_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* One fresh folder under /tmp per test program, removed at exit. */
static inline const char *vt_tmp_dir(void)
{
    if (!vt_dir[0]) {
        snprintf(vt_dir, sizeof vt_dir, "/tmp/vkn-viewer-test-XXXXXX");
        assert_non_null(mkdtemp(vt_dir));
        atexit(vt_cleanup);
    }
    return vt_dir;
}

static inline uint8_t *vt_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static inline uint32_t vt_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The file is a PNG (signature, then an IHDR chunk first) of w x h pixels. */
static inline void vt_check_png(const char *path, int w, int h)
{
    size_t n = 0;
    uint8_t *p = vt_read(path, &n);
    assert_non_null(p);
    assert_true(n > 33);
    assert_memory_equal(p, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(vt_be32(p + 8), 13);
    assert_memory_equal(p + 12, "IHDR", 4);
    assert_int_equal(vt_be32(p + 16), (uint32_t)w);
    assert_int_equal(vt_be32(p + 20), (uint32_t)h);
    free(p);
}

#endif
