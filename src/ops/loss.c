/* Losses (BCE with logits, GAN hinge, MSE, softmax cross-entropy) and classification accuracy:
 * launchers and references. One dispatch when a single invocation can fold everything (<= 256
 * elements or rows); else per-chunk partials and a second tiny launch (fixed order, no atomics). */
#include "vkn/loss.h"
#include "ops/ref_train.h"
#include "ops/train_launch.h"

#include <math.h>
#include <stdlib.h>

static const char *loss_names[] = {"bce_logits", "hinge_real", "hinge_fake", "hinge_gen", "mse"};
const char *vkn_loss_name(vkn_loss_kind k) { return (unsigned)k < VKN_LOSS_COUNT_ ? loss_names[k] : "?"; }

#define DIRECT_MAX 256   /* elements (or rows) one invocation folds without a second launch */

static int is_i32(const vkn_tensor *t) { return t && t->dtype == VKN_I32 && t->buffer; }

static vkn_status check_loss_out(const char *what, const vkn_tensor *loss, const vkn_tensor *dx, int64_t n)
{
    if (!loss && !dx) return vkn_status_set(VKN_ERR_ARG, "%s: neither loss nor gradient requested", what);
    if (loss && (!vkn_is_f32(loss) || loss->numel != 1))
        return vkn_status_set(VKN_ERR_SHAPE, "%s: loss must be an f32 tensor of one element", what);
    if (dx && (!vkn_is_f32(dx) || dx->numel != n))
        return vkn_status_set(VKN_ERR_SHAPE, "%s: gradient must be f32 with %lld elements", what, (long long)n);
    return VKN_OK;
}

