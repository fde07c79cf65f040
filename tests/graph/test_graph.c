/* The static graph: whole-graph gradients against central finite differences of the
 * reference-executed graph, memory reuse by liveness, replay determinism, errors. */
#include "graph_testutil.h"
#include "vkn/step.h"

static vkn_params *new_params(uint64_t seed)
{
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, seed, &p), VKN_OK);
    return p;
}

static void fill_input(vkn_graph *g, vkn_val v, double lo, double hi)
{
    float *x = vkn_graph_input_ptr(g, v);
    assert_non_null(x);
    tu_fill(x, vkn_graph_numel(g, v), lo, hi);
}

static void test_mlp_gradients(void **state)
{
    (void)state;
    tu_seed(21);
    vkn_params *p = new_params(5);
    int64_t w1s[2] = {6, 7}, b1s[1] = {6}, w2s[2] = {3, 6}, b2s[1] = {3};
    int w1 = vkn_params_add(p, "l1.weight", 2, w1s, VKN_INIT_XAVIER, 0, 7, 6);
    int b1 = vkn_params_add(p, "l1.bias", 1, b1s, VKN_INIT_UNIFORM, 0.1f, 0, 0);
    int w2 = vkn_params_add(p, "l2.weight", 2, w2s, VKN_INIT_XAVIER, 0, 6, 3);
    int b2 = vkn_params_add(p, "l2.bias", 1, b2s, VKN_INIT_UNIFORM, 0.1f, 0, 0);
    assert_int_equal(vkn_params_status(p), VKN_OK);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "mlp", &g), VKN_OK);
    int64_t xs[2] = {5, 7}, ts[2] = {5, 3}, cs[2] = {1, 6};
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, xs);
    vkn_val t = vkn_graph_input(g, "target", VKN_F32, 2, ts);
    vkn_val c = vkn_graph_input(g, "gain", VKN_F32, 2, cs);       /* broadcast row */
    vkn_val h = vkn_graph_linear(g, x, vkn_graph_param(g, w1, 1), vkn_graph_param(g, b1, 1), VKN_ACT_NONE, 0);
    vkn_val a = vkn_graph_binary(g, VKN_BINARY_MUL, h, h);          /* a smooth nonlinearity */
    a = vkn_graph_binary(g, VKN_BINARY_MUL, a, c);
    a = vkn_graph_binary(g, VKN_BINARY_ADD, a, h);                  /* h feeds two consumers */
    vkn_val y = vkn_graph_linear(g, a, vkn_graph_param(g, w2, 1), vkn_graph_param(g, b2, 1), VKN_ACT_NONE, 0);
    vkn_val loss = vkn_graph_mse(g, y, t);
    vkn_graph_keep(g, loss);
    assert_int_equal(vkn_graph_backward(g, loss), VKN_OK);
    vkn_status s = vkn_graph_compile(g);
    if (s != VKN_OK) fail_msg("compile: %s", vkn_status_detail());
    fill_input(g, x, -1, 1);
    fill_input(g, t, -1, 1);
    fill_input(g, c, 0.5, 1.5);
    gt_check_grads(g, p, loss, 1e-2, 2e-3, 2e-2);
    vkn_graph_report r = vkn_graph_get_report(g);
    assert_true(r.dispatches > 0 && r.activation_bytes <= r.activation_naive);
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

static void test_memory_reuse(void **state)
{
    (void)state;
    vkn_params *p = new_params(1);
    int64_t s1[1] = {1};
    int w = vkn_params_add(p, "w", 1, s1, VKN_INIT_ONES, 0, 0, 0);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "chain", &g), VKN_OK);
    int64_t xs[2] = {64, 1024};
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, xs);
    vkn_val v = vkn_graph_binary(g, VKN_BINARY_MUL, x, vkn_graph_param(g, w, 0));
    for (int i = 0; i < 10; i++) v = vkn_graph_unary(g, VKN_UNARY_SCALE, 1.5f, v);
    vkn_graph_keep(g, v);
    assert_int_equal(vkn_graph_compile(g), VKN_OK);
    vkn_graph_report r = vkn_graph_get_report(g);
    /* 11 activations of 256 KiB; a chain needs two live at a time, plus the kept result */
    assert_true(r.activation_naive >= 11u * 64 * 1024 * 4);
    assert_true(r.activation_bytes <= 3u * 64 * 1024 * 4);
    assert_int_equal(r.dispatches, 11);
    fill_input(g, x, -1, 1);
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    float *out = tu_alloc(64 * 1024), *ref = tu_alloc(64 * 1024);
    assert_int_equal(vkn_graph_read(g, v, out), VKN_OK);
    assert_int_equal(vkn_graph_reference(g, v, ref), VKN_OK);
    tu_assert_close("chain", out, ref, 64 * 1024, 1e-5, 1e-5);
    /* replay: same inputs, bit-identical results */
    float *again = tu_alloc(64 * 1024);
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    assert_int_equal(vkn_graph_read(g, v, again), VKN_OK);
    assert_memory_equal(out, again, 64 * 1024 * sizeof(float));
    free(out); free(ref); free(again);
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

