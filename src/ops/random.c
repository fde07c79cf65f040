/* Device random numbers (Philox-4x32-10, counter-based): uniform, normal, bernoulli masks, labels,
 * dropout. Launchers, the host Philox and the references. */
#include "vkn/random.h"
#include "vkn/ops.h"
#include "ops/ref_train.h"
#include "ops/train_launch.h"

#include <math.h>
#include <string.h>

void vkn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

enum { MODE_UNIFORM = 0, MODE_NORMAL = 1, MODE_BERNOULLI = 2, MODE_LABELS = 3, MODE_DROPOUT = 4 };
static const char *mode_names[] = {"rand_uniform", "rand_normal", "rand_bernoulli", "rand_labels", "dropout"};

static vkn_status launch(vkn_cmd *c, uint32_t mode, const vkn_tensor *step, vkn_rng rng, float a, float b,
                         const vkn_tensor *out, const vkn_tensor *out2, const vkn_tensor *x)
{
    const char *name = mode_names[mode];
    if (step && (!vkn_is_f32(step) || step->numel <= VKN_STEP_RNG))
        return vkn_status_set(VKN_ERR_ARG, "%s: step must be the f32 step tensor", name);
    if (!out || !out->buffer || out->numel < 1 || out->numel > 0x7fffffff)
        return vkn_status_set(VKN_ERR_ARG, "%s: no output tensor", name);
    if (out->dtype != (mode == MODE_LABELS ? VKN_I32 : VKN_F32))
        return vkn_status_set(VKN_ERR_ARG, "%s: output must be %s", name, mode == MODE_LABELS ? "i32" : "f32");
    struct { uint32_t n, seed_lo, seed_hi, stream, step_slot; float a, b; } pc = {
        (uint32_t)out->numel, (uint32_t)rng.seed, (uint32_t)(rng.seed >> 32), rng.stream, VKN_STEP_RNG, a, b};
    vkn_tensor xv = vkn_pad16(x ? x : out);
    vkn_dispatch d = {.shader = "random/random", .label = name, .spec = {mode, step != NULL}, .nspec = 2,
                      .bind = {out, out2 ? out2 : out, step ? step : out}, .nbind = 3,
                      .write_mask = 1u | (out2 ? 2u : 0u), .texel = {&xv}, .ntexel = 1, .texel_vec4_mask = 1,
                      .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)out->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_rand_uniform(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float lo, float hi, const vkn_tensor *y)
{
    return launch(c, MODE_UNIFORM, step, rng, lo, hi - lo, y, NULL, NULL);
}

vkn_status vkn_op_rand_normal(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float mean, float std, const vkn_tensor *y)
{
    return launch(c, MODE_NORMAL, step, rng, mean, std, y, NULL, NULL);
}

vkn_status vkn_op_rand_bernoulli(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float p, const vkn_tensor *mask)
{
    if (!(p >= 0.0f && p < 1.0f)) return vkn_status_set(VKN_ERR_ARG, "rand_bernoulli: p = %g not in [0, 1)", p);
    return launch(c, MODE_BERNOULLI, step, rng, p, (float)(1.0 / (1.0 - p)), mask, NULL, NULL);
}

vkn_status vkn_op_rand_labels(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, int32_t k, const vkn_tensor *y)
{
    if (k < 1) return vkn_status_set(VKN_ERR_ARG, "rand_labels: K = %d", k);
    uint32_t ku = (uint32_t)k;
    float a;
    memcpy(&a, &ku, 4);
    return launch(c, MODE_LABELS, step, rng, a, 0, y, NULL, NULL);
}

vkn_status vkn_op_dropout(vkn_cmd *c, const vkn_tensor *step, vkn_rng rng, float p, const vkn_tensor *x,
                          const vkn_tensor *mask, const vkn_tensor *y)
{
    if (!(p >= 0.0f && p < 1.0f)) return vkn_status_set(VKN_ERR_ARG, "dropout: p = %g not in [0, 1)", p);
    if (!vkn_is_f32(x) || !vkn_is_f32(mask) || !vkn_is_f32(y) || x->numel != mask->numel || x->numel != y->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "dropout: x, mask and y must be f32 with the same element count");
    return launch(c, MODE_DROPOUT, step, rng, p, (float)(1.0 / (1.0 - p)), mask, y, x);
}

vkn_status vkn_op_dropout_backward(vkn_cmd *c, const vkn_tensor *mask, const vkn_tensor *dy, const vkn_tensor *dx)
{
    if (!vkn_is_f32(mask) || !vkn_is_f32(dy) || !vkn_is_f32(dx) || mask->numel != dy->numel || dy->numel != dx->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "dropout_backward: mask, dy and dx must be f32 with the same element count");
    vkn_tensor m = *mask, g = *dy;   /* element-wise: same-shape views */
    m.ndim = g.ndim = 1;
    m.shape[0] = g.shape[0] = dy->numel;
    vkn_tensor o = *dx;
    o.ndim = 1;
    o.shape[0] = dx->numel;
    return vkn_op_binary(c, VKN_BINARY_MUL, &g, &m, &o);
}

/* ---- references ---- */

void vkn_ref_rand_bits(uint64_t seed, uint32_t stream, uint32_t counter, uint32_t *bits, int64_t n)
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int64_t i = 0; i < n; i += 4) {
        uint32_t ctr[4] = {(uint32_t)(i / 4), stream, counter, 0}, out[4];
        vkn_philox4x32_10(ctr, key, out);
        for (int j = 0; j < 4 && i + j < n; j++) bits[i + j] = out[j];
    }
}

