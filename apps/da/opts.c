/* vkn-da's command line (opts.h). */
#include "opts.h"
#include "../common/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const sched_names[DA_SCHED_COUNT] = {"dann", "constant", "cosine"};
const char *da_sched_name(da_sched s) { return (unsigned)s < DA_SCHED_COUNT ? sched_names[s] : "?"; }

void da_opts_default(da_opts *o)
{
    memset(o, 0, sizeof *o);
    o->task = DA_TASK_MNIST_TEXTURED;
    o->set[0] = (da_setting){DA_DANN, DA_NORM_BN, DA_TCTX_OWN, ""};
    o->nset = 1;
    o->lr = 1e-3f;
    o->sched = DA_SCHED_DANN;
    o->optim = DA_OPTIM_ADAM;
    o->momentum = 0.9f;
    o->lambda_max = 1.0f;
    o->batch = 64;
    o->eval_batch = 200;
    o->seed = 1;
    o->steps = 3000;
    o->eval_every = 250;
    o->ckpt_every = 1000;
    o->pca_every = 500;
    o->view_every = 25;
    o->png_every = 0;    /* 0: the eval interval */
    o->width = 1280;
    o->height = 800;
}

void da_opts_usage(FILE *f)
{
    fprintf(f,
"usage: vkn-da [options]\n"
"Train a digit classifier on a labelled source domain and adapt it to an unlabelled target domain,\n"
"live in a window (headless without a display): DANN vs source-only, with the normalization of the\n"
"feature extractor as the knob.\n"
"\n"
"what to run\n"
"  --task T           mnist-textured (default: MNIST -> textured MNIST, the MNIST-M-style domain),\n"
"                     syn-mnist (synthetic digits -> MNIST), mnist-syn (MNIST -> synthetic digits)\n"
"  --method M         dann (default; gradient reversal, lambda_p = 2/(1+exp(-10p)) - 1) | source\n"
"                     (source-only: the target batch still flows through the features and the\n"
"                     domain head, but lambda = 0, so only the source labels train the features;\n"
"                     normalization statistics see the target) | noadapt (no adaptation: a step\n"
"                     holds B source images only; the target is never seen in training, the\n"
"                     \"source only\" of the DANN paper)\n"
"  --norm N           normalization after each convolution: bn (default, shared BN: source and\n"
"                     target rows normalized together) | dsbn (domain-specific BN = CN with 2\n"
"                     contexts, prior scaling off) | cn (CN, the domain as context) | cnx (CN-X) |\n"
"                     acn (ACN, no ids) | none\n"
"  --target-ctx C     test-time context of target images: own (default: the target id) | source\n"
"                     (the source id, the CN paper's protocol) | batch (test-batch statistics)\n"
"  --compare A,B      two settings side by side in one process, same data order; each setting is\n"
"                     [METHOD-]NORM[@CTX], e.g. source-bn,dann-bn or bn,cn@source or dann-cn,dann-dsbn\n"
"\n"
"training\n"
"  --steps N          training steps (default 3000); one step = B source + B target images (noadapt: B source)\n"
"  --batch B          images per domain per step (default 64)\n"
"  --lr X             initial learning rate (default 0.001)\n"
"  --schedule S       dann (default: lr0 / (1 + 10p)^0.75, p = step/steps) | constant | cosine\n"
"  --optim O          adam (default) | sgd (with --momentum, default 0.9)\n"
"  --momentum X       sgd momentum (default 0.9)\n"
"  --weight-decay X   L2 weight decay (default 0)\n"
"  --lambda-max X     scale of the gradient-reversal schedule (default 1)\n"
"  --seed S           initialisation and data order (default 1); the domains themselves are fixed\n"
"  --train-n N        keep the first N training images of each domain (default: all)\n"
"\n"
"evaluation and files\n"
"  --eval-every N     evaluate on the full source and target test sets every N steps (default 250)\n"
"  --eval-batch N     inference batch (default 200; the first batch of each test set is the fixed\n"
"                     set of the sample rows and the PCA)\n"
"  --eval-n N         keep the first N test images of each domain (default: all)\n"
"  --pca-every N      refresh the 2-D PCA of the features every N steps (default 500)\n"
"  --ckpt-every N     checkpoint every N steps (default 1000; 0: only at the end)\n"
"  --out DIR          run folder: metrics (train.csv/.jsonl, eval.csv/.jsonl), checkpoints, PNGs\n"
"                     (default runs/da-<task>-<setting>-s<seed>, in the current directory)\n"
"  --resume           continue the run in DIR from its checkpoint with the run's options (recorded in\n"
"                     the checkpoints and DIR/run.json): the options of \"what to run\" and \"training\",\n"
"                     --eval-batch and --eval-n are taken from the run and a different value is refused\n"
"                     (--steps too: it sets the lr and lambda schedules); free to change: --eval-every,\n"
"                     --pca-every, --ckpt-every, --png-every, --view-every (the run's values when not\n"
"                     given), --stop-at and the display options\n"
"  --override OPT     with --resume: allow a deliberate change of OPT (e.g. --override steps; repeatable;\n"
"                     recorded in DIR/run.json's history)\n"
"  --overwrite        replace the run in DIR: its checkpoints, logs and images are deleted first.\n"
"                     Without --resume or --overwrite a folder that holds a run is refused\n"
"  --stop-at N        stop after step N with a checkpoint, as Ctrl-C would (--resume continues)\n"
"\n"
"display\n"
"  --headless         no window: progress line, metrics, window PNGs, final summary (automatic\n"
"                     without a display)\n"
"  --png-every N      headless: write DIR/window-<step>.png every N steps (default: the eval interval)\n"
"  --view-every N     window: refresh sample predictions every N steps (default 25)\n"
"  --screenshot FILE  save the window to FILE when the run ends, then exit\n"
"  --size WxH         window size (default 1280x800)\n"
"  --help             this text\n"
"\n"
"keys: space pause/resume, n single step, s save PNG, c checkpoint now, q / Esc / closing the window:\n"
"checkpoint and quit. Ctrl-C, SIGTERM and SIGHUP: checkpoint at the next step and quit (a second signal\n"
"ends at once). Temporary files of interrupted writes in DIR are removed at start.\n"
"exit status: 0 done (or stopped by q, Esc, the window or --stop-at), 1 a runtime error (missing data,\n"
"device, NaN), 2 bad options or a refused run folder, 128+N stopped by signal N after writing the\n"
"checkpoint (130 SIGINT, 143 SIGTERM, 129 SIGHUP).\n");
}

