/* The C side of python/bench/overhead.py: the same work as vknorm.Norm.forward and as the Python
 * graph step, in a C loop, so the two are timed in one run on one device.
 *   overhead norm KIND N C H W ITERS    one layer call: reset, alloc, upload x (+ctx), record the
 *                                       forward, run, download y  -> us per call
 *   overhead graph STEPS                 the train_fashion network (bn): fill the mapped inputs, set
 *                                       t and lr, replay the step   -> ms per step
 * Build: cc -O2 overhead.c $(pkg-config --cflags --libs vknorm) (or -I include -L build/src -lvknorm) */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vkn/vkn.h>

#define TRY(x) do { if ((x) != VKN_OK) { fprintf(stderr, "%s: %s\n", #x, vkn_status_detail()); exit(1); } } while (0)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int norm_calls(vkn_context *dev, const char *kind_name, int N, int C, int H, int W, int iters)
{
    vkn_norm_kind kind;
    TRY(vkn_norm_kind_from_name(kind_name, &kind));
    vkn_norm_opts o = vkn_norm_opts_default(kind, C);
    o.contexts = 4;
    vkn_arena *slots, *io;
    vkn_norm *nm;
    vkn_cmd *cmd;
    TRY(vkn_arena_create(dev, 0, &slots));
    TRY(vkn_arena_create(dev, 0, &io));
    TRY(vkn_norm_create(dev, slots, &o, 1, &nm));
    TRY(vkn_cmd_create(dev, &cmd));
    size_t n = (size_t)N * C * H * W;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int32_t *ids = malloc((size_t)N * sizeof *ids);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < N; i++) ids[i] = i % 4;
    int64_t shape[4] = {N, C, H, W}, ns[1] = {N};
    double t0 = 0;
    for (int it = -3; it < iters; it++) {   /* 3 warm-up calls */
        if (it == 0) t0 = now();
        vkn_arena_reset(io);
        vkn_tensor tx, ty, tc;
        TRY(vkn_tensor_alloc(io, VKN_F32, 4, shape, &tx));
        TRY(vkn_tensor_alloc(io, VKN_F32, 4, shape, &ty));
        const vkn_tensor *pc = NULL;
        if (vkn_norm_needs_ctx(kind)) {
            TRY(vkn_tensor_alloc(io, VKN_I32, 1, ns, &tc));
            TRY(vkn_tensor_upload(&tc, ids));
            pc = &tc;
        }
        TRY(vkn_tensor_upload(&tx, x));
        TRY(vkn_cmd_begin(cmd));
        TRY(vkn_norm_forward(cmd, nm, &tx, pc, &ty, 1));
        TRY(vkn_cmd_end(cmd));
        TRY(vkn_cmd_run(cmd));
        if (pc) TRY(vkn_norm_check_ids(nm));
        TRY(vkn_tensor_download(&ty, y));
    }
    printf("%.2f\n", 1e6 * (now() - t0) / iters);
    vkn_cmd_destroy(cmd);
    vkn_norm_destroy(nm);
    vkn_arena_destroy(io);
    vkn_arena_destroy(slots);
    free(x), free(y), free(ids);
    return 0;
}

static vkn_val net(vkn_nn *m, vkn_val x)
{
    vkn_norm_opts o1 = vkn_norm_opts_default(VKN_NORM_BN, 16), o2 = vkn_norm_opts_default(VKN_NORM_BN, 32);
    vkn_val h = vkn_nn_conv2d(m, "conv1", x, 16, 5, 1, 0, 1);
    h = vkn_nn_maxpool2d(m, vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_norm(m, "norm1", h, VKN_NONE, &o1)), 2, 2);
    h = vkn_nn_conv2d(m, "conv2", h, 32, 5, 1, 0, 1);
    h = vkn_nn_maxpool2d(m, vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_norm(m, "norm2", h, VKN_NONE, &o2)), 2, 2);
    return vkn_nn_linear(m, "fc", vkn_nn_flatten(m, h), 10, 1);
}

static int graph_steps(vkn_context *dev, int steps)
{
    enum { B = 64 };
    vkn_params *params;
    vkn_graph *g;
    TRY(vkn_params_create(dev, 1, &params));
    TRY(vkn_graph_create(params, "train", &g));
    vkn_nn m = {.g = g, .params = params, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = 1};
    const int64_t xs[4] = {B, 1, 28, 28}, ys[1] = {B};
    vkn_val x = vkn_graph_input(g, "images", VKN_F32, 4, xs), y = vkn_graph_input(g, "labels", VKN_I32, 1, ys);
    vkn_val loss = vkn_nn_softmax_ce(&m, net(&m, x), y, 0.0f);
    vkn_graph_keep(g, loss);
    TRY(vkn_graph_backward(g, loss));
    vkn_optim_opts adam = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0};
    TRY(vkn_nn_optimizer(&m, &adam, NULL));
    TRY(vkn_graph_compile(g));
    /* synthetic batches (the same in the Python side): the timing does not depend on the data */
    float *img = malloc(sizeof(float) * B * 784);
    int32_t lab[B];
    for (int i = 0; i < B * 784; i++) img[i] = (float)(i % 255) / 127.5f - 1.0f;
    for (int i = 0; i < B; i++) lab[i] = i % 10;
    double t0 = 0;
    for (int s = -2; s < steps; s++) {
        if (s == 0) t0 = now();
        memcpy(vkn_graph_input_ptr(g, x), img, sizeof(float) * B * 784);
        memcpy(vkn_graph_input_ptr(g, y), lab, sizeof lab);
        vkn_graph_set_step(g, VKN_STEP_T, (float)(s + 3));
        vkn_graph_set_step(g, VKN_STEP_LR0, 1e-3f);
        TRY(vkn_graph_run(g));
    }
    printf("%.3f\n", 1e3 * (now() - t0) / steps);
    free(img);
    vkn_graph_destroy(g);
    vkn_params_destroy(params);
    return 0;
}

int main(int argc, char **argv)
{
    vkn_context_opts co = {.validate = 0, .quiet = 1};
    vkn_context *dev;
    TRY(vkn_context_create(&co, &dev));
    int r = 2;
    if (argc == 8 && !strcmp(argv[1], "norm"))
        r = norm_calls(dev, argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]));
    else if (argc == 3 && !strcmp(argv[1], "graph"))
        r = graph_steps(dev, atoi(argv[2]));
    else
        fprintf(stderr, "usage: overhead norm KIND N C H W ITERS | overhead graph STEPS\n");
    vkn_context_destroy(dev);
    return r;
}
