/* Plain-C references of the layer-level ops in vkn/ops.h (issue 4 section): the definitions the shaders
 * are tested against. Everything in double (inputs, outputs, accumulation) so the backward references
 * can be checked by central finite differences of the forward ones; ids are int32. Shapes as in ops.h,
 * all arrays contiguous row-major, images NCHW. Convolutions are direct loops (no im2col), so they
 * check the im2col/GEMM/col2im composition independently. Backward outputs are overwritten; a NULL
 * gradient pointer skips that gradient. */
#ifndef VKN_OPS_REF_NN_H
#define VKN_OPS_REF_NN_H

#include <stdint.h>
#include "vkn/ops.h"

/* act_grad.c */
double vkn_ref_act_d(vkn_act act, double alpha, double x);                 /* f(x) in double */
void vkn_ref_act_grad(vkn_act act, double alpha, const double *v, const double *dy, double *dx, int64_t n);
void vkn_ref_axpy(double alpha, const double *x, double *y, int64_t n);

/* conv.c */
void vkn_ref_im2col(const vkn_window2d *win, int N, int C, int H, int W, const double *x, double *col);
void vkn_ref_col2im(const vkn_window2d *win, int N, int C, int H, int W, const double *col, const double *bias,
                    double *x);
void vkn_ref_swap01(int64_t A, int64_t B, int64_t P, const double *x, double *y);
void vkn_ref_conv2d(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, const double *x,
                    const double *w, const double *bias, double *y);
void vkn_ref_conv2d_backward(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, const double *x,
                             const double *w, const double *dy, double *dx, double *dw, double *db);
/* y [N,Cout,Ho,Wo] with Ho, Wo given (any size whose window output is H, W) */
void vkn_ref_conv_transpose2d(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, int Ho, int Wo,
                              const double *x, const double *w, const double *bias, double *y);
void vkn_ref_conv_transpose2d_backward(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, int Ho,
                                       int Wo, const double *x, const double *w, const double *dy, double *dx,
                                       double *dw, double *db);

/* pool.c: planes = N*C; idx may be NULL */
void vkn_ref_maxpool2d(const vkn_window2d *win, int planes, int H, int W, const double *x, double *y, int32_t *idx);
void vkn_ref_maxpool2d_backward(const vkn_window2d *win, int planes, int H, int W, const double *dy,
                                const int32_t *idx, double *dx);
void vkn_ref_avgpool2d(const vkn_window2d *win, int planes, int H, int W, const double *x, double *y);
void vkn_ref_avgpool2d_backward(const vkn_window2d *win, int planes, int H, int W, const double *dy, double *dx);

/* embed.c, concat.c */
void vkn_ref_embedding(int K, int D, int N, const double *table, const int32_t *ids, double *y);
void vkn_ref_embedding_backward(int K, int D, int N, const int32_t *ids, const double *dy, double *dtable);
void vkn_ref_one_hot(int K, int N, const int32_t *ids, double *y);
void vkn_ref_concat(int64_t N, int64_t A, int64_t B, const double *a, const double *b, double *y);
void vkn_ref_split(int64_t N, int64_t A, int64_t B, const double *y, double *a, double *b);

#endif
