/* vkn-da's training run (run.h). */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static vkn_status mkdirs(const char *path)
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || !*p) {
            char keep = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return vkn_status_set(VKN_ERR_IO, "vkn-da: cannot create the run folder %s: %s", buf, strerror(errno));
            *p = keep;
            if (!keep) break;
        }
    }
    return VKN_OK;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- open / close ---- */

static void log_name(const da_run *r, int k, const char *kind, char *buf, size_t n);

static vkn_status open_logs(da_run *r, int append)
{
    for (int k = 0; k < r->nm; k++) {
        char name[96];
        log_name(r, k, "train", name, sizeof name);
        VKN_TRY(vkn_io_metrics_open(r->o.out_dir, name, append, &r->mtrain[k]));
        log_name(r, k, "eval", name, sizeof name);
        VKN_TRY(vkn_io_metrics_open(r->o.out_dir, name, append, &r->meval[k]));
    }
    return VKN_OK;
}

static vkn_status fixed_set(da_run *r)
{
    const vkn_dataset *test[2] = {&r->data.src_test, &r->data.tgt_test};
    const int E = r->o.eval_batch;
    r->fixed_n = E;
    for (int d = 0; d < 2; d++) if (test[d]->n < r->fixed_n) r->fixed_n = test[d]->n;
    for (int d = 0; d < 2; d++) {
        r->fixed_img[d] = malloc((size_t)E * DA_IMG_SIZE * sizeof(float));
        r->fixed_label[d] = malloc((size_t)E * sizeof(int32_t));
        for (int k = 0; k < r->nm; k++) {
            r->fixed_pred[k][d] = calloc((size_t)E, sizeof(int32_t));
            r->fixed_feat[k][d] = calloc((size_t)E * DA_FEAT, sizeof(float));
            if (!r->fixed_pred[k][d] || !r->fixed_feat[k][d]) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: fixed set");
        }
        if (!r->fixed_img[d] || !r->fixed_label[d]) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: fixed set");
        /* the first batch of the in-order test loader */
        vkn_data_loader_reset(r->ld_eval[d]);
        VKN_TRY(vkn_data_batch_fill(r->ld_eval[d], r->fixed_img[d], r->fixed_label[d], NULL));
        vkn_data_loader_reset(r->ld_eval[d]);
    }
    int per = r->fixed_n < DA_PCA_PER_DOMAIN ? r->fixed_n : DA_PCA_PER_DOMAIN;
    r->pca_n = 2 * per;
    for (int k = 0; k < r->nm; k++)
        if (!(r->pca_xy[k] = calloc((size_t)r->pca_n * 2, sizeof(float)))) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: pca");
    return VKN_OK;
}

void da_run_side_failed(da_run *r, int *kind, const char *what)
{
    if (!r->side_failures++) snprintf(r->side_first, sizeof r->side_first, "%s", what);
    if (!(*kind)++) fprintf(stderr, "\nvkn-da: warning: %s; training goes on (later failures of this output are counted "
                            "in the summary)\n", what);
}

static const char *const train_cols[] = {"step", "loss", "label_loss", "domain_loss", "src_batch_acc", "domain_acc",
                                         "lambda", "lr", "ms_step"};
static const char *const eval_cols[] = {"step", "src_acc", "tgt_acc", "fixed_src_acc", "fixed_tgt_acc", "src_n", "tgt_n"};

static void log_name(const da_run *r, int k, const char *kind, char *buf, size_t n)
{
    if (r->nm == 1) snprintf(buf, n, "%s", kind);
    else snprintf(buf, n, "%s-%s", kind, r->o.set[k].label);
}

