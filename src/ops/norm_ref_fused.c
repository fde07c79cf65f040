/* Reference of the fused methods: BCN (Khaled et al., NORMS.md section 7) and AFN (section 9). */
#include <math.h>
#include <string.h>

#include "ops/norm_ref_impl.h"

/* ================================================================================================
 * BCN:  xB = (x - muB_c) / sqrt(varB_c + eps)   over (N, P) per channel (running stats at inference)
 *       xL = (x - muL_n) / sqrt(varL_n + eps)   over (C, P) per sample (always the batch's)
 *       y  = gamma_c (l_c xB + (1 - l_c) xL) + beta_c          (l = "blend", unconstrained, init 1)
 * Backward (7.5): dx = NB_B(g gamma l) + NB_L(g gamma (1-l)); dl_c = sum g gamma (xB - xL);
 *   dgamma_c = sum g (l xB + (1-l) xL); dbeta_c = sum g.
 * Slots: [gamma (C), beta (C)], blend (C), running_mean (C), running_var (C, unbiased).
 * Cache: primary segments = BN branch (c); mean2/var2/rstd2 = LN branch (n).
 * ============================================================================================== */
typedef struct {
    int gi, bi, bl, rm, rv;
    int *segB, *segL;
    double *wsumL;
} bcn_maps;

static vkn_status bcn_maps_make(const vkn_norm_opts *o, int N, bcn_maps *m)
{
    const int C = o->channels;
    int b = o->affine ? 2 : 0;
    m->gi = o->affine ? 0 : -1;
    m->bi = o->affine ? 1 : -1;
    m->bl = b; m->rm = b + 1; m->rv = b + 2;
    m->segB = nr_calloc((size_t)N * C, sizeof(int));
    m->segL = nr_calloc((size_t)N * C, sizeof(int));
    m->wsumL = nr_calloc((size_t)N, sizeof(double));
    if (!m->segB || !m->segL || !m->wsumL) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(bcn): maps");
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            m->segB[n * C + c] = c;
            m->segL[n * C + c] = n;
        }
    return VKN_OK;
}

static void bcn_maps_free(bcn_maps *m)
{
    free(m->segB);
    free(m->segL);
    free(m->wsumL);
}

static vkn_status bcn_forward(const vkn_norm_opts *o, int N, int P, const double *x, double *const *s,
                              int train, double *y, vkn_norm_ref_cache *c)
{
    const int C = o->channels, M = N * P;
    const double eps = vkn_norm_eps(o);
    if (train && M < 2)
        return vkn_status_set(VKN_ERR_SHAPE,
                              "norm_ref(bcn): training needs at least 2 values per channel (N*H*W=%d)", M);
    bcn_maps m = {0};
    vkn_status st = bcn_maps_make(o, N, &m);
    if (st == VKN_OK) st = nr_cache_segs(c, C);
    if (st == VKN_OK) {
        c->nseg2 = N;
        c->mean2 = nr_calloc((size_t)N, sizeof(double));
        c->var2 = nr_calloc((size_t)N, sizeof(double));
        c->rstd2 = nr_calloc((size_t)N, sizeof(double));
        if (!c->mean2 || !c->var2 || !c->rstd2) st = vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(bcn): cache");
    }
    if (st != VKN_OK) { bcn_maps_free(&m); return st; }
    int use_batch = train || o->infer == VKN_NORM_INFER_BATCH;
    c->batch_stats = use_batch;
    if (use_batch) {
        nr_seg_moments(N, C, P, x, m.segB, C, NULL, c->wsum, c->mean, c->var);
    } else {
        for (int q = 0; q < C; q++) {
            c->mean[q] = s[m.rm][q];
            c->var[q] = s[m.rv][q];
            c->wsum[q] = M;
            c->fixed[q] = 1;
        }
    }
    for (int q = 0; q < C; q++) c->rstd[q] = 1.0 / sqrt(c->var[q] + eps);
    if (train)
        for (int q = 0; q < C; q++)
            nr_ema(&s[m.rm][q], &s[m.rv][q], c->mean[q], c->var[q], (double)M / (M - 1), o->momentum);
    nr_seg_moments(N, C, P, x, m.segL, N, NULL, m.wsumL, c->mean2, c->var2);
    for (int n = 0; n < N; n++) c->rstd2[n] = 1.0 / sqrt(c->var2[n] + eps);
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            double l = s[m.bl][ch];
            double ga = m.gi >= 0 ? s[m.gi][ch] : 1.0, be = m.bi >= 0 ? s[m.bi][ch] : 0.0;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                double xb = (x[i] - c->mean[ch]) * c->rstd[ch], xl = (x[i] - c->mean2[n]) * c->rstd2[n];
                y[i] = ga * (l * xb + (1 - l) * xl) + be;
            }
        }
    bcn_maps_free(&m);
    return VKN_OK;
}

