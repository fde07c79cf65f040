/* vkn-cgan's worker thread: the training run.
 *
 * data (Fashion-MNIST or MNIST, shuffled batches written straight into the model's mapped input)
 * -> vkn_cgan_step, for one run or, in compare mode, two runs that see the same batches and differ
 * only in the generator's normalization. Every N steps: an atomic checkpoint (only after a finite
 * step, so a divergence keeps the last good one), a PNG grid, the built-in metrics. Metric rows and
 * messages go to the UI (or the headless progress line) through queues; in window mode a snapshot
 * (sample grids, interpolation, metrics, the generator's normalization statistics) is posted twice a
 * second, or less often when a post would cost more than ~5% of the training time (train_loop). The
 * thread owns every Vulkan object. */
#include "cgan_app.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct cg_run {
    vkn_cgan *m;
    int log_failures, png_failures;  /* side outputs not written (each kind reported once) */
    vkn_cgan_config cfg;
    char dir[1100], ckpt[1200], norm[16];
    vkn_io_metrics *tlog, *elog;
    vkn_cgan_stats st;
    bool has_eval, diverged;
    cg_eval eval;
    int64_t eval_step;
} cg_run;

struct cg_worker {
    cg_options o;
    bool window;
    pthread_t th;
    vkn_mailbox *mb;
    vkn_queue *rows, *msgs, *cmds;
    atomic_bool stop, done;
    cg_result res;

    vkn_context *ctx;
    vkn_dataset train, test;
    vkn_data_loader *ld;
    cg_clf *clf;
    cg_gauss *real;
    cg_run run[CG_MAXRUNS];
    int nruns;
    const char *const *names;
    float *zgrid, *zeval, *img, *img_eval, *tgrid;
    int32_t ygrid[CG_GRID], *yeval, ia[CG_GRID], ib[CG_GRID];
    vkn_canvas canvas;
    vkn_ui ui;
    bool ui_ok, paused, interp;
    int interp_a, interp_b;
    int64_t step;
    double ms_step, t_start;
    char status[160];
};

static void msg(cg_worker *w, const char *fmt, ...)
{
    cg_msg m;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.text, sizeof m.text, fmt, ap);
    va_end(ap);
    vkn_queue_push(w->msgs, &m);
}

static void set_status(cg_worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->status, sizeof w->status, fmt, ap);
    va_end(ap);
}

/* splitmix64 + Box-Muller: the fixed noise of the grids and of the evaluations */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static float gauss(uint64_t *s)
{
    double u = ((mix(s) >> 11) + 0.5) / 9007199254740992.0, v = (mix(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static vkn_status mkdirs(const char *path)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char keep = *p;
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return vkn_status_set(VKN_ERR_IO, "cannot create the run folder %s: %s", tmp, strerror(errno));
            *p = keep;
            if (!keep) break;
        }
    }
    return VKN_OK;
}

/* The files vkn-cgan writes in a run folder (DIR, or DIR/g-NORM in compare mode). */
static const char *const cg_ckpt_files[] = {"ckpt.safetensors", "g-*/ckpt.safetensors", NULL};
static const char *const cg_log_files[] = {"train.csv", "train.jsonl", "metrics.csv", "metrics.jsonl", "g-*/train.csv",
                                           "g-*/train.jsonl", "g-*/metrics.csv", "g-*/metrics.jsonl", NULL};
static const char *const cg_all_files[] = {"train.csv", "train.jsonl", "metrics.csv", "metrics.jsonl", "grid-final.png",
                                           "grid-[0-9]*.png", "grid-saved-*.png", "run.json", "g-*/train.csv",
                                           "g-*/train.jsonl", "g-*/metrics.csv", "g-*/metrics.jsonl",
                                           "g-*/grid-final.png", "g-*/grid-[0-9]*.png", "g-*/grid-saved-*.png", NULL};
static const char *const cg_train_cols[] = {"step", "loss_d", "loss_g", "d_real", "d_fake", "ms_step"};

vkn_run_folder cg_run_folder(const cg_options *o, const char *dir)
{
    (void)o;
    return (vkn_run_folder){"vkn-cgan", dir, cg_ckpt_files, cg_all_files, cg_log_files};
}

/* A side output (a PNG grid, a log row) that failed: reported the first time, counted, never fatal:
 * the run goes on and its checkpoints are written. */
