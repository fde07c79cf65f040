/* Synthetic digits (a SynDigits-style domain): digits rendered with stb_truetype from the TrueType
 * fonts of Debian packages, 28x28 RGB, varied in font, size, position, rotation, shear, stroke width,
 * colours, shadow, neighbouring digits, background gradient, blur and noise.
 *
 * Fonts go through src/data/ttf.c, which validates them before stb_truetype reads them.
 * Rendering works at 3x resolution (84x84) and box-filters down, which anti-aliases the warped glyphs.
 * Sample i depends only on (seed, i) and the installed fonts. */
#include "data/data_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIDE 28
#define SS 3                 /* supersampling factor */
#define BIG (SIDE * SS)      /* 84: the high-resolution canvas */
#define MAX_FONTS 64
#define FONT_FIX "install fonts: sudo apt-get install fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 " \
                 "fonts-freefont-ttf (scripts/install-deps), or set VKN_FONT_DIR to folders of .ttf files"
#define DEFAULT_FONT_DIRS "/usr/share/fonts/truetype/dejavu:/usr/share/fonts/truetype/liberation2:" \
                          "/usr/share/fonts/truetype/freefont"

typedef struct font {
    vkn_ttf *ttf;            /* validated (src/data/ttf.c) */
    int      digit[10];      /* glyph of '0' .. '9' */
    float    digit_h;        /* height of '0' in font units, to size every font alike */
} font;

typedef struct font_set {
    font n_[MAX_FONTS];
    int  n;
} font_set;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void fonts_free(font_set *fs)
{
    for (int i = 0; i < fs->n; i++) vkn_ttf_close(fs->n_[i].ttf);
    fs->n = 0;
}

/* Load every usable .ttf of the font folders, in sorted path order so the seed means the same thing
 * on every run (readdir order is arbitrary). */
static vkn_status fonts_load(font_set *fs)
{
    fs->n = 0;
    const char *env = getenv("VKN_FONT_DIR");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", env && *env ? env : DEFAULT_FONT_DIRS);
    char *paths[256];
    int np = 0;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        DIR *dh = opendir(d);
        if (!dh) continue;
        for (struct dirent *e; (e = readdir(dh)) && np < 256;) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".ttf") != 0) continue;
            if (strstr(e->d_name, "Math")) continue;  /* a maths font: digits are fine but odd metrics */
            char *p = malloc(strlen(d) + l + 2);
            if (!p) break;
            sprintf(p, "%s/%s", d, e->d_name);
            paths[np++] = p;
        }
        closedir(dh);
    }
    qsort(paths, (size_t)np, sizeof *paths, cmp_str);
    char first_bad[512] = "";
    for (int i = 0; i < np; i++) {
        font *f = &fs->n_[fs->n];
        vkn_ttf *t = NULL;
        if (fs->n < MAX_FONTS && vkn_ttf_open(paths[i], &t) != VKN_OK) {
            /* a damaged font is skipped with a notice (the set of fonts, and so the data, changes) */
            fprintf(stderr, "vknorm: syndigits: skipping %s\n", vkn_status_detail());
            if (!first_bad[0]) snprintf(first_bad, sizeof first_bad, "%s", vkn_status_detail());
        }
        int ok = t != NULL;
        for (int d = 0; ok && d < 10; d++) ok = (f->digit[d] = vkn_ttf_glyph(t, (uint32_t)('0' + d))) != 0;
        int x0, y0, x1, y1;
        if (ok && vkn_ttf_box(t, f->digit[0], &x0, &y0, &x1, &y1) && y1 > y0) {
            f->ttf = t, f->digit_h = (float)(y1 - y0);
            fs->n++;
        } else {
            vkn_ttf_close(t);
        }
        free(paths[i]);
    }
    vkn_status_clear();
    if (fs->n == 0)
        return vkn_status_set(VKN_ERR_IO, "syndigits: %s: no usable TrueType font with digits found%s%s (%s)",
                              env && *env ? env : DEFAULT_FONT_DIRS, first_bad[0] ? "; " : "", first_bad, FONT_FIX);
    return VKN_OK;
}

/* Draw one glyph's coverage into a line buffer (max-blend), with its pen at (pen_x, base_y). */
static void draw_glyph(const font *f, float scale, int glyph, float pen_x, float base_y, float *line, int lw, int lh)
{
    int gw, gh, xo, yo;
    unsigned char *g = vkn_ttf_bitmap(f->ttf, scale, glyph, &gw, &gh, &xo, &yo);
    if (!g) return;
    int ox = (int)lroundf(pen_x) + xo, oy = (int)lroundf(base_y) + yo;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            int X = ox + x, Y = oy + y;
            if (X < 0 || Y < 0 || X >= lw || Y >= lh) continue;
            float v = g[y * gw + x] / 255.0f;
            if (v > line[Y * lw + X]) line[Y * lw + X] = v;
        }
    free(g);
}

