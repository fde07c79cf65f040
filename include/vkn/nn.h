/* Layers: graph ops with their parameters. A layer creates its parameters in the store on first use
 * (by name) and finds them afterwards, so one model built into several graphs (a GAN's D step and G
 * step; a training and an inference graph) shares its parameters.
 *
 *   vkn_nn m = {.g = graph, .params = store, .train = 1, .trainable = 1, .init = VKN_INIT_NORMAL, .init_scale = 0.02f};
 *   vkn_val h = vkn_nn_linear(&m, "g.fc", z, 3136, 1);
 */
#ifndef VKN_NN_H
#define VKN_NN_H

#include "vkn/graph.h"
#include "vkn/loss.h"
#include "vkn/norm.h"
#include "vkn/optim.h"
#include "vkn/random.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_nn {
    vkn_graph *g;
    vkn_params *params;
    int train;             /* normalization layers use batch statistics and update running ones */
    int trainable;         /* this graph computes the gradients of the parameters it touches */
    vkn_init init;         /* weights: VKN_INIT_NORMAL with init_scale (DCGAN 0.02), HE, XAVIER */
    float init_scale;
    uint64_t seed;         /* RNG seed of the ops that draw (noise, labels, dropout) */
} vkn_nn;

/* y = x W^T + b: x [N, in], W [out, in], b [out] */
vkn_val vkn_nn_linear(vkn_nn *m, const char *name, vkn_val x, int out_features, int bias);
/* x [N,C,H,W] -> [N,out,Ho,Wo]; weights [out, C, k, k] */
vkn_val vkn_nn_conv2d(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias);
/* x [N,C,H,W] -> [N,out,(H-1)s-2p+k, ...]; weights [C, out, k, k] (PyTorch's layout) */
vkn_val vkn_nn_conv_transpose2d(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias);
vkn_val vkn_nn_act(vkn_nn *m, vkn_act act, float alpha, vkn_val x);
vkn_val vkn_nn_maxpool2d(vkn_nn *m, vkn_val x, int k, int stride);
vkn_val vkn_nn_avgpool2d(vkn_nn *m, vkn_val x, int k, int stride);
/* ids (I32 [N]) -> rows of a [num, dim] table */
vkn_val vkn_nn_embedding(vkn_nn *m, const char *name, vkn_val ids, int num, int dim);
vkn_val vkn_nn_one_hot(vkn_nn *m, vkn_val ids, int k);
/* [N, a] ++ [N, b] -> [N, a+b] */
vkn_val vkn_nn_concat(vkn_nn *m, vkn_val a, vkn_val b);
vkn_val vkn_nn_flatten(vkn_nn *m, vkn_val x);
vkn_val vkn_nn_dropout(vkn_nn *m, vkn_val x, float p, uint32_t stream);
/* forward: identity; backward: -lambda * dy, lambda from the step tensor (VKN_STEP_LAMBDA) */
vkn_val vkn_nn_grad_reverse(vkn_nn *m, vkn_val x);
/* Any normalization kind (norm.h) with its slots in the store under name; ctx: I32 [N] context ids
 * or VKN_NONE. o->channels must match x's dimension 1. */
vkn_val vkn_nn_norm(vkn_nn *m, const char *name, vkn_val x, vkn_val ctx, const vkn_norm_opts *o);

/* The vkn_norm of the first application of layer name in g (for diagnostics), or NULL. */
vkn_norm *vkn_nn_norm_lookup(const vkn_graph *g, const char *name);

/* Losses: a [1] value (mean over the batch) */
vkn_val vkn_nn_loss(vkn_nn *m, vkn_loss_kind kind, vkn_val x, float target_value);
vkn_val vkn_nn_softmax_ce(vkn_nn *m, vkn_val logits, vkn_val labels, float smoothing);
/* I32 [N] argmax of each row (no gradient) */
vkn_val vkn_nn_argmax(vkn_nn *m, vkn_val x);

/* Values drawn on the device each step (new numbers when the step tensor's RNG counter changes) */
vkn_val vkn_nn_rand_normal(vkn_nn *m, int ndim, const int64_t *shape, uint32_t stream);
vkn_val vkn_nn_rand_labels(vkn_nn *m, int64_t n, int k, uint32_t stream);

/* A [1] value: the global L2 norm of the gradients of the parameters this graph trains whose name
 * starts with prefix (NULL: all). Call after vkn_graph_backward (and before the optimizer). */
vkn_val vkn_nn_grad_norm(vkn_nn *m, const char *prefix);

/* Append update ops for every parameter this graph trains whose name starts with prefix (NULL:
 * all); creates the optimizer state in the store ("<param>.m", "<param>.v", ...). */
vkn_status vkn_nn_optimizer(vkn_nn *m, const vkn_optim_opts *o, const char *prefix);

/* Rows [0, rows_a) of x [N, ...] into *a and rows [rows_a, N) into *b (either pointer may be NULL);
 * backward: the two gradients concatenated (zeros for a part that gets none). */
void vkn_nn_split(vkn_nn *m, vkn_val x, int64_t rows_a, vkn_val *a, vkn_val *b);

#ifdef __cplusplus
}
#endif
#endif