vkn_status vkn_op_loss(vkn_cmd *c, vkn_loss_kind kind, const vkn_tensor *x, const vkn_tensor *loss,
                       const vkn_tensor *dx, const vkn_loss_opts *opts)
{
    vkn_loss_opts o = opts ? *opts : (vkn_loss_opts){0};
    if ((unsigned)kind >= VKN_LOSS_COUNT_) return vkn_status_set(VKN_ERR_ARG, "loss: unknown kind %d", (int)kind);
    const char *name = loss_names[kind];
    if (!vkn_is_f32(x) || x->numel < 1) return vkn_status_set(VKN_ERR_ARG, "loss %s: x must be a non-empty f32 tensor", name);
    VKN_TRY(check_loss_out(name, loss, dx, x->numel));
    if (o.target && (!vkn_is_f32(o.target) || o.target->numel != x->numel))
        return vkn_status_set(VKN_ERR_SHAPE, "loss %s: targets must be f32 with x's %lld elements", name, (long long)x->numel);
    if (x->numel > 0x7fffffff) return vkn_status_set(VKN_ERR_SHAPE, "loss %s: too many elements", name);
    float scale = o.scale != 0.0f ? o.scale : 1.0f;
    uint32_t n = (uint32_t)x->numel;
    uint32_t len, chunks;
    if (!loss) { len = 4; chunks = (n + 3) / 4; }
    else if (n <= DIRECT_MAX) { len = (n + 3) / 4 * 4; chunks = 1; }
    else {
        len = (n + 2047) / 2048;
        len = (len + 3) / 4 * 4;
        if (len < 64) len = 64;
        chunks = (n + len - 1) / len;
    }
    int direct = loss && chunks == 1;
    vkn_tensor part = {0};
    if (loss && !direct) VKN_TRY(vkn_cmd_scratch(c, VKN_F32, chunks, &part));
    const vkn_tensor *out = direct ? loss : loss ? &part : dx;
    const vkn_tensor *dxb = dx ? dx : out;
    struct { uint32_t n, len, chunks; float tval, gscale, lscale; } pc = {
        n, len, chunks, o.target_value, (float)(scale / (double)n), (float)(scale / (double)n)};
    vkn_tensor xv = vkn_pad16(x), tv = vkn_pad16(o.target ? o.target : x);
    vkn_dispatch d = {.shader = "loss/elem", .label = name,
                      .spec = {(uint32_t)kind, o.target != NULL, dx != NULL, loss != NULL, (uint32_t)direct,
                               (uint32_t)(o.accumulate != 0)},
                      .nspec = 6, .bind = {dxb, out}, .nbind = 2,
                      .write_mask = (dx ? 1u : 0u) | (loss ? 2u : 0u),
                      .texel = {&xv, &tv}, .ntexel = 2, .texel_vec4_mask = 3, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(chunks, 64, d.groups);
    VKN_TRY(vkn_cmd_dispatch(c, &d));
    if (loss && !direct)
        return vkn_train_finish(c, VKN_FINISH_SUM, o.accumulate, pc.lscale, &part, chunks, loss, "loss-partials");
    return VKN_OK;
}

/* rows per invocation for row-wise kernels: one invocation when small, else enough to fill the device */
static void row_chunks(uint32_t n, uint32_t k, int want_fold, uint32_t *rows, uint32_t *chunks)
{
    if (want_fold && (uint64_t)n * k <= 4096 && n <= DIRECT_MAX) { *rows = n; *chunks = 1; return; }
    uint32_t r = (n + 1023) / 1024;
    *rows = r < 1 ? 1 : r;
    *chunks = (n + *rows - 1) / *rows;
}

static vkn_status check_rows(const char *what, const vkn_tensor *x, const vkn_tensor *labels)
{
    if (!vkn_is_f32(x) || x->ndim != 2 || x->numel < 1)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: x must be a non-empty f32 [N, K] tensor", what);
    if (labels && (!is_i32(labels) || labels->numel != x->shape[0]))
        return vkn_status_set(VKN_ERR_SHAPE, "%s: labels must be i32 with %lld elements", what, (long long)x->shape[0]);
    return VKN_OK;
}

vkn_status vkn_op_softmax_ce(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *labels, float smoothing,
                             const vkn_tensor *loss, const vkn_tensor *dx, const vkn_loss_opts *opts)
{
    vkn_loss_opts o = opts ? *opts : (vkn_loss_opts){0};
    VKN_TRY(check_rows("softmax_ce", x, labels));
    if (!labels) return vkn_status_set(VKN_ERR_ARG, "softmax_ce: labels required");
    VKN_TRY(check_loss_out("softmax_ce", loss, dx, x->numel));
    if (!(smoothing >= 0.0f && smoothing < 1.0f)) return vkn_status_set(VKN_ERR_ARG, "softmax_ce: smoothing %g not in [0, 1)", smoothing);
    uint32_t n = (uint32_t)x->shape[0], k = (uint32_t)x->shape[1], rows, chunks;
    row_chunks(n, k, loss != NULL, &rows, &chunks);
    int direct = loss && chunks == 1;
    float scale = o.scale != 0.0f ? o.scale : 1.0f;
    vkn_tensor part = {0};
    if (loss && !direct) VKN_TRY(vkn_cmd_scratch(c, VKN_F32, chunks, &part));
    const vkn_tensor *out = direct ? loss : loss ? &part : dx;
    const vkn_tensor *dxb = dx ? dx : out;
    struct { uint32_t n, k, rows, chunks; float smooth, gscale, lscale; } pc = {
        n, k, rows, chunks, smoothing, (float)(scale / (double)n), (float)(scale / (double)n)};
    vkn_dispatch d = {.shader = "loss/softmax_ce", .label = "softmax_ce",
                      .spec = {dx != NULL, loss != NULL, (uint32_t)direct, (uint32_t)(o.accumulate != 0)}, .nspec = 4,
                      .bind = {dxb, out, labels}, .nbind = 3, .write_mask = (dx ? 1u : 0u) | (loss ? 2u : 0u),
                      .texel = {x}, .ntexel = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(chunks, 64, d.groups);
    VKN_TRY(vkn_cmd_dispatch(c, &d));
    if (loss && !direct)
        return vkn_train_finish(c, VKN_FINISH_SUM, o.accumulate, pc.lscale, &part, chunks, loss, "softmax_ce-partials");
    return VKN_OK;
}

static vkn_status argmax(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *labels, const vkn_tensor *acc,
                         const vkn_tensor *idx)
{
    uint32_t n = (uint32_t)x->shape[0], k = (uint32_t)x->shape[1], rows, chunks;
    row_chunks(n, k, acc != NULL, &rows, &chunks);
    int direct = acc && chunks == 1;
    vkn_tensor part = {0};
    if (acc && !direct) VKN_TRY(vkn_cmd_scratch(c, VKN_F32, chunks, &part));
    const vkn_tensor *out = direct ? acc : acc ? &part : idx;
    const vkn_tensor *ib = idx ? idx : out;
    const vkn_tensor *lb = labels ? labels : ib;
    struct { uint32_t n, k, rows, chunks; float lscale; } pc = {n, k, rows, chunks, (float)(1.0 / n)};
    vkn_dispatch d = {.shader = "loss/argmax", .label = acc ? "accuracy" : "argmax",
                      .spec = {idx != NULL, acc != NULL, (uint32_t)direct}, .nspec = 3,
                      .bind = {ib, out, lb}, .nbind = 3, .write_mask = (idx ? 1u : 0u) | (acc ? 2u : 0u),
                      .texel = {x}, .ntexel = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(chunks, 64, d.groups);
    VKN_TRY(vkn_cmd_dispatch(c, &d));
    if (acc && !direct) return vkn_train_finish(c, VKN_FINISH_SUM, 0, pc.lscale, &part, chunks, acc, "accuracy-partials");
    return VKN_OK;
}

vkn_status vkn_op_argmax_rows(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *idx)
{
    VKN_TRY(check_rows("argmax_rows", x, NULL));
    if (!is_i32(idx) || idx->numel != x->shape[0])
        return vkn_status_set(VKN_ERR_SHAPE, "argmax_rows: idx must be i32 with %lld elements", (long long)x->shape[0]);
    return argmax(c, x, NULL, NULL, idx);
}

vkn_status vkn_op_accuracy(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *labels, const vkn_tensor *acc,
                           const vkn_tensor *idx)
{
    VKN_TRY(check_rows("accuracy", x, labels));
    if (!labels) return vkn_status_set(VKN_ERR_ARG, "accuracy: labels required");
    if (!vkn_is_f32(acc) || acc->numel != 1) return vkn_status_set(VKN_ERR_SHAPE, "accuracy: acc must be f32 [1]");
    if (idx && (!is_i32(idx) || idx->numel != x->shape[0]))
        return vkn_status_set(VKN_ERR_SHAPE, "accuracy: idx must be i32 with %lld elements", (long long)x->shape[0]);
    return argmax(c, x, labels, acc, idx);
}

/* ---- references ---- */

double vkn_ref_loss1(vkn_loss_kind kind, double x, double t, double *grad)
{
    double l, g;
    switch (kind) {
    case VKN_LOSS_BCE_LOGITS: {
        double e = exp(-fabs(x));
        l = (x > 0 ? x : 0) - x * t + log1p(e);
        g = (x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e)) - t;
        break;
    }
    /* relu keeps a NaN; relu' is 0 where its argument is <= 0 (PyTorch), so a NaN x passes the gradient */
    case VKN_LOSS_HINGE_REAL: l = isnan(x) ? x : 1 - x > 0 ? 1 - x : 0; g = x >= 1 ? 0 : -1; break;
    case VKN_LOSS_HINGE_FAKE: l = isnan(x) ? x : 1 + x > 0 ? 1 + x : 0; g = x <= -1 ? 0 : 1; break;
    case VKN_LOSS_HINGE_GEN: l = -x; g = -1; break;
    default: l = (x - t) * (x - t); g = 2 * (x - t); break;
    }
    if (grad) *grad = g;
    return l;
}

double vkn_ref_loss(vkn_loss_kind kind, const float *x, const float *t, float tval, int64_t n, double scale,
                    float *dx)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double g;
        sum += vkn_ref_loss1(kind, x[i], t ? t[i] : tval, &g);
        if (dx) dx[i] = (float)(scale / (double)n * g);
    }
    return scale * sum / (double)n;
}