static vkn_status bcn_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               double *const *s, const double *g, double *dx, double *const *ds)
{
    const int N = c->N, C = c->C, P = c->P;
    const size_t total = (size_t)N * C * P;
    bcn_maps m = {0};
    vkn_status st = bcn_maps_make(o, N, &m);
    double *hB = nr_calloc(total, sizeof(double)), *hL = nr_calloc(total, sizeof(double));
    if (st == VKN_OK && (!hB || !hL)) st = vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(bcn): backward");
    if (st != VKN_OK) { bcn_maps_free(&m); free(hB); free(hL); return st; }
    double *dgam = m.gi >= 0 ? nr_ds(ds, m.gi) : NULL, *dbet = m.bi >= 0 ? nr_ds(ds, m.bi) : NULL;
    double *dl = nr_ds(ds, m.bl);
    for (int n = 0; n < N; n++) {
        m.wsumL[n] = (double)C * P;
        for (int ch = 0; ch < C; ch++) {
            double l = s[m.bl][ch], ga = m.gi >= 0 ? s[m.gi][ch] : 1.0;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                double xb = (x[i] - c->mean[ch]) * c->rstd[ch], xl = (x[i] - c->mean2[n]) * c->rstd2[n];
                hB[i] = g[i] * ga * l;
                hL[i] = g[i] * ga * (1 - l);
                if (dgam) dgam[ch] += g[i] * (l * xb + (1 - l) * xl);
                if (dbet) dbet[ch] += g[i];
                if (dl) dl[ch] += g[i] * ga * (xb - xl);
            }
        }
    }
    st = nr_seg_backward(N, C, P, x, m.segB, C, NULL, c->wsum, c->mean, c->rstd, c->fixed, hB, dx, NULL, NULL);
    if (st == VKN_OK)
        st = nr_seg_backward(N, C, P, x, m.segL, N, NULL, m.wsumL, c->mean2, c->rstd2, NULL, hL, dx, NULL, NULL);
    bcn_maps_free(&m);
    free(hB);
    free(hL);
    return st;
}

