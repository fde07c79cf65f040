/* vkn-cgan's window: panels drawn with the viewer library, in the main thread at up to 30 frames/s
 * while the worker trains.
 *
 *   left:  generated samples (rows = fixed noise vectors, columns = the ten classes) with the history
 *          of earlier grids and its scrubber; or one class large; or a class interpolation.
 *          Below: the generator's normalization statistics per layer (slot summaries, and the method's
 *          own diagnostics: per-context samples, means and stds for cn, blend weights for bcn, ...)
 *   right: losses, D(x) / D(G(z)), run panel, conditional accuracy and Frechet distance over steps,
 *          accuracy per class and the histogram of predicted classes (mode-collapse alarm).
 * Compare mode draws both runs' grids side by side and overlays their curves. */
#include "cgan_app.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_ROWS 7 /* noise rows shown in the window (the PNGs have all 10) */
#define CMP_COLS 5  /* compare mode: each run's grid is transposed, classes as rows, 5 noise columns */

enum { A_PAUSE, A_STEP, A_SAVE, A_CLASS, A_INTERP, A_BACK, A_FWD, A_LIVE, A_LOG, A_PGUP, A_PGDN, A_QUIT };

struct cg_ui {
    const cg_options *o;
    vkn_view *view;
    cg_worker *w;
    const char *const *names;
    bool paused, interp;
    int picked, ia, ib;
    vkn_history hist[CG_MAXRUNS];
    int64_t last_hist_step;
    vkn_chart loss, dprob, acc, fd;
    char grid_note[200];          /* the samples panel's label as last drawn (tests read it) */
    int scroll[2];                /* first rows of the two G-norm tables (PgUp / PgDn, wheel) */
    char toast[300];
    double toast_until;
};

static void toast(cg_ui *u, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->toast, sizeof u->toast, fmt, ap);
    va_end(ap);
    u->toast_until = vkn_now() + 3.0;
}

static void send_interp(cg_ui *u)
{
    cg_worker_command(u->w, CG_CMD_INTERP, u->interp ? u->ia : -1, u->ib);
}

static void on_action(void *user, int action, int key, int mods)
{
    cg_ui *u = user;
    (void)mods;
    if (!u->w) return;
    switch (action) {
    case A_PAUSE:
        u->paused = !u->paused;
        cg_worker_command(u->w, u->paused ? CG_CMD_PAUSE : CG_CMD_RESUME, 0, 0);
        toast(u, u->paused ? "paused" : "resumed");
        break;
    case A_STEP:
        if (!u->paused) u->paused = true, cg_worker_command(u->w, CG_CMD_PAUSE, 0, 0);
        cg_worker_command(u->w, CG_CMD_STEP, 0, 0);
        toast(u, "one step");
        break;
    case A_SAVE: cg_worker_command(u->w, CG_CMD_SAVE, 0, 0); break;
    case A_CLASS: {
        int k = key - '0';
        if (u->interp) { /* a digit picks the interpolation's target class */
            if (k != u->ia) u->ib = k, send_interp(u);
            toast(u, "interpolating %s \xe2\x86\x92 %s", u->names[u->ia], u->names[u->ib]);
            break;
        }
        u->picked = u->picked == k ? -1 : k;
        if (u->picked < 0) toast(u, "all classes");
        else toast(u, "class %s (press %d again for all classes)", u->names[k], k);
        break;
    }
    case A_INTERP:
        u->interp = !u->interp;
        if (u->interp) {
            u->ia = u->picked >= 0 ? u->picked : 0;
            u->ib = (u->ia + 1) % CG_CLASSES;
            toast(u, "interpolating %s \xe2\x86\x92 %s with fixed noise: 0-9 picks the target, i closes", u->names[u->ia],
                  u->names[u->ib]);
        } else toast(u, "interpolation closed");
        send_interp(u);
        break;
    case A_BACK:
        for (int i = 0; i < CG_MAXRUNS; i++) vkn_history_move(&u->hist[i], -1);
        break;
    case A_FWD:
        for (int i = 0; i < CG_MAXRUNS; i++) vkn_history_move(&u->hist[i], +1);
        break;
    case A_LIVE:
        for (int i = 0; i < CG_MAXRUNS; i++) vkn_history_go_live(&u->hist[i]);
        break;
    case A_PGUP:
    case A_PGDN:
        for (int i = 0; i < 2; i++) {
            u->scroll[i] += action == A_PGDN ? 6 : -6; /* clamped by the table */
            if (u->scroll[i] < 0) u->scroll[i] = 0;
        }
        break;
    case A_LOG:
        u->loss.log_y = !u->loss.log_y;
        toast(u, u->loss.log_y ? "loss axis: log" : "loss axis: linear");
        break;
    case A_QUIT: vkn_view_request_quit(u->view); break;
    case VKN_ACTION_QUIT: cg_worker_stop(u->w); break;
    }
}

