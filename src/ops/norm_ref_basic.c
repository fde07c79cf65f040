/* Reference of the segment normalizations: BN, LN, IN, GN, CBN and UBN (feature-condensation
 * threshold). NORMS.md sections 1.1, 2 and 8.2.
 *
 * All of them are  y = gamma_a * (x - mu_s) / sqrt(var_s + eps) + beta_a  with a statistics segment s
 * and an affine index a per row (n, c):
 *   bn, ubn: s = c           a = c         running statistics per c
 *   ln:      s = n           a = c         (per-channel affine, as for conv nets)
 *   in:      s = n*C + c     a = c
 *   gn:      s = n*G + c/(C/G)  a = c
 *   cbn:     s = c           a = ctx[n]*C + c   (shared batch statistics, per-class gamma/beta)
 * Backward: (NB) over s with h = gamma_a g; dgamma_a = sum g xhat, dbeta_a = sum g. */
#include <math.h>
#include <string.h>

#include "ops/norm_ref_impl.h"

/* ---- the shared apply / backward, also used by CN (norm_ref_context.c) and BCN ---- */
void nr_segnorm_apply(int N, int C, int P, const double *x, const int *seg_nc, const double *mean,
                      const double *rstd, const int *aff_nc, const double *gamma, const double *beta,
                      const double *scale_n, double *y)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int s = seg_nc[n * C + c];
            int a = aff_nc ? aff_nc[n * C + c] : c;
            double ga = gamma ? gamma[a] : 1.0, be = beta ? beta[a] : 0.0;
            double sc = scale_n ? scale_n[n] : 1.0;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, c, p, C, P);
                y[i] = sc * (ga * (x[i] - mean[s]) * rstd[s] + be);
            }
        }
}

vkn_status nr_segnorm_backward(int N, int C, int P, const double *x, const int *seg_nc, int nseg,
                         const double *mean, const double *rstd, const double *wsum,
                         const unsigned char *fixed, const int *aff_nc, const double *gamma,
                         const double *scale_n, const double *g, double *dx, double *dgamma,
                         double *dbeta)
{
    size_t total = (size_t)N * C * P;
    double *h = nr_calloc(total, sizeof(double));
    if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: backward (%zu values)", total);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int s = seg_nc[n * C + c];
            int a = aff_nc ? aff_nc[n * C + c] : c;
            double sc = scale_n ? scale_n[n] : 1.0, ga = gamma ? gamma[a] : 1.0;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, c, p, C, P);
                double gs = g[i] * sc;
                h[i] = gs * ga;
                if (dgamma) dgamma[a] += gs * (x[i] - mean[s]) * rstd[s];
                if (dbeta) dbeta[a] += gs;
            }
        }
    vkn_status st = nr_seg_backward(N, C, P, x, seg_nc, nseg, NULL, wsum, mean, rstd, fixed, h, dx, NULL, NULL);
    free(h);
    return st;
}

/* ---- maps ---- */
typedef struct {
    int nseg;
    int *seg;     /* N*C */
    int *aff;     /* N*C or NULL */
    int has_run;  /* bn, cbn, ubn keep running statistics */
    int gi, bi;   /* slot index of gamma, beta (-1: none) */
    int rm, rv;   /* slot index of running_mean, running_var (-1: none) */
} basic_maps;

static vkn_status basic_maps_make(const vkn_norm_opts *o, int N, const int32_t *ctx, basic_maps *m)
{
    const int C = o->channels;
    memset(m, 0, sizeof *m);
    m->gi = m->bi = m->rm = m->rv = -1;
    m->seg = nr_calloc((size_t)N * C, sizeof(int));
    if (!m->seg) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: segment map");
    int G = o->kind == VKN_NORM_GN ? o->groups : 1, cg = C / G;
    switch (o->kind) {
    case VKN_NORM_LN: m->nseg = N; break;
    case VKN_NORM_IN: m->nseg = N * C; break;
    case VKN_NORM_GN: m->nseg = N * G; break;
    default: m->nseg = C; m->has_run = 1; break;
    }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int *s = &m->seg[n * C + c];
            switch (o->kind) {
            case VKN_NORM_LN: *s = n; break;
            case VKN_NORM_IN: *s = n * C + c; break;
            case VKN_NORM_GN: *s = n * G + c / cg; break;
            default: *s = c; break;
            }
        }
    int next = 0;
    if (o->affine) { m->gi = 0; m->bi = 1; next = 2; }
    if (m->has_run) { m->rm = next; m->rv = next + 1; }
    if (o->kind == VKN_NORM_CBN) {
        m->aff = nr_calloc((size_t)N * C, sizeof(int));
        if (!m->aff) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: affine map");
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) m->aff[n * C + c] = ctx[n] * C + c;
    }
    return VKN_OK;
}