static void side_failed(cg_worker *w, int *kind, const char *what)
{
    if (!w->res.side_failures++) snprintf(w->res.side_first, sizeof w->res.side_first, "%s", what);
    if (!(*kind)++) msg(w, "warning: %s; training goes on (later failures of this output are counted in the summary)", what);
}

/* ---- posting a snapshot (window mode) ---- */

static void norm_panel(cg_run *r, cg_run_snap *rs)
{
    rs->ndiag = 0;
    for (int l = 0; l < 2; l++) {
        rs->nslots[l] = 0;
        memset(&rs->diag[l], 0, sizeof rs->diag[l]);
        vkn_norm *nm = vkn_cgan_norm(r->m, l);
        if (!nm) continue;
        rs->ndiag = l + 1;
        if (vkn_norm_diagnostics(nm, &rs->diag[l]) != VKN_OK) memset(&rs->diag[l], 0, sizeof rs->diag[l]);
        vkn_norm_slot slots[VKN_NORM_MAX_SLOTS];
        int ns = 0;
        if (vkn_norm_slots(vkn_norm_options(nm), slots, &ns) != VKN_OK) continue;
        size_t total = vkn_norm_state_floats(nm);
        float *all = malloc(total * sizeof *all);
        if (!all || vkn_norm_save(nm, all) != VKN_OK) {
            free(all);
            continue;
        }
        size_t off = 0;
        for (int i = 0; i < ns; i++) {
            const float *v = all + off;
            off += (size_t)slots[i].count;
            if (rs->nslots[l] >= CG_SLOT_ROWS) continue;
            double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
            for (int k = 0; k < slots[i].count; k++) {
                s += v[k], s2 += (double)v[k] * v[k];
                lo = v[k] < lo ? v[k] : lo;
                hi = v[k] > hi ? v[k] : hi;
            }
            int n = slots[i].count > 0 ? slots[i].count : 1;
            double mean = s / n, var = s2 / n - mean * mean;
            int j = rs->nslots[l]++;
            snprintf(rs->slot_name[l][j], sizeof rs->slot_name[l][j], "%s", slots[i].name);
            float *st = rs->slot_stat[l][j];
            st[0] = (float)mean, st[1] = (float)sqrt(var > 0 ? var : 0), st[2] = (float)lo, st[3] = (float)hi;
        }
        free(all);
    }
}

static vkn_status make_interp(cg_worker *w, cg_run *r, float *out)
{
    float t[CG_GRID];
    for (int i = 0; i < CG_GRID; i++) {
        w->ia[i] = w->interp_a, w->ib[i] = w->interp_b;
        t[i] = (float)(i % CG_CLASSES) / (CG_CLASSES - 1);
    }
    return vkn_cgan_interpolate(r->m, w->zgrid, w->ia, w->ib, t, out);
}

static vkn_status post(cg_worker *w, int phase)
{
    if (!w->window) return VKN_OK;
    cg_snap *s = vkn_mailbox_back(w->mb);
    s->step = w->step;
    s->total = w->o.steps;
    s->phase = phase;
    s->paused = w->paused;
    s->ms_step = w->ms_step;
    s->samples_s = w->ms_step > 0 ? 1000.0 * w->o.batch * w->nruns / w->ms_step : 0;
    snprintf(s->status, sizeof s->status, "%s", w->status);
    s->nruns = w->nruns;
    for (int i = 0; i < w->nruns; i++) {
        cg_run *r = &w->run[i];
        cg_run_snap *rs = &s->run[i];
        snprintf(rs->norm, sizeof rs->norm, "%s", r->norm);
        rs->has_eval = r->has_eval;
        rs->eval = r->eval;
        rs->diverged = r->diverged;
        rs->interp = false;
        if (!r->m) {
            memset(rs->grid, 0, sizeof rs->grid);
            rs->ndiag = 0;
            continue;
        }
        VKN_TRY(vkn_cgan_generate(r->m, w->zgrid, w->ygrid, rs->grid));
        if (w->interp) {
            VKN_TRY(make_interp(w, r, rs->interp_img));
            rs->interp = true;
            rs->interp_a = w->interp_a, rs->interp_b = w->interp_b;
        }
        norm_panel(r, rs);
    }
    vkn_mailbox_post(w->mb);
    return VKN_OK;
}

/* ---- files ---- */

/* A PNG grid. A device error is the run's error; a file that cannot be written is a side failure
 * (*written false). */
