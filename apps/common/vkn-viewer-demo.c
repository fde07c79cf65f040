/* vkn-viewer-demo: the live viewer with synthetic data, and the reference for how an app uses it.
 *
 * A worker thread plays the training run: every step it sends a metric row through a vkn_queue, every
 * few steps it writes a snapshot (sample grid, predictions, histogram, features, statistics) into the
 * back slot of a vkn_mailbox and posts it. The UI thread (main) owns the view: it polls keys, takes the
 * newest snapshot, drains the metric rows into charts, draws and presents. Commands (pause, step,
 * quit) go back to the worker through a second queue.
 *
 *   vkn-viewer-demo                          window (headless when there is no display)
 *   vkn-viewer-demo --headless --frames N --out DIR     N frames as DIR/frame-0000.png ...
 *   vkn-viewer-demo --screenshot FILE --frames N        window; save frame N to FILE and exit */
#include "viewer.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "vkn_app_version.h"

#define NCLASS 10
#define GROWS 4                /* sample grid: rows of fixed noise x 10 classes */
#define PROWS 2                /* predictions: source row, target row */
#define IMG 28
#define NPTS 240               /* scatter points: 2 domains x 10 classes x 12 */
#define NLAYERS 5
#define NSTAT 6

static const char *class_names[NCLASS] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

/* ---- what the worker hands to the UI ---- */

typedef struct snapshot {
    int64_t step;
    float samples[GROWS * NCLASS][IMG * IMG];          /* 1 channel */
    float preds[PROWS * NCLASS][3 * IMG * IMG];        /* 3 channels */
    int pred_class[PROWS * NCLASS], true_class[PROWS * NCLASS];
    float hist[NCLASS], class_acc[2][NCLASS];
    float xy[NPTS * 2];
    int pt_class[NPTS], pt_domain[NPTS];
    float stats[NLAYERS * NSTAT];
    double ms_per_step, samples_per_s;
} snapshot;

typedef struct metric_row {
    int64_t step;
    float loss_d, loss_g, acc_src, acc_tgt, acc_dom, lambda;
} metric_row;

enum { CMD_PAUSE, CMD_RESUME, CMD_STEP, CMD_QUIT };
typedef struct command { int cmd; } command;

/* ---- the pretend training run ---- */

typedef struct worker {
    vkn_mailbox *mb;
    vkn_queue *metrics, *cmds;
    int64_t total, post_every;
    double step_ms;            /* simulated step time */
    uint8_t digits[3][NCLASS][IMG * IMG]; /* three "styles": sans, bold, mono */
    float noise[GROWS * NCLASS][IMG * IMG];
    bool done;
} worker;

static float frand(uint64_t *s) /* uniform [0, 1) */
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)(*s >> 40) / (float)(1ull << 24);
}
static float nrand(uint64_t *s)
{
    float u = frand(s) + 1e-7f, v = frand(s);
    return sqrtf(-2.f * logf(u)) * cosf(6.2831853f * v);
}

