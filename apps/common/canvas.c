/* The RGBA framebuffer everything is drawn into: rectangles, anti-aliased lines and markers (coverage
 * from signed distances), and nearest-neighbour image blits. All writes respect the clip rectangle. */
#include "viewer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vkn_color palette[10] = {
    0x5aa9f5ffu, /* blue */
    0xf59e4cffu, /* orange */
    0x5fcf80ffu, /* green */
    0xef6a6affu, /* red */
    0xb08cf0ffu, /* violet */
    0xc99a7affu, /* brown */
    0xf28fd0ffu, /* pink */
    0xb8bcc6ffu, /* grey */
    0xdcd65cffu, /* olive-yellow */
    0x4fd6d6ffu, /* cyan */
};

vkn_color vkn_palette(int i)
{
    i %= 10;
    if (i < 0) i += 10;
    return palette[i];
}

vkn_status vkn_canvas_init(vkn_canvas *c, int w, int h)
{
    memset(c, 0, sizeof *c);
    return vkn_canvas_resize(c, w, h);
}

vkn_status vkn_canvas_resize(vkn_canvas *c, int w, int h)
{
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384)
        return vkn_status_set(VKN_ERR_ARG, "canvas: size %dx%d must be 1 .. 16384 on each side", w, h);
    if (w != c->w || h != c->h || !c->px) {
        uint8_t *px = malloc((size_t)w * h * 4);
        if (!px) return vkn_status_set(VKN_ERR_HOST_OOM, "canvas: out of memory for %dx%d pixels", w, h);
        free(c->px);
        c->px = px;
        c->w = w;
        c->h = h;
    }
    vkn_canvas_reset_clip(c);
    vkn_canvas_clear(c, VKN_COL_BG);
    return VKN_OK;
}

void vkn_canvas_free(vkn_canvas *c)
{
    free(c->px);
    memset(c, 0, sizeof *c);
}

void vkn_canvas_reset_clip(vkn_canvas *c) { c->clip = (vkn_rect){0, 0, c->w, c->h}; }

void vkn_canvas_set_clip(vkn_canvas *c, vkn_rect r)
{
    int x0 = r.x > 0 ? r.x : 0, y0 = r.y > 0 ? r.y : 0;
    int x1 = r.x + r.w < c->w ? r.x + r.w : c->w, y1 = r.y + r.h < c->h ? r.y + r.h : c->h;
    c->clip = (vkn_rect){x0, y0, x1 > x0 ? x1 - x0 : 0, y1 > y0 ? y1 - y0 : 0};
}

static inline bool in_clip(const vkn_canvas *c, int x, int y)
{
    return x >= c->clip.x && y >= c->clip.y && x < c->clip.x + c->clip.w && y < c->clip.y + c->clip.h;
}

vkn_color vkn_canvas_get(const vkn_canvas *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return 0;
    const uint8_t *p = c->px + ((size_t)y * c->w + x) * 4;
    return VKN_RGBA(p[0], p[1], p[2], p[3]);
}

static inline void put(uint8_t *p, vkn_color col)
{
    p[0] = (uint8_t)(col >> 24);
    p[1] = (uint8_t)(col >> 16);
    p[2] = (uint8_t)(col >> 8);
    p[3] = 255;
}

static inline void mix(uint8_t *p, vkn_color col, int a /* 0..255 */)
{
    int r = (int)(col >> 24) & 255, g = (int)(col >> 16) & 255, b = (int)(col >> 8) & 255;
    p[0] = (uint8_t)((r * a + p[0] * (255 - a) + 127) / 255);
    p[1] = (uint8_t)((g * a + p[1] * (255 - a) + 127) / 255);
    p[2] = (uint8_t)((b * a + p[2] * (255 - a) + 127) / 255);
    p[3] = 255;
}

void vkn_canvas_blend(vkn_canvas *c, int x, int y, vkn_color col, float coverage)
{
    if (!in_clip(c, x, y) || coverage <= 0.f) return;
    if (coverage > 1.f) coverage = 1.f;
    int a = (int)((float)(col & 255) * coverage + 0.5f);
    if (a <= 0) return;
    uint8_t *p = c->px + ((size_t)y * c->w + x) * 4;
    if (a >= 255) put(p, col);
    else mix(p, col, a);
}

void vkn_canvas_clear(vkn_canvas *c, vkn_color col)
{
    size_t n = (size_t)c->w * c->h;
    for (size_t i = 0; i < n; i++) put(c->px + i * 4, col);
}

