/* Line charts: named series with colours and a legend (showing each latest value), auto-scaled axes
 * with nice tick labels, optional log-y and a moving average (the raw curve stays faint behind it).
 * Long series are drawn per pixel column (min/max band and mean) so drawing cost follows the width. */
#include "viewer.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void vkn_chart_init(vkn_chart *ch, const char *title, const char *x_label)
{
    memset(ch, 0, sizeof *ch);
    snprintf(ch->title, sizeof ch->title, "%s", title ? title : "");
    snprintf(ch->x_label, sizeof ch->x_label, "%s", x_label ? x_label : "");
}

void vkn_chart_free(vkn_chart *ch)
{
    for (int i = 0; i < ch->nseries; i++) free(ch->series[i].x), free(ch->series[i].y);
    ch->nseries = 0;
}

int vkn_chart_add_series(vkn_chart *ch, const char *name, vkn_color color)
{
    if (ch->nseries >= VKN_CHART_MAX_SERIES) return -1;
    vkn_series *s = &ch->series[ch->nseries];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name ? name : "");
    s->color = color ? color : vkn_palette(ch->nseries);
    return ch->nseries++;
}

vkn_status vkn_chart_push(vkn_chart *ch, int si, float x, float y)
{
    if (si < 0 || si >= ch->nseries) return vkn_status_set(VKN_ERR_ARG, "chart %s: no series %d", ch->title, si);
    if (!isfinite(x) || !isfinite(y)) return VKN_OK;
    vkn_series *s = &ch->series[si];
    int maxp = ch->max_points > 1 ? ch->max_points : 1 << 20;
    if (s->n >= maxp) { /* thin the older half so the series keeps spanning the run */
        int half = s->n / 2, k = 0;
        for (int i = 0; i < s->n; i++)
            if (i >= half || (i & 1) == 0) s->x[k] = s->x[i], s->y[k] = s->y[i], k++;
        s->n = k;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        float *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return vkn_status_set(VKN_ERR_HOST_OOM, "chart %s: out of memory", ch->title);
        s->x = nx;
        float *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return vkn_status_set(VKN_ERR_HOST_OOM, "chart %s: out of memory", ch->title);
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return VKN_OK;
}

void vkn_chart_clear(vkn_chart *ch)
{
    for (int i = 0; i < ch->nseries; i++) ch->series[i].n = 0;
}

/* Trailing moving average of window k into out (out may not alias y). */
static void moving_average(const float *y, int n, int k, float *out)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        sum += y[i];
        if (i >= k) sum -= y[i - k];
        out[i] = (float)(sum / (i + 1 < k ? i + 1 : k));
    }
}

/* The values drawn as the main curve: smoothed when asked (caller frees when != s->y). */
static const float *main_values(const vkn_chart *ch, const vkn_series *s)
{
    if (ch->smooth <= 1 || s->n < 2) return s->y;
    float *m = malloc((size_t)s->n * sizeof *m);
    if (!m) return s->y;
    moving_average(s->y, s->n, ch->smooth, m);
    return m;
}

bool vkn_chart_range(const vkn_chart *ch, double *x_lo, double *x_hi, double *y_lo, double *y_hi)
{
    double xl = DBL_MAX, xh = -DBL_MAX, yl = DBL_MAX, yh = -DBL_MAX;
    for (int si = 0; si < ch->nseries; si++) {
        const vkn_series *s = &ch->series[si];
        if (s->hidden || s->n == 0) continue;
        const float *v = main_values(ch, s);
        for (int i = 0; i < s->n; i++) {
            if (ch->log_y && !(v[i] > 0.f)) continue;
            if (s->x[i] < xl) xl = s->x[i];
            if (s->x[i] > xh) xh = s->x[i];
            if (v[i] < yl) yl = v[i];
            if (v[i] > yh) yh = v[i];
        }
        if (v != s->y) free((void *)v);
    }
    bool any = xl <= xh;
    if (!any) xl = 0, xh = 1, yl = ch->log_y ? 0.1 : 0, yh = 1;
    if (xh == xl) xh = xl + 1;
    if (ch->fixed_y) yl = ch->y_min, yh = ch->y_max;
    if (yh == yl) {
        double d = fabs(yl) > 0 ? fabs(yl) * 0.1 : 1.0;
        if (ch->log_y) yl /= 2, yh *= 2;
        else yl -= d, yh += d;
    }
    *x_lo = xl, *x_hi = xh, *y_lo = yl, *y_hi = yh;
    return any;
}