static void make_snapshot(worker *w, int64_t step, snapshot *s, uint64_t *rng)
{
    float sharp = 1.f - expf(-(float)step / 500.f);
    s->step = step;
    for (int r = 0; r < GROWS; r++)
        for (int k = 0; k < NCLASS; k++) {
            int cell = r * NCLASS + k, style = r % 3, shift = r == 3 ? 2 : 0;
            for (int y = 0; y < IMG; y++)
                for (int x = 0; x < IMG; x++) {
                    int sx = x - shift < 0 ? 0 : x - shift;
                    float d = w->digits[style][k][y * IMG + sx] / 127.5f - 1.f;
                    float n = w->noise[cell][y * IMG + x] + 0.35f * nrand(rng) * (1.f - sharp);
                    float v = sharp * d + (1.f - sharp) * n;
                    s->samples[cell][y * IMG + x] = v < -1 ? -1 : v > 1 ? 1 : v;
                }
        }
    /* predictions: source digits on black, target digits on coloured texture; right more often later */
    float p_right = 0.35f + 0.6f * sharp;
    for (int r = 0; r < PROWS; r++)
        for (int k = 0; k < NCLASS; k++) {
            int cell = r * NCLASS + k;
            float tint[3] = {0.4f + 0.6f * frand(rng), 0.4f + 0.6f * frand(rng), 0.4f + 0.6f * frand(rng)};
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < IMG * IMG; i++) {
                    float d = w->digits[(k + r) % 3][k][i] / 255.f;
                    float bg = r == 0 ? 0.f : 0.25f + 0.35f * frand(rng) * tint[(c + 1) % 3];
                    float v = r == 0 ? d : fabsf(bg - d * tint[c]);
                    s->preds[cell][c * IMG * IMG + i] = v * 2.f - 1.f;
                }
            s->true_class[cell] = k;
            s->pred_class[cell] = frand(rng) < p_right + (r == 0 ? 0.2f : 0.f) ? k : (k + 1 + (int)(frand(rng) * 8)) % NCLASS;
        }
    float sum = 0;
    for (int k = 0; k < NCLASS; k++) {
        s->hist[k] = (1.f - sharp) * (k == 3 ? 6.f : 0.5f) * frand(rng) + sharp * (0.8f + 0.4f * frand(rng));
        sum += s->hist[k];
        s->class_acc[0][k] = fminf(1.f, 0.5f + 0.5f * sharp + 0.05f * nrand(rng));
        s->class_acc[1][k] = fminf(1.f, 0.2f + 0.6f * sharp + 0.08f * nrand(rng));
    }
    for (int k = 0; k < NCLASS; k++) s->hist[k] = 100.f * s->hist[k] / sum;
    /* features: class clusters on a ring, the target domain offset shrinking as the domains merge */
    float off = 2.2f * (1.f - sharp) + 0.2f;
    for (int i = 0; i < NPTS; i++) {
        int dom = i & 1, k = (i / 2) % NCLASS;
        float a = 6.2831853f * k / NCLASS, rad = 3.f + (dom ? 0.6f * (1.f - sharp) : 0.f);
        float spread = 0.45f + 0.5f * (1.f - sharp);
        s->xy[2 * i] = rad * cosf(a) + spread * nrand(rng) + (dom ? off : 0.f);
        s->xy[2 * i + 1] = rad * sinf(a) + spread * nrand(rng) - (dom ? off * 0.5f : 0.f);
        s->pt_class[i] = k;
        s->pt_domain[i] = dom;
    }
    for (int l = 0; l < NLAYERS; l++) {
        float *st = s->stats + l * NSTAT;
        st[0] = 0.05f * nrand(rng) + 0.3f * (1.f - sharp) / (l + 1);
        st[1] = 1.f + 0.2f * sinf((float)step / 200.f + l);
        st[2] = -0.1f + 0.05f * nrand(rng);
        st[3] = 0.8f + 0.1f * l + 0.05f * nrand(rng);
        st[4] = 0.5f + 0.4f * tanhf((float)step / 800.f - l * 0.3f);
        st[5] = l == NLAYERS - 1 ? NAN : 0.02f * (1 + l) * (1.f + frand(rng));
    }
    s->ms_per_step = w->step_ms > 0 ? w->step_ms : 0.5;
    s->samples_per_s = 64.0 * 1000.0 / s->ms_per_step;
}