static vkn_status ui_open(const cg_options *o, cg_ui **out, bool *headless, bool offscreen)
{
    *out = NULL;
    cg_ui *u = calloc(1, sizeof *u);
    if (!u) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan ui");
    u->o = o;
    u->picked = -1;
    u->names = cg_class_names(o->data);
    vkn_view_config cfg = {"vknorm \xc2\xb7 conditional GAN", o->width, o->height, o->headless || offscreen, 30, on_action, u, true};
    vkn_status s = vkn_view_open(&u->view, &cfg);
    if (s != VKN_OK) {
        free(u);
        return s;
    }
    if (vkn_view_headless(u->view) && !offscreen) {
        vkn_view_close(u->view);
        free(u);
        *headless = true;
        return VKN_OK;
    }
    *headless = false;
    vkn_view *v = u->view;
    vkn_view_bind(v, ' ', 0, A_PAUSE, "pause");
    vkn_view_bind(v, 'n', 0, A_STEP, "step");
    vkn_view_bind(v, 's', 0, A_SAVE, "save grid PNG");
    for (int k = 0; k < CG_CLASSES; k++) vkn_view_bind(v, '0' + k, 0, A_CLASS, "class");
    vkn_view_bind(v, 'i', 0, A_INTERP, "interpolate");
    vkn_view_bind(v, VKN_KEY_LEFT, 0, A_BACK, "history");
    vkn_view_bind(v, VKN_KEY_RIGHT, 0, A_FWD, "history");
    vkn_view_bind(v, VKN_KEY_END, 0, A_LIVE, "live");
    vkn_view_bind(v, 'l', 0, A_LOG, "log axis");
    vkn_view_bind(v, VKN_KEY_PAGEUP, 0, A_PGUP, "tables");
    vkn_view_bind(v, VKN_KEY_PAGEDOWN, 0, A_PGDN, "tables");
    vkn_view_bind(v, 'q', 0, A_QUIT, "quit");
    vkn_view_bind(v, VKN_KEY_ESCAPE, 0, A_QUIT, "quit");
    for (int i = 0; i < CG_MAXRUNS; i++) vkn_history_init(&u->hist[i], 48);
    u->last_hist_step = -1000000;
    vkn_chart_init(&u->loss, "Losses", "step");
    vkn_chart_init(&u->dprob, "D(x) and D(G(z))", "step");
    vkn_chart_init(&u->acc, "Conditional accuracy", "step");
    vkn_chart_init(&u->fd, "Frechet distance", "step");
    for (int r = 0; r < o->nruns; r++) {
        char nm[32];
        const char *g = vkn_norm_kind_name(o->run_norm_g[r]);
        int c0 = r * 4;
        snprintf(nm, sizeof nm, o->nruns > 1 ? "D %s" : "D", g);
        vkn_chart_add_series(&u->loss, nm, vkn_palette(c0));
        snprintf(nm, sizeof nm, o->nruns > 1 ? "G %s" : "G", g);
        vkn_chart_add_series(&u->loss, nm, vkn_palette(c0 + 1));
        snprintf(nm, sizeof nm, o->nruns > 1 ? "D(x) %s" : "D(x)", g);
        vkn_chart_add_series(&u->dprob, nm, vkn_palette(c0 + 2));
        snprintf(nm, sizeof nm, o->nruns > 1 ? "D(G(z)) %s" : "D(G(z))", g);
        vkn_chart_add_series(&u->dprob, nm, vkn_palette(c0 + 3));
        snprintf(nm, sizeof nm, "G %s", g);
        vkn_chart_add_series(&u->acc, nm, vkn_palette(r ? 4 : 2));
        vkn_chart_add_series(&u->fd, nm, vkn_palette(r ? 4 : 2));
    }
    u->loss.smooth = 25;
    u->dprob.smooth = 25;
    u->dprob.fixed_y = true, u->dprob.y_min = 0, u->dprob.y_max = 1;
    u->acc.fixed_y = true, u->acc.y_min = 0, u->acc.y_max = 1;
    u->fd.log_y = true;
    *out = u;
    return VKN_OK;
}

