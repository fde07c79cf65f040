/* Tests of the double-precision normalization reference (src/ops/norm_ref*.c):
 *   1. finite-difference gradient checks of dx and every learned slot, every method, NCHW and dense
 *      shapes, odd shapes and hard data (1x1 spatial, C = 3 and 7, a channel / sample with mean 1e3
 *      and variance 1e-2, one sample per context, an absent context);
 *   2. exact equivalences between methods;
 *   3. running statistics (PyTorch momentum convention, unbiased variance) and inference modes;
 *   4. bad options and inputs give a clear vkn_status;
 *   5. cross-checks against the plain-Python checks of shared/norms-checks (norm_pyref.h).
 * Tolerance of a comparison: |a - b| <= atol + rtol * |ref|. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "norm_pyref.h"
#include "vkn/norm_ref.h"

/* ---------------------------------------------------------------------------------------------- */
/* helpers                                                                                        */
/* ---------------------------------------------------------------------------------------------- */
static uint64_t rng_state = 1;
static double urand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}
static double nrand(void) { return sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand()); }

#define OK(expr)                                                                                     \
    do {                                                                                             \
        vkn_status s_ = (expr);                                                                      \
        if (s_ != VKN_OK) fail_msg("%s -> %s: %s", #expr, vkn_status_string(s_), vkn_status_detail()); \
    } while (0)

/* Data modes: 0 = N(0.5, 1.5^2); 1 = per-channel offsets, channel 1 has mean 1e3 and std 0.1;
 * 2 = per-sample offsets, sample 0 has mean 1e3 and std 0.1. */
static double *make_x(int N, int C, int P, int mode)
{
    double *x = malloc(sizeof(double) * N * C * P);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++) {
                double mu = 0.5, sd = 1.5;
                if (mode == 1 && c == 1) mu = 1e3, sd = 0.1;
                if (mode == 1 && c != 1) mu = c - 1.0;
                if (mode == 2 && n == 0) mu = 1e3, sd = 0.1;
                x[(n * C + c) * P + p] = mu + sd * nrand();
            }
    return x;
}

/* MN's backward treats the EM posteriors as constants (NORMS.md 6.5), so its finite-difference check
 * uses data whose posteriors are saturated (0 or 1 to double precision): clusters at -3, 0, 3 with
 * std 0.1 and GMM components on them with variance 0.01. Same modes as make_x. */
static double *make_x_mn(int N, int C, int P, int mode)
{
    double *x = malloc(sizeof(double) * N * C * P);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++) {
                double mu = -3.0 + 3.0 * (int)(urand() * 3);
                if ((mode == 1 && c == 1) || (mode == 2 && n == 0)) mu = 1e3;
                x[(n * C + c) * P + p] = mu + 0.1 * nrand();
            }
    return x;
}

static double *randn_vec(size_t n, double sd)
{
    double *v = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = sd * nrand();
    return v;
}

typedef struct {
    vkn_norm_opts o;
    vkn_norm_slot sl[VKN_NORM_MAX_SLOTS];
    int ns;
    double **s;
} layer;

static void layer_make(layer *L, const vkn_norm_opts *o, uint64_t seed)
{
    L->o = *o;
    OK(vkn_norm_slots(o, L->sl, &L->ns));
    OK(vkn_norm_ref_slots_alloc(o, &L->s));
    OK(vkn_norm_ref_init(o, seed, L->s));
}

static void layer_free(layer *L) { vkn_norm_ref_slots_free(&L->o, L->s); }

/* Perturb learned slots away from their (often symmetric) init so every gradient path is exercised. */
static void layer_jitter(layer *L, double sd)
{
    for (int i = 0; i < L->ns; i++)
        if (L->sl[i].learned)
            for (int j = 0; j < L->sl[i].count; j++) L->s[i][j] += sd * nrand();
}

static double **slots_copy(const layer *L)
{
    double **c = calloc(VKN_NORM_MAX_SLOTS, sizeof *c);
    for (int i = 0; i < L->ns; i++) {
        c[i] = malloc(sizeof(double) * L->sl[i].count);
        memcpy(c[i], L->s[i], sizeof(double) * L->sl[i].count);
    }
    return c;
}

static void slots_restore(layer *L, double **from)
{
    for (int i = 0; i < L->ns; i++) memcpy(L->s[i], from[i], sizeof(double) * L->sl[i].count);
}

static void slots_free(double **c)
{
    for (int i = 0; i < VKN_NORM_MAX_SLOTS; i++) free(c[i]);
    free(c);
}

static double max_rel(const double *a, const double *ref, size_t n, double atol, double rtol, size_t *at)
{
    double worst = 0; /* worst |a-b| / (atol + rtol |ref|) */
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - ref[i]);
        double e = d == 0 ? 0 : d / (atol + rtol * fabs(ref[i]));
        if (!(e <= worst)) { worst = e; if (at) *at = i; }
    }
    return worst;
}

static void expect_close(const char *what, const double *a, const double *ref, size_t n, double atol,
                         double rtol)
{
    size_t at = 0;
    double w = max_rel(a, ref, n, atol, rtol, &at);
    if (!(w <= 1.0))
        fail_msg("%s: element %zu: got %.15g, want %.15g (atol %g, rtol %g)", what, at, a[at], ref[at], atol,
                 rtol);
}

/* ---------------------------------------------------------------------------------------------- */
/* 1. finite-difference gradient checks                                                           */
/* ---------------------------------------------------------------------------------------------- */
typedef struct {
    layer *L;
    int N, P, train;
    double *x;
    const int32_t *ctx;
    const double *mask;
    double *g, *y;
    double **snap; /* slots before the step: every loss evaluation starts from them */
} fd_ctx;

static double fd_loss(fd_ctx *f)
{
    slots_restore(f->L, f->snap);
    OK(vkn_norm_ref_forward(&f->L->o, f->N, f->P, f->x, f->ctx, f->mask, f->L->s, f->train, f->y, NULL));
    size_t n = (size_t)f->N * f->L->o.channels * f->P;
    double l = 0;
    for (size_t i = 0; i < n; i++) l += f->g[i] * f->y[i];
    return l;
}

/* Central differences of L = sum(g * y) against the analytic backward, for dx and every learned slot.
 * Step h = 1e-6 (absolute: the steepest inputs have std 0.1), tolerance atol + rtol |analytic|. */