static void basic_maps_free(basic_maps *m)
{
    free(m->seg);
    free(m->aff);
}

/* ---- forward ---- */
vkn_status nr_basic_forward(const vkn_norm_opts *o, int N, int P, const double *x, const int32_t *ctx,
                            double *const *s, int train, double *y, vkn_norm_ref_cache *c)
{
    const int C = o->channels;
    const double eps = vkn_norm_eps(o);
    basic_maps m;
    vkn_status st = basic_maps_make(o, N, ctx, &m);
    if (st != VKN_OK) { basic_maps_free(&m); return st; }

    /* Which statistics: batch (train, layers without running stats, or infer = batch), else running. */
    int use_batch = !m.has_run || train || o->infer == VKN_NORM_INFER_BATCH;
    int update = m.has_run && train;
    if (o->kind == VKN_NORM_UBN && train) {
        /* UBN-FCT (8.2): above the similarity threshold, skip the statistics step. */
        c->similarity = vkn_norm_ref_ubn_similarity(N, C, P, x);
        c->above = c->similarity > o->ubn_threshold;
        if (c->above) {
            update = 0;
            if (!o->ubn_batch_stats_above) use_batch = 0;
        }
    }
    const int M = N * P; /* elements per channel for bn, cbn, ubn */
    if (update && M < 2) {
        basic_maps_free(&m);
        return vkn_status_set(VKN_ERR_SHAPE,
                              "norm_ref(%s): training needs at least 2 values per channel (N*H*W=%d) "
                              "for the unbiased running variance",
                              vkn_norm_kind_name(o->kind), M);
    }
    st = nr_cache_segs(c, m.nseg);
    if (st != VKN_OK) { basic_maps_free(&m); return st; }
    c->batch_stats = use_batch;
    if (use_batch) {
        nr_seg_moments(N, C, P, x, m.seg, m.nseg, NULL, c->wsum, c->mean, c->var);
    } else {
        for (int q = 0; q < m.nseg; q++) {
            c->mean[q] = s[m.rm][q];
            c->var[q] = s[m.rv][q];
            c->wsum[q] = M;
            c->fixed[q] = 1;
        }
    }
    for (int q = 0; q < m.nseg; q++) c->rstd[q] = 1.0 / sqrt(c->var[q] + eps);
    if (update)
        for (int q = 0; q < m.nseg; q++)
            nr_ema(&s[m.rm][q], &s[m.rv][q], c->mean[q], c->var[q], (double)M / (M - 1), o->momentum);
    nr_segnorm_apply(N, C, P, x, m.seg, c->mean, c->rstd, m.aff, m.gi >= 0 ? s[m.gi] : NULL,
                     m.bi >= 0 ? s[m.bi] : NULL, NULL, y);
    basic_maps_free(&m);
    return VKN_OK;
}

/* ---- backward ---- */
vkn_status nr_basic_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                             const int32_t *ctx, double *const *s, const double *g, double *dx,
                             double *const *ds)
{
    basic_maps m;
    vkn_status st = basic_maps_make(o, c->N, ctx, &m);
    if (st != VKN_OK) { basic_maps_free(&m); return st; }
    st = nr_segnorm_backward(c->N, c->C, c->P, x, m.seg, m.nseg, c->mean, c->rstd, c->wsum, c->fixed, m.aff,
                        m.gi >= 0 ? s[m.gi] : NULL, NULL, g, dx, m.gi >= 0 ? nr_ds(ds, m.gi) : NULL,
                        m.bi >= 0 ? nr_ds(ds, m.bi) : NULL);
    basic_maps_free(&m);
    return st;
}