vkn_status cg_ui_open(const cg_options *o, cg_ui **out, bool *headless) { return ui_open(o, out, headless, false); }

vkn_status cg_ui_open_offscreen(const cg_options *o, cg_ui **out)
{
    bool headless;
    return ui_open(o, out, &headless, true);
}

void cg_ui_close(cg_ui *u)
{
    if (!u) return;
    vkn_chart_free(&u->loss);
    vkn_chart_free(&u->dprob);
    vkn_chart_free(&u->acc);
    vkn_chart_free(&u->fd);
    for (int i = 0; i < CG_MAXRUNS; i++) vkn_history_free(&u->hist[i]);
    vkn_view_close(u->view);
    free(u);
}

/* ---- panels ---- */

static const char *phase_name(const cg_snap *s)
{
    if (!s) return "STARTING";
    if (s->phase == CG_PHASE_DONE) return "DONE";
    if (s->phase == CG_PHASE_CLASSIFIER) return "CLASSIFIER";
    if (s->phase == CG_PHASE_START) return "STARTING";
    return s->paused ? "PAUSED" : "TRAINING";
}

static void top_bar(cg_ui *u, vkn_rect top, const cg_snap *s)
{
    vkn_ui *ui = vkn_view_ui(u->view);
    vkn_canvas *c = ui->canvas;
    vkn_canvas_fill_rect(c, top, 0x111318ffu);
    vkn_canvas_hline(c, 0, c->w - 1, top.y + top.h - 1, VKN_COL_BORDER);
    float x = 16, cy = top.y + top.h * 0.5f;
    x += vkn_canvas_text(c, ui->bold, 18.f, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_TEXT, "vknorm");
    x += 12;
    char buf[300];
    const cg_options *o = u->o;
    if (o->nruns > 1)
        snprintf(buf, sizeof buf, "conditional GAN \xc2\xb7 %s \xc2\xb7 %s \xc2\xb7 G %s vs %s, D %s \xc2\xb7 %s \xc2\xb7 seed %llu",
                 o->base ? "cgan-base" : "cgan-small", o->data, vkn_norm_kind_name(o->run_norm_g[0]),
                 vkn_norm_kind_name(o->run_norm_g[1]), vkn_norm_kind_name(o->norm_d), o->loss ? "hinge" : "bce",
                 (unsigned long long)o->seed);
    else
        snprintf(buf, sizeof buf, "conditional GAN \xc2\xb7 %s \xc2\xb7 %s \xc2\xb7 G %s, D %s \xc2\xb7 %s \xc2\xb7 seed %llu",
                 o->base ? "cgan-base" : "cgan-small", o->data, vkn_norm_kind_name(o->norm_g),
                 vkn_norm_kind_name(o->norm_d), o->loss ? "hinge" : "bce", (unsigned long long)o->seed);
    x += vkn_canvas_text(c, ui->sans, 13.f, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_DIM, buf);
    const char *state = phase_name(s);
    vkn_color scol = !strcmp(state, "DONE") ? VKN_COL_ACCENT : !strcmp(state, "TRAINING") ? VKN_COL_GOOD : VKN_COL_WARN;
    float pw = vkn_font_width(ui->bold, 11.f, state) + 18;
    vkn_rect pill = {c->w - 16 - (int)pw, (int)cy - 11, (int)pw, 22};
    vkn_canvas_round_rect(c, pill, 11, VKN_ALPHA(scol, 0x38));
    vkn_canvas_text(c, ui->bold, 11.f, pill.x + pw * 0.5f, cy, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, scol, state);
    snprintf(buf, sizeof buf, "step %lld / %lld", s ? (long long)s->step : 0LL, (long long)o->steps);
    float sw = vkn_canvas_text(c, ui->mono, 12.f, (float)(pill.x - 14), cy, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_TEXT, buf);
    const char *msg = u->toast[0] && vkn_now() < u->toast_until ? u->toast : s ? s->status : "starting";
    vkn_color mcol = u->toast[0] && vkn_now() < u->toast_until ? VKN_COL_ACCENT : VKN_COL_DIM;
    if (s && s->phase == CG_PHASE_TRAIN && !(u->toast[0] && vkn_now() < u->toast_until)) return;
    vkn_rect mr = {(int)x + 24, top.y, (int)(pill.x - 14 - sw - 24 - x - 24), top.h};
    if (mr.w > 40) {
        vkn_canvas_set_clip(c, mr);
        vkn_canvas_text(c, ui->sans, 13.f, (float)mr.x, cy, VKN_ALIGN_MIDDLE, mcol, msg);
        vkn_canvas_reset_clip(c);
    }
}

