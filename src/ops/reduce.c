/* Reductions (sum, mean, max) over any set of axes; launcher and reference.
 * One launch folds each output's reduced elements in fixed-size chunks; when an output has many
 * elements and there are few outputs, a second launch folds the chunk partials (fixed order, no
 * atomics: results are reproducible). */
#include "vkn/ops.h"
#include "ops/launch.h"
#include "ops/ref.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *reduce_names[] = {"sum", "mean", "max"};
const char *vkn_reduce_name(vkn_reduce op) { return (unsigned)op < VKN_REDUCE_COUNT_ ? reduce_names[op] : "?"; }

typedef struct reduce_pc {
    uint32_t n_out, n_red, chunks, len;
    uint32_t kshape[4], kstride[4], rshape[4], rstride[4];
    float scale;
} reduce_pc;

/* Reduced elements are contiguous (offset = base + i) when every reduced axis is inner to every kept one. */
static uint32_t contiguous(const reduce_pc *pc)
{
    int seen_kept = 0;
    for (int d = 3; d >= 0; d--) {
        if (pc->kshape[d] > 1) seen_kept = 1;
        else if (pc->rshape[d] > 1 && seen_kept) return 0;
    }
    return 1;
}

static vkn_status launch(vkn_cmd *c, uint32_t op, const vkn_tensor *x, const vkn_tensor *y, const reduce_pc *pc,
                         const char *label)
{
    vkn_dispatch d = {.shader = "reduce/reduce", .label = label, .spec = {op, contiguous(pc)}, .nspec = 2,
                      .bind = {y}, .nbind = 1, .write_mask = 1, .texel = {x}, .ntexel = 1,
                      .push = pc, .push_bytes = sizeof *pc};
    vkn_grid_1d((uint64_t)pc->n_out * pc->chunks, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_reduce(vkn_cmd *c, vkn_reduce op, const vkn_tensor *x, uint32_t axes_mask, const vkn_tensor *y)
{
    char bx[64], by[64];
    if ((unsigned)op >= VKN_REDUCE_COUNT_) return vkn_status_set(VKN_ERR_ARG, "reduce: unknown op %d", (int)op);
    if (!vkn_is_f32(x) || !vkn_is_f32(y)) return vkn_status_set(VKN_ERR_ARG, "reduce %s: x and y must be f32", reduce_names[op]);
    if (axes_mask == 0 || (axes_mask >> x->ndim) != 0)
        return vkn_status_set(VKN_ERR_ARG, "reduce %s: axes mask 0x%x does not name axes of a %d-D tensor",
                              reduce_names[op], axes_mask, x->ndim);
    reduce_pc pc = {0};
    int64_t stride = 1, n_out = 1, n_red = 1;
    for (int i = 3; i >= 0; i--) {
        int ax = i - (4 - x->ndim);           /* axis of x, or <0 for padding */
        int64_t s = ax >= 0 ? x->shape[ax] : 1;
        int red = ax >= 0 && ((axes_mask >> ax) & 1);
        pc.kshape[i] = red ? 1 : (uint32_t)s;
        pc.kstride[i] = (uint32_t)stride;
        pc.rshape[i] = red ? (uint32_t)s : 1;
        pc.rstride[i] = (uint32_t)stride;
        stride *= s;
        if (red) n_red *= s; else n_out *= s;
    }
    if (y->numel != n_out)
        return vkn_status_set(VKN_ERR_SHAPE, "reduce %s: x %s reduced over mask 0x%x has %lld outputs, y is %s",
                              reduce_names[op], vkn_tensor_shape_str(x, bx, sizeof bx), axes_mask, (long long)n_out,
                              vkn_tensor_shape_str(y, by, sizeof by));
    pc.n_out = (uint32_t)n_out;
    pc.n_red = (uint32_t)n_red;
    /* enough invocations to fill the device: split long reductions into chunks of >= 64 */
    int64_t chunks = (4096 + n_out - 1) / n_out;
    int64_t max_chunks = (n_red + 63) / 64;
    if (chunks > max_chunks) chunks = max_chunks;
    if (chunks < 1) chunks = 1;
    pc.len = (uint32_t)((n_red + chunks - 1) / chunks);
    pc.chunks = (uint32_t)((n_red + pc.len - 1) / pc.len);
    float final_scale = op == VKN_REDUCE_MEAN ? (float)(1.0 / (double)n_red) : 1.0f;
    uint32_t first_op = op == VKN_REDUCE_MAX ? 2 : 0;
    if (pc.chunks == 1) {
        pc.scale = final_scale;
        return launch(c, first_op, x, y, &pc, reduce_names[op]);
    }
    vkn_tensor part;
    VKN_TRY(vkn_cmd_scratch(c, VKN_F32, (int64_t)pc.n_out * pc.chunks, &part));
    pc.scale = 1.0f;
    VKN_TRY(launch(c, first_op, x, &part, &pc, reduce_names[op]));
    /* second launch: partials are [O, chunks]; kept axis O (stride chunks), reduced axis chunks (stride 1) */
    reduce_pc pc2 = {.n_out = pc.n_out, .n_red = pc.chunks, .chunks = 1, .len = pc.chunks, .scale = final_scale,
                     .kshape = {1, 1, pc.n_out, 1}, .kstride = {0, 0, pc.chunks, 0},
                     .rshape = {1, 1, 1, pc.chunks}, .rstride = {0, 0, 0, 1}};
    return launch(c, first_op, &part, y, &pc2, "reduce-partials");
}

void vkn_ref_reduce(vkn_reduce op, const float *x, int ndim, const int64_t *shape, uint32_t axes_mask, float *y)
{
    int64_t s[4] = {1, 1, 1, 1};
    int red[4] = {0, 0, 0, 0};
    for (int i = 0; i < ndim; i++) {
        s[4 - ndim + i] = shape[i];
        red[4 - ndim + i] = (axes_mask >> i) & 1;
    }
    int64_t ko[4], nout = 1, nred = 1;   /* output strides over kept dims */
    for (int i = 3; i >= 0; i--) {
        ko[i] = red[i] ? 0 : nout;
        if (red[i]) nred *= s[i]; else nout *= s[i];
    }
    /* accumulate in double per output, then store */
    double *sum = malloc((size_t)nout * sizeof *sum);
    if (!sum) { for (int64_t o = 0; o < nout; o++) y[o] = NAN; return; }
    for (int64_t o = 0; o < nout; o++) sum[o] = op == VKN_REDUCE_MAX ? -DBL_MAX : 0.0;
    int64_t idx = 0;
    for (int64_t i0 = 0; i0 < s[0]; i0++)
        for (int64_t i1 = 0; i1 < s[1]; i1++)
            for (int64_t i2 = 0; i2 < s[2]; i2++)
                for (int64_t i3 = 0; i3 < s[3]; i3++, idx++) {
                    int64_t o = i0 * ko[0] + i1 * ko[1] + i2 * ko[2] + i3 * ko[3];
                    double v = x[idx];
                    if (op == VKN_REDUCE_MAX) { if (v > sum[o] || isnan(v)) sum[o] = v; }
                    else sum[o] += v;
                }
    for (int64_t o = 0; o < nout; o++) y[o] = (float)(op == VKN_REDUCE_MEAN ? sum[o] / (double)nred : sum[o]);
    free(sum);
}
