/* Optimizers on the device, the per-step values they read, learning-rate schedules, and the training
 * helpers around them (global gradient norm, non-finite check, gradient reversal).
 *
 * Every value that changes from step to step is read on the device from the step tensor (vkn/step.h):
 * the learning rate from slot VKN_STEP_LR0 + i, the step count t from VKN_STEP_T (Adam's bias
 * corrections 1 - beta^t are computed in the kernel), lambda from VKN_STEP_LAMBDA. So a recorded
 * command stream stays valid across steps: the host rewrites the step tensor before each submit
 * (vkn_step_set) with the values the schedule functions below compute.
 *
 * Fast path: the graph places all parameters of a model contiguously (and their gradients and
 * optimizer states with the same layout); vkn_optim_span makes one 1-D view over such a run, and a
 * single vkn_op_optim_step updates every parameter in one dispatch. */
#ifndef VKN_OPTIM_H
#define VKN_OPTIM_H

#include <stdint.h>
#include "vkn/cmd.h"
#include "vkn/step.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkn_optim_kind {
    VKN_OPTIM_SGD = 0,    /* g' = g + wd p; buf = momentum buf + g'; p -= lr (nesterov ? g' + momentum buf : buf)
                             (momentum 0: p -= lr g', no state) */
    VKN_OPTIM_ADAM,       /* g' = g + wd p (L2); m,v moments; p -= lr mhat / (sqrt(vhat) + eps) */
    VKN_OPTIM_ADAMW,      /* Adam on g, with decoupled weight decay: p -= lr (mhat/(sqrt(vhat)+eps) + wd p) */
    VKN_OPTIM_COUNT_
} vkn_optim_kind;

typedef struct vkn_optim_opts {
    vkn_optim_kind kind;
    uint32_t lr_slot;         /* step-tensor slot of the learning rate (VKN_STEP_LR0 + i) */
    float beta1, beta2, eps;  /* Adam/AdamW (0, 0, 0 are taken as 0.9, 0.999, 1e-8) */
    float momentum;           /* SGD */
    int nesterov;             /* SGD */
    float weight_decay;
    float grad_scale;         /* the gradient is multiplied by this first (0 is taken as 1) */
    /* Optional clipping by global norm: g is multiplied by min(1, max_norm / (norm + 1e-6)) where
     * norm is clip_norm[0] (a vkn_op_grad_norm output). NULL: no clipping. */
    const vkn_tensor *clip_norm;
    float max_norm;
} vkn_optim_opts;

/* State tensors per parameter: SGD 1 with momentum (else 0), Adam/AdamW 2 (m, v). Zero them at start. */
int vkn_optim_state_count(const vkn_optim_opts *o);

/* One update of param from grad (same element count; any shapes) with the state tensors s1 (SGD
 * momentum buffer / Adam m) and s2 (Adam v), NULL where the kind has none. step: the step tensor
 * ([VKN_STEP_COUNT] F32). One dispatch. */
vkn_status vkn_op_optim_step(vkn_cmd *c, const vkn_optim_opts *o, const vkn_tensor *step, const vkn_tensor *param,
                             const vkn_tensor *grad, const vkn_tensor *s1, const vkn_tensor *s2);

/* A 1-D F32 view over t[0..n-1], which must lie in one buffer in ascending order (arena allocations
 * made one after another). The gaps between them (arena padding) are part of the view: they are
 * updated too, so fill the spans of parameters, gradients and states once with zeros. */
vkn_status vkn_optim_span(const vkn_tensor *t, int n, vkn_tensor *out);

/* out[1] = sqrt(sum over the tensors of sum g^2): per-tensor chunked partial sums, then one fold of
 * all partials in a fixed order (n + 1 dispatches, no atomics; n <= 256). */
vkn_status vkn_op_grad_norm(vkn_cmd *c, const vkn_tensor *const *grads, int n, const vkn_tensor *out);

/* flag[1] = 1 if any element of the tensors is NaN or +-Inf, else 0 (n + 1 dispatches, deterministic). */
vkn_status vkn_op_check_finite(vkn_cmd *c, const vkn_tensor *const *t, int n, const vkn_tensor *flag);

/* y = factor * step[slot] * x (y may be x). */
vkn_status vkn_op_scale_by_step(vkn_cmd *c, const vkn_tensor *step, uint32_t slot, float factor, const vkn_tensor *x,
                                const vkn_tensor *y);
/* Gradient reversal backward: dx = -lambda dy with lambda = step[VKN_STEP_LAMBDA] (forward is identity). */
vkn_status vkn_op_grad_reverse(vkn_cmd *c, const vkn_tensor *step, const vkn_tensor *dy, const vkn_tensor *dx);

/* ---- host side: the step tensor and schedules ---- */

/* Write one slot of the step tensor (mapped memory: a store; otherwise a read-modify-write upload).
 * Call it only while no submit that reads the step tensor is running. */
vkn_status vkn_step_set(const vkn_tensor *step, int slot, float value);
vkn_status vkn_step_set_bits(const vkn_tensor *step, int slot, uint32_t bits);   /* e.g. VKN_STEP_RNG */

/* Learning-rate schedules: the value to write into the lr slot. step counts from 0; p in [0, 1] is
 * training progress. */
double vkn_lr_constant(double lr0);
/* linear warmup from 0 over `warmup` steps, then cosine from lr0 to lr_min at step `total` (held after) */
double vkn_lr_cosine(double lr0, double lr_min, int64_t step, int64_t warmup, int64_t total);
/* DANN: lr0 / (1 + 10 p)^0.75 */
double vkn_lr_dann(double lr0, double p);
/* DANN gradient-reversal coefficient: 2 / (1 + exp(-10 p)) - 1 */
double vkn_grl_lambda(double p);

const char *vkn_optim_name(vkn_optim_kind kind);

#ifdef __cplusplus
}
#endif
#endif