static void metrics_at(int64_t step, metric_row *m, uint64_t *rng)
{
    float t = (float)step;
    m->step = step;
    m->loss_d = 0.55f + 0.35f * expf(-t / 900.f) + 0.08f * sinf(t / 60.f) + 0.06f * nrand(rng);
    m->loss_g = 0.9f + 1.6f * expf(-t / 400.f) + 0.12f * sinf(t / 35.f) + 0.15f * nrand(rng);
    if (m->loss_d < 0.05f) m->loss_d = 0.05f;
    if (m->loss_g < 0.05f) m->loss_g = 0.05f;
    m->acc_src = fminf(0.995f, 0.1f + 0.88f * (1.f - expf(-t / 250.f)) + 0.01f * nrand(rng));
    m->acc_tgt = fminf(0.99f, 0.1f + 0.65f * (1.f - expf(-t / 700.f)) + 0.02f * nrand(rng));
    m->lambda = 2.f / (1.f + expf(-10.f * t / 3000.f)) - 1.f;
    m->acc_dom = 0.5f + 0.45f * expf(-t / 800.f) + 0.03f * nrand(rng);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t rng = 12345;
    bool paused = false;
    for (int64_t step = 0; step <= w->total;) {
        command c;
        bool one = false;
        while (vkn_queue_pop(w->cmds, &c, paused ? -1 : 0)) {
            if (c.cmd == CMD_QUIT) goto out;
            if (c.cmd == CMD_PAUSE) paused = true;
            if (c.cmd == CMD_RESUME) paused = false;
            if (c.cmd == CMD_STEP) { one = true; break; }
        }
        if (paused && !one) continue;
        if (w->step_ms > 0) {
            struct timespec ts = {0, (long)(w->step_ms * 1e6)};
            nanosleep(&ts, NULL);
        }
        metric_row m;
        metrics_at(step, &m, &rng);
        vkn_queue_push(w->metrics, &m);
        if (step % w->post_every == 0 || one || step == w->total) {
            make_snapshot(w, step, vkn_mailbox_back(w->mb), &rng);
            vkn_mailbox_post(w->mb);
        }
        step++;
    }
out:
    w->done = true;
    return NULL;
}

/* ---- the UI ---- */

enum { A_PAUSE, A_STEP, A_SAVE, A_CLASS, A_INTERP, A_BACK, A_FWD, A_LIVE, A_LOG, A_QUIT };

typedef struct app {
    vkn_view *view;
    worker *w;
    bool paused, want_save;
    int picked, interp_from;
    vkn_history hist;
    vkn_chart losses, accs;
    char toast[256];
    double toast_until;
    const char *out_dir;
} app;

static void toast(app *a, const char *msg)
{
    snprintf(a->toast, sizeof a->toast, "%s", msg);
    a->toast_until = vkn_now() + 2.5;
}

static void on_action(void *user, int action, int key, int mods)
{
    app *a = user;
    command c;
    char msg[160];
    switch (action) {
    case A_PAUSE:
        a->paused = !a->paused;
        c.cmd = a->paused ? CMD_PAUSE : CMD_RESUME;
        vkn_queue_push(a->w->cmds, &c);
        toast(a, a->paused ? "paused" : "resumed");
        break;
    case A_STEP:
        if (!a->paused) {
            a->paused = true;
            c.cmd = CMD_PAUSE;
            vkn_queue_push(a->w->cmds, &c);
        }
        c.cmd = CMD_STEP;
        vkn_queue_push(a->w->cmds, &c);
        toast(a, "one step");
        break;
    case A_SAVE: a->want_save = true; break;
    case A_CLASS:
        a->picked = a->picked == key - '0' ? -1 : key - '0';
        snprintf(msg, sizeof msg, a->picked < 0 ? "class: all" : "class %d picked", a->picked);
        toast(a, msg);
        break;
    case A_INTERP:
        a->interp_from = a->picked >= 0 ? a->picked : 0;
        snprintf(msg, sizeof msg, "interpolate %d \xe2\x86\x92 %d (an app would show it here)", a->interp_from,
                 (a->interp_from + 1) % NCLASS);
        toast(a, msg);
        break;
    case A_BACK: vkn_history_move(&a->hist, -1); break;
    case A_FWD: vkn_history_move(&a->hist, +1); break;
    case A_LIVE: vkn_history_go_live(&a->hist); break;
    case A_LOG:
        a->losses.log_y = !a->losses.log_y;
        toast(a, a->losses.log_y ? "loss axis: log" : "loss axis: linear");
        break;
    case A_QUIT: vkn_view_request_quit(a->view); break;
    case VKN_ACTION_QUIT:
        /* a real app checkpoints here; the demo just stops its worker */
        c.cmd = CMD_QUIT;
        vkn_queue_push(a->w->cmds, &c);
        break;
    }
    (void)mods;
}

