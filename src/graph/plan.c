/* Memory planning and recording. Activations get offsets in one block by liveness (two values share
 * memory only when their lifetimes do not overlap); inputs live in host-mapped memory; parameters
 * and their gradients in the store. Then every op records its dispatches into one stream; the
 * stream's hazard tracker places the barriers. */
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>
#include "vkn/optim.h"

#define PLAN_ALIGN 256

static vkn_val root_of(const vkn_graph *g, vkn_val v)
{
    while (G(g, v)->alias != VKN_NONE) v = G(g, v)->alias;
    return v;
}

static uint64_t val_bytes(const gval *v) { return ((uint64_t)v->numel * 4 + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

static int by_size_desc(const void *a, const void *b, void *gp)
{
    const vkn_graph *g = gp;
    uint64_t x = val_bytes(G(g, *(const vkn_val *)a)), y = val_bytes(G(g, *(const vkn_val *)b));
    return x > y ? -1 : x < y ? 1 : *(const vkn_val *)a - *(const vkn_val *)b;
}

/* Offsets for activation roots: largest first, each at the lowest offset that no value alive at the
 * same time occupies. Returns the block size. */
static uint64_t assign_offsets(vkn_graph *g, vkn_val *order, int n)
{
    qsort_r(order, (size_t)n, sizeof *order, by_size_desc, g);
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        gval *v = G(g, order[i]);
        uint64_t size = val_bytes(v), off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                gval *w = G(g, order[j]);
                int time = v->first <= w->last && w->first <= v->last;
                int space = off < w->offset + val_bytes(w) && w->offset < off + size;
                if (time && space) { off = w->offset + val_bytes(w); moved = 1; }
            }
        }
        v->offset = off;
        if (off + size > total) total = off + size;
    }
    return total;
}

static vkn_status bind(vkn_graph *g, vkn_val v, const vkn_tensor *base, uint64_t offset)
{
    gval *x = G(g, v);
    vkn_tensor t = *base;
    t.dtype = x->dtype;
    t.ndim = x->ndim;
    memcpy(t.shape, x->shape, sizeof t.shape);
    t.numel = x->numel;
    t.bytes = (uint64_t)x->numel * 4;
    t.offset = base->offset + offset;
    t.host = base->host ? (char *)base->host + offset : NULL;
    if (offset + t.bytes > base->bytes + PLAN_ALIGN)
        return vkn_status_set(VKN_ERR_ARG, "graph %s: value %s does not fit its memory", g->name, x->name);
    x->t = t;
    return VKN_OK;
}

/* The guard of op i: a check of its F32 outputs into a 4-float view of the flags. */
static vkn_status record_guard(vkn_graph *g, int i)
{
    const vkn_gop *op = &g->ops[i];
    const vkn_tensor *ts[VKN_GOP_MAX_OUT];
    int n = 0;
    for (int k = 0; k < op->nout; k++)
        if (G(g, op->out[k])->dtype == VKN_F32) ts[n++] = &G(g, op->out[k])->t;
    if (!n) return VKN_OK;
    vkn_tensor flag = g->guard_flags;
    flag.offset += (uint64_t)i * 16;
    flag.host = (char *)flag.host + (size_t)i * 16;
    flag.numel = 1;
    flag.bytes = 4;
    flag.shape[0] = 1;
    return vkn_op_check_finite(g->cmd, ts, n, &flag);
}

void vkn_graph_set_nan_guard(vkn_graph *g, int on) { g->nan_guard = on; }

/* The NaN guard's verdict first (a NaN the reference shares is no divergence), then VKN_CHECK's. */
vkn_status vkn_graph_check(vkn_graph *g)
{
    if (!g->compiled) return VKN_OK;
    vkn_status s = vkn_graph_wait(g);
    if (s != VKN_OK && s != VKN_ERR_MISMATCH) return s;
    if (g->nan_guard) {
        const float *f = g->guard_flags.host;
        for (int i = 0; i < g->nops; i++)
            if (f[4 * i] != 0.0f)
                return vkn_status_set(VKN_ERR_NOT_FINITE, "graph %s: op %d (%s, %s) produced NaN or Inf%s", g->name, i,
                                      g->ops[i].label, g->ops[i].type->name,
                                      i >= g->nforward ? " in the backward pass" : "");
    }
    return vkn_graph_check_result(g);
}

