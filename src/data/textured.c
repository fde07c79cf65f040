/* The textured target domain (MNIST-M-style, built offline): each digit d in [0, 1] is blended with
 * a seeded procedural colour texture T as out = |T - d| per channel, so the background shows T and
 * the strokes show its inverse 1 - T. Where T is near mid-grey the digit all but vanishes, and where
 * T is brighter than mid-grey the digit turns dark on light, which is what makes MNIST-M a real
 * domain shift. MNIST-M cuts its textures from BSDS500 photos; here they come from six pattern
 * families (mostly smooth: fractal noise, Voronoi segments, gradients; less often stripes, checkers,
 * rings) at low frequencies, mapped through a palette of 2-4 colours around a base colour whose
 * luminance is skewed dark, like photo patches, with a texture contrast below the digit's own. */
#include "data/data_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586f

/* Lattice value in [0, 1) for (ix, iy) of one octave of one sample's noise. */
static float lattice(uint64_t key, int ix, int iy)
{
    vkn_data_rng r = { key ^ ((uint64_t)(uint32_t)ix * 0x9E3779B1ull) ^ ((uint64_t)(uint32_t)iy << 32) };
    return (float)vkn_data_rng_unif(&r);
}

/* Smooth value noise at (x, y) in lattice units. */
static float value_noise(uint64_t key, float x, float y)
{
    int ix = (int)floorf(x), iy = (int)floorf(y);
    float fx = x - ix, fy = y - iy;
    fx = fx * fx * (3 - 2 * fx), fy = fy * fy * (3 - 2 * fy);  /* smoothstep */
    float a = lattice(key, ix, iy), b = lattice(key, ix + 1, iy);
    float c = lattice(key, ix, iy + 1), d = lattice(key, ix + 1, iy + 1);
    return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy;
}

/* Fractal (fBm) noise, ~[0, 1]: `freq` lattice cells across the image at the coarsest octave. */
static float fbm(uint64_t key, float x, float y, float freq, int octaves)
{
    float s = 0, amp = 0.5f, norm = 0;
    for (int o = 0; o < octaves; o++) {
        s += amp * value_noise(key + (uint64_t)o * 0x51ED27ull, x * freq, y * freq);
        norm += amp, amp *= 0.5f, freq *= 2;
    }
    return s / norm;
}

/* Generator parameters, tuned so that a source-only LeNet (shared BN) trained on MNIST lands in the
 * band of MNIST-M's published source-only results on this domain (docs/DATA.md has the trials). */
#define TEX_FREQ_MAX 3.0f   /* coarse pattern frequency 1..this, cycles per image */
#define TEX_CELL_MIN 5.0f   /* checker cell / ring period, pixels */
#define TEX_CELL_MAX 12.0f
#define TEX_LUM_GAMMA 1.8f  /* base luminance 0.05 + 0.9 u^gamma: mean ~0.37, ~32% above mid-grey */
#define TEX_SAT 0.25f       /* per-channel offset of the base colour, +-this */
#define TEX_SPREAD_MIN 0.1f /* luminance spread of the palette (the texture's contrast) */
#define TEX_SPREAD_MAX 0.5f

/* One sample's scalar pattern t[28*28] in [0, 1] (stretched to the full range). */
static void pattern(vkn_data_rng *r, int h, int w, float *t)
{
    uint64_t key = vkn_data_rng_next(r);
    /* families weighted like photo patches: mostly smooth noise, segments and gradients */
    static const int weights[6] = {3, 2, 2, 1, 1, 1};
    int kind = 0, pick = (int)vkn_data_rng_int(r, 10);
    for (int acc = 0; kind < 5 && pick >= acc + weights[kind]; acc += weights[kind], kind++) {}
    float f = (float)vkn_data_rng_range(r, 1.0, TEX_FREQ_MAX);       /* coarse frequency, cycles per image */
    float phi = (float)vkn_data_rng_range(r, 0, TWO_PI), c = cosf(phi), s = sinf(phi);
    float warp = (float)vkn_data_rng_range(r, 0, 2.0);
    float cell = (float)vkn_data_rng_range(r, TEX_CELL_MIN, TEX_CELL_MAX);   /* checker cell / ring period, pixels */
    float ox = (float)vkn_data_rng_range(r, 0, w), oy = (float)vkn_data_rng_range(r, 0, h);
    enum { MAX_SEEDS = 10 };
    float sx[MAX_SEEDS], sy[MAX_SEEDS], sv[MAX_SEEDS];
    int ns = 2 + (int)vkn_data_rng_int(r, MAX_SEEDS - 2);
    for (int k = 0; k < ns; k++)
        sx[k] = (float)vkn_data_rng_range(r, -4, w + 4), sy[k] = (float)vkn_data_rng_range(r, -4, h + 4),
        sv[k] = (float)vkn_data_rng_unif(r);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float u = (float)x / w, v = (float)y / h, val;
            switch (kind) {
            case 0:  /* fractal noise: clouds, stone, foliage-like */
                val = fbm(key, u, v, f, 4);
                break;
            case 1: {  /* Voronoi patchwork: flat regions with edges, like photo segments */
                float best = 1e30f;
                val = 0;
                float jx = x + warp * 2 * (fbm(key, u, v, 3, 2) - 0.5f), jy = y + warp * 2 * (fbm(key + 7, u, v, 3, 2) - 0.5f);
                for (int k = 0; k < ns; k++) {
                    float d = (jx - sx[k]) * (jx - sx[k]) + (jy - sy[k]) * (jy - sy[k]);
                    if (d < best) best = d, val = sv[k];
                }
                val = 0.85f * val + 0.15f * fbm(key, u, v, 6, 2);
                break;
            }
            case 2:  /* gradient with soft noise: sky, walls, out-of-focus backgrounds */
                val = 0.7f * (u * c + v * s) + 0.3f * fbm(key, u, v, f, 3);
                break;
            case 3:  /* stripes bent by noise: wood, fabric */
                val = 0.5f + 0.5f * sinf(TWO_PI * f * (u * c + v * s) + warp * 3 * fbm(key, u, v, 2, 3));
                break;
            case 4: {  /* rotated checkerboard softened by noise: tiles */
                float a = ((x - ox) * c + (y - oy) * s) / cell, b = (-(x - ox) * s + (y - oy) * c) / cell;
                int par = ((int)floorf(a) + (int)floorf(b)) & 1;
                val = 0.8f * par + 0.2f * fbm(key, u, v, 4, 2);
                break;
            }
            default: {  /* rings around a point: ripples */
                float d = sqrtf((x - ox) * (x - ox) + (y - oy) * (y - oy));
                val = 0.5f + 0.5f * sinf(TWO_PI * d / cell + warp * 2 * fbm(key, u, v, 2, 2));
                break;
            }
            }
            t[y * w + x] = val;
        }
    /* stretch to [0, 1] so the whole palette shows, whatever the pattern's own range */
    float lo = 1e30f, hi = -1e30f;
    for (int k = 0; k < h * w; k++) lo = t[k] < lo ? t[k] : lo, hi = t[k] > hi ? t[k] : hi;
    float span = hi - lo > 1e-6f ? hi - lo : 1;
    for (int k = 0; k < h * w; k++) t[k] = (t[k] - lo) / span;
}