/* ================================================================================================
 * AFN (9.1, gates lambda = sigmoid(theta) for all four gates):
 *   muB_c = <x>,  sdB_c = sqrt(sum (x - muB)^2 / (M-1)) + eps        (unbiased std, eps on the std)
 *   (inference with running stats: muB = running_mean, sdB = sqrt(running_var) + eps)
 *   din_mu = drop(muB), din_sd = drop(sdB)   (train only: keep flag / (1-p))
 *   mu~  = W_mu relu(W_e din_mu + b_e) + b_mu
 *   sd~  = relu(W_sigma relu(W_e din_sd + b_e) + b_sigma)
 *   mu = l_mu mu~ + (1-l_mu) muB,  sd = l_sd sd~ + (1-l_sd) sdB
 *   beta~ = tanh(W_beta relu(W_r muB + b_r) + b_beta'),  gamma~ = sigmoid(W_gamma relu(W_r sdB + b_r) + b_gamma')
 *   beta = l_beta beta~ + b_beta,  gamma = l_gamma gamma~ + b_gamma
 *   y = gamma (x - mu) / sd + beta
 * Backward (9.5), plus the weight gradients of both paths through the shared encoders.
 * Slots (20): enc_std_w (HSxC), enc_std_b (HS), dec_mu_w (CxHS), dec_mu_b (C), dec_sigma_w (CxHS),
 *   dec_sigma_b (C), enc_rescale_w (HRxC), enc_rescale_b (HR), dec_beta_w (CxHR), dec_beta_b (C),
 *   dec_gamma_w (CxHR), dec_gamma_b (C), gate_mu, gate_sigma, gate_beta, gate_gamma (1 each: theta),
 *   beta (C, b_beta), gamma (C, b_gamma), running_mean (C), running_var (C, unbiased).
 * Cache aux layout (doubles), in this order: muB[C] sdB[C] din_mu[C] din_sd[C] a_mu[HS] mut[C]
 *   a_sd[HS] pre_s[C] b_r[HR] pre_b[C] c_r[HR] pre_g[C] mu[C] sd[C] beta[C] gamma[C] ms_mu[C] ms_sd[C]
 *   (ms = the dropout multiplier, 1 when off). Cache mean = muB, var = unbiased batch variance,
 *   rstd = 1/sd.
 * ============================================================================================== */
enum { W_E, B_E, W_MU, B_MU, W_SD, B_SD, W_R, B_R, W_B, B_B, W_G, B_G, T_MU, T_SD, T_B, T_G, BB, BG, RM, RV };

typedef struct {
    double *muB, *sdB, *dinm, *dins, *amu, *mut, *asd, *pres, *br, *preb, *cr, *preg, *mu, *sd, *beta,
        *gam, *msm, *mss;
} afn_aux;

static size_t afn_aux_map(double *a, int C, int hs, int hr, afn_aux *v)
{
    size_t o = 0;
#define TAKE(f, n) (v->f = a ? a + o : NULL, o += (size_t)(n))
    TAKE(muB, C); TAKE(sdB, C); TAKE(dinm, C); TAKE(dins, C); TAKE(amu, hs); TAKE(mut, C);
    TAKE(asd, hs); TAKE(pres, C); TAKE(br, hr); TAKE(preb, C); TAKE(cr, hr); TAKE(preg, C);
    TAKE(mu, C); TAKE(sd, C); TAKE(beta, C); TAKE(gam, C); TAKE(msm, C); TAKE(mss, C);
#undef TAKE
    return o;
}

static double relu(double v) { return v > 0 ? v : 0.0; }

/* out[o] = b[o] + sum_i W[o*nin + i] * act(in[i]), act = relu when rin, else identity */
static void lin(const double *W, const double *b, const double *in, int rin, int nin, int nout, double *out)
{
    for (int q = 0; q < nout; q++) {
        double acc = b[q];
        for (int i = 0; i < nin; i++) acc += W[q * nin + i] * (rin ? relu(in[i]) : in[i]);
        out[q] = acc;
    }
}

/* Backward of out = W act(in) + b given dout: dW += dout act(in)^T, db += dout,
 * din (+=) = (W^T dout) * act'(in). */
static void lin_back(const double *W, const double *in, int rin, int nin, int nout, const double *dout,
                     double *dW, double *db, double *din)
{
    for (int q = 0; q < nout; q++) {
        if (db) db[q] += dout[q];
        for (int i = 0; i < nin; i++) {
            double a = rin ? relu(in[i]) : in[i];
            if (dW) dW[q * nin + i] += dout[q] * a;
            if (din && (!rin || in[i] > 0)) din[i] += W[q * nin + i] * dout[q];
        }
    }
}

