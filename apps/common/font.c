/* TrueType text through vkn_ttf (src/data/ttf.c: the font validated, then drawn by stb_truetype).
 * Glyph bitmaps are cached per (codepoint, size). */
#include "viewer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkn/data.h"   /* vkn_ttf: validated fonts through stb_truetype */

#define DEJAVU_DIR "/usr/share/fonts/truetype/dejavu"
#define CACHE_SIZE 4096 /* glyph slots (power of two); flushed when three quarters full */

typedef struct glyph {
    uint32_t cp;      /* codepoint, 0 = empty slot */
    float px;         /* size */
    int index;        /* glyph index in the font */
    int w, h, xoff, yoff;
    float advance;    /* pixels */
    uint8_t *bitmap;  /* w*h coverage */
} glyph;

struct vkn_font {
    vkn_ttf *ttf;
    int ascent, descent, line_gap, cap_height; /* font units */
    glyph *cache;
    int used;
    char path[256];
};

vkn_status vkn_font_load(vkn_font **out, const char *path)
{
    *out = NULL;
    vkn_font *f = calloc(1, sizeof *f);
    if (!f) return vkn_status_set(VKN_ERR_HOST_OOM, "font: out of memory");
    vkn_status st = vkn_ttf_open(path, &f->ttf);
    if (st != VKN_OK) {
        free(f);
        return st;
    }
    vkn_ttf_vmetrics(f->ttf, &f->ascent, &f->descent, &f->line_gap);
    int x0, y0, x1, y1;
    f->cap_height = vkn_ttf_box(f->ttf, vkn_ttf_glyph(f->ttf, 'H'), &x0, &y0, &x1, &y1) ? y1 : f->ascent * 3 / 4;
    f->cache = calloc(CACHE_SIZE, sizeof *f->cache);
    if (!f->cache) {
        vkn_ttf_close(f->ttf);
        free(f);
        return vkn_status_set(VKN_ERR_HOST_OOM, "font: out of memory");
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    *out = f;
    return VKN_OK;
}

vkn_status vkn_font_load_face(vkn_font **out, vkn_font_face face)
{
    static const char *names[] = {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf"};
    const char *dir = getenv("VKN_FONT_DIR");
    if (!dir || !*dir) dir = DEJAVU_DIR;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, names[face]);
    vkn_status st = vkn_font_load(out, path);
    if (st == VKN_ERR_IO)
        return vkn_status_set(VKN_ERR_IO, "font: %s not found: install the Debian package fonts-dejavu-core "
                              "(sudo apt-get install fonts-dejavu-core, or scripts/install-deps), or point "
                              "VKN_FONT_DIR at a folder holding %s", path, names[face]);
    return st;
}

static void cache_flush(vkn_font *f)
{
    for (int i = 0; i < CACHE_SIZE; i++) free(f->cache[i].bitmap);
    memset(f->cache, 0, CACHE_SIZE * sizeof *f->cache);
    f->used = 0;
}

void vkn_font_free(vkn_font *f)
{
    if (!f) return;
    cache_flush(f);
    free(f->cache);
    vkn_ttf_close(f->ttf);
    free(f);
}

static inline float scale_of(const vkn_font *f, float px) { return vkn_ttf_scale_for_em(f->ttf, px); }

static const glyph *get_glyph(vkn_font *f, uint32_t cp, float px)
{
    uint32_t pbits;
    memcpy(&pbits, &px, 4);
    uint32_t hsh = (cp * 2654435761u) ^ (pbits * 40503u);
    for (;;) {
        for (uint32_t k = 0; k < CACHE_SIZE; k++) {
            glyph *g = &f->cache[(hsh + k) & (CACHE_SIZE - 1)];
            if (g->cp == cp && g->px == px) return g;
            if (g->cp != 0) continue;
            if (f->used >= CACHE_SIZE * 3 / 4) break; /* full: flush and retry */
            float s = scale_of(f, px);
            g->cp = cp;
            g->px = px;
            g->index = vkn_ttf_glyph(f->ttf, cp);
            int adv, lsb;
            vkn_ttf_hmetrics(f->ttf, g->index, &adv, &lsb);
            g->advance = adv * s;
            g->bitmap = vkn_ttf_bitmap(f->ttf, s, g->index, &g->w, &g->h, &g->xoff, &g->yoff);
            f->used++;
            return g;
        }
        cache_flush(f);
    }
}

/* Next codepoint of UTF-8 text (invalid bytes decode as U+FFFD). */
static uint32_t utf8_next(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    uint32_t c = p[0];
    int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    if (n < 0) {
        *s += 1;
        return 0xfffd;
    }
    if (n > 0) c &= 0x3fu >> n;
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *s += i;
            return 0xfffd;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    *s += n + 1;
    return c;
}

float vkn_font_width(vkn_font *f, float px, const char *text)
{
    float w = 0.f, s = scale_of(f, px);
    int prev = -1;
    while (*text) {
        uint32_t cp = utf8_next(&text);
        if (cp == '\n') break;
        const glyph *g = get_glyph(f, cp, px);
        if (prev >= 0) w += vkn_ttf_kern(f->ttf, prev, g->index) * s;
        w += g->advance;
        prev = g->index;
    }
    return w;
}

float vkn_font_line_height(vkn_font *f, float px) { return (f->ascent - f->descent + f->line_gap) * scale_of(f, px); }
float vkn_font_ascent(vkn_font *f, float px) { return f->ascent * scale_of(f, px); }

float vkn_canvas_text(vkn_canvas *c, vkn_font *f, float px, float x, float y, int align, vkn_color col,
                      const char *text)
{
    if (!f || !text || !*text) return 0.f;
    float s = scale_of(f, px);
    float width = (align & 3) ? vkn_font_width(f, px, text) : 0.f;
    if ((align & 3) == VKN_ALIGN_CENTER) x -= width * 0.5f;
    else if ((align & 3) == VKN_ALIGN_RIGHT) x -= width;
    float base;
    if (align & VKN_ALIGN_MIDDLE) base = y + f->cap_height * s * 0.5f; /* capitals centred on y */
    else if (align & VKN_ALIGN_BOTTOM) base = y + f->descent * s;
    else base = y + f->ascent * s;
    int by = (int)lrintf(base);
    if (c->text_log && c->text_n < c->text_cap) {
        vkn_text_box *t = &c->text_log[c->text_n++];
        float w = width > 0 ? width : vkn_font_width(f, px, text);
        t->box = (vkn_rect){(int)floorf(x), (int)floorf(base - f->ascent * s), (int)ceilf(w),
                            (int)ceilf((f->ascent - f->descent) * s)};
        t->clip = c->clip;
        snprintf(t->text, sizeof t->text, "%s", text);
    }
    float pen = x;
    int prev = -1;
    while (*text) {
        uint32_t cp = utf8_next(&text);
        if (cp == '\n') break;
        const glyph *g = get_glyph(f, cp, px);
        if (prev >= 0) pen += vkn_ttf_kern(f->ttf, prev, g->index) * s;
        int gx = (int)lrintf(pen) + g->xoff, gy = by + g->yoff;
        for (int j = 0; j < g->h; j++)
            for (int i = 0; i < g->w; i++) {
                uint8_t a = g->bitmap[j * g->w + i];
                if (a) vkn_canvas_blend(c, gx + i, gy + j, col, a * (1.f / 255.f));
            }
        pen += g->advance;
        prev = g->index;
    }
    return pen - x;
}

void vkn_font_render_gray(vkn_font *f, float px, const char *text, uint8_t *out, int w, int h)
{
    memset(out, 0, (size_t)w * h);
    vkn_canvas c;
    if (vkn_canvas_init(&c, w, h) != VKN_OK) return;
    vkn_canvas_clear(&c, 0x000000ffu);
    vkn_canvas_text(&c, f, px, w * 0.5f, h * 0.5f, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, 0xffffffffu, text);
    for (int i = 0; i < w * h; i++) out[i] = c.px[i * 4];
    vkn_canvas_free(&c);
}