static int bad(FILE *err, const char *fmt, const char *a, const char *b)
{
    fprintf(err, "vkn-da: ");
    fprintf(err, fmt, a, b);
    fprintf(err, "\n(vkn-da --help lists every option)\n");
    return 2;
}

static int parse_i64(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!v || !*v) return 0;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

static int parse_f(const char *v, double lo, double hi, float *out)
{
    if (!v || !*v) return 0;
    errno = 0;
    char *end;
    double x = strtod(v, &end);
    if (errno || *end || !isfinite(x) || x < lo || x > hi) return 0;
    *out = (float)x;
    return 1;
}

/* [METHOD-]NORM[@CTX] */
static int parse_setting(const char *spec, da_method def_method, da_tctx def_ctx, da_setting *s, FILE *err)
{
    char buf[64];
    if (strlen(spec) >= sizeof buf || !*spec) return bad(err, "--compare: bad setting '%s'%s", spec, ""), 0;
    snprintf(buf, sizeof buf, "%s", spec);
    s->method = def_method;
    s->tctx = def_ctx;
    char *at = strchr(buf, '@');
    if (at) {
        *at++ = 0;
        int t = da_tctx_parse(at);
        if (t < 0) return bad(err, "--compare: target context '%s' unknown (valid: own, source, batch)", at, ""), 0;
        s->tctx = (da_tctx)t;
    }
    char *norm = buf, *dash = strrchr(buf, '-');
    if (dash && da_norm_parse(buf) < 0) {
        *dash = 0;
        int m = da_method_parse(buf);
        if (m < 0) return bad(err, "--compare: method '%s' unknown (valid: source, dann, noadapt)", buf, ""), 0;
        s->method = (da_method)m;
        norm = dash + 1;
    }
    int n = da_norm_parse(norm);
    if (n < 0) return bad(err, "--compare: norm '%s' unknown (valid: bn, dsbn, cn, cnx, acn, none)", norm, ""), 0;
    s->norm = (da_norm)n;
    return 1;
}

int da_opts_parse(da_opts *o, int argc, char **argv, FILE *out, FILE *err)
{
    da_opts_default(o);
    const char *compare = NULL, *out_dir = NULL;
    int64_t x;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char name[64];
        /* --opt=value */
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof name) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            a = name;
            v = eq + 1;
        } else if (v) {
            i++; /* consumed below if the option takes a value; given back otherwise */
        }
        int takes = 1;
        if (!strncmp(a, "--", 2)) vkn_run_cli_given(&o->cli, a);
