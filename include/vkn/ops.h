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
/* y = f(x); alpha is the leaky slope or the scale factor. Every f keeps a NaN (relu(NaN) = NaN). */
vkn_status vkn_op_unary(vkn_cmd *c, vkn_unary op, float alpha, const vkn_tensor *x, const vkn_tensor *y);
/* y = a (op) b with NumPy broadcasting (shapes right-aligned; a dimension of 1 broadcasts) */
vkn_status vkn_op_binary(vkn_cmd *c, vkn_binary op, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *y);
/* y = reduce(x) over the axes whose bit is set in axes_mask (bit i = axis i of x); y holds the kept
 * axes (any shape with that element count: kept-dims or squeezed). max: a NaN wins (as torch.amax). */
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

/* ==== Layer-level ops (issue 4): activation backward, axpy, convolution, pooling, embedding, concat ====
 * src/ops/{act_grad,conv,pool,embed,concat}.c; double-precision references in src/ops/ref_nn.h.
 * Images are NCHW. Composite ops (conv2d, conv_transpose2d) record several dispatches and take an
 * explicit F32 workspace tensor (any shape) of at least ..._workspace_size() elements, so whoever plans
 * memory owns it; the workspace is dead between ops. Gradients are overwritten, not accumulated
 * (vkn_op_axpy accumulates). */

/* dx = dy * f'(.). v is the forward's input x for RELU and LEAKY_RELU (its output y works too when
 * alpha > 0: same sign), and the forward's OUTPUT y for TANH (1 - y^2) and SIGMOID (y (1 - y)).
 * f'(0) is taken as 0 for relu and alpha for leaky relu; where v is NaN, relu passes dy and leaky relu
 * gives alpha dy (PyTorch's rules; the forward's NaN is what the NaN guard reports). dx may be dy. */
vkn_status vkn_op_act_grad(vkn_cmd *c, vkn_act act, float alpha, const vkn_tensor *v, const vkn_tensor *dy,
                           const vkn_tensor *dx);
/* y += alpha * x (same element count) */
vkn_status vkn_op_axpy(vkn_cmd *c, float alpha, const vkn_tensor *x, const vkn_tensor *y);

/* A 2-D sliding window: kernel kh x kw, stride (0 is taken as 1), zero padding. Output size
 * Ho = (H + 2 ph - kh) / sh + 1 (floor), likewise Wo. */
typedef struct vkn_window2d {
    int kh, kw;
    int sh, sw;
    int ph, pw;
} vkn_window2d;
/* Output spatial size of the window over H x W (0 when the window does not fit). */
int vkn_window2d_out(const vkn_window2d *win, int H, int W, int *Ho, int *Wo);

/* col[(c*kh + i)*kw + j, (n*Ho + oh)*Wo + ow] = x[n, c, oh*sh - ph + i, ow*sw - pw + j] (0 outside).
 * x [N,C,H,W]; col 2-D [C*kh*kw, N*Ho*Wo]. */
vkn_status vkn_op_im2col(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *col);
/* The adjoint of im2col: x[n,c,h,w] = sum of the col entries im2col takes from (n,c,h,w) (+ bias[c] when
 * bias is not NULL). Each output element gathers its entries in a fixed order: deterministic, no atomics.
 * col [C*kh*kw, N*Ho*Wo] with Ho, Wo from x's H, W. */
vkn_status vkn_op_col2im(vkn_cmd *c, const vkn_tensor *col, const vkn_window2d *win, const vkn_tensor *bias,
                         const vkn_tensor *x);
/* y[b, a, p] = x[a, b, p]: x holds A*B*P elements, y the same (NCHW [N,C,HW] <-> CNHW [C,N,HW]). */
vkn_status vkn_op_swap01(vkn_cmd *c, const vkn_tensor *x, int64_t A, int64_t B, int64_t P, const vkn_tensor *y);

/* Convolution (cross-correlation as PyTorch): x [N,Cin,H,W], w [Cout,Cin,kh,kw], bias [Cout] or NULL,
 * y [N,Cout,Ho,Wo]. im2col + GEMM (bias fused) + swap01: 3 dispatches (+1 per GEMM that the GPU
 * path splits along its reduction: few output tiles, long K). The workspace sizes include room for
 * those partial products on every device (the sizes depend on the shapes only). */
int64_t vkn_conv2d_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win);
vkn_status vkn_op_conv2d(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *bias,
                         const vkn_window2d *win, const vkn_tensor *y, const vkn_tensor *workspace);
