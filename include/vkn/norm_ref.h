/* Plain-C double-precision reference of every normalization method: forward (train and inference)
 * and backward. This is the specification the device kernels are tested against (shared/NORMS.md
 * has the derivations; section numbers below refer to it).
 *
 * Shapes: x, y, g, dx are (N, C, P) contiguous, element (n, c, p) at (n*C + c)*P + p.
 * Statistics accumulate in double, two-pass (mean, then centred squares), never E[x^2]-E[x]^2.
 *
 * Typical use:
 *     double **s; vkn_norm_ref_slots_alloc(&o, &s);  vkn_norm_ref_init(&o, seed, s);
 *     vkn_norm_ref_cache c = {0};
 *     vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, s, 1, y, &c);   // train: buffers updated
 *     vkn_norm_ref_backward(&o, &c, x, ctx, s, g, dx, ds);          // ds[i] NULL for buffers
 *     vkn_norm_ref_cache_free(&c); vkn_norm_ref_slots_free(&o, s);
 */
#ifndef VKN_NORM_REF_H
#define VKN_NORM_REF_H

#include <stdint.h>

#include "vkn/norm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the forward pass saves for the backward pass (and for the device tests to compare).
 * Zero-initialize before the first forward; each forward frees what the cache held before.
 *
 * "Segments" are the sets statistics are taken over; the primary segment arrays (mean, var, rstd,
 * wsum, fixed; nseg entries) are, per kind:
 *   bn, cbn, ubn, bcn (BN branch): c                 ln: n            in: n*C + c
 *   gn: n*G + c/(C/G)         cn: k*C + c (context k)  acn, mn: k*C + c (component k)
 *   afn: c (mean = mu_B, var = unbiased batch variance, rstd = 1/sigma of the final standardization)
 * mean/var are the statistics actually used (batch statistics, or running ones where fixed[s] = 1);
 * var is the biased batch variance (the weighted one for acn, mn); rstd = 1/sqrt(var + eps);
 * wsum is the element count (the posterior mass S_k for acn, mn).
 * fixed[s] = 1: the segment was normalized with running statistics (no gradient through them). */
typedef struct vkn_norm_ref_cache {
    vkn_norm_kind kind;
    int N, C, P;
    int train;              /* the forward's train flag */
    int batch_stats;        /* 1: batch statistics flowed (train, or infer = batch) */
    int nseg;
    double *mean, *var, *rstd, *wsum;
    unsigned char *fixed;
    int nseg2;              /* bcn: the LN branch, segment n */
    double *mean2, *var2, *rstd2;
    double *tau;            /* acn, mn: posteriors, [k][(n*C + c)*P + p], K*N*C*P */
    double *lam;            /* acn: lambda_k = softmax(prior_logits) (K); mn: lambda_kc = S_kc/M (K*C) */
    double *aux;            /* afn: the encoder/decoder intermediates (layout in norm_ref_fused.c) */
    double similarity;      /* ubn: mean pairwise cosine similarity of the samples (train) */
    int above;              /* ubn: 1 if similarity > threshold this step */
} vkn_norm_ref_cache;

void vkn_norm_ref_cache_free(vkn_norm_ref_cache *cache);

/* Allocate one zeroed double array per slot (*slots has VKN_NORM_MAX_SLOTS entries, unused NULL). */
vkn_status vkn_norm_ref_slots_alloc(const vkn_norm_opts *o, double ***slots);
void vkn_norm_ref_slots_free(const vkn_norm_opts *o, double **slots);

/* Initialize every slot by its init rule (vkn_norm_slots), deterministically from seed: slot i
 * draws from its own splitmix64 stream seeded with seed + 0x9E3779B97F4A7C15 * (i + 1), one
 * uniform (u >> 11) * 2^-53 per element in order. The device side may call this and convert to f32. */
vkn_status vkn_norm_ref_init(const vkn_norm_opts *o, uint64_t seed, double *const *slots);

/* Forward. x: (N,C,P). ctx: int32[N] ids for cbn, cn, cnx (else ignored, may be NULL).
 * afn_mask: afn in train mode with afn_dropout > 0: 2*C keep flags (0 or 1), first the mask on mu_B,
 *   then the one on sigma_B; kept entries are scaled by 1/(1-p). NULL otherwise (ignored).
 * slots: as from vkn_norm_ref_slots_alloc; buffers (running statistics, EM state) are updated when
 *   train = 1. train = 0 uses o->infer.
 * y: (N,C,P) output. cache: may be NULL when no backward follows.
 * Errors: VKN_ERR_ARG (options, ids out of range, missing inputs), VKN_ERR_SHAPE (fewer than 2
 * elements per batch-statistics set where an unbiased running variance is needed). */
vkn_status vkn_norm_ref_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                                const int32_t *ctx, const double *afn_mask, double *const *slots,
                                int train, double *y, vkn_norm_ref_cache *cache);

/* Backward of the forward that filled cache (same o, x, ctx, slots as then; slots' buffers are not
 * read except where the forward used them as fixed statistics, which the cache records).
 * g: dL/dy (N,C,P). dx: (N,C,P), overwritten. dslots: per slot index, an array of the slot's size
 * receiving dL/dslot (overwritten) for learned slots; NULL entries are skipped; buffer entries
 * must be NULL. dslots itself may be NULL.
 * acn, mn, afn need a forward with batch statistics (train, or infer = batch). */
vkn_status vkn_norm_ref_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *cache,
                                 const double *x, const int32_t *ctx, double *const *slots,
                                 const double *g, double *dx, double *const *dslots);

/* ubn: the similarity s = (||sum_n u_n||^2 - N') / (N' (N'-1)), u_n = x[n] / ||x[n]|| over C*P,
 * N' = samples with nonzero norm; 0 when N' < 2. */
double vkn_norm_ref_ubn_similarity(int N, int C, int P, const double *x);

#ifdef __cplusplus
}
#endif
#endif
