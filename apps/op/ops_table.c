/* vkn-op: every op it runs, with the options it takes and the tensor names it reads and writes
 * (the help text and docs/OP.md list the same). A gradient is always named "d" + the tensor's name. */
#include "op.h"

#include <string.h>

#define NORM_OPTS "kind train affine eps momentum infer groups contexts components prior-scale embedder var-floor " \
                  "threshold batch-stats-above dropout hidden-std hidden-rescale seed"

static const op_def ops[] = {
    {"relu", "unary", VKN_UNARY_RELU, "", "x [any, 1-4 D]; dy (optional)", "y; dx", run_unary},
    {"leaky_relu", "unary", VKN_UNARY_LEAKY_RELU, "alpha", "x; dy (optional)", "y; dx", run_unary},
    {"tanh", "unary", VKN_UNARY_TANH, "", "x; dy (optional)", "y; dx", run_unary},
    {"sigmoid", "unary", VKN_UNARY_SIGMOID, "", "x; dy (optional)", "y; dx", run_unary},
    {"exp", "unary", VKN_UNARY_EXP, "", "x; dy (optional)", "y; dx", run_unary},
    {"log", "unary", VKN_UNARY_LOG, "", "x; dy (optional)", "y; dx", run_unary},
    {"scale", "unary", VKN_UNARY_SCALE, "alpha", "x; dy (optional)", "y = alpha x; dx", run_unary},
    {"add", "binary", VKN_BINARY_ADD, "", "a, b (NumPy broadcasting); dy (optional)", "y; da, db", run_binary},
    {"sub", "binary", VKN_BINARY_SUB, "", "a, b; dy (optional)", "y; da, db", run_binary},
    {"mul", "binary", VKN_BINARY_MUL, "", "a, b; dy (optional)", "y; da, db", run_binary},
    {"div", "binary", VKN_BINARY_DIV, "", "a, b; dy (optional)", "y; da, db", run_binary},
    {"sum", "reduce", VKN_REDUCE_SUM, "axes keepdims", "x; dy (optional, y's shape)", "y; dx", run_reduce},
    {"mean", "reduce", VKN_REDUCE_MEAN, "axes keepdims", "x; dy (optional)", "y; dx", run_reduce},
    {"max", "reduce", VKN_REDUCE_MAX, "axes keepdims", "x", "y (no backward)", run_reduce},
    {"gemm", "gemm", 0, "trans-a trans-b alpha beta bias act act-alpha",
     "a [M,K] (or [B,M,K]; [K,M] with --trans-a), b [K,N] ([N,K] with --trans-b), c (optional, with --beta), "
     "bias (optional: [N] col, [M] row); dy (optional)",
     "y = act(alpha op(a) op(b) + beta c + bias); da, db, dc, dbias", run_gemm},
    {"conv2d", "conv", 0, "kernel stride pad", "x [N,Cin,H,W], w [Cout,Cin,kh,kw], b [Cout] (optional); dy (optional)",
     "y [N,Cout,Ho,Wo]; dx, dw, db", run_conv2d},
    {"conv_transpose2d", "conv", 0, "kernel stride pad output-padding",
     "x [N,Cin,H,W], w [Cin,Cout,kh,kw], b [Cout] (optional); dy (optional)", "y [N,Cout,Ho,Wo]; dx, dw, db",
     run_conv_transpose2d},
    {"maxpool2d", "pool", 0, "kernel stride pad", "x [N,C,H,W]; dy (optional)",
     "y, idx (I32 argmax h*W+w in the plane); dx", run_maxpool2d},
    {"avgpool2d", "pool", 0, "kernel stride pad", "x [N,C,H,W]; dy (optional)",
     "y (padding counts as zeros); dx", run_avgpool2d},
    {"embedding", "embedding", 0, "", "w [K,D], ids I32 [N]; dy (optional)", "y [N,D]; dw", run_embedding},
    {"one_hot", "embedding", 0, "classes", "ids I32 [N]", "y [N,K]", run_one_hot},
    {"concat", "concat", 0, "", "a [N,A..], b [N,B..] (along axis 1); dy (optional)", "y; da, db", run_concat},
    {"softmax_ce", "loss", 0, "smoothing scale", "x (logits) [N,K], labels I32 [N]",
     "loss [] (mean over rows), dx", run_softmax_ce},
    {"bce", "loss", VKN_LOSS_BCE_LOGITS, "target scale", "x (logits, any shape), t (optional targets, x's size)",
     "loss [] (mean), dx", run_loss},
    {"hinge_real", "loss", VKN_LOSS_HINGE_REAL, "scale", "x", "loss = mean relu(1 - x), dx", run_loss},
    {"hinge_fake", "loss", VKN_LOSS_HINGE_FAKE, "scale", "x", "loss = mean relu(1 + x), dx", run_loss},
    {"hinge_gen", "loss", VKN_LOSS_HINGE_GEN, "scale", "x", "loss = -mean x, dx", run_loss},
    {"mse", "loss", VKN_LOSS_MSE, "target scale", "x, t (optional targets)", "loss = mean (x - t)^2, dx", run_loss},
    {"norm", "norm", 0, NORM_OPTS,
     "x [N,C] or [N,C,H,W] ([N,C,L] too), ctx I32 [N] (cbn, cn, cnx), slot tensors (optional: gamma, beta, "
     "running_mean, ... named as the layer's slots; else the default init from --seed); dy (optional)",
     "y, every slot after the step (running statistics updated with --train 1); dx, d<slot> per learned slot",
     run_norm},
};
#define NOPS ((int)(sizeof ops / sizeof ops[0]))

const op_def *op_find(const char *name)
{
    for (int i = 0; i < NOPS; i++)
        if (!strcmp(ops[i].name, name)) return &ops[i];
    /* a few aliases */
    if (!strcmp(name, "bce_logits")) return op_find("bce");
    if (!strcmp(name, "conv")) return op_find("conv2d");
    if (!strcmp(name, "convT") || !strcmp(name, "conv_transpose")) return op_find("conv_transpose2d");
    return NULL;
}

int op_count(void) { return NOPS; }
const op_def *op_at(int i) { return i >= 0 && i < NOPS ? &ops[i] : NULL; }
