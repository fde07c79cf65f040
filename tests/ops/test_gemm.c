/* GEMM against the reference: every transpose combination on square, non-square and odd shapes,
 * bias (per column and per row), activations, beta accumulation and batches; split-K shapes (few tiles
 * of C, a long K: two dispatches on the tiled kernel) and their bit-reproducibility. The suite runs this
 * program twice, with VKN_PATH=cpu (register-blocked kernel) and VKN_PATH=gpu (tiled kernel). */
#include "../common/testutil.h"
#include "ops/gemm_internal.h"
#include "ops/ref.h"

/* the tiled kernel splits K (gemm.c, split_plan): the GEMM records a partial-product pass and a reduction */
static int splits_here(int64_t nb, int64_t M, int64_t N, int64_t K)
{
    return !strcmp(vkn_op_gemm_path(tu_ctx), "tiled") && vkn_gemm_split_scratch_numel(M, N, K, nb) > 0;
}

static void check(int64_t nb, int64_t M, int64_t N, int64_t K, const vkn_gemm_opts *o, int batch_b)
{
    int64_t na = nb * M * K, nbb = (batch_b ? nb : 1) * K * N, nc = nb * M * N;
    float *a = tu_alloc(na), *b = tu_alloc(nbb), *c0 = tu_alloc(nc), *ref = tu_alloc(nc), *got = tu_alloc(nc);
    float *bias = tu_alloc(M > N ? M : N);
    tu_fill(a, na, -1, 1);
    tu_fill(b, nbb, -1, 1);
    tu_fill(c0, nc, -1, 1);
    tu_fill(bias, M > N ? M : N, -1, 1);
    int64_t sa[3] = {nb, o->trans_a ? K : M, o->trans_a ? M : K};
    int64_t sb[3] = {nb, o->trans_b ? N : K, o->trans_b ? K : N};
    int64_t sc[3] = {nb, M, N};
    int64_t nbias = o->bias_kind == VKN_BIAS_ROW ? M : N;
    vkn_tensor ta = nb > 1 ? tu_tensor(3, sa, a) : tu_tensor(2, sa + 1, a);
    vkn_tensor tb = batch_b && nb > 1 ? tu_tensor(3, sb, b) : tu_tensor(2, sb + 1, b);
    vkn_tensor tc = nb > 1 ? tu_tensor(3, sc, c0) : tu_tensor(2, sc + 1, c0);
    vkn_tensor tbias = tu_tensor(1, &nbias, bias);
    vkn_gemm_opts oo = *o;
    if (oo.bias_kind != VKN_BIAS_NONE) oo.bias = &tbias;
    tu_begin();
    tu_check_op(vkn_op_gemm(tu_cmd, &ta, &tb, &tc, &oo));
    assert_int_equal(vkn_cmd_get_stats(tu_cmd).dispatches, splits_here(nb, M, N, K) ? 2 : 1);
    tu_run();
    tu_download(&tc, got);
    memcpy(ref, c0, (size_t)nc * sizeof *ref);
    for (int64_t z = 0; z < nb; z++)
        vkn_ref_gemm(1, M, N, K, a + z * M * K, b + (batch_b ? z * K * N : 0), ref + z * M * N, bias, o);
    char what[160];
    snprintf(what, sizeof what, "gemm[%s] b=%lld M=%lld N=%lld K=%lld tA=%d tB=%d bias=%d act=%d beta=%g",
             vkn_op_gemm_path(tu_ctx), (long long)nb, (long long)M, (long long)N, (long long)K, o->trans_a, o->trans_b,
             o->bias_kind, o->act, o->beta);
    tu_assert_close(what, got, ref, nc, 2e-5 * (double)(K > 16 ? K : 16) / 16.0, 1e-4);
    free(a); free(b); free(c0); free(ref); free(got); free(bias);
}

static void test_transposes(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 8, 4}, {17, 33, 9}, {64, 64, 64},
                                        {65, 31, 129}, {8, 100, 36}, {128, 12, 256}, {2, 130, 3},
                                        {7, 1, 9}, {64, 1, 12} /* matrix-vector: computed transposed */,
                                        {48, 520, 260}, {33, 516, 300} /* 24/32-row, 8-column blocks */};
    tu_seed(11);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++) {
            vkn_gemm_opts o = {.trans_a = t & 1, .trans_b = t >> 1};
            check(1, shapes[s][0], shapes[s][1], shapes[s][2], &o, 0);
        }
}