static vkn_status afn_forward(const vkn_norm_opts *o, int N, int P, const double *x, const double *mask,
                              double *const *s, int train, double *y, vkn_norm_ref_cache *c)
{
    const int C = o->channels, M = N * P;
    const int hs = vkn_norm_afn_hidden_std(o), hr = vkn_norm_afn_hidden_rescale(o);
    const double eps = vkn_norm_eps(o), pdrop = o->afn_dropout;
    int use_batch = train || o->infer == VKN_NORM_INFER_BATCH;
    if (use_batch && M < 2)
        return vkn_status_set(VKN_ERR_SHAPE,
                              "norm_ref(afn): batch statistics need at least 2 values per channel "
                              "(N*H*W=%d) for the unbiased std",
                              M);
    int drop = train && pdrop > 0;
    if (drop && !mask)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm_ref(afn): training with dropout p=%g needs the 2*C dropout keep flags "
                              "(afn_mask), or set afn_dropout=0",
                              pdrop);
    if (drop)
        for (int i = 0; i < 2 * C; i++)
            if (mask[i] != 0.0 && mask[i] != 1.0)
                return vkn_status_set(VKN_ERR_ARG, "norm_ref(afn): afn_mask[%d]=%g must be 0 or 1", i, mask[i]);
    VKN_TRY(nr_cache_segs(c, C));
    afn_aux v;
    size_t na = afn_aux_map(NULL, C, hs, hr, &v);
    c->aux = nr_calloc(na, sizeof(double));
    int *segc = nr_calloc((size_t)N * C, sizeof(int));
    if (!c->aux || !segc) {
        free(segc);
        return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(afn): cache");
    }
    afn_aux_map(c->aux, C, hs, hr, &v);
    c->batch_stats = use_batch;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) segc[n * C + ch] = ch;
    if (use_batch) {
        nr_seg_moments(N, C, P, x, segc, C, NULL, c->wsum, c->mean, c->var);
        for (int ch = 0; ch < C; ch++) {
            if (train)
                nr_ema(&s[RM][ch], &s[RV][ch], c->mean[ch], c->var[ch], (double)M / (M - 1), o->momentum);
            c->var[ch] *= (double)M / (M - 1); /* unbiased */
        }
    } else {
        for (int ch = 0; ch < C; ch++) {
            c->mean[ch] = s[RM][ch];
            c->var[ch] = s[RV][ch];
            c->wsum[ch] = M;
            c->fixed[ch] = 1;
        }
    }
    free(segc);
    for (int ch = 0; ch < C; ch++) {
        v.muB[ch] = c->mean[ch];
        v.sdB[ch] = sqrt(c->var[ch]) + eps;
        v.msm[ch] = drop ? mask[ch] / (1 - pdrop) : 1.0;
        v.mss[ch] = drop ? mask[C + ch] / (1 - pdrop) : 1.0;
        v.dinm[ch] = v.muB[ch] * v.msm[ch];
        v.dins[ch] = v.sdB[ch] * v.mss[ch];
    }
    double lm = nr_sigmoid(s[T_MU][0]), ls = nr_sigmoid(s[T_SD][0]);
    double lb = nr_sigmoid(s[T_B][0]), lg = nr_sigmoid(s[T_G][0]);
    lin(s[W_E], s[B_E], v.dinm, 0, C, hs, v.amu);
    lin(s[W_MU], s[B_MU], v.amu, 1, hs, C, v.mut);
    lin(s[W_E], s[B_E], v.dins, 0, C, hs, v.asd);
    lin(s[W_SD], s[B_SD], v.asd, 1, hs, C, v.pres);
    lin(s[W_R], s[B_R], v.muB, 0, C, hr, v.br);
    lin(s[W_B], s[B_B], v.br, 1, hr, C, v.preb);
    lin(s[W_R], s[B_R], v.sdB, 0, C, hr, v.cr);
    lin(s[W_G], s[B_G], v.cr, 1, hr, C, v.preg);
    for (int ch = 0; ch < C; ch++) {
        v.mu[ch] = lm * v.mut[ch] + (1 - lm) * v.muB[ch];
        v.sd[ch] = ls * relu(v.pres[ch]) + (1 - ls) * v.sdB[ch];
        v.beta[ch] = lb * tanh(v.preb[ch]) + s[BB][ch];
        v.gam[ch] = lg * nr_sigmoid(v.preg[ch]) + s[BG][ch];
        c->rstd[ch] = 1.0 / v.sd[ch];
    }
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                y[i] = v.gam[ch] * (x[i] - v.mu[ch]) / v.sd[ch] + v.beta[ch];
            }
    return VKN_OK;
}

