/* Reference of the mixture methods: ACN in its intended form ACN-R (NORMS.md 5.3-5.5) and MN as a
 * per-channel 1-D Gaussian mixture fitted by one warm-started EM iteration per training step
 * (section 6, per-channel variant). Both share the posterior (log-sum-exp softmax over components)
 * and the posterior-weighted moments; element i runs over the N*P values of one channel c.
 *
 *   tau_ik = softmax_k( lb_kc - (x_i - m_kc)^2 / (2 s_kc) )
 *   S_kc = sum_i tau_ik,  w_ik = tau_ik / S_kc
 *   mu_kc = sum_i w_ik x_i,  v_kc = sum_i w_ik (x_i - mu_kc)^2,  r_kc = (v_kc + eps)^-1/2
 *   xhat_ik = (x_i - mu_kc) r_kc,   y_i = sum_k a_ik xhat_ik
 *
 *   ACN: lb_kc = log lambda_k (lambda = softmax(prior_logits), shared by channels),
 *        m = means, s = softplus(raw_var) + eps, a_ik = tau_ik / sqrt(lambda_k + eps); no affine.
 *   MN:  lb_kc = log pi_kc - 1/2 log v_kc (a proper Gaussian E-step), m = gmm_mean, s = gmm_var,
 *        lambda_kc = S_kc / M (the M-step weight), a_ik = tau_ik / sqrt(lambda_kc),
 *        y = gamma_c * sum_k a_ik xhat_ik + beta_c.
 *
 * Running statistics (per component and channel): EMA of mu_kc and of the unbiased weighted variance
 * v_kc * V1^2 / (V1^2 - V2), V1 = S_kc, V2 = sum_i tau_ik^2 (= M/(M-1) when K = 1); skipped for a
 * (k, c) whose mass sits on a single element (V1^2 - V2 <= 1e-12 V1^2). */
#include <math.h>
#include <string.h>

#include "ops/norm_ref_impl.h"

#define MASS_MIN 1e-12

typedef struct {
    int K, gi, bi, m, u, p, gm, gv, gw, rm, rv;
} mix_slots;

static mix_slots mix_slots_of(const vkn_norm_opts *o)
{
    mix_slots z = {.K = o->components, .gi = -1, .bi = -1, .m = -1, .u = -1, .p = -1,
                   .gm = -1, .gv = -1, .gw = -1};
    if (o->kind == VKN_NORM_ACN) {
        z.m = 0; z.u = 1; z.p = 2; z.rm = 3; z.rv = 4;
    } else {
        int b = 0;
        if (o->affine) { z.gi = 0; z.bi = 1; b = 2; }
        z.gm = b; z.gv = b + 1; z.gw = b + 2; z.rm = b + 3; z.rv = b + 4;
    }
    return z;
}