static vkn_status resume(da_run *r)
{
    int64_t at = -1;
    for (int k = 0; k < r->nm; k++) {
        if (!file_exists(r->ckpt_path[k]))
            return vkn_status_set(VKN_ERR_IO, "vkn-da: --resume: no checkpoint %s (start the run without --resume, or "
                                  "give the run's --out folder and the same settings)", r->ckpt_path[k]);
        int64_t s = -1;
        VKN_TRY(da_model_load(r->m[k], r->ckpt_path[k], &s));
        if (s > r->o.steps)   /* the batches up to it are replayed below: refuse a step the run never reached */
            return vkn_status_set(VKN_ERR_FORMAT, "vkn-da: --resume: checkpoint %s is at step %lld, past the run's --steps "
                                  "%lld (a damaged checkpoint, or give --steps %lld or more)", r->ckpt_path[k], (long long)s,
                                  (long long)r->o.steps, (long long)s);
        if (k > 0 && s != at)
            return vkn_status_set(VKN_ERR_FORMAT, "vkn-da: --resume: the checkpoints of %s (step %lld) and %s (step %lld) "
                                  "disagree", r->o.set[0].label, (long long)at, r->o.set[k].label, (long long)s);
        at = s;
    }
    if (at < 0) at = 0;
    /* the data order is a function of (seed, batches drawn): replay it to the checkpoint's step */
    float *scratch = malloc((size_t)r->o.batch * DA_IMG_SIZE * sizeof(float));
    if (!scratch) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: resume");
    vkn_status s = VKN_OK;
    for (int64_t i = 0; i < at && s == VKN_OK; i++) s = vkn_data_pair_fill(r->ld_src, r->ld_tgt, scratch, NULL, scratch, NULL);
    free(scratch);
    r->step = r->start_step = r->ckpt_step = at;
    VKN_TRY(s);
    /* the logs end at the checkpoint: train rows carry the step index (0..at-1 are done), eval rows the
     * steps done (the evaluation at `at` came before the checkpoint and is not repeated) */
    for (int k = 0; k < r->nm; k++) {
        char name[96];
        int dropped = 0;
        log_name(r, k, "train", name, sizeof name);
        VKN_TRY(vkn_run_log_cut(r->o.out_dir, name, train_cols, 9, at, &dropped));
        if (dropped)
            fprintf(stderr, "vkn-da: %s/%s.csv: %d row(s) after the checkpoint's step %lld removed (they are trained "
                    "again)\n", r->o.out_dir, name, dropped, (long long)at);
        log_name(r, k, "eval", name, sizeof name);
        VKN_TRY(vkn_run_log_cut(r->o.out_dir, name, eval_cols, 7, at + 1, NULL));
    }
    return VKN_OK;
}

vkn_status da_run_open(da_run *r, const da_opts *o, vkn_context *ctx)
{
    memset(r, 0, sizeof *r);
    r->o = *o;
    r->ctx = ctx;
    r->nm = o->nset;
    r->ckpt_step = r->eval_step = r->pca_step = r->fixed_step = -1;
    for (int k = 0; k < 2; k++) r->best_tgt[k] = -1.0f, r->best_step[k] = -1, r->src_acc[k] = r->tgt_acc[k] = NAN;
    VKN_TRY(da_data_load(&r->data, o->task, o->train_n, o->eval_n));
    vkn_loader_opts lo = {.batch = o->batch, .mode = VKN_BATCH_SHUFFLE, .seed = o->seed, .channels = 3};
    VKN_TRY(vkn_data_loader_create(&r->ld_src, &r->data.src_train, &lo));
    lo.seed = o->seed * 7919u + 17u;   /* the target's order is independent of the source's */
    VKN_TRY(vkn_data_loader_create(&r->ld_tgt, &r->data.tgt_train, &lo));
    vkn_loader_opts le = {.batch = o->eval_batch, .mode = VKN_BATCH_SEQUENTIAL, .seed = 0, .channels = 3};
    VKN_TRY(vkn_data_loader_create(&r->ld_eval[0], &r->data.src_test, &le));
    VKN_TRY(vkn_data_loader_create(&r->ld_eval[1], &r->data.tgt_test, &le));
    for (int k = 0; k < r->nm; k++) {
        da_model_cfg c = {.set = o->set[k], .batch = o->batch, .eval_batch = o->eval_batch, .seed = o->seed,
                          .optim = o->optim, .momentum = o->momentum, .weight_decay = o->weight_decay};
        VKN_TRY(da_model_create(ctx, &c, &r->m[k]));
        snprintf(r->ckpt_path[k], sizeof r->ckpt_path[k], "%s/ckpt-%s.safetensors", o->out_dir, o->set[k].label);
    }
    r->batch_x = malloc((size_t)2 * o->batch * DA_IMG_SIZE * sizeof(float));
    r->batch_y = malloc((size_t)o->batch * sizeof(int32_t));
    if (!r->batch_x || !r->batch_y) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: training batch");
    VKN_TRY(fixed_set(r));
    VKN_TRY(mkdirs(o->out_dir));
    if (o->resume) VKN_TRY(resume(r));
    return open_logs(r, o->resume);
}

