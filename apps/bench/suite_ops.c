/* ops: every op of the training graphs, forward and backward, at the demo's shapes (batch 64):
 * the cgan-small ("cgan-s") and cgan-base ("cgan-b") layers and the DANN LeNet ("dann": conv 5x5 3->32
 * on 28x28, maxpool 2, conv 5x5 32->48, maxpool 2, FC 768->100->100->10).
 *
 * Each test records `inner` independent instances of the op (fresh outputs, shared inputs: no
 * barriers between them) so that tiny ops are not timed as one timestamp pair each; times are per
 * instance. Every test carries the bytes the op must move at least (each input read once, each
 * output written once) and, where there is arithmetic, its FLOPs (GEMM-like ops: 2 per multiply-add;
 * element-wise ops: 1 per element, a transcendental counting as 1; Adam: 14 per parameter). The
 * roofline time is max(bytes / copy bandwidth, FLOPs / FMA peak) from the probe; the ratio is that
 * time over the measured median ("of copy" when bandwidth is the binding roof, "of FMA peak" when
 * arithmetic is), and the value is GB/s or GFLOP/s accordingly. bench_print_slowest() lists the
 * lowest fractions of every suite at the end of the terminal report. */
#include "bench.h"
#include "vkn/loss.h"
#include "vkn/ops.h"
#include "vkn/optim.h"
#include "vkn/random.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dispatches per instance of each ops test (by name and shape: other suites may insert rows), for the
 * slowest list */
typedef struct disp_note { char name[64], shape[48]; int disp, inner; } disp_note;
static disp_note *disp_notes;
static int ndisp, disp_cap;

static void note_disp(const bench_result *r, int disp, int inner)
{
    if (ndisp == disp_cap) {
        int cap = disp_cap ? 2 * disp_cap : 128;
        disp_note *p = realloc(disp_notes, (size_t)cap * sizeof *p);
        if (!p) return;
        disp_notes = p;
        disp_cap = cap;
    }
    disp_note *d = &disp_notes[ndisp++];
    snprintf(d->name, sizeof d->name, "%s", r->name);
    snprintf(d->shape, sizeof d->shape, "%s", r->shape);
    d->disp = disp;
    d->inner = inner;
}

static int disp_lookup(const bench_result *r, int *inner)
{
    *inner = 1;
    if (!strcmp(r->suite, "norm")) {   /* "bn fwd+bwd [cpu, 6 disp]" */
        const char *p = strstr(r->name, ", ");
        int d = 0;
        return p && sscanf(p, ", %d disp", &d) == 1 ? d : 0;
    }
    if (strcmp(r->suite, "ops")) return 0;
    for (int i = ndisp - 1; i >= 0; i--)
        if (!strcmp(disp_notes[i].name, r->name) && !strcmp(disp_notes[i].shape, r->shape)) {
            *inner = disp_notes[i].inner;
            return disp_notes[i].disp;
        }
    return 0;
}

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((double)(rng_state >> 11) * 0x1.0p-53);
}

/* a tensor of 1-4 dims (trailing 0 dims dropped) */
static vkn_status T(bench_ctx *b, vkn_tensor *t, vkn_dtype dt, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t s[4] = {d0, d1, d2, d3};
    int nd = 1;
    while (nd < 4 && s[nd] > 0) nd++;
    return vkn_tensor_alloc(b->arena, dt, nd, s, t);
}

/* a tensor filled with uniform values in [lo, hi) (host upload: done before recording) */
static vkn_status R(bench_ctx *b, vkn_tensor *t, int64_t d0, int64_t d1, int64_t d2, int64_t d3, float lo, float hi)
{
    VKN_TRY(T(b, t, VKN_F32, d0, d1, d2, d3));
    float *h = malloc((size_t)t->numel * sizeof *h);
    if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "bench ops: host data");
    for (int64_t i = 0; i < t->numel; i++) h[i] = frand(lo, hi);
    vkn_status s = vkn_tensor_upload(t, h);
    free(h);
    return s;
}

/* I32 ids in [0, k) */
static vkn_status ids(bench_ctx *b, vkn_tensor *t, int64_t n, int k)
{
    VKN_TRY(T(b, t, VKN_I32, n, 0, 0, 0));
    int32_t *h = malloc((size_t)n * sizeof *h);
    if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "bench ops: ids");
    for (int64_t i = 0; i < n; i++) h[i] = (int32_t)(i * 7 % k);
    vkn_status s = vkn_tensor_upload(t, h);
    free(h);
    return s;
}

/* a step tensor: t = 1, lr 2e-4, lambda 0.5 */
static vkn_status step_tensor(bench_ctx *b, vkn_tensor *t)
{
    VKN_TRY(T(b, t, VKN_F32, VKN_STEP_COUNT, 0, 0, 0));
    float h[VKN_STEP_COUNT] = {0};
    h[VKN_STEP_T] = 1.0f;
    h[VKN_STEP_LAMBDA] = 0.5f;
    h[VKN_STEP_LR0] = 2e-4f;
    return vkn_tensor_upload(t, h);
}

/* The roofline time of (bytes, flops) in us and which roof binds. */
static double roof_us(const bench_ctx *b, double bytes, double flops, int *compute)
{
    double tm = b->copy_gbs > 0 ? bytes / (b->copy_gbs * 1e3) : 0;
    double tc = b->fma_gflops > 0 ? flops / (b->fma_gflops * 1e3) : 0;
    *compute = tc > tm;
    return tc > tm ? tc : tm;
}

/* How many instances per submit: aim at about 2 ms of roofline work, at most 8. */
static int pick_inner(const bench_ctx *b, double bytes, double flops)
{
    int compute;
    double us = roof_us(b, bytes, flops, &compute);
    if (b->opts.quick) return 1;
    if (us <= 0) return 8;
    int n = (int)(2000.0 / us);
    return n < 1 ? 1 : n > 8 ? 8 : n;
}

static vkn_status begin(bench_ctx *b) { return vkn_cmd_begin(b->cmd); }

