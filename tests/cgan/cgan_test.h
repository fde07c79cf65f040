/* Helpers of the vkn-cgan tests: a temporary folder, running the app, reading files. */
#ifndef VKN_TEST_CGAN_H
#define VKN_TEST_CGAN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int ct_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static char ct_dir[64];
static inline void ct_cleanup(void)
{
    if (ct_dir[0] && !getenv("VKN_KEEP_TEST_FILES")) nftw(ct_dir, ct_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* One fresh folder under /tmp per test program, removed at exit. */
static inline const char *ct_tmp(void)
{
    if (!ct_dir[0]) {
        snprintf(ct_dir, sizeof ct_dir, "/tmp/vkn-cgan-test-XXXXXX");
        if (!mkdtemp(ct_dir)) abort();
        atexit(ct_cleanup);
    }
    return ct_dir;
}

static inline char *ct_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) abort();
    p[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return p;
}

static inline bool ct_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static inline bool ct_have_fashion(void)
{
    const char *d = getenv("VKN_FASHION_DIR");
    char p[512];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", d ? d : "/usr/share/datasets/fashion-mnist");
    return access(p, R_OK) == 0;
}

/* Run a shell command; its output goes to log (printed on failure by the caller). Returns the exit
 * status (or -1 when it did not exit normally). */
static inline int ct_sh(const char *log, const char *fmt, ...)
{
    char cmd[4096], full[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s >'%s' 2>&1", cmd, log);
    int rc = system(full);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static inline void ct_print(const char *log)
{
    char *t = ct_read(log, NULL);
    if (t) print_message("---- %s ----\n%s\n", log, t);
    free(t);
}

#endif
