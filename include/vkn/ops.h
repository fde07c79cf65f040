/* First ops: fill, copy, element-wise unary and broadcasting binary, reductions, GEMM.
 * Each records into a vkn_cmd (see cmd.h); nothing runs until the stream is submitted.
 * A plain-C reference of each op sits beside its launcher (src/ops/ref.h). */
#ifndef VKN_OPS_H
#define VKN_OPS_H

#include "vkn/cmd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkn_unary {
    VKN_UNARY_RELU = 0,
    VKN_UNARY_LEAKY_RELU,   /* x > 0 ? x : alpha*x */
    VKN_UNARY_TANH,
    VKN_UNARY_SIGMOID,
    VKN_UNARY_EXP,
    VKN_UNARY_LOG,
    VKN_UNARY_SCALE,        /* alpha*x */
    VKN_UNARY_COUNT_
} vkn_unary;

typedef enum vkn_binary { VKN_BINARY_ADD = 0, VKN_BINARY_SUB, VKN_BINARY_MUL, VKN_BINARY_DIV, VKN_BINARY_COUNT_ } vkn_binary;

typedef enum vkn_reduce { VKN_REDUCE_SUM = 0, VKN_REDUCE_MEAN, VKN_REDUCE_MAX, VKN_REDUCE_COUNT_ } vkn_reduce;

typedef enum vkn_act { VKN_ACT_NONE = 0, VKN_ACT_RELU, VKN_ACT_LEAKY_RELU, VKN_ACT_TANH, VKN_ACT_SIGMOID, VKN_ACT_COUNT_ } vkn_act;

typedef enum vkn_bias { VKN_BIAS_NONE = 0, VKN_BIAS_COL, VKN_BIAS_ROW } vkn_bias;

/* y = value */
vkn_status vkn_op_fill(vkn_cmd *c, const vkn_tensor *y, float value);
/* y = x (same element count) */
vkn_status vkn_op_copy(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *y);
/* y = f(x); alpha is the leaky slope or the scale factor */
vkn_status vkn_op_unary(vkn_cmd *c, vkn_unary op, float alpha, const vkn_tensor *x, const vkn_tensor *y);
/* y = a (op) b with NumPy broadcasting (shapes right-aligned; a dimension of 1 broadcasts) */
vkn_status vkn_op_binary(vkn_cmd *c, vkn_binary op, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *y);
/* y = reduce(x) over the axes whose bit is set in axes_mask (bit i = axis i of x); y holds the kept
 * axes (any shape with that element count: kept-dims or squeezed) */
vkn_status vkn_op_reduce(vkn_cmd *c, vkn_reduce op, const vkn_tensor *x, uint32_t axes_mask, const vkn_tensor *y);

/* C = act(alpha * op(A) op(B) + beta * C + bias); A, B, C are 2-D (or 3-D: a batch of GEMMs). */
typedef struct vkn_gemm_opts {
    int trans_a, trans_b;        /* op(A) = A^T: A is stored [K,M] */
    float alpha, beta;           /* alpha 0 is taken as 1 (so a zeroed struct is a plain product) */
    vkn_bias bias_kind;
    const vkn_tensor *bias;      /* length N (per column) or M (per row) */
    vkn_act act;
    float act_alpha;             /* leaky-ReLU slope */
} vkn_gemm_opts;

vkn_status vkn_op_gemm(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                       const vkn_gemm_opts *opts /* NULL: plain C = A B */);

/* Which GEMM kernel vkn_op_gemm picks for this context ("reg": CPU-class, "tiled": GPU-class). */
const char *vkn_op_gemm_path(const vkn_context *ctx);

const char *vkn_unary_name(vkn_unary op);
const char *vkn_binary_name(vkn_binary op);
const char *vkn_reduce_name(vkn_reduce op);

#ifdef __cplusplus
}
#endif
#endif