int vkn_nice_ticks(double *lo, double *hi, int max_ticks, double *ticks, double *step_out)
{
    if (max_ticks < 2) max_ticks = 2;
    double l = *lo, h = *hi;
    if (!(h > l)) h = l + 1;
    double rough = (h - l) / (max_ticks - 1);
    double mag = pow(10.0, floor(log10(rough)));
    static const double m[] = {1, 2, 2.5, 5, 10, 20};
    double step = mag;
    int count = 0;
    for (int k = 0; k < 6; k++) {
        step = m[k] * mag;
        double a = floor(l / step + 1e-9) * step, b = ceil(h / step - 1e-9) * step;
        count = (int)lround((b - a) / step) + 1;
        if (count <= max_ticks) {
            l = a, h = b;
            break;
        }
    }
    for (int i = 0; i < count && i < max_ticks; i++) {
        double t = l + i * step;
        ticks[i] = fabs(t) < step * 1e-9 ? 0.0 : t;
    }
    *lo = l, *hi = h;
    if (step_out) *step_out = step;
    return count < max_ticks ? count : max_ticks;
}

void vkn_format_tick(double v, double step, char *buf, size_t n)
{
    double a = fabs(v);
    if (step <= 0) step = a > 0 ? a : 1;
    if (a < step * 1e-9) snprintf(buf, n, "0");
    else if (a >= 1e6 && step >= 1e5) snprintf(buf, n, "%gM", round(v / 1e5) / 10);
    else if (a >= 1e4 && step >= 100) snprintf(buf, n, "%gk", round(v / 1e2) / 10);
    else if (step < 1e-3) snprintf(buf, n, "%.0e", v);
    else {
        /* as many decimals as the step needs: 0.25 -> 2, 2.5 -> 1, 20 -> 0 */
        int dec = 0;
        while (dec < 6) {
            double sc = step * pow(10.0, dec);
            if (fabs(sc - round(sc)) < 1e-6 * sc) break;
            dec++;
        }
        snprintf(buf, n, "%.*f", dec, v);
    }
}

/* A readable value with about four significant digits: 0.6672, 12.35, 1234, 1.2e-05. */
static void format_value(double v, char *buf, size_t n)
{
    double a = fabs(v);
    if (a == 0) snprintf(buf, n, "0");
    else if (a < 1e-3 || a >= 1e6) snprintf(buf, n, "%.2e", v);
    else if (a < 10) snprintf(buf, n, "%.4f", v);
    else if (a < 1000) snprintf(buf, n, "%.2f", v);
    else snprintf(buf, n, "%.0f", v);
}

/* A colour mixed toward the panel background (opaque, so overlapping segments do not darken). */
static vkn_color faint(vkn_color c, float t)
{
    uint32_t out = 0xff;
    for (int sh = 8; sh <= 24; sh += 8) {
        float a = (float)((c >> sh) & 255), b = (float)((VKN_COL_PANEL >> sh) & 255);
        out |= (uint32_t)(b + (a - b) * t + 0.5f) << sh;
    }
    return out;
}

typedef struct axis {
    double lo, hi;          /* in drawing units (log10 for log-y) */
    double ticks[16];       /* in drawing units */
    double step;            /* tick spacing (log-y: in decades, or in values when !decades) */
    bool decades;           /* log-y ticks at powers of ten */
    int n;
} axis;

static void y_axis(const vkn_chart *ch, double ylo, double yhi, int max_ticks, axis *a)
{
    if (!ch->log_y) {
        a->lo = ylo, a->hi = yhi;
        if (!ch->fixed_y) a->n = vkn_nice_ticks(&a->lo, &a->hi, max_ticks, a->ticks, &a->step);
        else {
            double l = ylo, h = yhi;
            int n = vkn_nice_ticks(&l, &h, max_ticks, a->ticks, &a->step);
            a->n = 0;
            for (int i = 0; i < n; i++)
                if (a->ticks[i] >= ylo - 1e-9 && a->ticks[i] <= yhi + 1e-9) a->ticks[a->n++] = a->ticks[i];
        }
        return;
    }
    double l = log10(ylo), h = log10(yhi);
    if (h - l >= 1.0) {
        a->lo = floor(l), a->hi = ceil(h);
        int decades = (int)(a->hi - a->lo), stride = 1;
        while (decades / stride + 1 > max_ticks) stride++;
        a->n = 0;
        for (int d = 0; d <= decades && a->n < 16; d += stride) a->ticks[a->n++] = a->lo + d;
        a->step = stride;
        a->decades = true;
    } else {
        double vl = ylo, vh = yhi, t[16];
        int n = vkn_nice_ticks(&vl, &vh, max_ticks, t, &a->step);
        if (vl <= 0) vl = ylo;
        a->lo = log10(vl), a->hi = log10(vh);
        a->n = 0;
        for (int i = 0; i < n; i++)
            if (t[i] > 0) a->ticks[a->n++] = log10(t[i]);
    }
}