vkn_status nr_mixture_forward(const vkn_norm_opts *o, int N, int P, const double *x, double *const *s,
                              int train, double *y, vkn_norm_ref_cache *c)
{
    const int C = o->channels, K = o->components, acn = o->kind == VKN_NORM_ACN;
    const double eps = vkn_norm_eps(o);
    const size_t total = (size_t)N * C * P;
    const int M = N * P;
    const char *nm = vkn_norm_kind_name(o->kind);
    mix_slots z = mix_slots_of(o);
    int use_batch = train || o->infer == VKN_NORM_INFER_BATCH;
    if (train && M < 2)
        return vkn_status_set(VKN_ERR_SHAPE,
                              "norm_ref(%s): training needs at least 2 values per channel (N*H*W=%d)", nm, M);
    if (!acn)
        for (int q = 0; q < K * C; q++)
            if (!(s[z.gv][q] > 0))
                return vkn_status_set(VKN_ERR_ARG, "norm_ref(mn): gmm_var[%d][%d]=%g must be > 0", q / C,
                                      q % C, s[z.gv][q]);
    VKN_TRY(nr_cache_segs(c, K * C));
    c->batch_stats = use_batch;
    c->tau = nr_calloc((size_t)K * total, sizeof(double));
    c->lam = nr_calloc((size_t)(acn ? K : K * C), sizeof(double));
    double *lb = nr_calloc((size_t)K * C, sizeof(double)), *sv = nr_calloc((size_t)K * C, sizeof(double));
    double *mk = nr_calloc((size_t)K * C, sizeof(double)), *t = nr_calloc((size_t)K, sizeof(double));
    int *segc = nr_calloc((size_t)N * C, sizeof(int));
    vkn_status st = VKN_OK;
    if (!c->tau || !c->lam || !lb || !sv || !mk || !t || !segc) {
        st = vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(%s): work arrays", nm);
        goto done;
    }
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) segc[n * C + ch] = ch;

    /* posterior parameters per (k, c) */
    if (acn) {
        double mx = -INFINITY, zs = 0;
        for (int k = 0; k < K; k++) mx = fmax(mx, s[z.p][k]);
        for (int k = 0; k < K; k++) zs += c->lam[k] = exp(s[z.p][k] - mx);
        for (int k = 0; k < K; k++) c->lam[k] /= zs;
        for (int k = 0; k < K; k++)
            for (int ch = 0; ch < C; ch++) {
                int q = k * C + ch;
                lb[q] = log(c->lam[k]);
                mk[q] = s[z.m][q];
                sv[q] = nr_softplus(s[z.u][q]) + eps;
            }
    } else {
        for (int q = 0; q < K * C; q++) {
            lb[q] = log(fmax(s[z.gw][q], 1e-300)) - 0.5 * log(s[z.gv][q]);
            mk[q] = s[z.gm][q];
            sv[q] = s[z.gv][q];
        }
    }
    /* E-step: posteriors */
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                nr_posterior(K, x[i], lb + ch, mk + ch, sv + ch, C, t);
                for (int k = 0; k < K; k++) c->tau[k * total + i] = t[k];
            }
    /* moments (batch), or running / learned statistics held constant */
    if (use_batch) {
        for (int k = 0; k < K; k++)
            nr_seg_moments(N, C, P, x, segc, C, c->tau + k * total, c->wsum + k * C, c->mean + k * C,
                           c->var + k * C);
        if (!acn)
            for (int q = 0; q < K * C; q++) c->lam[q] = c->wsum[q] / M;
    } else {
        for (int q = 0; q < K * C; q++) {
            c->fixed[q] = 1;
            if (o->infer == VKN_NORM_INFER_LEARNED) { /* acn only (checked) */
                c->mean[q] = s[z.m][q];
                c->var[q] = nr_softplus(s[z.u][q]);
            } else {
                c->mean[q] = s[z.rm][q];
                c->var[q] = s[z.rv][q];
            }
            if (!acn) c->lam[q] = s[z.gw][q];
        }
    }
    for (int q = 0; q < K * C; q++) c->rstd[q] = 1.0 / sqrt(c->var[q] + eps);

    /* output */
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                double v = 0;
                for (int k = 0; k < K; k++) {
                    int q = k * C + ch;
                    double tk = c->tau[k * total + i];
                    double lam = acn ? c->lam[k] + eps : c->lam[q];
                    double a = tk > 0 && lam > 0 ? tk / sqrt(lam) : 0.0;
                    v += a * (x[i] - c->mean[q]) * c->rstd[q];
                }
                y[i] = acn ? v : (z.gi >= 0 ? s[z.gi][ch] : 1.0) * v + (z.bi >= 0 ? s[z.bi][ch] : 0.0);
            }

    /* training: running statistics, and MN's M-step (warm start for the next step's E-step) */
    if (train) {
        for (int k = 0; k < K; k++)
            for (int ch = 0; ch < C; ch++) {
                int q = k * C + ch;
                double V1 = c->wsum[q], V2 = 0;
                for (int n = 0; n < N; n++)
                    for (int p = 0; p < P; p++) {
                        double tk = c->tau[k * total + NR_IDX(n, ch, p, C, P)];
                        V2 += tk * tk;
                    }
                double den = V1 * V1 - V2;
                if (V1 > MASS_MIN && den > 1e-12 * V1 * V1)
                    nr_ema(&s[z.rm][q], &s[z.rv][q], c->mean[q], c->var[q], V1 * V1 / den, o->momentum);
                if (!acn && V1 > MASS_MIN && c->var[q] + o->mn_var_floor > 0) {
                    s[z.gm][q] = c->mean[q];
                    s[z.gv][q] = c->var[q] + o->mn_var_floor;
                    s[z.gw][q] = c->lam[q];
                }
            }
    }
done:
    free(lb); free(sv); free(mk); free(t); free(segc);
    return st;
}

