/* The UI context, layout helpers, panels, the key-value panel and the statistics table. */
#include "viewer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAD 10       /* inner padding of a panel */
#define HEADER 30    /* title bar height */

vkn_status vkn_ui_init(vkn_ui *ui, vkn_canvas *canvas)
{
    memset(ui, 0, sizeof *ui);
    ui->canvas = canvas;
    ui->text_px = 13.f;
    ui->small_px = 11.f;
    ui->title_px = 13.f;
    vkn_status st = vkn_font_load_face(&ui->sans, VKN_FONT_SANS);
    if (st == VKN_OK) st = vkn_font_load_face(&ui->bold, VKN_FONT_BOLD);
    if (st == VKN_OK) st = vkn_font_load_face(&ui->mono, VKN_FONT_MONO);
    if (st != VKN_OK) vkn_ui_free(ui);
    return st;
}

void vkn_ui_free(vkn_ui *ui)
{
    vkn_font_free(ui->sans);
    vkn_font_free(ui->bold);
    vkn_font_free(ui->mono);
    ui->sans = ui->bold = ui->mono = NULL;
}

float vkn_ui_text(vkn_ui *ui, float x, float y, int align, vkn_color col, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return vkn_canvas_text(ui->canvas, ui->sans, ui->text_px, x, y, align, col, buf);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

vkn_rect vkn_rect_cut_top(vkn_rect *r, int size, int gap)
{
    size = clampi(size, 0, r->h);
    vkn_rect out = {r->x, r->y, r->w, size};
    int used = clampi(size + gap, 0, r->h);
    r->y += used, r->h -= used;
    return out;
}

vkn_rect vkn_rect_cut_bottom(vkn_rect *r, int size, int gap)
{
    size = clampi(size, 0, r->h);
    vkn_rect out = {r->x, r->y + r->h - size, r->w, size};
    r->h -= clampi(size + gap, 0, r->h);
    return out;
}

vkn_rect vkn_rect_cut_left(vkn_rect *r, int size, int gap)
{
    size = clampi(size, 0, r->w);
    vkn_rect out = {r->x, r->y, size, r->h};
    int used = clampi(size + gap, 0, r->w);
    r->x += used, r->w -= used;
    return out;
}

vkn_rect vkn_rect_cut_right(vkn_rect *r, int size, int gap)
{
    size = clampi(size, 0, r->w);
    vkn_rect out = {r->x + r->w - size, r->y, size, r->h};
    r->w -= clampi(size + gap, 0, r->w);
    return out;
}

vkn_rect vkn_rect_inset(vkn_rect r, int d)
{
    r.x += d, r.y += d, r.w -= 2 * d, r.h -= 2 * d;
    if (r.w < 0) r.w = 0;
    if (r.h < 0) r.h = 0;
    return r;
}

bool vkn_rect_contains(vkn_rect r, int x, int y) { return x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h; }

vkn_rect vkn_ui_panel(vkn_ui *ui, vkn_rect r, const char *title, const char *note)
{
    vkn_canvas *c = ui->canvas;
    vkn_canvas_round_rect(c, r, 6, VKN_COL_BORDER);
    vkn_canvas_round_rect(c, vkn_rect_inset(r, 1), 5, VKN_COL_PANEL);
    vkn_rect in = vkn_rect_inset(r, PAD);
    if (title && *title) {
        vkn_rect head = vkn_rect_cut_top(&in, HEADER - PAD, 6);
        float cy = head.y + head.h * 0.5f + 1.f;
        /* a narrow panel: the title is clipped to it and a note that would collide with it is left out */
        vkn_rect keep = c->clip;
        vkn_canvas_set_clip(c, vkn_rect_inset(r, 2));
        float tw = vkn_canvas_text(c, ui->bold, ui->title_px, (float)head.x + 2, cy, VKN_ALIGN_MIDDLE, VKN_COL_TEXT, title);
        if (note && *note && tw + vkn_font_width(ui->sans, ui->small_px, note) + 16 <= head.w)
            vkn_canvas_text(c, ui->sans, ui->small_px, (float)(head.x + head.w - 2), cy,
                            VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_DIM, note);
        c->clip = keep;
    }
    return in;
}

/* ---- key-value panel ---- */

vkn_kv vkn_ui_kv_begin(vkn_ui *ui, vkn_rect r, const char *title)
{
    vkn_kv p = {ui, vkn_ui_panel(ui, r, title, NULL), 0, 0};
    p.y = p.r.y;
    p.key_w = p.r.w * 9 / 20;
    if (p.key_w > 130) p.key_w = 130;
    return p;
}

void vkn_ui_kv(vkn_kv *p, vkn_color value_color, const char *key, const char *fmt, ...)
{
    vkn_ui *ui = p->ui;
    float lh = roundf(vkn_font_line_height(ui->sans, ui->text_px) * 1.12f);
    if (p->y + lh > p->r.y + p->r.h + 2) return; /* out of room: later lines are dropped */
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    float cy = p->y + lh * 0.5f;
    vkn_canvas_set_clip(ui->canvas, p->r);
    vkn_canvas_text(ui->canvas, ui->sans, ui->text_px, (float)p->r.x, cy, VKN_ALIGN_MIDDLE, VKN_COL_DIM, key);
    vkn_canvas_text(ui->canvas, ui->mono, ui->text_px, (float)(p->r.x + p->key_w), cy, VKN_ALIGN_MIDDLE,
                    value_color ? value_color : VKN_COL_TEXT, buf);
    vkn_canvas_reset_clip(ui->canvas);
    p->y += (int)lh;
}

void vkn_ui_kv_separator(vkn_kv *p)
{
    int y = p->y + 4;
    if (y < p->r.y + p->r.h) vkn_canvas_hline(p->ui->canvas, p->r.x, p->r.x + p->r.w - 1, y, VKN_COL_BORDER);
    p->y += 9;
}

/* ---- statistics table ---- */

void vkn_ui_table(vkn_ui *ui, vkn_rect r, const vkn_table *t)
{
    vkn_canvas *c = ui->canvas;
    vkn_rect in = vkn_ui_panel(ui, r, t->title, NULL);
    if (t->rows <= 0 || t->cols <= 0) return;
    const char *fmt = t->fmt ? t->fmt : "%.3f";
    float px = ui->small_px + 0.5f;
    int head_w, colw[64], total, ncols = t->cols < 64 ? t->cols : 64;
    char buf[64];
    /* column widths: the widest of the header and the formatted values; a table wider than its panel
     * is set in a smaller size (down to 8.5 px) rather than losing its right-hand columns */
    for (int pass = 0; pass < 3; pass++) {
        head_w = 0;
        if (t->row_headers)
            for (int i = 0; i < t->rows; i++) {
                int w = (int)ceilf(vkn_font_width(ui->sans, px, t->row_headers[i] ? t->row_headers[i] : ""));
                if (w > head_w) head_w = w;
            }
        total = head_w;
        for (int j = 0; j < ncols; j++) {
            int w = t->col_headers ? (int)ceilf(vkn_font_width(ui->bold, px, t->col_headers[j])) : 0;
            for (int i = 0; i < t->rows; i++) {
                float v = t->values[(size_t)i * t->cols + j];
                if (isnan(v)) snprintf(buf, sizeof buf, "-");
                else snprintf(buf, sizeof buf, fmt, v);
                int vw = (int)ceilf(vkn_font_width(ui->mono, px, buf));
                if (vw > w) w = vw;
            }
            colw[j] = w;
            total += w;
        }
        int need = total + 6 * (ncols + (t->row_headers ? 1 : 0));
        if (pass == 2 || need <= in.w) break;
        px = fmaxf(8.5f, px * (float)in.w / (float)need);
    }
    float lh = roundf(vkn_font_line_height(ui->mono, px) * 1.15f);
    /* spread the spare width between the columns (capped so wide panels stay tidy) */
    int gaps = ncols + (t->row_headers ? 1 : 0);
    int spare = in.w - total, gap = gaps > 0 ? spare / gaps : 0;
    if (gap > 28) gap = 28;
    if (gap < 6) gap = 6;
    vkn_canvas_set_clip(c, in);
    float y = (float)in.y;
    int x;
    if (t->col_headers) {
        x = in.x + (t->row_headers ? head_w + gap : 0);
        for (int j = 0; j < ncols; j++) {
            x += colw[j];
            vkn_canvas_text(c, ui->bold, px, (float)x, y + lh * 0.5f, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_DIM,
                            t->col_headers[j]);
            x += gap;
        }
        y += lh;
        vkn_canvas_hline(c, in.x, in.x + in.w - 1, (int)y, VKN_COL_BORDER);
        y += 3;
    }
    /* rows that fit; when some do not, the last line says which are shown and the wheel scrolls */
    int fit = (int)((in.y + in.h + 1 - y) / lh), first = 0;
    if (fit < 1) fit = 1;
    if (t->rows > fit) {
        fit = fit > 1 ? fit - 1 : 1;
        first = t->scroll ? *t->scroll : 0;
        if (t->scroll && ui->in.wheel && vkn_rect_contains(r, ui->in.mouse_x, ui->in.mouse_y)) first -= ui->in.wheel;
        if (first > t->rows - fit) first = t->rows - fit;
        if (first < 0) first = 0;
        char note[96];
        snprintf(note, sizeof note, "rows %d-%d of %d%s", first + 1, first + fit, t->rows, t->scroll ? " \xc2\xb7 wheel / PgUp PgDn" : "");
        vkn_canvas_text(c, ui->sans, ui->small_px, (float)(in.x + in.w), y + fit * lh + lh * 0.5f,
                        VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_ACCENT, note);
    }
    if (t->scroll) *t->scroll = first;
    for (int i = first; i < t->rows && i < first + fit; i++) {
        if (i & 1) vkn_canvas_fill_rect(c, (vkn_rect){in.x, (int)y, in.w, (int)lh}, 0xffffff08u);
        float cy = y + lh * 0.5f;
        x = in.x;
        if (t->row_headers) {
            vkn_canvas_text(c, ui->sans, px, (float)x, cy, VKN_ALIGN_MIDDLE, VKN_COL_TEXT,
                            t->row_headers[i] ? t->row_headers[i] : "");
            x += head_w + gap;
        }
        for (int j = 0; j < ncols; j++) {
            float v = t->values[(size_t)i * t->cols + j];
            if (isnan(v)) snprintf(buf, sizeof buf, "-");
            else snprintf(buf, sizeof buf, fmt, v);
            vkn_color col = t->colors && t->colors[(size_t)i * t->cols + j] ? t->colors[(size_t)i * t->cols + j]
                                                                              : VKN_COL_TEXT;
            x += colw[j];
            vkn_canvas_text(c, ui->mono, px, (float)x, cy, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, col, buf);
            x += gap;
        }
        y += lh;
    }
    vkn_canvas_reset_clip(c);
}
