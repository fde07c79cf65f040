/* Losses and classification metrics. Each loss writes its scalar (scale * mean over the elements, or
 * over the rows for softmax cross-entropy) into a [1] tensor and, in the same dispatch, the gradient
 * of that scalar w.r.t. its input. Up to about 256 elements (or rows) this is one dispatch; longer
 * inputs add a second tiny launch that folds the per-chunk partial sums in a fixed order (no atomics:
 * results are reproducible). References: src/ops/ref_train.h. */
#ifndef VKN_LOSS_H
#define VKN_LOSS_H

#include "vkn/cmd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkn_loss_kind {
    VKN_LOSS_BCE_LOGITS = 0,  /* l = max(x,0) - x t + log(1 + exp(-|x|)) ; dl/dx = sigmoid(x) - t */
    VKN_LOSS_HINGE_REAL,      /* GAN D on real:  l = relu(1 - x)         ; dl/dx = -[x < 1]       */
    VKN_LOSS_HINGE_FAKE,      /* GAN D on fake:  l = relu(1 + x)         ; dl/dx = [x > -1]       */
    VKN_LOSS_HINGE_GEN,       /* GAN G:          l = -x                  ; dl/dx = -1             */
    VKN_LOSS_MSE,             /* l = (x - t)^2                           ; dl/dx = 2 (x - t)      */
    VKN_LOSS_COUNT_
} vkn_loss_kind;

typedef struct vkn_loss_opts {
    const vkn_tensor *target; /* per-element targets t (F32, x's element count), or NULL: t = target_value */
    float target_value;       /* BCE: 0 or 1 (any value in [0,1] works); MSE: a constant target */
    float scale;              /* multiplies the loss and the gradient (0 is taken as 1) */
    int accumulate;           /* loss += value instead of loss = value (e.g. D loss = real + fake term);
                                 the gradient is always overwritten */
} vkn_loss_opts;

/* loss[1] = scale * mean_i l(x_i, t_i); dx_i = scale/n * dl/dx_i. Either loss or dx may be NULL (not
 * both). x is F32 of any shape (n = its element count); dx has x's element count. */
vkn_status vkn_op_loss(vkn_cmd *c, vkn_loss_kind kind, const vkn_tensor *x, const vkn_tensor *loss,
                       const vkn_tensor *dx, const vkn_loss_opts *opts /* NULL: defaults */);

/* Softmax cross-entropy over logits [N, K] with I32 labels [N] in [0, K) and label smoothing eps:
 * q = (1 - eps) onehot(label) + eps/K; l_row = logsumexp(x) - sum_k q_k x_k (stable: max subtracted);
 * loss[1] = scale * mean over rows; dlogits = scale/N * (softmax(x) - q). A label outside [0, K) makes
 * its row's loss and gradient NaN; vkn-op and training graphs refuse such labels before running
 * (vkn_graph_require_ids in graph.h). opts->target is unused. */
vkn_status vkn_op_softmax_ce(vkn_cmd *c, const vkn_tensor *logits, const vkn_tensor *labels, float smoothing,
                             const vkn_tensor *loss, const vkn_tensor *dlogits, const vkn_loss_opts *opts);

/* idx[N] (I32) = index of the largest of each row of x [N, K] (the first one on ties). */
vkn_status vkn_op_argmax_rows(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *idx);
/* acc[1] = fraction of rows of x [N, K] whose argmax equals labels[N] (I32); idx (I32 [N], may be NULL)
 * receives the argmax as well. */
vkn_status vkn_op_accuracy(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *labels, const vkn_tensor *acc,
                           const vkn_tensor *idx);

const char *vkn_loss_name(vkn_loss_kind kind);

#ifdef __cplusplus
}
#endif
#endif