double vkn_ref_softmax_ce(const float *x, const int32_t *labels, int64_t n, int64_t k, double smoothing, double scale,
                          float *dx)
{
    double sum = 0, on = 1 - smoothing, off = smoothing / (double)k;
    for (int64_t r = 0; r < n; r++) {
        const float *row = x + r * k;
        double mx = -INFINITY, se = 0, dot = 0;
        for (int64_t j = 0; j < k; j++) mx = row[j] > mx ? row[j] : mx;
        for (int64_t j = 0; j < k; j++) se += exp(row[j] - mx);
        double lse = mx + log(se);
        int32_t y = labels[r];
        int ok = y >= 0 && y < k;
        for (int64_t j = 0; j < k; j++) dot += (off + (j == y ? on : 0)) * row[j];
        sum += ok ? lse - dot : NAN;
        if (dx)
            for (int64_t j = 0; j < k; j++)
                dx[r * k + j] = ok ? (float)(scale / (double)n * (exp(row[j] - lse) - (off + (j == y ? on : 0)))) : NAN;
    }
    return scale * sum / (double)n;
}

double vkn_ref_accuracy(const float *x, const int32_t *labels, int64_t n, int64_t k, int32_t *idx)
{
    int64_t hit = 0;
    for (int64_t r = 0; r < n; r++) {
        int32_t best = 0;
        for (int64_t j = 1; j < k; j++)
            if (x[r * k + j] > x[r * k + best]) best = (int32_t)j;
        if (idx) idx[r] = best;
        if (labels && labels[r] == best) hit++;
    }
    return (double)hit / (double)n;
}