static void fd_check(const char *label, layer *L, int N, int P, double *x, const int32_t *ctx,
                     const double *mask, int train, double atol, double rtol)
{
    const int C = L->o.channels;
    size_t n = (size_t)N * C * P;
    fd_ctx f = {L, N, P, train, x, ctx, mask, randn_vec(n, 1.0), calloc(n, sizeof(double)), slots_copy(L)};
    /* analytic */
    vkn_norm_ref_cache cache = {0};
    double *dx = calloc(n, sizeof(double));
    double *ds[VKN_NORM_MAX_SLOTS] = {0};
    for (int i = 0; i < L->ns; i++)
        if (L->sl[i].learned) ds[i] = calloc(L->sl[i].count, sizeof(double));
    slots_restore(L, f.snap);
    OK(vkn_norm_ref_forward(&L->o, N, P, x, ctx, mask, L->s, train, f.y, &cache));
    slots_restore(L, f.snap); /* backward reads the parameters as the forward saw them */
    OK(vkn_norm_ref_backward(&L->o, &cache, x, ctx, L->s, f.g, dx, ds));
    vkn_norm_ref_cache_free(&cache);

    const double h = 1e-6;
    char what[160];
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double lp = fd_loss(&f);
        x[i] = x0 - h;
        double lm = fd_loss(&f);
        x[i] = x0;
        double num = (lp - lm) / (2 * h);
        if (!(fabs(num - dx[i]) <= atol + rtol * fabs(dx[i])))
            fail_msg("%s [%s N=%d C=%d P=%d train=%d]: dx[%zu] analytic %.12g vs numeric %.12g", label,
                     vkn_norm_kind_name(L->o.kind), N, C, P, train, i, dx[i], num);
    }
    for (int s = 0; s < L->ns; s++) {
        if (!L->sl[s].learned) continue;
        for (int j = 0; j < L->sl[s].count; j++) {
            double v0 = f.snap[s][j];
            f.snap[s][j] = v0 + h;
            double lp = fd_loss(&f);
            f.snap[s][j] = v0 - h;
            double lm = fd_loss(&f);
            f.snap[s][j] = v0;
            double num = (lp - lm) / (2 * h);
            if (!(fabs(num - ds[s][j]) <= atol + rtol * fabs(ds[s][j]))) {
                snprintf(what, sizeof what, "%s", L->sl[s].name);
                fail_msg("%s [%s N=%d C=%d P=%d train=%d]: d%s[%d] analytic %.12g vs numeric %.12g", label,
                         vkn_norm_kind_name(L->o.kind), N, C, P, train, what, j, ds[s][j], num);
            }
        }
    }
    slots_restore(L, f.snap);
    for (int i = 0; i < L->ns; i++) free(ds[i]);
    free(dx);
    free(f.g);
    free(f.y);
    slots_free(f.snap);
}

/* shapes: NCHW (N=4, C=3, P=6), dense (N=6, C=7, P=1), 1x1 spatial NCHW (N=5, C=3, P=1) */
static const int shapes[][3] = {{4, 3, 6}, {6, 7, 1}, {5, 3, 1}};

static vkn_norm_opts opts_for(vkn_norm_kind k, int C)
{
    vkn_norm_opts o = vkn_norm_opts_default(k, C);
    o.contexts = 4;
    o.components = 3;
    o.afn_dropout = 0.25;
    if (k == VKN_NORM_GN) o.groups = C == 3 ? 3 : 1;
    return o;
}

/* context ids for N samples, K = 4: N = 4: {0,0,1,2} (1, 2 single; 3 absent);
 * N = 5: {0,2,0,1,0}; N = 6: {0,1,1,2,0,1} (2 single, 3 absent) */
static const int32_t *ctx_for(int N)
{
    static const int32_t c4[] = {0, 0, 1, 2}, c5[] = {0, 2, 0, 1, 0}, c6[] = {0, 1, 1, 2, 0, 1};
    return N == 4 ? c4 : N == 5 ? c5 : c6;
}

static void fd_kind(vkn_norm_kind k, int train)
{
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int N = shapes[si][0], C = shapes[si][1], P = shapes[si][2];
        for (int mode = 0; mode < 3; mode++) {
            vkn_norm_opts o = opts_for(k, C);
            if (!train && (k == VKN_NORM_ACN || k == VKN_NORM_AFN)) o.infer = VKN_NORM_INFER_BATCH;
            layer L;
            layer_make(&L, &o, 42 + si);
            layer_jitter(&L, 0.3);
            if (k == VKN_NORM_UBN) L.o.ubn_threshold = mode == 2 ? -1.0 : 2.0; /* above / below */
            double *(*gen)(int, int, int, int) = k == VKN_NORM_MN ? make_x_mn : make_x;
            if (!train) { /* make the running statistics non-trivial */
                double *x0 = gen(N, C, P, mode), *y0 = malloc(sizeof(double) * N * C * P);
                double mask0[64];
                for (int i = 0; i < 2 * C; i++) mask0[i] = 1;
                OK(vkn_norm_ref_forward(&L.o, N, P, x0, ctx_for(N), mask0, L.s, 1, y0, NULL));
                free(x0);
                free(y0);
            }
            if (k == VKN_NORM_MN) /* (after the warm-up step: keep the posteriors saturated) */
                for (int q = 0; q < 3 * C; q++) {
                    L.s[vkn_norm_slot_index(&o, "gmm_mean")][q] = -3.0 + 3.0 * (q / C);
                    L.s[vkn_norm_slot_index(&o, "gmm_var")][q] = 0.01;
                    L.s[vkn_norm_slot_index(&o, "gmm_weight")][q] = 1.0 / 3;
                }
            double *x = gen(N, C, P, mode);
            double mask[64];
            for (int i = 0; i < 2 * C; i++) mask[i] = (i % 3) != 1; /* some dropped */
            double atol = mode ? 2e-5 : 2e-6, rtol = 2e-5;
            char label[64];
            snprintf(label, sizeof label, "fd shape %zu mode %d", si, mode);
            fd_check(label, &L, N, P, x, ctx_for(N), mask, train, atol, rtol);
            free(x);
            layer_free(&L);
        }
    }
}

#define FD_TEST(name, kind)                                                                          \
    static void test_fd_##name(void **st)                                                            \
    {                                                                                                \
        (void)st;                                                                                    \
        fd_kind(kind, 1);                                                                            \
        fd_kind(kind, 0);                                                                            \
    }
FD_TEST(none, VKN_NORM_NONE)
FD_TEST(bn, VKN_NORM_BN)
FD_TEST(ln, VKN_NORM_LN)
FD_TEST(in, VKN_NORM_IN)
FD_TEST(gn, VKN_NORM_GN)
FD_TEST(cbn, VKN_NORM_CBN)
FD_TEST(cn, VKN_NORM_CN)
FD_TEST(cnx, VKN_NORM_CNX)
FD_TEST(acn, VKN_NORM_ACN)
FD_TEST(mn, VKN_NORM_MN)
FD_TEST(bcn, VKN_NORM_BCN)
FD_TEST(ubn, VKN_NORM_UBN)
FD_TEST(afn, VKN_NORM_AFN)

