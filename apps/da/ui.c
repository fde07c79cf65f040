/* vkn-da's window panels (ui.h). Drawn by the UI thread from the latest snapshot and the metric rows. */
#include "ui.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const class_names[DA_CLASSES] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
static const char *const domain_names[2] = {"source", "target"};

/* per model: source colour, target colour */
static const vkn_color model_col[2][2] = {{0x4cc38affu, 0xf0914cffu}, {0x5aa9f5ffu, 0xd46fd8ffu}};

/* ---- snapshot ---- */

void da_snapshot_fill(da_snapshot *s, const da_run *r)
{
    s->step = r->step;
    s->total = r->o.steps;
    s->eval_step = r->eval_step;
    s->pca_step = r->pca_step;
    s->nm = r->nm;
    s->pca_n = r->pca_n;
    s->ms_step = r->ms_last;
    s->ms_mean = r->ms_count ? r->ms_sum / (double)r->ms_count : r->ms_last;
    s->lr = r->lr;
    s->images_per_step = 2 * r->o.batch * r->nm;
    snprintf(s->title, sizeof s->title, "%s \xe2\x86\x92 %s", r->data.src_name, r->data.tgt_name);
    /* sample picks: the first DA_VIEW_PER_CLASS images of each class in the fixed set, class-major */
    int idx[2][DA_VIEW_N];
    for (int d = 0; d < 2; d++) {
        int got[DA_CLASSES] = {0};
        for (int j = 0; j < DA_VIEW_N; j++) idx[d][j] = -1;
        for (int i = 0; i < r->fixed_n; i++) {
            int c = r->fixed_label[d][i];
            if (c < 0 || c >= DA_CLASSES || got[c] >= DA_VIEW_PER_CLASS) continue;
            idx[d][got[c] * DA_CLASSES + c] = i;   /* row got[c], column c */
            got[c]++;
        }
        for (int j = 0; j < DA_VIEW_N; j++) {
            int i = idx[d][j];
            if (i >= 0) memcpy(s->img[d][j], r->fixed_img[d] + (size_t)i * DA_IMG_SIZE, sizeof s->img[d][j]);
            else for (int p = 0; p < DA_IMG_SIZE; p++) s->img[d][j][p] = -1.0f;
            s->truth[d][j] = i >= 0 ? r->fixed_label[d][i] : -1;
        }
    }
    int per = r->pca_n / 2;
    for (int i = 0; i < r->pca_n; i++) {
        int d = i >= per, j = d ? i - per : i;
        s->pt_dom[i] = d;
        s->pt_class[i] = r->fixed_label[d][j];
    }
    for (int k = 0; k < r->nm; k++) {
        da_snap_model *m = &s->m[k];
        snprintf(m->label, sizeof m->label, "%s", r->o.set[k].label);
        for (int d = 0; d < 2; d++) {
            for (int j = 0; j < DA_VIEW_N; j++) m->pred[d][j] = idx[d][j] >= 0 && r->fixed_step >= 0 ? r->fixed_pred[k][d][idx[d][j]] : -1;
            m->fixed_acc[d] = r->fixed_step >= 0 ? r->fixed_acc[k][d] : NAN;
        }
        m->src_acc = r->eval_step >= 0 ? r->src_acc[k] : NAN;
        m->tgt_acc = r->eval_step >= 0 ? r->tgt_acc[k] : NAN;
        m->best_tgt = r->best_tgt[k] >= 0 ? r->best_tgt[k] : NAN;
        m->dom_acc = r->step > r->start_step ? r->last[k].dom_acc : NAN;
        m->lambda = r->lambda[k];
        if (r->pca_step >= 0) memcpy(m->xy, r->pca_xy[k], (size_t)r->pca_n * 2 * sizeof(float));
    }
}

/* ---- charts ---- */

