/* Device RNG: Philox-4x32-10 against the published known-answer vectors, device vs host bit-exact
 * (uniform, bernoulli, labels, dropout), normals within float tolerance of the reference and with the
 * right mean/variance, and the counter semantics (same counter: same numbers; new counter: new). */
#include "../common/testutil.h"
#include "ops/ref_train.h"
#include "vkn/random.h"

static vkn_tensor step_tensor(uint32_t counter)
{
    int64_t n = VKN_STEP_COUNT;
    vkn_tensor s = tu_tensor(1, &n, NULL);
    float z[VKN_STEP_COUNT] = {0};
    assert_int_equal(vkn_tensor_upload(&s, z), VKN_OK);
    assert_int_equal(vkn_step_set_bits(&s, VKN_STEP_RNG, counter), VKN_OK);
    return s;
}

static vkn_tensor i32_tensor(int64_t n)
{
    vkn_tensor t;
    if (vkn_tensor_alloc(tu_arena, VKN_I32, 1, &n, &t) != VKN_OK) fail_msg("alloc: %s", vkn_status_detail());
    return t;
}

static void test_philox_kat(void **state)
{
    (void)state;
    /* Random123 kat_vectors: philox4x32 10 rounds */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        vkn_philox4x32_10(kat[i], kat[i] + 4, out);
        for (int j = 0; j < 4; j++)
            if (out[j] != kat[i][6 + j]) fail_msg("philox KAT %d word %d: %08x, expected %08x", i, j, out[j], kat[i][6 + j]);
    }
}

static void test_bit_exact(void **state)
{
    (void)state;
    const int64_t sizes[] = {1, 3, 4, 7, 65, 1001};
    const uint64_t seed = 0x0123456789abcdefull;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int64_t n = sizes[si];
        vkn_tensor st = step_tensor(77), u = tu_tensor(1, &n, NULL), b = tu_tensor(1, &n, NULL), lab = i32_tensor(n);
        vkn_tensor x = tu_tensor(1, &n, NULL), m = tu_tensor(1, &n, NULL), y = tu_tensor(1, &n, NULL);
        vkn_tensor u0 = tu_tensor(1, &n, NULL);
        float *hx = tu_alloc(n);
        tu_fill(hx, n, -2, 2);
        assert_int_equal(vkn_tensor_upload(&x, hx), VKN_OK);
        tu_begin();
        tu_check_op(vkn_op_rand_uniform(tu_cmd, &st, (vkn_rng){seed, 1}, 0, 1, &u));
        tu_check_op(vkn_op_rand_uniform(tu_cmd, NULL, (vkn_rng){seed, 1}, 0, 1, &u0));
        tu_check_op(vkn_op_rand_bernoulli(tu_cmd, &st, (vkn_rng){seed, 2}, 0.3f, &b));
        tu_check_op(vkn_op_rand_labels(tu_cmd, &st, (vkn_rng){seed, 3}, 10, &lab));
        tu_check_op(vkn_op_dropout(tu_cmd, &st, (vkn_rng){seed, 4}, 0.5f, &x, &m, &y));
        tu_run();
        float *got = tu_alloc(n), *ref = tu_alloc(n), *ref2 = tu_alloc(n);
        int32_t *gl = calloc((size_t)n, 4), *rl = calloc((size_t)n, 4);
        tu_download(&u, got);
        vkn_ref_rand_uniform(seed, 1, 77, 0, 1, ref, n);
        assert_memory_equal(got, ref, (size_t)n * 4);
        tu_download(&u0, got);
        vkn_ref_rand_uniform(seed, 1, 0, 0, 1, ref, n);
        assert_memory_equal(got, ref, (size_t)n * 4);
        tu_download(&b, got);
        vkn_ref_rand_bernoulli(seed, 2, 77, 0.3f, ref, n);
        assert_memory_equal(got, ref, (size_t)n * 4);
        assert_int_equal(vkn_tensor_download(&lab, gl), VKN_OK);
        vkn_ref_rand_labels(seed, 3, 77, 10, rl, n);
        assert_memory_equal(gl, rl, (size_t)n * 4);
        for (int64_t i = 0; i < n; i++) assert_true(gl[i] >= 0 && gl[i] < 10);
        tu_download(&m, got);
        vkn_ref_rand_bernoulli(seed, 4, 77, 0.5f, ref, n);
        assert_memory_equal(got, ref, (size_t)n * 4);
        tu_download(&y, got);
        for (int64_t i = 0; i < n; i++) ref2[i] = hx[i] * ref[i];
        assert_memory_equal(got, ref2, (size_t)n * 4);
        free(hx); free(got); free(ref); free(ref2); free(gl); free(rl);
    }
}