static const char *row_labels[CG_ROWS] = {"z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z10"};

/* Compare mode's layout of a grid: rows = the classes, columns = the first CMP_COLS noise vectors
 * (twenty class columns side by side would leave thumbnails and labels too narrow). */
static void transpose_grid(const float *grid, float *out)
{
    for (int k = 0; k < CG_CLASSES; k++)
        for (int r = 0; r < CMP_COLS; r++)
            memcpy(out + (size_t)(k * CMP_COLS + r) * CG_PIX, grid + (size_t)(r * CG_CLASSES + k) * CG_PIX, sizeof(float) * CG_PIX);
}

/* The grid shown is the latest snapshot's unless the user scrubs back through the history (which keeps
 * a grid every 50 steps for that). */
static bool live_grid(const cg_ui *u, const cg_snap *s)
{
    return s && s->phase >= CG_PHASE_TRAIN && u->hist[0].cursor < 0;
}

/* One run's samples: the live grid or the history's (live or scrubbed), one class large, or an interpolation. */
static void samples_view(cg_ui *u, vkn_rect in, const cg_snap *s, int run, const char *caption)
{
    vkn_ui *ui = vkn_view_ui(u->view);
    vkn_canvas *c = ui->canvas;
    if (caption) {
        vkn_rect cap = vkn_rect_cut_top(&in, 18, 2);
        vkn_canvas_text(c, ui->bold, 12.f, cap.x + cap.w * 0.5f, cap.y + 9.f, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_TEXT, caption);
    }
    const cg_run_snap *rs = s ? &s->run[run] : NULL;
    if (rs && u->interp && rs->interp) {
        static char tl[CG_CLASSES][16];
        static const char *cols[CG_CLASSES];
        for (int j = 0; j < CG_CLASSES; j++) {
            snprintf(tl[j], sizeof tl[j], "t=%.2g", (double)j / (CG_CLASSES - 1));
            cols[j] = tl[j];
        }
        vkn_grid g = {rs->interp_img, SHOW_ROWS * CG_CLASSES, 1, CG_IMG, CG_IMG, SHOW_ROWS, CG_CLASSES, NULL, NULL, cols, row_labels, -1};
        vkn_ui_grid(ui, in, &g);
        return;
    }
    if (rs && u->picked >= 0) {
        static float big[CG_ROWS * CG_PIX];
        for (int r = 0; r < CG_ROWS; r++) memcpy(big + r * CG_PIX, rs->grid + (r * CG_CLASSES + u->picked) * CG_PIX, sizeof(float) * CG_PIX);
        vkn_grid g = {big, CG_ROWS, 1, CG_IMG, CG_IMG, 2, 5, NULL, row_labels, NULL, NULL, -1};
        vkn_ui_grid(ui, in, &g);
        return;
    }
    bool cmp = u->o->nruns > 1;
    if (!cmp) {
        vkn_rect scrub = vkn_rect_cut_bottom(&in, 30, 4);
        vkn_ui_scrubber(ui, scrub, &u->hist[run]);
    }
    const char *const *cols = cmp ? row_labels : u->names, *const *rows = cmp ? u->names : row_labels;
    if (live_grid(u, s)) { /* the snapshot's own grid: as fresh as the worker's last post */
        static float tr[CG_CLASSES * CMP_COLS * CG_PIX];
        if (cmp) transpose_grid(rs->grid, tr);
        vkn_grid g = {cmp ? tr : rs->grid, SHOW_ROWS * CG_CLASSES, 1, CG_IMG, CG_IMG, SHOW_ROWS, CG_CLASSES, NULL, NULL, cols, rows, -1, true};
        if (cmp) g.n = CG_CLASSES * CMP_COLS, g.rows = CG_CLASSES, g.cols = CMP_COLS;
        vkn_ui_grid(ui, in, &g);
    } else vkn_ui_history_grid(ui, in, &u->hist[run], cols, rows);
}

