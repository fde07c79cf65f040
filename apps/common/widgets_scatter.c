/* Scatter plot of 2-D points (e.g. a PCA projection of features): colour by class, marker by group
 * (e.g. domain), auto-scaled with a margin, legends for both. The axes of a projection carry no units,
 * so only a light grid is drawn. */
#include "viewer.h"

#include <float.h>
#include <math.h>

vkn_marker vkn_scatter_marker(int group)
{
    static const vkn_marker m[] = {VKN_MARK_CIRCLE, VKN_MARK_TRIANGLE, VKN_MARK_SQUARE, VKN_MARK_DIAMOND, VKN_MARK_CROSS};
    return m[(group < 0 ? 0 : group) % 5];
}

void vkn_ui_scatter(vkn_ui *ui, vkn_rect r, const vkn_scatter *s)
{
    vkn_canvas *c = ui->canvas;
    vkn_rect in = vkn_ui_panel(ui, r, s->title, NULL);
    float spx = ui->small_px, rad = s->radius > 0 ? s->radius : 3.f;
    int lh = (int)ceilf(vkn_font_line_height(ui->sans, spx)) + 3;

    /* legends under the plot: groups (marker shapes), then classes (colours) */
    vkn_rect leg = vkn_rect_cut_bottom(&in, lh * ((s->group_names ? 1 : 0) + (s->class_names ? 1 : 0)), 4);
    float ly = leg.y + lh * 0.5f;
    if (s->group_names) {
        float lx = (float)leg.x + 4;
        for (int g = 0; g < s->ngroups; g++) {
            vkn_canvas_marker(c, vkn_scatter_marker(g), lx, ly, 4.f, VKN_COL_TEXT, 0);
            lx += 9;
            lx += vkn_canvas_text(c, ui->sans, spx, lx, ly, VKN_ALIGN_MIDDLE, VKN_COL_TEXT, s->group_names[g]) + 14;
        }
        ly += lh;
    }
    if (s->class_names) {
        float lx = (float)leg.x + 4;
        vkn_canvas_set_clip(c, leg);
        for (int k = 0; k < s->nclasses; k++) {
            vkn_canvas_marker(c, VKN_MARK_CIRCLE, lx, ly, 3.5f, vkn_palette(k), 0);
            lx += 7;
            lx += vkn_canvas_text(c, ui->sans, spx, lx, ly, VKN_ALIGN_MIDDLE, VKN_COL_DIM, s->class_names[k]) + 9;
        }
        vkn_canvas_reset_clip(c);
    }

    vkn_canvas_rect(c, in, VKN_COL_GRID, 1);
    for (int k = 1; k < 4; k++) {
        vkn_canvas_vline(c, in.x + in.w * k / 4, in.y + 1, in.y + in.h - 2, VKN_COL_GRID);
        vkn_canvas_hline(c, in.x + 1, in.x + in.w - 2, in.y + in.h * k / 4, VKN_COL_GRID);
    }
    if (s->n <= 0 || !s->xy) {
        vkn_canvas_text(c, ui->sans, ui->text_px, in.x + in.w * 0.5f, in.y + in.h * 0.5f,
                        VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_DIM, "waiting for data");
        return;
    }
    float xl = FLT_MAX, xh = -FLT_MAX, yl = FLT_MAX, yh = -FLT_MAX;
    for (int i = 0; i < s->n; i++) {
        float x = s->xy[2 * i], y = s->xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) continue;
        xl = fminf(xl, x), xh = fmaxf(xh, x), yl = fminf(yl, y), yh = fmaxf(yh, y);
    }
    if (!(xl <= xh)) return;
    if (xh - xl < 1e-12f) xl -= 1, xh += 1;
    if (yh - yl < 1e-12f) yl -= 1, yh += 1;
    float m = rad + 6;
    float sx = (in.w - 2 * m) / (xh - xl), sy = (in.h - 2 * m) / (yh - yl);
    vkn_canvas_set_clip(c, vkn_rect_inset(in, 1));
    for (int i = 0; i < s->n; i++) {
        float x = s->xy[2 * i], y = s->xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) continue;
        vkn_color col = s->cls ? vkn_palette(s->cls[i]) : VKN_COL_ACCENT;
        int g = s->group ? s->group[i] : 0;
        vkn_canvas_marker(c, vkn_scatter_marker(g), in.x + m + (x - xl) * sx, in.y + in.h - m - (y - yl) * sy,
                          g ? rad * 1.25f : rad, VKN_ALPHA(col, 0xd8), 0);
    }
    vkn_canvas_reset_clip(c);
}