static void test_fd_variants(void **st)
{
    (void)st;
    int N = 4, C = 3, P = 6;
    struct { vkn_norm_kind k; int variant; } v[] = {
        {VKN_NORM_CNX, 1},  /* CN-emb */
        {VKN_NORM_CN, 1},   /* no prior scaling, no affine, user priors */
        {VKN_NORM_GN, 1},   /* groups = 1 on 6 channels -> 2 groups of 3 */
        {VKN_NORM_BN, 1},   /* no affine */
        {VKN_NORM_UBN, 1},  /* above threshold with batch statistics kept */
        {VKN_NORM_ACN, 1},  /* K = 1 and K = 5 */
        {VKN_NORM_AFN, 1},  /* wider hidden layers, no dropout */
    };
    static const double pri[4] = {0.1, 0.2, 0.3, 0.4};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        vkn_norm_opts o = opts_for(v[i].k, C);
        int c = C;
        switch (v[i].k) {
        case VKN_NORM_CNX: o.cnx_embedder = 1; break;
        case VKN_NORM_CN: o.cn_prior_scale = 0; o.affine = 0; o.cn_priors = pri; break;
        case VKN_NORM_GN: c = 6; o = opts_for(VKN_NORM_GN, 6); o.groups = 2; break;
        case VKN_NORM_BN: o.affine = 0; break;
        case VKN_NORM_UBN: o.ubn_threshold = -1; o.ubn_batch_stats_above = 1; break;
        case VKN_NORM_ACN: o.components = 5; break;
        case VKN_NORM_AFN: o.afn_hidden_std = 3; o.afn_hidden_rescale = 2; o.afn_dropout = 0; break;
        default: break;
        }
        layer L;
        layer_make(&L, &o, 7);
        layer_jitter(&L, 0.3);
        double *x = make_x(N, c, P, 0);
        fd_check("variant", &L, N, P, x, ctx_for(N), NULL, 1, 2e-6, 2e-5);
        if (v[i].k == VKN_NORM_CN) fd_check("variant", &L, N, P, x, ctx_for(N), NULL, 0, 2e-6, 2e-5);
        free(x);
        layer_free(&L);
        if (v[i].k == VKN_NORM_ACN) {
            o.components = 1;
            layer_make(&L, &o, 8);
            layer_jitter(&L, 0.3);
            x = make_x(N, c, P, 1);
            fd_check("acn K=1", &L, N, P, x, NULL, NULL, 1, 2e-5, 2e-5);
            free(x);
            layer_free(&L);
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* 2. exact equivalences                                                                           */
/* ---------------------------------------------------------------------------------------------- */
/* Run a and b forward (train) and backward on the same x, g; compare y, dx, and the named slots'
 * values after the step and gradients. yscale multiplies b's y and gradients (ACN's 1/sqrt(1+eps)). */
static void expect_same(const char *what, layer *A, layer *B, int N, int P, const double *x,
                        const int32_t *ctxA, const int32_t *ctxB, double yscale, const char *const *names)
{
    int C = A->o.channels;
    size_t n = (size_t)N * C * P;
    double *ya = malloc(n * sizeof(double)), *yb = malloc(n * sizeof(double));
    double *dxa = malloc(n * sizeof(double)), *dxb = malloc(n * sizeof(double));
    double *g = randn_vec(n, 1.0);
    double *dsa[VKN_NORM_MAX_SLOTS] = {0}, *dsb[VKN_NORM_MAX_SLOTS] = {0};
    for (int i = 0; i < A->ns; i++) if (A->sl[i].learned) dsa[i] = calloc(A->sl[i].count, sizeof(double));
    for (int i = 0; i < B->ns; i++) if (B->sl[i].learned) dsb[i] = calloc(B->sl[i].count, sizeof(double));
    vkn_norm_ref_cache ca = {0}, cb = {0};
    double **sa = slots_copy(A), **sb = slots_copy(B);
    OK(vkn_norm_ref_forward(&A->o, N, P, x, ctxA, NULL, A->s, 1, ya, &ca));
    OK(vkn_norm_ref_forward(&B->o, N, P, x, ctxB, NULL, B->s, 1, yb, &cb));
    for (size_t i = 0; i < n; i++) yb[i] *= yscale;
    char buf[200];
    snprintf(buf, sizeof buf, "%s: y", what);
    expect_close(buf, ya, yb, n, 1e-12, 1e-11);
    for (int k = 0; names && names[k]; k++) {
        int ia = vkn_norm_slot_index(&A->o, names[k]), ib = vkn_norm_slot_index(&B->o, names[k]);
        assert_true(ia >= 0 && ib >= 0);
        if (A->sl[ia].learned) continue;
        snprintf(buf, sizeof buf, "%s: %s after a step", what, names[k]);
        expect_close(buf, A->s[ia], B->s[ib], (size_t)B->sl[ib].count, 1e-12, 1e-11);
    }
    OK(vkn_norm_ref_backward(&A->o, &ca, x, ctxA, sa, g, dxa, dsa));
    OK(vkn_norm_ref_backward(&B->o, &cb, x, ctxB, sb, g, dxb, dsb));
    for (size_t i = 0; i < n; i++) dxb[i] *= yscale;
    snprintf(buf, sizeof buf, "%s: dx", what);
    expect_close(buf, dxa, dxb, n, 1e-10, 1e-10);
    for (int k = 0; names && names[k]; k++) {
        int ia = vkn_norm_slot_index(&A->o, names[k]), ib = vkn_norm_slot_index(&B->o, names[k]);
        if (!A->sl[ia].learned) continue;
        snprintf(buf, sizeof buf, "%s: d%s", what, names[k]);
        expect_close(buf, dsa[ia], dsb[ib], (size_t)B->sl[ib].count, 1e-10, 1e-10);
    }
    for (int i = 0; i < VKN_NORM_MAX_SLOTS; i++) { free(dsa[i]); free(dsb[i]); }
    vkn_norm_ref_cache_free(&ca);
    vkn_norm_ref_cache_free(&cb);
    slots_free(sa);
    slots_free(sb);
    free(ya); free(yb); free(dxa); free(dxb); free(g);
}

static void copy_slot(layer *dst, const char *dn, layer *src, const char *sn)
{
    int i = vkn_norm_slot_index(&dst->o, dn), j = vkn_norm_slot_index(&src->o, sn);
    assert_true(i >= 0 && j >= 0);
    assert_int_equal(dst->sl[i].count, src->sl[j].count);
    memcpy(dst->s[i], src->s[j], sizeof(double) * dst->sl[i].count);
}

static const char *const AFF_RUN[] = {"gamma", "beta", "running_mean", "running_var", NULL};
static const char *const AFF[] = {"gamma", "beta", NULL};

static void test_equivalences(void **st)
{
    (void)st;
    static const int32_t zeros[8] = {0};
    for (int si = 0; si < 2; si++) {
        int N = si ? 6 : 4, C = si ? 7 : 3, P = si ? 1 : 5;
        double *x = make_x(N, C, P, 1);
        layer bn, other;
        vkn_norm_opts ob = vkn_norm_opts_default(VKN_NORM_BN, C);
        ob.eps = 1e-3;
        layer_make(&bn, &ob, 1);
        layer_jitter(&bn, 0.3);
        double **bn0 = slots_copy(&bn);

        /* CN with one context and lambda = 1 == BN */
        vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_CN, C);
        o.eps = 1e-3;
        layer_make(&other, &o, 2);
        copy_slot(&other, "gamma", &bn, "gamma");
        copy_slot(&other, "beta", &bn, "beta");
        expect_same("cn(K=1) == bn", &other, &bn, N, P, x, zeros, NULL, 1.0, AFF_RUN);
        layer_free(&other);
        slots_restore(&bn, bn0);

        /* CBN with one class == BN */
        o = vkn_norm_opts_default(VKN_NORM_CBN, C);
        o.eps = 1e-3;
        layer_make(&other, &o, 3);
        copy_slot(&other, "gamma", &bn, "gamma");
        copy_slot(&other, "beta", &bn, "beta");
        expect_same("cbn(1 class) == bn", &other, &bn, N, P, x, zeros, NULL, 1.0, AFF_RUN);
        layer_free(&other);
        slots_restore(&bn, bn0);

        /* UBN below its threshold == BN */
        o = vkn_norm_opts_default(VKN_NORM_UBN, C);
        o.eps = 1e-3;
        o.ubn_threshold = 1.0; /* the mean cosine never exceeds 1 */
        layer_make(&other, &o, 4);
        copy_slot(&other, "gamma", &bn, "gamma");
        copy_slot(&other, "beta", &bn, "beta");
        expect_same("ubn(below) == bn", &other, &bn, N, P, x, NULL, NULL, 1.0, AFF_RUN);
        layer_free(&other);
        slots_restore(&bn, bn0);

        /* BCN with l = 1 == BN */
        o = vkn_norm_opts_default(VKN_NORM_BCN, C);
        o.eps = 1e-3;
        layer_make(&other, &o, 5);
        copy_slot(&other, "gamma", &bn, "gamma");
        copy_slot(&other, "beta", &bn, "beta");
        expect_same("bcn(l=1) == bn", &other, &bn, N, P, x, NULL, NULL, 1.0, AFF_RUN);
        slots_restore(&bn, bn0);

        /* BCN with l = 0 == LN (per-channel affine) */
        layer ln;
        vkn_norm_opts ol = vkn_norm_opts_default(VKN_NORM_LN, C);
        ol.eps = 1e-3;
        layer_make(&ln, &ol, 6);
        layer_jitter(&ln, 0.3);
        copy_slot(&other, "gamma", &ln, "gamma");
        copy_slot(&other, "beta", &ln, "beta");
        int bl = vkn_norm_slot_index(&other.o, "blend");
        for (int c = 0; c < C; c++) other.s[bl][c] = 0;
        expect_same("bcn(l=0) == ln", &other, &ln, N, P, x, NULL, NULL, 1.0, AFF);
        layer_free(&other);

        /* GN with one group == LN; GN with C groups == IN */
        o = vkn_norm_opts_default(VKN_NORM_GN, C);
        o.eps = 1e-3;
        o.groups = 1;
        layer_make(&other, &o, 7);
        copy_slot(&other, "gamma", &ln, "gamma");
        copy_slot(&other, "beta", &ln, "beta");
        expect_same("gn(G=1) == ln", &other, &ln, N, P, x, NULL, NULL, 1.0, AFF);
        layer_free(&other);
        if (P > 1) {
            layer in;
            vkn_norm_opts oi = vkn_norm_opts_default(VKN_NORM_IN, C);
            oi.eps = 1e-3;
            layer_make(&in, &oi, 8);
            layer_jitter(&in, 0.3);
            o.groups = C;
            layer_make(&other, &o, 9);
            copy_slot(&other, "gamma", &in, "gamma");
            copy_slot(&other, "beta", &in, "beta");
            expect_same("gn(G=C) == in", &other, &in, N, P, x, NULL, NULL, 1.0, AFF);
            layer_free(&other);
            layer_free(&in);
        }
        layer_free(&ln);

        /* MN with K = 1 == BN (with the same affine; running stats equal too) */
        o = vkn_norm_opts_default(VKN_NORM_MN, C);
        o.eps = 1e-3;
        o.components = 1;
        layer_make(&other, &o, 10);
        copy_slot(&other, "gamma", &bn, "gamma");
        copy_slot(&other, "beta", &bn, "beta");
        expect_same("mn(K=1) == bn", &other, &bn, N, P, x, NULL, NULL, 1.0, AFF_RUN);
        layer_free(&other);
        slots_restore(&bn, bn0);

        /* ACN with K = 1 == BN without affine, times 1/sqrt(1 + eps) (a = tau / sqrt(lambda + eps)) */
        layer bn2;
        ob.affine = 0;
        layer_make(&bn2, &ob, 11);
        o = vkn_norm_opts_default(VKN_NORM_ACN, C);
        o.eps = 1e-3;
        o.components = 1;
        layer_make(&other, &o, 12);
        layer_jitter(&other, 0.3);
        static const char *const RUN[] = {"running_mean", "running_var", NULL};
        expect_same("acn(K=1) == bn(no affine)/sqrt(1+eps)", &other, &bn2, N, P, x, NULL, NULL,
                    1.0 / sqrt(1.0 + 1e-3), RUN);
        layer_free(&other);
        layer_free(&bn2);

        slots_free(bn0);
        layer_free(&bn);
        free(x);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* 3. running statistics and inference                                                             */
/* ---------------------------------------------------------------------------------------------- */
/* plain two-pass mean and biased variance of channel c over the samples with mask[n] */
static void chan_stats(const double *x, int N, int C, int P, int c, const int *sel, double *mean,
                       double *var, int *cnt)
{
    double s = 0;
    int m = 0;
    for (int n = 0; n < N; n++)
        if (!sel || sel[n])
            for (int p = 0; p < P; p++) s += x[(n * C + c) * P + p], m++;
    double mu = s / m, v = 0;
    for (int n = 0; n < N; n++)
        if (!sel || sel[n])
            for (int p = 0; p < P; p++) v += pow(x[(n * C + c) * P + p] - mu, 2);
    *mean = mu;
    *var = v / m;
    *cnt = m;
}

static void test_running_bn_family(void **st)
{
    (void)st;
    const int N = 4, C = 3, P = 5;
    const double m = 0.3;
    vkn_norm_kind kinds[] = {VKN_NORM_BN, VKN_NORM_CBN, VKN_NORM_BCN, VKN_NORM_UBN, VKN_NORM_AFN};
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        vkn_norm_opts o = vkn_norm_opts_default(kinds[ki], C);
        o.momentum = m;
        o.contexts = 2;
        o.afn_dropout = 0;
        o.ubn_threshold = 1.0;
        layer L;
        layer_make(&L, &o, 3);
        layer_jitter(&L, 0.2);
        int rm = vkn_norm_slot_index(&o, "running_mean"), rv = vkn_norm_slot_index(&o, "running_var");
        double em[3] = {0, 0, 0}, ev[3] = {1, 1, 1};
        static const int32_t ctx[4] = {0, 1, 1, 0};
        double *y = malloc(sizeof(double) * N * C * P);
        for (int step = 0; step < 2; step++) {
            double *x = make_x(N, C, P, step);
            OK(vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, L.s, 1, y, NULL));
            for (int c = 0; c < C; c++) {
                double mu, var;
                int cnt;
                chan_stats(x, N, C, P, c, NULL, &mu, &var, &cnt);
                em[c] = (1 - m) * em[c] + m * mu;
                ev[c] = (1 - m) * ev[c] + m * var * cnt / (cnt - 1);
            }
            free(x);
        }
        expect_close("running_mean after 2 steps", L.s[rm], em, C, 1e-12, 1e-12);
        expect_close("running_var after 2 steps", L.s[rv], ev, C, 1e-12, 1e-12);
        /* inference uses them and leaves them alone */
        double *x = make_x(N, C, P, 0);
        double **before = slots_copy(&L);
        OK(vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, L.s, 0, y, NULL));
        for (int i = 0; i < L.ns; i++)
            expect_close("slots unchanged by inference", L.s[i], before[i], L.sl[i].count, 0, 0);
        if (kinds[ki] == VKN_NORM_BN || kinds[ki] == VKN_NORM_UBN || kinds[ki] == VKN_NORM_CBN) {
            double eps = vkn_norm_eps(&o);
            int gi = vkn_norm_slot_index(&o, "gamma"), bi = vkn_norm_slot_index(&o, "beta");
            double *want = malloc(sizeof(double) * N * C * P);
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++) {
                    int a = kinds[ki] == VKN_NORM_CBN ? ctx[n] * C + c : c;
                    for (int p = 0; p < P; p++) {
                        int i = (n * C + c) * P + p;
                        want[i] = L.s[gi][a] * (x[i] - em[c]) / sqrt(ev[c] + eps) + L.s[bi][a];
                    }
                }
            expect_close("inference with running stats", y, want, (size_t)N * C * P, 1e-12, 1e-12);
            free(want);
        }
        if (kinds[ki] == VKN_NORM_AFN) {
            /* AFN inference feeds the running statistics to the MLPs: equal to a batch whose mean
             * and unbiased variance are the running ones; check via the cache */
            vkn_norm_ref_cache c = {0};
            OK(vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, L.s, 0, y, &c));
            expect_close("afn inference mean", c.mean, em, C, 1e-12, 1e-12);
            expect_close("afn inference var", c.var, ev, C, 1e-12, 1e-12);
            assert_int_equal(c.batch_stats, 0);
            vkn_norm_ref_cache_free(&c);
        }
        /* infer = batch == the train forward's output, without touching buffers */
        o.infer = VKN_NORM_INFER_BATCH;
        double *yb = malloc(sizeof(double) * N * C * P);
        OK(vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, L.s, 0, yb, NULL));
        for (int i = 0; i < L.ns; i++)
            expect_close("slots unchanged by infer=batch", L.s[i], before[i], L.sl[i].count, 0, 0);
        OK(vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, L.s, 1, y, NULL));
        expect_close("infer=batch == train output", yb, y, (size_t)N * C * P, 1e-13, 1e-13);
        free(yb);
        slots_free(before);
        free(x);
        free(y);
        layer_free(&L);
    }
}