static void draw(app *a, const snapshot *s)
{
    vkn_ui *ui = vkn_view_ui(a->view);
    vkn_canvas *c = ui->canvas;
    vkn_canvas_clear(c, VKN_COL_BG);
    vkn_rect all = {0, 0, c->w, c->h};

    /* top bar: name, run, state; bottom: keys */
    vkn_rect top = vkn_rect_cut_top(&all, 46, 0);
    vkn_canvas_fill_rect(c, top, 0x111318ffu);
    vkn_canvas_hline(c, 0, c->w - 1, top.y + top.h - 1, VKN_COL_BORDER);
    float x = 16, cy = top.y + top.h * 0.5f;
    x += vkn_canvas_text(c, ui->bold, 18.f, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_TEXT, "vknorm");
    x += 12;
    vkn_canvas_text(c, ui->sans, 13.f, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_DIM,
                    "viewer demo \xc2\xb7 synthetic data \xc2\xb7 cn (class contexts) vs bn");
    char buf[160];
    bool done = a->w->done;
    const char *state = done ? "DONE" : a->paused ? "PAUSED" : "TRAINING";
    vkn_color scol = done ? VKN_COL_ACCENT : a->paused ? VKN_COL_WARN : VKN_COL_GOOD;
    float pw = vkn_font_width(ui->bold, 11.f, state) + 18;
    vkn_rect pill = {c->w - 16 - (int)pw, (int)cy - 11, (int)pw, 22};
    vkn_canvas_round_rect(c, pill, 11, VKN_ALPHA(scol, 0x38));
    vkn_canvas_text(c, ui->bold, 11.f, pill.x + pw * 0.5f, cy, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, scol, state);
    snprintf(buf, sizeof buf, "step %lld / %lld", s ? (long long)s->step : 0LL, (long long)a->w->total);
    vkn_canvas_text(c, ui->mono, 12.f, (float)(pill.x - 14), cy, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, VKN_COL_TEXT, buf);
    if (a->toast[0] && vkn_now() < a->toast_until)
        vkn_canvas_text(c, ui->sans, 13.f, c->w * 0.5f + 80, cy, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_ACCENT, a->toast);

    vkn_rect bottom = vkn_rect_cut_bottom(&all, 34, 0);
    vkn_canvas_fill_rect(c, bottom, 0x111318ffu);
    vkn_canvas_hline(c, 0, c->w - 1, bottom.y, VKN_COL_BORDER);
    vkn_view_draw_keybar(a->view, (vkn_rect){bottom.x + 16, bottom.y + 1, bottom.w - 32, bottom.h - 1});

    vkn_rect body = vkn_rect_inset(all, 12);
    const int gap = 10;
    vkn_rect left = vkn_rect_cut_left(&body, body.w * 55 / 100, gap);

    /* generated samples with the history scrubber */
    vkn_rect sp = vkn_rect_cut_top(&left, left.h * 53 / 100, gap);
    const vkn_snapshot *cur = vkn_history_current(&a->hist);
    snprintf(buf, sizeof buf, cur ? "step %lld%s" : " ", cur ? (long long)cur->step : 0LL,
             a->hist.cursor < 0 ? "" : "  (history)");
    vkn_rect in = vkn_ui_panel(ui, sp, "Generated samples", buf);
    vkn_rect scrub = vkn_rect_cut_bottom(&in, 34, 4);
    static const char *rows[GROWS] = {"z1", "z2", "z3", "z4"};
    vkn_grid_layout L = vkn_ui_history_grid(ui, in, &a->hist, class_names, rows);
    if (a->picked >= 0 && L.scale > 0) /* outline the picked class column */
        vkn_canvas_rect(c, (vkn_rect){L.x0 + a->picked * L.cell_w - 4, L.y0 - 4, L.img_w + 8,
                                      GROWS * L.cell_h - 6 + 8}, VKN_COL_ACCENT, 2);
    vkn_ui_scrubber(ui, scrub, &a->hist);

    /* predictions: green right, red wrong */
    vkn_rect pp = vkn_rect_cut_top(&left, left.h * 53 / 100, gap);
    if (s) {
        vkn_color borders[PROWS * NCLASS];
        char capbuf[PROWS * NCLASS][16];
        const char *caps[PROWS * NCLASS];
        int right[2] = {0, 0};
        for (int i = 0; i < PROWS * NCLASS; i++) {
            bool ok = s->pred_class[i] == s->true_class[i];
            right[i / NCLASS] += ok;
            borders[i] = ok ? VKN_COL_GOOD : VKN_COL_BAD;
            snprintf(capbuf[i], sizeof capbuf[i], ok ? "%d" : "%d \xe2\x86\x92 %d", s->true_class[i], s->pred_class[i]);
            if (ok) snprintf(capbuf[i], sizeof capbuf[i], "%d", s->pred_class[i]);
            caps[i] = capbuf[i];
        }
        snprintf(buf, sizeof buf, "source %d/10 \xc2\xb7 target %d/10", right[0], right[1]);
        in = vkn_ui_panel(ui, pp, "Predictions", buf);
        static const char *prow[PROWS] = {"src", "tgt"};
        vkn_grid g = {&s->preds[0][0], PROWS * NCLASS, 3, IMG, IMG, PROWS, NCLASS, borders, caps, NULL, prow, -1};
        vkn_ui_grid(ui, in, &g);
    } else vkn_ui_panel(ui, pp, "Predictions", NULL);

    /* per-layer normalization statistics */
    static const char *layers[NLAYERS] = {"g.norm1", "g.norm2", "g.norm3", "g.norm4", "d.norm1"};
    static const char *heads[NSTAT] = {"mean c0", "std c0", "mean c1", "std c1", "blend", "|grad|"};
    vkn_table t = {"Normalization statistics", NLAYERS, NSTAT, heads, layers, s ? s->stats : NULL, "%.3f", NULL};
    if (s) vkn_ui_table(ui, left, &t);
    else vkn_ui_panel(ui, left, t.title, NULL);

    /* right: status + losses, accuracies, histogram + scatter */
    vkn_rect row1 = vkn_rect_cut_top(&body, body.h * 34 / 100, gap);
    vkn_rect kvr = vkn_rect_cut_right(&row1, 214, gap);
    vkn_ui_chart(ui, row1, &a->losses);
    vkn_kv kv = vkn_ui_kv_begin(ui, kvr, "Run");
    const vkn_series *ld = &a->losses.series[0], *lg = &a->losses.series[1];
    vkn_ui_kv(&kv, 0, "step", "%lld", s ? (long long)s->step : 0LL);
    vkn_ui_kv(&kv, 0, "samples/s", "%.0f", s ? s->samples_per_s : 0.0);
    vkn_ui_kv(&kv, 0, "ms/step", "%.2f", s ? s->ms_per_step : 0.0);
    vkn_ui_kv_separator(&kv);
    vkn_ui_kv(&kv, vkn_palette(0), "loss D", "%.4f", ld->n ? ld->y[ld->n - 1] : 0.f);
    vkn_ui_kv(&kv, vkn_palette(1), "loss G", "%.4f", lg->n ? lg->y[lg->n - 1] : 0.f);
    const vkn_series *at = &a->accs.series[1];
    vkn_ui_kv(&kv, VKN_COL_GOOD, "target acc", "%.1f%%", at->n ? 100.f * at->y[at->n - 1] : 0.f);
    vkn_ui_kv_separator(&kv);
    vkn_ui_kv(&kv, 0, "ui fps", "%.0f", vkn_view_fps(a->view));
    vkn_ui_kv(&kv, VKN_COL_DIM, "device", "synthetic");

    vkn_rect row2 = vkn_rect_cut_top(&body, body.h * 48 / 100, gap);
    vkn_ui_chart(ui, row2, &a->accs);

    vkn_rect hr = vkn_rect_cut_left(&body, (body.w - gap) / 2, gap);
    vkn_bars b = {0};
    b.title = "Predicted classes (%)";
    b.n = NCLASS;
    b.nseries = 1;
    b.values[0] = s ? s->hist : NULL;
    b.labels = class_names;
    b.ref_line = 10.f;
    b.value_fmt = "%.0f";
    vkn_color bc[NCLASS];
    for (int k = 0; k < NCLASS; k++) bc[k] = vkn_palette(k);
    b.bar_colors = bc;
    if (s) vkn_ui_bars(ui, hr, &b);
    else vkn_ui_panel(ui, hr, b.title, NULL);

    static const char *domains[2] = {"source", "target"};
    vkn_scatter sc = {"Features (PCA)", s ? NPTS : 0, s ? s->xy : NULL, s ? s->pt_class : NULL,
                      s ? s->pt_domain : NULL, NCLASS, 2, class_names, domains, 3.5f};
    vkn_ui_scatter(ui, body, &sc);
}