static void test_errors(void **state)
{
    (void)state;
    vkn_params *p = new_params(1);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "bad", &g), VKN_OK);
    int64_t a[2] = {3, 4}, b[2] = {5, 4};
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, a), y = vkn_graph_input(g, "y", VKN_F32, 2, b);
    assert_int_equal(vkn_graph_binary(g, VKN_BINARY_ADD, x, y), VKN_NONE);
    assert_int_equal(vkn_graph_status(g), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "3 vs 5"));
    assert_int_equal(vkn_graph_compile(g), VKN_ERR_SHAPE);   /* the first error sticks */
    vkn_graph_destroy(g);
    assert_int_equal(vkn_graph_create(p, "noloss", &g), VKN_OK);
    x = vkn_graph_input(g, "x", VKN_F32, 2, a);
    vkn_val m = vkn_graph_reduce(g, VKN_REDUCE_MEAN, x, 3);
    assert_int_equal(vkn_graph_backward(g, m), VKN_ERR_ARG);   /* depends on no parameter */
    vkn_graph_destroy(g);
    /* a value whose element count passes 2^34 (the product of 2^17 x 2^17 x 2^31 once wrapped to 0
     * in 64 bits): refused, naming the value and its shape */
    assert_int_equal(vkn_graph_create(p, "huge", &g), VKN_OK);
    int64_t h[3] = {1ll << 17, 1ll << 17, 1ll << 31};
    assert_int_equal(vkn_graph_input(g, "big", VKN_F32, 3, h), VKN_NONE);
    assert_int_equal(vkn_graph_status(g), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "value big of shape [131072, 131072, 2147483648] has more than 2^34"));
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

static void test_nan_guard(void **state)
{
    (void)state;
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 1, &p), VKN_OK);
    int64_t ws[2] = {3, 4};
    int w = vkn_params_add(p, "w", 2, ws, VKN_INIT_XAVIER, 0, 4, 3);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "guarded", &g), VKN_OK);
    vkn_graph_set_nan_guard(g, 1);
    int64_t xs[2] = {2, 4};
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, xs);
    vkn_val h = vkn_graph_unary(g, VKN_UNARY_SCALE, 2.0f, x);
    vkn_val lg = vkn_graph_unary(g, VKN_UNARY_LOG, 0, h);                /* log of a negative: NaN */
    vkn_val y = vkn_graph_linear(g, lg, vkn_graph_param(g, w, 1), VKN_NONE, VKN_ACT_NONE, 0);
    vkn_val loss = vkn_graph_reduce(g, VKN_REDUCE_MEAN, y, 3);
    assert_int_equal(vkn_graph_backward(g, loss), VKN_OK);
    assert_int_equal(vkn_graph_compile(g), VKN_OK);
    float *xh = vkn_graph_input_ptr(g, x);
    for (int i = 0; i < 8; i++) xh[i] = 1.0f + i;
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    assert_int_equal(vkn_graph_check(g), VKN_OK);
    xh[5] = -1.0f;
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    assert_int_equal(vkn_graph_check(g), VKN_ERR_NOT_FINITE);
    assert_non_null(strstr(vkn_status_detail(), "op 1 (log"));   /* the first op with a non-finite output */
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_gradients), cmocka_unit_test(test_memory_reuse), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nan_guard),
    };
    return TU_RUN(tests);
}