static float sample_bilinear(const float *img, int w, int h, float x, float y)
{
    x -= 0.5f, y -= 0.5f;
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - x0, fy = y - y0, s = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int X = x0 + dx, Y = y0 + dy;
            if (X < 0 || Y < 0 || X >= w || Y >= h) continue;
            s += img[Y * w + X] * (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
        }
    return s;
}

/* 3x3 max (grow) or min (shrink) filter: changes the stroke width by one high-res pixel. */
static void morph(float *m, float *tmp, int grow)
{
    memcpy(tmp, m, sizeof(float) * BIG * BIG);
    for (int y = 0; y < BIG; y++)
        for (int x = 0; x < BIG; x++) {
            float v = tmp[y * BIG + x];
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int X = x + dx, Y = y + dy;
                    float u = X < 0 || Y < 0 || X >= BIG || Y >= BIG ? 0 : tmp[Y * BIG + X];
                    v = grow ? (u > v ? u : v) : (u < v ? u : v);
                }
            m[y * BIG + x] = v;
        }
}

/* Separable Gaussian blur of a 28x28 plane. */
static void blur(float *p, float sigma)
{
    if (sigma < 0.2f) return;
    float k[7], s = 0, t[SIDE * SIDE];
    for (int i = -3; i <= 3; i++) s += k[i + 3] = expf(-(float)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i < 7; i++) k[i] /= s;
    for (int pass = 0; pass < 2; pass++) {
        memcpy(t, p, sizeof t);
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                float v = 0;
                for (int i = -3; i <= 3; i++) {
                    int X = pass ? x : x + i, Y = pass ? y + i : y;
                    X = X < 0 ? 0 : X >= SIDE ? SIDE - 1 : X;  /* clamp: no dark frame */
                    Y = Y < 0 ? 0 : Y >= SIDE ? SIDE - 1 : Y;
                    v += k[i + 3] * t[Y * SIDE + X];
                }
                p[y * SIDE + x] = v;
            }
    }
}

static float luma(const float *c) { return 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]; }