static void test_epilogue(void **state)
{
    (void)state;
    tu_seed(12);
    for (int act = 0; act < VKN_ACT_COUNT_; act++)
        for (int bias = 0; bias < 3; bias++)
            for (int vec = 0; vec < 2; vec++) {
                vkn_gemm_opts o = {.bias_kind = (vkn_bias)bias, .act = (vkn_act)act, .act_alpha = 0.2f,
                                   .alpha = 0.5f, .beta = bias == 1 ? 1.0f : 0.0f, .trans_b = act & 1};
                check(1, vec ? 32 : 19, vec ? 48 : 23, vec ? 20 : 11, &o, 0);
                check(1, vec ? 32 : 19, 1, vec ? 20 : 11, &o, 0);   /* N = 1 */
            }
}

static void test_batched(void **state)
{
    (void)state;
    tu_seed(13);
    vkn_gemm_opts o = {0};
    check(3, 5, 9, 7, &o, 1);
    check(4, 16, 8, 12, &o, 1);
    vkn_gemm_opts ot = {.trans_a = 1, .trans_b = 1};
    check(2, 12, 20, 8, &ot, 0);   /* B shared by every batch item */
}

/* Few 64x64 tiles of C and a long K (a convolution's dW): split into slices of K on the tiled kernel.
 * Odd K leaves a short last slice; M or N of 1, transposes, the full epilogue applied after the sum of
 * the partials, and batches (slices of every batch item). */
static void test_split_k(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{32, 75, 4099}, {7, 13, 1000}, {64, 64, 2048}, {65, 3, 777},
                                        {1, 1, 5000}, {50, 1, 3001} /* matrix-vector: computed transposed */,
                                        {130, 70, 1537}};
    tu_seed(14);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        assert_true(vkn_gemm_split_scratch_numel(shapes[s][0], shapes[s][1], shapes[s][2], 1) > 0);
        for (int t = 0; t < 4; t++) {
            vkn_gemm_opts o = {.trans_a = t & 1, .trans_b = t >> 1};
            check(1, shapes[s][0], shapes[s][1], shapes[s][2], &o, 0);
        }
    }
    for (int act = 0; act < VKN_ACT_COUNT_; act++)
        for (int bias = 0; bias < 3; bias++) {
            vkn_gemm_opts o = {.bias_kind = (vkn_bias)bias, .act = (vkn_act)act, .act_alpha = 0.1f, .alpha = 0.75f,
                               .beta = bias != 2 ? 0.5f : 0.0f, .trans_a = act & 1, .trans_b = bias == 1};
            check(1, 33, 41, 1200, &o, 0);
        }
    vkn_gemm_opts o = {.alpha = -1.5f, .beta = 2.0f, .bias_kind = VKN_BIAS_ROW, .act = VKN_ACT_LEAKY_RELU, .act_alpha = 0.2f};
    check(3, 20, 30, 1500, &o, 1);
    vkn_gemm_opts ot = {.trans_a = 1, .trans_b = 1, .bias_kind = VKN_BIAS_COL, .act = VKN_ACT_TANH};
    check(2, 9, 70, 900, &ot, 0);   /* B shared by every batch item */
    assert_true(vkn_gemm_split_scratch_numel(20, 30, 1500, 3) > 0 && vkn_gemm_split_scratch_numel(9, 70, 900, 2) > 0);
    /* C that fills a GPU or a short K: no split */
    assert_int_equal(vkn_gemm_split_scratch_numel(1024, 1024, 4096, 1), 0);
    assert_int_equal(vkn_gemm_split_scratch_numel(32, 32, 511, 1), 0);
}

/* Plain stores and a fixed summation order (no atomics): a split GEMM gives the same bits run after run,
 * and the same with its partials in a given scratch (poisoned first: every partial is written) as in
 * the stream's own. */