static vkn_status write_grid(cg_worker *w, cg_run *r, const char *file, bool *written)
{
    if (written) *written = false;
    if (!w->ui_ok) return VKN_OK;
    char path[1400], title[200];
    VKN_TRY(vkn_cgan_generate(r->m, w->zgrid, w->ygrid, w->img));
    snprintf(path, sizeof path, "%s/%s", r->dir, file);
    snprintf(title, sizeof title, "%s \xc2\xb7 %s \xc2\xb7 G %s, D %s \xc2\xb7 step %lld", vkn_cgan_name(&r->cfg),
             w->o.data, r->norm, vkn_norm_kind_name(w->o.norm_d), (long long)w->step);
    if (cg_grid_png(&w->ui, w->img, w->names, title, path) != VKN_OK) side_failed(w, &r->png_failures, vkn_status_detail());
    else if (written) *written = true;
    return VKN_OK;
}

static vkn_status checkpoint(cg_worker *w)
{
    /* the run's options travel with every checkpoint: --resume takes them from there */
    vkn_run_meta meta;
    vkn_run_meta_fill(&meta, &w->o.opts);
    for (int i = 0; i < w->nruns; i++)
        if (!w->run[i].diverged) VKN_TRY(vkn_cgan_save_meta(w->run[i].m, w->run[i].ckpt, w->step, meta.kv));
    return VKN_OK;
}

static vkn_status evaluate(cg_worker *w)
{
    int n = w->o.eval_samples;
    for (int i = 0; i < w->nruns; i++) {
        cg_run *r = &w->run[i];
        if (r->diverged) continue;
        for (int b = 0; b < n; b += CG_GRID)
            VKN_TRY(vkn_cgan_generate(r->m, w->zeval + (size_t)b * r->cfg.zdim, w->yeval + b, w->img_eval + (size_t)b * CG_PIX));
        VKN_TRY(cg_eval_images(w->clf, w->img_eval, w->yeval, n, w->real, &r->eval));
        r->eval.step = w->step;
        r->has_eval = true;
        r->eval_step = w->step;
        cg_row row = {.kind = CG_ROW_EVAL, .run = i, .step = w->step, .eval = r->eval};
        vkn_queue_push(w->rows, &row);
        vkn_io_metric kv[3 + 2 * CG_CLASSES + 1];
        char keys[2 * CG_CLASSES][16];
        int k = 0;
        kv[k++] = (vkn_io_metric){"step", (double)w->step};
        kv[k++] = (vkn_io_metric){"cond_acc", r->eval.acc};
        kv[k++] = (vkn_io_metric){"frechet", r->eval.fd};
        kv[k++] = (vkn_io_metric){"max_share", r->eval.max_share};
        for (int c = 0; c < CG_CLASSES; c++) {
            snprintf(keys[c], sizeof keys[c], "acc_%d", c);
            kv[k++] = (vkn_io_metric){keys[c], r->eval.acc_class[c]};
        }
        for (int c = 0; c < CG_CLASSES; c++) {
            snprintf(keys[CG_CLASSES + c], sizeof keys[0], "share_%d", c);
            kv[k++] = (vkn_io_metric){keys[CG_CLASSES + c], r->eval.share[c]};
        }
        if (vkn_io_metrics_write(r->elog, kv, k) != VKN_OK) side_failed(w, &r->log_failures, vkn_status_detail());
        if (r->eval.max_share > 0.3f && w->step >= 500) {
            int top = 0;
            for (int c = 1; c < CG_CLASSES; c++) top = r->eval.share[c] > r->eval.share[top] ? c : top;
            msg(w, "G %s: mode-collapse alarm at step %lld: %.0f%% of the samples are classified as %s", r->norm,
                (long long)w->step, 100.0 * r->eval.max_share, w->names[top]);
        }
    }
    return VKN_OK;
}

/* ---- setup ---- */

static void clf_progress(void *user, int step, float loss)
{
    cg_worker *w = user;
    set_status(w, "training the metrics classifier (first run only): step %d / %d, loss %.3f", step, w->o.clf_steps, loss);
    if (step % 100 == 0 || step == w->o.clf_steps) msg(w, "classifier: step %d / %d, loss %.3f", step, w->o.clf_steps, loss);
    post(w, CG_PHASE_CLASSIFIER);
}

static vkn_status load_data(cg_worker *w)
{
    vkn_status s;
    if (!strcmp(w->o.data, "mnist")) {
        s = vkn_data_mnist_load(&w->train, NULL, VKN_SPLIT_TRAIN);
        if (s == VKN_OK) s = vkn_data_mnist_load(&w->test, NULL, VKN_SPLIT_TEST);
    } else {
        s = vkn_data_fashion_load(&w->train, NULL, VKN_SPLIT_TRAIN);
        if (s == VKN_OK) s = vkn_data_fashion_load(&w->test, NULL, VKN_SPLIT_TEST);
    }
    return s;
}

