/* Reference execution of a graph's forward on the host: every op's plain-C reference, from the
 * current inputs and parameters (or overrides, for finite differences). */
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

static vkn_val root_of(const vkn_graph *g, vkn_val v)
{
    while (G(g, v)->alias != VKN_NONE) v = G(g, v)->alias;
    return v;
}

static float *host_of(vkn_graph *g, vkn_val v)
{
    vkn_val r = root_of(g, v);
    gval *x = G(g, r);
    if (!x->host) x->host = calloc((size_t)x->numel, sizeof(float));
    return x->host;
}

vkn_status vkn_graph_reference_set_param(vkn_graph *g, int pi, const float *data)
{
    int np = vkn_params_count(g->params);
    if (pi < 0 || pi >= np) return vkn_status_set(VKN_ERR_ARG, "reference: no parameter %d", pi);
    if (!g->ref_params && !(g->ref_params = calloc((size_t)np, sizeof *g->ref_params)))
        return vkn_status_set(VKN_ERR_HOST_OOM, "reference");
    int64_t n = vkn_params_value(g->params, pi)->numel;
    if (!g->ref_params[pi] && !(g->ref_params[pi] = malloc((size_t)n * sizeof(float))))
        return vkn_status_set(VKN_ERR_HOST_OOM, "reference");
    memcpy(g->ref_params[pi], data, (size_t)n * sizeof(float));
    return VKN_OK;
}

vkn_status vkn_graph_reference(vkn_graph *g, vkn_val target, float *out)
{
    if (g->status != VKN_OK) return g->status;
    if (!g->compiled) return vkn_status_set(VKN_ERR_ARG, "reference: compile the graph first (inputs live in its memory)");
    if (target < 0 || target >= g->nvals) return vkn_status_set(VKN_ERR_ARG, "reference: no value %d", target);
    /* leaves: inputs from their mapped memory, parameters from overrides or the device */
    for (vkn_val v = 0; v < g->nvals; v++) {
        gval *x = G(g, v);
        if (x->alias != VKN_NONE) continue;
        if (x->kind == VAL_INPUT) {
            memcpy(host_of(g, v), x->t.host, (size_t)x->numel * 4);
        } else if (x->kind == VAL_PARAM) {
            if (g->ref_params && g->ref_params[x->param]) memcpy(host_of(g, v), g->ref_params[x->param], (size_t)x->numel * 4);
            else VKN_TRY(vkn_tensor_download(vkn_params_value(g->params, x->param), host_of(g, v)));
        }
    }
    int last = G(g, target)->def;
    for (int i = 0; i <= last && i < g->nforward; i++) {
        const vkn_gop *op = &g->ops[i];
        float *in[VKN_GOP_MAX_IN], *o[VKN_GOP_MAX_OUT];
        for (int k = 0; k < op->nin; k++) in[k] = host_of(g, op->in[k]);
        for (int k = 0; k < op->nout; k++) o[k] = host_of(g, op->out[k]);
        if (!op->type->reference) return vkn_status_set(VKN_ERR_UNSUPPORTED, "reference: op %s has none", op->label);
        VKN_TRY(op->type->reference(g, op, in, o));
    }
    memcpy(out, host_of(g, target), (size_t)G(g, target)->numel * 4);
    return VKN_OK;
}
