/* vkn-da's model: a LeNet feature extractor with a normalization layer after each convolution, a
 * label head and a DANN domain head behind a gradient-reversal layer, as one training graph and two
 * inference graphs (source test images, target test images) over one parameter store.
 *
 *   features  conv5x5 32 -> norm -> relu -> maxpool 2 -> conv5x5 48 -> norm -> relu -> maxpool 2 -> flatten (768)
 *   label     FC 100 -> relu -> FC 100 -> relu -> FC 10              (source rows only)
 *   domain    grad_reverse(lambda) -> FC 100 -> relu -> FC 2         (all rows)
 *
 * One training step takes a batch of 2B images (B with --method noadapt: source rows only, no domain
 * head): B source rows then B target rows, normalized together
 * ("shared BN"); the context id of each row is its domain (0 source, 1 target) for the norms that use
 * contexts. The loss is softmax-CE of the label head on the source rows plus softmax-CE of the domain
 * head on all rows. Source-only training runs the same graph with lambda = 0: the domain head is then
 * a probe (it learns, but sends no gradient into the features) and the label loss alone trains them. */
#ifndef VKN_DA_MODEL_H
#define VKN_DA_MODEL_H

#include <stdint.h>

#include "vkn/vkn.h"

#define DA_IMG_C 3
#define DA_IMG_H 28
#define DA_IMG_W 28
#define DA_IMG_SIZE (DA_IMG_C * DA_IMG_H * DA_IMG_W)
#define DA_FEAT 768          /* 48 x 4 x 4 */
#define DA_CLASSES 10

/* source: source labels only, but the target batch flows through the features, so normalization
 *         statistics (shared, per-domain or mixture) see the target domain: the baseline of a norm;
 * dann:   + the domain head behind gradient reversal;
 * noadapt: no adaptation at all: the step holds B source images only and the target domain is never
 *         seen in training (the "source only" of the DANN paper). */
typedef enum da_method { DA_SOURCE_ONLY = 0, DA_DANN, DA_NOADAPT, DA_METHOD_COUNT } da_method;

/* Normalization choices of the feature extractor (rows of da_norm_table). */
typedef enum da_norm { DA_NORM_BN = 0, DA_NORM_DSBN, DA_NORM_CN, DA_NORM_CNX, DA_NORM_ACN, DA_NORM_NONE, DA_NORM_COUNT } da_norm;

/* Context of target images at test time (norms with contexts; "batch" applies to any norm). */
typedef enum da_tctx { DA_TCTX_OWN = 0, DA_TCTX_SOURCE, DA_TCTX_BATCH, DA_TCTX_COUNT } da_tctx;

const char *da_method_name(da_method m);      /* "source", "dann" */
const char *da_norm_name(da_norm n);          /* "bn", "dsbn", ... */
const char *da_norm_describe(da_norm n);      /* "shared BN (source and target normalized together)" */
const char *da_tctx_name(da_tctx t);          /* "own", "source", "batch" */
int da_norm_uses_ctx(da_norm n);
/* Parse a name; -1 when unknown. */
int da_method_parse(const char *s);
int da_norm_parse(const char *s);
int da_tctx_parse(const char *s);
/* The normalization options of a layer with C channels; infer: VKN_NORM_INFER_*. */
vkn_norm_opts da_norm_opts(da_norm n, int channels, vkn_norm_infer infer);

/* One setting: what a model is. */
typedef struct da_setting {
    da_method method;
    da_norm norm;
    da_tctx tctx;
    char label[48];   /* "dann-bn", "source-cn@source" */
} da_setting;
void da_setting_label(da_setting *s);

typedef enum da_optim { DA_OPTIM_ADAM = 0, DA_OPTIM_SGD } da_optim;

typedef struct da_model_cfg {
    da_setting set;
    int batch;              /* per domain: the step's batch is 2 * batch */
    int eval_batch;         /* inference batch */
    uint64_t seed;          /* parameter init */
    da_optim optim;
    float momentum;         /* sgd */
    float weight_decay;
} da_model_cfg;

typedef struct da_model {
    da_model_cfg cfg;
    vkn_context *ctx;
    vkn_params *p;
    vkn_graph *tr;                    /* training step */
    vkn_graph *ev[2];                 /* inference: [0] source images, [1] target images */
    vkn_val tr_x, tr_ctx, tr_y, tr_dom, tr_loss, tr_lloss, tr_dloss, tr_pred, tr_dpred;
    vkn_val ev_x[2], ev_ctx[2], ev_feat[2], ev_pred[2];
    char name[64];                    /* checkpoint model name: "vkn-da/lenet/<method>/<norm>" */
} da_model;

/* Per-step results. */
typedef struct da_step_out {
    float loss, label_loss, domain_loss;
    float src_acc;                    /* label accuracy on the source rows of the batch */
    float dom_acc;                    /* domain-classifier accuracy on all rows (NaN: noadapt has no domain head) */
} da_step_out;

/* Build and compile the three graphs. A norm kind the device does not implement yet is
 * VKN_ERR_UNSUPPORTED with a detail naming it. */
vkn_status da_model_create(vkn_context *ctx, const da_model_cfg *cfg, da_model **out);
void da_model_destroy(da_model *m);

/* Rows of a training step: 2B, or B for noadapt (source rows only). */
int da_model_train_rows(const da_model *m);
/* Host pointers of the training step's inputs: images [rows, 3, 28, 28] (source rows first) and the
 * source labels [B]. Target labels have no input: the step cannot see them. */
float *da_model_train_images(da_model *m);
int32_t *da_model_train_labels(da_model *m);
/* One step: the step tensor gets t = step + 1, lr and lambda. */
vkn_status da_model_train_step(da_model *m, int64_t step, float lr, float lambda, da_step_out *out);

/* Inference on eval_batch images of one domain (0 source, 1 target) already written into
 * da_model_eval_images(m, domain): predicted classes into pred, features [eval_batch, 768] into feat
 * (may be NULL). */
float *da_model_eval_images(da_model *m, int domain);
vkn_status da_model_eval(da_model *m, int domain, int32_t *pred, float *feat);

/* Checkpoints of the whole store (parameters, Adam state, running statistics), written atomically. */
vkn_status da_model_save(const da_model *m, const char *path, int64_t step, const char *const *meta);
vkn_status da_model_load(da_model *m, const char *path, int64_t *step);

/* All parameter values concatenated (learned parameters and buffers, store order): tests compare
 * runs bit for bit. *n receives the count; free() the result. */
float *da_model_dump(const da_model *m, int64_t *n);

#endif