#define IS(s) (strcmp(a, s) == 0)
        if (IS("--help") || IS("-h")) { da_opts_usage(out); return 1; }
        else if (IS("--headless")) { o->headless = true; takes = 0; }
        else if (IS("--resume")) { o->resume = o->cli.resume = true; takes = 0; }
        else if (IS("--overwrite")) { o->cli.overwrite = true; takes = 0; }
        else if (!v) return bad(err, "%s: unknown option or missing value%s", a, "");
        else if (IS("--task")) {
            int t = da_task_parse(v);
            if (t < 0) return bad(err, "--task %s: unknown task (valid: %s)", v, da_task_list());
            o->task = (da_task)t;
        } else if (IS("--method")) {
            int m = da_method_parse(v);
            if (m < 0) return bad(err, "--method %s: unknown method (valid: dann, source, noadapt)%s", v, "");
            o->set[0].method = (da_method)m;
        } else if (IS("--norm")) {
            int n = da_norm_parse(v);
            if (n < 0) return bad(err, "--norm %s: unknown normalization (valid: bn, dsbn, cn, cnx, acn, none)%s", v, "");
            o->set[0].norm = (da_norm)n;
        } else if (IS("--target-ctx")) {
            int t = da_tctx_parse(v);
            if (t < 0) return bad(err, "--target-ctx %s: unknown context (valid: own, source, batch)%s", v, "");
            o->set[0].tctx = (da_tctx)t;
        } else if (IS("--compare")) compare = v;
        else if (IS("--schedule")) {
            int k = -1;
            for (int j = 0; j < DA_SCHED_COUNT; j++) if (!strcasecmp(v, sched_names[j])) k = j;
            if (k < 0) return bad(err, "--schedule %s: unknown schedule (valid: dann, constant, cosine)%s", v, "");
            o->sched = (da_sched)k;
        } else if (IS("--optim")) {
            if (!strcasecmp(v, "adam")) o->optim = DA_OPTIM_ADAM;
            else if (!strcasecmp(v, "sgd")) o->optim = DA_OPTIM_SGD;
            else return bad(err, "--optim %s: unknown optimizer (valid: adam, sgd)%s", v, "");
        } else if (IS("--lr")) { if (!parse_f(v, 1e-8, 10, &o->lr)) return bad(err, "--lr %s: expected a number in [1e-8, 10]%s", v, ""); }
        else if (IS("--momentum")) { if (!parse_f(v, 0, 0.999, &o->momentum)) return bad(err, "--momentum %s: expected a number in [0, 0.999]%s", v, ""); }
        else if (IS("--weight-decay")) { if (!parse_f(v, 0, 1, &o->weight_decay)) return bad(err, "--weight-decay %s: expected a number in [0, 1]%s", v, ""); }
        else if (IS("--lambda-max")) { if (!parse_f(v, 0, 10, &o->lambda_max)) return bad(err, "--lambda-max %s: expected a number in [0, 10]%s", v, ""); }
        else if (IS("--steps")) { if (!parse_i64(v, 1, 100000000, &o->steps)) return bad(err, "--steps %s: expected an integer in [1, 100000000]%s", v, ""); }
        else if (IS("--batch")) { if (!parse_i64(v, 2, 1024, &x)) return bad(err, "--batch %s: expected an integer in [2, 1024]%s", v, ""); o->batch = (int)x; }
        else if (IS("--eval-batch")) { if (!parse_i64(v, 2, 2048, &x)) return bad(err, "--eval-batch %s: expected an integer in [2, 2048]%s", v, ""); o->eval_batch = (int)x; }
        else if (IS("--seed")) { if (!parse_i64(v, 0, INT64_MAX, &x)) return bad(err, "--seed %s: expected an integer in [0, 2^63-1]%s", v, ""); o->seed = (uint64_t)x; }
        else if (IS("--eval-every")) { if (!parse_i64(v, 1, INT64_MAX, &o->eval_every)) return bad(err, "--eval-every %s: expected an integer in [1, 2^63-1]%s", v, ""); }
        else if (IS("--stop-at")) { if (!parse_i64(v, 1, INT64_MAX, &o->stop_at)) return bad(err, "--stop-at %s: expected an integer in [1, 2^63-1]%s", v, ""); }
        else if (IS("--ckpt-every")) { if (!parse_i64(v, 0, INT64_MAX, &o->ckpt_every)) return bad(err, "--ckpt-every %s: expected an integer in [0, 2^63-1]%s", v, ""); }
        else if (IS("--pca-every")) { if (!parse_i64(v, 1, INT64_MAX, &o->pca_every)) return bad(err, "--pca-every %s: expected an integer in [1, 2^63-1]%s", v, ""); }
        else if (IS("--view-every")) { if (!parse_i64(v, 1, INT64_MAX, &o->view_every)) return bad(err, "--view-every %s: expected an integer in [1, 2^63-1]%s", v, ""); }
        else if (IS("--png-every")) { if (!parse_i64(v, 1, INT64_MAX, &o->png_every)) return bad(err, "--png-every %s: expected an integer in [1, 2^63-1]%s", v, ""); }
        else if (IS("--eval-n")) { if (!parse_i64(v, 0, INT32_MAX, &x)) return bad(err, "--eval-n %s: expected an integer in [0, 2^31-1]%s", v, ""); o->eval_n = (int32_t)x; }
        else if (IS("--train-n")) { if (!parse_i64(v, 0, INT32_MAX, &x)) return bad(err, "--train-n %s: expected an integer in [0, 2^31-1]%s", v, ""); o->train_n = (int32_t)x; }
        else if (IS("--out")) out_dir = v;
        else if (IS("--override")) {
            if (!vkn_run_cli_add_override(&o->cli, v)) return bad(err, "--override %s: too many (at most 16)%s", v, "");
        }
        else if (IS("--screenshot")) o->screenshot = v;
        else if (IS("--size")) {
            if (!vkn_cli_size(v, 640, 480, 8192, 8192, &o->width, &o->height))
                return bad(err, "--size %s: expected WxH with W in 640..8192, H in 480..8192%s", v, "");
        } else return bad(err, "%s: unknown option (valid: --task --method --norm --target-ctx --compare --steps --batch --lr "
                               "--schedule --optim --momentum --weight-decay --lambda-max --seed --train-n --eval-every "
                               "--eval-batch --eval-n --pca-every --ckpt-every --out --resume --override --overwrite --stop-at --headless --png-every "
                               "--view-every --screenshot --size --help)%s", a, "");
