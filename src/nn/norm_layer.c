/* Normalization layers in the graph. Each application of a layer gets its own vkn_norm (its own
 * saved statistics: a discriminator runs on real and on fake images in one step) over the shared
 * slot tensors of the store, which the first application adopts under "<layer>.<slot>". */
#include "nn/nn_internal.h"
#include "vkn/norm_ref.h"

typedef struct norm_state {
    vkn_norm *nm;
    char name[64];
    int train;
    int has_ctx;
    int ns;
    int learned[VKN_NORM_MAX_SLOTS];
} norm_state;

static void norm_state_destroy(void *p)
{
    norm_state *s = p;
    vkn_norm_destroy(s->nm);
    free(s);
}

static int first_slot_input(const norm_state *s) { return 1 + s->has_ctx; }

static vkn_status bind_values(vkn_graph *g, const vkn_gop *op, const norm_state *s, const vkn_tensor **vals)
{
    for (int i = 0; i < s->ns; i++) vals[i] = T(op->in[first_slot_input(s) + i]);
    return VKN_OK;
}

static vkn_status norm_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    norm_state *s = op->state;
    const vkn_tensor *vals[VKN_NORM_MAX_SLOTS];
    bind_values(g, op, s, vals);
    VKN_TRY(vkn_norm_set_tensors(s->nm, vals, NULL));
    return vkn_norm_forward(c, s->nm, T(op->in[0]), s->has_ctx ? T(op->in[1]) : NULL, T(op->out[0]), s->train);
}

static vkn_status norm_bwd_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    norm_state *s = op->state;
    const vkn_tensor *vals[VKN_NORM_MAX_SLOTS], *grads[VKN_NORM_MAX_SLOTS] = {0};
    /* inputs: x, [ctx], dy, slots...; outputs: dx, one gradient per learned slot */
    for (int i = 0; i < s->ns; i++) vals[i] = T(op->in[2 + s->has_ctx + i]);
    for (int i = 0, k = 1; i < s->ns; i++)
        if (s->learned[i]) grads[i] = T(op->out[k++]);
    VKN_TRY(vkn_norm_set_tensors(s->nm, vals, grads));
    return vkn_norm_backward(c, s->nm, T(op->in[0]), s->has_ctx ? T(op->in[1]) : NULL, T(op->in[1 + s->has_ctx]),
                             T(op->out[0]));
}
static const vkn_gop_type gop_norm_bwd = {"norm_backward", norm_bwd_record, NULL, NULL, NULL};

static vkn_status norm_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    norm_state *s = op->state;
    vkn_val x = op->in[0];
    vkn_val in[VKN_GOP_MAX_IN], outs[VKN_GOP_MAX_OUT + VKN_NORM_MAX_SLOTS];
    int nin = 0, nout = 0;
    in[nin++] = x;
    if (s->has_ctx) in[nin++] = op->in[1];
    in[nin++] = dout[0];
    for (int i = 0; i < s->ns; i++) in[nin++] = op->in[first_slot_input(s) + i];
    if (nin > VKN_GOP_MAX_IN) return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "norm %s: too many slots", s->name));
    outs[nout++] = vkn_graph_value(g, "dnorm", VKN_F32, G(g, x)->ndim, G(g, x)->shape);
    din[0] = G(g, x)->requires_grad ? outs[0] : VKN_NONE;
    for (int i = 0; i < s->ns; i++) {
        if (!s->learned[i]) continue;
        vkn_val sv = op->in[first_slot_input(s) + i];
        vkn_val d = vkn_graph_value(g, "dslot", VKN_F32, G(g, sv)->ndim, G(g, sv)->shape);
        outs[nout++] = d;
        if (G(g, sv)->requires_grad) din[first_slot_input(s) + i] = d;
    }
    /* outputs beyond VKN_GOP_MAX_OUT are not supported by ops: split is not needed for the kinds whose
     * learned slots fit (every kind but AFN, whose MLP slots exceed it) */
    if (nout > VKN_GOP_MAX_OUT)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_UNSUPPORTED, "norm %s (%s): %d gradient outputs exceed the graph's "
                                                "per-op limit of %d", s->name, vkn_norm_kind_name(vkn_norm_options(s->nm)->kind),
                                                nout, VKN_GOP_MAX_OUT));
    vkn_graph_add_op(g, &gop_norm_bwd, in, nin, outs, nout, NULL, 0, s, "norm-backward");
    return vkn_graph_status(g);
}

