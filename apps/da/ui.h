/* vkn-da's window: what the worker hands to the UI thread (a snapshot through the mailbox, metric rows
 * through a queue) and the panels drawn from them (sample rows with predictions, accuracy / domain /
 * lambda / loss curves, the PCA scatter, the run panel). */
#ifndef VKN_DA_UI_H
#define VKN_DA_UI_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "run.h"
#include "viewer.h"

#define DA_VIEW_PER_CLASS 2
#define DA_VIEW_N (DA_CLASSES * DA_VIEW_PER_CLASS)   /* sample images per domain */
#define DA_PCA_MAX (2 * DA_PCA_PER_DOMAIN)

typedef struct da_snap_model {
    char label[48];
    int32_t pred[2][DA_VIEW_N];       /* [domain][sample] */
    float fixed_acc[2];               /* accuracy on the fixed set per domain */
    float src_acc, tgt_acc, best_tgt; /* last full evaluation (NaN: none yet) */
    float dom_acc;                    /* domain classifier on the last training batch */
    float lambda;
    float xy[DA_PCA_MAX * 2];
} da_snap_model;

typedef struct da_snapshot {
    int64_t step, total, eval_step, pca_step;
    int nm;
    int pca_n;                        /* points: pca_n/2 source then pca_n/2 target */
    float img[2][DA_VIEW_N][DA_IMG_SIZE];
    int32_t truth[2][DA_VIEW_N];
    int32_t pt_class[DA_PCA_MAX], pt_dom[DA_PCA_MAX];
    da_snap_model m[2];
    double ms_step, ms_mean;
    int images_per_step;              /* 2 * batch * models */
    float lr;
    bool png;                         /* headless: save this frame */
    bool done, failed, stopped;       /* finished / stopped by an error / stopped by the user */
    char message[768];
    char title[160];                  /* "MNIST → textured MNIST" */
} da_snapshot;

typedef struct da_row {
    int64_t step;
    bool is_eval;
    float label_loss[2], domain_loss[2], src_batch_acc[2], dom_acc[2], lambda[2];
    float src_acc[2], tgt_acc[2];     /* is_eval */
    float lr;
    double ms;
} da_row;

/* Fill a snapshot from the run (the fixed set's sample picks, predictions, PCA, numbers). */
void da_snapshot_fill(da_snapshot *s, const da_run *r);

typedef struct da_ui {
    int nm;
    vkn_chart acc, dom, loss;
    da_row last;                      /* latest training row */
    bool have_last;
} da_ui;

void da_ui_init(da_ui *u, const da_run *r);
void da_ui_free(da_ui *u);
void da_ui_push(da_ui *u, const da_row *row);
/* Draw the whole window. state: "TRAINING", "PAUSED", "DONE", ...; toast: a transient note or NULL. */
void da_ui_draw(vkn_view *v, const da_ui *u, const da_snapshot *s, const char *state, vkn_color state_col,
                const char *toast);

#endif