void vkn_canvas_fill_rect(vkn_canvas *c, vkn_rect r, vkn_color col)
{
    int x0 = r.x > c->clip.x ? r.x : c->clip.x, y0 = r.y > c->clip.y ? r.y : c->clip.y;
    int x1 = r.x + r.w, y1 = r.y + r.h;
    if (x1 > c->clip.x + c->clip.w) x1 = c->clip.x + c->clip.w;
    if (y1 > c->clip.y + c->clip.h) y1 = c->clip.y + c->clip.h;
    int a = (int)(col & 255);
    if (x0 >= x1 || y0 >= y1 || a == 0) return;
    for (int y = y0; y < y1; y++) {
        uint8_t *p = c->px + ((size_t)y * c->w + x0) * 4;
        if (a == 255)
            for (int x = x0; x < x1; x++, p += 4) put(p, col);
        else
            for (int x = x0; x < x1; x++, p += 4) mix(p, col, a);
    }
}

void vkn_canvas_rect(vkn_canvas *c, vkn_rect r, vkn_color col, int t)
{
    if (t <= 0) return;
    if (2 * t >= r.w || 2 * t >= r.h) {
        vkn_canvas_fill_rect(c, r, col);
        return;
    }
    vkn_canvas_fill_rect(c, (vkn_rect){r.x, r.y, r.w, t}, col);
    vkn_canvas_fill_rect(c, (vkn_rect){r.x, r.y + r.h - t, r.w, t}, col);
    vkn_canvas_fill_rect(c, (vkn_rect){r.x, r.y + t, t, r.h - 2 * t}, col);
    vkn_canvas_fill_rect(c, (vkn_rect){r.x + r.w - t, r.y + t, t, r.h - 2 * t}, col);
}

void vkn_canvas_hline(vkn_canvas *c, int x0, int x1, int y, vkn_color col)
{
    if (x1 < x0) { int t = x0; x0 = x1; x1 = t; }
    vkn_canvas_fill_rect(c, (vkn_rect){x0, y, x1 - x0 + 1, 1}, col);
}

void vkn_canvas_vline(vkn_canvas *c, int x, int y0, int y1, vkn_color col)
{
    if (y1 < y0) { int t = y0; y0 = y1; y1 = t; }
    vkn_canvas_fill_rect(c, (vkn_rect){x, y0, 1, y1 - y0 + 1}, col);
}

void vkn_canvas_dashed_hline(vkn_canvas *c, int x0, int x1, int y, int dash, vkn_color col)
{
    if (dash < 1) dash = 1;
    for (int x = x0; x <= x1; x += 2 * dash) vkn_canvas_hline(c, x, x + dash - 1 < x1 ? x + dash - 1 : x1, y, col);
}

/* Distance from p to the segment a-b (round caps). */
static inline float seg_dist(float px, float py, float ax, float ay, float bx, float by)
{
    float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    float t = len2 > 0.f ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0.f;
    t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
    float ex = px - (ax + t * dx), ey = py - (ay + t * dy);
    return sqrtf(ex * ex + ey * ey);
}

void vkn_canvas_line(vkn_canvas *c, float x0, float y0, float x1, float y1, float width, vkn_color col)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    float hw = width > 0.5f ? width * 0.5f : 0.25f;
    float pad = hw + 1.5f;
    /* shift to pixel-centre coordinates: pixel (i, j) has its centre at (i + 0.5, j + 0.5) */
    float dx = x1 - x0, dy = y1 - y0;
    bool steep = fabsf(dy) > fabsf(dx);
    if (!steep) {
        float xa = fminf(x0, x1) - pad, xb = fmaxf(x0, x1) + pad;
        int ia = (int)floorf(xa), ib = (int)ceilf(xb);
        if (ia < c->clip.x) ia = c->clip.x;
        if (ib > c->clip.x + c->clip.w - 1) ib = c->clip.x + c->clip.w - 1;
        float slope = dx != 0.f ? dy / dx : 0.f;
        float extra = hw * sqrtf(1.f + slope * slope) + 1.5f;
        for (int i = ia; i <= ib; i++) {
            float px = i + 0.5f;
            float tx = px < fminf(x0, x1) ? fminf(x0, x1) : px > fmaxf(x0, x1) ? fmaxf(x0, x1) : px;
            float yc = dx != 0.f ? y0 + (tx - x0) * slope : y0;
            int ja = (int)floorf(yc - extra), jb = (int)ceilf(yc + extra);
            for (int j = ja; j <= jb; j++) {
                float d = seg_dist(px, j + 0.5f, x0, y0, x1, y1);
                vkn_canvas_blend(c, i, j, col, hw + 0.5f - d);
            }
        }
    } else {
        float ya = fminf(y0, y1) - pad, yb = fmaxf(y0, y1) + pad;
        int ja = (int)floorf(ya), jb = (int)ceilf(yb);
        if (ja < c->clip.y) ja = c->clip.y;
        if (jb > c->clip.y + c->clip.h - 1) jb = c->clip.y + c->clip.h - 1;
        float slope = dx / dy;
        float extra = hw * sqrtf(1.f + slope * slope) + 1.5f;
        for (int j = ja; j <= jb; j++) {
            float py = j + 0.5f;
            float ty = py < fminf(y0, y1) ? fminf(y0, y1) : py > fmaxf(y0, y1) ? fmaxf(y0, y1) : py;
            float xc = x0 + (ty - y0) * slope;
            int ia = (int)floorf(xc - extra), ib = (int)ceilf(xc + extra);
            for (int i = ia; i <= ib; i++) {
                float d = seg_dist(i + 0.5f, py, x0, y0, x1, y1);
                vkn_canvas_blend(c, i, j, col, hw + 0.5f - d);
            }
        }
    }
}