static vkn_status setup_metrics(cg_worker *w)
{
    char path[1400];
    cg_clf_cache_path(w->o.data, w->o.clf_steps, path, sizeof path);
    VKN_TRY(cg_clf_create(w->ctx, 7, 64, &w->clf));
    bool loaded = false;
    if (access(path, F_OK) == 0) {
        loaded = cg_clf_load(w->clf, path) == VKN_OK;
        /* a damaged cache (checksum, NaN, shapes) is a notice, and rebuilt */
        if (!loaded) msg(w, "note: the classifier cache is unusable, rebuilding it: %s", vkn_status_detail());
    }
    if (!loaded) {
        set_status(w, "training the metrics classifier (first run only)");
        msg(w, "training the metrics classifier on %s (%d steps, first run only; cached in %s)", w->train.name,
            w->o.clf_steps, path);
        post(w, CG_PHASE_CLASSIFIER);
        double t0 = vkn_now();
        VKN_TRY(cg_clf_train(w->clf, &w->train, w->o.clf_steps, 7, &w->stop, clf_progress, w));
        if (atomic_load(&w->stop)) return VKN_OK;
        vkn_status s = cg_clf_save(w->clf, path, w->o.clf_steps);
        if (s != VKN_OK) msg(w, "note: the classifier cache was not written (%s)", vkn_status_detail());
        msg(w, "classifier trained in %.0f s", vkn_now() - t0);
    }
    /* the real reference: features of the first real_samples test images */
    int n = w->o.real_samples < w->test.n ? w->o.real_samples : w->test.n / 100 * 100;
    float *x = malloc((size_t)n * CG_PIX * sizeof *x), *feat = malloc((size_t)n * CG_FEAT * sizeof *feat);
    int32_t *y = malloc((size_t)n * sizeof *y), *pred = malloc((size_t)n * sizeof *pred);
    w->real = malloc(sizeof *w->real);
    vkn_status s = x && feat && y && pred && w->real ? VKN_OK : vkn_status_set(VKN_ERR_HOST_OOM, "metrics");
    vkn_data_loader *ld = NULL;
    vkn_loader_opts lo = {.batch = n, .mode = VKN_BATCH_SEQUENTIAL, .seed = 1, .channels = 1};
    if (s == VKN_OK) s = vkn_data_loader_create(&ld, &w->test, &lo);
    if (s == VKN_OK) s = vkn_data_batch_fill(ld, x, y, NULL);
    if (s == VKN_OK) s = cg_clf_classify(w->clf, x, n, pred, feat);
    if (s == VKN_OK) {
        int right = 0;
        for (int i = 0; i < n; i++) right += pred[i] == y[i];
        w->res.clf_acc = (float)right / n;
        cg_gauss_fit(w->real, feat, n, CG_FEAT);
        msg(w, "metrics classifier: %.1f%% accuracy on %d real %s images", 100.0 * w->res.clf_acc, n, w->test.name);
    }
    vkn_data_loader_destroy(ld);
    free(x), free(feat), free(y), free(pred);
    return s;
}