#undef IS
        if (!takes && !eq && v) i--;   /* a flag: the next word is not its value */
        if (!takes && eq) return bad(err, "%s takes no value%s", a, "");
    }
    if (o->cli.noverride && !o->resume)
        return bad(err, "--override applies only with --resume (it allows a changed option of the run)%s%s", "", "");
    if (o->resume && o->cli.overwrite)
        return bad(err, "--resume and --overwrite contradict each other (continue the run, or replace it)%s%s", "", "");
    if (compare) {
        const char *comma = strchr(compare, ',');
        if (!comma || strchr(comma + 1, ','))
            return bad(err, "--compare %s: expected two settings A,B (e.g. source-bn,dann-bn)%s", compare, "");
        char first[64];
        snprintf(first, sizeof first, "%.*s", (int)(comma - compare), compare);
        da_setting base = o->set[0];
        if (!parse_setting(first, base.method, base.tctx, &o->set[0], err)) return 2;
        if (!parse_setting(comma + 1, base.method, base.tctx, &o->set[1], err)) return 2;
        o->nset = 2;
    }
    for (int k = 0; k < o->nset; k++) da_setting_label(&o->set[k]);
    if (o->nset == 2 && !strcmp(o->set[0].label, o->set[1].label))
        return bad(err, "--compare: the two settings are the same (%s)%s", o->set[0].label, "");
    if (out_dir) {
        if (strlen(out_dir) >= sizeof o->out_dir - 64) return bad(err, "--out %s: path too long%s", out_dir, "");
        snprintf(o->out_dir, sizeof o->out_dir, "%s", out_dir);
    } else if (o->nset == 2) {
        snprintf(o->out_dir, sizeof o->out_dir, "runs/da-%s-%s-vs-%s-s%llu", da_task_name(o->task), o->set[0].label,
                 o->set[1].label, (unsigned long long)o->seed);
    } else {
        snprintf(o->out_dir, sizeof o->out_dir, "runs/da-%s-%s-s%llu", da_task_name(o->task), o->set[0].label,
                 (unsigned long long)o->seed);
    }
    if (o->png_every <= 0) o->png_every = o->eval_every;
    return 0;
}

