/* vknorm normalization layers: the method kinds, their options, and their parameter slots.
 *
 * Every method normalizes an activation tensor x of shape (N, C, P), contiguous, P = H*W (NCHW);
 * a dense (N x D) input is the case C := D, P := 1. Context ids / class labels are int32[N].
 * The mathematics of each method is in shared/NORMS.md; docs/NORMS.md explains the options in a
 * user's words. The plain-C double-precision reference (vkn/norm_ref.h) is the executable
 * specification the device kernels are tested against.
 *
 * Parameter slots: each method owns a fixed, ordered list of flat tensors ("slots"): learned
 * parameters (with a gradient) and buffers (running statistics, EM state, constants). The device
 * side stores slot i as one f32 tensor of the slot's shape ([C], or [K, C] for per-context and
 * per-component tables), in the order given by vkn_norm_slots(); checkpoints use the slot names and
 * these shapes (docs/CHECKPOINTS.md). Multi-dimensional slots are row-major: a "K x C" slot holds
 * element (k, c) at k*C + c.
 */
#ifndef VKN_NORM_H
#define VKN_NORM_H

#include <stddef.h>
#include <stdint.h>

#include "vkn/cmd.h"
#include "vkn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------------------------- */
typedef enum vkn_norm_kind {
    VKN_NORM_NONE = 0, /* "none": identity, no slots */
    VKN_NORM_BN,       /* "bn":  batch norm, statistics per channel over (N,P) */
    VKN_NORM_LN,       /* "ln":  layer norm, per sample over (C,P); per-channel affine */
    VKN_NORM_IN,       /* "in":  instance norm, per (sample, channel) over P */
    VKN_NORM_GN,       /* "gn":  group norm, per (sample, group of C/G channels) */
    VKN_NORM_CBN,      /* "cbn": conditional BN: shared batch statistics, per-class gamma/beta */
    VKN_NORM_CN,       /* "cn":  context norm (v3): per-(context, channel) batch norm, per-context
                                 affine, output / sqrt(prior_k) */
    VKN_NORM_CNX,      /* "cnx": context norm extended: learned per-context mean / log-std table
                                 (or the CN-emb embedder, option cnx_embedder) */
    VKN_NORM_ACN,      /* "acn": adaptive context norm, the intended form ACN-R: learned per-channel
                                 1-D Gaussian mixture, soft posteriors, weighted moments */
    VKN_NORM_MN,       /* "mn":  mixture norm, per-channel 1-D GMM fitted by EM (one iteration per
                                 training step, warm-started), E-step = the ACN posterior */
    VKN_NORM_BCN,      /* "bcn": batch-channel norm (Khaled et al.): learned per-channel blend of BN
                                 and LN normalizations */
    VKN_NORM_UBN,      /* "ubn": UBN (feature-condensation threshold): BN whose statistics step is
                                 skipped when the samples' mean cosine similarity exceeds a threshold */
    VKN_NORM_AFN,      /* "afn": adaptive fusion norm: BN statistics refined by gated encoder-decoder
                                 MLPs */
    VKN_NORM_KIND_COUNT_
} vkn_norm_kind;

/* Canonical lower-case name of a kind ("bn", "cnx", ...); "?" for an invalid kind. */
const char *vkn_norm_kind_name(vkn_norm_kind kind);

/* Parse a CLI name (case-insensitive; "cn-x" and "cn_x" are accepted for "cnx"). On failure returns
 * VKN_ERR_ARG with a detail that lists the valid names. */
vkn_status vkn_norm_kind_from_name(const char *name, vkn_norm_kind *kind);

/* "none, bn, ln, in, gn, cbn, cn, cnx, acn, mn, bcn, ubn, afn" (for help texts). */
const char *vkn_norm_kind_list(void);

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

/* Which statistics inference (train = 0) uses. */
typedef enum vkn_norm_infer {
    VKN_NORM_INFER_RUNNING = 0, /* running statistics, where the method keeps them (default) */
    VKN_NORM_INFER_BATCH,       /* statistics of the current (test) batch, as in training but with no
                                   running / EM update: the "test-batch statistics" switch */
    VKN_NORM_INFER_LEARNED,     /* acn only: the learned mixture means / variances replace the
                                   moments (the authors' code's inference branch) */
} vkn_norm_infer;

/* eps == VKN_NORM_EPS_DEFAULT (0) selects the method's default (see vkn_norm_eps). */
#define VKN_NORM_EPS_DEFAULT 0.0

/* Start from vkn_norm_opts_default(kind, channels) and change the fields you need.
 * Fields that do not apply to the kind are ignored. */