/* End the recording, time it, fill in the result (per instance). */
static vkn_status finish(bench_ctx *b, const char *name, const char *shape, int inner, double bytes, double flops)
{
    VKN_TRY(vkn_cmd_end(b->cmd));
    vkn_cmd_stats cs = vkn_cmd_get_stats(b->cmd);
    bench_result *r = bench_add(b, "ops", name, shape);
    int idx = (int)(r - b->results);
    VKN_TRY(bench_time_cmd(b, inner, r));
    r = &b->results[idx];
    r->bytes = bytes;
    r->flops = flops;
    int compute;
    double roof = roof_us(b, bytes, flops, &compute);
    if (compute) {
        r->value = flops / (r->median_us * 1e3);
        snprintf(r->unit, sizeof r->unit, "GFLOP/s");
    } else {
        r->value = bytes / (r->median_us * 1e3);
        snprintf(r->unit, sizeof r->unit, "GB/s");
    }
    if (roof > 0 && r->median_us > 0) {
        r->ratio = roof / r->median_us;
        snprintf(r->ratio_what, sizeof r->ratio_what, compute ? "of FMA peak" : "of copy");
    }
    note_disp(r, (int)(cs.dispatches / (uint32_t)inner), inner);
    vkn_arena_reset(b->arena);
    return VKN_OK;
}

static void shape4(char *buf, size_t len, const vkn_tensor *t) { vkn_tensor_shape_str(t, buf, len); }

/* ---- element-wise ---- */

static vkn_unary act_unary(vkn_act a)
{
    return a == VKN_ACT_RELU ? VKN_UNARY_RELU : a == VKN_ACT_LEAKY_RELU ? VKN_UNARY_LEAKY_RELU
           : a == VKN_ACT_TANH ? VKN_UNARY_TANH : VKN_UNARY_SIGMOID;
}

typedef struct act_layer { const char *tag; vkn_act act; int64_t n, c, h, w; int full; } act_layer;

static const act_layer act_layers[] = {
    {"cgan-s G.act1", VKN_ACT_RELU, 64, 64, 7, 7, 0},
    {"cgan-s G.act2", VKN_ACT_RELU, 64, 32, 14, 14, 1},
    {"cgan-s G.out", VKN_ACT_TANH, 64, 1, 28, 28, 0},
    {"cgan-s D.act1", VKN_ACT_LEAKY_RELU, 64, 32, 14, 14, 0},
    {"cgan-s D.act2", VKN_ACT_LEAKY_RELU, 64, 64, 7, 7, 1},
    {"cgan-b G.act1", VKN_ACT_RELU, 64, 128, 7, 7, 1},
    {"cgan-b G.act2", VKN_ACT_RELU, 64, 64, 14, 14, 1},
    {"cgan-b D.act1", VKN_ACT_LEAKY_RELU, 64, 64, 14, 14, 1},
    {"cgan-b D.act2", VKN_ACT_LEAKY_RELU, 64, 128, 7, 7, 1},
    {"dann act1", VKN_ACT_RELU, 64, 32, 24, 24, 1},
    {"dann act2", VKN_ACT_RELU, 64, 48, 8, 8, 1},
    {"dann fc act", VKN_ACT_RELU, 64, 100, 0, 0, 1},
};

static const char *act_name(vkn_act a)
{
    return a == VKN_ACT_RELU ? "relu" : a == VKN_ACT_LEAKY_RELU ? "leaky" : a == VKN_ACT_TANH ? "tanh" : "sigmoid";
}