void vkn_canvas_polyline(vkn_canvas *c, const float *xy, int n, float width, vkn_color col)
{
    for (int i = 0; i + 1 < n; i++) vkn_canvas_line(c, xy[2 * i], xy[2 * i + 1], xy[2 * i + 2], xy[2 * i + 3], width, col);
    if (n == 1) vkn_canvas_line(c, xy[0], xy[1], xy[0], xy[1], width, col);
}

/* Signed distance of (px, py) (relative to the marker centre) to the marker's shape of radius r. */
static float marker_sdf(vkn_marker m, float px, float py, float r)
{
    switch (m) {
    case VKN_MARK_SQUARE: {
        float b = r * 0.82f, qx = fabsf(px) - b, qy = fabsf(py) - b;
        float ox = fmaxf(qx, 0.f), oy = fmaxf(qy, 0.f);
        return sqrtf(ox * ox + oy * oy) + fminf(fmaxf(qx, qy), 0.f);
    }
    case VKN_MARK_DIAMOND: return (fabsf(px) + fabsf(py) - r * 1.15f) * 0.70710678f;
    case VKN_MARK_TRIANGLE: {
        /* equilateral, pointing up; centroid at the centre (after Inigo Quilez's sdEquilateralTriangle) */
        const float k = 1.7320508f;
        float s = r * 1.15f; /* half the side */
        float x = fabsf(px) - s, y = -py + s / k;
        if (x + k * y > 0.f) {
            float nx = (x - k * y) * 0.5f, ny = (-k * x - y) * 0.5f;
            x = nx, y = ny;
        }
        x -= fminf(fmaxf(x, -2.f * s), 0.f);
        float d = sqrtf(x * x + y * y);
        return y < 0.f ? d : -d;
    }
    case VKN_MARK_CROSS: {
        float u = (px + py) * 0.70710678f, v = (px - py) * 0.70710678f, b = r * 1.05f, t = r * 0.28f;
        float q1x = fabsf(u) - b, q1y = fabsf(v) - t, q2x = fabsf(u) - t, q2y = fabsf(v) - b;
        float d1 = sqrtf(fmaxf(q1x, 0.f) * fmaxf(q1x, 0.f) + fmaxf(q1y, 0.f) * fmaxf(q1y, 0.f)) + fminf(fmaxf(q1x, q1y), 0.f);
        float d2 = sqrtf(fmaxf(q2x, 0.f) * fmaxf(q2x, 0.f) + fmaxf(q2y, 0.f) * fmaxf(q2y, 0.f)) + fminf(fmaxf(q2x, q2y), 0.f);
        return fminf(d1, d2);
    }
    case VKN_MARK_RING: return fabsf(sqrtf(px * px + py * py) - (r - 0.75f)) - 0.8f;
    case VKN_MARK_CIRCLE:
    default: return sqrtf(px * px + py * py) - r;
    }
}

void vkn_canvas_marker(vkn_canvas *c, vkn_marker m, float x, float y, float r, vkn_color fill, vkn_color outline)
{
    if (!isfinite(x) || !isfinite(y) || r <= 0.f) return;
    float ow = (outline && m != VKN_MARK_RING) ? 1.2f : 0.f;
    int i0 = (int)floorf(x - r - 3), i1 = (int)ceilf(x + r + 3);
    int j0 = (int)floorf(y - r - 3), j1 = (int)ceilf(y + r + 3);
    for (int j = j0; j <= j1; j++)
        for (int i = i0; i <= i1; i++) {
            float d = marker_sdf(m, i + 0.5f - x, j + 0.5f - y, r);
            if (ow > 0.f) {
                vkn_canvas_blend(c, i, j, outline, 0.5f - d);
                vkn_canvas_blend(c, i, j, fill, 0.5f - (d + ow));
            } else {
                vkn_canvas_blend(c, i, j, fill, 0.5f - d);
            }
        }
}