/* Backward of conv2d given dy [N,Cout,Ho,Wo]: dx [N,Cin,H,W], dw [Cout,Cin,kh,kw], db [Cout]; any of
 * them may be NULL (not computed). Up to 6 dispatches (swap, reduce, im2col, 2 GEMMs, col2im), 8 on
 * the GPU path when both GEMMs are split. */
int64_t vkn_conv2d_backward_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win);
vkn_status vkn_op_conv2d_backward(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *dy,
                                  const vkn_window2d *win, const vkn_tensor *dx, const vkn_tensor *dw,
                                  const vkn_tensor *db, const vkn_tensor *workspace);

/* Transposed convolution (PyTorch's ConvTranspose2d): x [N,Cin,H,W], w [Cin,Cout,kh,kw], bias [Cout] or
 * NULL, y [N,Cout,Ho,Wo] with Ho = (H-1) sh - 2 ph + kh (+ an output padding below sh: any Ho whose
 * window output is H). y = col2im(W^T x) (+ bias fused): swap01 + GEMM + col2im, 3 dispatches.
 * The workspace size does not depend on the output padding (valid also where only an output padding
 * makes the output non-empty). */
int64_t vkn_conv_transpose2d_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win);
vkn_status vkn_op_conv_transpose2d(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *bias,
                                   const vkn_window2d *win, const vkn_tensor *y, const vkn_tensor *workspace);
/* Backward given dy [N,Cout,Ho,Wo]: dx [N,Cin,H,W], dw [Cin,Cout,kh,kw], db [Cout]; any may be NULL.
 * Ho, Wo are dy's. */
int64_t vkn_conv_transpose2d_backward_workspace_size(int N, int Cin, int H, int W, int Cout, int Ho, int Wo,
                                                     const vkn_window2d *win);
vkn_status vkn_op_conv_transpose2d_backward(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w,
                                            const vkn_tensor *dy, const vkn_window2d *win, const vkn_tensor *dx,
                                            const vkn_tensor *dw, const vkn_tensor *db, const vkn_tensor *workspace);

/* Max pooling: x [N,C,H,W] -> y [N,C,Ho,Wo]; idx (I32, y's shape, may be NULL) receives the argmax as
 * h*W + w within the plane (the first maximum in window order; -1 if the window holds only padding,
 * where y is 0). Padding never wins; a NaN does (y NaN, idx the last NaN in window order, as PyTorch). */
vkn_status vkn_op_maxpool2d(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *y,
                            const vkn_tensor *idx);
/* dx[n,c,h,w] = sum of dy over the windows whose argmax is (h,w) (gathered: deterministic). */
vkn_status vkn_op_maxpool2d_backward(vkn_cmd *c, const vkn_tensor *dy, const vkn_tensor *idx,
                                     const vkn_window2d *win, const vkn_tensor *dx);
/* Average pooling, divisor kh*kw (padding counts as zeros: PyTorch's count_include_pad=True). */
vkn_status vkn_op_avgpool2d(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *y);
vkn_status vkn_op_avgpool2d_backward(vkn_cmd *c, const vkn_tensor *dy, const vkn_window2d *win,
                                     const vkn_tensor *dx);

/* Embedding: y[n, :] = table[ids[n], :]; table [K,D], ids I32 [N], y [N,D]. An id outside [0,K) gives
 * a zero row: a kernel cannot return an error, so callers check ids first (vkn-op does; a training
 * graph checks them before every step, vkn_graph_require_ids in graph.h). */
vkn_status vkn_op_embedding(vkn_cmd *c, const vkn_tensor *table, const vkn_tensor *ids, const vkn_tensor *y);
/* dtable[k,d] = sum over n with ids[n] == k of dy[n,d] (each (k,d) loops over n: deterministic). */
vkn_status vkn_op_embedding_backward(vkn_cmd *c, const vkn_tensor *ids, const vkn_tensor *dy,
                                     const vkn_tensor *dtable);
/* y[n,k] = ids[n] == k ? 1 : 0; ids I32 [N], y [N,K] (an id outside [0,K): a zero row; see embedding). */
vkn_status vkn_op_one_hot(vkn_cmd *c, const vkn_tensor *ids, const vkn_tensor *y);
/* Concatenation along axis 1 of row-flattened tensors: a is [N, A...], b [N, B...], y [N, ...] with
 * y's rows = a's row then b's row (so NCHW channel concatenation works when H, W agree). shape[0] is
 * N for all three; numel(y) = numel(a) + numel(b). split is its backward: y -> a, b. */
vkn_status vkn_op_concat(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *y);
vkn_status vkn_op_split(vkn_cmd *c, const vkn_tensor *y, const vkn_tensor *a, const vkn_tensor *b);

#ifdef __cplusplus
}
#endif
#endif
