/* VKN_CHECK: every op with a reference compared with it after the step. A small CNN training step
 * (noise, conv, BN, dropout, Adam) agrees over two steps with new batches and RNG counters; an op whose kernel writes one wrong element is named exactly
 * (and the ops after it, which read its wrong output, are not); two graphs sharing a store chained
 * with submit_after are checked each against its own step; NaN is left to the NaN guard; the
 * environment switch works. */
#include "graph_testutil.h"
#include "vkn/vkn.h"

/* ---- a training step that must agree with its references ---- */

typedef struct { vkn_params *p; vkn_graph *g; vkn_val x, y, loss; } cnn;

static void cnn_build(cnn *c, int check)
{
    assert_int_equal(vkn_params_create(tu_ctx, 3, &c->p), VKN_OK);
    assert_int_equal(vkn_graph_create(c->p, "cnn", &c->g), VKN_OK);
    if (check) vkn_graph_set_check(c->g, check);
    vkn_nn m = {.g = c->g, .params = c->p, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = 17};
    int64_t xs[4] = {4, 2, 6, 6}, ys[1] = {4};
    c->x = vkn_graph_input(c->g, "x", VKN_F32, 4, xs);
    c->y = vkn_graph_input(c->g, "y", VKN_I32, 1, ys);
    vkn_val noise = vkn_graph_unary(c->g, VKN_UNARY_SCALE, 0.1f, vkn_nn_rand_normal(&m, 4, xs, 1));
    vkn_val h = vkn_graph_binary(c->g, VKN_BINARY_ADD, c->x, noise);
    h = vkn_nn_conv2d(&m, "conv", h, 3, 3, 1, 1, 1);
    vkn_norm_opts bn = vkn_norm_opts_default(VKN_NORM_BN, 3);
    h = vkn_nn_norm(&m, "bn", h, VKN_NONE, &bn);
    h = vkn_nn_act(&m, VKN_ACT_RELU, 0, h);
    h = vkn_nn_avgpool2d(&m, h, 2, 2);
    h = vkn_nn_dropout(&m, vkn_nn_flatten(&m, h), 0.25f, 2);
    h = vkn_nn_act(&m, VKN_ACT_TANH, 0, vkn_nn_linear(&m, "fc1", h, 8, 1));
    vkn_val logits = vkn_nn_linear(&m, "fc2", h, 3, 1);
    c->loss = vkn_nn_softmax_ce(&m, logits, c->y, 0.1f);
    vkn_val pred = vkn_nn_argmax(&m, logits);
    vkn_graph_keep(c->g, c->loss);
    vkn_graph_keep(c->g, pred);
    if (vkn_graph_backward(c->g, c->loss) != VKN_OK) fail_msg("backward: %s", vkn_status_detail());
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0};
    assert_int_equal(vkn_nn_optimizer(&m, &o, NULL), VKN_OK);
    vkn_status s = vkn_graph_compile(c->g);
    if (s != VKN_OK) fail_msg("compile: %s", vkn_status_detail());
}

static void cnn_batch(cnn *c, int step)
{
    tu_seed(70 + step);
    tu_fill(vkn_graph_input_ptr(c->g, c->x), 4 * 2 * 36, -1, 1);
    int32_t *y = vkn_graph_input_ptr(c->g, c->y);
    for (int i = 0; i < 4; i++) y[i] = (i + step) % 3;
    vkn_graph_set_step(c->g, VKN_STEP_T, (float)(step + 1));
    vkn_graph_set_step_u32(c->g, VKN_STEP_RNG, (uint32_t)(11 + step));
    vkn_graph_set_step(c->g, VKN_STEP_LR0, 0.05f);
}

