/* Example 2: train a small CNN classifier on Fashion-MNIST with the normalization named on the command
 * line, through the graph API: the model is built once as a graph, differentiated (backward), given
 * Adam's update ops, compiled (memory planned, the step recorded) and then replayed each step with one
 * submit. A second graph over the same parameters (train = 0: running statistics) measures test accuracy.
 *   train_fashion [NORM [STEPS]]     NORM: none bn ln in gn cbn cn cnx acn mn bcn ubn afn (default bn)
 * Needs Fashion-MNIST (Debian's dataset-fashion-mnist, or `vkn-data install`).
 * Build: cc train_fashion.c $(pkg-config --cflags --libs vknorm) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vkn/vkn.h>

enum { B = 64, E = 500 };   /* training batch; test batch (10,000 test images = 20 batches) */

#define TRY(x) do { if ((x) != VKN_OK) { fprintf(stderr, "%s: %s\n", #x, vkn_status_detail()); return 1; } } while (0)

/* [N,1,28,28] -> conv5 -> norm -> relu -> pool -> conv5 -> norm -> relu -> pool -> linear -> [N,10] */
static vkn_val net(vkn_nn *m, vkn_val x, vkn_val ctx, vkn_norm_kind kind)
{
    vkn_norm_opts o1 = vkn_norm_opts_default(kind, 16), o2 = vkn_norm_opts_default(kind, 32);
    vkn_val h = vkn_nn_conv2d(m, "conv1", x, 16, 5, 1, 0, 1);                   /* [N,16,24,24] */
    h = vkn_nn_maxpool2d(m, vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_norm(m, "norm1", h, ctx, &o1)), 2, 2);
    h = vkn_nn_conv2d(m, "conv2", h, 32, 5, 1, 0, 1);                           /* [N,32,8,8] */
    h = vkn_nn_maxpool2d(m, vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_norm(m, "norm2", h, ctx, &o2)), 2, 2);
    return vkn_nn_linear(m, "fc", vkn_nn_flatten(m, h), 10, 1);                 /* [N,32*4*4] -> [N,10] */
}

/* Context ids for the kinds that take them (cbn, cn, cnx): one context (0) here. */
static vkn_val context_input(vkn_graph *g, vkn_norm_kind kind, int64_t n)
{
    return vkn_norm_needs_ctx(kind) ? vkn_graph_input(g, "ctx", VKN_I32, 1, &n) : VKN_NONE;
}

int main(int argc, char **argv)
{
    vkn_norm_kind kind = VKN_NORM_BN;
    if (argc > 1 && vkn_norm_kind_from_name(argv[1], &kind) != VKN_OK) {
        fprintf(stderr, "%s\n", vkn_status_detail());
        return 2;
    }
    const int steps = argc > 2 ? atoi(argv[2]) : 500;
    vkn_dataset train, test;
    TRY(vkn_data_fashion_load(&train, NULL, VKN_SPLIT_TRAIN));
    TRY(vkn_data_fashion_load(&test, NULL, VKN_SPLIT_TEST));
    vkn_context *dev;
    vkn_params *params;
    vkn_graph *tg, *eg;
    TRY(vkn_context_create(NULL, &dev));
    TRY(vkn_params_create(dev, 1, &params));

    /* the training step: forward, loss, backward, Adam */
    TRY(vkn_graph_create(params, "train", &tg));
    vkn_nn m = {.g = tg, .params = params, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = 1};
    const int64_t xs[4] = {B, 1, 28, 28}, ys[1] = {B};
    vkn_val x = vkn_graph_input(tg, "images", VKN_F32, 4, xs), y = vkn_graph_input(tg, "labels", VKN_I32, 1, ys);
    vkn_val ctx = context_input(tg, kind, B);
    vkn_val loss = vkn_nn_softmax_ce(&m, net(&m, x, ctx, kind), y, 0.0f);
    vkn_graph_keep(tg, loss);
    TRY(vkn_graph_backward(tg, loss));
    vkn_optim_opts adam = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0};
    TRY(vkn_nn_optimizer(&m, &adam, NULL));
    TRY(vkn_graph_compile(tg));
    if (ctx != VKN_NONE) memset(vkn_graph_input_ptr(tg, ctx), 0, B * sizeof(int32_t));

    /* the test graph: same parameters, inference statistics, no gradients */
    TRY(vkn_graph_create(params, "test", &eg));
    vkn_nn e = {.g = eg, .params = params, .train = 0, .trainable = 0, .init = VKN_INIT_HE, .seed = 1};
    const int64_t es[4] = {E, 1, 28, 28};
    vkn_val ex = vkn_graph_input(eg, "images", VKN_F32, 4, es), ectx = context_input(eg, kind, E);
    vkn_val pred = vkn_nn_argmax(&e, net(&e, ex, ectx, kind));
    vkn_graph_keep(eg, pred);
    TRY(vkn_graph_compile(eg));
    if (ectx != VKN_NONE) memset(vkn_graph_input_ptr(eg, ectx), 0, E * sizeof(int32_t));

    vkn_data_loader *ld, *tl;
    vkn_loader_opts lo = {.batch = B, .mode = VKN_BATCH_SHUFFLE, .seed = 1}, to = {.batch = E};
    TRY(vkn_data_loader_create(&ld, &train, &lo));
    for (int s = 1; s <= steps; s++) {
        TRY(vkn_data_batch_fill(ld, vkn_graph_input_ptr(tg, x), vkn_graph_input_ptr(tg, y), NULL));
        vkn_graph_set_step(tg, VKN_STEP_T, (float)s);   /* Adam's t */
        vkn_graph_set_step(tg, VKN_STEP_LR0, 1e-3f);
        TRY(vkn_graph_run(tg));
        float l;
        TRY(vkn_graph_read(tg, loss, &l));
        if (s % 100 == 0 || s == steps) printf("step %4d  loss %.4f\n", s, l);
    }

    TRY(vkn_data_loader_create(&tl, &test, &to));
    int32_t labels[E], got[E];
    long right = 0, seen = 0;
    for (int b = 0; b < test.n / E; b++, seen += E) {
        TRY(vkn_data_batch_fill(tl, vkn_graph_input_ptr(eg, ex), labels, NULL));
        TRY(vkn_graph_run(eg));
        TRY(vkn_graph_read(eg, pred, (float *)got));   /* I32 values are read as their bytes */
        for (int i = 0; i < E; i++) right += got[i] == labels[i];
    }
    printf("norm %s: test accuracy %.4f (%ld test images, %d steps of %d)\n", vkn_norm_kind_name(kind),
           (double)right / (double)seen, seen, steps, B);

    vkn_data_loader_destroy(tl);
    vkn_data_loader_destroy(ld);
    vkn_graph_destroy(eg);
    vkn_graph_destroy(tg);
    vkn_params_destroy(params);
    vkn_context_destroy(dev);
    vkn_data_free(&test);
    vkn_data_free(&train);
    return 0;
}
