/* vkn-da: the domain-adaptation demo (issue 7). Options, the training worker and the UI loop.
 *
 * Threads, as in apps/common/vkn-viewer-demo.c: the main thread opens the view (a window, or headless)
 * and owns it; a worker thread runs the training (run.c) and talks to the UI through a vkn_mailbox
 * (the latest snapshot: sample predictions, PCA, numbers) and vkn_queues (metric rows to the UI,
 * commands pause / step / checkpoint / quit to the worker). Quitting (q, Esc, closing the window,
 * Ctrl-C) makes the worker write a checkpoint before it ends. */
#include "opts.h"
#include "run.h"
#include "ui.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include "vkn_app_version.h"

#include "vkn_commit.h"

/* ---- the run folder ---- */

/* --resume: the command line with the run's recorded options, parsed into scratch options */
typedef struct reparse_ctx {
    da_opts o;
    const char *out;
} reparse_ctx;

static int reparse(void *user, int argc, char **argv, vkn_runopts *now, const vkn_run_cli **cli)
{
    reparse_ctx *r = user;
    if (da_opts_parse(&r->o, argc, argv, stdout, stderr)) return 2;
    snprintf(r->o.out_dir, sizeof r->o.out_dir, "%s", r->out);   /* the folder the options came from */
    da_opts_describe(&r->o, now);
    *cli = &r->o.cli;
    return 0;
}

/* The run folder before any work (runfolder.h): refuse to replace a run, take a resumed run's options
 * from its checkpoint (refusing changed ones), remove stale temporary files. 0, or the exit status. */
static int prepare_folder(da_opts *o, int argc, char **argv)
{
    static reparse_ctx r;
    vkn_runopts known;
    vkn_run_folder f = da_run_folder(o->out_dir);
    bool reparsed;
    r.out = o->out_dir;
    da_opts_describe(o, &known);
    int rc = vkn_run_begin(&f, &o->cli, &known, argc, argv, reparse, &r, &reparsed, r.o.changes, 16, &r.o.nchanges);
    if (!rc && reparsed) *o = r.o;
    return rc;
}

/* ---- the worker ---- */

enum { CMD_PAUSE, CMD_RESUME, CMD_STEP, CMD_CKPT, CMD_QUIT };
typedef struct command { int cmd; } command;

typedef struct worker {
    da_run *r;
    vkn_mailbox *mb;
    vkn_queue *rows, *cmds;
    bool headless;
    atomic_bool done;
    vkn_status status;            /* the first error, VKN_OK otherwise */
    bool stopped;                 /* quit by the user before the last step */
    char message[768];
    double t_start;
} worker;

static void post(worker *w, bool png, bool done, const char *msg)
{
    da_snapshot *s = vkn_mailbox_back(w->mb);
    da_snapshot_fill(s, w->r);
    s->png = png;
    s->done = done;
    s->failed = w->status != VKN_OK;
    s->stopped = w->stopped;
    snprintf(s->message, sizeof s->message, "%s", msg ? msg : "");
    vkn_mailbox_post(w->mb);
}

static void push_train_row(worker *w)
{
    const da_run *r = w->r;
    da_row row = {.step = r->step - 1, .lr = r->lr, .ms = r->ms_last};
    for (int k = 0; k < r->nm; k++) {
        row.label_loss[k] = r->last[k].label_loss;
        row.domain_loss[k] = r->last[k].domain_loss;
        row.src_batch_acc[k] = r->last[k].src_acc;
        row.dom_acc[k] = r->last[k].dom_acc;
        row.lambda[k] = r->lambda[k];
    }
    vkn_queue_push(w->rows, &row);
}

static void push_eval_row(worker *w)
{
    const da_run *r = w->r;
    da_row row = {.step = r->step, .is_eval = true, .lr = r->lr};
    for (int k = 0; k < r->nm; k++) row.src_acc[k] = r->src_acc[k], row.tgt_acc[k] = r->tgt_acc[k];
    vkn_queue_push(w->rows, &row);
}