static void samples_panel(cg_ui *u, vkn_rect r, const cg_snap *s)
{
    char *note = u->grid_note;
    const size_t nn = sizeof u->grid_note;
    const vkn_snapshot *cur = vkn_history_current(&u->hist[0]);
    const char *title = "Generated samples";
    if (u->interp) {
        title = "Class interpolation (fixed noise)";
        snprintf(note, nn, "%s \xe2\x86\x92 %s", u->names[u->ia], u->names[u->ib]);
    } else if (u->picked >= 0) {
        title = "One class, ten noise vectors";
        snprintf(note, nn, "%s", u->names[u->picked]);
    } else if (live_grid(u, s))
        snprintf(note, nn, "step %lld  (live)", (long long)s->step);
    else
        snprintf(note, nn, cur ? "step %lld%s" : "waiting for the first grid", cur ? (long long)cur->step : 0LL,
                 u->hist[0].cursor < 0 ? "" : "  (history: End = live)");
    vkn_rect in = vkn_ui_panel(vkn_view_ui(u->view), r, title, note);
    if (u->o->nruns == 1) {
        samples_view(u, in, s, 0, NULL);
        return;
    }
    if (!u->interp && u->picked < 0) { /* one scrubber for both runs (their histories move together) */
        vkn_rect scrub = vkn_rect_cut_bottom(&in, 30, 4);
        vkn_ui_scrubber(vkn_view_ui(u->view), scrub, &u->hist[0]);
        u->hist[1].cursor = u->hist[0].cursor;
    }
    vkn_rect left = vkn_rect_cut_left(&in, (in.w - 10) / 2, 10);
    char cap[48];
    snprintf(cap, sizeof cap, "G %s", vkn_norm_kind_name(u->o->run_norm_g[0]));
    samples_view(u, left, s, 0, cap);
    snprintf(cap, sizeof cap, "G %s", vkn_norm_kind_name(u->o->run_norm_g[1]));
    samples_view(u, in, s, 1, cap);
}

static void norm_panel(cg_ui *u, vkn_rect r, const cg_snap *s)
{
    vkn_ui *ui = vkn_view_ui(u->view);
    enum { MAXR = 2 * 2 * CG_SLOT_ROWS };
    static char hb[MAXR][48];
    static const char *heads[MAXR];
    static float vals[MAXR * 4];
    static const char *cols4[4] = {"mean", "std", "min", "max"};
    int nr = 0;
    /* slot summaries */
    for (int run = 0; s && run < s->nruns; run++)
        for (int l = 0; l < s->run[run].ndiag; l++)
            for (int j = 0; j < s->run[run].nslots[l] && nr < MAXR; j++, nr++) {
                snprintf(hb[nr], sizeof hb[nr], "%s%s%s %s", s->nruns > 1 ? s->run[run].norm : "", s->nruns > 1 ? " " : "",
                         l ? "n2" : "n1", s->run[run].slot_name[l][j]);
                heads[nr] = hb[nr];
                memcpy(vals + nr * 4, s->run[run].slot_stat[l][j], sizeof(float) * 4);
            }
    vkn_rect left = vkn_rect_cut_left(&r, r.w * (u->o->nruns > 1 ? 45 : 35) / 100, 10);
    vkn_table t = {"G norm: parameters, buffers", nr, 4, cols4, heads, vals, "%.2f", NULL, &u->scroll[0]};
    if (nr) vkn_ui_table(ui, left, &t);
    else {
        vkn_rect in = vkn_ui_panel(ui, left, t.title, NULL);
        vkn_ui_text(ui, in.x + 4, in.y + 4, 0, VKN_COL_DIM, "%s", s && s->phase >= CG_PHASE_TRAIN ? "G has no normalization layer" : "waiting");
    }
    /* the method's own diagnostics, one column per value (context / class / channel) */
    enum { MAXD = 2 * 2 * VKN_NORM_DIAG_MAX, DC = 10 };
    static char db[MAXD][64];
    static const char *dheads[MAXD];
    static float dv[MAXD * DC];
    int nd = 0;
    for (int run = 0; s && run < s->nruns; run++)
        for (int l = 0; l < s->run[run].ndiag; l++)
            for (int j = 0; j < s->run[run].diag[l].nseries && nd < MAXD; j++, nd++) {
                const vkn_norm_diag_series *se = &s->run[run].diag[l].s[j];
                snprintf(db[nd], sizeof db[nd], "%s%s%s %s", s->nruns > 1 ? s->run[run].norm : "", s->nruns > 1 ? " " : "",
                         l ? "n2" : "n1", se->label);
                dheads[nd] = db[nd];
                for (int k = 0; k < DC; k++) dv[nd * DC + k] = k < se->count ? se->v[k] : NAN;
            }
    static char cb[DC][8];
    static const char *dcols[DC];
    for (int k = 0; k < DC; k++) snprintf(cb[k], sizeof cb[k], "%d", k), dcols[k] = cb[k];
    vkn_table d = {"G norm: per context (class) diagnostics", nd, DC, dcols, dheads, dv, "%.2f", NULL, &u->scroll[1]};
    if (nd) vkn_ui_table(ui, r, &d);
    else {
        vkn_rect in = vkn_ui_panel(ui, r, "G normalization: method diagnostics", NULL);
        vkn_canvas_set_clip(ui->canvas, in);
        vkn_ui_text(ui, in.x + 4, in.y + 4, 0, VKN_COL_DIM, "%s: no per-context statistics", s && s->nruns ? s->run[0].norm : "-");
        vkn_ui_text(ui, in.x + 4, in.y + 24, 0, VKN_COL_DIM, "(cn shows them per class, bcn its blend weights)");
        vkn_canvas_reset_clip(ui->canvas);
    }
}

