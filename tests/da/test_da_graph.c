/* The two graph pieces vkn-da adds or relies on, checked through whole graphs:
 *  - vkn_nn_split (src/nn/slice.c): forward against the reference execution, backward against
 *    central finite differences of the reference-executed graph (with one half unused, and with both
 *    halves feeding the loss);
 *  - gradient reversal: the device gradient below the GRL is -lambda times the reference gradient
 *    (finite differences of the reference, where the GRL is the identity), for several lambdas,
 *    while the gradients above it are unchanged. */
#include "../graph/graph_testutil.h"
#include "vkn/vkn.h"

static void compile_or_fail(vkn_graph *g, vkn_val loss)
{
    vkn_graph_keep(g, loss);
    if (vkn_graph_backward(g, loss) != VKN_OK) fail_msg("backward: %s", vkn_status_detail());
    if (vkn_graph_compile(g) != VKN_OK) fail_msg("compile: %s", vkn_status_detail());
}

/* x (a parameter [6, 2, 3]) -> split after row 4 -> a [4, 6] feeds a linear + CE; b [2, 6] feeds an
 * MSE term when both_used. */
static void split_case(int both_used)
{
    tu_seed(101 + both_used);
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 3, &p), VKN_OK);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "split", &g), VKN_OK);
    vkn_nn m = {.g = g, .params = p, .train = 1, .trainable = 1, .init = VKN_INIT_UNIFORM, .init_scale = 1.0f};
    int64_t xs[3] = {6, 2, 3}, ls[1] = {4}, ts[2] = {2, 6};
    int xi = vkn_params_add(p, "x", 3, xs, VKN_INIT_UNIFORM, 1.0f, 0, 0);
    assert_true(xi >= 0);
    vkn_val x = vkn_graph_param(g, xi, 1);
    vkn_val labels = vkn_graph_input(g, "labels", VKN_I32, 1, ls);
    vkn_val target = vkn_graph_input(g, "target", VKN_F32, 2, ts);
    vkn_val a, b;
    vkn_nn_split(&m, x, 4, &a, &b);
    assert_int_equal(vkn_graph_dim(g, a, 0), 4);
    assert_int_equal(vkn_graph_dim(g, b, 0), 2);
    assert_int_equal(vkn_graph_dim(g, b, 2), 3);
    vkn_val loss = vkn_nn_softmax_ce(&m, vkn_nn_linear(&m, "fc", vkn_nn_flatten(&m, a), 3, 1), labels, 0.0f);
    if (both_used) loss = vkn_graph_binary(g, VKN_BINARY_ADD, loss, vkn_graph_mse(g, vkn_nn_flatten(&m, b), target));
    vkn_graph_keep(g, a);
    vkn_graph_keep(g, b);
    compile_or_fail(g, loss);
    int32_t *lh = vkn_graph_input_ptr(g, labels);
    lh[0] = 2, lh[1] = 0, lh[2] = 1, lh[3] = 2;
    tu_fill(vkn_graph_input_ptr(g, target), 12, -1, 1);
    assert_int_equal(vkn_graph_run(g), VKN_OK);

    /* forward: both halves equal the reference, which equals the rows of x */
    float da[24], db[12], ra[24], rb[12], xh[36];
    assert_int_equal(vkn_graph_read(g, a, da), VKN_OK);
    assert_int_equal(vkn_graph_read(g, b, db), VKN_OK);
    assert_int_equal(vkn_graph_reference(g, a, ra), VKN_OK);
    assert_int_equal(vkn_graph_reference(g, b, rb), VKN_OK);
    tu_download(vkn_params_value(p, xi), xh);
    assert_memory_equal(da, ra, sizeof da);
    assert_memory_equal(db, rb, sizeof db);
    assert_memory_equal(da, xh, sizeof da);
    assert_memory_equal(db, xh + 24, sizeof db);

    /* backward: every parameter's gradient against finite differences */
    float dl, rl;
    assert_int_equal(vkn_graph_read(g, loss, &dl), VKN_OK);
    assert_int_equal(vkn_graph_reference(g, loss, &rl), VKN_OK);
    tu_assert_close("loss", &dl, &rl, 1, 1e-5, 1e-4);
    for (int pi = 0; pi < vkn_params_count(p); pi++) {
        const vkn_tensor *gt = vkn_params_grad(p, pi);
        if (!gt) continue;
        int64_t n = gt->numel;
        float *grad = tu_alloc(n), *fd = tu_alloc(n);
        tu_download(gt, grad);
        gt_finite_diff(g, p, pi, loss, 2e-3, fd);
        char what[96];
        snprintf(what, sizeof what, "d loss / d %s (split, %s)", vkn_params_name(p, pi), both_used ? "both halves" : "first half");
        tu_assert_close(what, grad, fd, n, 2e-3, 2e-2);
        if (pi == xi && !both_used)
            for (int64_t i = 24; i < 36; i++) assert_true(grad[i] == 0.0f);   /* rows that reach no loss */
        free(grad), free(fd);
    }
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

