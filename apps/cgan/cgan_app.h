/* vkn-cgan: the conditional GAN demo (issue 6). Shared types of its files:
 *
 *   main.c      options, run folder, the run loop (window or headless progress line), summary
 *   train.c     the worker thread: data -> vkn_cgan_step, checkpoints, grids, metrics, snapshots
 *   metrics.c   built-in quality metrics: a small CNN classifier trained by vknorm, conditional
 *               accuracy, predicted-class histogram, Frechet distance of classifier features
 *   ui.c        the window's panels and key actions
 *
 * Threads follow apps/common/vkn-viewer-demo.c: training in a worker pthread, the UI in the main
 * thread; snapshots go through a vkn_mailbox (latest wins), metric rows and messages through
 * vkn_queues, commands (pause, step, save, interpolate, quit) back through a third queue. */
#ifndef VKN_CGAN_APP_H
#define VKN_CGAN_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runfolder.h"
#include "viewer.h"
#include "vkn/vkn.h"
#include "vkn/data.h"
#include "vkn/io.h"
#include "vkn/models.h"

#define CG_CLASSES 10
#define CG_ROWS 10                          /* fixed noise vectors: rows of the sample grid */
#define CG_IMG 28
#define CG_PIX (CG_IMG * CG_IMG)
#define CG_GRID (CG_ROWS * CG_CLASSES)      /* = the model's sampling batch (config.samples) */
#define CG_MAXRUNS 2
#define CG_FEAT 64                          /* classifier penultimate features */

/* ------------------------------------------------------------------------------------------------ */
/* options (main.c)                                                                                  */

typedef struct cg_options {
    int base;                   /* --model small|base */
    const char *data;           /* --data fashion|mnist */
    vkn_norm_kind norm_g, norm_d;
    vkn_gan_loss loss;
    float lr_g, lr_d;
    int batch;
    uint64_t seed;
    int64_t steps;
    int ckpt_every, grid_every, eval_every;
    int eval_samples;           /* generated samples per evaluation (multiple of 100) */
    int real_samples;           /* real test images for the Frechet reference (multiple of 100) */
    int clf_steps;              /* classifier training steps (first run; cached) */
    bool resume, headless;
    char out[1024];
    int nruns;                  /* 2 in --compare mode */
    vkn_norm_kind run_norm_g[CG_MAXRUNS];
    const char *screenshot;     /* window: save a screenshot here when the run ends, then exit */
    int width, height;
    int show_class;             /* --show-class K: start the window on one class (-1: all) */
    int interp_a, interp_b;     /* --interpolate A,B: start the window on an interpolation (-1: none) */
    vkn_run_cli cli;            /* --resume, --overwrite, --override, the options given */
    /* set by main before the worker starts: */
    vkn_runopts opts;           /* every option, canonical (run.json; FIXED and FREE ones in checkpoints) */
    int nchanges;               /* on --resume: the options that differ from the run's */
    vkn_run_change changes[16];
    const char *commit;         /* the build's commit (run.json) */
} cg_options;

/* Parse argv. Returns 0 to run, 1 after --help (exit 0), 2 on a bad option (message printed). */
int cg_options_parse(cg_options *o, int argc, char **argv);
/* Every option of o, canonical, with how it may change on --resume (the list --help shows). */
void cg_options_describe(const cg_options *o, vkn_runopts *l);
/* The run folder of o (patterns of the files vkn-cgan writes there). */
vkn_run_folder cg_run_folder(const cg_options *o, const char *dir);

const char *const *cg_class_names(const char *data);   /* 10 short names */
const char *const *cg_class_abbrev(const char *data);  /* at most 4 characters (bar labels) */

/* ------------------------------------------------------------------------------------------------ */
/* metrics (metrics.c)                                                                               */

typedef struct cg_clf cg_clf;

/* Build the classifier (training graph with batch train_batch, evaluation graph with batch 100). */
vkn_status cg_clf_create(vkn_context *ctx, uint64_t seed, int train_batch, cg_clf **out);
void cg_clf_destroy(cg_clf *c);
/* steps Adam steps on shuffled batches of ds; stop (returns VKN_OK early) when *stop becomes true. */
vkn_status cg_clf_train(cg_clf *c, const vkn_dataset *ds, int steps, uint64_t seed, atomic_bool *stop,
                        void (*progress)(void *user, int step, float loss), void *user);
vkn_status cg_clf_save(cg_clf *c, const char *path, int steps);
vkn_status cg_clf_load(cg_clf *c, const char *path);
/* Classify n images [n, 1, 28, 28] in [-1, 1]: predicted class (pred, may be NULL) and penultimate
 * features (feat [n, CG_FEAT], may be NULL). */
vkn_status cg_clf_classify(cg_clf *c, const float *images, int n, int32_t *pred, float *feat);
/* The cache file of a classifier for a dataset and step count: <data dir>/cache/cgan-clf-... */
void cg_clf_cache_path(const char *data, int steps, char *buf, size_t n);

/* Mean and covariance of features (double). */
typedef struct cg_gauss {
    int d;
    double mu[CG_FEAT];
    double cov[CG_FEAT * CG_FEAT];
} cg_gauss;
void cg_gauss_fit(cg_gauss *g, const float *feat, int n, int d);
/* Eigen-decomposition of a symmetric n x n matrix (row-major, destroyed) by cyclic Jacobi rotations:
 * eigenvalues in w[n], eigenvectors as the columns of v (n x n, may be NULL). Returns the sweeps used. */