static float last_y(const vkn_series *se) { return se->n ? se->y[se->n - 1] : NAN; }

static void run_panel(cg_ui *u, vkn_rect r, const cg_snap *s)
{
    vkn_kv kv = vkn_ui_kv_begin(vkn_view_ui(u->view), r, "Run");
    vkn_ui_kv(&kv, 0, "step", "%lld / %lld", s ? (long long)s->step : 0LL, (long long)u->o->steps);
    vkn_ui_kv(&kv, 0, "ms/step", "%.1f", s ? s->ms_step : 0.0);
    vkn_ui_kv(&kv, 0, "samples/s", "%.0f", s ? s->samples_s : 0.0);
    vkn_ui_kv_separator(&kv);
    for (int run = 0; run < u->o->nruns; run++) {
        const char *p = u->o->nruns > 1 ? vkn_norm_kind_name(u->o->run_norm_g[run]) : "";
        char k[48];
        snprintf(k, sizeof k, "loss D / G %s", p);
        vkn_ui_kv(&kv, 0, k, "%.3f / %.3f", last_y(&u->loss.series[2 * run]), last_y(&u->loss.series[2 * run + 1]));
        const cg_run_snap *rs = s ? &s->run[run] : NULL;
        snprintf(k, sizeof k, "cond. acc %s", p);
        if (rs && rs->has_eval) {
            vkn_ui_kv(&kv, VKN_COL_GOOD, k, "%.1f%%", 100.0 * rs->eval.acc);
            snprintf(k, sizeof k, "Frechet %s", p);
            vkn_ui_kv(&kv, 0, k, "%.2f", rs->eval.fd);
        } else vkn_ui_kv(&kv, VKN_COL_DIM, k, "-");
        if (rs && rs->diverged) vkn_ui_kv(&kv, VKN_COL_BAD, "diverged", "yes");
    }
    vkn_ui_kv_separator(&kv);
    vkn_ui_kv(&kv, VKN_COL_DIM, "ui fps", "%.0f", vkn_view_fps(u->view));
}

static void class_bars(cg_ui *u, vkn_rect r, const cg_snap *s, bool share)
{
    static float v[CG_MAXRUNS][CG_CLASSES];
    vkn_bars b = {0};
    b.title = share ? "Predicted classes (%)" : "Accuracy per class (%)";
    b.n = CG_CLASSES;
    b.labels = cg_class_abbrev(u->o->data);
    b.value_fmt = "%.0f";
    b.y_max = share ? 0 : 100;
    b.ref_line = share ? 10.f : 0;
    int ns = 0;
    static char sn[CG_MAXRUNS][24];
    for (int run = 0; s && run < s->nruns; run++) {
        if (!s->run[run].has_eval) continue;
        for (int k = 0; k < CG_CLASSES; k++)
            v[ns][k] = 100.f * (share ? s->run[run].eval.share[k] : s->run[run].eval.acc_class[k]);
        b.values[ns] = v[ns];
        snprintf(sn[ns], sizeof sn[ns], "G %s", s->run[run].norm);
        b.series_names[ns] = s->nruns > 1 ? sn[ns] : NULL;
        b.colors[ns] = vkn_palette(run ? 4 : 2);
        ns++;
    }
    b.nseries = ns;
    if (ns) vkn_ui_bars(vkn_view_ui(u->view), r, &b);
    else vkn_ui_panel(vkn_view_ui(u->view), r, b.title, "after the first evaluation");
}