static vkn_status norm_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    norm_state *s = op->state;
    const vkn_norm_opts *o = vkn_norm_options(s->nm);
    vkn_val x = op->in[0];
    int N = (int)vkn_graph_dim(g, x, 0), C = (int)vkn_graph_dim(g, x, 1);
    int64_t n = vkn_graph_numel(g, x);
    int P = (int)(n / ((int64_t)N * C));
    double *xd = vkn_nn_to_double(in[0], n), *yd = malloc((size_t)n * sizeof *yd);
    double *slots[VKN_NORM_MAX_SLOTS] = {0};
    vkn_status st = xd && yd ? VKN_OK : vkn_status_set(VKN_ERR_HOST_OOM, "norm ref");
    for (int i = 0; i < s->ns && st == VKN_OK; i++) {
        vkn_val sv = op->in[first_slot_input(s) + i];
        if (!(slots[i] = vkn_nn_to_double(in[first_slot_input(s) + i], vkn_graph_numel(g, sv))))
            st = vkn_status_set(VKN_ERR_HOST_OOM, "norm ref");
    }
    vkn_norm_ref_cache cache = {0};
    if (st == VKN_OK)
        st = vkn_norm_ref_forward(o, N, P, xd, s->has_ctx ? (const int32_t *)in[1] : NULL, NULL, slots, s->train, yd, &cache);
    if (st == VKN_OK) vkn_nn_to_float(yd, out[0], n);
    vkn_norm_ref_cache_free(&cache);
    for (int i = 0; i < s->ns; i++) free(slots[i]);
    free(xd);
    free(yd);
    return st;
}
static const vkn_gop_type gop_norm = {"norm", norm_record, norm_backward, norm_ref, norm_state_destroy};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

vkn_val vkn_nn_norm(vkn_nn *m, const char *name, vkn_val x, vkn_val ctx, const vkn_norm_opts *o)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    if (o->kind == VKN_NORM_NONE) return x;
    if (vkn_graph_ndim(g, x) < 2 || vkn_graph_dim(g, x, 1) != o->channels) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "norm %s: options say %d channels, the input has %lld", name,
                                         o->channels, (long long)vkn_graph_dim(g, x, 1)));
        return VKN_NONE;
    }
    int needs_ctx = vkn_norm_needs_ctx(o->kind);
    if (needs_ctx && ctx == VKN_NONE) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "norm %s (%s) needs context ids", name, vkn_norm_kind_name(o->kind)));
        return VKN_NONE;
    }
    norm_state *s = calloc(1, sizeof *s);
    if (!s) { vkn_graph_fail(g, vkn_status_set(VKN_ERR_HOST_OOM, "norm %s", name)); return VKN_NONE; }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->train = m->train;
    s->has_ctx = needs_ctx;
    vkn_status st = vkn_norm_create(vkn_params_context(m->params), vkn_params_arena(m->params), o,
                                    m->seed ^ hash_name(name), &s->nm);
    if (st != VKN_OK) { free(s); vkn_graph_fail(g, st); return VKN_NONE; }
    s->ns = vkn_norm_slot_count(s->nm);
    vkn_val in[VKN_GOP_MAX_IN];
    int nin = 0;
    in[nin++] = x;
    if (needs_ctx) {
        in[nin++] = ctx;
        vkn_graph_require_ids(g, ctx, o->contexts, name);
    }
    vkn_norm_slot slots[VKN_NORM_MAX_SLOTS];
    int nsl = 0;
    vkn_norm_slots(o, slots, &nsl);
    for (int i = 0; i < s->ns && nin < VKN_GOP_MAX_IN; i++) {
        char pname[96];
        snprintf(pname, sizeof pname, "%s.%s", name, slots[i].name);
        s->learned[i] = slots[i].learned;
        int pi = vkn_params_find(m->params, pname);
        if (pi < 0)   /* the first application: its freshly initialised slots become the store's */
            pi = vkn_params_adopt(m->params, pname, vkn_norm_slot_tensor(s->nm, i), vkn_norm_grad_tensor(s->nm, i));
        else if (vkn_params_value(m->params, pi)->numel != slots[i].count)
            st = vkn_status_set(VKN_ERR_SHAPE, "norm %s: parameter %s exists with another size", name, pname);
        if (pi < 0) st = vkn_params_status(m->params);
        if (st != VKN_OK) break;
        in[nin++] = vkn_graph_param(g, pi, slots[i].learned && m->trainable);
    }
    if (st == VKN_OK && nin - 1 - needs_ctx != s->ns)
        st = vkn_status_set(VKN_ERR_ARG, "norm %s: %d slots exceed the graph's per-op inputs", name, s->ns);
    if (st != VKN_OK) {
        norm_state_destroy(s);
        vkn_graph_fail(g, st);
        return VKN_NONE;
    }
    vkn_val y = vkn_graph_value(g, name, VKN_F32, G(g, x)->ndim, G(g, x)->shape);
    vkn_graph_add_op(g, &gop_norm, in, nin, &y, 1, NULL, 0, s, name);
    return y;
}

vkn_norm *vkn_nn_norm_lookup(const vkn_graph *g, const char *name)
{
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].type == &gop_norm && !strcmp(((const norm_state *)g->ops[i].state)->name, name))
            return ((const norm_state *)g->ops[i].state)->nm;
    return NULL;
}