void da_ui_init(da_ui *u, const da_run *r)
{
    memset(u, 0, sizeof *u);
    u->nm = r->nm;
    vkn_chart_init(&u->acc, "Test accuracy (full test sets)", "step");
    vkn_chart_init(&u->dom, "Domain classifier accuracy (train batch) and \xce\xbb", "step");
    vkn_chart_init(&u->loss, "Training losses", "step");
    char name[40];
    for (int k = 0; k < r->nm; k++) {
        const char *l = r->nm > 1 ? (k ? " B" : " A") : "";
        snprintf(name, sizeof name, "source%s", l);
        vkn_chart_add_series(&u->acc, name, model_col[k][0]);
        snprintf(name, sizeof name, "target%s", l);
        vkn_chart_add_series(&u->acc, name, model_col[k][1]);
        snprintf(name, sizeof name, "domain acc%s", l);
        vkn_chart_add_series(&u->dom, name, model_col[k][0]);
        snprintf(name, sizeof name, "\xce\xbb%s", l);
        vkn_chart_add_series(&u->dom, name, model_col[k][1]);
        snprintf(name, sizeof name, "label%s", l);
        vkn_chart_add_series(&u->loss, name, model_col[k][0]);
        snprintf(name, sizeof name, "domain%s", l);
        vkn_chart_add_series(&u->loss, name, model_col[k][1]);
    }
    u->acc.fixed_y = u->dom.fixed_y = true;
    u->acc.y_min = u->dom.y_min = 0;
    u->acc.y_max = u->dom.y_max = 1;
    u->dom.smooth = 20;
    u->loss.smooth = 20;
    u->loss.log_y = true;
}

void da_ui_free(da_ui *u)
{
    vkn_chart_free(&u->acc);
    vkn_chart_free(&u->dom);
    vkn_chart_free(&u->loss);
}

void da_ui_push(da_ui *u, const da_row *row)
{
    float x = (float)row->step;
    for (int k = 0; k < u->nm; k++) {
        if (row->is_eval) {
            vkn_chart_push(&u->acc, 2 * k, x, row->src_acc[k]);
            vkn_chart_push(&u->acc, 2 * k + 1, x, row->tgt_acc[k]);
        } else {
            vkn_chart_push(&u->dom, 2 * k, x, row->dom_acc[k]);
            vkn_chart_push(&u->dom, 2 * k + 1, x, row->lambda[k]);
            vkn_chart_push(&u->loss, 2 * k, x, row->label_loss[k]);
            vkn_chart_push(&u->loss, 2 * k + 1, x, row->domain_loss[k]);
        }
    }
    if (!row->is_eval) u->last = *row, u->have_last = true;
}

/* ---- panels ---- */

static void pct(char *buf, size_t n, float v)
{
    if (isfinite(v)) snprintf(buf, n, "%.1f%%", 100.0 * v);
    else snprintf(buf, n, "-");
}

/* Sample rows of one model: rows_per_domain rows of source images, then of target images; frame green
 * when the prediction is right, red when wrong; caption = the predicted class. */
static void samples_panel(vkn_ui *ui, vkn_rect r, const da_snapshot *s, int k, int rows_per_domain)
{
    const da_snap_model *m = &s->m[k];
    enum { MAXN = 2 * DA_VIEW_N };
    static float imgs[MAXN][DA_IMG_SIZE];   /* UI thread only */
    vkn_color borders[MAXN];
    char capbuf[MAXN][8];
    const char *caps[MAXN];
    const char *rows[2 * DA_VIEW_PER_CLASS];
    int n = 0, right[2] = {0, 0}, shown[2] = {0, 0};
    for (int d = 0; d < 2; d++)
        for (int rr = 0; rr < rows_per_domain; rr++) {
            rows[d * rows_per_domain + rr] = domain_names[d];
            for (int c = 0; c < DA_CLASSES; c++, n++) {
                int j = rr * DA_CLASSES + c;
                memcpy(imgs[n], s->img[d][j], sizeof imgs[n]);
                int p = m->pred[d][j], t = s->truth[d][j];
                borders[n] = p < 0 || t < 0 ? VKN_COL_BORDER : p == t ? VKN_COL_GOOD : VKN_COL_BAD;
                if (p >= 0) snprintf(capbuf[n], sizeof capbuf[n], "%d", p);
                else snprintf(capbuf[n], sizeof capbuf[n], "?");
                caps[n] = capbuf[n];
                if (p >= 0 && t >= 0) right[d] += p == t, shown[d]++;
            }
        }
    char title[96], note[160], a[16], b[16];
    if (s->nm > 1) snprintf(title, sizeof title, "Predictions \xc2\xb7 %s %s", k ? "B" : "A", m->label);
    else snprintf(title, sizeof title, "Predictions (green right, red wrong)");
    pct(a, sizeof a, m->fixed_acc[0]);
    pct(b, sizeof b, m->fixed_acc[1]);
    snprintf(note, sizeof note, "fixed %d+%d images: source %s \xc2\xb7 target %s", s->pca_n / 2, s->pca_n / 2, a, b);
    vkn_rect in = vkn_ui_panel(ui, r, title, note);
    vkn_grid g = {&imgs[0][0], n, DA_IMG_C, DA_IMG_H, DA_IMG_W, 2 * rows_per_domain, DA_CLASSES, borders, caps, class_names,
                  rows, -1};
    vkn_ui_grid(ui, in, &g);
}