static void test_running_cn(void **st)
{
    (void)st;
    /* dense, K = 4, ids {0,1,1,2,0,1}: context 2 has a single element (running stats, no update),
     * context 3 is absent (no update) */
    const int N = 6, C = 3, P = 1, K = 4;
    const double m = 0.25;
    const int32_t *ctx = ctx_for(N);
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_CN, C);
    o.contexts = K;
    o.momentum = m;
    layer L;
    layer_make(&L, &o, 5);
    layer_jitter(&L, 0.2);
    int rm = vkn_norm_slot_index(&o, "running_mean"), rv = vkn_norm_slot_index(&o, "running_var");
    double em[12], ev[12];
    for (int i = 0; i < K * C; i++) em[i] = 0, ev[i] = 1;
    double y[18];
    for (int step = 0; step < 2; step++) {
        double *x = make_x(N, C, P, step);
        OK(vkn_norm_ref_forward(&o, N, P, x, ctx, NULL, L.s, 1, y, NULL));
        for (int k = 0; k < 2; k++) {
            int sel[6];
            for (int n = 0; n < N; n++) sel[n] = ctx[n] == k;
            for (int c = 0; c < C; c++) {
                double mu, var;
                int cnt;
                chan_stats(x, N, C, P, c, sel, &mu, &var, &cnt);
                em[k * C + c] = (1 - m) * em[k * C + c] + m * mu;
                ev[k * C + c] = (1 - m) * ev[k * C + c] + m * var * cnt / (cnt - 1);
            }
        }
        /* the single-element context 2 was normalized with its running stats (0, 1) */
        int gi = 0, bi = 1, pr = vkn_norm_slot_index(&o, "priors");
        for (int c = 0; c < C; c++) {
            int i = 3 * C + c;
            double want = (L.s[gi][2 * C + c] * (x[i] - 0) / sqrt(1 + 1e-3) + L.s[bi][2 * C + c]) /
                          sqrt(L.s[pr][2]);
            assert_true(fabs(y[i] - want) < 1e-12);
        }
        free(x);
    }
    expect_close("cn running_mean", L.s[rm], em, (size_t)K * C, 1e-12, 1e-12);
    expect_close("cn running_var", L.s[rv], ev, (size_t)K * C, 1e-12, 1e-12);
    /* default prior 1/K: every output carries sqrt(K) */
    assert_true(fabs(L.s[vkn_norm_slot_index(&o, "priors")][0] - 0.25) < 1e-15);
    layer_free(&L);
}

