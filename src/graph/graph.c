/* Graph building: values, op nodes, errors. */
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

vkn_status vkn_graph_create(vkn_params *params, const char *name, vkn_graph **out)
{
    vkn_graph *g = calloc(1, sizeof *g);
    if (!g) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_graph_create");
    snprintf(g->name, sizeof g->name, "%s", name ? name : "graph");
    g->params = params;
    g->ctx = vkn_params_context(params);
    g->nforward = -1;
    g->check_atol = 1e-4f;
    g->check_rtol = 1e-3f;
    vkn_status s = vkn_arena_create_host(g->ctx, 0, &g->host_arena);
    int64_t n = VKN_STEP_COUNT;
    if (s == VKN_OK) s = vkn_tensor_alloc(g->host_arena, VKN_F32, 1, &n, &g->step);
    if (s == VKN_OK) memset(g->step.host, 0, (size_t)g->step.bytes);
    if (s != VKN_OK) { vkn_graph_destroy(g); return s; }
    *out = g;
    return VKN_OK;
}

void vkn_graph_destroy(vkn_graph *g)
{
    if (!g) return;
    vkn_cmd_destroy(g->cmd);
    for (int b = 0; b < g->nbuckets; b++) vkn_cmd_destroy(g->segs[b]);
    free(g->segs);
    free(g->bucket_params);
    free(g->bucket_end);
    vkn_graph_check_destroy(g);
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].type->destroy && g->ops[i].state) g->ops[i].type->destroy(g->ops[i].state);
    for (int i = 0; i < g->nvals; i++) free(g->vals[i].host);
    if (g->ref_params) {
        for (int i = 0; i < vkn_params_count(g->params); i++) free(g->ref_params[i]);
        free(g->ref_params);
    }
    vkn_arena_destroy(g->act_arena);
    vkn_arena_destroy(g->host_arena);
    free(g->vals);
    free(g->ops);
    free(g->id_checks);
    free(g);
}

vkn_status vkn_graph_status(const vkn_graph *g) { return g->status; }

vkn_status vkn_graph_fail(vkn_graph *g, vkn_status s)
{
    if (g->status == VKN_OK && s != VKN_OK) g->status = s;
    return s;
}

static vkn_val new_val(vkn_graph *g, const char *name, vkn_dtype dtype, int ndim, const int64_t *shape_in, val_kind kind)
{
    if (g->status != VKN_OK) return VKN_NONE;
    /* callers often pass another value's shape, which the realloc below may move: copy it first */
    int64_t shape[VKN_MAX_DIMS] = {0};
    char name_copy[64];
    snprintf(name_copy, sizeof name_copy, "%s", name ? name : "v");
    name = name_copy;
    if (ndim >= 1 && ndim <= VKN_MAX_DIMS) memcpy(shape, shape_in, (size_t)ndim * sizeof *shape);
    if (g->compiled) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: cannot add values after compile", g->name));
        return VKN_NONE;
    }
    if (ndim < 1 || ndim > VKN_MAX_DIMS) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph %s: value %s has %d dims (1..4)", g->name, name, ndim));
        return VKN_NONE;
    }
    if (g->nvals == g->cap_vals) {
        int cap = g->cap_vals ? 2 * g->cap_vals : 64;
        gval *v = realloc(g->vals, (size_t)cap * sizeof *v);
        if (!v) { vkn_graph_fail(g, vkn_status_set(VKN_ERR_HOST_OOM, "graph values")); return VKN_NONE; }
        g->vals = v;
        g->cap_vals = cap;
    }
    gval *v = &g->vals[g->nvals];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name ? name : "v");
    v->dtype = dtype;
    v->ndim = ndim;
    v->numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) {
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph %s: value %s dim %d is %lld", g->name, v->name, i,
                                             (long long)shape[i]));
            return VKN_NONE;
        }
        if (shape[i] > (1ll << 34) / v->numel) {   /* before the product, which could pass 2^63 */
            char b[160];
            size_t o = 0;
            for (int k = 0; k < ndim && o < sizeof b; k++)
                o += (size_t)snprintf(b + o, sizeof b - o, k ? ", %lld" : "%lld", (long long)shape[k]);
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph %s: value %s of shape [%s] has more than 2^34 elements",
                                             g->name, v->name, b));
            return VKN_NONE;
        }
        v->shape[i] = shape[i];
        v->numel *= shape[i];
    }
    v->kind = kind;
    v->param = -1;
    v->alias = VKN_NONE;
    v->grad = VKN_NONE;
    v->def = -1;
    v->first = -1;
    v->last = -1;
    return g->nvals++;
}

vkn_val vkn_graph_value(vkn_graph *g, const char *name, vkn_dtype dtype, int ndim, const int64_t *shape)
{
    return new_val(g, name, dtype, ndim, shape, VAL_ACT);
}

vkn_val vkn_graph_input(vkn_graph *g, const char *name, vkn_dtype dtype, int ndim, const int64_t *shape)
{
    return new_val(g, name, dtype, ndim, shape, VAL_INPUT);
}