static void scatter_panel(vkn_ui *ui, vkn_rect r, const da_snapshot *s, int k)
{
    char title[128];
    if (s->pca_step >= 0)
        snprintf(title, sizeof title, "Features, PCA%s%s \xc2\xb7 step %lld", s->nm > 1 ? (k ? " B" : " A") : "",
                 s->nm > 1 ? "" : " (colour = class, marker = domain)", (long long)s->pca_step);
    else snprintf(title, sizeof title, "Features, PCA%s", s->nm > 1 ? (k ? " B" : " A") : "");
    vkn_scatter sc = {title, s->pca_step >= 0 ? s->pca_n : 0, s->m[k].xy, s->pt_class, s->pt_dom, DA_CLASSES, 2,
                      class_names, domain_names, s->nm > 1 ? 2.5f : 3.0f};
    vkn_ui_scatter(ui, r, &sc);
}

static void run_panel(vkn_ui *ui, vkn_rect r, const da_snapshot *s)
{
    vkn_kv kv = vkn_ui_kv_begin(ui, r, "Run");
    vkn_ui_kv(&kv, 0, "step", "%lld / %lld", (long long)s->step, (long long)s->total);
    vkn_ui_kv(&kv, 0, "ms/step", "%.0f \xc2\xb7 avg %.0f", s->ms_step, s->ms_mean);
    vkn_ui_kv(&kv, 0, "images/s", "%.0f", s->ms_mean > 0 ? 1000.0 * s->images_per_step / s->ms_mean : 0.0);
    vkn_ui_kv(&kv, 0, "lr", "%.2e", s->lr);
    for (int k = 0; k < s->nm; k++) {
        const da_snap_model *m = &s->m[k];
        char a[16], b[16], c[16], d[16];
        pct(a, sizeof a, m->src_acc);
        pct(b, sizeof b, m->tgt_acc);
        pct(c, sizeof c, m->best_tgt);
        pct(d, sizeof d, m->dom_acc);
        vkn_ui_kv_separator(&kv);
        vkn_ui_kv(&kv, VKN_COL_ACCENT, s->nm > 1 ? (k ? "B" : "A") : "setting", "%s", m->label);
        if (s->nm > 1) {   /* compact: three lines per model */
            vkn_ui_kv(&kv, model_col[k][1], "src / tgt", "%s / %s", a, b);
            vkn_ui_kv(&kv, 0, "dom \xc2\xb7 \xce\xbb", "%s \xc2\xb7 %.2f", d, m->lambda);
            continue;
        }
        vkn_ui_kv(&kv, model_col[k][0], "source acc", "%s", a);
        vkn_ui_kv(&kv, model_col[k][1], "target acc", "%s", b);
        vkn_ui_kv(&kv, model_col[k][1], "best target", "%s", c);
        vkn_ui_kv(&kv, 0, "domain acc", "%s \xc2\xb7 \xce\xbb %.3f", d, m->lambda);
    }
}