vkn_status vkn_graph_set_exchange(vkn_graph *g, const vkn_graph_exchange *x)
{
    if (g->compiled) return vkn_status_set(VKN_ERR_ARG, "graph %s: an exchange must be set before compile", g->name);
    g->xchg = *x;
    return VKN_OK;
}

static int by_last_write(const void *a, const void *b, void *lw)
{
    int x = *(const int *)a, y = *(const int *)b, *last = lw;
    return last[x] != last[y] ? last[x] - last[y] : x - y;
}

/* Buckets of the exchange: the trained parameters in the order the backward finishes their
 * gradients (the op that writes a gradient last), cut every bucket_bytes; seg_end[b] is the op
 * after bucket b's last gradient write. Ops after the last write (the optimizer, a gradient norm)
 * form g->cmd. A graph that trains nothing gets no buckets. */
static vkn_status plan_buckets(vkn_graph *g, int **seg_end_out)
{
    if (g->check) return vkn_status_set(VKN_ERR_ARG, "graph %s: VKN_CHECK cannot run with a gradient exchange", g->name);
    int np = vkn_params_count(g->params);
    int *last = malloc((size_t)(np ? np : 1) * sizeof *last);
    int *order = malloc((size_t)(np ? np : 1) * sizeof *order);
    int *end = malloc((size_t)(np ? np : 1) * sizeof *end);
    int *seg_end = malloc((size_t)(np ? np : 1) * sizeof *seg_end);
    if (!last || !order || !end || !seg_end) {
        free(last); free(order); free(end); free(seg_end);
        return vkn_status_set(VKN_ERR_HOST_OOM, "graph %s: buckets", g->name);
    }
    for (int p = 0; p < np; p++) last[p] = -1;
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nout; k++) {
            const gval *r = G(g, root_of(g, g->ops[i].out[k]));
            if (r->kind == VAL_PARAM_GRAD && r->param >= 0 && r->param < np) last[r->param] = i;
        }
    int n = 0;
    for (int p = 0; p < np; p++)
        if (last[p] >= 0) order[n++] = p;
    qsort_r(order, (size_t)n, sizeof *order, by_last_write, last);
    int nb = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        bytes += vkn_params_grad(g->params, order[i])->bytes;
        int op_end = last[order[i]] + 1;
        int cut = i == n - 1 || (g->xchg.bucket_bytes && bytes >= g->xchg.bucket_bytes);
        /* a bucket ends where its segment ends: gradients finished by the same op stay together */
        if (cut && i < n - 1 && last[order[i + 1]] + 1 == op_end) cut = 0;
        if (cut) { end[nb] = i + 1; seg_end[nb] = op_end; nb++; bytes = 0; }
    }
    free(last);
    g->segs = calloc((size_t)(nb ? nb : 1), sizeof *g->segs);
    if (!g->segs) { free(order); free(end); free(seg_end); return vkn_status_set(VKN_ERR_HOST_OOM, "graph buckets"); }
    g->nbuckets = nb;
    g->bucket_params = order;
    g->bucket_end = end;
    *seg_end_out = seg_end;
    return VKN_OK;
}