static vkn_status setup_runs(cg_worker *w, int64_t *start)
{
    const cg_options *o = &w->o;
    *start = 0;
    vkn_loader_opts lo = {.batch = o->batch, .mode = o->batch % CG_CLASSES == 0 ? VKN_BATCH_BALANCED : VKN_BATCH_SHUFFLE,
                          .seed = o->seed, .channels = 1};
    VKN_TRY(vkn_data_loader_create(&w->ld, &w->train, &lo));
    for (int i = 0; i < w->nruns; i++) {
        cg_run *r = &w->run[i];
        vkn_cgan_config c = vkn_cgan_defaults();
        c.base = o->base;
        c.batch = o->batch;
        c.norm_g = o->run_norm_g[i];
        c.norm_d = o->norm_d;
        c.loss = o->loss;
        c.lr_g = o->lr_g, c.lr_d = o->lr_d;
        c.samples = CG_GRID;
        c.seed = o->seed;
        r->cfg = c;
        snprintf(r->norm, sizeof r->norm, "%s", vkn_norm_kind_name(c.norm_g));
        if (w->nruns > 1) snprintf(r->dir, sizeof r->dir, "%s/g-%s", o->out, r->norm);
        else snprintf(r->dir, sizeof r->dir, "%s", o->out);
        snprintf(r->ckpt, sizeof r->ckpt, "%s/ckpt.safetensors", r->dir);
        snprintf(w->res.dir[i], sizeof w->res.dir[i], "%s", r->dir);
        VKN_TRY(mkdirs(r->dir));
        set_status(w, "building %s with G %s (compiling the step graphs)", vkn_cgan_name(&c), r->norm);
        post(w, CG_PHASE_START);
        vkn_status s = vkn_cgan_create(w->ctx, &c, &r->m);
        if (s != VKN_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", vkn_status_detail());
            return vkn_status_set(s, "creating %s with G %s, D %s: %s", vkn_cgan_name(&c), r->norm,
                                  vkn_norm_kind_name(c.norm_d), why);
        }
        if (o->resume) {
            int64_t step = 0;
            if (access(r->ckpt, R_OK) != 0)
                return vkn_status_set(VKN_ERR_IO, "--resume: no checkpoint %s (start without --resume, or give the "
                                      "run's --out folder)", r->ckpt);
            VKN_TRY(vkn_cgan_load(r->m, r->ckpt, &step));
            if (step > o->steps)   /* the batches up to it are replayed below: refuse a step the run never reached */
                return vkn_status_set(VKN_ERR_FORMAT, "--resume: checkpoint %s is at step %lld, past the run's --steps "
                                      "%lld (a damaged checkpoint, or give --steps %lld or more)", r->ckpt, (long long)step,
                                      (long long)o->steps, (long long)step);
            if (i > 0 && step != *start)
                return vkn_status_set(VKN_ERR_FORMAT, "--resume: the compared runs' checkpoints are at different steps "
                                      "(%lld, %lld)", (long long)*start, (long long)step);
            *start = step;
        }
        if (o->resume) {
            /* the logs end at the checkpoint: rows of steps after it are trained again. Train rows count
             * steps done (1..step); the metrics row of the checkpoint's step is written again by the
             * evaluation at the start of the resumed run. */
            static const char *const ev_keys[] = {"step", "cond_acc", "frechet", "max_share", "acc_0", "acc_1", "acc_2",
                                                  "acc_3", "acc_4", "acc_5", "acc_6", "acc_7", "acc_8", "acc_9",
                                                  "share_0", "share_1", "share_2", "share_3", "share_4", "share_5",
                                                  "share_6", "share_7", "share_8", "share_9"};
            int dropped = 0;
            VKN_TRY(vkn_run_log_cut(r->dir, "train", cg_train_cols, 6, *start + 1, &dropped));
            if (dropped) msg(w, "%s/train.csv: %d row(s) after the checkpoint's step %lld removed (they are trained again)",
                             r->dir, dropped, (long long)*start);
            VKN_TRY(vkn_run_log_cut(r->dir, "metrics", ev_keys, 24, *start, NULL));
        }
        VKN_TRY(vkn_io_metrics_open(r->dir, "train", o->resume, &r->tlog));
        VKN_TRY(vkn_io_metrics_open(r->dir, "metrics", o->resume, &r->elog));
    }
    VKN_TRY(vkn_run_json_write(o->out, "vkn-cgan", o->commit, vkn_context_describe(w->ctx), &o->opts, o->resume, *start,
                               o->changes, o->nchanges));
    /* the same batches as the uninterrupted run: skip the ones already trained on */
    if (*start > 0) {
        float *x = malloc((size_t)o->batch * CG_PIX * sizeof *x);
        int32_t *y = malloc((size_t)o->batch * sizeof *y);
        vkn_status s = x && y ? VKN_OK : vkn_status_set(VKN_ERR_HOST_OOM, "resume");
        for (int64_t k = 0; k < *start && s == VKN_OK; k++) s = vkn_data_batch_fill(w->ld, x, y, NULL);
        free(x), free(y);
        VKN_TRY(s);
        msg(w, "resumed from %s at step %lld", w->run[0].ckpt, (long long)*start);
    }
    return VKN_OK;
}