void da_run_close(da_run *r)
{
    for (int k = 0; k < 2; k++) {
        vkn_io_metrics_close(r->mtrain[k]);
        vkn_io_metrics_close(r->meval[k]);
        da_model_destroy(r->m[k]);
        free(r->pca_xy[k]);
        for (int d = 0; d < 2; d++) free(r->fixed_pred[k][d]), free(r->fixed_feat[k][d]);
    }
    free(r->batch_x);
    free(r->batch_y);
    for (int d = 0; d < 2; d++) {
        free(r->fixed_img[d]);
        free(r->fixed_label[d]);
        vkn_data_loader_destroy(r->ld_eval[d]);
    }
    vkn_data_loader_destroy(r->ld_src);
    vkn_data_loader_destroy(r->ld_tgt);
    da_data_free(&r->data);
    memset(r, 0, sizeof *r);
}

/* ---- training ---- */

vkn_status da_run_step(da_run *r)
{
    const int B = r->o.batch;
    const size_t half = (size_t)B * DA_IMG_SIZE;
    double t0 = now_s();
    /* source rows, then target rows; the target labels are not even read. Every setting draws both
     * batches, so the data order is the same whatever the method; noadapt takes the source rows only. */
    VKN_TRY(vkn_data_pair_fill(r->ld_src, r->ld_tgt, r->batch_x, r->batch_y, r->batch_x + half, NULL));
    for (int k = 0; k < r->nm; k++) {
        memcpy(da_model_train_images(r->m[k]), r->batch_x, (size_t)da_model_train_rows(r->m[k]) * DA_IMG_SIZE * sizeof(float));
        memcpy(da_model_train_labels(r->m[k]), r->batch_y, (size_t)B * sizeof(int32_t));
    }
    r->lr = da_opts_lr(&r->o, r->step);
    for (int k = 0; k < r->nm; k++) {
        r->lambda[k] = da_opts_lambda(&r->o, &r->o.set[k], r->step);
        VKN_TRY(da_model_train_step(r->m[k], r->step, r->lr, r->lambda[k], &r->last[k]));
    }
    double ms = (now_s() - t0) * 1e3;
    r->ms_last = ms;
    if (r->step > r->start_step) r->ms_sum += ms, r->ms_count++;   /* the first step includes warm-up */
    for (int k = 0; k < r->nm; k++) {
        const da_step_out *s = &r->last[k];
        if (!isfinite(s->loss)) {
            char ck[800];
            if (r->ckpt_step >= 0)
                snprintf(ck, sizeof ck, "the last good checkpoint is %s (step %lld); it was not overwritten", r->ckpt_path[k],
                         (long long)r->ckpt_step);
            else
                snprintf(ck, sizeof ck, "no checkpoint had been written yet");
            return vkn_status_set(VKN_ERR_NOT_FINITE, "the loss of %s became %s at step %lld (label loss %g, domain loss %g, "
                                  "lr %g, lambda %g): training stopped; %s. Try a smaller --lr.", r->o.set[k].label,
                                  isnan(s->loss) ? "NaN" : "infinite", (long long)r->step, s->label_loss, s->domain_loss,
                                  r->lr, r->lambda[k], ck);
        }
        vkn_io_metric kv[] = {
            {"step", (double)r->step}, {"loss", s->loss}, {"label_loss", s->label_loss}, {"domain_loss", s->domain_loss},
            {"src_batch_acc", s->src_acc}, {"domain_acc", s->dom_acc}, {"lambda", r->lambda[k]}, {"lr", r->lr},
            {"ms_step", ms},
        };
        if (vkn_io_metrics_write(r->mtrain[k], kv, (int)(sizeof kv / sizeof *kv)) != VKN_OK)
            da_run_side_failed(r, &r->log_failures[k][0], vkn_status_detail());
    }
    r->step++;
    return VKN_OK;
}