static vkn_status afn_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                               double *const *s, const double *g, double *dx, double *const *ds)
{
    const int N = c->N, C = c->C, P = c->P, M = N * P;
    const int hs = vkn_norm_afn_hidden_std(o), hr = vkn_norm_afn_hidden_rescale(o);
    const double eps = vkn_norm_eps(o);
    if (!c->batch_stats)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm_ref(afn): backward needs a forward with batch statistics (train, or "
                              "infer=batch)");
    afn_aux v;
    afn_aux_map(c->aux, C, hs, hr, &v);
    int nw = 6 * C + 2 * hs + 2 * hr;
    double *w = nr_calloc((size_t)nw, sizeof(double));
    if (!w) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(afn): backward");
    double *dgam = w, *dbet = w + C, *dmu = w + 2 * C, *dsd = w + 3 * C, *dmuB = w + 4 * C, *dsdB = w + 5 * C;
    double *dh_s = w + 6 * C, *dh_r = dh_s + hs; /* scratch, hs and hr each (x2 for the second path) */
    double *dtmp = nr_calloc((size_t)C, sizeof(double)), *dtmp2 = nr_calloc((size_t)C, sizeof(double));
    if (!dtmp || !dtmp2) { free(w); free(dtmp); free(dtmp2); return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref(afn)"); }
    double lm = nr_sigmoid(s[T_MU][0]), ls = nr_sigmoid(s[T_SD][0]);
    double lb = nr_sigmoid(s[T_B][0]), lg = nr_sigmoid(s[T_G][0]);

    /* y = gamma xhat + beta, xhat = (x - mu)/sd: per-channel sums */
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                double xh = (x[i] - v.mu[ch]) / v.sd[ch], h = g[i] * v.gam[ch];
                dgam[ch] += g[i] * xh;
                dbet[ch] += g[i];
                dmu[ch] -= h / v.sd[ch];
                dsd[ch] -= h * xh / v.sd[ch];
                dx[i] = h / v.sd[ch];
            }
    double dlm = 0, dls = 0, dlb = 0, dlg = 0;
    for (int ch = 0; ch < C; ch++) {
        dlm += dmu[ch] * (v.mut[ch] - v.muB[ch]);
        dls += dsd[ch] * (relu(v.pres[ch]) - v.sdB[ch]);
        dlb += dbet[ch] * tanh(v.preb[ch]);
        dlg += dgam[ch] * nr_sigmoid(v.preg[ch]);
        dmuB[ch] = (1 - lm) * dmu[ch];
        dsdB[ch] = (1 - ls) * dsd[ch];
    }
    if (nr_ds(ds, T_MU)) ds[T_MU][0] = dlm * lm * (1 - lm);
    if (nr_ds(ds, T_SD)) ds[T_SD][0] = dls * ls * (1 - ls);
    if (nr_ds(ds, T_B)) ds[T_B][0] = dlb * lb * (1 - lb);
    if (nr_ds(ds, T_G)) ds[T_G][0] = dlg * lg * (1 - lg);
    for (int ch = 0; ch < C; ch++) {
        if (nr_ds(ds, BB)) ds[BB][ch] = dbet[ch];
        if (nr_ds(ds, BG)) ds[BG][ch] = dgam[ch];
    }

    /* standardization path, mu: mu~ = W_mu relu(a_mu) + b_mu, a_mu = W_e din_mu + b_e */
    for (int ch = 0; ch < C; ch++) dtmp[ch] = lm * dmu[ch];
    memset(dh_s, 0, (size_t)hs * sizeof(double));
    lin_back(s[W_MU], v.amu, 1, hs, C, dtmp, nr_ds(ds, W_MU), nr_ds(ds, B_MU), dh_s);
    memset(dtmp2, 0, (size_t)C * sizeof(double));
    lin_back(s[W_E], v.dinm, 0, C, hs, dh_s, nr_ds(ds, W_E), nr_ds(ds, B_E), dtmp2);
    for (int ch = 0; ch < C; ch++) dmuB[ch] += dtmp2[ch] * v.msm[ch];
    /* sigma: sd~ = relu(pre_s), pre_s = W_sigma relu(a_sd) + b_sigma */
    for (int ch = 0; ch < C; ch++) dtmp[ch] = v.pres[ch] > 0 ? ls * dsd[ch] : 0.0;
    memset(dh_s, 0, (size_t)hs * sizeof(double));
    lin_back(s[W_SD], v.asd, 1, hs, C, dtmp, nr_ds(ds, W_SD), nr_ds(ds, B_SD), dh_s);
    memset(dtmp2, 0, (size_t)C * sizeof(double));
    lin_back(s[W_E], v.dins, 0, C, hs, dh_s, nr_ds(ds, W_E), nr_ds(ds, B_E), dtmp2);
    for (int ch = 0; ch < C; ch++) dsdB[ch] += dtmp2[ch] * v.mss[ch];
    /* rescale path, beta: beta~ = tanh(pre_b), pre_b = W_beta relu(b_r) + b_beta', b_r = W_r muB + b_r */
    for (int ch = 0; ch < C; ch++) {
        double t = tanh(v.preb[ch]);
        dtmp[ch] = lb * dbet[ch] * (1 - t * t);
    }
    memset(dh_r, 0, (size_t)hr * sizeof(double));
    lin_back(s[W_B], v.br, 1, hr, C, dtmp, nr_ds(ds, W_B), nr_ds(ds, B_B), dh_r);
    lin_back(s[W_R], v.muB, 0, C, hr, dh_r, nr_ds(ds, W_R), nr_ds(ds, B_R), dmuB);
    /* gamma: gamma~ = sigmoid(pre_g), pre_g = W_gamma relu(c_r) + b_gamma', c_r = W_r sdB + b_r */
    for (int ch = 0; ch < C; ch++) {
        double t = nr_sigmoid(v.preg[ch]);
        dtmp[ch] = lg * dgam[ch] * t * (1 - t);
    }
    memset(dh_r, 0, (size_t)hr * sizeof(double));
    lin_back(s[W_G], v.cr, 1, hr, C, dtmp, nr_ds(ds, W_G), nr_ds(ds, B_G), dh_r);
    lin_back(s[W_R], v.sdB, 0, C, hr, dh_r, nr_ds(ds, W_R), nr_ds(ds, B_R), dsdB);

    /* into x through the batch statistics: dmuB/dx = 1/M, dsdB/dx = (x - muB) / ((M-1) std) */
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            double sdu = v.sdB[ch] - eps; /* the unbiased std itself */
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, ch, p, C, P);
                dx[i] += dmuB[ch] / M;
                if (sdu > 0) dx[i] += dsdB[ch] * (x[i] - v.muB[ch]) / ((M - 1) * sdu);
            }
        }
    free(w);
    free(dtmp);
    free(dtmp2);
    return VKN_OK;
}

/* ---- entry points ---- */
vkn_status nr_fused_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                            const double *afn_mask, double *const *s, int train, double *y,
                            vkn_norm_ref_cache *c)
{
    if (o->kind == VKN_NORM_BCN) return bcn_forward(o, N, P, x, s, train, y, c);
    return afn_forward(o, N, P, x, afn_mask, s, train, y, c);
}

vkn_status nr_fused_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c, const double *x,
                             double *const *s, const double *g, double *dx, double *const *ds)
{
    if (o->kind == VKN_NORM_BCN) return bcn_backward(o, c, x, s, g, dx, ds);
    return afn_backward(o, c, x, s, g, dx, ds);
}