typedef struct vkn_norm_opts {
    vkn_norm_kind kind;
    int channels;           /* C (conv) or D (dense); >= 1 */
    int affine;             /* 1: learned gamma/beta (bn, ln, in, gn, cn, mn, bcn, ubn: default 1);
                               cbn requires 1; acn, cnx, afn have none and require 0 */
    double eps;             /* > 0, or VKN_NORM_EPS_DEFAULT for the method's default; < 0 is an error */
    double momentum;        /* running statistics, PyTorch convention: run = (1-m)*run + m*batch;
                               in [0, 1], default 0.1. Running variances are stored unbiased. */
    vkn_norm_infer infer;   /* statistics used when train = 0 (default RUNNING) */

    int groups;             /* gn: number of groups G, must divide channels (default: largest
                               divisor of C that is <= 32) */
    int contexts;           /* cbn: classes; cn, cnx: contexts K (ids 0..K-1); default 1 */
    const double *cn_priors;/* cn: K prior weights lambda_k > 0, copied into the "priors" slot at
                               init; NULL => uniform 1/K */
    int cn_prior_scale;     /* cn: 1 (default) divides the output by sqrt(lambda_k); 0 turns it off */
    int cnx_embedder;       /* cnx: 0 (default) = per-context table (CN-X); 1 = CN-emb: mean and
                               log-std from two Dense layers on the one-hot context id */
    int components;         /* acn, mn: mixture components K (default 3) */
    double mn_var_floor;    /* mn: floor added to the EM component variances (default 1e-4) */
    double ubn_threshold;   /* ubn: similarity threshold tau (default 0.9) */
    int ubn_batch_stats_above; /* ubn: above the threshold, 0 (default) normalizes with the running
                               statistics; 1 keeps the batch statistics (only the EMA is skipped) */
    double afn_dropout;     /* afn: dropout p on mu_B, sigma_B before the standardization encoder,
                               train only; in [0, 1), default 0.3 */
    int afn_hidden_std;     /* afn: hidden width of the standardization encoder; 0 => max(1, C/2) */
    int afn_hidden_rescale; /* afn: hidden width of the rescaling encoder; 0 => max(1, C/16) */
} vkn_norm_opts;

/* The defaults of a kind for C channels (no validation: call vkn_norm_opts_check). */
vkn_norm_opts vkn_norm_opts_default(vkn_norm_kind kind, int channels);

/* The most elements one parameter slot may hold (channels, contexts x channels, components x
 * channels, hidden width x channels: 2^24, where fp32 still counts every index exactly). The device
 * may hold less: vkn_norm_create checks its buffer limits. */
#define VKN_NORM_MAX_ELEMENTS (1 << 24)

/* VKN_OK, or VKN_ERR_ARG with a detail naming the method, the field, the value and the fix.
 * Checks every count against VKN_NORM_MAX_ELEMENTS (products in 64 bits). */
vkn_status vkn_norm_opts_check(const vkn_norm_opts *o);

/* The eps actually used: o->eps if > 0, else the method default (bn, ln, in, gn, cbn, mn, bcn, ubn:
 * 1e-5; cn, cnx, acn: 1e-3; afn: 1e-6). */
double vkn_norm_eps(const vkn_norm_opts *o);

/* AFN hidden widths actually used. */
int vkn_norm_afn_hidden_std(const vkn_norm_opts *o);
int vkn_norm_afn_hidden_rescale(const vkn_norm_opts *o);

/* Whether a kind needs int32 ids per sample (cbn, cn, cnx). */
int vkn_norm_needs_ctx(vkn_norm_kind kind);

/* ---------------------------------------------------------------------------------------------
 * Parameter slots
 * ------------------------------------------------------------------------------------------- */
#define VKN_NORM_MAX_SLOTS 24

typedef enum vkn_norm_init_rule {
    VKN_NORM_INIT_CONST,     /* every element = a */
    VKN_NORM_INIT_UNIFORM,   /* i.i.d. U(a, b) (Glorot: a = -sqrt(6/(fan_in+fan_out)), b = -a;
                                PyTorch Linear default: b = -a = 1/sqrt(fan_in)) */
    VKN_NORM_INIT_PRIORS,    /* cn priors: opts.cn_priors, or 1/K */
    VKN_NORM_INIT_NORMALIZED_UNIFORM, /* acn prior logits: p_k = u_k / sum_l u_l, u_k ~ U(a, b) */
    VKN_NORM_INIT_LINSPACE,  /* "K x C": element (k, c) = a + (b - a) * k / (K - 1); (a+b)/2 if K = 1 */
} vkn_norm_init_rule;

typedef struct vkn_norm_slot {
    const char *name;        /* unique within the layer: "gamma", "running_mean", "means", ... */
    int learned;             /* 1: learned parameter (has a gradient); 0: buffer (no gradient) */
    int rank;                /* 1 or 2 */
    int shape[2];            /* shape[0] (x shape[1] when rank = 2), row-major */
    int count;               /* number of elements */
    vkn_norm_init_rule init;
    double a, b;             /* init rule parameters */
} vkn_norm_slot;

/* Fill slots[0..*count) with the method's tensors in their fixed order. Checks the options. */
vkn_status vkn_norm_slots(const vkn_norm_opts *o, vkn_norm_slot slots[VKN_NORM_MAX_SLOTS], int *count);

/* Index of the slot with this name for these options, or -1. */
int vkn_norm_slot_index(const vkn_norm_opts *o, const char *name);

/* =============================================================================================
 * Device-side normalization functions (layer objects, forward/backward launchers on tensors).
 * Reserved: added by the runtime / shader work (issue 3), tested against vkn/norm_ref.h.
 * ============================================================================================= */