static vkn_status alloc_buffers(cg_worker *w)
{
    const int zdim = vkn_cgan_defaults().zdim, ne = w->o.eval_samples;
    w->zgrid = malloc(sizeof(float) * CG_GRID * zdim);
    w->zeval = malloc(sizeof(float) * ne * zdim);
    w->yeval = malloc(sizeof(int32_t) * ne);
    w->img = malloc(sizeof(float) * CG_GRID * CG_PIX);
    w->img_eval = malloc(sizeof(float) * ne * CG_PIX);
    if (!w->zgrid || !w->zeval || !w->yeval || !w->img || !w->img_eval) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan");
    /* grid: row r = one noise vector for all ten classes */
    uint64_t rng = w->o.seed * 0x2545f4914f6cdd1dULL + 17;
    for (int r = 0; r < CG_ROWS; r++) {
        float z[256];
        for (int d = 0; d < zdim; d++) z[d] = gauss(&rng);
        for (int k = 0; k < CG_CLASSES; k++) {
            memcpy(w->zgrid + (size_t)(r * CG_CLASSES + k) * zdim, z, sizeof(float) * zdim);
            w->ygrid[r * CG_CLASSES + k] = k;
        }
    }
    /* evaluation: balanced classes, fixed noise (the same at every evaluation and in every run) */
    uint64_t erng = 0x5eed0e7a1ULL;
    for (int i = 0; i < ne; i++) {
        w->yeval[i] = i % CG_CLASSES;
        for (int d = 0; d < zdim; d++) w->zeval[(size_t)i * zdim + d] = gauss(&erng);
    }
    return VKN_OK;
}

/* ---- the loop ---- */

static void log_train(cg_worker *w, int i, float ms)
{
    cg_run *r = &w->run[i];
    cg_row row = {.kind = CG_ROW_TRAIN, .run = i, .step = w->step, .loss_d = r->st.loss_d, .loss_g = r->st.loss_g,
                  .d_real = r->st.d_real, .d_fake = r->st.d_fake, .ms_step = ms};
    vkn_queue_push(w->rows, &row);
    vkn_io_metric kv[] = {{"step", (double)w->step}, {"loss_d", r->st.loss_d}, {"loss_g", r->st.loss_g},
                          {"d_real", r->st.d_real}, {"d_fake", r->st.d_fake}, {"ms_step", ms}};
    if (vkn_io_metrics_write(r->tlog, kv, 6) != VKN_OK) side_failed(w, &r->log_failures, vkn_status_detail());
}

static vkn_status handle(cg_worker *w, const cg_cmd *c, bool *one, bool *quit)
{
    switch (c->cmd) {
    case CG_CMD_PAUSE: w->paused = true; break;
    case CG_CMD_RESUME: w->paused = false; break;
    case CG_CMD_STEP: *one = true; break;
    case CG_CMD_QUIT: *quit = true; break;
    case CG_CMD_INTERP:
        w->interp = c->a >= 0;
        w->interp_a = c->a, w->interp_b = c->b;
        break;
    case CG_CMD_SAVE:
        for (int i = 0; i < w->nruns; i++) {
            char file[64];
            snprintf(file, sizeof file, "grid-saved-%06lld.png", (long long)w->step);
            if (!w->run[i].m) continue;
            bool ok;
            VKN_TRY(write_grid(w, &w->run[i], file, &ok));
            if (ok) msg(w, "saved %s/%s", w->run[i].dir, file);
        }
        break;
    }
    return VKN_OK;
}