vkn_status vkn_graph_compile(vkn_graph *g)
{
    if (g->status != VKN_OK) return g->status;
    if (g->compiled) return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: compiled twice", g->name));
    if (g->nforward < 0) g->nforward = g->nops;
    vkn_status cs = vkn_graph_check_prepare(g);
    if (cs != VKN_OK) return vkn_graph_fail(g, cs);

    /* liveness of roots */
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].alias == VKN_NONE) g->vals[i].first = g->vals[i].def >= 0 ? g->vals[i].def : 0;
    for (int i = 0; i < g->nops; i++) {
        const vkn_gop *op = &g->ops[i];
        for (int k = 0; k < op->nin; k++) {
            gval *r = G(g, root_of(g, op->in[k]));
            if (i > r->last) r->last = i;
        }
        for (int k = 0; k < op->nout; k++) {
            gval *r = G(g, root_of(g, op->out[k]));
            if (r->first < 0 || i < r->first) r->first = i;
            if (i > r->last) r->last = i;
        }
    }
    vkn_val *order = malloc((size_t)(g->nvals ? g->nvals : 1) * sizeof *order);
    if (!order) return vkn_graph_fail(g, vkn_status_set(VKN_ERR_HOST_OOM, "plan"));
    int n = 0;
    uint64_t naive = 0;
    for (vkn_val v = 0; v < g->nvals; v++) {
        gval *x = G(g, v);
        if (x->alias != VKN_NONE || x->kind != VAL_ACT) continue;
        for (vkn_val a = 0; a < g->nvals; a++)   /* keeping a view (reshape) keeps what it views */
            if (G(g, a)->keep && root_of(g, a) == v) x->keep = 1;
        /* VKN_CHECK reads every value after the step: no value shares memory with another */
        if (x->keep || g->check) { x->first = 0; x->last = g->nops + 1; }
        order[n++] = v;
        naive += val_bytes(x);
    }
    uint64_t total = assign_offsets(g, order, n);
    free(order);
    /* the activations are one storage-buffer range: say so, not "a tensor exceeds ..." */
    uint64_t max_range = vkn_context_info(g->ctx)->max_storage_range;
    if (total + PLAN_ALIGN > max_range)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_DEVICE_OOM, "graph %s: the activations need %.1f MiB in one block "
                                                "(%.1f MiB without reuse), more than the device's largest storage buffer "
                                                "(maxStorageBufferRange %.1f MiB): use a smaller batch or model", g->name,
                                                (double)total / 1048576.0, (double)naive / 1048576.0,
                                                (double)max_range / 1048576.0));

    vkn_status s = vkn_arena_create(g->ctx, total + PLAN_ALIGN, &g->act_arena);
    int64_t words = (int64_t)(total / 4) + 64;
    if (s == VKN_OK) s = vkn_tensor_alloc(g->act_arena, VKN_F32, 1, &words, &g->act_block);
    if (s != VKN_OK) return vkn_graph_fail(g, s);

    for (vkn_val v = 0; v < g->nvals && s == VKN_OK; v++) {
        gval *x = G(g, v);
        if (x->alias != VKN_NONE) continue;
        switch (x->kind) {
        case VAL_ACT: s = bind(g, v, &g->act_block, x->offset); break;
        case VAL_INPUT: {
            vkn_tensor t;
            s = vkn_tensor_alloc(g->host_arena, x->dtype, x->ndim, x->shape, &t);
            if (s == VKN_OK) { memset(t.host, 0, (size_t)t.bytes); x->t = t; }
            break;
        }
        case VAL_PARAM: s = bind(g, v, vkn_params_value(g->params, x->param), 0); break;
        case VAL_PARAM_GRAD: s = bind(g, v, vkn_params_grad(g->params, x->param), 0); break;
        }
    }
    for (vkn_val v = 0; v < g->nvals && s == VKN_OK; v++)
        if (G(g, v)->alias != VKN_NONE) s = bind(g, v, &G(g, root_of(g, v))->t, 0);
    if (s != VKN_OK) return vkn_graph_fail(g, s);

    if (g->nan_guard) {
        int64_t n = 4 * (int64_t)(g->nops ? g->nops : 1);
        s = vkn_tensor_alloc(g->host_arena, VKN_F32, 1, &n, &g->guard_flags);
        if (s != VKN_OK) return vkn_graph_fail(g, s);
        memset(g->guard_flags.host, 0, (size_t)g->guard_flags.bytes);
    }
    /* segments: [0, seg_end[0]), ... one per bucket, then the rest in g->cmd */
    int *seg_end = NULL;
    if (g->xchg.ready) {
        s = plan_buckets(g, &seg_end);
        if (s != VKN_OK) return vkn_graph_fail(g, s);
    }
    int op = 0;
    for (int seg = 0; seg <= g->nbuckets && s == VKN_OK; seg++) {
        vkn_cmd **c = seg < g->nbuckets ? &g->segs[seg] : &g->cmd;
        int end = seg < g->nbuckets ? seg_end[seg] : g->nops;
        s = vkn_cmd_create(g->ctx, c);
        if (s == VKN_OK) s = vkn_cmd_begin(*c);
        for (; op < end && s == VKN_OK; op++) {
            s = g->ops[op].type->record(g, &g->ops[op], *c);
            if (s != VKN_OK) {
                char why[1024];   /* the detail buffer is the destination too: copy it first */
                snprintf(why, sizeof why, "%s", vkn_status_detail());
                vkn_status_set(s, "graph %s: recording op %d (%s): %s", g->name, op, g->ops[op].label, why);
            }
            if (s == VKN_OK && g->nan_guard) s = record_guard(g, op);
        }
        if (s == VKN_OK) s = vkn_cmd_end(*c);
    }
    free(seg_end);
    if (s != VKN_OK) return vkn_graph_fail(g, s);

    vkn_cmd_stats st = vkn_cmd_get_stats(g->cmd);
    for (int b = 0; b < g->nbuckets; b++) {
        vkn_cmd_stats sb = vkn_cmd_get_stats(g->segs[b]);
        st.dispatches += sb.dispatches;
        st.barriers += sb.barriers;
    }
    g->report.ops = (uint32_t)g->nops;
    g->report.dispatches = st.dispatches;
    g->report.barriers = st.barriers;
    g->report.activation_bytes = total;
    g->report.activation_naive = naive;
    g->report.param_bytes = vkn_arena_used(vkn_params_arena(g->params));
    g->compiled = 1;
    return VKN_OK;
}