/* mode as the shader; y: float results (labels: int32 stored in the float array's bits) */
static void ref_fill(uint32_t mode, uint64_t seed, uint32_t stream, uint32_t counter, float a, float b, void *out, int64_t n)
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    float *y = out;
    int32_t *yi = out;
    for (int64_t i = 0; i < n; i += 4) {
        uint32_t ctr[4] = {(uint32_t)(i / 4), stream, counter, 0}, w[4];
        vkn_philox4x32_10(ctr, key, w);
        float u[4];
        double v[4];
        for (int j = 0; j < 4; j++) u[j] = vkn_u01(w[j]);
        for (int j = 0; j < 4; j++) {
            if (mode == MODE_UNIFORM) v[j] = a + b * (double)u[j];
            else if (mode == MODE_NORMAL) {
                int pj = j & 2;
                double r = sqrt(-2.0 * log(1.0 - (double)u[pj])), th = 2 * M_PI * (double)u[pj + 1];
                v[j] = a + b * (j & 1 ? r * sin(th) : r * cos(th));
            } else v[j] = u[j] >= a ? b : 0;
        }
        for (int j = 0; j < 4 && i + j < n; j++) {
            if (mode == MODE_LABELS) yi[i + j] = (int32_t)(((uint64_t)w[j] * (uint32_t)a) >> 32);
            else y[i + j] = (float)v[j];
        }
    }
}

void vkn_ref_rand_uniform(uint64_t seed, uint32_t stream, uint32_t counter, float lo, float hi, float *y, int64_t n)
{
    ref_fill(MODE_UNIFORM, seed, stream, counter, lo, hi - lo, y, n);
}
void vkn_ref_rand_normal(uint64_t seed, uint32_t stream, uint32_t counter, float mean, float std, float *y, int64_t n)
{
    ref_fill(MODE_NORMAL, seed, stream, counter, mean, std, y, n);
}
void vkn_ref_rand_bernoulli(uint64_t seed, uint32_t stream, uint32_t counter, float p, float *mask, int64_t n)
{
    ref_fill(MODE_BERNOULLI, seed, stream, counter, p, (float)(1.0 / (1.0 - p)), mask, n);
}
void vkn_ref_rand_labels(uint64_t seed, uint32_t stream, uint32_t counter, int32_t k, int32_t *y, int64_t n)
{
    ref_fill(MODE_LABELS, seed, stream, counter, (float)k, 0, y, n);
}