int cg_sym_eigen(double *a, int n, double *w, double *v);
/* Frechet distance |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). */
double cg_frechet(const cg_gauss *a, const cg_gauss *b);

typedef struct cg_eval {
    int64_t step;
    int n;                           /* samples evaluated */
    float acc;                       /* conditional accuracy (0..1) */
    float acc_class[CG_CLASSES];     /* per requested class */
    float share[CG_CLASSES];         /* share of predictions per class (0..1): the histogram */
    float max_share;                 /* largest share (mode-collapse alarm when >> 0.1) */
    float fd;                        /* Frechet distance to the real test features */
} cg_eval;

/* Score n images with requested labels against the real reference (real may be NULL: fd = NaN). */
vkn_status cg_eval_images(cg_clf *c, const float *images, const int32_t *labels, int n, const cg_gauss *real,
                          cg_eval *out);

/* ------------------------------------------------------------------------------------------------ */
/* the worker (train.c)                                                                              */

enum { CG_CMD_PAUSE, CG_CMD_RESUME, CG_CMD_STEP, CG_CMD_SAVE, CG_CMD_INTERP, CG_CMD_QUIT };
typedef struct cg_cmd { int cmd, a, b; } cg_cmd;

enum { CG_ROW_TRAIN, CG_ROW_EVAL };
typedef struct cg_row {
    int kind, run;
    int64_t step;                    /* steps completed */
    float loss_d, loss_g, d_real, d_fake, ms_step;
    cg_eval eval;
} cg_row;

typedef struct cg_msg { char text[512]; } cg_msg;

enum { CG_PHASE_START, CG_PHASE_CLASSIFIER, CG_PHASE_TRAIN, CG_PHASE_DONE };

#define CG_SLOT_ROWS 8
typedef struct cg_run_snap {
    char norm[16];
    float grid[CG_GRID * CG_PIX];    /* row r, class k at r * 10 + k */
    bool interp;                     /* interpolation images valid */
    int interp_a, interp_b;
    float interp_img[CG_GRID * CG_PIX]; /* row r, column j: t = j / 9 */
    bool has_eval;
    cg_eval eval;
    int ndiag;                       /* normalization layers of G (0..2) */
    vkn_norm_diag diag[2];
    int nslots[2];
    char slot_name[2][CG_SLOT_ROWS][24];
    float slot_stat[2][CG_SLOT_ROWS][4];  /* mean, std, min, max over the slot's elements */
    bool diverged;
} cg_run_snap;

typedef struct cg_snap {
    int64_t step, total;
    int phase;
    bool paused;
    double ms_step, samples_s;
    char status[160];
    int nruns;
    cg_run_snap run[CG_MAXRUNS];
} cg_snap;

typedef struct cg_worker cg_worker;

typedef struct cg_result {
    int rc;                          /* 0 ok, 1 error (message in error) */
    char error[1024];
    int64_t step;                    /* steps completed */
    double seconds, ms_step;
    bool has_eval[CG_MAXRUNS];
    cg_eval eval[CG_MAXRUNS];
    float clf_acc;                   /* classifier accuracy on the real test images */
    char dir[CG_MAXRUNS][1100];
    int side_failures;               /* side outputs (PNG grids, log rows) that could not be written */
    char side_first[600];            /* the first of them */
} cg_result;

/* Start the worker thread; the queues and mailbox are created here. window: post snapshots. */
vkn_status cg_worker_start(const cg_options *o, bool window, cg_worker **out);
vkn_mailbox *cg_worker_mailbox(cg_worker *w);
vkn_queue *cg_worker_rows(cg_worker *w);
vkn_queue *cg_worker_msgs(cg_worker *w);
void cg_worker_command(cg_worker *w, int cmd, int a, int b);
bool cg_worker_done(cg_worker *w);
/* Ask to stop (checkpoint and exit); safe from any thread, also during the classifier phase. */
void cg_worker_stop(cg_worker *w);
/* Join, fill *res, free. */
void cg_worker_finish(cg_worker *w, cg_result *res);

/* Render the sample grid of one run (class names above, z rows left, a title) to a PNG. */
vkn_status cg_grid_png(vkn_ui *ui, const float *images, const char *const *class_names, const char *title,
                       const char *path);

/* vkn-cgan sample ... (sample.c): argv[0] is "sample". Returns 0 (also after --help), 1 on an error
 * (printed), 2 on a bad option. */
int cg_sample_main(int argc, char **argv);

/* ------------------------------------------------------------------------------------------------ */
/* the window (ui.c)                                                                                 */

typedef struct cg_ui cg_ui;
/* Open the window (or report headless: *headless = true and *out = NULL). */
vkn_status cg_ui_open(const cg_options *o, cg_ui **out, bool *headless);
/* Run until quit (or until the run ends when o->screenshot is set); stops the worker on quit. Returns
 * 0, or 1 when the screenshot could not be written. */
int cg_ui_run(cg_ui *u, cg_worker *w);
void cg_ui_close(cg_ui *u);
/* For tests and tools: a ui on an offscreen canvas (no window), fed and drawn frame by frame. */
vkn_status cg_ui_open_offscreen(const cg_options *o, cg_ui **out);
void cg_ui_feed(cg_ui *u, const cg_snap *s, bool fresh);   /* a mailbox take: the history's part */
void cg_ui_draw(cg_ui *u, const cg_snap *s);
const char *cg_ui_grid_note(const cg_ui *u);                /* the samples panel's label as drawn */
int cg_ui_history_count(const cg_ui *u, int run);
vkn_canvas *cg_ui_canvas(cg_ui *u);

#endif
