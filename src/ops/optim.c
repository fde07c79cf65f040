/* Optimizers (SGD with momentum, Adam, AdamW) on the device: one dispatch per parameter tensor or per
 * contiguous span of many; the learning rate and step count come from the step tensor. Host-side
 * learning-rate schedules and step-tensor writes. Launchers and references. */
#include "vkn/optim.h"
#include "ops/ref_train.h"
#include "ops/train_launch.h"

#include <math.h>
#include <string.h>

static const char *optim_names[] = {"sgd", "adam", "adamw"};
const char *vkn_optim_name(vkn_optim_kind k) { return (unsigned)k < VKN_OPTIM_COUNT_ ? optim_names[k] : "?"; }

static vkn_optim_opts defaults(const vkn_optim_opts *o)
{
    vkn_optim_opts d = *o;
    if (d.beta1 == 0.0f && d.beta2 == 0.0f && d.eps == 0.0f) { d.beta1 = 0.9f; d.beta2 = 0.999f; d.eps = 1e-8f; }
    if (d.grad_scale == 0.0f) d.grad_scale = 1.0f;
    return d;
}

int vkn_optim_state_count(const vkn_optim_opts *o)
{
    if (!o) return 0;
    if (o->kind == VKN_OPTIM_SGD) return o->momentum != 0.0f ? 1 : 0;
    return 2;
}

static int is_step(const vkn_tensor *s) { return vkn_is_f32(s) && s->numel >= VKN_STEP_COUNT; }

vkn_status vkn_op_optim_step(vkn_cmd *c, const vkn_optim_opts *opts, const vkn_tensor *step, const vkn_tensor *param,
                             const vkn_tensor *grad, const vkn_tensor *s1, const vkn_tensor *s2)
{
    if (!opts || (unsigned)opts->kind >= VKN_OPTIM_COUNT_) return vkn_status_set(VKN_ERR_ARG, "optim: bad options");
    vkn_optim_opts o = defaults(opts);
    const char *name = optim_names[o.kind];
    if (!is_step(step)) return vkn_status_set(VKN_ERR_ARG, "optim %s: step must be an f32 tensor of %d slots", name, VKN_STEP_COUNT);
    if (o.lr_slot >= VKN_STEP_COUNT) return vkn_status_set(VKN_ERR_ARG, "optim %s: lr slot %u out of range", name, o.lr_slot);
    if (!vkn_is_f32(param) || !vkn_is_f32(grad) || param->numel != grad->numel || param->numel < 1)
        return vkn_status_set(VKN_ERR_SHAPE, "optim %s: param and grad must be f32 with the same element count", name);
    int ns = vkn_optim_state_count(&o);
    const vkn_tensor *st[2] = {s1, s2};
    for (int i = 0; i < 2; i++) {
        if (i < ns && (!vkn_is_f32(st[i]) || st[i]->numel != param->numel))
            return vkn_status_set(VKN_ERR_SHAPE, "optim %s: state %d must be f32 with param's %lld elements", name, i + 1,
                                  (long long)param->numel);
    }
    if (o.clip_norm && (!vkn_is_f32(o.clip_norm) || o.clip_norm->numel != 1))
        return vkn_status_set(VKN_ERR_SHAPE, "optim %s: clip_norm must be f32 [1]", name);
    if (param->numel > 0x7fffffff) return vkn_status_set(VKN_ERR_SHAPE, "optim %s: too many elements", name);
    int texel_state = vkn_context_info(vkn_cmd_context(c))->path == VKN_PATH_CPU;
    /* unused bindings get a filler (declared in the shader, never touched in that variant) */
    const vkn_tensor *b1 = ns >= 1 ? s1 : param, *b2 = ns >= 2 ? s2 : param;
    const vkn_tensor *clip = o.clip_norm ? o.clip_norm : step;
    vkn_tensor gv = vkn_pad16(grad), pv = vkn_pad16(param), mv = vkn_pad16(b1), vv = vkn_pad16(b2);
    struct { uint32_t n, lr_slot, t_slot; float beta1, beta2, eps, momentum, wd, gscale, max_norm; } pc = {
        (uint32_t)param->numel, o.lr_slot, VKN_STEP_T, o.beta1, o.beta2, o.eps, o.momentum, o.weight_decay,
        o.grad_scale, o.max_norm};
    vkn_dispatch d = {.shader = "optim/update", .label = name,
                      .spec = {(uint32_t)o.kind, (uint32_t)texel_state, (uint32_t)(o.kind == VKN_OPTIM_SGD && ns == 1),
                               (uint32_t)(o.nesterov != 0), o.clip_norm != NULL},
                      .nspec = 5, .bind = {param, b1, b2, step, clip}, .nbind = 5,
                      .write_mask = 1u | (ns >= 1 ? 2u : 0u) | (ns >= 2 ? 4u : 0u),
                      .texel = {&gv, &pv, &mv, &vv}, .ntexel = 4, .texel_vec4_mask = 15,
                      .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)param->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_optim_span(const vkn_tensor *t, int n, vkn_tensor *out)
{
    if (!t || n < 1 || !out) return vkn_status_set(VKN_ERR_ARG, "optim_span: no tensors");
    for (int i = 0; i < n; i++) {
        if (!vkn_is_f32(&t[i])) return vkn_status_set(VKN_ERR_ARG, "optim_span: tensor %d is not f32", i);
        if (t[i].buffer != t[0].buffer) return vkn_status_set(VKN_ERR_ARG, "optim_span: tensor %d lies in another buffer", i);
        if (i && t[i].offset < t[i - 1].offset + t[i - 1].bytes)
            return vkn_status_set(VKN_ERR_ARG, "optim_span: tensor %d is not after tensor %d", i, i - 1);
    }
    if (t[0].offset % 16) return vkn_status_set(VKN_ERR_ARG, "optim_span: first tensor not 16-byte aligned");
    uint64_t bytes = t[n - 1].offset + t[n - 1].bytes - t[0].offset;
    *out = t[0];
    out->ndim = 1;
    out->numel = (int64_t)(bytes / 4);
    out->shape[0] = out->numel;
    out->shape[1] = out->shape[2] = out->shape[3] = 1;
    out->bytes = bytes;
    return VKN_OK;
}

/* ---- host side ---- */

vkn_status vkn_step_set_bits(const vkn_tensor *step, int slot, uint32_t bits)
{
    if (!vkn_is_f32(step) || slot < 0 || slot >= step->numel) return vkn_status_set(VKN_ERR_ARG, "step_set: bad slot %d", slot);
    if (step->host) {
        memcpy((char *)step->host + 4 * (size_t)slot, &bits, 4);
        return VKN_OK;
    }
    uint32_t v[256];
    if (step->numel > 256) return vkn_status_set(VKN_ERR_ARG, "step_set: step tensor too large to update unmapped");
    VKN_TRY(vkn_tensor_download(step, v));
    v[slot] = bits;
    return vkn_tensor_upload(step, v);
}

vkn_status vkn_step_set(const vkn_tensor *step, int slot, float value)
{
    uint32_t b;
    memcpy(&b, &value, 4);
    return vkn_step_set_bits(step, slot, b);
}

double vkn_lr_constant(double lr0) { return lr0; }

double vkn_lr_cosine(double lr0, double lr_min, int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup) return lr0 * (double)(step + 1) / (double)warmup;
    if (step >= total || total <= warmup) return total <= warmup ? lr0 : lr_min;
    double p = (double)(step - warmup) / (double)(total - warmup);
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + cos(M_PI * p));
}

