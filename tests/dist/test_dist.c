/* Data-parallel training under mpirun (suite 'dist'): run as `mpirun -np 2 test_dist MODE`.
 *   identical  parameters bit-identical on every rank after K steps (ranks start from different
 *              seeds, so the broadcast matters; ranks see different data, so the exchange matters:
 *              a control store trained without the exchange must end up different)
 *   match      N ranks of batch B/N (LayerNorm: no statistic spans the batch) give the parameters
 *              and losses of one process with batch B, within fp32 tolerance; bucketed and blocking
 *   mixed      rank 0 on the CPU-class kernels, rank 1 on the GPU-class ones (a stand-in for two
 *              vendors): the parameters after K steps stay within 1e-5 + 1e-4|p| of each other
 *   cgan       the GAN of models.h (BN, convolutions, Adam; the D step and the G step chained on the
 *              device): after K steps on different real batches the learned parameters are bitwise
 *              the same on every rank, while the D losses differ (the ranks saw different data)
 *   refuse     ranks started with different options: every rank is refused, naming rank 1
 *   bench B S  not a test: the figures of docs/DIST.md (batch B per rank, S timed steps)
 *   hang-start rank 1 hangs before the start check (the others wait in it)
 *   hang, kill rank 1 hangs or is killed at step 3 (tests/dist/fault.sh checks how the job ends) */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vkn/vkn.h"

#define B 8        /* global batch */
#define DIN 12
#define DH 18      /* not a multiple of 4 */
#define K 6        /* steps */