void vkn_canvas_blit_rgba(vkn_canvas *c, const uint8_t *src, int sw, int sh, vkn_rect dst)
{
    if (sw <= 0 || sh <= 0 || dst.w <= 0 || dst.h <= 0) return;
    for (int y = 0; y < dst.h; y++) {
        int cy = dst.y + y;
        if (cy < c->clip.y || cy >= c->clip.y + c->clip.h) continue;
        const uint8_t *row = src + (size_t)((int64_t)y * sh / dst.h) * sw * 4;
        for (int x = 0; x < dst.w; x++) {
            int cx = dst.x + x;
            if (cx < c->clip.x || cx >= c->clip.x + c->clip.w) continue;
            const uint8_t *s = row + (size_t)((int64_t)x * sw / dst.w) * 4;
            uint8_t *p = c->px + ((size_t)cy * c->w + cx) * 4;
            if (s[3] == 255) memcpy(p, s, 3), p[3] = 255;
            else if (s[3]) mix(p, VKN_RGBA(s[0], s[1], s[2], 0), s[3]);
        }
    }
}

static inline uint8_t to_u8(float v)
{
    float f = (v + 1.f) * 127.5f;
    if (!(f > 0.f)) return 0; /* NaN -> 0 */
    if (f >= 255.f) return 255;
    return (uint8_t)(f + 0.5f);
}

void vkn_canvas_blit_float(vkn_canvas *c, const float *img, int ch, int h, int w, vkn_rect dst)
{
    if (!img || h <= 0 || w <= 0 || dst.w <= 0 || dst.h <= 0 || (ch != 1 && ch != 3)) return;
    size_t hw = (size_t)h * w;
    for (int y = 0; y < dst.h; y++) {
        int cy = dst.y + y;
        if (cy < c->clip.y || cy >= c->clip.y + c->clip.h) continue;
        size_t sy = (size_t)((int64_t)y * h / dst.h) * w;
        for (int x = 0; x < dst.w; x++) {
            int cx = dst.x + x;
            if (cx < c->clip.x || cx >= c->clip.x + c->clip.w) continue;
            size_t s = sy + (size_t)((int64_t)x * w / dst.w);
            uint8_t *p = c->px + ((size_t)cy * c->w + cx) * 4;
            if (ch == 1) p[0] = p[1] = p[2] = to_u8(img[s]);
            else p[0] = to_u8(img[s]), p[1] = to_u8(img[hw + s]), p[2] = to_u8(img[2 * hw + s]);
            p[3] = 255;
        }
    }
}

void vkn_canvas_round_rect(vkn_canvas *c, vkn_rect r, int rad, vkn_color col)
{
    if (r.w <= 0 || r.h <= 0) return;
    if (rad > r.w / 2) rad = r.w / 2;
    if (rad > r.h / 2) rad = r.h / 2;
    if (rad <= 0) {
        vkn_canvas_fill_rect(c, r, col);
        return;
    }
    vkn_canvas_fill_rect(c, (vkn_rect){r.x, r.y + rad, r.w, r.h - 2 * rad}, col);
    vkn_canvas_fill_rect(c, (vkn_rect){r.x + rad, r.y, r.w - 2 * rad, rad}, col);
    vkn_canvas_fill_rect(c, (vkn_rect){r.x + rad, r.y + r.h - rad, r.w - 2 * rad, rad}, col);
    /* the four corners: coverage from the distance to each corner circle's centre */
    for (int j = 0; j < rad; j++)
        for (int i = 0; i < rad; i++) {
            float dx = rad - (i + 0.5f), dy = rad - (j + 0.5f);
            float cov = rad + 0.5f - sqrtf(dx * dx + dy * dy);
            if (cov <= 0.f) continue;
            vkn_canvas_blend(c, r.x + i, r.y + j, col, cov);
            vkn_canvas_blend(c, r.x + r.w - 1 - i, r.y + j, col, cov);
            vkn_canvas_blend(c, r.x + i, r.y + r.h - 1 - j, col, cov);
            vkn_canvas_blend(c, r.x + r.w - 1 - i, r.y + r.h - 1 - j, col, cov);
        }
}