static void draw(cg_ui *u, const cg_snap *s)
{
    vkn_ui *ui = vkn_view_ui(u->view);
    vkn_canvas *c = ui->canvas;
    vkn_canvas_clear(c, VKN_COL_BG);
    vkn_rect all = {0, 0, c->w, c->h};
    top_bar(u, vkn_rect_cut_top(&all, 46, 0), s);
    vkn_rect bottom = vkn_rect_cut_bottom(&all, 34, 0);
    vkn_canvas_fill_rect(c, bottom, 0x111318ffu);
    vkn_canvas_hline(c, 0, c->w - 1, bottom.y, VKN_COL_BORDER);
    vkn_view_draw_keybar(u->view, (vkn_rect){bottom.x + 16, bottom.y + 1, bottom.w - 32, bottom.h - 1});

    const int gap = 10;
    vkn_rect body = vkn_rect_inset(all, 12);
    vkn_rect left = vkn_rect_cut_left(&body, body.w * 58 / 100, gap);
    /* compare mode: the samples take more height (the tables below page) */
    vkn_rect sp = vkn_rect_cut_top(&left, left.h * (u->o->nruns > 1 ? 80 : 73) / 100, gap);
    samples_panel(u, sp, s);
    norm_panel(u, left, s);

    vkn_rect row1 = vkn_rect_cut_top(&body, body.h * 30 / 100, gap);
    vkn_rect kvr = vkn_rect_cut_right(&row1, 224, gap);
    vkn_ui_chart(ui, row1, &u->loss);
    run_panel(u, kvr, s);
    vkn_rect row2 = vkn_rect_cut_top(&body, body.h * 45 / 100, gap);
    vkn_rect r2l = vkn_rect_cut_left(&row2, (row2.w - gap) / 2, gap);
    vkn_ui_chart(ui, r2l, &u->dprob);
    vkn_ui_chart(ui, row2, &u->acc);
    vkn_rect r3l = vkn_rect_cut_left(&body, (body.w - gap) / 2, gap);
    vkn_rect r3a = vkn_rect_cut_top(&r3l, (r3l.h - gap) / 2, gap);
    class_bars(u, r3a, s, false);
    vkn_ui_chart(ui, r3l, &u->fd);
    class_bars(u, body, s, true);
}

/* --resume: the curves so far, from the run folder's CSV logs (rows past the checkpoint are skipped
 * later by the chart's own order: the worker restarts at the checkpoint's step). */
static void load_csv(cg_ui *u, int run, const char *dir, const char *name)
{
    char path[1200], line[4096];
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return;
    int col[5] = {-1, -1, -1, -1, -1}, ncol = 0;
    static const char *want_train[5] = {"step", "loss_d", "loss_g", "d_real", "d_fake"};
    static const char *want_eval[5] = {"step", "cond_acc", "frechet", NULL, NULL};
    const char *const *want = !strcmp(name, "train") ? want_train : want_eval;
    bool header = true;
    while (fgets(line, sizeof line, f)) {
        double v[64];
        int n = 0;
        for (char *tok = strtok(line, ",\n"); tok && n < 64; tok = strtok(NULL, ",\n"), n++) {
            if (header) {
                for (int k = 0; k < 5; k++)
                    if (want[k] && !strcmp(tok, want[k])) col[k] = n;
            } else v[n] = strtod(tok, NULL);
        }
        if (header) {
            header = false;
            ncol = n;
            continue;
        }
        if (n != ncol || col[0] < 0) continue;
        float x = (float)v[col[0]];
        if (want == want_train) {
            for (int k = 1; k < 5; k++)
                if (col[k] >= 0) vkn_chart_push(k <= 2 ? &u->loss : &u->dprob, 2 * run + (k - 1) % 2, x, (float)v[col[k]]);
        } else {
            if (col[1] >= 0) vkn_chart_push(&u->acc, run, x, (float)v[col[1]]);
            if (col[2] >= 0) vkn_chart_push(&u->fd, run, x, (float)v[col[2]]);
        }
    }
    fclose(f);
}

