/* Internal to the norm reference (src/ops/norm_ref*.c): the shared segmented closed forms and the
 * per-family entry points. Not part of any API. */
#ifndef VKN_NORM_REF_IMPL_H
#define VKN_NORM_REF_IMPL_H

#include <stdint.h>
#include <stdlib.h>

#include "vkn/norm_ref.h"

#define NR_IDX(n, c, p, C, P) (((size_t)(n) * (C) + (c)) * (P) + (p))

/* Segmented (weighted) moments, two-pass. seg_nc[n*C + c] is the segment of row (n, c) (-1: none);
 * w: per-element weights (N*C*P) or NULL for 1. Out (nseg each): wsum = sum w, mean = sum w x / wsum,
 * var = sum w (x - mean)^2 / wsum (biased). Empty segments get mean 0, var 0. */
void nr_seg_moments(int N, int C, int P, const double *x, const int *seg_nc, int nseg,
                    const double *w, double *wsum, double *mean, double *var);

/* (NB) / (WNB) of NORMS.md 1.1 with unnormalized weights w (NULL: 1), h = dL/dxhat:
 *   dx_i += r_s ( h_i - (w_i/W_s) sum_s h - (w_i/W_s) xhat_i sum_s h xhat )
 * where xhat_i = (x_i - mean_s) r_s; segments with fixed[s] (statistics held constant) get
 *   dx_i += r_s h_i. Optional outputs (nseg each): H_s = sum h, G_s = sum h xhat. */
vkn_status nr_seg_backward(int N, int C, int P, const double *x, const int *seg_nc, int nseg,
                     const double *w, const double *wsum, const double *mean, const double *rstd,
                     const unsigned char *fixed, const double *h, double *dx, double *H, double *G);

/* Apply a segment normalization with an affine per row (n, c):
 *   y_i = scale_n[n] * (gamma[a] * (x_i - mean_s) * rstd_s + beta[a]),  a = aff_nc ? aff_nc[n*C+c] : c
 * gamma/beta NULL: no affine (gamma 1, beta 0); scale_n NULL: 1. */
void nr_segnorm_apply(int N, int C, int P, const double *x, const int *seg_nc, const double *mean,
                      const double *rstd, const int *aff_nc, const double *gamma, const double *beta,
                      const double *scale_n, double *y);

/* Its backward: h = g * scale_n * gamma, dx += (NB) over the segments (fixed ones: r h);
 * dgamma[a] += sum g scale xhat, dbeta[a] += sum g scale (each skipped when NULL). */
vkn_status nr_segnorm_backward(int N, int C, int P, const double *x, const int *seg_nc, int nseg,
                         const double *mean, const double *rstd, const double *wsum,
                         const unsigned char *fixed, const int *aff_nc, const double *gamma,
                         const double *scale_n, const double *g, double *dx, double *dgamma,
                         double *dbeta);

/* PyTorch-convention running update: run = (1-m) run + m batch, with the unbiased variance
 * var_b * bessel. */
static inline void nr_ema(double *run_mean, double *run_var, double mean, double var_b, double bessel,
                          double m)
{
    *run_mean = (1.0 - m) * *run_mean + m * mean;
    *run_var = (1.0 - m) * *run_var + m * var_b * bessel;
}

/* Posterior over K components by log-sum-exp: tau_k = softmax_k(lb[k*st] - (x - m[k*st])^2 / (2 s[k*st])). */
void nr_posterior(int K, double x, const double *lb, const double *m, const double *s, int st,
                  double *tau);

double nr_softplus(double u);
double nr_sigmoid(double u);

/* Allocation helper: calloc or NULL; callers turn NULL into VKN_ERR_HOST_OOM. */
void *nr_calloc(size_t n, size_t size);

/* Allocate cache arrays for nseg primary segments. */
vkn_status nr_cache_segs(vkn_norm_ref_cache *c, int nseg);

/* Family entry points (arguments already validated by the dispatcher; cache non-NULL). */
vkn_status nr_basic_forward(const vkn_norm_opts *o, int N, int P, const double *x, const int32_t *ctx,
                            double *const *s, int train, double *y, vkn_norm_ref_cache *c);
vkn_status nr_basic_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                             const int32_t *ctx, double *const *s, const double *g, double *dx,
                             double *const *ds);
vkn_status nr_context_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                              const int32_t *ctx, double *const *s, int train, double *y,
                              vkn_norm_ref_cache *c);
vkn_status nr_context_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               const int32_t *ctx, double *const *s, const double *g, double *dx,
                               double *const *ds);
vkn_status nr_mixture_forward(const vkn_norm_opts *o, int N, int P, const double *x, double *const *s,
                              int train, double *y, vkn_norm_ref_cache *c);
vkn_status nr_mixture_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               double *const *s, const double *g, double *dx, double *const *ds);
vkn_status nr_fused_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                            const double *afn_mask, double *const *s, int train, double *y,
                            vkn_norm_ref_cache *c);
vkn_status nr_fused_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                             double *const *s, const double *g, double *dx, double *const *ds);

/* The gradient array of slot i, or NULL. */
static inline double *nr_ds(double *const *ds, int i) { return ds ? ds[i] : NULL; }

#endif
