/* Tests of the apps: change one metadata value of a safetensors file in place (a damaged checkpoint),
 * without the library: the header is rewritten and re-padded, the data is untouched. Needs cmocka. */
#ifndef VKN_TEST_ST_EDIT_H
#define VKN_TEST_ST_EDIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char *st_read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) abort();
    fclose(f);
    p[len] = 0;
    *n = (size_t)len;
    return p;
}

/* Rewrite a metadata value of a safetensors file (header re-padded, data untouched). */
static inline void st_set_meta(const char *path, const char *key, const char *value)
{
    size_t n;
    char *b = st_read_all(path, &n);
    assert_non_null(b);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | (uint8_t)b[i];
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    char *hdr = b + 8, *at = strstr(hdr, pat);
    assert_true(at && at < hdr + h);
    char *v = at + strlen(pat), *end = strchr(v, '"');
    char *out = malloc(n + 64);
    size_t k = 8;
    memcpy(out + k, hdr, (size_t)(v - hdr)), k += (size_t)(v - hdr);
    memcpy(out + k, value, strlen(value)), k += strlen(value);
    size_t rest = (size_t)(hdr + h - end);
    memcpy(out + k, end, rest), k += rest;
    while (k > 8 && out[k - 1] == ' ') k--;   /* the old padding */
    while ((k - 8) % 8) out[k++] = ' ';
    uint64_t nh = k - 8;
    for (int i = 0; i < 8; i++) out[i] = (char)(nh >> (8 * i));
    memcpy(out + k, b + 8 + h, n - 8 - h), k += n - 8 - h;
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(out, 1, k, f), k);
    fclose(f);
    free(out), free(b);
}

#endif