static void test_mixture_state(void **st)
{
    (void)st;
    const int N = 5, C = 3, P = 4, K = 3;
    /* MN: after one train step the EM state is the M-step of this batch's posteriors, and the
     * running stats follow the weighted unbiased EMA */
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_MN, C);
    o.components = K;
    o.momentum = 0.2;
    layer L;
    layer_make(&L, &o, 9);
    double *x = make_x(N, C, P, 0), y[60];
    vkn_norm_ref_cache c = {0};
    OK(vkn_norm_ref_forward(&o, N, P, x, NULL, NULL, L.s, 1, y, &c));
    int gm = vkn_norm_slot_index(&o, "gmm_mean"), gv = vkn_norm_slot_index(&o, "gmm_var");
    int gw = vkn_norm_slot_index(&o, "gmm_weight"), rm = vkn_norm_slot_index(&o, "running_mean");
    int rv = vkn_norm_slot_index(&o, "running_var");
    size_t tot = (size_t)N * C * P;
    for (int k = 0; k < K; k++)
        for (int ch = 0; ch < C; ch++) {
            int q = k * C + ch;
            double S = 0, S2 = 0, sx = 0;
            for (int n = 0; n < N; n++)
                for (int p = 0; p < P; p++) {
                    size_t i = ((size_t)n * C + ch) * P + p;
                    double t = c.tau[k * tot + i];
                    S += t, S2 += t * t, sx += t * x[i];
                }
            double mu = sx / S, v = 0;
            for (int n = 0; n < N; n++)
                for (int p = 0; p < P; p++) {
                    size_t i = ((size_t)n * C + ch) * P + p;
                    v += c.tau[k * tot + i] * pow(x[i] - mu, 2);
                }
            v /= S;
            assert_true(fabs(L.s[gm][q] - mu) < 1e-12);
            assert_true(fabs(L.s[gv][q] - (v + 1e-4)) < 1e-12);
            assert_true(fabs(L.s[gw][q] - S / (N * P)) < 1e-12);
            assert_true(fabs(L.s[rm][q] - 0.2 * mu) < 1e-12);
            assert_true(fabs(L.s[rv][q] - (0.8 + 0.2 * v * S * S / (S * S - S2))) < 1e-12);
        }
    /* posteriors sum to 1 per element */
    for (size_t i = 0; i < tot; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += c.tau[k * tot + i];
        assert_true(fabs(s - 1) < 1e-14);
    }
    vkn_norm_ref_cache_free(&c);
    layer_free(&L);

    /* ACN infer = learned: y = sum_k tau_k / sqrt(lambda_k + eps) (x - m_k) / sqrt(softplus(u_k) + eps) */
    o = vkn_norm_opts_default(VKN_NORM_ACN, C);
    o.infer = VKN_NORM_INFER_LEARNED;
    layer_make(&L, &o, 10);
    OK(vkn_norm_ref_forward(&o, N, P, x, NULL, NULL, L.s, 0, y, NULL));
    double eps = vkn_norm_eps(&o), lam[3], z = 0;
    for (int k = 0; k < K; k++) z += lam[k] = exp(L.s[2][k]);
    for (int k = 0; k < K; k++) lam[k] /= z;
    for (size_t i = 0; i < tot; i++) {
        int ch = (int)((i / P) % C);
        double l[3], mx = -1e300, zz = 0, want = 0;
        for (int k = 0; k < K; k++) {
            double s2 = log1p(exp(L.s[1][k * C + ch])) + eps;
            l[k] = log(lam[k]) - pow(x[i] - L.s[0][k * C + ch], 2) / (2 * s2);
            mx = fmax(mx, l[k]);
        }
        for (int k = 0; k < K; k++) zz += l[k] = exp(l[k] - mx);
        for (int k = 0; k < K; k++)
            want += l[k] / zz / sqrt(lam[k] + eps) * (x[i] - L.s[0][k * C + ch]) /
                    sqrt(log1p(exp(L.s[1][k * C + ch])) + eps);
        assert_true(fabs(y[i] - want) < 1e-12);
    }
    /* backward after a non-batch forward is refused with a clear message */
    vkn_norm_ref_cache cc = {0};
    OK(vkn_norm_ref_forward(&o, N, P, x, NULL, NULL, L.s, 0, y, &cc));
    double dx[60];
    assert_int_equal(vkn_norm_ref_backward(&o, &cc, x, NULL, L.s, y, dx, NULL), VKN_ERR_ARG);
    assert_non_null(strstr(vkn_status_detail(), "batch statistics"));
    vkn_norm_ref_cache_free(&cc);
    layer_free(&L);
    free(x);
}

