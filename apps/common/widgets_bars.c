/* Bar chart / histogram: categories along x, one to four grouped series, nice y ticks, optional value
 * labels and a dashed reference line (e.g. the uniform share of a class histogram). */
#include "viewer.h"

#include <math.h>
#include <string.h>

void vkn_ui_bars(vkn_ui *ui, vkn_rect r, const vkn_bars *b)
{
    vkn_canvas *c = ui->canvas;
    vkn_rect in = vkn_ui_panel(ui, r, b->title, NULL);
    int ns = b->nseries < 1 ? 1 : b->nseries > VKN_BARS_MAX_SERIES ? VKN_BARS_MAX_SERIES : b->nseries;
    if (b->n <= 0 || !b->values[0]) return;
    float spx = ui->small_px;
    int lh = (int)ceilf(vkn_font_line_height(ui->sans, spx));
    vkn_color cols[VKN_BARS_MAX_SERIES];
    for (int s = 0; s < ns; s++) cols[s] = b->colors[s] ? b->colors[s] : vkn_palette(s);

    if (ns > 1 && b->series_names[0]) { /* legend */
        vkn_rect leg = vkn_rect_cut_top(&in, lh, 4);
        float lx = (float)leg.x, ly = leg.y + lh * 0.5f;
        for (int s = 0; s < ns; s++) {
            vkn_canvas_fill_rect(c, (vkn_rect){(int)lx, (int)ly - 4, 9, 9}, cols[s]);
            lx += 14;
            lx += vkn_canvas_text(c, ui->sans, spx, lx, ly, VKN_ALIGN_MIDDLE, VKN_COL_TEXT,
                                  b->series_names[s] ? b->series_names[s] : "") + 14;
        }
    }

    double ymax = b->y_max;
    if (ymax <= 0) {
        for (int s = 0; s < ns; s++)
            for (int i = 0; i < b->n; i++)
                if (b->values[s] && b->values[s][i] > ymax) ymax = b->values[s][i];
        if (b->ref_line > ymax) ymax = b->ref_line;
        if (ymax <= 0) ymax = 1;
    }
    double lo = 0, hi = ymax, ticks[16], step;
    int max_t = in.h / 28 + 1;
    if (max_t > 6) max_t = 6;
    int nt = vkn_nice_ticks(&lo, &hi, max_t, ticks, &step);
    if (b->y_max > 0) hi = b->y_max;

    char lab[32];
    int lab_w = 0;
    for (int i = 0; i < nt; i++) {
        vkn_format_tick(ticks[i], step, lab, sizeof lab);
        int w = (int)ceilf(vkn_font_width(ui->sans, spx, lab));
        if (w > lab_w) lab_w = w;
    }
    vkn_rect plot = in;
    vkn_rect_cut_left(&plot, lab_w, 8);
    /* category labels wider than their slot alternate between two lines instead of running together */
    float maxw = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->labels && b->labels[i]) snprintf(lab, sizeof lab, "%s", b->labels[i]);
        else snprintf(lab, sizeof lab, "%d", i);
        maxw = fmaxf(maxw, vkn_font_width(ui->sans, spx, lab));
    }
    bool stagger = b->n > 1 && maxw > (float)plot.w / b->n - 4;
    vkn_rect xl = vkn_rect_cut_bottom(&plot, stagger ? 2 * lh : lh, 4);
    if (b->value_fmt) vkn_rect_cut_top(&plot, lh - 2, 0); /* room for value labels over the tallest bar */
    if (plot.w < 10 || plot.h < 10) return;
    double sy = (plot.h - 1) / (hi - lo);
    for (int i = 0; i < nt; i++) {
        if (ticks[i] > hi + 1e-9) continue;
        int y = plot.y + plot.h - 1 - (int)lround(ticks[i] * sy);
        vkn_canvas_hline(c, plot.x, plot.x + plot.w - 1, y, VKN_COL_GRID);
        vkn_format_tick(ticks[i], step, lab, sizeof lab);
        vkn_canvas_text(c, ui->sans, spx, (float)(plot.x - 8), (float)y, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_DIM, lab);
    }
    float slot = (float)plot.w / b->n;
    float gw = slot * 0.72f, bw = gw / ns;
    for (int i = 0; i < b->n; i++) {
        float gx = plot.x + slot * i + (slot - gw) * 0.5f;
        for (int s = 0; s < ns; s++) {
            if (!b->values[s]) continue;
            float v = b->values[s][i];
            if (!isfinite(v)) continue;
            int h = (int)lround((v > hi ? hi : v < 0 ? 0 : v) * sy);
            int x0 = (int)lroundf(gx + bw * s), x1 = (int)lroundf(gx + bw * (s + 1)) - (ns > 1 ? 1 : 0);
            vkn_color col = (ns == 1 && b->bar_colors) ? b->bar_colors[i] : cols[s];
            vkn_canvas_round_rect(c, (vkn_rect){x0, plot.y + plot.h - h, x1 - x0, h}, 2, col);
            if (h > 4) vkn_canvas_fill_rect(c, (vkn_rect){x0, plot.y + plot.h - 3, x1 - x0, 3}, col); /* square foot */
            if (b->value_fmt && x1 - x0 >= 14) {
                snprintf(lab, sizeof lab, b->value_fmt, v);
                vkn_canvas_text(c, ui->sans, spx - 1, (x0 + x1) * 0.5f, (float)(plot.y + plot.h - h - 2),
                                VKN_ALIGN_CENTER | VKN_ALIGN_BOTTOM, VKN_COL_DIM, lab);
            }
        }
        if (b->labels && b->labels[i]) snprintf(lab, sizeof lab, "%s", b->labels[i]);
        else snprintf(lab, sizeof lab, "%d", i);
        vkn_canvas_text(c, ui->sans, spx, plot.x + slot * (i + 0.5f), (float)(xl.y + 2 + (stagger && (i & 1) ? lh : 0)),
                        VKN_ALIGN_CENTER, VKN_COL_DIM, lab);
    }
    vkn_canvas_hline(c, plot.x, plot.x + plot.w - 1, plot.y + plot.h - 1, VKN_COL_BORDER);
    if (b->ref_line > 0 && b->ref_line <= hi) {
        int y = plot.y + plot.h - 1 - (int)lround(b->ref_line * sy);
        vkn_canvas_dashed_hline(c, plot.x, plot.x + plot.w - 1, y, 4, VKN_COL_WARN);
    }
}