double vkn_lr_dann(double lr0, double p) { return lr0 / pow(1 + 10 * p, 0.75); }
double vkn_grl_lambda(double p) { return 2 / (1 + exp(-10 * p)) - 1; }

/* ---- references ---- */

void vkn_ref_optim_step(const vkn_optim_opts *opts, double t, double lr, double clip_norm, float *p, const float *g,
                        float *s1, float *s2, int64_t n)
{
    vkn_optim_opts o = defaults(opts);
    double gs = o.grad_scale;
    if (o.clip_norm) gs *= fmin(1.0, o.max_norm / (clip_norm + 1e-6));
    int mom = o.kind == VKN_OPTIM_SGD && o.momentum != 0.0f;
    double b1 = o.beta1, b2 = o.beta2, bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    for (int64_t i = 0; i < n; i++) {
        double w = p[i], gi = g[i] * gs;
        if (o.kind == VKN_OPTIM_SGD) {
            gi += o.weight_decay * w;
            if (mom) {
                double m = o.momentum * (double)s1[i] + gi;
                s1[i] = (float)m;
                w -= lr * (o.nesterov ? gi + o.momentum * m : m);
            } else w -= lr * gi;
        } else {
            if (o.kind == VKN_OPTIM_ADAM) gi += o.weight_decay * w;
            double m = b1 * s1[i] + (1 - b1) * gi, v = b2 * s2[i] + (1 - b2) * gi * gi;
            s1[i] = (float)m;
            s2[i] = (float)v;
            double upd = (m / bc1) / (sqrt(v / bc2) + o.eps);
            if (o.kind == VKN_OPTIM_ADAMW) upd += o.weight_decay * w;
            w -= lr * upd;
        }
        p[i] = (float)w;
    }
}