static void test_ubn_similarity(void **st)
{
    (void)st;
    const int N = 5, C = 3, P = 4, D = C * P;
    double *x = make_x(N, C, P, 0);
    double s = 0;
    int pairs = 0;
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) {
            if (a == b) continue;
            double ab = 0, aa = 0, bb = 0;
            for (int j = 0; j < D; j++) {
                ab += x[a * D + j] * x[b * D + j];
                aa += x[a * D + j] * x[a * D + j];
                bb += x[b * D + j] * x[b * D + j];
            }
            s += ab / sqrt(aa * bb);
            pairs++;
        }
    s /= pairs;
    assert_true(fabs(vkn_norm_ref_ubn_similarity(N, C, P, x) - s) < 1e-13);
    /* above the threshold: running stats, no update; the cache reports the similarity */
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_UBN, C);
    o.ubn_threshold = s - 1e-3;
    layer L;
    layer_make(&L, &o, 1);
    double y[60];
    vkn_norm_ref_cache c = {0};
    OK(vkn_norm_ref_forward(&o, N, P, x, NULL, NULL, L.s, 1, y, &c));
    assert_int_equal(c.above, 1);
    assert_true(fabs(c.similarity - s) < 1e-13);
    for (int i = 0; i < C; i++) assert_true(L.s[2][i] == 0.0 && L.s[3][i] == 1.0);
    for (int i = 0; i < N * C * P; i++) assert_true(fabs(y[i] - x[i] / sqrt(1 + 1e-5)) < 1e-12);
    o.ubn_threshold = s + 1e-3;
    OK(vkn_norm_ref_forward(&o, N, P, x, NULL, NULL, L.s, 1, y, &c));
    assert_int_equal(c.above, 0);
    assert_true(L.s[2][0] != 0.0);
    vkn_norm_ref_cache_free(&c);
    layer_free(&L);
    free(x);
}

/* ---------------------------------------------------------------------------------------------- */
/* 4. bad options and inputs                                                                       */
/* ---------------------------------------------------------------------------------------------- */
static void expect_err(vkn_status got, vkn_status want, const char *needle)
{
    if (got != want)
        fail_msg("status %s (%s), want %s", vkn_status_string(got), vkn_status_detail(), vkn_status_string(want));
    if (!strstr(vkn_status_detail(), needle))
        fail_msg("detail '%s' lacks '%s'", vkn_status_detail(), needle);
}