static vkn_status train_loop(cg_worker *w, int64_t start)
{
    const cg_options *o = &w->o;
    w->step = start;
    /* Snapshots for the window: at most 0.5 s of training apart (every step when steps are slower),
     * but a post (the sampling graph on the grid's noise, the norm statistics: host waits) may cost
     * at most ~5% of the training time, so when a post is slow relative to the steps (lavapipe) they
     * are spaced to 21x the measured cost of one. Pauses, single steps and evaluations post at once. */
    double last_post = 0, post_s = 0;
    bool evaluated_final = false;
    int64_t last_ckpt = start;
    VKN_TRY(evaluate(w)); /* where the run starts (step 0: the untrained baseline) */
    set_status(w, "training");
    VKN_TRY(post(w, CG_PHASE_TRAIN));
    while (w->step < o->steps) {
        bool one = false, quit = false, repost = false;
        cg_cmd c;
        while (vkn_queue_pop(w->cmds, &c, w->paused && !one && !repost ? 250 : 0)) {
            VKN_TRY(handle(w, &c, &one, &quit));
            repost = true;
            if (one || quit) break;
        }
        if (quit || atomic_load(&w->stop)) break;
        if (w->paused && !one) {
            set_status(w, "paused");
            if (repost) VKN_TRY(post(w, CG_PHASE_TRAIN));
            continue;
        }
        double t0 = vkn_now();
        VKN_TRY(vkn_data_batch_fill(w->ld, vkn_cgan_real_images(w->run[0].m), vkn_cgan_real_labels(w->run[0].m), NULL));
        for (int i = 1; i < w->nruns; i++) {
            memcpy(vkn_cgan_real_images(w->run[i].m), vkn_cgan_real_images(w->run[0].m), sizeof(float) * o->batch * CG_PIX);
            memcpy(vkn_cgan_real_labels(w->run[i].m), vkn_cgan_real_labels(w->run[0].m), sizeof(int32_t) * o->batch);
        }
        for (int i = 0; i < w->nruns; i++) {
            cg_run *r = &w->run[i];
            if (r->diverged) continue;
            vkn_status s = vkn_cgan_step(r->m, w->step, &r->st);
            if (s == VKN_ERR_NOT_FINITE) {
                char why[512], ck[1300];
                snprintf(why, sizeof why, "%s", vkn_status_detail());
                r->diverged = true;
                if (o->resume || last_ckpt > start)
                    snprintf(ck, sizeof ck, "the last good checkpoint is %s (step %lld)", r->ckpt, (long long)last_ckpt);
                else snprintf(ck, sizeof ck, "no checkpoint was written before it");
                return vkn_status_set(s, "G %s: %s; %s", r->norm, why, ck);
            }
            VKN_TRY(s);
        }
        double ms = (vkn_now() - t0) * 1000.0;
        w->ms_step = w->ms_step > 0 && w->step > start + 1 ? 0.9 * w->ms_step + 0.1 * ms : ms;
        w->step++;
        for (int i = 0; i < w->nruns; i++) log_train(w, i, (float)ms);
        bool evaluated = false;
        if (o->ckpt_every > 0 && w->step % o->ckpt_every == 0) {
            VKN_TRY(checkpoint(w));
            last_ckpt = w->step;
        }
        if (o->grid_every > 0 && w->step % o->grid_every == 0) {
            char file[64];
            snprintf(file, sizeof file, "grid-%06lld.png", (long long)w->step);
            for (int i = 0; i < w->nruns; i++) VKN_TRY(write_grid(w, &w->run[i], file, NULL));
        }
        if ((o->eval_every > 0 && w->step % o->eval_every == 0) || w->step == o->steps) {
            VKN_TRY(evaluate(w));
            evaluated = true;
            evaluated_final = w->step == o->steps;
        }
        set_status(w, w->paused ? "paused" : "training");
        double since = vkn_now() - last_post;
        if (w->window && ((since >= 0.5 && since >= 21.0 * post_s) || one || evaluated || repost)) {
            double p0 = vkn_now();
            VKN_TRY(post(w, CG_PHASE_TRAIN));
            last_post = vkn_now();
            post_s = post_s > 0 ? 0.7 * post_s + 0.3 * (last_post - p0) : last_post - p0;
        }
    }
    /* the end (or a quit): checkpoint, final grid, final metrics */
    if (w->step != last_ckpt || start == w->step) VKN_TRY(checkpoint(w));
    for (int i = 0; i < w->nruns; i++) VKN_TRY(write_grid(w, &w->run[i], "grid-final.png", NULL));
    if (!evaluated_final && w->step == o->steps && w->run[0].eval_step != w->step) VKN_TRY(evaluate(w));
    return VKN_OK;
}

static vkn_status run_all(cg_worker *w)
{
    set_status(w, "starting the device");
    VKN_TRY(vkn_context_create(NULL, &w->ctx));
    set_status(w, "loading %s", w->o.data);
    VKN_TRY(load_data(w));
    msg(w, "data: %s (%d images), %s (%d images)", w->train.name, w->train.n, w->test.name, w->test.n);
    VKN_TRY(alloc_buffers(w));
    if (vkn_canvas_init(&w->canvas, 700, 716) == VKN_OK && vkn_ui_init(&w->ui, &w->canvas) == VKN_OK) w->ui_ok = true;
    else msg(w, "note: no PNG grids (%s)", vkn_status_detail());
    VKN_TRY(setup_metrics(w));
    if (atomic_load(&w->stop)) return VKN_OK;
    int64_t start;
    VKN_TRY(setup_runs(w, &start));
    if (start >= w->o.steps) msg(w, "the checkpoint is already at step %lld (>= --steps %lld): nothing to train",
                                 (long long)start, (long long)w->o.steps);
    w->t_start = vkn_now();
    return train_loop(w, start);
}