static bool due(int64_t step, int64_t every) { return every > 0 && step % every == 0; }

static vkn_status checkpoint(worker *w)
{
    vkn_status s = da_run_checkpoint(w->r);
    if (s != VKN_OK) {
        char d[700];
        snprintf(d, sizeof d, "%s", vkn_status_detail());
        vkn_status_set(s, "checkpoint failed: %s", d);
    }
    return s;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    da_run *r = w->r;
    const da_opts *o = &r->o;
    vkn_status s = da_run_fixed(r);
    if (s == VKN_OK) s = da_run_pca(r);
    if (s == VKN_OK) post(w, false, false, NULL);
    bool paused = false;
    while (s == VKN_OK && r->step < o->steps) {
        command c;
        bool one = false, quit = false;
        while (vkn_queue_pop(w->cmds, &c, paused ? 200 : 0)) {
            if (c.cmd == CMD_QUIT) { quit = true; break; }
            if (c.cmd == CMD_PAUSE) paused = true;
            if (c.cmd == CMD_RESUME) paused = false;
            if (c.cmd == CMD_CKPT) {
                s = checkpoint(w);
                char msg[200];
                snprintf(msg, sizeof msg, "checkpoint written at step %lld", (long long)r->step);
                if (s == VKN_OK) post(w, false, false, msg);
            }
            if (c.cmd == CMD_STEP) { one = true; break; }
        }
        if (quit || vkn_queue_closed(w->cmds) || (o->stop_at > 0 && r->step >= o->stop_at)) { w->stopped = true; break; }
        if (s != VKN_OK) break;
        if (paused && !one) continue;
        if ((s = da_run_step(r)) != VKN_OK) break;
        push_train_row(w);
        const int64_t t = r->step;
        bool ev = due(t, o->eval_every) || t == o->steps;
        bool pca = t - r->pca_step >= o->pca_every || t == o->steps;
        bool png = w->headless && (due(t, o->png_every) || t == o->steps);
        bool view = one || (!w->headless && due(t, o->view_every));
        if (ev) {
            if ((s = da_run_eval(r)) != VKN_OK) break;
            push_eval_row(w);
        } else if (view || png || pca) {
            if ((s = da_run_fixed(r)) != VKN_OK) break;
        }
        if (pca && (s = da_run_pca(r)) != VKN_OK) break;
        if (due(t, o->ckpt_every) && t < o->steps && (s = checkpoint(w)) != VKN_OK) break;
        if (ev || view || png || pca) post(w, png && t < o->steps, false, NULL);
    }
    const char *status = "done";
    if (s == VKN_OK) {
        if (r->eval_step != r->step && !w->stopped) s = da_run_eval(r), push_eval_row(w);
        if (s == VKN_OK && !w->stopped && r->pca_step != r->step) s = da_run_pca(r);
        if (s == VKN_OK && r->ckpt_step != r->step) s = checkpoint(w);
        status = w->stopped ? "stopped" : "done";
    }
    w->status = s;
    if (s != VKN_OK) {
        status = s == VKN_ERR_NOT_FINITE ? "diverged" : "failed";
        snprintf(w->message, sizeof w->message, "%s", vkn_status_detail());
    } else if (w->stopped) {
        snprintf(w->message, sizeof w->message, "stopped at step %lld; checkpoint %s written (--resume continues)",
                 (long long)r->step, r->nm > 1 ? "files" : r->ckpt_path[0]);
    } else {
        snprintf(w->message, sizeof w->message, "done: %lld steps; files in %s", (long long)r->step, o->out_dir);
    }
    /* a side output: its failure is reported and counted, the checkpoint is already written */
    static int summary_failures;
    if (da_run_write_summary(r, vkn_now() - w->t_start, status) != VKN_OK)
        da_run_side_failed(r, &summary_failures, vkn_status_detail());
    post(w, w->headless, true, w->message);
    atomic_store(&w->done, true);
    return NULL;
}