static void test_split_first_half(void **state) { (void)state; split_case(0); }
static void test_split_both_halves(void **state) { (void)state; split_case(1); }

static void test_split_bad_rows(void **state)
{
    (void)state;
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 3, &p), VKN_OK);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "split-bad", &g), VKN_OK);
    vkn_nn m = {.g = g, .params = p, .train = 1, .trainable = 1};
    int64_t xs[2] = {4, 3};
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, xs), a, b;
    vkn_nn_split(&m, x, 4, &a, &b);
    assert_int_equal(a, VKN_NONE);
    assert_int_equal(vkn_graph_status(g), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "split"));
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

/* h (a parameter [5, 4]) -> GRL -> linear 3 -> CE. Below the GRL the device gradient must be
 * -lambda * d loss/d h; the linear layer's gradients are untouched. */
static void test_grad_reverse(void **state)
{
    (void)state;
    static const float lambdas[] = {0.37f, 1.0f, 0.0f};
    for (size_t li = 0; li < sizeof lambdas / sizeof *lambdas; li++) {
        tu_seed(7 + li);
        vkn_params *p;
        assert_int_equal(vkn_params_create(tu_ctx, 5, &p), VKN_OK);
        vkn_graph *g;
        assert_int_equal(vkn_graph_create(p, "grl", &g), VKN_OK);
        vkn_nn m = {.g = g, .params = p, .train = 1, .trainable = 1, .init = VKN_INIT_UNIFORM, .init_scale = 1.0f};
        int64_t hs[2] = {5, 4}, ls[1] = {5};
        int hi = vkn_params_add(p, "h", 2, hs, VKN_INIT_UNIFORM, 1.0f, 0, 0);
        vkn_val h = vkn_graph_param(g, hi, 1);
        vkn_val labels = vkn_graph_input(g, "labels", VKN_I32, 1, ls);
        vkn_val loss = vkn_nn_softmax_ce(&m, vkn_nn_linear(&m, "d.fc", vkn_nn_grad_reverse(&m, h), 3, 1), labels, 0.0f);
        compile_or_fail(g, loss);
        int32_t *lh = vkn_graph_input_ptr(g, labels);
        for (int i = 0; i < 5; i++) lh[i] = (i * 2) % 3;
        vkn_graph_set_step(g, VKN_STEP_LAMBDA, lambdas[li]);
        assert_int_equal(vkn_graph_run(g), VKN_OK);
        for (int pi = 0; pi < vkn_params_count(p); pi++) {
            const vkn_tensor *gt = vkn_params_grad(p, pi);
            if (!gt) continue;
            int64_t n = gt->numel;
            float *grad = tu_alloc(n), *fd = tu_alloc(n);
            tu_download(gt, grad);
            gt_finite_diff(g, p, pi, loss, 2e-3, fd);
            if (pi == hi) {
                double dot = 0, norm = 0;
                for (int64_t i = 0; i < n; i++) dot += (double)grad[i] * fd[i], norm += (double)fd[i] * fd[i];
                for (int64_t i = 0; i < n; i++) fd[i] *= -lambdas[li];
                if (lambdas[li] > 0) assert_true(dot < 0 && norm > 1e-6);   /* the sign is flipped */
            }
            char what[96];
            snprintf(what, sizeof what, "d loss / d %s, lambda %.2f (device vs -lambda x reference)", vkn_params_name(p, pi),
                     lambdas[li]);
            tu_assert_close(what, grad, fd, n, 2e-3, 2e-2);
            free(grad), free(fd);
        }
        vkn_graph_destroy(g);
        vkn_params_destroy(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_first_half), cmocka_unit_test(test_split_both_halves),
        cmocka_unit_test(test_split_bad_rows), cmocka_unit_test(test_grad_reverse),
    };
    return TU_RUN(tests);
}