static void *worker_main(void *arg)
{
    cg_worker *w = arg;
    double t0 = vkn_now();
    vkn_status s = run_all(w);
    w->res.seconds = vkn_now() - t0;
    w->res.step = w->step;
    w->res.ms_step = w->ms_step;
    if (s != VKN_OK) {
        w->res.rc = 1;
        snprintf(w->res.error, sizeof w->res.error, "%s", *vkn_status_detail() ? vkn_status_detail() : vkn_status_string(s));
        set_status(w, "stopped: %.150s", w->res.error);
    } else set_status(w, atomic_load(&w->stop) ? "stopped (checkpoint saved)" : "done");
    for (int i = 0; i < w->nruns; i++) {
        w->res.has_eval[i] = w->run[i].has_eval;
        w->res.eval[i] = w->run[i].eval;
    }
    if (w->window) {
        bool keep = w->interp;
        if (post(w, CG_PHASE_DONE) != VKN_OK) {
            w->interp = false;
            post(w, CG_PHASE_DONE);
        }
        w->interp = keep;
    }
    for (int i = 0; i < w->nruns; i++) {
        vkn_io_metrics_close(w->run[i].tlog);
        vkn_io_metrics_close(w->run[i].elog);
        vkn_cgan_destroy(w->run[i].m);
        w->run[i].m = NULL;
    }
    atomic_store(&w->done, true);
    vkn_queue_close(w->rows);
    return NULL;
}

vkn_status cg_worker_start(const cg_options *o, bool window, cg_worker **out)
{
    cg_worker *w = calloc(1, sizeof *w);
    if (!w) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan");
    w->o = *o;
    w->window = window;
    w->nruns = o->nruns;
    w->names = cg_class_names(o->data);
    atomic_init(&w->stop, false);
    atomic_init(&w->done, false);
    vkn_status s = vkn_mailbox_create(&w->mb, sizeof(cg_snap));
    if (s == VKN_OK) s = vkn_queue_create(&w->rows, sizeof(cg_row), 1 << 15);
    if (s == VKN_OK) s = vkn_queue_create(&w->msgs, sizeof(cg_msg), 256);
    if (s == VKN_OK) s = vkn_queue_create(&w->cmds, sizeof(cg_cmd), 256);
    if (s == VKN_OK && pthread_create(&w->th, NULL, worker_main, w) != 0)
        s = vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan: cannot start the training thread");
    if (s != VKN_OK) {
        vkn_mailbox_destroy(w->mb);
        vkn_queue_destroy(w->rows);
        vkn_queue_destroy(w->msgs);
        vkn_queue_destroy(w->cmds);
        free(w);
        return s;
    }
    *out = w;
    return VKN_OK;
}

vkn_mailbox *cg_worker_mailbox(cg_worker *w) { return w->mb; }
vkn_queue *cg_worker_rows(cg_worker *w) { return w->rows; }
vkn_queue *cg_worker_msgs(cg_worker *w) { return w->msgs; }
bool cg_worker_done(cg_worker *w) { return atomic_load(&w->done); }

void cg_worker_command(cg_worker *w, int cmd, int a, int b)
{
    cg_cmd c = {cmd, a, b};
    vkn_queue_push(w->cmds, &c);
}

void cg_worker_stop(cg_worker *w)
{
    atomic_store(&w->stop, true);
    cg_worker_command(w, CG_CMD_QUIT, 0, 0);
}

void cg_worker_finish(cg_worker *w, cg_result *res)
{
    pthread_join(w->th, NULL);
    *res = w->res;
    vkn_data_loader_destroy(w->ld);
    cg_clf_destroy(w->clf);
    if (w->ui_ok) vkn_ui_free(&w->ui);
    vkn_canvas_free(&w->canvas);
    vkn_data_free(&w->train);
    vkn_data_free(&w->test);
    if (w->ctx) {
        uint32_t v = vkn_context_validation_count(w->ctx);
        if (v && !res->rc) {
            res->rc = 1;
            snprintf(res->error, sizeof res->error, "%u Vulkan validation message(s)", v);
        }
        vkn_context_destroy(w->ctx);
    }
    free(w->real), free(w->zgrid), free(w->zeval), free(w->yeval), free(w->img), free(w->img_eval);
    vkn_mailbox_destroy(w->mb);
    vkn_queue_destroy(w->rows);
    vkn_queue_destroy(w->msgs);
    vkn_queue_destroy(w->cmds);
    free(w);
}