static void test_bad_options(void **st)
{
    (void)st;
    vkn_norm_opts o;
#define BAD(kind, C, edit, needle)                                                                   \
    do {                                                                                             \
        o = vkn_norm_opts_default(kind, C);                                                          \
        edit;                                                                                        \
        expect_err(vkn_norm_opts_check(&o), VKN_ERR_ARG, needle);                                    \
    } while (0)
    BAD(VKN_NORM_BN, 0, (void)0, "channels=0");
    BAD(VKN_NORM_GN, 6, o.groups = 4, "groups=4 does not divide channels=6");
    BAD(VKN_NORM_GN, 6, o.groups = 0, "groups=0");
    BAD(VKN_NORM_ACN, 6, o.components = 0, "components K=0");
    BAD(VKN_NORM_MN, 6, o.components = -1, "components K=-1");
    BAD(VKN_NORM_BN, 6, o.eps = -1e-5, "eps=-1e-05");
    BAD(VKN_NORM_BN, 6, o.eps = NAN, "eps=nan");
    BAD(VKN_NORM_BN, 6, o.momentum = 1.5, "momentum=1.5");
    BAD(VKN_NORM_BN, 6, o.momentum = -0.1, "momentum=-0.1");
    BAD(VKN_NORM_BN, 6, o.kind = (vkn_norm_kind)99, "unknown kind 99 (valid: none, bn");
    BAD(VKN_NORM_CN, 6, o.contexts = 0, "contexts=0");
    BAD(VKN_NORM_CBN, 6, o.affine = 0, "norm(cbn): affine=0");
    BAD(VKN_NORM_ACN, 6, o.affine = 1, "norm(acn): has no affine");
    BAD(VKN_NORM_BN, 6, o.infer = VKN_NORM_INFER_LEARNED, "only for acn");
    static const double badp[2] = {0.5, 0.0};
    BAD(VKN_NORM_CN, 6, (o.contexts = 2, o.cn_priors = badp), "prior[1]=0");
    BAD(VKN_NORM_AFN, 6, o.afn_dropout = 1.0, "dropout p=1");
    BAD(VKN_NORM_UBN, 6, o.ubn_threshold = INFINITY, "threshold=inf");
    BAD(VKN_NORM_MN, 6, o.mn_var_floor = -1, "mn_var_floor=-1");
    BAD(VKN_NORM_CNX, 6, o.cnx_embedder = 2, "cnx_embedder=2");
#undef BAD
    expect_err(vkn_norm_opts_check(NULL), VKN_ERR_ARG, "NULL");

    /* every default is valid; eps = 0 selects the method default */
    for (int k = 0; k < VKN_NORM_KIND_COUNT_; k++) {
        o = vkn_norm_opts_default((vkn_norm_kind)k, 7);
        OK(vkn_norm_opts_check(&o));
    }
    o = vkn_norm_opts_default(VKN_NORM_AFN, 4);
    assert_true(vkn_norm_eps(&o) == 1e-6);
    o.eps = 1e-4;
    assert_true(vkn_norm_eps(&o) == 1e-4);
    o = vkn_norm_opts_default(VKN_NORM_GN, 64);
    assert_int_equal(o.groups, 32);
    o = vkn_norm_opts_default(VKN_NORM_GN, 7);
    assert_int_equal(o.groups, 7);

    /* names */
    vkn_norm_kind k;
    for (int i = 0; i < VKN_NORM_KIND_COUNT_; i++) {
        OK(vkn_norm_kind_from_name(vkn_norm_kind_name((vkn_norm_kind)i), &k));
        assert_int_equal(k, i);
    }
    OK(vkn_norm_kind_from_name("CN-X", &k));
    assert_int_equal(k, VKN_NORM_CNX);
    expect_err(vkn_norm_kind_from_name("batchnorm", &k), VKN_ERR_ARG,
               "unknown normalization 'batchnorm' (valid: none, bn, ln, in, gn, cbn, cn, cnx, acn, mn, bcn, ubn, afn)");

    /* bad inputs */
    o = vkn_norm_opts_default(VKN_NORM_CN, 3);
    o.contexts = 2;
    layer L;
    layer_make(&L, &o, 1);
    double x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[12];
    static const int32_t bad_ctx[4] = {0, 1, 2, 0};
    expect_err(vkn_norm_ref_forward(&o, 4, 1, x, bad_ctx, NULL, L.s, 1, y, NULL), VKN_ERR_ARG,
               "sample 2 has id 2, outside 0..1");
    expect_err(vkn_norm_ref_forward(&o, 4, 1, x, NULL, NULL, L.s, 1, y, NULL), VKN_ERR_ARG,
               "needs context ids");
    expect_err(vkn_norm_ref_forward(&o, 0, 1, x, bad_ctx, NULL, L.s, 1, y, NULL), VKN_ERR_SHAPE, "N=0");
    layer_free(&L);
    o = vkn_norm_opts_default(VKN_NORM_BN, 3);
    layer_make(&L, &o, 1);
    expect_err(vkn_norm_ref_forward(&o, 1, 1, x, NULL, NULL, L.s, 1, y, NULL), VKN_ERR_SHAPE,
               "at least 2 values per channel");
    OK(vkn_norm_ref_forward(&o, 1, 1, x, NULL, NULL, L.s, 0, y, NULL)); /* inference is fine */
    double *ds[VKN_NORM_MAX_SLOTS] = {0};
    ds[2] = y; /* running_mean is a buffer */
    vkn_norm_ref_cache c = {0};
    OK(vkn_norm_ref_forward(&o, 4, 1, x, NULL, NULL, L.s, 1, y, &c));
    double dx[12], g[12] = {0};
    expect_err(vkn_norm_ref_backward(&o, &c, x, NULL, L.s, g, dx, ds), VKN_ERR_ARG, "running_mean");
    vkn_norm_ref_cache_free(&c);
    layer_free(&L);
    o = vkn_norm_opts_default(VKN_NORM_AFN, 3);
    layer_make(&L, &o, 1);
    expect_err(vkn_norm_ref_forward(&o, 4, 1, x, NULL, NULL, L.s, 1, y, NULL), VKN_ERR_ARG,
               "dropout keep flags");
    layer_free(&L);
}

/* ---------------------------------------------------------------------------------------------- */
/* slots and init                                                                                  */
/* ---------------------------------------------------------------------------------------------- */
static void test_slots_init(void **st)
{
    (void)st;
    for (int k = 0; k < VKN_NORM_KIND_COUNT_; k++) {
        vkn_norm_opts o = opts_for((vkn_norm_kind)k, 7);
        vkn_norm_slot s[VKN_NORM_MAX_SLOTS];
        int n;
        OK(vkn_norm_slots(&o, s, &n));
        for (int i = 0; i < n; i++) {
            assert_true(s[i].count == s[i].shape[0] * s[i].shape[1] && s[i].count > 0);
            for (int j = 0; j < i; j++) assert_string_not_equal(s[i].name, s[j].name);
        }
        layer A, B;
        layer_make(&A, &o, 123);
        layer_make(&B, &o, 123);
        for (int i = 0; i < n; i++) expect_close("init is deterministic", A.s[i], B.s[i], s[i].count, 0, 0);
        layer_free(&A);
        layer_free(&B);
    }
    /* spot checks of the init rules */
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_AFN, 32);
    layer L;
    layer_make(&L, &o, 5);
    assert_int_equal(L.ns, 20);
    assert_true(L.s[vkn_norm_slot_index(&o, "gate_mu")][0] == -3 && L.s[vkn_norm_slot_index(&o, "gate_gamma")][0] == -5);
    assert_int_equal(L.sl[0].shape[0], 16);
    assert_int_equal(L.sl[6].shape[0], 2);
    for (int j = 0; j < L.sl[0].count; j++) assert_true(fabs(L.s[0][j]) <= 1 / sqrt(32.0));
    layer_free(&L);
    o = vkn_norm_opts_default(VKN_NORM_ACN, 4);
    layer_make(&L, &o, 5);
    double sum = 0;
    for (int k = 0; k < 3; k++) sum += L.s[2][k];
    assert_true(fabs(sum - 1) < 1e-15);
    for (int j = 0; j < 12; j++) assert_true(L.s[1][j] >= 0.001 && L.s[1][j] <= 0.01);
    layer_free(&L);
    o = vkn_norm_opts_default(VKN_NORM_MN, 2);
    layer_make(&L, &o, 5);
    int gm = vkn_norm_slot_index(&o, "gmm_mean");
    assert_true(L.s[gm][0] == -1 && L.s[gm][2] == 0 && L.s[gm][4] == 1 && L.s[gm][5] == 1);
    layer_free(&L);
    static const double pri[3] = {0.5, 0.25, 0.25};
    o = vkn_norm_opts_default(VKN_NORM_CN, 2);
    o.contexts = 3;
    o.cn_priors = pri;
    layer_make(&L, &o, 5);
    expect_close("cn priors", L.s[vkn_norm_slot_index(&o, "priors")], pri, 3, 0, 0);
    layer_free(&L);
}

