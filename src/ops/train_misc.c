/* Small training ops: global gradient norm, non-finite check (for the NaN guard), scale by a step
 * value (gradient reversal), and the shared second-stage fold. Launchers and references. */
#include "vkn/optim.h"
#include "ops/ref_train.h"
#include "ops/train_launch.h"

#include <math.h>

vkn_status vkn_train_finish(vkn_cmd *c, uint32_t mode, int accumulate, float scale, const vkn_tensor *part,
                            uint32_t m, const vkn_tensor *out, const char *label)
{
    struct { uint32_t m; float scale; } pc = {m, scale};
    vkn_dispatch d = {.shader = "optim/finish", .label = label, .spec = {mode, (uint32_t)(accumulate != 0)}, .nspec = 2,
                      .bind = {out}, .nbind = 1, .write_mask = 1, .texel = {part}, .ntexel = 1,
                      .push = &pc, .push_bytes = sizeof pc};
    return vkn_cmd_dispatch(c, &d);
}

#define SLOT_ALIGN 64   /* floats: each tensor's partials start 256-byte aligned (any storage offset alignment) */

/* stage 1 per tensor into one partials buffer, then one fold */
static vkn_status chunked(vkn_cmd *c, const char *name, uint32_t mode, uint32_t finish_mode,
                          const vkn_tensor *const *t, int n, const vkn_tensor *out)
{
    if (!t || n < 1) return vkn_status_set(VKN_ERR_ARG, "%s: no tensors", name);
    if (!vkn_is_f32(out) || out->numel != 1) return vkn_status_set(VKN_ERR_SHAPE, "%s: output must be f32 [1]", name);
    uint32_t len[256], chunks[256], slots[256];
    if (n > 256) return vkn_status_set(VKN_ERR_ARG, "%s: at most 256 tensors (make a span of contiguous ones)", name);
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (!vkn_is_f32(t[i]) || t[i]->numel < 1 || t[i]->numel > 0x7fffffff)
            return vkn_status_set(VKN_ERR_ARG, "%s: tensor %d is not a non-empty f32 tensor", name, i);
        uint32_t ne = (uint32_t)t[i]->numel, l = (ne + 1023) / 1024;
        l = (l + 3) / 4 * 4;
        if (l < 64) l = 64;
        len[i] = l;
        chunks[i] = (ne + l - 1) / l;
        slots[i] = (chunks[i] + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
        total += slots[i];
    }
    vkn_tensor part;
    VKN_TRY(vkn_cmd_scratch(c, VKN_F32, (int64_t)total, &part));
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        vkn_tensor sub = part;
        sub.offset += at * 4;
        sub.numel = sub.shape[0] = slots[i];
        sub.bytes = (uint64_t)slots[i] * 4;
        at += slots[i];
        vkn_tensor xv = vkn_pad16(t[i]);
        struct { uint32_t n, len, chunks, slots; } pc = {(uint32_t)t[i]->numel, len[i], chunks[i], slots[i]};
        vkn_dispatch d = {.shader = "optim/partial", .label = name, .spec = {mode}, .nspec = 1, .bind = {&sub},
                          .nbind = 1, .write_mask = 1, .texel = {&xv}, .ntexel = 1, .texel_vec4_mask = 1,
                          .push = &pc, .push_bytes = sizeof pc};
        vkn_grid_1d(slots[i], 64, d.groups);
        VKN_TRY(vkn_cmd_dispatch(c, &d));
    }
    return vkn_train_finish(c, finish_mode, 0, 1.0f, &part, (uint32_t)total, out, name);
}

vkn_status vkn_op_grad_norm(vkn_cmd *c, const vkn_tensor *const *grads, int n, const vkn_tensor *out)
{
    return chunked(c, "grad_norm", 0, VKN_FINISH_SQRT, grads, n, out);
}

vkn_status vkn_op_check_finite(vkn_cmd *c, const vkn_tensor *const *t, int n, const vkn_tensor *flag)
{
    return chunked(c, "check_finite", 1, VKN_FINISH_ANY, t, n, flag);
}

vkn_status vkn_op_scale_by_step(vkn_cmd *c, const vkn_tensor *step, uint32_t slot, float factor, const vkn_tensor *x,
                                const vkn_tensor *y)
{
    if (!vkn_is_f32(step) || slot >= step->numel) return vkn_status_set(VKN_ERR_ARG, "scale_by_step: bad step tensor or slot %u", slot);
    if (!vkn_is_f32(x) || !vkn_is_f32(y) || x->numel != y->numel || x->numel < 1)
        return vkn_status_set(VKN_ERR_SHAPE, "scale_by_step: x and y must be f32 with the same element count");
    struct { uint32_t n, slot; float factor; } pc = {(uint32_t)x->numel, slot, factor};
    vkn_tensor xv = vkn_pad16(x);
    vkn_dispatch d = {.shader = "optim/scale_step", .label = "scale_by_step", .bind = {y, step}, .nbind = 2,
                      .write_mask = 1, .texel = {&xv}, .ntexel = 1, .texel_vec4_mask = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)x->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_grad_reverse(vkn_cmd *c, const vkn_tensor *step, const vkn_tensor *dy, const vkn_tensor *dx)
{
    return vkn_op_scale_by_step(c, step, VKN_STEP_LAMBDA, -1.0f, dy, dx);
}

/* ---- references ---- */

double vkn_ref_sumsq(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

int vkn_ref_any_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 1;
    return 0;
}
