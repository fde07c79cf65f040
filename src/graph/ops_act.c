/* Activation backward as a graph op: dx = dy * f'(v), v the forward's input (relu, leaky ReLU) or
 * output (tanh, sigmoid), through vkn_op_act_grad. */
#include "graph/graph_internal.h"
#include "ops/ref.h"

#include <string.h>

typedef struct { vkn_act act; float alpha; } act_attr;

static vkn_status act_grad_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const act_attr *a = (const void *)op->attr;
    return vkn_op_act_grad(c, a->act, a->alpha, vkn_graph_tensor(g, op->in[0]), vkn_graph_tensor(g, op->in[1]),
                           vkn_graph_tensor(g, op->out[0]));
}

static vkn_status act_grad_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const act_attr *a = (const void *)op->attr;
    for (int64_t i = 0; i < vkn_graph_numel(g, op->out[0]); i++) {
        double v = in[0][i], d;
        switch (a->act) {
        case VKN_ACT_RELU: d = v <= 0 ? 0 : 1; break;   /* a NaN v passes dy (PyTorch) */
        case VKN_ACT_LEAKY_RELU: d = v > 0 ? 1 : a->alpha; break;
        case VKN_ACT_TANH: d = 1 - v * v; break;
        case VKN_ACT_SIGMOID: d = v * (1 - v); break;
        default: d = 1; break;
        }
        out[0][i] = (float)(in[1][i] * d);
    }
    return VKN_OK;
}

/* Second derivatives are not needed (no double backward). */
static const vkn_gop_type gop_act_grad = {"act_grad", act_grad_record, NULL, act_grad_ref, NULL};

vkn_status vkn_graph_act_backward(vkn_graph *g, vkn_act act, float alpha, vkn_val x, vkn_val y, vkn_val dy, vkn_val *dx)
{
    if (act == VKN_ACT_NONE) { *dx = dy; return VKN_OK; }
    /* relu and leaky ReLU read the sign from x, or from y when only y is at hand (same sign, alpha > 0) */
    vkn_val v = (act == VKN_ACT_TANH || act == VKN_ACT_SIGMOID) ? y : (x != VKN_NONE ? x : y);
    if (v == VKN_NONE) return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph: activation backward without its input"));
    if (act == VKN_ACT_LEAKY_RELU && v == y && alpha <= 0)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph: leaky ReLU backward from y needs alpha > 0"));
    vkn_val out = vkn_graph_value(g, "act_grad", VKN_F32, vkn_graph_ndim(g, dy), G(g, dy)->shape);
    act_attr at = {act, alpha};
    vkn_val in[2] = {v, dy};
    vkn_graph_add_op(g, &gop_act_grad, in, 2, &out, 1, &at, sizeof at, NULL, "act-grad");
    *dx = out;
    return vkn_graph_status(g);
}
