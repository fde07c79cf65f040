/* GEMM entry points for other ops (src/ops/conv.c); not public. */
#ifndef VKN_OPS_GEMM_INTERNAL_H
#define VKN_OPS_GEMM_INTERNAL_H

#include "vkn/ops.h"

/* Elements of partial-product scratch a GEMM with C [batch, M, N] and reduction length K needs on the
 * GPU kernel path when it is split along K (0 when it is not split). Depends on the shape only, not on
 * the device or the path, so a workspace size computed from it holds everywhere; on the CPU path
 * (gemm_reg, never split) the scratch goes unused. */
int64_t vkn_gemm_split_scratch_numel(int64_t M, int64_t N, int64_t K, int64_t batch);

/* vkn_op_gemm with the split-K partial buffer given: scratch is an f32 tensor of at least
 * vkn_gemm_split_scratch_numel() elements (any shape), dead before and after the call. NULL: a split
 * GEMM takes its partials from the stream's scratch (vkn_cmd_scratch), as vkn_op_gemm does. */
vkn_status vkn_op_gemm_ws(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                          const vkn_gemm_opts *opts, const vkn_tensor *scratch);

/* C = op(A) op(B) with its [M, N = images*hw] product written as NCHW (CPU-class kernels): a conv's
 * output without the swap01 pass. */
vkn_status vkn_op_gemm_nchw_out(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                                const vkn_gemm_opts *opts, int64_t hw);

#endif