vkn_val vkn_graph_param(vkn_graph *g, int pi, int requires_grad)
{
    if (g->status != VKN_OK) return VKN_NONE;
    if (pi < 0 || pi >= vkn_params_count(g->params)) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: no parameter %d", g->name, pi));
        return VKN_NONE;
    }
    for (int i = 0; i < g->nvals; i++)   /* one value per parameter and graph */
        if (g->vals[i].kind == VAL_PARAM && g->vals[i].param == pi) {
            g->vals[i].train_param |= requires_grad;
            g->vals[i].requires_grad |= requires_grad;
            return i;
        }
    const vkn_tensor *t = vkn_params_value(g->params, pi);
    if (requires_grad && !vkn_params_grad(g->params, pi)) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: %s is a buffer, it has no gradient", g->name,
                                         vkn_params_name(g->params, pi)));
        return VKN_NONE;
    }
    vkn_val v = new_val(g, vkn_params_name(g->params, pi), t->dtype, t->ndim, t->shape, VAL_PARAM);
    if (v == VKN_NONE) return v;
    G(g, v)->param = pi;
    G(g, v)->requires_grad = requires_grad;
    G(g, v)->train_param = requires_grad;
    return v;
}

int vkn_graph_ndim(const vkn_graph *g, vkn_val v) { return v >= 0 && v < g->nvals ? g->vals[v].ndim : 0; }
int64_t vkn_graph_dim(const vkn_graph *g, vkn_val v, int axis)
{
    if (v < 0 || v >= g->nvals) return 0;
    if (axis < 0) axis += g->vals[v].ndim;
    return axis >= 0 && axis < g->vals[v].ndim ? g->vals[v].shape[axis] : 0;
}
int64_t vkn_graph_numel(const vkn_graph *g, vkn_val v) { return v >= 0 && v < g->nvals ? g->vals[v].numel : 0; }

void vkn_graph_keep(vkn_graph *g, vkn_val v)
{
    if (v >= 0 && v < g->nvals) g->vals[v].keep = 1;
}

int vkn_graph_add_op(vkn_graph *g, const vkn_gop_type *type, const vkn_val *in, int nin, const vkn_val *out, int nout,
                     const void *attr, size_t attr_bytes, void *state, const char *label)
{
    if (g->status != VKN_OK) {
        if (type->destroy && state) type->destroy(state);
        return -1;
    }
    if (nin > VKN_GOP_MAX_IN || nout > VKN_GOP_MAX_OUT || attr_bytes > VKN_GOP_ATTR_BYTES) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s has too many inputs/outputs/attributes",
                                         g->name, type->name));
        return -1;
    }
    for (int i = 0; i < nin; i++)
        if (in[i] < 0 || in[i] >= g->nvals) {
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s input %d is not a value", g->name, type->name, i));
            return -1;
        }
    for (int i = 0; i < nout; i++)
        if (out[i] < 0 || out[i] >= g->nvals || g->vals[out[i]].def >= 0 || g->vals[out[i]].kind == VAL_PARAM ||
            g->vals[out[i]].kind == VAL_INPUT) {
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s output %d must be a new value", g->name,
                                             type->name, i));
            return -1;
        }
    if (g->nops == g->cap_ops) {
        int cap = g->cap_ops ? 2 * g->cap_ops : 64;
        vkn_gop *o = realloc(g->ops, (size_t)cap * sizeof *o);
        if (!o) { vkn_graph_fail(g, vkn_status_set(VKN_ERR_HOST_OOM, "graph ops")); return -1; }
        g->ops = o;
        g->cap_ops = cap;
    }
    vkn_gop *op = &g->ops[g->nops];
    memset(op, 0, sizeof *op);
    op->type = type;
    if (nin) memcpy(op->in, in, (size_t)nin * sizeof *in);     /* in/out may be NULL when empty */
    if (nout) memcpy(op->out, out, (size_t)nout * sizeof *out);
    op->nin = nin;
    op->nout = nout;
    if (attr_bytes) memcpy(op->attr, attr, attr_bytes);
    op->state = state;
    snprintf(op->label, sizeof op->label, "%s", label ? label : type->name);
    int rg = 0;
    for (int i = 0; i < nin; i++) rg |= g->vals[in[i]].requires_grad;
    for (int i = 0; i < nout; i++) {
        g->vals[out[i]].def = g->nops;
        g->vals[out[i]].requires_grad = rg;
    }
    return g->nops++;
}

const vkn_tensor *vkn_graph_tensor(const vkn_graph *g, vkn_val v) { return &g->vals[v].t; }
const vkn_tensor *vkn_graph_step_tensor(const vkn_graph *g) { return &g->step; }

vkn_val vkn_graph_grad(const vkn_graph *g, vkn_val v) { return v >= 0 && v < g->nvals ? g->vals[v].grad : VKN_NONE; }

void vkn_graph_set_step(vkn_graph *g, int slot, float value)
{
    if (slot >= 0 && slot < VKN_STEP_COUNT) ((float *)g->step.host)[slot] = value;
}

void vkn_graph_set_step_u32(vkn_graph *g, int slot, uint32_t value)
{
    if (slot >= 0 && slot < VKN_STEP_COUNT) memcpy((float *)g->step.host + slot, &value, 4);
}

vkn_graph_report vkn_graph_get_report(const vkn_graph *g) { return g->report; }