/* ---- evaluation ---- */

static vkn_status eval_batch_all(da_run *r, int d, const float *img, int32_t *pred[2], float *feat[2])
{
    const size_t bytes = (size_t)r->o.eval_batch * DA_IMG_SIZE * sizeof(float);
    for (int k = 0; k < r->nm; k++) {
        memcpy(da_model_eval_images(r->m[k], d), img, bytes);
        VKN_TRY(da_model_eval(r->m[k], d, pred[k], feat ? feat[k] : NULL));
    }
    return VKN_OK;
}

static void fixed_acc(da_run *r)
{
    for (int k = 0; k < r->nm; k++)
        for (int d = 0; d < 2; d++) {
            int right = 0;
            for (int i = 0; i < r->fixed_n; i++) right += r->fixed_pred[k][d][i] == r->fixed_label[d][i];
            r->fixed_acc[k][d] = (float)right / (float)r->fixed_n;
        }
    r->fixed_step = r->step;
}

vkn_status da_run_fixed(da_run *r)
{
    for (int d = 0; d < 2; d++) {
        int32_t *pred[2] = {r->fixed_pred[0][d], r->fixed_pred[1][d]};
        float *feat[2] = {r->fixed_feat[0][d], r->fixed_feat[1][d]};
        VKN_TRY(eval_batch_all(r, d, r->fixed_img[d], pred, feat));
    }
    fixed_acc(r);
    return VKN_OK;
}

vkn_status da_run_eval(da_run *r)
{
    const int E = r->o.eval_batch;
    float *img = malloc((size_t)E * DA_IMG_SIZE * sizeof(float));
    int32_t *labels = malloc((size_t)E * sizeof(int32_t)), *p0 = malloc((size_t)E * 2 * sizeof(int32_t));
    if (!img || !labels || !p0) {
        free(img), free(labels), free(p0);
        return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: eval");
    }
    vkn_status s = VKN_OK;
    int64_t right[2][2] = {{0}}, total[2] = {0};
    for (int d = 0; d < 2 && s == VKN_OK; d++) {
        vkn_data_loader *ld = r->ld_eval[d];
        vkn_data_loader_reset(ld);
        int32_t nb = vkn_data_loader_batches_per_epoch(ld);
        for (int32_t b = 0; b < nb && s == VKN_OK; b++) {
            s = vkn_data_batch_fill(ld, img, labels, NULL);
            if (s != VKN_OK) break;
            int valid = vkn_data_loader_last_valid(ld);
            int32_t *pred[2] = {b == 0 ? r->fixed_pred[0][d] : p0, b == 0 ? r->fixed_pred[1][d] : p0 + E};
            float *feat[2] = {r->fixed_feat[0][d], r->fixed_feat[1][d]};
            s = eval_batch_all(r, d, img, pred, b == 0 ? feat : NULL);
            for (int k = 0; k < r->nm && s == VKN_OK; k++)
                for (int i = 0; i < valid; i++) right[k][d] += pred[k][i] == labels[i];
            total[d] += valid;
        }
        vkn_data_loader_reset(ld);
    }
    free(img), free(labels), free(p0);
    if (s != VKN_OK) return s;
    fixed_acc(r);
    r->eval_step = r->step;
    for (int k = 0; k < r->nm; k++) {
        r->src_acc[k] = (float)((double)right[k][0] / (double)total[0]);
        r->tgt_acc[k] = (float)((double)right[k][1] / (double)total[1]);
        if (r->tgt_acc[k] > r->best_tgt[k]) r->best_tgt[k] = r->tgt_acc[k], r->best_step[k] = r->step;
        vkn_io_metric kv[] = {
            {"step", (double)r->step}, {"src_acc", r->src_acc[k]}, {"tgt_acc", r->tgt_acc[k]},
            {"fixed_src_acc", r->fixed_acc[k][0]}, {"fixed_tgt_acc", r->fixed_acc[k][1]},
            {"src_n", (double)total[0]}, {"tgt_n", (double)total[1]},
        };
        if (vkn_io_metrics_write(r->meval[k], kv, (int)(sizeof kv / sizeof *kv)) != VKN_OK)
            da_run_side_failed(r, &r->log_failures[k][1], vkn_status_detail());
    }
    return VKN_OK;
}