static void test_training_step_agrees(void **state)
{
    (void)state;
    cnn c;
    cnn_build(&c, 1);
    vkn_graph_report r = vkn_graph_get_report(c.g);
    assert_true(r.activation_bytes == r.activation_naive);   /* every value keeps its own memory */
    for (int step = 0; step < 2; step++) {
        cnn_batch(&c, step);   /* a new batch and RNG counter: the references must follow both */
        vkn_status s = vkn_graph_run(c.g);
        if (s != VKN_OK) fail_msg("step %d: %s", step, vkn_status_detail());
        assert_int_equal(vkn_graph_check(c.g), VKN_OK);
        r = vkn_graph_get_report(c.g);
        /* forward ops and the backward ops with references; conv/pool/norm backward, the dropout
         * backward and the optimizer have none */
        if (r.checked_ops < 20 || r.unchecked_ops < 5)
            fail_msg("checked %u ops, skipped %u", r.checked_ops, r.unchecked_ops);
    }
    vkn_graph_destroy(c.g);
    vkn_params_destroy(c.p);
}

/* ---- a faulty kernel: y = 2x, except element 4, which it sets to 42 ---- */

#define BAD_ELEMENT 4   /* 16 bytes in: a legal storage-buffer offset for a 1-element view */

static vkn_status bad_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const vkn_tensor *y = vkn_graph_tensor(g, op->out[0]);
    VKN_TRY(vkn_op_unary(c, VKN_UNARY_SCALE, 2.0f, vkn_graph_tensor(g, op->in[0]), y));
    vkn_tensor one = *y;
    one.offset += BAD_ELEMENT * 4;
    one.host = one.host ? (char *)one.host + BAD_ELEMENT * 4 : NULL;
    one.ndim = 1;
    one.shape[0] = one.numel = 1;
    one.bytes = 4;
    return vkn_op_fill(c, &one, 42.0f);
}

static vkn_status bad_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    for (int64_t i = 0; i < vkn_graph_numel(g, op->out[0]); i++) out[0][i] = 2.0f * in[0][i];
    return VKN_OK;
}

static const vkn_gop_type bad_type = {"bad_scale", bad_record, NULL, bad_ref, NULL};

/* x -> scale -> bad -> tanh -> linear(w) -> mean, with SGD on w. Returns the graph. */
static vkn_graph *bad_graph(vkn_params *p, int check, vkn_val *x_out)
{
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "faulty", &g), VKN_OK);
    if (check) vkn_graph_set_check(g, check);
    vkn_nn m = {.g = g, .params = p, .train = 1, .trainable = 1, .init = VKN_INIT_XAVIER, .seed = 1};
    int64_t xs[2] = {3, 5};
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, xs);
    vkn_val h = vkn_graph_unary(g, VKN_UNARY_SCALE, 0.5f, x);
    vkn_val b = vkn_graph_value(g, "bad_out", VKN_F32, 2, xs);
    assert_int_equal(vkn_graph_add_op(g, &bad_type, &h, 1, &b, 1, NULL, 0, NULL, "bad-scale"), 1);
    h = vkn_nn_act(&m, VKN_ACT_TANH, 0, b);
    vkn_val y = vkn_nn_linear(&m, "fc", h, 2, 1);
    vkn_val loss = vkn_graph_reduce(g, VKN_REDUCE_MEAN, y, 3);
    assert_int_equal(vkn_graph_backward(g, loss), VKN_OK);
    vkn_optim_opts o = {.kind = VKN_OPTIM_SGD, .lr_slot = VKN_STEP_LR0};
    assert_int_equal(vkn_nn_optimizer(&m, &o, NULL), VKN_OK);
    vkn_status s = vkn_graph_compile(g);
    if (s != VKN_OK) fail_msg("compile: %s", vkn_status_detail());
    float *xh = vkn_graph_input_ptr(g, x);
    for (int i = 0; i < 15; i++) xh[i] = 0.1f * (float)(i - 7);
    vkn_graph_set_step(g, VKN_STEP_LR0, 0.1f);
    *x_out = x;
    return g;
}