static void test_split_k_reproducible(void **state)
{
    (void)state;
    const int64_t M = 32, N = 75, K = 9000;
    int64_t sa[2] = {M, K}, sb[2] = {N, K}, sc[2] = {M, N}, nbias = M;
    float *a = tu_alloc(M * K), *b = tu_alloc(N * K), *bias = tu_alloc(M);
    float *r0 = tu_alloc(M * N), *r1 = tu_alloc(M * N), *r2 = tu_alloc(M * N), *ref = tu_alloc(M * N);
    tu_seed(15);
    tu_fill(a, M * K, -1, 1);
    tu_fill(b, N * K, -1, 1);
    tu_fill(bias, M, -1, 1);
    vkn_tensor ta = tu_tensor(2, sa, a), tb = tu_tensor(2, sb, b), tbias = tu_tensor(1, &nbias, bias);
    vkn_tensor c0 = tu_tensor(2, sc, NULL), c1 = tu_tensor(2, sc, NULL), c2 = tu_tensor(2, sc, NULL);
    int64_t np = vkn_gemm_split_scratch_numel(M, N, K, 1);
    assert_true(np > 0);
    float *nan = tu_alloc(np);
    for (int64_t i = 0; i < np; i++) nan[i] = NAN;
    vkn_tensor scratch = tu_tensor(1, &np, nan);
    vkn_gemm_opts o = {.trans_b = 1, .bias_kind = VKN_BIAS_ROW, .bias = &tbias, .act = VKN_ACT_SIGMOID};
    tu_begin();
    tu_check_op(vkn_op_gemm(tu_cmd, &ta, &tb, &c0, &o));
    tu_run();
    tu_begin();
    tu_check_op(vkn_op_gemm(tu_cmd, &ta, &tb, &c1, &o));
    tu_check_op(vkn_op_gemm_ws(tu_cmd, &ta, &tb, &c2, &o, &scratch));
    tu_run();
    tu_download(&c0, r0);
    tu_download(&c1, r1);
    tu_download(&c2, r2);
    assert_memory_equal(r0, r1, (size_t)(M * N) * sizeof *r0);
    assert_memory_equal(r0, r2, (size_t)(M * N) * sizeof *r0);
    vkn_gemm_opts oref = o;
    oref.bias = NULL;
    vkn_ref_gemm(1, M, N, K, a, b, ref, bias, &oref);
    tu_assert_close("split-K reproducible vs reference", r0, ref, M * N, 1e-5, 1e-4);
    if (splits_here(1, M, N, K)) {   /* a given scratch must hold every partial */
        vkn_tensor small = scratch;
        small.numel = np - 1;
        small.shape[0] = np - 1;
        small.bytes -= 4;
        tu_begin();
        assert_int_equal(vkn_op_gemm_ws(tu_cmd, &ta, &tb, &c2, &o, &small), VKN_ERR_SHAPE);
        assert_non_null(strstr(vkn_status_detail(), "split-K"));
        tu_run();
    }
    free(a); free(b); free(bias); free(r0); free(r1); free(r2); free(ref); free(nan);
}

static void test_shape_errors(void **state)
{
    (void)state;
    int64_t s23[2] = {2, 3}, s43[2] = {4, 3}, s24[2] = {2, 4};
    vkn_tensor a = tu_tensor(2, s23, NULL), b = tu_tensor(2, s43, NULL), c = tu_tensor(2, s24, NULL);
    tu_begin();
    assert_int_equal(vkn_op_gemm(tu_cmd, &a, &b, &c, NULL), VKN_ERR_SHAPE);   /* K 3 vs 4 */
    assert_non_null(strstr(vkn_status_detail(), "2x3"));
    assert_non_null(strstr(vkn_status_detail(), "4x3"));
    vkn_gemm_opts o = {.trans_b = 1};
    tu_check_op(vkn_op_gemm(tu_cmd, &a, &b, &c, &o));                          /* A B^T fits */
    vkn_gemm_opts ob = {.trans_b = 1, .bias_kind = VKN_BIAS_COL, .bias = &a};
    assert_int_equal(vkn_op_gemm(tu_cmd, &a, &b, &c, &ob), VKN_ERR_SHAPE);     /* bias length */
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transposes), cmocka_unit_test(test_epilogue),
        cmocka_unit_test(test_batched), cmocka_unit_test(test_split_k), cmocka_unit_test(test_split_k_reproducible),
        cmocka_unit_test(test_shape_errors),
    };
    return TU_RUN(tests);
}
