/* Reference of the supervised context methods: CN (per-context batch normalization with prior
 * scaling, NORMS.md section 3) and CN-X / CN-emb (learned per-context mean and log-std, section 4).
 * Context ids are int32[N] in 0..K-1, given at training and inference. */
#include <math.h>
#include <string.h>

#include "ops/norm_ref_impl.h"

/* ================================================================================================
 * CN:  for context k = ctx[n], channel c, statistics set S_kc = {(n', p) : ctx[n'] = k}
 *   y = (gamma_kc (x - mu_kc) / sqrt(var_kc + eps) + beta_kc) / sqrt(lambda_k)     (3.3)
 * A context with fewer than 2 elements per channel (n_k * P < 2) is normalized with its running
 * statistics (no gradient through them) and skips its running update (3.6); an absent context gets
 * no update. Inference: running statistics (or batch ones with infer = batch, same rule for < 2).
 * Backward (3.5): (NB) over S_kc with h = g gamma_kc / sqrt(lambda_k);
 *   dgamma_kc = sum g xhat / sqrt(lambda_k), dbeta_kc = sum g / sqrt(lambda_k).
 * Slots: [gamma (KxC), beta (KxC)], running_mean (KxC), running_var (KxC), priors (K).
 * ============================================================================================== */
typedef struct {
    int *seg;        /* N*C: ctx[n]*C + c, also the affine index */
    double *scale;   /* N: 1/sqrt(lambda_ctx[n]) or 1 */
    int gi, bi, rm, rv, pr;
} cn_maps;

static vkn_status cn_maps_make(const vkn_norm_opts *o, int N, const int32_t *ctx, double *const *s,
                               cn_maps *m)
{
    const int C = o->channels;
    m->seg = nr_calloc((size_t)N * C, sizeof(int));
    m->scale = nr_calloc((size_t)N, sizeof(double));
    if (!m->seg || !m->scale) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(cn): maps");
    int b = o->affine ? 2 : 0;
    m->gi = o->affine ? 0 : -1;
    m->bi = o->affine ? 1 : -1;
    m->rm = b; m->rv = b + 1; m->pr = b + 2;
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) m->seg[n * C + c] = ctx[n] * C + c;
        m->scale[n] = o->cn_prior_scale ? 1.0 / sqrt(s[m->pr][ctx[n]]) : 1.0;
    }
    return VKN_OK;
}

static void cn_maps_free(cn_maps *m)
{
    free(m->seg);
    free(m->scale);
}

static vkn_status cn_forward(const vkn_norm_opts *o, int N, int P, const double *x, const int32_t *ctx,
                             double *const *s, int train, double *y, vkn_norm_ref_cache *c)
{
    const int C = o->channels, K = o->contexts;
    const double eps = vkn_norm_eps(o);
    cn_maps m = {0};
    vkn_status st = cn_maps_make(o, N, ctx, s, &m);
    if (st == VKN_OK) {
        for (int k = 0; k < K; k++)
            if (!(s[m.pr][k] > 0))
                st = vkn_status_set(VKN_ERR_ARG, "norm_ref(cn): priors slot [%d]=%g must be > 0", k,
                                    s[m.pr][k]);
    }
    if (st == VKN_OK) st = nr_cache_segs(c, K * C);
    if (st != VKN_OK) { cn_maps_free(&m); return st; }
    int use_batch = train || o->infer == VKN_NORM_INFER_BATCH;
    c->batch_stats = use_batch;
    nr_seg_moments(N, C, P, x, m.seg, K * C, NULL, c->wsum, c->mean, c->var);
    for (int k = 0; k < K; k++)
        for (int ch = 0; ch < C; ch++) {
            int q = k * C + ch;
            double Mk = c->wsum[q]; /* n_k * P */
            if (!use_batch || Mk < 2) {
                /* too few elements (or inference): running statistics, held constant */
                c->fixed[q] = 1;
                c->mean[q] = s[m.rm][q];
                c->var[q] = s[m.rv][q];
            } else if (train) {
                nr_ema(&s[m.rm][q], &s[m.rv][q], c->mean[q], c->var[q], Mk / (Mk - 1), o->momentum);
            }
            c->rstd[q] = 1.0 / sqrt(c->var[q] + eps);
        }
    nr_segnorm_apply(N, C, P, x, m.seg, c->mean, c->rstd, m.seg, m.gi >= 0 ? s[m.gi] : NULL,
                     m.bi >= 0 ? s[m.bi] : NULL, m.scale, y);
    cn_maps_free(&m);
    return VKN_OK;
}