static void test_faulty_op_is_named(void **state)
{
    (void)state;
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 2, &p), VKN_OK);
    vkn_val x;
    /* without the check the fault goes unnoticed */
    vkn_graph *g = bad_graph(p, 0, &x);
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    assert_int_equal(vkn_graph_check(g), VKN_OK);
    vkn_graph_destroy(g);

    g = bad_graph(p, 1, &x);
    assert_int_equal(vkn_graph_run(g), VKN_ERR_MISMATCH);
    const char *d = vkn_status_detail();
    /* op 1 is the faulty one; tanh, linear and the backward read its output from the device and agree */
    if (!strstr(d, "op 1 (bad-scale, bad_scale)") || !strstr(d, "output 0 (bad_out) element 4 is 42 on the device") ||
        !strstr(d, "1 of 15 elements differ") || !strstr(d, "0 later op(s)"))
        fail_msg("unexpected detail: %s", d);
    /* the reference value is 2 * 0.5 * x[4] = -0.3 */
    assert_non_null(strstr(d, "-0.3"));
    vkn_status_clear();
    assert_int_equal(vkn_graph_check(g), VKN_ERR_MISMATCH);   /* the step's outcome again */
    assert_non_null(strstr(vkn_status_detail(), "op 1 (bad-scale"));
    /* every run is checked again (the second reads the weights the first step's SGD wrote) */
    assert_int_equal(vkn_graph_run(g), VKN_ERR_MISMATCH);
    assert_non_null(strstr(vkn_status_detail(), "step 2: op 1 (bad-scale"));
    vkn_graph_destroy(g);

    /* a tolerance that covers the fault (42 against -0.3) */
    g = bad_graph(p, 1, &x);
    vkn_graph_set_check_tolerance(g, 100.0f, 0.0f);
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

/* ---- two graphs over one store, chained: each checked against its own step ---- */

static void test_chained_graphs(void **state)
{
    (void)state;
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 4, &p), VKN_OK);
    int64_t xs[2] = {4, 6};
    vkn_graph *a, *b;
    assert_int_equal(vkn_graph_create(p, "a", &a), VKN_OK);
    assert_int_equal(vkn_graph_create(p, "b", &b), VKN_OK);
    vkn_graph_set_check(a, 1);
    vkn_graph_set_check(b, 1);
    /* a trains a.fc; b reads a.fc (no gradient) and trains b.fc: b's step must see a's update */
    vkn_nn ma = {.g = a, .params = p, .train = 1, .trainable = 1, .init = VKN_INIT_XAVIER, .seed = 1};
    vkn_val xa = vkn_graph_input(a, "x", VKN_F32, 2, xs);
    vkn_val la = vkn_nn_loss(&ma, VKN_LOSS_MSE, vkn_nn_linear(&ma, "a.fc", xa, 3, 1), 0.5f);
    assert_int_equal(vkn_graph_backward(a, la), VKN_OK);
    vkn_optim_opts o = {.kind = VKN_OPTIM_SGD, .lr_slot = VKN_STEP_LR0};
    assert_int_equal(vkn_nn_optimizer(&ma, &o, "a."), VKN_OK);
    vkn_nn mb = {.g = b, .params = p, .train = 1, .trainable = 0, .init = VKN_INIT_XAVIER, .seed = 1};
    vkn_val xb = vkn_graph_input(b, "x", VKN_F32, 2, xs);
    vkn_val hb = vkn_nn_linear(&mb, "a.fc", xb, 3, 1);
    mb.trainable = 1;
    vkn_val lb = vkn_nn_loss(&mb, VKN_LOSS_MSE, vkn_nn_linear(&mb, "b.fc", hb, 2, 1), -0.5f);
    assert_int_equal(vkn_graph_backward(b, lb), VKN_OK);
    assert_int_equal(vkn_nn_optimizer(&mb, &o, "b."), VKN_OK);
    assert_int_equal(vkn_graph_compile(a), VKN_OK);
    assert_int_equal(vkn_graph_compile(b), VKN_OK);
    tu_seed(5);
    tu_fill(vkn_graph_input_ptr(a, xa), 24, -1, 1);
    tu_fill(vkn_graph_input_ptr(b, xb), 24, -1, 1);
    vkn_graph_set_step(a, VKN_STEP_LR0, 0.5f);   /* large steps: a stale snapshot of a.fc would show */
    vkn_graph_set_step(b, VKN_STEP_LR0, 0.5f);
    for (int step = 0; step < 2; step++) {
        assert_int_equal(vkn_graph_submit(a), VKN_OK);
        vkn_status s = vkn_graph_submit_after(b, a);
        if (s == VKN_OK) s = vkn_graph_wait(b);
        if (s == VKN_OK) s = vkn_graph_wait(a);
        if (s != VKN_OK) fail_msg("step %d: %s", step, vkn_status_detail());
        assert_true(vkn_graph_get_report(a).checked_ops > 0 && vkn_graph_get_report(b).checked_ops > 0);
    }
    vkn_graph_destroy(b);
    vkn_graph_destroy(a);
    vkn_params_destroy(p);
}

