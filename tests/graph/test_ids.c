/* Ids and labels in training graphs (src/graph/ids.c, issue 14 item 3): a host-written id input out
 * of its readers' range refuses the step before anything runs, naming the input, the element, its
 * value, the range and the op (embedding, softmax-ce, one-hot, a context-normalization layer), and
 * leaves parameters and optimizer state untouched; device-made ids (RNG labels, argmax) are checked
 * against the reader's range at build time, and an I32 producer that declares no range is refused. */
#include "../common/testutil.h"
#include "vkn/graph.h"
#include "vkn/nn.h"
#include "vkn/step.h"

typedef struct net {
    vkn_params *p;
    vkn_graph *g;
    vkn_val x, labels, ctx, loss;
} net;

/* x [4,3], labels [4] (embedding of 5 rows, one-hot of 5, softmax over 5 classes), ctx [4] (cn, 3 contexts) */
static void build(net *n)
{
    assert_int_equal(vkn_params_create(tu_ctx, 5, &n->p), VKN_OK);
    assert_int_equal(vkn_graph_create(n->p, "ids", &n->g), VKN_OK);
    vkn_nn m = {.g = n->g, .params = n->p, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = 3};
    int64_t xs[2] = {4, 3}, ls[1] = {4};
    n->x = vkn_graph_input(n->g, "x", VKN_F32, 2, xs);
    n->labels = vkn_graph_input(n->g, "labels", VKN_I32, 1, ls);
    n->ctx = vkn_graph_input(n->g, "domain", VKN_I32, 1, ls);
    vkn_val e = vkn_nn_embedding(&m, "embed", n->labels, 5, 3);
    vkn_val h = vkn_nn_concat(&m, vkn_nn_concat(&m, n->x, e), vkn_nn_one_hot(&m, n->labels, 5));
    h = vkn_nn_linear(&m, "fc1", h, 6, 1);
    vkn_norm_opts cn = vkn_norm_opts_default(VKN_NORM_CN, 6);
    cn.contexts = 3;
    h = vkn_nn_norm(&m, "cn", h, n->ctx, &cn);
    h = vkn_nn_linear(&m, "fc2", h, 5, 1);
    n->loss = vkn_nn_softmax_ce(&m, h, n->labels, 0.0f);
    vkn_graph_keep(n->g, n->loss);
    assert_int_equal(vkn_graph_backward(n->g, n->loss), VKN_OK);
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0};
    assert_int_equal(vkn_nn_optimizer(&m, &o, NULL), VKN_OK);
    vkn_status s = vkn_graph_compile(n->g);
    if (s != VKN_OK) fail_msg("compile: %s", vkn_status_detail());
    vkn_graph_set_step(n->g, VKN_STEP_LR0, 0.01f);
    tu_fill(vkn_graph_input_ptr(n->g, n->x), 12, -1, 1);
}

static void set_ids(net *n, const int32_t lab[4], const int32_t ctx[4])
{
    memcpy(vkn_graph_input_ptr(n->g, n->labels), lab, 4 * sizeof *lab);
    memcpy(vkn_graph_input_ptr(n->g, n->ctx), ctx, 4 * sizeof *ctx);
}

/* every tensor of the store, concatenated */
static float *snapshot(const vkn_params *p, int64_t *total)
{
    int64_t n = 0;
    for (int i = 0; i < vkn_params_count(p); i++) n += vkn_params_value(p, i)->numel;
    float *h = tu_alloc(n), *at = h;
    for (int i = 0; i < vkn_params_count(p); i++) {
        tu_download(vkn_params_value(p, i), at);
        at += vkn_params_value(p, i)->numel;
    }
    *total = n;
    return h;
}

static void expect_refused(net *n, const char *needle1, const char *needle2)
{
    int64_t n0, n1;
    float *before = snapshot(n->p, &n0);
    vkn_graph_set_step(n->g, VKN_STEP_T, 2.0f);
    assert_int_equal(vkn_graph_run(n->g), VKN_ERR_ARG);
    const char *d = vkn_status_detail();
    if (!strstr(d, needle1) || !strstr(d, needle2)) fail_msg("message lacks \"%s\" or \"%s\": %s", needle1, needle2, d);
    float *after = snapshot(n->p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, (size_t)n0 * sizeof *before);   /* nothing ran */
    free(before);
    free(after);
}