#define CHECK(s)                                                                                 \
    do {                                                                                         \
        vkn_status s_ = (s);                                                                     \
        if (s_ != VKN_OK) {                                                                      \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #s, vkn_status_detail());     \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

typedef struct model {
    vkn_params *p;
    vkn_graph *g;
    vkn_val x, t, loss;
    int n;         /* rows of this graph's batch */
    int din;
} model;

static int g_din = DIN, g_dh = DH, g_layers = 1;   /* bench mode: larger */

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float val(int step, int row, int col, int which)
{
    uint64_t h = mix(((uint64_t)step << 40) ^ ((uint64_t)row << 20) ^ ((uint64_t)col << 4) ^ (uint64_t)which);
    return (float)((double)(h >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* linear -> LN -> leaky relu -> linear -> mse against a target; SGD with momentum */
static void build(vkn_context *ctx, uint64_t seed, int n, vkn_dist *d, const vkn_dist_graph_opts *o, model *m)
{
    CHECK(vkn_params_create(ctx, seed, &m->p));
    CHECK(vkn_graph_create(m->p, "dist", &m->g));
    m->n = n;
    m->din = g_din;
    vkn_nn nn = {.g = m->g, .params = m->p, .train = 1, .trainable = 1, .init = VKN_INIT_HE};
    int64_t xs[2] = {n, g_din};
    m->x = vkn_graph_input(m->g, "x", VKN_F32, 2, xs);
    m->t = vkn_graph_input(m->g, "t", VKN_F32, 2, xs);
    vkn_val h = m->x;
    for (int l = 0; l < g_layers; l++) {
        char name[32];
        snprintf(name, sizeof name, l ? "fc1_%d" : "fc1", l);
        h = vkn_nn_linear(&nn, name, h, g_dh, 1);
        vkn_norm_opts ln = vkn_norm_opts_default(VKN_NORM_LN, g_dh);
        snprintf(name, sizeof name, l ? "ln_%d" : "ln", l);
        h = vkn_nn_norm(&nn, name, h, VKN_NONE, &ln);
        h = vkn_nn_act(&nn, VKN_ACT_LEAKY_RELU, 0.2f, h);
    }
    h = vkn_nn_linear(&nn, "fc2", h, g_din, 1);
    m->loss = vkn_graph_mse(m->g, h, m->t);
    vkn_graph_keep(m->g, m->loss);
    CHECK(vkn_graph_backward(m->g, m->loss));
    vkn_optim_opts so = {.kind = VKN_OPTIM_SGD, .lr_slot = VKN_STEP_LR0, .momentum = 0.9f};
    CHECK(vkn_nn_optimizer(&nn, &so, NULL));
    if (d) CHECK(vkn_dist_attach(d, m->g, o));
    CHECK(vkn_graph_compile(m->g));
    vkn_graph_set_step(m->g, VKN_STEP_LR0, 0.05f);
}

/* rows [r0, r0 + n) of the global batch of this step */
static float step_run(model *m, int step, int r0)
{
    float *x = vkn_graph_input_ptr(m->g, m->x), *t = vkn_graph_input_ptr(m->g, m->t);
    int din = m->din;
    for (int i = 0; i < m->n; i++)
        for (int j = 0; j < din; j++) {
            x[i * din + j] = val(step, r0 + i, j, 0);
            t[i * din + j] = 0.5f * val(step, r0 + i, (j * 5) % din, 0) + 0.1f * val(step, r0 + i, j, 1);
        }
    vkn_graph_set_step(m->g, VKN_STEP_T, (float)(step + 1));
    CHECK(vkn_graph_run(m->g));
    float loss;
    CHECK(vkn_graph_read(m->g, m->loss, &loss));
    return loss;
}

/* every parameter and buffer of the store, concatenated */
static float *all_params(vkn_params *p, int64_t *n)
{
    int64_t total = vkn_params_numel(p, 0);
    float *buf = malloc((size_t)total * sizeof *buf);
    int64_t o = 0;
    for (int i = 0; i < vkn_params_count(p); i++) {
        CHECK(vkn_tensor_download(vkn_params_value(p, i), buf + o));
        o += vkn_params_value(p, i)->numel;
    }
    *n = total;
    return buf;
}

static void destroy(model *m)
{
    vkn_graph_destroy(m->g);
    vkn_params_destroy(m->p);
}

static int identical(vkn_dist *d, vkn_context *ctx)
{
    int r = vkn_dist_rank(d), nr = vkn_dist_size(d), n = B / nr;
    vkn_dist_graph_opts o = {.bucket_bytes = 256};   /* several buckets */
    model m, ctl;
    build(ctx, 100 + (uint64_t)r, n, d, &o, &m);
    build(ctx, 100 + (uint64_t)r, n, NULL, NULL, &ctl);
    CHECK(vkn_dist_broadcast_params(d, m.p));
    CHECK(vkn_dist_broadcast_params(d, ctl.p));
    for (int s = 0; s < K; s++) {
        step_run(&m, s, r * n);
        step_run(&ctl, s, r * n);
    }
    int64_t np;
    float *a = all_params(m.p, &np), *c = all_params(ctl.p, &np);
    int same = vkn_dist_same(d, a, (size_t)np * 4), ctl_same = vkn_dist_same(d, c, (size_t)np * 4);
    vkn_dist_stats st = vkn_dist_get_stats(d);
    if (r == 0)
        printf("identical: %lld values, %d buckets, %llu exchanges: same on all ranks %s; control without the "
               "exchange same %s (must differ)\n", (long long)np, st.buckets, (unsigned long long)st.steps,
               same ? "yes" : "NO", ctl_same ? "YES" : "no");
    free(a);
    free(c);
    destroy(&m);
    destroy(&ctl);
    return same && !ctl_same && st.buckets > 1 && st.steps == K;
}

static int match(vkn_dist *d, vkn_context *ctx, int blocking)
{
    int r = vkn_dist_rank(d), nr = vkn_dist_size(d), n = B / nr, ok = 1;
    vkn_dist_graph_opts o = {.bucket_bytes = 512, .blocking = blocking};
    model m, one;
    build(ctx, 7, n, d, &o, &m);
    build(ctx, 7, B, NULL, NULL, &one);
    for (int s = 0; s < K; s++) {
        float l = step_run(&m, s, r * n), l1 = step_run(&one, s, 0);
        CHECK(vkn_dist_allreduce_sum(d, &l, 1));
        l /= (float)nr;   /* mean of the ranks' batch means = the mean over B */
        if (!(fabsf(l - l1) <= 1e-6f + 1e-4f * fabsf(l1))) {
            fprintf(stderr, "rank %d step %d: loss %.9g with %d ranks, %.9g with one\n", r, s, l, nr, l1);
            ok = 0;
        }
    }
    int64_t np;
    float *a = all_params(m.p, &np), *b = all_params(one.p, &np);
    double worst = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < np; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > worst) worst = e;
        if (!(e <= 1e-5 + 1e-4 * fabs((double)b[i]))) bad++;
    }
    if (r == 0 || bad)
        printf("match (%s): rank %d: %lld values, largest |%d ranks - 1| %.3g, %lld outside 1e-5 + 1e-4|ref|\n",
               blocking ? "blocking" : "buckets", r, (long long)np, nr, worst, (long long)bad);
    free(a);
    free(b);
    destroy(&m);
    destroy(&one);
    int all = ok && !bad;
    return vkn_dist_same(d, &all, sizeof all) && all;
}

static int mixed(vkn_dist *d, vkn_context *ctx)
{
    int r = vkn_dist_rank(d), nr = vkn_dist_size(d), n = B / nr;
    model m;
    build(ctx, 7, n, d, NULL, &m);
    for (int s = 0; s < K; s++) step_run(&m, s, r * n);
    int64_t np;
    float *a = all_params(m.p, &np);
    float *root = malloc((size_t)np * sizeof *root);
    memcpy(root, a, (size_t)np * sizeof *root);
    /* rank 0's parameters on every rank: a sum with zeros elsewhere */
    if (r) memset(root, 0, (size_t)np * sizeof *root);
    CHECK(vkn_dist_allreduce_sum(d, root, np));
    double worst = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < np; i++) {
        double e = fabs((double)a[i] - root[i]);
        if (e > worst) worst = e;
        if (!(e <= 1e-5 + 1e-4 * fabs((double)root[i]))) bad++;
    }
    const char *path = getenv("VKN_PATH");
    printf("mixed: rank %d (VKN_PATH=%s): largest |p - p(rank 0)| %.3g over %lld values, %lld outside 1e-5 + 1e-4|p|\n",
           r, path ? path : "auto", worst, (long long)np, (long long)bad);
    free(a);
    free(root);
    destroy(&m);
    int ok = !bad;
    return vkn_dist_same(d, &ok, sizeof ok) && ok;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Not a test: the figures of docs/DIST.md. Per-rank batch fixed (weak scaling); ms per step with
 * the exchange blocking (one bucket after the backward) and bucketed (1 MiB), the host time of the
 * exchange and the part of it after the backward ended (exposed); then MPI_Allreduce bandwidth. */
static int bench(vkn_dist *d, vkn_context *ctx, int local_batch, int steps)
{
    int r = vkn_dist_rank(d), nr = vkn_dist_size(d);
    g_din = 256, g_dh = 1024, g_layers = 2;
    if (steps < 1) steps = 1;
    if (steps > 64) steps = 64;
    for (int mode = 0; mode < 3; mode++) {
        vkn_dist_graph_opts o = {.bucket_bytes = 1u << 20, .blocking = mode == 1};
        model m;
        build(ctx, 7, local_batch, mode ? d : NULL, &o, &m);
        for (int s = 0; s < 3; s++) step_run(&m, s, r * local_batch);   /* warm-up */
        vkn_dist_stats s0 = vkn_dist_get_stats(d);
        double best = 1e30;
        float ms[64] = {0};
        for (int s = 0; s < steps && s < 64; s++) {
            float one[1] = {0};
            CHECK(vkn_dist_allreduce_sum(d, one, 1));   /* start the step together */
            double t0 = now_ms();
            step_run(&m, 3 + s, r * local_batch);
            ms[s] = (float)(now_ms() - t0);
            if (ms[s] < best) best = ms[s];
        }
        vkn_dist_stats s1 = vkn_dist_get_stats(d);
        double k = (double)(s1.steps - s0.steps);
        float med[64];
        memcpy(med, ms, sizeof med);
        for (int i = 0; i < steps; i++)
            for (int j = i + 1; j < steps; j++)
                if (med[j] < med[i]) { float t = med[i]; med[i] = med[j]; med[j] = t; }
        if (r == 0)
            printf("bench: %d rank(s), batch %d per rank, %lld parameters (%.2f MiB of gradients), %s: "
                   "median %.1f ms/step (best %.1f), exchange %.1f ms/step of which exposed %.1f, %d buckets\n",
                   nr, local_batch, (long long)vkn_params_numel(m.p, 1), vkn_params_numel(m.p, 1) * 4.0 / 1048576,
                   mode == 0 ? "no exchange" : mode == 1 ? "blocking" : "bucketed 1 MiB", med[steps / 2], best,
                   k ? (s1.exchange_ms - s0.exchange_ms) / k : 0, k ? (s1.exposed_ms - s0.exposed_ms) / k : 0,
                   mode ? s1.buckets : 0);
        destroy(&m);
    }
    for (int64_t n = 16384; n <= (4 << 20); n *= 4) {
        float *buf = calloc((size_t)n, sizeof *buf);
        CHECK(vkn_dist_allreduce_sum(d, buf, n));
        double t0 = now_ms();
        int reps = 10;
        for (int i = 0; i < reps; i++) CHECK(vkn_dist_allreduce_sum(d, buf, n));
        double t = (now_ms() - t0) / reps;
        if (r == 0)
            printf("allreduce: %d ranks, %8.2f MiB: %.3f ms, %.2f GB/s algorithm bandwidth\n", nr, n * 4.0 / 1048576, t,
                   n * 4.0 / (t * 1e6));
        free(buf);
    }
    return 1;
}

static int cgan(vkn_dist *d, vkn_context *ctx)
{
    int r = vkn_dist_rank(d);
    vkn_cgan_config c = vkn_cgan_defaults();
    c.batch = 8;
    c.samples = 10;
    c.seed = 5;
    c.dist = d;
    vkn_cgan *m;
    CHECK(vkn_cgan_create(ctx, &c, &m));
    vkn_cgan_stats st = {0};
    for (int s = 0; s < 4; s++) {
        float *img = vkn_cgan_real_images(m);
        int32_t *lab = vkn_cgan_real_labels(m);
        for (int i = 0; i < c.batch * 28 * 28; i++) img[i] = val(s, r * c.batch + i / 784, i % 784, 3);
        for (int i = 0; i < c.batch; i++) lab[i] = (int32_t)((r * 7 + i * 3 + s) % c.classes);
        CHECK(vkn_cgan_step(m, s, &st));
    }
    vkn_params *p = vkn_cgan_params(m);
    int64_t np = 0;
    for (int i = 0; i < vkn_params_count(p); i++) np += vkn_params_grad(p, i) ? vkn_params_value(p, i)->numel : 0;
    float *a = malloc((size_t)np * sizeof *a);
    int64_t o = 0;
    for (int i = 0; i < vkn_params_count(p); i++)
        if (vkn_params_grad(p, i)) {
            CHECK(vkn_tensor_download(vkn_params_value(p, i), a + o));
            o += vkn_params_value(p, i)->numel;
        }
    int same = vkn_dist_same(d, a, (size_t)np * 4), loss_same = vkn_dist_same(d, &st.loss_d, sizeof st.loss_d);
    vkn_dist_stats ds = vkn_dist_get_stats(d);
    if (r == 0)
        printf("cgan: %lld learned values, %llu exchanges (D and G steps), same on all ranks %s; last D loss same %s "
               "(must differ)\n", (long long)np, (unsigned long long)ds.steps, same ? "yes" : "NO", loss_same ? "YES" : "no");
    free(a);
    vkn_cgan_destroy(m);
    return same && !loss_same && ds.steps == 8;
}

static int refuse(vkn_dist *d, const char *opt)
{
    vkn_status s = vkn_dist_check(d, "options", opt, strlen(opt));
    int r = vkn_dist_rank(d);
    if (s == VKN_OK) {
        fprintf(stderr, "rank %d: ranks with options differing (mine '%s') were not refused\n", r, opt);
        return 0;
    }
    printf("rank %d refused: %s\n", r, vkn_status_detail());
    return strstr(vkn_status_detail(), "rank 1") != NULL;
}

static void fault(vkn_dist *d, vkn_context *ctx, int kill_it)
{
    int r = vkn_dist_rank(d), nr = vkn_dist_size(d), n = B / nr;
    model m;
    build(ctx, 7, n, d, NULL, &m);
    for (int s = 0; s < 100; s++) {
        vkn_dist_step_begin(d, s);
        if (r == 1 && s == 3) {
            fprintf(stderr, "rank 1: %s at step 3\n", kill_it ? "killing itself" : "hanging");
            if (kill_it) raise(SIGKILL);
            sleep(600);
        }
        step_run(&m, s, r * n);
        vkn_dist_step_end(d);
    }
    fprintf(stderr, "rank %d: the fault did not end the job\n", r);
}

int main(int argc, char **argv)
{
    vkn_dist *d;
    CHECK(vkn_dist_init(&argc, &argv, &d));
    if (argc < 2) { fprintf(stderr, "usage: mpirun -np 2 test_dist identical|match|mixed|cgan|refuse OPT|hang-start|hang|kill|bench [B [S]]\n"); return 2; }
    const char *mode = argv[1];
    if (!strcmp(mode, "hang-start")) {   /* rank 1 never comes to the start check */
        if (vkn_dist_rank(d) == 1) {
            fprintf(stderr, "rank 1: hanging before the start check\n");
            sleep(600);
        }
        vkn_status s = vkn_dist_check(d, "options", "same", 4);
        fprintf(stderr, "rank %d: the start check returned (%d): the hang did not end the job\n", vkn_dist_rank(d), (int)s);
        vkn_dist_finalize(d);
        return 1;
    }
    if (!strcmp(mode, "refuse")) {
        int ok = refuse(d, argc > 2 ? argv[2] : "");
        vkn_dist_finalize(d);
        return ok ? 0 : 1;
    }
    vkn_context_opts co = {.device = vkn_dist_device(d), .validate = -1, .quiet = -1};
    vkn_context *ctx;
    CHECK(vkn_context_create(&co, &ctx));
    int ok = 0;
    if (!strcmp(mode, "identical")) ok = identical(d, ctx);
    else if (!strcmp(mode, "mixed")) ok = mixed(d, ctx);
    else if (!strcmp(mode, "cgan")) ok = cgan(d, ctx);
    else if (!strcmp(mode, "bench")) ok = bench(d, ctx, argc > 2 ? atoi(argv[2]) : 32, argc > 3 ? atoi(argv[3]) : 20);
    else if (!strcmp(mode, "match")) ok = match(d, ctx, 0) & match(d, ctx, 1);
    else if (!strcmp(mode, "hang") || !strcmp(mode, "kill")) fault(d, ctx, !strcmp(mode, "kill"));
    else fprintf(stderr, "unknown mode '%s'\n", mode);
    uint32_t nv = vkn_context_validation_count(ctx);
    if (nv) { fprintf(stderr, "rank %d: %u validation messages\n", vkn_dist_rank(d), nv); ok = 0; }
    vkn_context_destroy(ctx);
    vkn_dist_finalize(d);
    return ok ? 0 : 1;
}