/* ---- the UI ---- */

enum { A_PAUSE, A_STEP, A_SAVE, A_CKPT, A_QUIT };

typedef struct app {
    vkn_view *view;
    worker *w;
    bool paused, want_save;
    char toast[800];
    double toast_until;
} app;

static void toast(app *a, const char *msg)
{
    snprintf(a->toast, sizeof a->toast, "%s", msg);
    a->toast_until = vkn_now() + 3.0;
}

static void on_action(void *user, int action, int key, int mods)
{
    app *a = user;
    command c;
    (void)key, (void)mods;
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
    case A_CKPT:
        c.cmd = CMD_CKPT;
        vkn_queue_push(a->w->cmds, &c);
        toast(a, "checkpoint requested");
        break;
    case A_QUIT: vkn_view_request_quit(a->view); break;
    case VKN_ACTION_QUIT:
        c.cmd = CMD_QUIT;
        vkn_queue_push(a->w->cmds, &c);
        break;
    }
}

/* headless PNGs that could not be written (main thread) */
static int png_failures;
static char png_first[600];

static void print_summary(const da_run *r, const worker *w, double wall)
{
    char dur[32];
    vkn_format_duration(wall, dur, sizeof dur);
    double ms = r->ms_count ? r->ms_sum / (double)r->ms_count : r->ms_last;
    fprintf(stderr, "vkn-da: %s \xe2\x86\x92 %s, %lld steps in %s, %.0f ms/step (%d+%d images%s)\n", r->data.src_name,
            r->data.tgt_name, (long long)r->step, dur, ms, r->o.batch, r->o.batch, r->nm > 1 ? " x 2 models" : "");
    for (int k = 0; k < r->nm; k++) {
        if (r->eval_step < 0) continue;
        char dom[32] = "";
        if (isfinite(r->last[k].dom_acc)) snprintf(dom, sizeof dom, "  domain acc %.0f%%", 100.0 * r->last[k].dom_acc);
        fprintf(stderr, "  %-22s source %5.1f%%  target %5.1f%% (best %.1f%% at step %lld)%s\n", r->o.set[k].label,
                100.0 * r->src_acc[k], 100.0 * r->tgt_acc[k], 100.0 * r->best_tgt[k], (long long)r->best_step[k], dom);
    }
    /* what is there, not what was meant to be */
    char files[1000];
    vkn_run_folder f = da_run_folder(r->o.out_dir);
    vkn_run_files_list(&f, files, sizeof files);
    fprintf(stderr, "  files: %s/ (%s)\n", r->o.out_dir, files[0] ? files : "none");
    if (r->side_failures + png_failures)
        fprintf(stderr, "  warning: %d side output(s) could not be written (the checkpoint was); the first: %s\n",
                r->side_failures + png_failures, r->side_failures ? r->side_first : png_first);
    if (w->status != VKN_OK) fprintf(stderr, "vkn-da: %s\n", w->message);
    else if (w->stopped) fprintf(stderr, "vkn-da: %s\n", w->message);
}