vkn_status da_run_pca(da_run *r)
{
    const int per = r->pca_n / 2;
    float *x = malloc((size_t)r->pca_n * DA_FEAT * sizeof(float));
    if (!x) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: pca");
    vkn_status s = VKN_OK;
    for (int k = 0; k < r->nm && s == VKN_OK; k++) {
        memcpy(x, r->fixed_feat[k][0], (size_t)per * DA_FEAT * sizeof(float));
        memcpy(x + (size_t)per * DA_FEAT, r->fixed_feat[k][1], (size_t)per * DA_FEAT * sizeof(float));
        s = da_pca2(x, r->pca_n, DA_FEAT, r->pca_step >= 0 ? r->pca_xy[k] : NULL, r->pca_xy[k]);
    }
    free(x);
    if (s == VKN_OK) r->pca_step = r->fixed_step;
    return s;
}

vkn_status da_run_checkpoint(da_run *r)
{
    /* the run's options (--resume takes them from here), and what this checkpoint's model is */
    vkn_runopts opts;
    da_opts_describe(&r->o, &opts);
    vkn_run_meta om;
    vkn_run_meta_fill(&om, &opts);
    for (int k = 0; k < r->nm; k++) {
        const char *meta[2 * VKN_RUN_MAX_OPTS + 8] = {"app", "vkn-da", "setting", r->o.set[k].label};
        int n = 4;
        for (int i = 0; om.kv[i]; i++) meta[n++] = om.kv[i];
        meta[n] = NULL;
        VKN_TRY(da_model_save(r->m[k], r->ckpt_path[k], r->step, meta));
    }
    r->ckpt_step = r->step;
    return VKN_OK;
}

static void json_num(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v)) fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", ");
    else fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

vkn_status da_run_write_summary(const da_run *r, double wall_s, const char *status)
{
    char path[700];
    snprintf(path, sizeof path, "%s/summary.json", r->o.out_dir);
    vkn_io_atomic *a;
    VKN_TRY(vkn_io_atomic_open(path, "vkn-da: summary", &a));
    FILE *f = vkn_io_atomic_file(a);
    fprintf(f, "{\"app\": \"vkn-da\", \"task\": \"%s\", \"source\": \"%s\", \"target\": \"%s\", \"status\": \"%s\", ",
            da_task_name(r->o.task), r->data.src_name, r->data.tgt_name, status);
    fprintf(f, "\"seed\": %llu, \"steps\": %lld, \"steps_done\": %lld, \"batch\": %d, \"lr\": %g, \"schedule\": \"%s\", ",
            (unsigned long long)r->o.seed, (long long)r->o.steps, (long long)r->step, r->o.batch, r->o.lr,
            da_sched_name(r->o.sched));
    json_num(f, "ms_per_step", r->ms_count ? r->ms_sum / (double)r->ms_count : NAN, 0);
    json_num(f, "wall_s", wall_s, 0);
    fprintf(f, "\"models\": [");
    for (int k = 0; k < r->nm; k++) {
        const da_setting *s = &r->o.set[k];
        fprintf(f, "%s{\"setting\": \"%s\", \"method\": \"%s\", \"norm\": \"%s\", \"target_ctx\": \"%s\", \"eval_step\": %lld, ",
                k ? ", " : "", s->label, da_method_name(s->method), da_norm_name(s->norm), da_tctx_name(s->tctx),
                (long long)r->eval_step);
        json_num(f, "src_acc", r->src_acc[k], 0);
        json_num(f, "tgt_acc", r->tgt_acc[k], 0);
        json_num(f, "best_tgt_acc", r->best_tgt[k] >= 0 ? r->best_tgt[k] : NAN, 0);
        fprintf(f, "\"best_step\": %lld, ", (long long)r->best_step[k]);
        json_num(f, "domain_acc", r->last[k].dom_acc, 1);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
    return vkn_io_atomic_commit(a);
}