static vkn_status cn_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                              const int32_t *ctx, double *const *s, const double *g, double *dx,
                              double *const *ds)
{
    cn_maps m = {0};
    vkn_status st = cn_maps_make(o, c->N, ctx, s, &m);
    if (st != VKN_OK) { cn_maps_free(&m); return st; }
    st = nr_segnorm_backward(c->N, c->C, c->P, x, m.seg, c->nseg, c->mean, c->rstd, c->wsum, c->fixed, m.seg,
                        m.gi >= 0 ? s[m.gi] : NULL, m.scale, g, dx, m.gi >= 0 ? nr_ds(ds, m.gi) : NULL,
                        m.bi >= 0 ? nr_ds(ds, m.bi) : NULL);
    cn_maps_free(&m);
    return st;
}

/* ================================================================================================
 * CN-X (4.3):  y = (x - mu_{k,c}) * q_{k,c},  q = 1 / (exp(s_{k,c}) + eps),  k = ctx[n]
 * CN-emb (4.5): mu_{n,c} = W_mu[c,k] + b_mu[c], s_{n,c} = W_s[c,k] + b_s[c] (one-hot context k).
 * The log-std s is clamped to [-20, 20] (as the shader must, 4.6); outside, ds = 0.
 * Same in train and inference; no data statistics.
 * Backward (4.4): dx = g q;  dmu = -q sum_p g;  ds = -exp(s) q sum_p g y.
 * Slots: table: mu_table (KxC), logstd_table (KxC); emb: emb_mu_w (CxK), emb_mu_b (C),
 * emb_logstd_w (CxK), emb_logstd_b (C).
 * ============================================================================================== */
#define CNX_S_MAX 20.0

static double cnx_clamp(double v) { return v < -CNX_S_MAX ? -CNX_S_MAX : v > CNX_S_MAX ? CNX_S_MAX : v; }

/* mean and log-std of row (n, c) */
static void cnx_row(const vkn_norm_opts *o, double *const *s, int k, int c, double *mu, double *ls)
{
    const int C = o->channels, K = o->contexts;
    if (!o->cnx_embedder) {
        *mu = s[0][k * C + c];
        *ls = s[1][k * C + c];
    } else {
        *mu = s[0][c * K + k] + s[1][c];
        *ls = s[2][c * K + k] + s[3][c];
    }
}

static vkn_status cnx_forward(const vkn_norm_opts *o, int N, int P, const double *x, const int32_t *ctx,
                              double *const *s, double *y, vkn_norm_ref_cache *c)
{
    const int C = o->channels;
    const double eps = vkn_norm_eps(o);
    c->batch_stats = 0;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            double mu, ls;
            cnx_row(o, s, ctx[n], ch, &mu, &ls);
            double q = 1.0 / (exp(cnx_clamp(ls)) + eps);
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                y[i] = (x[i] - mu) * q;
            }
        }
    return VKN_OK;
}

static vkn_status cnx_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               const int32_t *ctx, double *const *s, const double *g, double *dx,
                               double *const *ds)
{
    const int N = c->N, C = c->C, P = c->P, K = o->contexts;
    const double eps = vkn_norm_eps(o);
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            int k = ctx[n];
            double mu, ls;
            cnx_row(o, s, k, ch, &mu, &ls);
            double e = exp(cnx_clamp(ls)), q = 1.0 / (e + eps);
            double sg = 0, sgy = 0;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                dx[i] = g[i] * q;
                sg += g[i];
                sgy += g[i] * (x[i] - mu) * q;
            }
            double dmu = -q * sg;
            double dls = (ls < -CNX_S_MAX || ls > CNX_S_MAX) ? 0.0 : -e * q * sgy;
            if (!o->cnx_embedder) {
                if (nr_ds(ds, 0)) ds[0][k * C + ch] += dmu;
                if (nr_ds(ds, 1)) ds[1][k * C + ch] += dls;
            } else {
                if (nr_ds(ds, 0)) ds[0][ch * K + k] += dmu;
                if (nr_ds(ds, 1)) ds[1][ch] += dmu;
                if (nr_ds(ds, 2)) ds[2][ch * K + k] += dls;
                if (nr_ds(ds, 3)) ds[3][ch] += dls;
            }
        }
    return VKN_OK;
}

/* ---- entry points ---- */
vkn_status nr_context_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                              const int32_t *ctx, double *const *s, int train, double *y,
                              vkn_norm_ref_cache *c)
{
    if (o->kind == VKN_NORM_CN) return cn_forward(o, N, P, x, ctx, s, train, y, c);
    return cnx_forward(o, N, P, x, ctx, s, y, c);
}

vkn_status nr_context_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               const int32_t *ctx, double *const *s, const double *g, double *dx,
                               double *const *ds)
{
    if (o->kind == VKN_NORM_CN) return cn_backward(o, c, x, ctx, s, g, dx, ds);
    return cnx_backward(o, c, x, ctx, s, g, dx, ds);
}