int main(int argc, char **argv)
{
    if (vkn_app_version(argc, argv, "vkn-da")) return 0;
    vkn_sigint_install(); /* first: a SIGTERM during the setup stops cleanly too */
    static da_opts o;
    int pr = da_opts_parse(&o, argc, argv, stdout, stderr);
    if (pr == 1) return 0;
    if (pr) return 2;
    if ((pr = prepare_folder(&o, argc, argv))) return pr;
    o.commit = VKN_COMMIT;

    vkn_context *ctx = NULL;
    vkn_status s = vkn_context_create(NULL, &ctx);
    if (s != VKN_OK) {
        fprintf(stderr, "vkn-da: %s\n", vkn_status_detail());
        return 1;
    }
    static da_run run;
    double t0 = vkn_now();
    s = da_run_open(&run, &o, ctx);
    if (s != VKN_OK) {
        fprintf(stderr, "vkn-da: %s\n", vkn_status_detail());
        da_run_close(&run);
        vkn_context_destroy(ctx);
        return 1;
    }
    {
        vkn_runopts all;
        da_opts_describe(&run.o, &all);
        s = vkn_run_json_write(o.out_dir, "vkn-da", o.commit, vkn_context_describe(ctx), &all, o.resume, run.step,
                               o.changes, o.nchanges);
        if (s != VKN_OK) {
            fprintf(stderr, "vkn-da: %s\n", vkn_status_detail());
            da_run_close(&run);
            vkn_context_destroy(ctx);
            return 1;
        }
    }
    if (run.step >= o.steps && o.resume)
        fprintf(stderr, "vkn-da: the checkpoint is at step %lld already (--steps %lld): evaluating only\n",
                (long long)run.step, (long long)o.steps);

    app a = {0};
    worker w = {.r = &run, .t_start = t0};
    atomic_init(&w.done, false);
    a.w = &w;
    char title[160];
    snprintf(title, sizeof title, "vkn-da \xc2\xb7 %s", run.nm > 1 ? "compare" : run.o.set[0].label);
    vkn_view_config cfg = {title, o.width, o.height, o.headless, 20, on_action, &a, false};
    s = vkn_view_open(&a.view, &cfg);
    if (s != VKN_OK) {
        fprintf(stderr, "vkn-da: %s\n", vkn_status_detail());
        da_run_close(&run);
        vkn_context_destroy(ctx);
        return 1;
    }
    w.headless = vkn_view_headless(a.view);
    vkn_view_bind(a.view, ' ', 0, A_PAUSE, "pause");
    vkn_view_bind(a.view, 'n', 0, A_STEP, "step");
    vkn_view_bind(a.view, 's', 0, A_SAVE, "save PNG");
    vkn_view_bind(a.view, 'c', 0, A_CKPT, "checkpoint");
    vkn_view_bind(a.view, 'q', 0, A_QUIT, "quit");
    vkn_view_bind(a.view, VKN_KEY_ESCAPE, 0, A_QUIT, "quit");

    da_ui ui;
    da_ui_init(&ui, &run);
    if (vkn_mailbox_create(&w.mb, sizeof(da_snapshot)) != VKN_OK || vkn_queue_create(&w.rows, sizeof(da_row), 16384) != VKN_OK ||
        vkn_queue_create(&w.cmds, sizeof(command), 64) != VKN_OK) {
        fprintf(stderr, "vkn-da: %s\n", vkn_status_detail());
        return 1;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, worker_main, &w) != 0) {
        fprintf(stderr, "vkn-da: cannot start the training thread\n");
        return 1;
    }

    vkn_progress prog;
    vkn_progress_init(&prog, "vkn-da", o.steps, NULL);
    const da_snapshot *snap = NULL;
    int rc = 0;
    bool finished_shot = false;
    while (vkn_view_poll(a.view)) {
        if (w.headless) vkn_mailbox_wait(w.mb, 500);
        bool fresh = false;
        snap = vkn_mailbox_take(w.mb, &fresh);
        da_row row;
        while (vkn_queue_pop(w.rows, &row, 0)) da_ui_push(&ui, &row);
        bool done = atomic_load(&w.done);
        const char *state = snap && snap->done ? (snap->failed ? "FAILED" : snap->stopped ? "STOPPED" : "DONE")
                            : a.paused ? "PAUSED" : "TRAINING";
        vkn_color scol = snap && snap->done ? (snap->failed ? VKN_COL_BAD : VKN_COL_ACCENT) : a.paused ? VKN_COL_WARN : VKN_COL_GOOD;
        bool show_toast = a.toast[0] && vkn_now() < a.toast_until;
        if (!w.headless || fresh) da_ui_draw(a.view, &ui, snap, state, scol, show_toast ? a.toast : NULL);
        if (w.headless) {
            if (ui.have_last) {
                const da_row *l = &ui.last;
                char acc[64] = "";
                if (snap && isfinite(snap->m[0].tgt_acc))
                    snprintf(acc, sizeof acc, " | test src %.1f%% tgt %.1f%%", 100.0 * snap->m[0].src_acc, 100.0 * snap->m[0].tgt_acc);
                char dom[48] = "";
                if (isfinite(l->dom_acc[0]))
                    snprintf(dom, sizeof dom, " dom %.3f (acc %.0f%%)", l->domain_loss[0], 100.0 * l->dom_acc[0]);
                vkn_progress_update(&prog, l->step + 1, l->ms, "loss %.3f%s \xce\xbb %.2f%s", l->label_loss[0], dom,
                                    l->lambda[0], acc);
            }
            if (fresh && snap && snap->png) {
                char path[700];
                if (snap->done) snprintf(path, sizeof path, "%s/window-final.png", o.out_dir);
                else snprintf(path, sizeof path, "%s/window-%06lld.png", o.out_dir, (long long)snap->step);
                if (vkn_view_screenshot(a.view, path) != VKN_OK && !png_failures++) {
                    snprintf(png_first, sizeof png_first, "%s", vkn_status_detail());
                    vkn_progress_log(&prog, "vkn-da: warning: %s; training goes on (later PNG failures are counted in "
                                     "the summary)", png_first);
                }
            }
        }
        if (a.want_save) {
            char path[700];
            snprintf(path, sizeof path, "%s/screenshot-%06lld.png", o.out_dir, snap ? (long long)snap->step : 0LL);
            if (vkn_view_screenshot(a.view, path) == VKN_OK) {
                char msg[760];
                snprintf(msg, sizeof msg, "saved %s", path);
                toast(&a, msg);
            } else toast(&a, vkn_status_detail());
            a.want_save = false;
        }
        if (done && snap && snap->done) {
            if (o.screenshot && !finished_shot) {
                if (!w.headless) da_ui_draw(a.view, &ui, snap, state, scol, NULL);
                if (vkn_view_screenshot(a.view, o.screenshot) != VKN_OK) {
                    fprintf(stderr, "vkn-da: %s\n", vkn_status_detail());
                    rc = 1;
                }
                finished_shot = true;
            }
            if (w.headless || o.screenshot) {
                if (!fresh) break;   /* headless: the final frame has been drawn and saved */
                continue;
            }
        }
        vkn_view_present(a.view);
    }
    command q = {CMD_QUIT};
    vkn_queue_push(w.cmds, &q);
    pthread_join(th, NULL);
    if (w.headless) vkn_progress_finish(&prog, run.step, "%s", w.status != VKN_OK ? "stopped by an error" : w.stopped ? "stopped" : "done");
    print_summary(&run, &w, vkn_now() - t0);
    if (w.status != VKN_OK) rc = 1;
    da_ui_free(&ui);
    vkn_queue_destroy(w.rows);
    vkn_queue_destroy(w.cmds);
    vkn_mailbox_destroy(w.mb);
    vkn_view_close(a.view);
    da_run_close(&run);
    uint32_t msgs = vkn_context_validation_count(ctx);
    vkn_context_destroy(ctx);
    if (msgs) {
        fprintf(stderr, "vkn-da: %u Vulkan validation message(s)\n", msgs);
        if (!rc) rc = 1;
    }
    int sig = vkn_stop_signal();
    if (!rc && sig && w.stopped) {
        /* the checkpoint is written; say "interrupted" the way a shell does, so a script or a scheduler
         * can tell this from a finished run and requeue it with --resume */
        fprintf(stderr, "vkn-da: stopped by %s; exit status %d\n", vkn_signal_name(sig), 128 + sig);
        rc = 128 + sig;
    }
    return rc;
}