void da_ui_draw(vkn_view *v, const da_ui *u, const da_snapshot *s, const char *state, vkn_color scol, const char *toast)
{
    vkn_ui *ui = vkn_view_ui(v);
    vkn_canvas *c = ui->canvas;
    vkn_canvas_clear(c, VKN_COL_BG);
    vkn_rect all = {0, 0, c->w, c->h};

    /* top bar */
    vkn_rect top = vkn_rect_cut_top(&all, 46, 0);
    vkn_canvas_fill_rect(c, top, 0x111318ffu);
    vkn_canvas_hline(c, 0, c->w - 1, top.y + top.h - 1, VKN_COL_BORDER);
    float x = 16, cy = top.y + top.h * 0.5f;
    x += vkn_canvas_text(c, ui->bold, 18.f, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_TEXT, "vkn-da");
    x += 12;
    char buf[400];
    if (s && s->nm > 1)
        snprintf(buf, sizeof buf, "%s \xc2\xb7 A %s vs B %s", s->title, s->m[0].label, s->m[1].label);
    else if (s)
        snprintf(buf, sizeof buf, "%s \xc2\xb7 %s", s->title, s->m[0].label);
    else snprintf(buf, sizeof buf, "starting");
    vkn_canvas_text(c, ui->sans, 13.f, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_DIM, buf);
    float pw = vkn_font_width(ui->bold, 11.f, state) + 18;
    vkn_rect pill = {c->w - 16 - (int)pw, (int)cy - 11, (int)pw, 22};
    vkn_canvas_round_rect(c, pill, 11, VKN_ALPHA(scol, 0x38));
    vkn_canvas_text(c, ui->bold, 11.f, pill.x + pw * 0.5f, cy, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, scol, state);
    snprintf(buf, sizeof buf, "step %lld / %lld", s ? (long long)s->step : 0LL, s ? (long long)s->total : 0LL);
    vkn_canvas_text(c, ui->mono, 12.f, (float)(pill.x - 14), cy, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_TEXT, buf);
    if (toast && *toast)
        vkn_canvas_text(c, ui->sans, 13.f, c->w * 0.5f + 120, cy, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_ACCENT, toast);

    /* bottom: keys, or the final message */
    vkn_rect bottom = vkn_rect_cut_bottom(&all, 34, 0);
    vkn_canvas_fill_rect(c, bottom, 0x111318ffu);
    vkn_canvas_hline(c, 0, c->w - 1, bottom.y, VKN_COL_BORDER);
    if (s && s->message[0])
        vkn_canvas_text(c, ui->sans, 12.f, (float)bottom.x + 16, bottom.y + bottom.h * 0.5f, VKN_ALIGN_MIDDLE,
                        s->failed ? VKN_COL_BAD : VKN_COL_ACCENT, s->message);
    else vkn_view_draw_keybar(v, (vkn_rect){bottom.x + 16, bottom.y + 1, bottom.w - 32, bottom.h - 1});

    vkn_rect body = vkn_rect_inset(all, 12);
    const int gap = 10;
    vkn_rect left = vkn_rect_cut_left(&body, body.w * 56 / 100, gap);
    if (!s) {
        vkn_ui_panel(ui, left, "Predictions", "building the model and loading data");
        vkn_ui_panel(ui, body, "Curves", NULL);
        return;
    }
    if (s->nm > 1) {
        vkn_rect grids = vkn_rect_cut_top(&left, left.h * 50 / 100, gap);
        vkn_rect ga = vkn_rect_cut_top(&grids, (grids.h - gap) / 2, gap);
        samples_panel(ui, ga, s, 0, 1);
        samples_panel(ui, grids, s, 1, 1);
        vkn_rect sa = vkn_rect_cut_left(&left, (left.w - gap) / 2, gap);
        scatter_panel(ui, sa, s, 0);
        scatter_panel(ui, left, s, 1);
    } else {
        vkn_rect grid = vkn_rect_cut_top(&left, left.h * 48 / 100, gap);
        samples_panel(ui, grid, s, 0, DA_VIEW_PER_CLASS);
        scatter_panel(ui, left, s, 0);
    }

    vkn_rect row1 = vkn_rect_cut_top(&body, body.h * 36 / 100, gap);
    vkn_rect kvr = vkn_rect_cut_right(&row1, 250, gap);
    vkn_ui_chart(ui, row1, &u->acc);
    run_panel(ui, kvr, s);
    vkn_rect row2 = vkn_rect_cut_top(&body, (body.h - gap) / 2, gap);
    vkn_ui_chart(ui, row2, &u->dom);
    vkn_ui_chart(ui, body, &u->loss);
}
