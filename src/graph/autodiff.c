/* Reverse-mode differentiation: walk the forward ops backwards, let each op type append its
 * gradient ops, and sum contributions where a value feeds several consumers. Gradients of trained
 * parameters are bound to the store's gradient tensors. */
#include "graph/graph_internal.h"

#include <string.h>

vkn_val vkn_graph_add(vkn_graph *g, vkn_val a, vkn_val b)
{
    if (g->status != VKN_OK) return VKN_NONE;
    vkn_val out = vkn_graph_value(g, "grad_sum", G(g, a)->dtype, G(g, a)->ndim, G(g, a)->shape);
    vkn_val in[2] = {a, b};
    vkn_graph_add_op(g, &vkn_gop_add, in, 2, &out, 1, NULL, 0, NULL, "grad-accumulate");
    return out;
}

/* Does any value other than `self` use v as its gradient? */
static int grad_shared(const vkn_graph *g, vkn_val v, vkn_val self)
{
    for (int i = 0; i < g->nvals; i++)
        if (i != self && g->vals[i].grad == v) return 1;
    return 0;
}

vkn_status vkn_graph_backward(vkn_graph *g, vkn_val loss)
{
    if (g->status != VKN_OK) return g->status;
    if (g->nforward >= 0) return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: backward called twice", g->name));
    if (loss < 0 || loss >= g->nvals || G(g, loss)->numel != 1)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph %s: backward needs a scalar loss", g->name));
    if (!G(g, loss)->requires_grad)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: the loss depends on no trained parameter",
                                                g->name));
    g->nforward = g->nops;

    /* seed: dloss = 1 */
    vkn_val seed = vkn_graph_value(g, "dloss", VKN_F32, G(g, loss)->ndim, G(g, loss)->shape);
    float one = 1.0f;
    vkn_graph_add_op(g, &vkn_gop_fill, NULL, 0, &seed, 1, &one, sizeof one, NULL, "dloss=1");
    G(g, loss)->grad = seed;

    for (int i = g->nforward - 1; i >= 0 && g->status == VKN_OK; i--) {
        vkn_gop op = g->ops[i];     /* a copy: backward rules append to g->ops */
        vkn_val dout[VKN_GOP_MAX_OUT], din[VKN_GOP_MAX_IN];
        int any_out = 0, any_in = 0;
        for (int k = 0; k < op.nout; k++) {
            dout[k] = G(g, op.out[k])->grad;
            any_out |= dout[k] != VKN_NONE;
        }
        for (int k = 0; k < op.nin; k++) {
            din[k] = VKN_NONE;
            any_in |= G(g, op.in[k])->requires_grad;
        }
        if (!any_out || !any_in) continue;
        if (!op.type->backward)
            return vkn_graph_fail(g, vkn_status_set(VKN_ERR_UNSUPPORTED, "graph %s: op %s has no backward", g->name,
                                                    op.label));
        vkn_status s = op.type->backward(g, &op, dout, din);
        if (s != VKN_OK) return vkn_graph_fail(g, s);
        for (int k = 0; k < op.nin; k++) {
            vkn_val x = op.in[k];
            if (din[k] == VKN_NONE || !G(g, x)->requires_grad) continue;
            G(g, x)->grad = G(g, x)->grad == VKN_NONE ? din[k] : vkn_graph_add(g, G(g, x)->grad, din[k]);
        }
    }
    /* bind trained parameters' final gradients to the store */
    for (vkn_val v = 0; v < g->nvals && g->status == VKN_OK; v++) {
        gval *p = G(g, v);
        if (p->kind != VAL_PARAM || !p->train_param || p->grad == VKN_NONE) continue;
        vkn_val d = p->grad;
        if (G(g, d)->kind != VAL_ACT || G(g, d)->alias != VKN_NONE || G(g, d)->keep || grad_shared(g, d, v)) {
            vkn_val c = vkn_graph_value(g, "grad", VKN_F32, p->ndim, p->shape);
            vkn_graph_add_op(g, &vkn_gop_copy, &d, 1, &c, 1, NULL, 0, NULL, "grad-copy");
            d = c;
            p = G(g, v);
        }
        G(g, d)->kind = VAL_PARAM_GRAD;
        G(g, d)->param = p->param;
        p->grad = d;
    }
    return g->status;
}