static vkn_status ops_act(bench_ctx *b, const act_layer *l)
{
    char name[64], shape[48];
    for (int bwd = 0; bwd < 2; bwd++) {
        vkn_tensor x, dy, out[8];
        VKN_TRY(R(b, &x, l->n, l->c, l->h, l->w, -1, 1));
        VKN_TRY(R(b, &dy, l->n, l->c, l->h, l->w, -1, 1));
        double n = (double)x.numel;
        double bytes = (bwd ? 12.0 : 8.0) * n, flops = n;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            VKN_TRY(T(b, &out[i], VKN_F32, l->n, l->c, l->h, l->w));
            if (bwd) VKN_TRY(vkn_op_act_grad(b->cmd, l->act, 0.2f, &x, &dy, &out[i]));
            else VKN_TRY(vkn_op_unary(b->cmd, act_unary(l->act), 0.2f, &x, &out[i]));
        }
        snprintf(name, sizeof name, "%s %s (%s)", act_name(l->act), bwd ? "bwd" : "fwd", l->tag);
        shape4(shape, sizeof shape, &x);
        VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* every unary kind (and the sigmoid gradient) at one activation shape: 64x32x14x14 */
static vkn_status ops_unary_kinds(bench_ctx *b)
{
    char name[64], shape[48];
    for (int k = 0; k <= VKN_UNARY_COUNT_; k++) {
        if (b->opts.quick && k != VKN_UNARY_TANH && k != VKN_UNARY_COUNT_) continue;
        vkn_tensor x, dy, out[8];
        VKN_TRY(R(b, &x, 64, 32, 14, 14, 0.1f, 2.0f));    /* positive: log is defined */
        VKN_TRY(R(b, &dy, 64, 32, 14, 14, -1, 1));
        double n = (double)x.numel;
        int grad = k == VKN_UNARY_COUNT_;
        double bytes = (grad ? 12.0 : 8.0) * n, flops = n;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            VKN_TRY(T(b, &out[i], VKN_F32, 64, 32, 14, 14));
            if (grad) VKN_TRY(vkn_op_act_grad(b->cmd, VKN_ACT_SIGMOID, 0, &x, &dy, &out[i]));
            else VKN_TRY(vkn_op_unary(b->cmd, (vkn_unary)k, 0.5f, &x, &out[i]));
        }
        if (grad) snprintf(name, sizeof name, "sigmoid bwd (act_grad)");
        else snprintf(name, sizeof name, "unary %s", vkn_unary_name((vkn_unary)k));
        shape4(shape, sizeof shape, &x);
        VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* binary (same shape and per-channel broadcast, as a bias or a norm's affine) and axpy */
static vkn_status ops_binary(bench_ctx *b)
{
    char name[64];
    for (int k = 0; k < VKN_BINARY_COUNT_ + 3; k++) {
        int bcast = k == VKN_BINARY_COUNT_ || k == VKN_BINARY_COUNT_ + 1, axpy = k == VKN_BINARY_COUNT_ + 2;
        vkn_binary op = bcast ? (k == VKN_BINARY_COUNT_ ? VKN_BINARY_ADD : VKN_BINARY_MUL) : (vkn_binary)k;
        if (b->opts.quick && k != VKN_BINARY_ADD && k != VKN_BINARY_COUNT_ && !axpy) continue;
        vkn_tensor x, y, out[8];
        VKN_TRY(R(b, &x, 64, 32, 14, 14, 0.5f, 1.5f));
        if (bcast) VKN_TRY(R(b, &y, 1, 32, 1, 1, 0.5f, 1.5f));
        else VKN_TRY(R(b, &y, 64, 32, 14, 14, 0.5f, 1.5f));
        double n = (double)x.numel;
        double bytes = 8.0 * n + 4.0 * (double)y.numel, flops = axpy ? 2 * n : n;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            VKN_TRY(T(b, &out[i], VKN_F32, 64, 32, 14, 14));
            if (axpy) VKN_TRY(vkn_op_axpy(b->cmd, 0.5f, &y, &out[i]));
            else VKN_TRY(vkn_op_binary(b->cmd, op, &x, &y, &out[i]));
        }
        if (axpy) snprintf(name, sizeof name, "axpy (grad accumulate)");
        else snprintf(name, sizeof name, "binary %s%s", vkn_binary_name(op), bcast ? " [1,C,1,1] bcast" : "");
        VKN_TRY(finish(b, name, "64x32x14x14", inner, bytes, flops));
    }
    return VKN_OK;
}

/* reductions as the graphs use them: a conv bias gradient, a linear bias gradient, row mean / max */
static vkn_status ops_reduce(bench_ctx *b)
{
    static const struct { const char *name; vkn_reduce op; int64_t d[4]; uint32_t mask; int64_t out; } rs[] = {
        {"reduce sum N,H,W (conv db)", VKN_REDUCE_SUM, {64, 32, 14, 14}, 0xd, 32},
        {"reduce sum N (linear db)", VKN_REDUCE_SUM, {64, 3136, 0, 0}, 0x1, 3136},
        {"reduce mean rows", VKN_REDUCE_MEAN, {64, 3136, 0, 0}, 0x2, 64},
        {"reduce max rows", VKN_REDUCE_MAX, {64, 3136, 0, 0}, 0x2, 64},
    };
    char shape[48];
    for (size_t k = 0; k < sizeof rs / sizeof *rs; k++) {
        if (b->opts.quick && k) continue;
        vkn_tensor x, out[8];
        VKN_TRY(R(b, &x, rs[k].d[0], rs[k].d[1], rs[k].d[2], rs[k].d[3], -1, 1));
        double n = (double)x.numel;
        double bytes = 4.0 * n + 4.0 * (double)rs[k].out, flops = n;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            VKN_TRY(T(b, &out[i], VKN_F32, rs[k].out, 0, 0, 0));
            VKN_TRY(vkn_op_reduce(b->cmd, rs[k].op, &x, rs[k].mask, &out[i]));
        }
        shape4(shape, sizeof shape, &x);
        VKN_TRY(finish(b, rs[k].name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* ---- GEMM-based layers ---- */

typedef struct conv_layer {
    const char *tag;
    int transposed;
    int n, cin, h, w, cout, k, s, p;
    int dx;            /* the backward computes dx (not for a network's first layer) */
    int full;
} conv_layer;

static const conv_layer conv_layers[] = {
    {"cgan-s D.conv1", 0, 64, 1, 28, 28, 32, 4, 2, 1, 1, 0},
    {"cgan-s D.conv2", 0, 64, 32, 14, 14, 64, 4, 2, 1, 1, 1},
    {"cgan-b D.conv1", 0, 64, 1, 28, 28, 64, 4, 2, 1, 1, 1},
    {"cgan-b D.conv2", 0, 64, 64, 14, 14, 128, 4, 2, 1, 1, 1},
    {"dann conv1", 0, 64, 3, 28, 28, 32, 5, 1, 0, 0, 1},
    {"dann conv2", 0, 64, 32, 12, 12, 48, 5, 1, 0, 1, 1},
    {"cgan-s G.convT1", 1, 64, 64, 7, 7, 32, 4, 2, 1, 1, 1},
    {"cgan-s G.convT2", 1, 64, 32, 14, 14, 1, 4, 2, 1, 1, 0},
    {"cgan-b G.convT1", 1, 64, 128, 7, 7, 64, 4, 2, 1, 1, 1},
    {"cgan-b G.convT2", 1, 64, 64, 14, 14, 1, 4, 2, 1, 1, 1},
};

static vkn_status ops_conv(bench_ctx *b, const conv_layer *l)
{
    vkn_window2d win = {l->k, l->k, l->s, l->s, l->p, l->p};
    int ho, wo;
    if (l->transposed) {
        ho = (l->h - 1) * l->s - 2 * l->p + l->k;
        wo = (l->w - 1) * l->s - 2 * l->p + l->k;
    } else if (!vkn_window2d_out(&win, l->h, l->w, &ho, &wo)) {
        return vkn_status_set(VKN_ERR_SHAPE, "bench ops: window does not fit");
    }
    /* conv2d: x [n,cin,h,w] -> y [n,cout,ho,wo], w [cout,cin,k,k]; convT: w [cin,cout,k,k] */
    double nx = (double)l->n * l->cin * l->h * l->w, ny = (double)l->n * l->cout * ho * wo;
    double nw = (double)l->cin * l->cout * l->k * l->k;
    double macs = l->transposed ? nx * l->cout * l->k * l->k : ny * l->cin * l->k * l->k;
    char name[64], shape[48];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d->%dx%dx%d k%ds%dp%d", l->n, l->cin, l->h, l->w, l->cout, ho, wo, l->k,
             l->s, l->p);
    const char *op = l->transposed ? "convT2d" : "conv2d";
    for (int bwd = 0; bwd < 2; bwd++) {
        vkn_tensor x, wt, bias, dy;
        VKN_TRY(R(b, &x, l->n, l->cin, l->h, l->w, -1, 1));
        if (l->transposed) VKN_TRY(R(b, &wt, l->cin, l->cout, l->k, l->k, -0.05f, 0.05f));
        else VKN_TRY(R(b, &wt, l->cout, l->cin, l->k, l->k, -0.05f, 0.05f));
        VKN_TRY(R(b, &bias, l->cout, 0, 0, 0, -0.1f, 0.1f));
        VKN_TRY(R(b, &dy, l->n, l->cout, ho, wo, -1, 1));
        int64_t ws;
        double bytes, flops;
        if (!bwd) {
            ws = l->transposed ? vkn_conv_transpose2d_workspace_size(l->n, l->cin, l->h, l->w, l->cout, &win)
                               : vkn_conv2d_workspace_size(l->n, l->cin, l->h, l->w, l->cout, &win);
            bytes = 4.0 * (nx + nw + l->cout + ny);
            flops = 2.0 * macs + ny;
        } else {
            ws = l->transposed
                     ? vkn_conv_transpose2d_backward_workspace_size(l->n, l->cin, l->h, l->w, l->cout, ho, wo, &win)
                     : vkn_conv2d_backward_workspace_size(l->n, l->cin, l->h, l->w, l->cout, &win);
            /* read x, w, dy; write dw, db and (where needed) dx; dx needs w, dw needs x */
            bytes = 4.0 * (nx + nw + ny + nw + l->cout + (l->dx ? nx : 0));
            flops = 2.0 * macs * (l->dx ? 2 : 1) + ny;
        }
        if (ws < 1) ws = 1;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor wsp, y, dx, dw, db;
            VKN_TRY(T(b, &wsp, VKN_F32, ws, 0, 0, 0));
            if (!bwd) {
                VKN_TRY(T(b, &y, VKN_F32, l->n, l->cout, ho, wo));
                if (l->transposed) VKN_TRY(vkn_op_conv_transpose2d(b->cmd, &x, &wt, &bias, &win, &y, &wsp));
                else VKN_TRY(vkn_op_conv2d(b->cmd, &x, &wt, &bias, &win, &y, &wsp));
            } else {
                VKN_TRY(T(b, &dx, VKN_F32, l->n, l->cin, l->h, l->w));
                VKN_TRY(T(b, &dw, VKN_F32, wt.shape[0], wt.shape[1], l->k, l->k));
                VKN_TRY(T(b, &db, VKN_F32, l->cout, 0, 0, 0));
                if (l->transposed)
                    VKN_TRY(vkn_op_conv_transpose2d_backward(b->cmd, &x, &wt, &dy, &win, l->dx ? &dx : NULL, &dw, &db, &wsp));
                else VKN_TRY(vkn_op_conv2d_backward(b->cmd, &x, &wt, &dy, &win, l->dx ? &dx : NULL, &dw, &db, &wsp));
            }
        }
        snprintf(name, sizeof name, "%s %s (%s)", op, bwd ? (l->dx ? "bwd" : "bwd dw,db") : "fwd", l->tag);
        VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

typedef struct fc_layer { const char *tag; int n, in, out, dx, full; } fc_layer;

static const fc_layer fc_layers[] = {
    {"cgan-s G.fc", 64, 74, 3136, 0, 0},   {"cgan-s D.fc", 64, 3136, 1, 1, 1}, {"cgan-b G.fc", 64, 74, 6272, 0, 1},
    {"cgan-b D.fc", 64, 6272, 1, 1, 1},    {"dann fc1", 64, 768, 100, 1, 0},   {"dann fc2", 64, 100, 100, 1, 1},
    {"dann fc3", 64, 100, 10, 1, 1},
};

/* linear: y = x W^T + b (one GEMM, bias fused); backward: dx = dy W, dW = dy^T x, db = sum_n dy */
static vkn_status ops_linear(bench_ctx *b, const fc_layer *l)
{
    char name[64], shape[48];
    snprintf(shape, sizeof shape, "%dx%d->%d", l->n, l->in, l->out);
    double nx = (double)l->n * l->in, ny = (double)l->n * l->out, nw = (double)l->in * l->out;
    for (int bwd = 0; bwd < 2; bwd++) {
        vkn_tensor x, wt, bias, dy;
        VKN_TRY(R(b, &x, l->n, l->in, 0, 0, -1, 1));
        VKN_TRY(R(b, &wt, l->out, l->in, 0, 0, -0.05f, 0.05f));
        VKN_TRY(R(b, &bias, l->out, 0, 0, 0, -0.1f, 0.1f));
        VKN_TRY(R(b, &dy, l->n, l->out, 0, 0, -1, 1));
        double macs = nx * l->out, bytes, flops;
        if (!bwd) { bytes = 4.0 * (nx + nw + l->out + ny); flops = 2.0 * macs + ny; }
        else { bytes = 4.0 * (ny + nx + nw + nw + l->out + (l->dx ? nx + nw : 0)); flops = 2.0 * macs * (l->dx ? 2 : 1) + ny; }
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            if (!bwd) {
                vkn_tensor y;
                VKN_TRY(T(b, &y, VKN_F32, l->n, l->out, 0, 0));
                vkn_gemm_opts o = {.trans_b = 1, .bias_kind = VKN_BIAS_COL, .bias = &bias};
                VKN_TRY(vkn_op_gemm(b->cmd, &x, &wt, &y, &o));
            } else {
                vkn_tensor dx, dw, db;
                VKN_TRY(T(b, &dw, VKN_F32, l->out, l->in, 0, 0));
                VKN_TRY(T(b, &db, VKN_F32, l->out, 0, 0, 0));
                vkn_gemm_opts ow = {.trans_a = 1};
                VKN_TRY(vkn_op_gemm(b->cmd, &dy, &x, &dw, &ow));
                VKN_TRY(vkn_op_reduce(b->cmd, VKN_REDUCE_SUM, &dy, 1u, &db));
                if (l->dx) {
                    VKN_TRY(T(b, &dx, VKN_F32, l->n, l->in, 0, 0));
                    VKN_TRY(vkn_op_gemm(b->cmd, &dy, &wt, &dx, NULL));
                }
            }
        }
        snprintf(name, sizeof name, "linear %s (%s)", bwd ? (l->dx ? "bwd" : "bwd dw,db") : "fwd", l->tag);
        VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* ---- pooling, embedding, concat ---- */

static vkn_status ops_pool(bench_ctx *b, int avg, int n, int c, int h, int w, const char *tag)
{
    vkn_window2d win = {2, 2, 2, 2, 0, 0};
    int ho = h / 2, wo = w / 2;
    double nx = (double)n * c * h * w, ny = (double)n * c * ho * wo;
    char name[64], shape[48];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d k2s2", n, c, h, w);
    for (int bwd = 0; bwd < 2; bwd++) {
        vkn_tensor x, dy, idx;
        VKN_TRY(R(b, &x, n, c, h, w, -1, 1));
        VKN_TRY(R(b, &dy, n, c, ho, wo, -1, 1));
        VKN_TRY(T(b, &idx, VKN_I32, n, c, ho, wo));
        if (bwd && !avg) {   /* the forward's argmax, for the backward */
            vkn_tensor y;
            VKN_TRY(T(b, &y, VKN_F32, n, c, ho, wo));
            VKN_TRY(vkn_cmd_begin(b->cmd));
            VKN_TRY(vkn_op_maxpool2d(b->cmd, &x, &win, &y, &idx));
            VKN_TRY(vkn_cmd_end(b->cmd));
            VKN_TRY(vkn_cmd_run(b->cmd));
        }
        /* max fwd: read x, write y and idx; bwd: read dy and idx, write dx. avg: no idx. */
        double bytes = avg ? 4.0 * (nx + ny) : 4.0 * (nx + 2 * ny), flops = bwd ? (avg ? nx : 0) : nx;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor out, oidx;
            if (!bwd) {
                VKN_TRY(T(b, &out, VKN_F32, n, c, ho, wo));
                if (avg) VKN_TRY(vkn_op_avgpool2d(b->cmd, &x, &win, &out));
                else {
                    VKN_TRY(T(b, &oidx, VKN_I32, n, c, ho, wo));
                    VKN_TRY(vkn_op_maxpool2d(b->cmd, &x, &win, &out, &oidx));
                }
            } else {
                VKN_TRY(T(b, &out, VKN_F32, n, c, h, w));
                if (avg) VKN_TRY(vkn_op_avgpool2d_backward(b->cmd, &dy, &win, &out));
                else VKN_TRY(vkn_op_maxpool2d_backward(b->cmd, &dy, &idx, &win, &out));
            }
        }
        snprintf(name, sizeof name, "%s %s (%s)", avg ? "avgpool2d" : "maxpool2d", bwd ? "bwd" : "fwd", tag);
        VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* the projection discriminator's class embedding [10, D] looked up for 64 labels, and the one-hot */
static vkn_status ops_embed(bench_ctx *b, int dim, const char *tag)
{
    char name[64], shape[48];
    snprintf(shape, sizeof shape, "64 ids, [10,%d]", dim);
    for (int bwd = 0; bwd < 2; bwd++) {
        vkn_tensor tab, id, dy;
        VKN_TRY(R(b, &tab, 10, dim, 0, 0, -1, 1));
        VKN_TRY(ids(b, &id, 64, 10));
        VKN_TRY(R(b, &dy, 64, dim, 0, 0, -1, 1));
        double bytes = bwd ? 4.0 * (64.0 * dim + 64 + 10.0 * dim) : 4.0 * (64 + 2 * 64.0 * dim), flops = bwd ? 64.0 * dim : 0;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor out;
            if (!bwd) {
                VKN_TRY(T(b, &out, VKN_F32, 64, dim, 0, 0));
                VKN_TRY(vkn_op_embedding(b->cmd, &tab, &id, &out));
            } else {
                VKN_TRY(T(b, &out, VKN_F32, 10, dim, 0, 0));
                VKN_TRY(vkn_op_embedding_backward(b->cmd, &id, &dy, &out));
            }
        }
        snprintf(name, sizeof name, "embedding %s (%s)", bwd ? "bwd" : "fwd", tag);
        VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

static vkn_status ops_onehot_concat(bench_ctx *b)
{
    /* one-hot of the 64 labels, then the generator's input concat(z [64,64], onehot [64,10]) and its
     * backward (split) */
    vkn_tensor id, za, oh, yy;
    {
        VKN_TRY(ids(b, &id, 64, 10));
        double bytes = 4.0 * (64 + 640);
        int inner = pick_inner(b, bytes, 0);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor out;
            VKN_TRY(T(b, &out, VKN_F32, 64, 10, 0, 0));
            VKN_TRY(vkn_op_one_hot(b->cmd, &id, &out));
        }
        VKN_TRY(finish(b, "one_hot (cgan G.in)", "64 ids -> 64x10", inner, bytes, 0));
    }
    for (int bwd = 0; bwd < 2; bwd++) {
        VKN_TRY(R(b, &za, 64, 64, 0, 0, -1, 1));
        VKN_TRY(R(b, &oh, 64, 10, 0, 0, 0, 1));
        VKN_TRY(R(b, &yy, 64, 74, 0, 0, -1, 1));
        double bytes = 8.0 * 64 * 74;
        int inner = pick_inner(b, bytes, 0);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor o1, o2;
            if (!bwd) {
                VKN_TRY(T(b, &o1, VKN_F32, 64, 74, 0, 0));
                VKN_TRY(vkn_op_concat(b->cmd, &za, &oh, &o1));
            } else {
                VKN_TRY(T(b, &o1, VKN_F32, 64, 64, 0, 0));
                VKN_TRY(T(b, &o2, VKN_F32, 64, 10, 0, 0));
                VKN_TRY(vkn_op_split(b->cmd, &yy, &o1, &o2));
            }
        }
        VKN_TRY(finish(b, bwd ? "concat bwd (split; cgan G.in)" : "concat fwd (cgan G.in)", "64x64 ++ 64x10", inner,
                       bytes, 0));
    }
    return VKN_OK;
}

/* ---- losses (the loss ops compute the value and the gradient in one pass) ---- */

static vkn_status ops_losses(bench_ctx *b)
{
    static const struct { const char *name; vkn_loss_kind kind; int64_t n, k; double fpe; } ls[] = {
        {"bce-logits fwd+bwd (GAN D/G)", VKN_LOSS_BCE_LOGITS, 64, 1, 6},
        {"hinge-real fwd+bwd (GAN D)", VKN_LOSS_HINGE_REAL, 64, 1, 3},
        {"hinge-fake fwd+bwd (GAN D)", VKN_LOSS_HINGE_FAKE, 64, 1, 3},
        {"hinge-gen fwd+bwd (GAN G)", VKN_LOSS_HINGE_GEN, 64, 1, 2},
        {"mse fwd+bwd", VKN_LOSS_MSE, 64, 784, 4},
        {"bce-logits fwd+bwd (dann domain)", VKN_LOSS_BCE_LOGITS, 128, 1, 6},
        {"softmax-ce fwd+bwd (dann class)", VKN_LOSS_COUNT_, 64, 10, 6},
        {"accuracy (dann class)", VKN_LOSS_COUNT_, 64, 10, 1},
    };
    char shape[48];
    for (size_t k = 0; k < sizeof ls / sizeof *ls; k++) {
        if (b->opts.quick && k != 0 && k != 6) continue;
        int ce = ls[k].kind == VKN_LOSS_COUNT_ && k == 6, acc = ls[k].kind == VKN_LOSS_COUNT_ && !ce;
        vkn_tensor x, lab;
        VKN_TRY(R(b, &x, ls[k].n, ls[k].k, 0, 0, -2, 2));
        VKN_TRY(ids(b, &lab, ls[k].n, (int)ls[k].k));
        double n = (double)ls[k].n * ls[k].k;
        double bytes = acc ? 4.0 * (n + ls[k].n + 1) : 4.0 * (2 * n + (ce ? ls[k].n : 0) + 1), flops = ls[k].fpe * n;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor loss, dx;
            VKN_TRY(T(b, &loss, VKN_F32, 1, 0, 0, 0));
            VKN_TRY(T(b, &dx, VKN_F32, ls[k].n, ls[k].k, 0, 0));
            if (ce) VKN_TRY(vkn_op_softmax_ce(b->cmd, &x, &lab, 0.0f, &loss, &dx, NULL));
            else if (acc) VKN_TRY(vkn_op_accuracy(b->cmd, &x, &lab, &loss, NULL));
            else {
                vkn_loss_opts o = {.target_value = 1.0f};
                VKN_TRY(vkn_op_loss(b->cmd, ls[k].kind, &x, &loss, &dx, &o));
            }
        }
        snprintf(shape, sizeof shape, "%lldx%lld", (long long)ls[k].n, (long long)ls[k].k);
        VKN_TRY(finish(b, ls[k].name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* ---- optimizer, gradient norm, RNG, gradient reversal ---- */

/* parameter counts of the three models (weights and biases of every layer; the norms' affine
 * parameters are a few hundred more and left out) */
typedef struct model_params { const char *tag; int n; int64_t count[16]; int full; } model_params;

static const model_params models[] = {
    {"cgan-s", 10, {74 * 3136, 3136, 64 * 32 * 16, 32, 32 * 16, 1, 32 * 16, 32, 32 * 64 * 16, 64}, 0},
    {"cgan-b", 10, {74 * 6272, 6272, 128 * 64 * 16, 64, 64 * 16, 1, 64 * 16, 64, 64 * 128 * 16, 128}, 1},
    {"dann", 12, {3 * 32 * 25, 32, 32 * 48 * 25, 48, 768 * 100, 100, 100 * 100, 100, 100 * 10, 10, 768 * 100, 100}, 1},
};

static vkn_status ops_optim(bench_ctx *b, const model_params *m)
{
    /* contiguous parameters, gradients, Adam m and v: one span each, one dispatch (the fast path) */
    vkn_tensor t[4][16], span[4], step;
    VKN_TRY(step_tensor(b, &step));
    int64_t total = 0;
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < m->n; i++) VKN_TRY(T(b, &t[j][i], VKN_F32, m->count[i], 0, 0, 0));
    for (int i = 0; i < m->n; i++) total += m->count[i];
    for (int j = 0; j < 4; j++) VKN_TRY(vkn_optim_span(t[j], m->n, &span[j]));
    float *h = malloc((size_t)span[0].numel * sizeof *h);
    if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "bench ops: adam");
    for (int j = 0; j < 4; j++) {
        for (int64_t i = 0; i < span[j].numel; i++) h[i] = j == 3 ? frand(0, 1e-3f) : frand(-0.1f, 0.1f);
        vkn_status s = vkn_tensor_upload(&span[j], h);
        if (s != VKN_OK) { free(h); return s; }
    }
    free(h);
    char name[64], shape[48];
    double n = (double)span[0].numel;
    double bytes = 28.0 * n, flops = 14.0 * n;
    /* in place: the instances would be serialized by barriers, so one per submit */
    VKN_TRY(begin(b));
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0, .beta1 = 0.5f, .beta2 = 0.999f, .eps = 1e-8f};
    VKN_TRY(vkn_op_optim_step(b->cmd, &o, &step, &span[0], &span[1], &span[2], &span[3]));
    snprintf(name, sizeof name, "adam step, flat span (%s)", m->tag);
    snprintf(shape, sizeof shape, "%lld params, %d tensors", (long long)total, m->n);
    VKN_TRY(finish(b, name, shape, 1, bytes, flops));

    /* global gradient norm over the model's gradient tensors (per-tensor partials, one fold) */
    VKN_TRY(step_tensor(b, &step));
    vkn_tensor g[16];
    const vkn_tensor *gp[16];
    for (int i = 0; i < m->n; i++) {
        VKN_TRY(R(b, &g[i], m->count[i], 0, 0, 0, -0.1f, 0.1f));
        gp[i] = &g[i];
    }
    bytes = 4.0 * (double)total;
    flops = 2.0 * (double)total;
    int inner = pick_inner(b, bytes, flops);
    VKN_TRY(begin(b));
    for (int i = 0; i < inner; i++) {
        vkn_tensor out;
        VKN_TRY(T(b, &out, VKN_F32, 1, 0, 0, 0));
        VKN_TRY(vkn_op_grad_norm(b->cmd, gp, m->n, &out));
    }
    snprintf(name, sizeof name, "grad norm (%s)", m->tag);
    VKN_TRY(finish(b, name, shape, inner, bytes, flops));
    return VKN_OK;
}

static vkn_status ops_random(bench_ctx *b)
{
    static const struct { const char *name; int what; int64_t d[4]; int full; } rs[] = {
        {"rand normal (cgan z)", 0, {64, 64, 0, 0}, 0},
        {"rand labels (cgan fake y)", 1, {64, 0, 0, 0}, 0},
        {"rand normal (bulk)", 0, {64, 32, 14, 14}, 1},
        {"rand uniform (bulk)", 2, {64, 32, 14, 14}, 1},
        {"dropout fwd p=0.5 (fc)", 3, {64, 100, 0, 0}, 1},
        {"dropout bwd (fc)", 4, {64, 100, 0, 0}, 1},
        {"grad reverse (dann features)", 5, {64, 768, 0, 0}, 0},
    };
    char shape[48];
    for (size_t k = 0; k < sizeof rs / sizeof *rs; k++) {
        if (b->opts.quick && rs[k].full) continue;
        vkn_tensor x, step;
        VKN_TRY(R(b, &x, rs[k].d[0], rs[k].d[1], rs[k].d[2], rs[k].d[3], -1, 1));
        VKN_TRY(step_tensor(b, &step));
        double n = (double)x.numel;
        int w = rs[k].what;
        /* Philox is integer work: no FLOPs counted; dropout fwd writes y and the mask */
        double bytes = w <= 2 ? 4.0 * n : w == 3 ? 12.0 * n : 12.0 * n, flops = w >= 3 ? n : 0;
        int inner = pick_inner(b, bytes, flops);
        VKN_TRY(begin(b));
        for (int i = 0; i < inner; i++) {
            vkn_tensor y, mask;
            vkn_rng rng = {.seed = 1234, .stream = (uint32_t)i};
            VKN_TRY(T(b, &y, w == 1 ? VKN_I32 : VKN_F32, rs[k].d[0], rs[k].d[1], rs[k].d[2], rs[k].d[3]));
            switch (w) {
            case 0: VKN_TRY(vkn_op_rand_normal(b->cmd, &step, rng, 0, 1, &y)); break;
            case 1: VKN_TRY(vkn_op_rand_labels(b->cmd, &step, rng, 10, &y)); break;
            case 2: VKN_TRY(vkn_op_rand_uniform(b->cmd, &step, rng, -1, 1, &y)); break;
            case 3:
                VKN_TRY(T(b, &mask, VKN_F32, rs[k].d[0], rs[k].d[1], 0, 0));
                VKN_TRY(vkn_op_dropout(b->cmd, &step, rng, 0.5f, &x, &mask, &y));
                break;
            case 4: VKN_TRY(vkn_op_dropout_backward(b->cmd, &x, &x, &y)); break;
            default: VKN_TRY(vkn_op_grad_reverse(b->cmd, &step, &x, &y)); break;
            }
        }
        shape4(shape, sizeof shape, &x);
        VKN_TRY(finish(b, rs[k].name, shape, inner, bytes, flops));
    }
    return VKN_OK;
}

/* A copy of one activation's size (64x32x14x14, 1.6 MB): where the probe's 32 MiB copy streams from
 * memory, this one may stay in the caches; ops of this size read against it (their ratio over this
 * row's) show how far each is from a plain copy of the same data. */
static vkn_status ops_copy_ref(bench_ctx *b)
{
    vkn_tensor x, out[8];
    VKN_TRY(R(b, &x, 64, 32, 14, 14, -1, 1));
    double bytes = 8.0 * (double)x.numel;
    int inner = pick_inner(b, bytes, 0);
    VKN_TRY(begin(b));
    for (int i = 0; i < inner; i++) {
        VKN_TRY(T(b, &out[i], VKN_F32, 64, 32, 14, 14));
        VKN_TRY(vkn_op_copy(b->cmd, &x, &out[i]));
    }
    return finish(b, "copy (reference at an activation's size)", "64x32x14x14", inner, bytes, 0);
}

vkn_status bench_suite_ops(bench_ctx *b)
{
    VKN_TRY(ops_copy_ref(b));
    for (size_t i = 0; i < sizeof act_layers / sizeof *act_layers; i++)
        if (!b->opts.quick || !act_layers[i].full) VKN_TRY(ops_act(b, &act_layers[i]));
    VKN_TRY(ops_unary_kinds(b));
    VKN_TRY(ops_binary(b));
    VKN_TRY(ops_reduce(b));
    for (size_t i = 0; i < sizeof conv_layers / sizeof *conv_layers; i++)
        if (!b->opts.quick || !conv_layers[i].full) VKN_TRY(ops_conv(b, &conv_layers[i]));
    for (size_t i = 0; i < sizeof fc_layers / sizeof *fc_layers; i++)
        if (!b->opts.quick || !fc_layers[i].full) VKN_TRY(ops_linear(b, &fc_layers[i]));
    VKN_TRY(ops_pool(b, 0, 64, 32, 24, 24, "dann pool1"));
    if (!b->opts.quick) {
        VKN_TRY(ops_pool(b, 0, 64, 48, 8, 8, "dann pool2"));
        VKN_TRY(ops_pool(b, 1, 64, 32, 24, 24, "dann pool1 as avg"));
    }
    VKN_TRY(ops_embed(b, 3136, "cgan-s D.proj"));
    if (!b->opts.quick) VKN_TRY(ops_embed(b, 6272, "cgan-b D.proj"));
    VKN_TRY(ops_onehot_concat(b));
    VKN_TRY(ops_losses(b));
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        if (!b->opts.quick || !models[i].full) VKN_TRY(ops_optim(b, &models[i]));
    VKN_TRY(ops_random(b));
    vkn_arena_reset(b->arena);
    return VKN_OK;
}

/* ---- the slowest list ---- */

typedef struct slow_row { int i; double ratio; } slow_row;

static int cmp_slow(const void *a, const void *b)
{
    double x = ((const slow_row *)a)->ratio, y = ((const slow_row *)b)->ratio;
    return x < y ? -1 : x > y;
}

static void print_load(FILE *f)
{
    /* CPU devices share the host's cores: a busy host shows in every number (and in the spread) */
    double load[1];
    FILE *la = fopen("/proc/loadavg", "r");
    if (la && fscanf(la, "%lf", &load[0]) == 1)
        fprintf(f, "host load average %.2f on %ld CPUs at the end of the run%s\n", load[0], sysconf(_SC_NPROCESSORS_ONLN),
                load[0] > 0.75 * (double)sysconf(_SC_NPROCESSORS_ONLN)
                    ? ": the host was busy, expect wide min-max spreads and slower medians (CPU devices, host timing)"
                    : "");
    if (la) fclose(la);
}

void bench_print_slowest(FILE *f, const bench_ctx *b, int count)
{
    slow_row *rows = malloc((size_t)(b->nresults + 1) * sizeof *rows);
    if (!rows) return;
    int n = 0;
    double disp_us = 0, submit_us = 0;
    for (int i = 0; i < b->nresults; i++) {
        const bench_result *r = &b->results[i];
        if (!strcmp(r->suite, "probe") && !strcmp(r->name, "dispatch latency")) disp_us = r->median_us;
        if (!strcmp(r->suite, "probe") && !strcmp(r->name, "submit+wait latency")) submit_us = r->median_us;
        /* fractions of the probe's roofline only (not ratios to a peer) */
        if (r->ratio > 0 && (!strcmp(r->ratio_what, "of copy") || !strcmp(r->ratio_what, "of FMA peak")))
            rows[n++] = (slow_row){i, r->ratio};
    }
    if (!n) { free(rows); print_load(f); return; }
    qsort(rows, (size_t)n, sizeof *rows, cmp_slow);
    /* launch-bound: the median is within 2x of what its dispatches cost when empty (the probe's
     * one-dispatch submit once per submit, then the per-dispatch latency): the op is too small at
     * this shape for its kernel's speed to show */
    int *launch = calloc((size_t)n, sizeof *launch);
    if (!launch) { free(rows); return; }
    int nkern = 0, nlaunch = 0;
    for (int k = 0; k < n; k++) {
        const bench_result *r = &b->results[rows[k].i];
        int inner, d = disp_lookup(r, &inner);
        double floor_us = d > 0 ? (submit_us + ((double)inner * d - 1) * disp_us) / inner : 0;
        launch[k] = d > 0 && disp_us > 0 && r->median_us <= 2.0 * floor_us;
        if (launch[k]) nlaunch++;
        else nkern++;
    }
    if (count > nkern) count = nkern;
    fprintf(f, "\nslowest kernels: the %d lowest fractions of the roofline of %d tests (lost = median - roofline time)\n",
            count, nkern);
    fprintf(f, "| %5s | %-6s | %-40s | %-28s | %10s | %10s | %4s | %-14s |\n", "frac", "suite", "test", "shape",
            "median us", "lost us", "disp", "bound by");
    fprintf(f, "|------:|--------|------------------------------------------|------------------------------|-----------:|"
               "-----------:|-----:|----------------|\n");
    for (int k = 0, shown = 0; k < n && shown < count; k++) {
        if (launch[k]) continue;
        const bench_result *r = &b->results[rows[k].i];
        int inner, d = disp_lookup(r, &inner);
        char ds[12] = "";
        if (d > 0) snprintf(ds, sizeof ds, "%d", d);
        /* a median far above the best run: the host or the device was busy during this test */
        int noisy = r->min_us > 0 && r->median_us > 3.0 * r->min_us;
        fprintf(f, "| %5.3f | %-6s | %-40s | %-28s | %10.1f | %10.1f | %4s | %-8s%-6s |\n", r->ratio, r->suite, r->name,
                r->shape, r->median_us, r->median_us - r->ratio * r->median_us, ds,
                strcmp(r->ratio_what, "of copy") ? "FMA peak" : "copy", noisy ? " noisy" : "");
        shown++;
    }
    if (nlaunch) {
        fprintf(f, "launch-bound at these shapes (median within 2x of the dispatch cost: %.1f us per submit, %.1f us per"
                   " dispatch):", submit_us, disp_us);
        for (int k = 0, m = 0; k < n; k++)
            if (launch[k]) fprintf(f, "%s %s [%s]", m++ ? "," : "", b->results[rows[k].i].name, b->results[rows[k].i].shape);
        fputc('\n', f);
    }
    free(launch);
    free(rows);
    print_load(f);
}