void vkn_ui_chart(vkn_ui *ui, vkn_rect r, const vkn_chart *ch)
{
    vkn_canvas *c = ui->canvas;
    vkn_rect in = vkn_ui_panel(ui, r, ch->title, ch->x_label[0] ? ch->x_label : NULL);
    float spx = ui->small_px;
    int lh = (int)ceilf(vkn_font_line_height(ui->sans, spx));

    /* legend: swatch, name and latest value of each series, flowing left to right and onto a second
     * (third...) line when the panel is too narrow for all of them */
    enum { MAX_LEGEND = 16 };
    char text[MAX_LEGEND][64];
    float width[MAX_LEGEND];
    int nleg = ch->nseries < MAX_LEGEND ? ch->nseries : MAX_LEGEND, lines = 1;
    float run = 0;
    for (int si = 0; si < nleg; si++) {
        const vkn_series *s = &ch->series[si];
        if (s->n > 0) {
            const float *v = main_values(ch, s);
            char val[24];
            format_value(v[s->n - 1], val, sizeof val);
            if (v != s->y) free((void *)v);
            snprintf(text[si], sizeof text[si], "%s %s", s->name, val);
        } else snprintf(text[si], sizeof text[si], "%s", s->name);
        width[si] = 17 + vkn_font_width(ui->sans, spx, text[si]) + 14;
        if (run > 0 && run + width[si] - 14 > (float)in.w) lines++, run = 0;
        run += width[si];
    }
    vkn_rect legend = vkn_rect_cut_top(&in, lh * lines, 6);
    float lx = (float)legend.x, ly = legend.y + lh * 0.5f;
    vkn_canvas_set_clip(c, legend);
    for (int si = 0; si < nleg; si++) {
        const vkn_series *s = &ch->series[si];
        if (lx > legend.x && lx + width[si] - 14 > (float)(legend.x + legend.w)) lx = (float)legend.x, ly += lh;
        vkn_canvas_line(c, lx, ly, lx + 12, ly, 2.5f, s->hidden ? VKN_COL_BORDER : s->color);
        vkn_canvas_text(c, ui->sans, spx, lx + 17, ly, VKN_ALIGN_MIDDLE, s->hidden ? VKN_COL_BORDER : VKN_COL_TEXT, text[si]);
        lx += width[si];
    }
    vkn_canvas_reset_clip(c);

    double xlo, xhi, ylo, yhi;
    bool any = vkn_chart_range(ch, &xlo, &xhi, &ylo, &yhi);
    axis ya = {0}, xa = {0};
    int max_y = in.h / 26 + 1;
    if (max_y > 8) max_y = 8;
    y_axis(ch, ylo, yhi, max_y, &ya);

    /* margins from the widest y label */
    char lab[32];
    int lab_w = 0;
    for (int i = 0; i < ya.n; i++) {
        double v = ch->log_y ? pow(10.0, ya.ticks[i]) : ya.ticks[i];
        vkn_format_tick(v, ya.decades ? v : ya.step, lab, sizeof lab);
        int w = (int)ceilf(vkn_font_width(ui->sans, spx, lab));
        if (w > lab_w) lab_w = w;
    }
    vkn_rect plot = in;
    vkn_rect_cut_left(&plot, lab_w, 8);
    vkn_rect xlab = vkn_rect_cut_bottom(&plot, lh, 4);
    plot.w -= 6; /* room for the last x label's overhang */
    if (plot.w < 10 || plot.h < 10) return;

    /* x ticks: nice values inside the exact data range */
    int max_x = plot.w / 70 + 1;
    if (max_x > 10) max_x = 10;
    double xl = xlo, xh = xhi, xt[16];
    int nx = vkn_nice_ticks(&xl, &xh, max_x, xt, &xa.step);
    for (int i = 0; i < nx; i++)
        if (xt[i] >= xlo - 1e-9 * fabs(xhi - xlo) && xt[i] <= xhi + 1e-9 * fabs(xhi - xlo)) xa.ticks[xa.n++] = xt[i];
    xa.lo = xlo, xa.hi = xhi;

    double sx = (plot.w - 1) / (xa.hi - xa.lo), sy = (plot.h - 1) / (ya.hi - ya.lo);
#define PX(v_) ((float)(plot.x + ((v_) - xa.lo) * sx) + 0.5f)
#define PY(v_) ((float)(plot.y + plot.h - 1 - ((v_) - ya.lo) * sy) + 0.5f)

    for (int i = 0; i < ya.n; i++) {
        int y = (int)PY(ya.ticks[i]);
        vkn_canvas_hline(c, plot.x, plot.x + plot.w - 1, y, VKN_COL_GRID);
        double v = ch->log_y ? pow(10.0, ya.ticks[i]) : ya.ticks[i];
        vkn_format_tick(v, ya.decades ? v : ya.step, lab, sizeof lab);
        vkn_canvas_text(c, ui->sans, spx, (float)(plot.x - 8), (float)y, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_DIM, lab);
    }
    for (int i = 0; i < xa.n; i++) {
        int x = (int)PX(xa.ticks[i]);
        vkn_canvas_vline(c, x, plot.y, plot.y + plot.h - 1, VKN_COL_GRID);
        vkn_format_tick(xa.ticks[i], xa.step, lab, sizeof lab);
        vkn_canvas_text(c, ui->sans, spx, (float)x, (float)(xlab.y + 2), VKN_ALIGN_CENTER, VKN_COL_DIM, lab);
    }
    vkn_canvas_hline(c, plot.x, plot.x + plot.w - 1, plot.y + plot.h - 1, VKN_COL_BORDER);
    vkn_canvas_vline(c, plot.x, plot.y, plot.y + plot.h - 1, VKN_COL_BORDER);
    if (!any) {
        vkn_canvas_text(c, ui->sans, ui->text_px, plot.x + plot.w * 0.5f, plot.y + plot.h * 0.5f,
                        VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_DIM, "waiting for data");
        return;
    }

    vkn_canvas_set_clip(c, vkn_rect_inset(plot, -1));
    float *pts = malloc((size_t)2 * (plot.w + 1) * sizeof *pts);
    float *lo = malloc((size_t)(plot.w + 1) * sizeof *lo), *hi = malloc((size_t)(plot.w + 1) * sizeof *hi);
    double *sum = malloc((size_t)(plot.w + 1) * sizeof *sum);
    int *cnt = malloc((size_t)(plot.w + 1) * sizeof *cnt);
    if (!pts || !lo || !hi || !sum || !cnt) goto done;
    for (int si = 0; si < ch->nseries; si++) {
        const vkn_series *s = &ch->series[si];
        if (s->hidden || s->n == 0) continue;
        const float *v = main_values(ch, s);
        bool smoothed = v != s->y;
        /* bucket every point into its pixel column: raw min/max, mean of the main curve */
        for (int i = 0; i <= plot.w; i++) lo[i] = FLT_MAX, hi[i] = -FLT_MAX, sum[i] = 0, cnt[i] = 0;
        for (int i = 0; i < s->n; i++) {
            if (ch->log_y && !(s->y[i] > 0.f && v[i] > 0.f)) continue;
            int col = (int)((s->x[i] - xa.lo) * sx);
            if (col < 0 || col > plot.w) continue;
            float ry = ch->log_y ? log10f(s->y[i]) : s->y[i];
            float my = ch->log_y ? log10f(v[i]) : v[i];
            if (ry < lo[col]) lo[col] = ry;
            if (ry > hi[col]) hi[col] = ry;
            sum[col] += my;
            cnt[col]++;
        }
        int np = 0;
        vkn_color raw = faint(s->color, smoothed ? 0.3f : 0.55f);
        bool dense = s->n > plot.w;
        for (int i = 0; i <= plot.w; i++) {
            if (!cnt[i]) continue;
            if (smoothed || dense) {
                float y0 = PY(lo[i]), y1 = PY(hi[i]);
                if (y0 - y1 >= 1.f) vkn_canvas_line(c, plot.x + i + 0.5f, y0, plot.x + i + 0.5f, y1, 1.f, raw);
            }
            pts[2 * np] = plot.x + i + 0.5f;
            pts[2 * np + 1] = PY(sum[i] / cnt[i]);
            np++;
        }
        if (smoothed && !dense) { /* the raw curve itself, faint */
            float prevx = 0, prevy = 0;
            for (int i = 0, k = 0; i < s->n; i++) {
                if (ch->log_y && !(s->y[i] > 0.f)) continue;
                float x = PX(s->x[i]), y = PY(ch->log_y ? log10f(s->y[i]) : s->y[i]);
                if (k++) vkn_canvas_line(c, prevx, prevy, x, y, 1.f, raw);
                prevx = x, prevy = y;
            }
        }
        vkn_canvas_polyline(c, pts, np, 1.8f, s->color);
        if (np > 0) vkn_canvas_marker(c, VKN_MARK_CIRCLE, pts[2 * np - 2], pts[2 * np - 1], 2.5f, s->color, 0);
        if (smoothed) free((void *)v);
    }
done:
    free(pts), free(lo), free(hi), free(sum), free(cnt);
    vkn_canvas_reset_clip(c);
#undef PX
#undef PY
}