void cg_ui_feed(cg_ui *u, const cg_snap *s, bool fresh)
{
    /* the history keeps a grid every 50 steps (and the last) for the scrubber; the live view draws
     * every snapshot */
    if (fresh && s && s->phase >= CG_PHASE_TRAIN &&
        (s->step - u->last_hist_step >= 50 || (s->phase == CG_PHASE_DONE && s->step != u->last_hist_step))) {
        for (int r = 0; r < s->nruns; r++) {
            static float tr[CG_CLASSES * CMP_COLS * CG_PIX];
            vkn_grid g = {s->run[r].grid, SHOW_ROWS * CG_CLASSES, 1, CG_IMG, CG_IMG, SHOW_ROWS, CG_CLASSES, NULL, NULL, NULL, NULL, -1, true};
            if (s->nruns > 1) transpose_grid(s->run[r].grid, tr), g.images = tr, g.n = CG_CLASSES * CMP_COLS, g.rows = CG_CLASSES, g.cols = CMP_COLS;
            vkn_history_push(&u->hist[r], s->step, &g);
        }
        u->last_hist_step = s->step;
    }
}

void cg_ui_draw(cg_ui *u, const cg_snap *s) { draw(u, s); }
const char *cg_ui_grid_note(const cg_ui *u) { return u->grid_note; }
int cg_ui_history_count(const cg_ui *u, int run) { return u->hist[run].n; }
vkn_canvas *cg_ui_canvas(cg_ui *u) { return vkn_view_canvas(u->view); }

int cg_ui_run(cg_ui *u, cg_worker *w)
{
    u->w = w;
    int rc = 0;
    if (u->o->show_class >= 0) u->picked = u->o->show_class;
    for (int r = 0; u->o->resume && r < u->o->nruns; r++) {
        char dir[1100];
        if (u->o->nruns > 1) snprintf(dir, sizeof dir, "%s/g-%s", u->o->out, vkn_norm_kind_name(u->o->run_norm_g[r]));
        else snprintf(dir, sizeof dir, "%s", u->o->out);
        load_csv(u, r, dir, "train");
        load_csv(u, r, dir, "metrics");
    }
    if (u->o->interp_a >= 0) {
        u->interp = true;
        u->ia = u->o->interp_a, u->ib = u->o->interp_b;
        send_interp(u);
    }
    const cg_snap *s = NULL;
    double done_at = 0;
    vkn_queue *rows = cg_worker_rows(w), *msgs = cg_worker_msgs(w);
    while (vkn_view_poll(u->view)) {
        bool fresh = false;
        s = vkn_mailbox_take(cg_worker_mailbox(w), &fresh);
        cg_ui_feed(u, s, fresh);
        cg_row row;
        while (vkn_queue_pop(rows, &row, 0)) {
            float x = (float)row.step;
            if (row.kind == CG_ROW_TRAIN) {
                vkn_chart_push(&u->loss, 2 * row.run, x, row.loss_d);
                vkn_chart_push(&u->loss, 2 * row.run + 1, x, row.loss_g);
                vkn_chart_push(&u->dprob, 2 * row.run, x, row.d_real);
                vkn_chart_push(&u->dprob, 2 * row.run + 1, x, row.d_fake);
            } else {
                vkn_chart_push(&u->acc, row.run, x, row.eval.acc);
                vkn_chart_push(&u->fd, row.run, x, row.eval.fd);
            }
        }
        cg_msg m;
        while (vkn_queue_pop(msgs, &m, 0)) {
            fprintf(stderr, "vkn-cgan: %s\n", m.text);
            toast(u, "%s", m.text);
        }
        draw(u, s);
        vkn_view_present(u->view);
        if (u->o->screenshot && cg_worker_done(w) && s && s->phase == CG_PHASE_DONE) {
            if (done_at == 0) done_at = vkn_now();
            else if (vkn_now() - done_at > 0.5) break; /* a few frames with the final snapshot */
        }
    }
    if (u->o->screenshot) {
        draw(u, s);
        if (vkn_view_screenshot(u->view, u->o->screenshot) != VKN_OK) {
            fprintf(stderr, "vkn-cgan: %s\n", vkn_status_detail());
            rc = 1;
        } else fprintf(stderr, "vkn-cgan: screenshot %s\n", u->o->screenshot);
    }
    cg_worker_stop(w);
    return rc;
}