vkn_status vkn_data_textured_make(vkn_dataset *dst, const vkn_dataset *src, uint64_t seed)
{
    memset(dst, 0, sizeof *dst);
    if (!src->images || src->n <= 0)
        return vkn_status_set(VKN_ERR_ARG, "textured: the source dataset %s is empty (load it first)", src->name);
    if (src->h > 1024 || src->w > 1024)
        return vkn_status_set(VKN_ERR_ARG, "textured: %s images are %dx%d; at most 1024x1024 supported", src->name,
                              src->h, src->w);
    char name[64];
    snprintf(name, sizeof name, "textured(%.48s)", src->name);
    VKN_TRY(vkn_data_alloc(dst, name, src->n, 3, src->h, src->w, src->num_classes));
    memcpy(dst->labels, src->labels, (size_t)src->n);
    if (src->ctx) {
        vkn_status st = vkn_data_set_context(dst, 0);
        if (st != VKN_OK) { vkn_data_free(dst); return st; }
        memcpy(dst->ctx, src->ctx, (size_t)src->n * sizeof *dst->ctx);
    }
    const int h = src->h, w = src->w;
    const size_t hw = (size_t)h * w;
    float *t = malloc(hw * sizeof *t);  /* one sample's pattern */
    if (!t) {
        vkn_data_free(dst);
        return vkn_status_set(VKN_ERR_HOST_OOM, "textured: out of memory");
    }
    for (int32_t i = 0; i < src->n; i++) {
        vkn_data_rng r = vkn_data_rng_for(seed ^ 0x7E47E7EDull, (uint64_t)i);
        pattern(&r, h, w, t);
        /* palette: 2-4 colours around a base colour, like a photo patch: a base luminance skewed
         * dark (most photo patches are darker than mid-grey, so most digits keep MNIST's
         * bright-on-dark polarity), a modest saturation, and a luminance spread (the texture's
         * contrast) well below the digit's own */
        float pal[4][3];
        int np = 2 + (int)vkn_data_rng_int(&r, 3);
        float lum = 0.05f + 0.9f * powf((float)vkn_data_rng_unif(&r), TEX_LUM_GAMMA);
        float spread = (float)vkn_data_rng_range(&r, TEX_SPREAD_MIN, TEX_SPREAD_MAX);
        float base[3];
        for (int ch = 0; ch < 3; ch++) base[ch] = lum + TEX_SAT * (2 * (float)vkn_data_rng_unif(&r) - 1);
        for (int k = 0; k < np; k++) {
            float step = spread * ((float)k / (np - 1) - 0.5f);
            for (int ch = 0; ch < 3; ch++) {
                float jitter = 0.5f * spread * (2 * (float)vkn_data_rng_unif(&r) - 1);
                float v = base[ch] + step + jitter;
                pal[k][ch] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
        }
        float grain = (float)vkn_data_rng_range(&r, 0, 0.05);
        const uint8_t *s = src->images + (size_t)i * src->c * hw;
        uint8_t *o = dst->images + (size_t)i * 3 * hw;
        for (size_t p = 0; p < hw; p++) {
            float pos = t[p] * (np - 1);
            int k = (int)pos;
            if (k >= np - 1) k = np - 2;
            float a = pos - k;
            float g = grain * (2 * (float)vkn_data_rng_unif(&r) - 1);
            for (int ch = 0; ch < 3; ch++) {
                float T = pal[k][ch] * (1 - a) + pal[k + 1][ch] * a + g;
                T = T < 0 ? 0 : T > 1 ? 1 : T;
                float d = s[(src->c == 3 ? (size_t)ch * hw : 0) + p] / 255.0f;
                long q = lroundf(fabsf(T - d) * 255.0f);
                o[ch * hw + p] = (uint8_t)(q > 255 ? 255 : q);
            }
        }
    }
    free(t);
    return VKN_OK;
}
