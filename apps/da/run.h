/* vkn-da's training run, without any display: data, one or two models (compare mode) fed the same
 * batches, the step with its schedules and NaN guard, evaluation on the full test sets, the fixed
 * sample set behind the window's sample rows and PCA, metric logs, checkpoints and resume.
 * Everything here runs on one thread (the worker of main.c, or a test). */
#ifndef VKN_DA_RUN_H
#define VKN_DA_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "opts.h"
#include "tasks.h"

#define DA_PCA_PER_DOMAIN 200

typedef struct da_run {
    da_opts o;
    vkn_context *ctx;
    da_data data;
    int nm;                          /* models: 1, or 2 in compare mode */
    da_model *m[2];
    vkn_data_loader *ld_src, *ld_tgt;    /* training batches (shuffled, seeded) */
    vkn_data_loader *ld_eval[2];         /* test sets in order */
    vkn_io_metrics *mtrain[2], *meval[2];
    char ckpt_path[2][640];
    int64_t step;                    /* steps done */
    int64_t start_step;              /* where this process started (resume) */
    int64_t ckpt_step;               /* step of the last checkpoint written or loaded (-1: none) */
    /* step timing (training steps only, data included) */
    double ms_last, ms_sum;
    int64_t ms_count;
    da_step_out last[2];
    float lr, lambda[2];
    /* evaluation */
    int64_t eval_step;               /* step of the last full evaluation (-1: none) */
    float src_acc[2], tgt_acc[2], best_tgt[2];
    int64_t best_step[2];
    float *batch_x;                  /* [2B * DA_IMG_SIZE]: the step's source rows, then its target rows */
    int32_t *batch_y;                /* [B] source labels */
    /* the fixed set: the first eval batch of each test set */
    int fixed_n;                     /* images per domain */
    float *fixed_img[2];             /* [fixed_n * DA_IMG_SIZE] per domain */
    int32_t *fixed_label[2];
    int32_t *fixed_pred[2][2];       /* [model][domain][fixed_n] */
    float *fixed_feat[2][2];         /* [model][domain][fixed_n * DA_FEAT] */
    float fixed_acc[2][2];           /* [model][domain] */
    int64_t fixed_step;
    /* PCA of the fixed features: DA_PCA_PER_DOMAIN source then target points per model */
    int pca_n;                       /* points per model (2 * min(fixed_n, DA_PCA_PER_DOMAIN)) */
    float *pca_xy[2];                /* [pca_n * 2] */
    int64_t pca_step;                /* -1: none yet */
    /* side outputs (log rows) that could not be written: reported once per log on stderr, counted;
     * never fatal, so the checkpoints are still written */
    int log_failures[2][2];          /* [model][train, eval] */
    int side_failures;
    char side_first[600];
} da_run;

/* Load the data, build the models, open the metric logs in o->out_dir (created), and with o->resume
 * load the checkpoints, fast-forward the data order to their step and cut the logs back to it (a
 * damaged CSV header is an error here). */
vkn_status da_run_open(da_run *r, const da_opts *o, vkn_context *ctx);
void da_run_close(da_run *r);

/* One training step of every model on the same batch. A non-finite loss is VKN_ERR_NOT_FINITE with a
 * message naming the model, the step and the last good checkpoint; nothing is saved then. */
vkn_status da_run_step(da_run *r);
/* Accuracy on the full source and target test sets (and the fixed set's predictions and features);
 * appends a row to each model's eval log. */
vkn_status da_run_eval(da_run *r);
/* Predictions (and features) of the fixed set only: the window's sample rows between evaluations. */
vkn_status da_run_fixed(da_run *r);
/* Recompute the PCA projection from the fixed set's features (after da_run_eval / da_run_fixed). */
vkn_status da_run_pca(da_run *r);
/* Checkpoint every model (atomic writes), the run's options in the metadata ("option:--seed", ...). */
vkn_status da_run_checkpoint(da_run *r);
/* DIR/summary.json: the options, final and best accuracies, timing. */
/* Record a side output that could not be written (printed the first time of each kind). */
void da_run_side_failed(da_run *r, int *kind, const char *what);
vkn_status da_run_write_summary(const da_run *r, double wall_s, const char *status);

/* Host PCA (exposed for tests): project n points of dimension d onto their top two principal
 * components. xy [n*2]; prev (NULL or the previous projection) fixes the signs so the picture does
 * not flip between refreshes. */
vkn_status da_pca2(const float *x, int n, int d, const float *prev, float *xy);

#endif