void da_opts_describe(const da_opts *o, vkn_runopts *l)
{
    l->n = 0;
    const vkn_runopt_kind F = VKN_RUNOPT_FIXED, R = VKN_RUNOPT_FREE, L = VKN_RUNOPT_LOCAL;
    vkn_runopts_add(l, "--task", F, "%s", da_task_name(o->task));
    vkn_runopts_add(l, "--method", F, "%s", da_method_name(o->set[0].method));
    vkn_runopts_add(l, "--norm", F, "%s", da_norm_name(o->set[0].norm));
    vkn_runopts_add(l, "--target-ctx", F, "%s", da_tctx_name(o->set[0].tctx));
    if (o->nset > 1) vkn_runopts_add(l, "--compare", F, "%s,%s", o->set[0].label, o->set[1].label);
    else vkn_runopts_add(l, "--compare", F, "%s", "");
    vkn_runopts_add(l, "--steps", F, "%lld", (long long)o->steps);   /* p = step / steps: the schedules */
    vkn_runopts_add(l, "--batch", F, "%d", o->batch);
    vkn_runopts_add(l, "--lr", F, "%.9g", o->lr);
    vkn_runopts_add(l, "--schedule", F, "%s", da_sched_name(o->sched));
    vkn_runopts_add(l, "--optim", F, "%s", o->optim == DA_OPTIM_SGD ? "sgd" : "adam");
    vkn_runopts_add(l, "--momentum", F, "%.9g", o->momentum);
    vkn_runopts_add(l, "--weight-decay", F, "%.9g", o->weight_decay);
    vkn_runopts_add(l, "--lambda-max", F, "%.9g", o->lambda_max);
    vkn_runopts_add(l, "--seed", F, "%llu", (unsigned long long)o->seed);
    vkn_runopts_add(l, "--train-n", F, "%d", (int)o->train_n);
    vkn_runopts_add(l, "--eval-batch", F, "%d", o->eval_batch);
    vkn_runopts_add(l, "--eval-n", F, "%d", (int)o->eval_n);
    vkn_runopts_add(l, "--eval-every", R, "%lld", (long long)o->eval_every);
    vkn_runopts_add(l, "--pca-every", R, "%lld", (long long)o->pca_every);
    vkn_runopts_add(l, "--ckpt-every", R, "%lld", (long long)o->ckpt_every);
    vkn_runopts_add(l, "--png-every", R, "%lld", (long long)o->png_every);
    vkn_runopts_add(l, "--view-every", R, "%lld", (long long)o->view_every);
    vkn_runopts_add(l, "--out", L, "%s", o->out_dir);
    if (o->stop_at > 0) vkn_runopts_add(l, "--stop-at", L, "%lld", (long long)o->stop_at);
    else vkn_runopts_add(l, "--stop-at", L, "%s", "");
    vkn_runopts_add(l, "--headless", L, "%s", o->headless ? "on" : "off");
    vkn_runopts_add(l, "--screenshot", L, "%s", o->screenshot ? o->screenshot : "");
    vkn_runopts_add(l, "--size", L, "%dx%d", o->width, o->height);
}

/* The files vkn-da writes in a run folder (metrics per setting in compare mode: train-LABEL.csv). */
static const char *const da_ckpt_files[] = {"ckpt-*.safetensors", NULL};
static const char *const da_log_files[] = {"train.csv", "train.jsonl", "eval.csv", "eval.jsonl", "train-*.csv",
                                           "train-*.jsonl", "eval-*.csv", "eval-*.jsonl", NULL};
static const char *const da_all_files[] = {"train.csv", "train.jsonl", "eval.csv", "eval.jsonl", "train-*.csv",
                                           "train-*.jsonl", "eval-*.csv", "eval-*.jsonl", "summary.json", "run.json",
                                           "window-final.png", "window-[0-9]*.png", "screenshot-*.png", NULL};

vkn_run_folder da_run_folder(const char *dir)
{
    return (vkn_run_folder){"vkn-da", dir, da_ckpt_files, da_all_files, da_log_files};
}

float da_opts_lr(const da_opts *o, int64_t step)
{
    double p = (double)step / (double)o->steps;
    switch (o->sched) {
    case DA_SCHED_CONSTANT: return (float)vkn_lr_constant(o->lr);
    case DA_SCHED_COSINE: return (float)vkn_lr_cosine(o->lr, 0.0, step, 0, o->steps);
    default: return (float)vkn_lr_dann(o->lr, p);
    }
}

float da_opts_lambda(const da_opts *o, const da_setting *s, int64_t step)
{
    if (s->method != DA_DANN) return 0.0f;
    return (float)(o->lambda_max * vkn_grl_lambda((double)step / (double)o->steps));
}
