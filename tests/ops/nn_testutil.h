/* Helpers for the layer-op tests (act_grad, conv, pool, embed): the references work in double, so
 * data are generated as float-representable doubles, uploaded as f32, and the device result is
 * compared with |got - ref| <= atol + rtol*|ref|. fd_check compares an analytic gradient (a reference
 * backward) with central finite differences of a double loss. Include after testutil.h. */
#ifndef VKN_NN_TESTUTIL_H
#define VKN_NN_TESTUTIL_H

#include "../common/testutil.h"

static inline double *nt_alloc(int64_t n) { double *p = calloc((size_t)(n ? n : 1), sizeof(double)); assert_non_null(p); return p; }

/* uniform in [lo, hi), rounded to float so the device sees exactly the reference's input */
static inline double *nt_rand(int64_t n, double lo, double hi)
{
    double *p = nt_alloc(n);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * tu_uniform());
    return p;
}

static inline vkn_tensor nt_tensor(int ndim, const int64_t *shape, const double *data)
{
    vkn_tensor t = tu_tensor(ndim, shape, NULL);
    if (data) {
        float *f = tu_alloc(t.numel);
        for (int64_t i = 0; i < t.numel; i++) f[i] = (float)data[i];
        assert_int_equal(vkn_tensor_upload(&t, f), VKN_OK);
        free(f);
    }
    return t;
}

static inline vkn_tensor nt_tensor4(int64_t a, int64_t b, int64_t c, int64_t d, const double *data)
{
    int64_t s[4] = {a, b, c, d};
    return nt_tensor(4, s, data);
}

static inline vkn_tensor nt_tensor1(int64_t n, const double *data) { return nt_tensor(1, &n, data); }

static inline vkn_tensor nt_ids(int64_t n, const int32_t *ids)
{
    vkn_tensor t;
    if (vkn_tensor_alloc(tu_arena, VKN_I32, 1, &n, &t) != VKN_OK) fail_msg("alloc: %s", vkn_status_detail());
    if (ids) assert_int_equal(vkn_tensor_upload(&t, ids), VKN_OK);
    return t;
}

/* Fill a tensor with a sentinel so a missed write shows. */
static inline void nt_poison(const vkn_tensor *t)
{
    float *f = tu_alloc(t->numel);
    for (int64_t i = 0; i < t->numel; i++) f[i] = 12345.0f;
    assert_int_equal(vkn_tensor_upload(t, f), VKN_OK);
    free(f);
}

static inline void nt_check(const char *what, const vkn_tensor *t, const double *ref, double atol, double rtol)
{
    float *got = tu_alloc(t->numel), *rf = tu_alloc(t->numel);
    tu_download(t, got);
    for (int64_t i = 0; i < t->numel; i++) rf[i] = (float)ref[i];
    tu_assert_close(what, got, rf, t->numel, atol, rtol);
    free(got);
    free(rf);
}

/* sum g*y */
static inline double nt_dot(const double *g, const double *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += g[i] * y[i];
    return s;
}

/* d loss / d param[i] by central differences (step h) against grad[i], at up to max_coords coordinates
 * (all when n <= max_coords, else a seeded sample). */
typedef double (*nt_loss_fn)(void *ctx);
static inline void nt_fd_check(const char *what, nt_loss_fn loss, void *ctx, double *param, int64_t n,
                               const double *grad, int64_t max_coords, double h, double tol)
{
    for (int64_t k = 0; k < (n < max_coords ? n : max_coords); k++) {
        int64_t i = n <= max_coords ? k : (int64_t)(tu_uniform() * (double)n);
        double old = param[i];
        param[i] = old + h;
        double lp = loss(ctx);
        param[i] = old - h;
        double lm = loss(ctx);
        param[i] = old;
        double fd = (lp - lm) / (2 * h);
        if (!(fabs(fd - grad[i]) <= tol * (1 + fabs(grad[i]))))
            fail_msg("%s: coordinate %lld: analytic %.12g, finite difference %.12g", what, (long long)i, grad[i], fd);
    }
}

#endif