static void test_input_ids(void **state)
{
    (void)state;
    tu_seed(41);
    net n;
    build(&n);
    const int32_t good[4] = {0, 4, 2, 1}, ctx[4] = {0, 2, 1, 2};
    set_ids(&n, good, ctx);
    vkn_graph_set_step(n.g, VKN_STEP_T, 1.0f);
    assert_int_equal(vkn_graph_run(n.g), VKN_OK);
    float l;
    assert_int_equal(vkn_graph_read(n.g, n.loss, &l), VKN_OK);
    assert_true(isfinite(l));

    const int32_t big[4] = {0, 4, 5, 1}, neg[4] = {0, -3, 2, 9};
    set_ids(&n, big, ctx);   /* the first reader of labels: the embedding (5 rows) */
    expect_refused(&n, "input 'labels' element 2 is 5, outside 0..4", "op embed");
    set_ids(&n, neg, ctx);
    expect_refused(&n, "element 1 is -3", "2 of 4 out of range");
    const int32_t badctx[4] = {0, 3, 1, 2};
    set_ids(&n, good, badctx);
    expect_refused(&n, "input 'domain' element 1 is 3, outside 0..2", "op cn");
    /* fixed batch: the step runs again */
    set_ids(&n, good, ctx);
    assert_int_equal(vkn_graph_run(n.g), VKN_OK);
    vkn_graph_destroy(n.g);
    vkn_params_destroy(n.p);
}

/* device-made ids: compared with the reader's range when the graph is built */
static vkn_status build_rand(int k_draw, int rows)
{
    vkn_params *p;
    vkn_graph *g;
    assert_int_equal(vkn_params_create(tu_ctx, 5, &p), VKN_OK);
    assert_int_equal(vkn_graph_create(p, "rand", &g), VKN_OK);
    vkn_nn m = {.g = g, .params = p, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = 3};
    vkn_val y = vkn_nn_rand_labels(&m, 4, k_draw, 1);
    vkn_val e = vkn_nn_embedding(&m, "embed", y, rows, 2);
    vkn_val loss = vkn_graph_reduce(g, VKN_REDUCE_MEAN, e, 3);
    vkn_status s = vkn_graph_backward(g, loss);
    if (s == VKN_OK) s = vkn_graph_compile(g);
    if (s == VKN_OK) s = vkn_graph_run(g);
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
    return s;
}

static vkn_status i32_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    (void)g; (void)op; (void)c;
    return VKN_OK;
}
static const vkn_gop_type gop_i32 = {"i32-source", i32_record, NULL, NULL, NULL};

static void test_device_ids(void **state)
{
    (void)state;
    assert_int_equal(build_rand(5, 5), VKN_OK);
    assert_int_equal(build_rand(3, 5), VKN_OK);
    assert_int_equal(build_rand(6, 5), VKN_ERR_ARG);
    assert_non_null(strstr(vkn_status_detail(), "needs ids in 0..4"));
    assert_non_null(strstr(vkn_status_detail(), "rand-labels, which writes 0..5"));

    /* an I32 value from an op that declares no range */
    vkn_params *p;
    vkn_graph *g;
    assert_int_equal(vkn_params_create(tu_ctx, 5, &p), VKN_OK);
    assert_int_equal(vkn_graph_create(p, "undeclared", &g), VKN_OK);
    vkn_nn m = {.g = g, .params = p, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = 3};
    int64_t ns = 4;
    vkn_val ids = vkn_graph_value(g, "ids", VKN_I32, 1, &ns);
    vkn_graph_add_op(g, &gop_i32, NULL, 0, &ids, 1, NULL, 0, NULL, "i32-source");
    vkn_nn_one_hot(&m, ids, 3);
    assert_int_equal(vkn_graph_compile(g), VKN_ERR_ARG);
    assert_non_null(strstr(vkn_status_detail(), "declares no range"));
    vkn_graph_destroy(g);
    vkn_params_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_input_ids), cmocka_unit_test(test_device_ids)};
    return TU_RUN(tests);
}
