/* The checkpoint format (docs/CHECKPOINTS.md) on the real model: cgan-small with CN in G (per-class
 * [10, C] tables) and BN in D. Format 2 stores every norm slot and its Adam state with its real shape
 * and a CRC-32 per tensor; a checkpoint in the previous format (format 1: no format_version, no
 * checksums, norm slots and their Adam state flat) still loads, and a run resumed from it continues
 * with bit-identical losses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "vkn/vkn.h"

static vkn_context *ctx;

static vkn_cgan *make(uint64_t seed)
{
    vkn_cgan_config c = vkn_cgan_defaults();
    c.batch = 8, c.samples = 10, c.norm_g = VKN_NORM_CN, c.norm_d = VKN_NORM_BN, c.seed = seed;
    vkn_cgan *m;
    if (vkn_cgan_create(ctx, &c, &m) != VKN_OK) fail_msg("cgan: %s", vkn_status_detail());
    return m;
}

/* A deterministic batch for step s, then the step. */
static vkn_cgan_stats step(vkn_cgan *m, int64_t s)
{
    float *x = vkn_cgan_real_images(m);
    int32_t *y = vkn_cgan_real_labels(m);
    for (int i = 0; i < 8 * 28 * 28; i++) x[i] = (float)((i * 7 + s * 13) % 200) / 100.f - 1.f;
    for (int i = 0; i < 8; i++) y[i] = (int32_t)((i + s) % 10);
    vkn_cgan_stats st;
    if (vkn_cgan_step(m, s, &st) != VKN_OK) fail_msg("step: %s", vkn_status_detail());
    return st;
}

static void shape_is(const vkn_io_safetensors *f, const char *name, int ndim, int64_t d0, int64_t d1)
{
    const vkn_io_tensor_info *t = vkn_io_safetensors_lookup(f, name);
    if (!t) fail_msg("no tensor %s", name);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1))
        fail_msg("%s: rank %d [%lld, ...], expected rank %d [%lld, %lld]", name, t->ndim, (long long)t->shape[0], ndim,
                 (long long)d0, (long long)d1);
}

/* Rewrite a format 2 checkpoint as format 1 wrote it: no format_version, no checksums, every tensor of
 * a norm layer (slots and their optimizer state) flat. */
static void to_format1(const char *src, const char *dst, int64_t wrong_size)
{
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(src, &f), VKN_OK);
    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    for (int i = 0; i < vkn_io_safetensors_meta_count(f); i++) {
        const char *k, *v;
        vkn_io_safetensors_meta_at(f, i, &k, &v);
        if (strcmp(k, "format_version") && strncmp(k, "crc32:", 6))
            assert_int_equal(vkn_io_safetensors_add_meta(b, k, v), VKN_OK);
    }
    int n = vkn_io_safetensors_count(f);
    void **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const vkn_io_tensor_info *t = vkn_io_safetensors_at(f, i);
        bufs[i] = malloc(t->nbytes + 8);
        assert_int_equal(vkn_io_safetensors_read(f, t->name, t->dtype, -1, NULL, bufs[i]), VKN_OK);
        int64_t flat = t->numel;
        if (strstr(t->name, ".norm") && t->ndim == 2) {
            if (wrong_size && !strcmp(t->name, "g.norm1.gamma")) flat = wrong_size;
            assert_int_equal(vkn_io_safetensors_add(b, t->name, t->dtype, 1, &flat, bufs[i]), VKN_OK);
        } else {
            assert_int_equal(vkn_io_safetensors_add(b, t->name, t->dtype, t->ndim, t->shape, bufs[i]), VKN_OK);
        }
    }
    assert_int_equal(vkn_io_safetensors_write(b, dst), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    vkn_io_safetensors_close(f);
}

