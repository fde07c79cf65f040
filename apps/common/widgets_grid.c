/* The sample grid: float images [N,C,H,W] in [-1, 1] at the largest integer zoom that fits, with
 * optional per-cell border colours (right/wrong), captions and row/column labels. */
#include "viewer.h"

#include <math.h>
#include <string.h>

#define GAP 6 /* pixels between images; borders (2 px) sit inside the gap */

vkn_grid_layout vkn_grid_compute_layout(vkn_rect r, int rows, int cols, int h, int w, bool captions,
                                        bool col_labels, bool row_labels, float caption_px)
{
    vkn_grid_layout L = {0};
    if (rows <= 0 || cols <= 0 || h <= 0 || w <= 0) return L;
    int cap_h = captions ? (int)ceilf(caption_px * 1.45f) : 0;
    L.label_h = col_labels ? (int)ceilf(caption_px * 1.7f) : 0;
    L.label_w = row_labels ? (int)ceilf(caption_px * 4.f) : 0;
    int avail_w = r.w - L.label_w, avail_h = r.h - L.label_h;
    int sx = (avail_w / cols - GAP) / w, sy = (avail_h / rows - GAP - cap_h) / h;
    L.scale = sx < sy ? sx : sy;
    if (L.scale < 1) L.scale = 1;
    L.img_w = w * L.scale;
    L.img_h = h * L.scale;
    L.cell_w = L.img_w + GAP;
    L.cell_h = L.img_h + GAP + cap_h;
    int total_w = cols * L.cell_w - GAP, total_h = rows * L.cell_h - GAP;
    L.x0 = r.x + L.label_w + (avail_w - total_w) / 2;
    L.y0 = r.y + L.label_h + (avail_h - total_h) / 2;
    if (L.x0 < r.x + L.label_w) L.x0 = r.x + L.label_w;
    if (L.y0 < r.y + L.label_h) L.y0 = r.y + L.label_h;
    return L;
}

int vkn_grid_hit(const vkn_grid_layout *L, int rows, int cols, int x, int y)
{
    if (L->cell_w <= 0 || x < L->x0 || y < L->y0) return -1;
    int col = (x - L->x0) / L->cell_w, row = (y - L->y0) / L->cell_h;
    if (col >= cols || row >= rows) return -1;
    if ((x - L->x0) % L->cell_w >= L->img_w || (y - L->y0) % L->cell_h >= L->img_h) return -1; /* in a gap */
    return row * cols + col;
}

/* A label cut to max_w pixels with an ellipsis (so neighbouring column labels never run together). */
static const char *fit_label(vkn_font *f, float px, const char *text, float max_w, char *buf, size_t n)
{
    if (vkn_font_width(f, px, text) <= max_w) return text;
    size_t len = strlen(text);
    if (len >= n - 4) len = n - 4;
    while (len > 0) {
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80) len--; /* a UTF-8 boundary */
        memcpy(buf, text, len);
        memcpy(buf + len, "\xe2\x80\xa6", 4);
        if (vkn_font_width(f, px, buf) <= max_w) return buf;
        len--;
    }
    return "";
}

vkn_grid_layout vkn_ui_grid(vkn_ui *ui, vkn_rect r, const vkn_grid *g)
{
    vkn_canvas *c = ui->canvas;
    float cpx = ui->small_px;
    /* row labels wider than the layout's default room take it from the left */
    vkn_rect rl = r;
    if (g->row_labels) {
        float mw = 0;
        for (int i = 0; i < g->rows; i++)
            if (g->row_labels[i]) mw = fmaxf(mw, vkn_font_width(ui->sans, cpx, g->row_labels[i]));
        int extra = (int)ceilf(mw) + 12 - (int)ceilf(cpx * 4.f);
        if (extra > 0 && extra < rl.w / 2) rl.x += extra, rl.w -= extra;
    }
    vkn_grid_layout L = vkn_grid_compute_layout(rl, g->rows, g->cols, g->h, g->w, g->captions != NULL,
                                                g->col_labels != NULL, g->row_labels != NULL, cpx);
    if (L.scale == 0 || !g->images) return L;
    if (g->fill) { /* the largest zoom that fits, integer or not (at least the integer one) */
        int cap_h = g->captions ? (int)ceilf(cpx * 1.45f) : 0;
        int avail_w = rl.w - L.label_w, avail_h = rl.h - L.label_h;
        float fx = (float)(avail_w / g->cols - GAP) / g->w, fy = (float)(avail_h / g->rows - GAP - cap_h) / g->h;
        float f = fminf(fx, fy);
        if (f > L.scale) {
            L.img_w = (int)(g->w * f), L.img_h = (int)(g->h * f);
            L.cell_w = L.img_w + GAP, L.cell_h = L.img_h + GAP + cap_h;
            L.x0 = rl.x + L.label_w + (avail_w - (g->cols * L.cell_w - GAP)) / 2;
            L.y0 = rl.y + L.label_h + (avail_h - (g->rows * L.cell_h - GAP)) / 2;
        }
    }
    char lb[64];
    vkn_canvas_set_clip(c, r);
    size_t chw = (size_t)g->c * g->h * g->w;
    if (g->col_labels)
        for (int j = 0; j < g->cols; j++)
            if (g->col_labels[j])
                vkn_canvas_text(c, ui->sans, cpx, L.x0 + j * L.cell_w + L.img_w * 0.5f, L.y0 - L.label_h * 0.5f,
                                VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_DIM,
                                fit_label(ui->sans, cpx, g->col_labels[j], (float)(L.cell_w - 4), lb, sizeof lb));
    if (g->row_labels)
        for (int i = 0; i < g->rows; i++)
            if (g->row_labels[i])
                vkn_canvas_text(c, ui->sans, cpx, (float)(L.x0 - 8), L.y0 + i * L.cell_h + L.img_h * 0.5f,
                                VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_DIM, g->row_labels[i]);
    for (int k = 0; k < g->n && k < g->rows * g->cols; k++) {
        int x = L.x0 + (k % g->cols) * L.cell_w, y = L.y0 + (k / g->cols) * L.cell_h;
        vkn_rect img = {x, y, L.img_w, L.img_h};
        vkn_canvas_blit_float(c, g->images + k * chw, g->c, g->h, g->w, img);
        vkn_color b = g->borders ? g->borders[k] : 0;
        if (b) vkn_canvas_rect(c, vkn_rect_inset(img, -2), b, 2);
        if (k == g->highlight) vkn_canvas_rect(c, vkn_rect_inset(img, -3), VKN_COL_ACCENT, 2);
        if (g->captions && g->captions[k])
            vkn_canvas_text(c, ui->sans, cpx, x + L.img_w * 0.5f, (float)(y + L.img_h + 3),
                            VKN_ALIGN_CENTER, b ? b : VKN_COL_DIM, g->captions[k]);
    }
    vkn_canvas_reset_clip(c);
    return L;
}