/* an integer in [lo, hi]: strtol's overflow (errno) and trailing text refused */
static bool parse_count(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) return false;
    *out = x;
    return true;
}

static int usage(const char *msg)
{
    if (msg) fprintf(stderr, "vkn-viewer-demo: %s\n", msg);
    fprintf(stderr,
            "usage: vkn-viewer-demo [--headless] [--frames N] [--out DIR] [--screenshot FILE] [--steps N]\n"
            "                       [--size WxH]\n"
            "  --headless         no window: render frames to PNG (automatic without a display)\n"
            "  --frames N         stop after N frames (headless default 8)\n"
            "  --out DIR          headless: write DIR/frame-0000.png ...; window: where S saves (default .)\n"
            "  --screenshot FILE  save the last frame to FILE when --frames ends the run\n"
            "  --steps N          length of the pretend training run (default 3000)\n"
            "  --size WxH         canvas size (default 1280x800)\n"
            "keys: space pause, N step, S save PNG, 0-9 pick class, I interpolate, arrows scrub history,\n"
            "      End live, L log/linear loss axis, Q or Esc quit (Ctrl-C and closing the window too)\n");
    return msg ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (vkn_app_version(argc, argv, "vkn-viewer-demo")) return 0;
    bool headless = false;
    long frames = -1, steps = 3000;
    int width = 1280, height = 800;
    const char *out_dir = NULL, *shot = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return usage(NULL);
        else if (!strcmp(o, "--headless")) headless = true;
        else if (!strcmp(o, "--frames") && v) {
            if (!parse_count(v, 1, 1000000, &frames)) return usage("--frames needs an integer in 1..1000000");
            i++;
        } else if (!strcmp(o, "--steps") && v) {
            if (!parse_count(v, 1, 1000000000, &steps)) return usage("--steps needs an integer in 1..1000000000");
            i++;
        }
        else if (!strcmp(o, "--out") && v) out_dir = v, i++;
        else if (!strcmp(o, "--screenshot") && v) shot = v, i++;
        else if (!strcmp(o, "--size") && v) {
            if (!vkn_cli_size(v, 320, 240, 8192, 8192, &width, &height))
                return usage("--size needs WxH with W in 320..8192, H in 240..8192");
            i++;
        } else {
            char m[256];
            snprintf(m, sizeof m, "unknown option or missing value: %s", o);
            return usage(m);
        }
    }
    if (steps < 1) return usage("--steps must be >= 1");

    app a = {0};
    a.picked = -1;
    a.out_dir = out_dir ? out_dir : ".";
    worker w = {0};
    w.total = steps;
    a.w = &w;
    vkn_view_config cfg = {"vknorm \xc2\xb7 viewer demo", width, height, headless, 0, on_action, &a, false};
    vkn_status st = vkn_view_open(&a.view, &cfg);
    if (st != VKN_OK) {
        fprintf(stderr, "vkn-viewer-demo: %s\n", vkn_status_detail());
        return 1;
    }
    headless = vkn_view_headless(a.view);
    if (headless && frames < 0) frames = 8;
    if (headless && out_dir && mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "vkn-viewer-demo: cannot create %s: %s\n", out_dir, strerror(errno));
        vkn_view_close(a.view);
        return 1;
    }
    vkn_view_bind(a.view, ' ', 0, A_PAUSE, "pause");
    vkn_view_bind(a.view, 'n', 0, A_STEP, "step");
    vkn_view_bind(a.view, 's', 0, A_SAVE, "save PNG");
    for (int k = 0; k < NCLASS; k++) vkn_view_bind(a.view, '0' + k, 0, A_CLASS, "class");
    vkn_view_bind(a.view, 'i', 0, A_INTERP, "interpolate");
    vkn_view_bind(a.view, VKN_KEY_LEFT, 0, A_BACK, "history");
    vkn_view_bind(a.view, VKN_KEY_RIGHT, 0, A_FWD, "history");
    vkn_view_bind(a.view, VKN_KEY_END, 0, A_LIVE, "live");
    vkn_view_bind(a.view, 'l', 0, A_LOG, "log axis");
    vkn_view_bind(a.view, 'q', 0, A_QUIT, "quit");
    vkn_view_bind(a.view, VKN_KEY_ESCAPE, 0, A_QUIT, "quit");

    /* the synthetic "dataset": digits drawn with three faces */
    vkn_ui *ui = vkn_view_ui(a.view);
    vkn_font *faces[3] = {ui->sans, ui->bold, ui->mono};
    char d[2] = {0, 0};
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < NCLASS; k++) {
            d[0] = (char)('0' + k);
            vkn_font_render_gray(faces[f], 24.f, d, w.digits[f][k], IMG, IMG);
        }
    uint64_t rng = 777;
    for (int i = 0; i < GROWS * NCLASS; i++)
        for (int p = 0; p < IMG * IMG; p++) w.noise[i][p] = 0.6f * nrand(&rng) - 0.2f;

    vkn_history_init(&a.hist, 64);
    vkn_chart_init(&a.losses, "Losses", "step");
    vkn_chart_add_series(&a.losses, "D", vkn_palette(0));
    vkn_chart_add_series(&a.losses, "G", vkn_palette(1));
    a.losses.smooth = 25;
    a.losses.log_y = true;
    vkn_chart_init(&a.accs, "Accuracy", "step");
    vkn_chart_add_series(&a.accs, "source", vkn_palette(2));
    vkn_chart_add_series(&a.accs, "target", vkn_palette(4));
    vkn_chart_add_series(&a.accs, "domain", vkn_palette(8));
    vkn_chart_add_series(&a.accs, "\xce\xbb", vkn_palette(7));
    a.accs.fixed_y = true, a.accs.y_min = 0, a.accs.y_max = 1;
    a.accs.smooth = 10;

    if (vkn_mailbox_create(&w.mb, sizeof(snapshot)) != VKN_OK || vkn_queue_create(&w.metrics, sizeof(metric_row), 8192) != VKN_OK ||
        vkn_queue_create(&w.cmds, sizeof(command), 64) != VKN_OK) {
        fprintf(stderr, "vkn-viewer-demo: %s\n", vkn_status_detail());
        return 1;
    }
    /* windowed: a pretend step of 4 ms, a snapshot every 10 steps; headless: frames advance faster */
    w.step_ms = headless ? 0.5 : 4.0;
    w.post_every = headless ? 50 : 10;
    pthread_t th;
    pthread_create(&th, NULL, worker_main, &w);

    vkn_progress prog;
    vkn_progress_init(&prog, "demo", steps, NULL);
    const snapshot *s = NULL;
    int64_t last_hist_step = -1000000, frame = 0;
    int rc = 0;
    while (vkn_view_poll(a.view)) {
        if (headless) vkn_mailbox_wait(w.mb, 2000); /* one frame per snapshot */
        bool fresh;
        s = vkn_mailbox_take(w.mb, &fresh);
        if (fresh && s && s->step - last_hist_step >= 100) { /* every 100 steps into the history */
            vkn_grid g = {&s->samples[0][0], GROWS * NCLASS, 1, IMG, IMG, GROWS, NCLASS, NULL, NULL, NULL, NULL, -1};
            vkn_history_push(&a.hist, s->step, &g);
            last_hist_step = s->step;
        }
        metric_row m;
        while (vkn_queue_pop(w.metrics, &m, 0)) {
            vkn_chart_push(&a.losses, 0, (float)m.step, m.loss_d);
            vkn_chart_push(&a.losses, 1, (float)m.step, m.loss_g);
            vkn_chart_push(&a.accs, 0, (float)m.step, m.acc_src);
            vkn_chart_push(&a.accs, 1, (float)m.step, m.acc_tgt);
            vkn_chart_push(&a.accs, 2, (float)m.step, m.acc_dom);
            vkn_chart_push(&a.accs, 3, (float)m.step, m.lambda);
        }
        draw(&a, s);
        if (headless) {
            const vkn_series *ld = &a.losses.series[0], *lg = &a.losses.series[1];
            vkn_progress_update(&prog, s ? s->step : 0, s ? s->ms_per_step : 0, "D %.3f G %.3f",
                                ld->n ? ld->y[ld->n - 1] : 0.f, lg->n ? lg->y[lg->n - 1] : 0.f);
            if (out_dir) {
                char path[4096];
                snprintf(path, sizeof path, "%s/frame-%04lld.png", out_dir, (long long)frame);
                if (vkn_view_screenshot(a.view, path) != VKN_OK) {
                    vkn_progress_log(&prog, "vkn-viewer-demo: %s", vkn_status_detail());
                    rc = 1;
                    break;
                }
            }
        }
        if (a.want_save) {
            char path[4096];
            snprintf(path, sizeof path, "%s/vkn-viewer-demo-%lld.png", a.out_dir, s ? (long long)s->step : 0LL);
            if (vkn_view_screenshot(a.view, path) == VKN_OK) {
                char msg[200];
                snprintf(msg, sizeof msg, "saved %.180s", path);
                toast(&a, msg);
            } else toast(&a, vkn_status_detail());
            a.want_save = false;
        }
        vkn_view_present(a.view);
        frame++;
        if (frames >= 0 && frame >= frames) break;
        if (headless && w.done && !vkn_mailbox_wait(w.mb, 0)) break;
    }
    if (shot) {
        st = vkn_view_screenshot(a.view, shot);
        if (st != VKN_OK) {
            fprintf(stderr, "vkn-viewer-demo: %s\n", vkn_status_detail());
            rc = 1;
        }
    }
    command q = {CMD_QUIT};
    vkn_queue_push(w.cmds, &q);
    pthread_join(th, NULL);
    if (headless) {
        vkn_progress_finish(&prog, s ? s->step : 0, "%lld frames%s%s", (long long)frame, out_dir ? " in " : "",
                            out_dir ? out_dir : "");
    }
    if (vkn_view_quit_requested(a.view)) fprintf(stderr, "vkn-viewer-demo: quit requested, stopped cleanly\n");
    vkn_chart_free(&a.losses);
    vkn_chart_free(&a.accs);
    vkn_history_free(&a.hist);
    vkn_queue_destroy(w.metrics);
    vkn_queue_destroy(w.cmds);
    vkn_mailbox_destroy(w.mb);
    vkn_view_close(a.view);
    return rc;
}