static void test_real_shapes_and_format1(void **state)
{
    (void)state;
    char v2[96], v1[96], bad[96];
    snprintf(v2, sizeof v2, "/tmp/vkn-ckpt-v2-%d.safetensors", (int)getpid());
    snprintf(v1, sizeof v1, "/tmp/vkn-ckpt-v1-%d.safetensors", (int)getpid());
    snprintf(bad, sizeof bad, "/tmp/vkn-ckpt-bad-%d.safetensors", (int)getpid());
    /* uninterrupted: 4 steps */
    vkn_cgan *a = make(3);
    vkn_cgan_stats la[4];
    for (int s = 0; s < 4; s++) la[s] = step(a, s);
    vkn_cgan_destroy(a);
    /* 2 steps, saved */
    vkn_cgan *b = make(3);
    for (int s = 0; s < 2; s++) step(b, s);
    assert_int_equal(vkn_cgan_save(b, v2, 2), VKN_OK);
    vkn_cgan_destroy(b);
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(v2, &f), VKN_OK);
    assert_string_equal(vkn_io_safetensors_meta_get(f, "format_version"), "2");
    assert_string_equal(vkn_io_safetensors_meta_get(f, "model"), "cgan-small");
    assert_non_null(vkn_io_safetensors_meta_get(f, "crc32:g.norm1.gamma"));
    shape_is(f, "g.norm1.gamma", 2, 10, 64);
    shape_is(f, "g.norm1.gamma.exp_avg", 2, 10, 64);
    shape_is(f, "g.norm1.gamma.exp_avg_sq", 2, 10, 64);
    shape_is(f, "g.norm2.beta", 2, 10, 32);
    shape_is(f, "g.norm1.running_mean", 2, 10, 64);
    shape_is(f, "g.norm1.priors", 1, 10, 0);
    shape_is(f, "d.norm.gamma", 1, 64, 0);
    shape_is(f, "d.norm.running_var", 1, 64, 0);
    shape_is(f, "g.fc.weight", 2, 64 * 49, 64 + 10);           /* Linear [out, in] */
    const vkn_io_tensor_info *t = vkn_io_safetensors_lookup(f, "g.convT1.weight");
    assert_non_null(t);                                        /* ConvTranspose2d [in, out, kh, kw] */
    assert_true(t->ndim == 4 && t->shape[0] == 64 && t->shape[1] == 32 && t->shape[2] == 4 && t->shape[3] == 4);
    t = vkn_io_safetensors_lookup(f, "d.conv2.weight");
    assert_non_null(t);                                        /* Conv2d [out, in, kh, kw] */
    assert_true(t->ndim == 4 && t->shape[0] == 64 && t->shape[1] == 32);
    vkn_io_safetensors_close(f);
    /* the same run in format 1; resumed (the seed also drives the device noise, so it stays; after two
     * steps every tensor differs from its initial value, so equal losses need every tensor loaded) */
    to_format1(v2, v1, 0);
    int version = 0;
    assert_int_equal(vkn_io_checkpoint_info(v1, &version, NULL), VKN_OK);
    assert_int_equal(version, 1);
    for (int k = 0; k < 2; k++) {
        vkn_cgan *r = make(3);
        int64_t at = -1;
        if (vkn_cgan_load(r, k ? v1 : v2, &at) != VKN_OK) fail_msg("load %s: %s", k ? v1 : v2, vkn_status_detail());
        assert_int_equal(at, 2);
        for (int s = 2; s < 4; s++) {
            vkn_cgan_stats st = step(r, s);
            if (memcmp(&st, &la[s], sizeof st))
                fail_msg("format %d: step %d: resumed losses D %.9g G %.9g, uninterrupted D %.9g G %.9g", k ? 1 : 2, s,
                         st.loss_d, st.loss_g, la[s].loss_d, la[s].loss_g);
        }
        vkn_cgan_destroy(r);
    }
    /* a flat slot of the wrong size is still a named mismatch */
    to_format1(v2, bad, 10 * 64 + 1);
    vkn_cgan *r = make(77);
    assert_int_equal(vkn_cgan_load(r, bad, NULL), VKN_ERR_SHAPE);
    if (!strstr(vkn_status_detail(), "tensor 'g.norm1.gamma': expected F32 [10, 64], found F32 [641]"))
        fail_msg("%s", vkn_status_detail());
    vkn_cgan_destroy(r);
    unlink(v2), unlink(v1), unlink(bad);
}

int main(void)
{
    if (vkn_context_create(NULL, &ctx) != VKN_OK) {
        fprintf(stderr, "no Vulkan device: %s\n", vkn_status_detail());
        return 77;
    }
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_real_shapes_and_format1) };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    uint32_t msgs = vkn_context_validation_count(ctx);
    vkn_context_destroy(ctx);
    return rc ? rc : msgs ? 1 : 0;
}