vkn_status nr_mixture_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               double *const *s, const double *g, double *dx, double *const *ds)
{
    const int N = c->N, C = c->C, P = c->P, K = o->components, acn = o->kind == VKN_NORM_ACN;
    const double eps = vkn_norm_eps(o);
    const size_t total = (size_t)N * C * P;
    mix_slots z = mix_slots_of(o);
    if (acn && !c->batch_stats)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm_ref(acn): backward needs a forward with batch statistics (train, or "
                              "infer=batch)");
    double *h = nr_calloc(total, sizeof(double));
    double *H = nr_calloc((size_t)K * C, sizeof(double)), *G = nr_calloc((size_t)K * C, sizeof(double));
    int *segc = nr_calloc((size_t)N * C, sizeof(int));
    double *t = nr_calloc((size_t)K, sizeof(double)), *rho = nr_calloc((size_t)K, sizeof(double));
    double *rs = nr_calloc((size_t)K, sizeof(double)), *gx = nr_calloc((size_t)K, sizeof(double));
    double *dlam = nr_calloc((size_t)K, sizeof(double)), *dsv = nr_calloc((size_t)K * C, sizeof(double));
    vkn_status st = VKN_OK;
    if (!h || !H || !G || !segc || !t || !rho || !rs || !gx || !dlam || !dsv) {
        st = vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(%s): backward work arrays", vkn_norm_kind_name(o->kind));
        goto done;
    }
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) segc[n * C + ch] = ch;

    /* (a) through the normalization at fixed weights: (WNB) per component with h_ik = g_i a_ik
     * (times gamma_c for MN). MN stops here: tau and lambda are EM outputs, constants for autodiff. */
    for (int k = 0; k < K; k++) {
        for (int n = 0; n < N; n++)
            for (int ch = 0; ch < C; ch++) {
                int q = k * C + ch;
                double lam = acn ? c->lam[k] + eps : c->lam[q];
                double ga = (!acn && z.gi >= 0) ? s[z.gi][ch] : 1.0;
                for (int p = 0; p < P; p++) {
                    size_t i = NR_IDX(n, ch, p, C, P);
                    double tk = c->tau[k * total + i];
                    h[i] = tk > 0 && lam > 0 ? ga * g[i] * tk / sqrt(lam) : 0.0;
                }
            }
        st = nr_seg_backward(N, C, P, x, segc, C, c->tau + k * total, c->wsum + k * C, c->mean + k * C,
                             c->rstd + k * C, c->fixed + k * C, h, dx, H + k * C, G + k * C);
        if (st != VKN_OK) goto done;
    }
    if (!acn) {
        double *dgam = z.gi >= 0 ? nr_ds(ds, z.gi) : NULL, *dbet = z.bi >= 0 ? nr_ds(ds, z.bi) : NULL;
        for (int n = 0; n < N; n++)
            for (int ch = 0; ch < C; ch++)
                for (int p = 0; p < P; p++) {
                    size_t i = NR_IDX(n, ch, p, C, P);
                    double v = 0;
                    for (int k = 0; k < K; k++) {
                        int q = k * C + ch;
                        double tk = c->tau[k * total + i];
                        double a = tk > 0 && c->lam[q] > 0 ? tk / sqrt(c->lam[q]) : 0.0;
                        v += a * (x[i] - c->mean[q]) * c->rstd[q];
                    }
                    if (dgam) dgam[ch] += g[i] * v;
                    if (dbet) dbet[ch] += g[i];
                }
        goto done;
    }

    /* ACN-R (5.5): (b) through the weights, (c) total dL/dtau, (d) softmax, (e) into x and params */
    {
        double *dm = nr_ds(ds, z.m), *du = nr_ds(ds, z.u), *dp = nr_ds(ds, z.p);
        for (int n = 0; n < N; n++)
            for (int ch = 0; ch < C; ch++)
                for (int p = 0; p < P; p++) {
                    size_t i = NR_IDX(n, ch, p, C, P);
                    double tt = 0;
                    for (int k = 0; k < K; k++) {
                        int q = k * C + ch;
                        double tk = c->tau[k * total + i], r = c->rstd[q];
                        double xh = (x[i] - c->mean[q]) * r;
                        double qq = -H[q] * xh - 0.5 * G[q] * (xh * xh - r * r * c->var[q]);
                        t[k] = g[i] * xh / sqrt(c->lam[k] + eps) + (c->wsum[q] > 0 ? qq / c->wsum[q] : 0.0);
                        tt += tk * t[k];
                        gx[k] += g[i] * xh * tk;
                    }
                    for (int k = 0; k < K; k++) {
                        int q = k * C + ch;
                        double sk = nr_softplus(s[z.u][q]) + eps, d = x[i] - s[z.m][q];
                        rho[k] = c->tau[k * total + i] * (t[k] - tt);
                        dx[i] -= rho[k] * d / sk;
                        if (dm) dm[q] += rho[k] * d / sk;
                        dsv[q] += rho[k] * d * d / (2 * sk * sk);
                        rs[k] += rho[k];
                    }
                }
        if (du)
            for (int q = 0; q < K * C; q++) du[q] = dsv[q] * nr_sigmoid(s[z.u][q]);
        double sl = 0;
        for (int k = 0; k < K; k++) {
            dlam[k] = rs[k] / c->lam[k] - 0.5 * pow(c->lam[k] + eps, -1.5) * gx[k];
            sl += c->lam[k] * dlam[k];
        }
        if (dp)
            for (int k = 0; k < K; k++) dp[k] = c->lam[k] * (dlam[k] - sl);
    }
done:
    free(h); free(H); free(G); free(segc); free(t); free(rho); free(rs); free(gx); free(dlam); free(dsv);
    return st;
}