static double gauss(vkn_data_rng *r)
{
    double u = vkn_data_rng_unif(r) + 1e-12, v = vkn_data_rng_unif(r);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

#define LINE_W (BIG * 6)
#define LINE_H (BIG * 2)

/* Render digit `label` into out [3, 28, 28]; line is scratch [LINE_H * LINE_W]. */
static void render(const font_set *fs, int label, vkn_data_rng *r, float *line, uint8_t *out)
{
    float mask[BIG * BIG], shadow[BIG * BIG], tmp[BIG * BIG];
    const font *f = &fs->n_[vkn_data_rng_int(r, (uint32_t)fs->n)];

    /* layout: the digit, and often a neighbour on each side as in house numbers */
    float height = (float)vkn_data_rng_range(r, 13.0, 24.0) * SS;  /* height of the digit in high-res px */
    float scale = height / f->digit_h;
    int lw = LINE_W, lh = LINE_H;
    memset(line, 0, sizeof(float) * (size_t)(lw * lh));
    float base_y = lh * 0.5f + height * 0.5f;
    int adv, lsb;
    vkn_ttf_hmetrics(f->ttf, f->digit[label], &adv, &lsb);
    float track = (float)vkn_data_rng_range(r, 0.9, 1.25);
    float pen = lw * 0.5f - adv * scale * 0.5f;
    draw_glyph(f, scale, f->digit[label], pen, base_y, line, lw, lh);
    if (vkn_data_rng_unif(r) < 0.7) {
        int left = f->digit[vkn_data_rng_int(r, 10)], la;
        vkn_ttf_hmetrics(f->ttf, left, &la, &lsb);
        draw_glyph(f, scale, left, pen - la * scale * track, base_y, line, lw, lh);
    }
    if (vkn_data_rng_unif(r) < 0.7)
        draw_glyph(f, scale, f->digit[vkn_data_rng_int(r, 10)], pen + adv * scale * track, base_y, line, lw, lh);

    /* warp: rotation, shear, aspect and offset, applied by inverse mapping with bilinear sampling */
    float th = (float)vkn_data_rng_range(r, -0.26, 0.26), sh = (float)vkn_data_rng_range(r, -0.25, 0.25);
    float ax = (float)vkn_data_rng_range(r, 0.8, 1.2);
    float dx = (float)vkn_data_rng_range(r, -2.5, 2.5) * SS, dy = (float)vkn_data_rng_range(r, -2.0, 2.0) * SS;
    /* forward A = R(th) * [[ax, sh], [0, 1]] maps line offsets to canvas offsets */
    float c = cosf(th), s = sinf(th);
    float a00 = c * ax, a01 = c * sh - s, a10 = s * ax, a11 = s * sh + c;
    float det = a00 * a11 - a01 * a10;
    float i00 = a11 / det, i01 = -a01 / det, i10 = -a10 / det, i11 = a00 / det;
    float cx = lw * 0.5f, cy = base_y - height * 0.5f;
    for (int y = 0; y < BIG; y++)
        for (int x = 0; x < BIG; x++) {
            float u = x + 0.5f - BIG * 0.5f - dx, v = y + 0.5f - BIG * 0.5f - dy;
            mask[y * BIG + x] = sample_bilinear(line, lw, lh, cx + i00 * u + i01 * v, cy + i10 * u + i11 * v);
        }

    /* stroke: thicker or thinner than the font draws it */
    double sr = vkn_data_rng_unif(r);
    if (sr < 0.2) morph(mask, tmp, 0);
    else if (sr > 0.55) morph(mask, tmp, 1);
    if (sr > 0.85) morph(mask, tmp, 1);

    /* shadow: the mask shifted by 1-2 px, drawn under the digit */
    int has_shadow = vkn_data_rng_unif(r) < 0.25;
    int sx = (int)vkn_data_rng_range(r, 2, 6) * (vkn_data_rng_unif(r) < 0.5 ? -1 : 1);
    int sy = (int)vkn_data_rng_range(r, 2, 6);
    for (int y = 0; y < BIG; y++)
        for (int x = 0; x < BIG; x++) {
            int X = x - sx, Y = y - sy;
            shadow[y * BIG + x] = has_shadow && X >= 0 && Y >= 0 && X < BIG && Y < BIG ? mask[Y * BIG + X] : 0;
        }

    /* colours: background and foreground with enough luminance contrast to stay readable */
    float bg[3], fg[3], sc[3], grad[3];
    for (int tries = 0; tries < 50; tries++) {
        for (int k = 0; k < 3; k++) bg[k] = (float)vkn_data_rng_unif(r), fg[k] = (float)vkn_data_rng_unif(r);
        if (fabsf(luma(bg) - luma(fg)) > 0.3f) break;
    }
    for (int k = 0; k < 3; k++) sc[k] = (float)vkn_data_rng_unif(r) * 0.4f, grad[k] = (float)vkn_data_rng_range(r, -0.25, 0.25);
    float gdir = (float)vkn_data_rng_range(r, 0, 6.2831853);
    float gx = cosf(gdir), gy = sinf(gdir);
    /* sometimes an edge in the background, like the border of a sign */
    int edge = vkn_data_rng_unif(r) < 0.25;
    float ex = (float)vkn_data_rng_range(r, 0, SIDE), edir = (float)vkn_data_rng_range(r, -0.5, 0.5), ec[3];
    for (int k = 0; k < 3; k++) ec[k] = (float)vkn_data_rng_unif(r);

    float plane[3][SIDE * SIDE];
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            float m = 0, sm = 0;  /* box-filter the 3x3 high-res block */
            for (int v = 0; v < SS; v++)
                for (int u = 0; u < SS; u++) m += mask[(y * SS + v) * BIG + x * SS + u], sm += shadow[(y * SS + v) * BIG + x * SS + u];
            m /= SS * SS, sm /= SS * SS;
            float t = ((x - SIDE / 2) * gx + (y - SIDE / 2) * gy) / SIDE;
            int in_edge = edge && (x - ex - edir * y) > 0;
            for (int k = 0; k < 3; k++) {
                float b = (in_edge ? ec[k] : bg[k]) + grad[k] * t * 2;
                b = b * (1 - sm) + sc[k] * sm;
                plane[k][y * SIDE + x] = b * (1 - m) + fg[k] * m;
            }
        }
    float sigma = vkn_data_rng_unif(r) < 0.5 ? 0 : (float)vkn_data_rng_range(r, 0.3, 1.1);
    float noise = (float)vkn_data_rng_range(r, 0, 0.05);
    for (int k = 0; k < 3; k++) {
        blur(plane[k], sigma);
        for (int p = 0; p < SIDE * SIDE; p++) {
            float v = plane[k][p] + noise * (float)gauss(r);
            long q = lroundf(v * 255.0f);
            out[k * SIDE * SIDE + p] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
    }
}

vkn_status vkn_data_syndigits_make(vkn_dataset *ds, int32_t n, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    if (n <= 0) return vkn_status_set(VKN_ERR_ARG, "syndigits: count %d must be >= 1", n);
    font_set *fs = calloc(1, sizeof *fs);
    if (!fs) return vkn_status_set(VKN_ERR_HOST_OOM, "syndigits: out of memory");
    float *line = malloc(sizeof(float) * LINE_W * LINE_H);  /* the unwarped text line */
    vkn_status st = line ? fonts_load(fs) : vkn_status_set(VKN_ERR_HOST_OOM, "syndigits: out of memory");
    if (st == VKN_OK) st = vkn_data_alloc(ds, "syndigits", n, 3, SIDE, SIDE, 10);
    if (st == VKN_OK)
        for (int32_t i = 0; i < n; i++) {
            vkn_data_rng r = vkn_data_rng_for(seed, (uint64_t)i);
            ds->labels[i] = (uint8_t)(i % 10);
            render(fs, i % 10, &r, line, ds->images + (size_t)i * 3 * SIDE * SIDE);
        }
    fonts_free(fs);
    free(fs);
    free(line);
    return st;
}
