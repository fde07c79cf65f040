/* Helpers shared by the tests of file formats (datasets, safetensors, op runner): temporary folders
 * removed at exit, whole-file reads and writes, and checks that the last error detail names what it should. */
#ifndef VKN_TEST_FILETEST_H
#define VKN_TEST_FILETEST_H

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

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* Folders made by tmp_dir(), removed with their contents when the test exits. */
static char tmp_dirs[16][64];
static int tmp_count;
static inline void tmp_cleanup(void)
{
    for (int i = 0; i < tmp_count; i++) nftw(tmp_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh folder under /tmp. */
static inline const char *tmp_dir(void)
{
    assert_true(tmp_count < 16);
    char *dir = tmp_dirs[tmp_count];
    snprintf(dir, 64, "/tmp/vkn-data-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (tmp_count++ == 0) atexit(tmp_cleanup);
    return dir;
}

static inline void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static inline uint8_t *read_bytes(const char *path, size_t *n)
{
    /* the whole file, NUL-terminated (the NUL is not counted in *n) */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    p[len] = 0;
    *n = (size_t)len;
    return p;
}

/* The last error detail must mention every given substring (NULL-terminated list). */
static inline void detail_has(const char *first, ...)
{
    const char *d = vkn_status_detail();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (!strstr(d, s)) {
            va_end(ap);
            fail_msg("error detail \"%s\" lacks \"%s\"", d, s);
        }
    va_end(ap);
}

#endif
