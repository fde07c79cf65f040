/* Device random numbers: counter-based Philox-4x32-10 (Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3", SC'11). Element e of an output takes word e % 4 of
 *     philox4x32_10(counter = (e / 4, stream, step[VKN_STEP_RNG] as uint bits, 0), key = (seed lo, seed hi)).
 * Same seed, stream and step counter: same numbers, on the device and on the host (vkn_philox4x32_10,
 * bit-exact for uniform, bernoulli and labels). A new counter value each step gives new numbers with
 * the recorded command stream unchanged. Give each op of a step its own stream id.
 * step may be NULL: the counter word is then 0 (fixed numbers, e.g. a viewer's fixed noise grid). */
#ifndef VKN_RANDOM_H
#define VKN_RANDOM_H

#include <stdint.h>
#include "vkn/cmd.h"
#include "vkn/step.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_rng {
    uint64_t seed;
    uint32_t stream;
} vkn_rng;

/* The Philox-4x32-10 block function (host). */
void vkn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* 32 random bits -> float in [0, 1) with 24 bits: (bits >> 8) * 2^-24 (exact on host and device). */
static inline float vkn_u01(uint32_t bits) { return (float)(bits >> 8) * (1.0f / 16777216.0f); }

/* y = lo + (hi - lo) u, u uniform in [0, 1) (y F32, any shape) */
vkn_status vkn_op_rand_uniform(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float lo, float hi, const vkn_tensor *y);
/* y = mean + std z, z standard normal by Box-Muller: words (0,1) and (2,3) of each block give
 * r = sqrt(-2 ln(1 - u_a)), z0 = r cos(2 pi u_b), z1 = r sin(2 pi u_b) */
vkn_status vkn_op_rand_normal(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float mean, float std, const vkn_tensor *y);
/* Dropout mask: mask = u >= p ? 1/(1-p) : 0 (keeps with probability 1 - p; 0 <= p < 1) */
vkn_status vkn_op_rand_bernoulli(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float p, const vkn_tensor *mask);
/* I32 labels uniform in [0, K): (bits * K) >> 32 */
vkn_status vkn_op_rand_labels(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, int32_t k, const vkn_tensor *y);

/* Dropout forward in one dispatch: mask as vkn_op_rand_bernoulli, y = x * mask (mask kept for the
 * backward). Backward: vkn_op_dropout_backward, dx = dy * mask. */
vkn_status vkn_op_dropout(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float p, const vkn_tensor *x,
                          const vkn_tensor *mask, const vkn_tensor *y);
vkn_status vkn_op_dropout_backward(vkn_cmd *c, const vkn_tensor *mask, const vkn_tensor *dy, const vkn_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