static void test_normal(void **state)
{
    (void)state;
    const int64_t n = 100003;
    vkn_tensor st = step_tensor(5), y = tu_tensor(1, &n, NULL);
    tu_begin();
    tu_check_op(vkn_op_rand_normal(tu_cmd, &st, (vkn_rng){42, 0}, 1.5f, 2.0f, &y));
    tu_run();
    float *got = tu_alloc(n), *ref = tu_alloc(n);
    tu_download(&y, got);
    vkn_ref_rand_normal(42, 0, 5, 1.5f, 2.0f, ref, n);
    /* device log/cos/sin are not correctly rounded: tolerance, not bits (r grows where 1-u is tiny) */
    tu_assert_close("normal vs reference", got, ref, n, 2e-4, 1e-4);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += got[i];
    double mean = s / n;
    for (int64_t i = 0; i < n; i++) s2 += (got[i] - mean) * (got[i] - mean);
    double var = s2 / (n - 1);
    /* std error of the mean 2/sqrt(n) ~ 0.0063; of the variance ~ 4*sqrt(2/n) ~ 0.018 */
    if (fabs(mean - 1.5) > 0.03 || fabs(var - 4.0) > 0.09) fail_msg("normal: mean %g var %g", mean, var);
    free(got); free(ref);
}

static void test_uniform_stats_and_counter(void **state)
{
    (void)state;
    const int64_t n = 100000;
    vkn_tensor st = step_tensor(1), a = tu_tensor(1, &n, NULL), b = tu_tensor(1, &n, NULL);
    float *ha = tu_alloc(n), *hb = tu_alloc(n), *hc = tu_alloc(n);
    /* one recording replayed with a new counter: new numbers; the same counter again: the same */
    tu_begin();
    tu_check_op(vkn_op_rand_uniform(tu_cmd, &st, (vkn_rng){9, 0}, -1, 3, &a));
    tu_check_op(vkn_op_rand_uniform(tu_cmd, &st, (vkn_rng){9, 1}, -1, 3, &b));
    tu_run();
    tu_download(&a, ha);
    tu_download(&b, hb);
    assert_int_equal(vkn_step_set_bits(&st, VKN_STEP_RNG, 2), VKN_OK);
    assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
    tu_download(&a, hc);
    int64_t same_ab = 0, same_ac = 0;
    double s = 0, mn = 1e9, mx = -1e9;
    for (int64_t i = 0; i < n; i++) {
        same_ab += ha[i] == hb[i];
        same_ac += ha[i] == hc[i];
        s += ha[i];
        mn = fmin(mn, ha[i]);
        mx = fmax(mx, ha[i]);
    }
    assert_true(same_ab < 50 && same_ac < 50);
    assert_true(mn >= -1 && mx < 3);
    if (fabs(s / n - 1.0) > 0.02) fail_msg("uniform mean %g", s / n);
    assert_int_equal(vkn_step_set_bits(&st, VKN_STEP_RNG, 1), VKN_OK);
    assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
    tu_download(&a, hc);
    assert_memory_equal(ha, hc, (size_t)n * 4);
    float *ref = tu_alloc(n);
    vkn_ref_rand_uniform(9, 0, 1, -1, 3, ref, n);
    tu_assert_close("uniform [-1,3)", ha, ref, n, 1e-6, 1e-6);
    free(ha); free(hb); free(hc); free(ref);
}

static void test_dropout_backward(void **state)
{
    (void)state;
    const int64_t n = 37;
    vkn_tensor st = step_tensor(3), x = tu_tensor(1, &n, NULL), m = tu_tensor(1, &n, NULL), y = tu_tensor(1, &n, NULL);
    vkn_tensor dy = tu_tensor(1, &n, NULL), dx = tu_tensor(1, &n, NULL);
    float *hx = tu_alloc(n), *hdy = tu_alloc(n), *hm = tu_alloc(n), *got = tu_alloc(n), *ref = tu_alloc(n);
    tu_fill(hx, n, -1, 1);
    tu_fill(hdy, n, -1, 1);
    assert_int_equal(vkn_tensor_upload(&x, hx), VKN_OK);
    assert_int_equal(vkn_tensor_upload(&dy, hdy), VKN_OK);
    tu_begin();
    tu_check_op(vkn_op_dropout(tu_cmd, &st, (vkn_rng){1, 0}, 0.25f, &x, &m, &y));
    tu_check_op(vkn_op_dropout_backward(tu_cmd, &m, &dy, &dx));
    tu_run();
    tu_download(&m, hm);
    tu_download(&dx, got);
    for (int64_t i = 0; i < n; i++) {
        assert_true(hm[i] == 0.0f || hm[i] == (float)(1.0 / 0.75));
        ref[i] = hdy[i] * hm[i];
    }
    assert_memory_equal(got, ref, (size_t)n * 4);
    /* errors */
    tu_begin();
    assert_int_equal(vkn_op_rand_bernoulli(tu_cmd, &st, (vkn_rng){1, 0}, 1.0f, &m), VKN_ERR_ARG);
    assert_int_equal(vkn_op_rand_labels(tu_cmd, &st, (vkn_rng){1, 0}, 3, &m), VKN_ERR_ARG);   /* f32 output */
    assert_int_equal(vkn_op_rand_labels(tu_cmd, &st, (vkn_rng){1, 0}, 0, &m), VKN_ERR_ARG);
    tu_run();
    free(hx); free(hdy); free(hm); free(got); free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_kat), cmocka_unit_test(test_bit_exact), cmocka_unit_test(test_normal),
        cmocka_unit_test(test_uniform_stats_and_counter), cmocka_unit_test(test_dropout_backward),
    };
    return TU_RUN(tests);
}