/* ---------------------------------------------------------------------------------------------- */
/* 5. cross-checks against shared/norms-checks (Python, float64)                                   */
/* ---------------------------------------------------------------------------------------------- */
static void test_python_acn(void **st)
{
    (void)st;
    /* one channel: x is (M, 1, 1) */
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_ACN, 1);
    o.components = PY_ACN_K;
    assert_true(vkn_norm_eps(&o) == PY_ACN_EPS);
    layer L;
    layer_make(&L, &o, 1);
    memcpy(L.s[0], py_acn_m, sizeof py_acn_m);
    memcpy(L.s[1], py_acn_u, sizeof py_acn_u);
    memcpy(L.s[2], py_acn_p, sizeof py_acn_p);
    double y[PY_ACN_M], dx[PY_ACN_M], dm[PY_ACN_K], du[PY_ACN_K], dp[PY_ACN_K];
    double *ds[VKN_NORM_MAX_SLOTS] = {dm, du, dp};
    vkn_norm_ref_cache c = {0};
    OK(vkn_norm_ref_forward(&o, PY_ACN_M, 1, py_acn_x, NULL, NULL, L.s, 1, y, &c));
    OK(vkn_norm_ref_backward(&o, &c, py_acn_x, NULL, L.s, py_acn_g, dx, ds));
    expect_close("acn y vs python", y, py_acn_y, PY_ACN_M, 1e-13, 1e-12);
    expect_close("acn dx vs python", dx, py_acn_dx, PY_ACN_M, 1e-13, 1e-12);
    expect_close("acn dm vs python", dm, py_acn_dm, PY_ACN_K, 1e-13, 1e-12);
    expect_close("acn du vs python", du, py_acn_du, PY_ACN_K, 1e-13, 1e-12);
    expect_close("acn dp vs python", dp, py_acn_dp, PY_ACN_K, 1e-13, 1e-12);
    vkn_norm_ref_cache_free(&c);
    layer_free(&L);
}

static void test_python_bcn(void **st)
{
    (void)st;
    enum { N = PY_BCN_N, C = PY_BCN_C, P = PY_BCN_P };
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_BCN, C);
    assert_true(vkn_norm_eps(&o) == PY_BCN_EPS);
    layer L;
    layer_make(&L, &o, 1);
    memcpy(L.s[0], py_bcn_gam, sizeof py_bcn_gam);
    memcpy(L.s[1], py_bcn_bet, sizeof py_bcn_bet);
    memcpy(L.s[2], py_bcn_l, sizeof py_bcn_l);
    double y[N * C * P], dx[N * C * P], dl[C];
    double *ds[VKN_NORM_MAX_SLOTS] = {NULL, NULL, dl};
    vkn_norm_ref_cache c = {0};
    OK(vkn_norm_ref_forward(&o, N, P, py_bcn_x, NULL, NULL, L.s, 1, y, &c));
    OK(vkn_norm_ref_backward(&o, &c, py_bcn_x, NULL, L.s, py_bcn_g, dx, ds));
    expect_close("bcn y vs python", y, py_bcn_y, N * C * P, 1e-13, 1e-12);
    expect_close("bcn dx vs python", dx, py_bcn_dx, N * C * P, 1e-13, 1e-12);
    expect_close("bcn dl vs python", dl, py_bcn_dl, C, 1e-13, 1e-12);
    vkn_norm_ref_cache_free(&c);
    layer_free(&L);
}

static void test_python_afn(void **st)
{
    (void)st;
    enum { N = PY_AFN_N, C = PY_AFN_C, P = PY_AFN_P };
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_AFN, C);
    o.afn_dropout = 0;
    assert_true(vkn_norm_eps(&o) == PY_AFN_EPS);
    assert_int_equal(vkn_norm_afn_hidden_std(&o), PY_AFN_HS);
    assert_int_equal(vkn_norm_afn_hidden_rescale(&o), PY_AFN_HR);
    layer L;
    layer_make(&L, &o, 1);
    const double *src[] = {py_afn_We, py_afn_be, py_afn_Wm, py_afn_bm, py_afn_Ws, py_afn_bs, py_afn_Wr,
                           py_afn_br, py_afn_Wb, py_afn_bb, py_afn_Wg, py_afn_bg};
    for (int i = 0; i < 12; i++) memcpy(L.s[i], src[i], sizeof(double) * L.sl[i].count);
    for (int i = 0; i < 4; i++) L.s[12 + i][0] = py_afn_gates[i];
    memcpy(L.s[16], py_afn_b_beta, sizeof py_afn_b_beta);
    memcpy(L.s[17], py_afn_b_gam, sizeof py_afn_b_gam);
    double y[N * C * P], dx[N * C * P];
    vkn_norm_ref_cache c = {0};
    OK(vkn_norm_ref_forward(&o, N, P, py_afn_x, NULL, NULL, L.s, 1, y, &c));
    OK(vkn_norm_ref_backward(&o, &c, py_afn_x, NULL, L.s, py_afn_g, dx, NULL));
    expect_close("afn y vs python", y, py_afn_y, N * C * P, 1e-13, 1e-12);
    expect_close("afn dx vs python", dx, py_afn_dx, N * C * P, 1e-12, 1e-10);
    vkn_norm_ref_cache_free(&c);
    layer_free(&L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_slots_init),
        cmocka_unit_test(test_fd_none),
        cmocka_unit_test(test_fd_bn),
        cmocka_unit_test(test_fd_ln),
        cmocka_unit_test(test_fd_in),
        cmocka_unit_test(test_fd_gn),
        cmocka_unit_test(test_fd_cbn),
        cmocka_unit_test(test_fd_cn),
        cmocka_unit_test(test_fd_cnx),
        cmocka_unit_test(test_fd_acn),
        cmocka_unit_test(test_fd_mn),
        cmocka_unit_test(test_fd_bcn),
        cmocka_unit_test(test_fd_ubn),
        cmocka_unit_test(test_fd_afn),
        cmocka_unit_test(test_fd_variants),
        cmocka_unit_test(test_equivalences),
        cmocka_unit_test(test_running_bn_family),
        cmocka_unit_test(test_running_cn),
        cmocka_unit_test(test_mixture_state),
        cmocka_unit_test(test_ubn_similarity),
        cmocka_unit_test(test_python_acn),
        cmocka_unit_test(test_python_bcn),
        cmocka_unit_test(test_python_afn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
