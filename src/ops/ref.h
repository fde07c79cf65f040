/* Plain-C references of the ops in vkn/ops.h: the definition the shaders are tested against.
 * Accumulation in double. Shapes as in ops.h; all tensors contiguous row-major. */
#ifndef VKN_OPS_REF_H
#define VKN_OPS_REF_H

#include <stdint.h>
#include "vkn/ops.h"

double vkn_ref_unary1(vkn_unary op, float alpha, double v);
double vkn_ref_act(vkn_act act, float alpha, double v);
void vkn_ref_unary(vkn_unary op, float alpha, const float *x, float *y, int64_t n);
/* shapes of 1..4 dims; y's shape is the broadcast shape */
void vkn_ref_binary(vkn_binary op, const float *a, int nda, const int64_t *sa, const float *b, int ndb,
                    const int64_t *sb, float *y);
void vkn_ref_reduce(vkn_reduce op, const float *x, int ndim, const int64_t *shape, uint32_t axes_mask, float *y);
/* C[M,N] (with batch count nb) as vkn_op_gemm; c holds the old C when beta != 0 */
void vkn_ref_gemm(int64_t nb, int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *c,
                  const float *bias, const vkn_gemm_opts *o);

#endif