/* ---- non-finite values are the NaN guard's to report ---- */

static void test_non_finite_left_to_guard(void **state)
{
    (void)state;
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 1, &p), VKN_OK);
    int64_t ws[2] = {3, 4}, xs[2] = {2, 4};
    int w = vkn_params_add(p, "w", 2, ws, VKN_INIT_XAVIER, 0, 4, 3);
    vkn_graph *g;
    assert_int_equal(vkn_graph_create(p, "guarded", &g), VKN_OK);
    vkn_graph_set_nan_guard(g, 1);
    vkn_graph_set_check(g, 1);
    vkn_val x = vkn_graph_input(g, "x", VKN_F32, 2, xs);
    vkn_val lg = vkn_graph_unary(g, VKN_UNARY_LOG, 0, x);
    vkn_val y = vkn_graph_linear(g, lg, vkn_graph_param(g, w, 1), VKN_NONE, VKN_ACT_NONE, 0);
    assert_int_equal(vkn_graph_backward(g, vkn_graph_reduce(g, VKN_REDUCE_MEAN, y, 3)), VKN_OK);
    assert_int_equal(vkn_graph_compile(g), VKN_OK);
    float *xh = vkn_graph_input_ptr(g, x);
    for (int i = 0; i < 8; i++) xh[i] = 1.0f + (float)i;
    xh[5] = -1.0f;   /* log of a negative: NaN on both sides, and downstream NaN or Inf in any order */
    vkn_status s = vkn_graph_run(g);
    if (s != VKN_OK) fail_msg("run: %s", vkn_status_detail());
    assert_int_equal(vkn_graph_check(g), VKN_ERR_NOT_FINITE);
    assert_non_null(strstr(vkn_status_detail(), "op 0 (log"));
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

/* ---- the environment switch and tolerances ---- */

static void test_environment(void **state)
{
    (void)state;
    vkn_params *p;
    assert_int_equal(vkn_params_create(tu_ctx, 2, &p), VKN_OK);
    vkn_val x;
    /* VKN_CHECK=2 turns the check on at compile (verbose: a summary line on stderr); VKN_CHECK_ATOL=100
     * covers the faulty element */
    setenv("VKN_CHECK", "2", 1);
    setenv("VKN_CHECK_ATOL", "100", 1);
    vkn_graph *g = bad_graph(p, 0, &x);
    unsetenv("VKN_CHECK");
    unsetenv("VKN_CHECK_ATOL");
    vkn_graph_report r = vkn_graph_get_report(g);
    assert_true(r.activation_bytes == r.activation_naive);
    vkn_status s = vkn_graph_run(g);
    if (s != VKN_OK) fail_msg("run: %s", vkn_status_detail());
    assert_true(vkn_graph_get_report(g).checked_ops > 0);
    vkn_graph_destroy(g);
    /* VKN_CHECK=1 with the default tolerance: the fault shows */
    setenv("VKN_CHECK", "1", 1);
    g = bad_graph(p, 0, &x);
    unsetenv("VKN_CHECK");
    assert_int_equal(vkn_graph_run(g), VKN_ERR_MISMATCH);
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

int main(void)
{
    unsetenv("VKN_CHECK");   /* this program switches the check itself */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_step_agrees), cmocka_unit_test(test_faulty_op_is_named),
        cmocka_unit_test(test_chained_graphs), cmocka_unit_test(test_non_finite_left_to_guard),
        cmocka_unit_test(test_environment),
    };
    return TU_RUN(tests);
}