/* Layer objects on the device. A vkn_norm owns its slot tensors (f32, one per slot of
 * vkn_norm_slots, initialised exactly like vkn_norm_ref_init with the same seed), one gradient tensor
 * per learned slot, and the workspace the forward saves for the backward (allocated from the arena
 * at the first record for a shape; a record with another (N, P) allocates a new workspace).
 * Everything records into a vkn_cmd; nothing runs until the stream is submitted.
 *
 * Context / class ids (cbn, cn, cnx) are an int32 tensor [N] on the device. The device cannot return
 * an error, so ids outside 0..contexts-1 are clamped into range by the kernels and flagged per
 * sample; after the run, vkn_norm_check_ids() reports the first bad sample as VKN_ERR_ARG. */
typedef struct vkn_norm vkn_norm;

/* Refuses (VKN_ERR_UNSUPPORTED, naming the limit) a layer beyond what the device can run: its largest
 * buffer over the storage-buffer range, or on llvmpipe more contexts than its shader loop limit
 * allows (docs/NORMS.md, "Sizes"). */
vkn_status vkn_norm_create(vkn_context *ctx, vkn_arena *arena, const vkn_norm_opts *o, uint64_t seed,
                           vkn_norm **out);
void vkn_norm_destroy(vkn_norm *nm);
const vkn_norm_opts *vkn_norm_options(const vkn_norm *nm);

int vkn_norm_slot_count(const vkn_norm *nm);
const vkn_tensor *vkn_norm_slot_tensor(const vkn_norm *nm, int i);
/* Gradient of learned slot i (overwritten by every backward); NULL for buffers. */
const vkn_tensor *vkn_norm_grad_tensor(const vkn_norm *nm, int i);

/* Use other tensors for slot i's value (values[i]) and gradient (grads[i]) from now on: several
 * applications of one layer (a discriminator on real and on fake images; a model in a training and
 * an inference graph) each get their own vkn_norm, hence their own saved statistics, over the same
 * parameters and running statistics. Either array may be NULL; entries must have the slot's
 * element count; grads of buffers are ignored. */
vkn_status vkn_norm_set_tensors(vkn_norm *nm, const vkn_tensor *const *values, const vkn_tensor *const *grads);

/* Record the forward. x, y: f32 [N,C,H,W] or [N,D] (any shape with N = shape[0] and C = shape[1],
 * P = the rest). ctx: int32 [N] for cbn, cn, cnx (else ignored, may be NULL). train = 1 uses batch
 * statistics and updates the buffers (running statistics); train = 0 follows opts.infer.
 * Saves what the backward needs in the norm's workspace. On llvmpipe a batch too large for its shader
 * loop limit is refused (VKN_ERR_UNSUPPORTED). */
vkn_status vkn_norm_forward(vkn_cmd *c, vkn_norm *nm, const vkn_tensor *x, const vkn_tensor *ctx,
                            const vkn_tensor *y, int train);
/* Record the backward of the last recorded forward (same x and ctx): writes dx and OVERWRITES the
 * gradient tensors of the learned slots. */
vkn_status vkn_norm_backward(vkn_cmd *c, vkn_norm *nm, const vkn_tensor *x, const vkn_tensor *ctx,
                             const vkn_tensor *dy, const vkn_tensor *dx);

/* After the stream ran: VKN_OK, or VKN_ERR_ARG naming the first sample whose id was out of range in
 * the last recorded forward (the kernels clamped it). */
vkn_status vkn_norm_check_ids(vkn_norm *nm);

/* All slots, concatenated in slot order (sum of slots[i].count floats): download / upload. The round
 * trip is bit-exact. */
size_t vkn_norm_state_floats(const vkn_norm *nm);
vkn_status vkn_norm_save(const vkn_norm *nm, float *host_all_slots);
vkn_status vkn_norm_load(vkn_norm *nm, const float *host_all_slots);

/* Per-method values for display (downloads; call after the stream ran). */
#define VKN_NORM_DIAG_MAX 8
#define VKN_NORM_DIAG_VALUES 64
typedef struct vkn_norm_diag_series {
    char label[48];          /* "ctx count", "ctx mean[c0]", "mixture weight", "similarity", ... */
    int count;               /* values used */
    float v[VKN_NORM_DIAG_VALUES];
} vkn_norm_diag_series;
typedef struct vkn_norm_diag {
    vkn_norm_kind kind;
    int nseries;
    vkn_norm_diag_series s[VKN_NORM_DIAG_MAX];
} vkn_norm_diag;
vkn_status vkn_norm_diagnostics(vkn_norm *nm, vkn_norm_diag *out);

/* Workspace tensors of the last forward, for tests ("afn_mask": AFN's dropout keep flags; "afn": its
 * workspace): seg = per segment (mean, rstd, count, fixed),
 * ftab = the forward table (see shaders/common/norm.glsl). NULL before the first forward. */
const vkn_tensor *vkn_norm_debug_tensor(const vkn_norm *nm, const char *name);

/* ============================================================================================= */

#ifdef __cplusplus
}
#endif
#endif