void *vkn_graph_input_ptr(vkn_graph *g, vkn_val v)
{
    if (!g->compiled || v < 0 || v >= g->nvals || G(g, v)->kind != VAL_INPUT) return NULL;
    return G(g, v)->t.host;
}

/* With VKN_CHECK, the snapshot must see the store as this step will: after this graph's previous
 * step (checked first) has updated it. */
static vkn_status submit(vkn_graph *g, vkn_graph *prev)
{
    if (!g->compiled) return vkn_status_set(VKN_ERR_ARG, "graph %s: not compiled", g->name);
    VKN_TRY(vkn_graph_check_input_ids(g));
    if (g->chk) {
        VKN_TRY(vkn_graph_wait(g));
        VKN_TRY(vkn_graph_check_before_submit(g));
    }
    if (g->nbuckets) {
        /* the bucket segments back to back on the device; the host takes each bucket as its segment
         * ends, and the rest (the optimizer) starts once every bucket is exchanged */
        VKN_TRY(vkn_cmd_wait(g->cmd));   /* the previous step's optimizer */
        VKN_TRY(prev ? vkn_cmd_submit_after(g->segs[0], prev->cmd) : vkn_cmd_submit(g->segs[0]));
        for (int b = 1; b < g->nbuckets; b++) VKN_TRY(vkn_cmd_submit_after(g->segs[b], g->segs[b - 1]));
        for (int b = 0; b < g->nbuckets; b++) {
            if (g->xchg.progress)
                while (!vkn_cmd_done(g->segs[b]) && g->xchg.progress(g->xchg.user)) {}
            VKN_TRY(vkn_cmd_wait(g->segs[b]));
            VKN_TRY(g->xchg.ready(g->xchg.user, g, b));
        }
        VKN_TRY(g->xchg.finish(g->xchg.user, g));
        return vkn_cmd_submit(g->cmd);
    }
    VKN_TRY(prev ? vkn_cmd_submit_after(g->cmd, prev->cmd) : vkn_cmd_submit(g->cmd));
    g->check_pending = g->chk != NULL;
    return VKN_OK;
}

vkn_status vkn_graph_submit(vkn_graph *g) { return submit(g, NULL); }

vkn_status vkn_graph_submit_after(vkn_graph *g, vkn_graph *prev)
{
    if (!g->compiled || !prev->compiled) return vkn_status_set(VKN_ERR_ARG, "graph %s: not compiled", g->name);
    /* with a check on either side the two run one after the other: prev's check must read prev's
     * results before g overwrites the store's gradients, and g's snapshot must follow prev's updates */
    if (g->chk || prev->chk) {
        VKN_TRY(vkn_graph_wait(prev));
        return submit(g, NULL);
    }
    return submit(g, prev);
}

vkn_status vkn_graph_wait(vkn_graph *g)
{
    if (!g->cmd) return VKN_OK;
    VKN_TRY(vkn_cmd_wait(g->cmd));
    if (!g->check_pending) return VKN_OK;
    g->check_pending = 0;   /* once per submit, whatever the outcome */
    return vkn_graph_check_after_wait(g);
}

vkn_status vkn_graph_run(vkn_graph *g)
{
    VKN_TRY(vkn_graph_submit(g));
    return vkn_graph_wait(g);
}

vkn_status vkn_graph_read(vkn_graph *g, vkn_val v, float *dst)
{
    if (!g->compiled || v < 0 || v >= g->nvals) return vkn_status_set(VKN_ERR_ARG, "graph %s: read of value %d", g->name, v);
    gval *x = G(g, v);
    gval *r = G(g, root_of(g, v));
    if (r->kind == VAL_ACT && !r->keep)
        return vkn_status_set(VKN_ERR_ARG, "graph %s: value %s was not kept (vkn_graph_keep before compile)", g->name,
                              x->name);
    VKN_TRY(vkn_graph_wait(g));
    return vkn_tensor_download(&x->t, dst);
}
