/* Training ops as layers: losses, argmax, device random draws, dropout, gradient reversal, and the
 * optimizer that appends one update per trained parameter. */
#include "nn/nn_internal.h"
#include "ops/ref_train.h"
#include "vkn/step.h"

/* ---- losses: the forward computes the loss and its gradient together ---- */

typedef struct { vkn_loss_kind kind; float target; float smoothing; int ce; } loss_attr;

static vkn_status loss_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const loss_attr *a = (const void *)op->attr;
    vkn_loss_opts o = {.target_value = a->target};
    if (a->ce) return vkn_op_softmax_ce(c, T(op->in[0]), T(op->in[1]), a->smoothing, T(op->out[0]), T(op->out[1]), &o);
    return vkn_op_loss(c, a->kind, T(op->in[0]), T(op->out[0]), T(op->out[1]), &o);
}

static vkn_status loss_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    din[0] = vkn_nn_scale_by_upstream(g, op->out[1], dout[0]);
    return vkn_graph_status(g);
}

static vkn_status loss_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const loss_attr *a = (const void *)op->attr;
    int64_t n = vkn_graph_numel(g, op->in[0]);
    double l;
    if (a->ce) {
        int64_t k = vkn_graph_dim(g, op->in[0], 1);
        l = vkn_ref_softmax_ce(in[0], (const int32_t *)in[1], n / k, k, a->smoothing, 1.0, out[1]);
    } else {
        l = vkn_ref_loss(a->kind, in[0], NULL, a->target, n, 1.0, out[1]);
    }
    out[0][0] = (float)l;
    return VKN_OK;
}
static const vkn_gop_type gop_loss = {"loss", loss_record, loss_backward, loss_ref, NULL};

static vkn_val add_loss(vkn_nn *m, const loss_attr *a, vkn_val x, vkn_val labels)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    int64_t one = 1;
    vkn_val outs[2] = {vkn_graph_value(g, a->ce ? "softmax_ce" : vkn_loss_name(a->kind), VKN_F32, 1, &one),
                       vkn_graph_value(g, "dloss_dx", VKN_F32, G(g, x)->ndim, G(g, x)->shape)};
    vkn_val in[2] = {x, labels};
    vkn_graph_add_op(g, &gop_loss, in, a->ce ? 2 : 1, outs, 2, a, sizeof *a, NULL, a->ce ? "softmax-ce" : vkn_loss_name(a->kind));
    return outs[0];
}

vkn_val vkn_nn_loss(vkn_nn *m, vkn_loss_kind kind, vkn_val x, float target_value)
{
    loss_attr a = {.kind = kind, .target = target_value};
    return add_loss(m, &a, x, VKN_NONE);
}

vkn_val vkn_nn_softmax_ce(vkn_nn *m, vkn_val logits, vkn_val labels, float smoothing)
{
    if (vkn_graph_status(m->g) != VKN_OK) return VKN_NONE;
    if (vkn_graph_ndim(m->g, logits) != 2 || G(m->g, labels)->dtype != VKN_I32) {
        vkn_graph_fail(m->g, vkn_status_set(VKN_ERR_SHAPE, "softmax_ce: logits [N, K] and I32 labels [N]"));
        return VKN_NONE;
    }
    loss_attr a = {.smoothing = smoothing, .ce = 1};
    vkn_graph_require_ids(m->g, labels, vkn_graph_dim(m->g, logits, 1), "softmax-ce");
    return add_loss(m, &a, logits, labels);
}

static vkn_status argmax_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c) { return vkn_op_argmax_rows(c, T(op->in[0]), T(op->out[0])); }
static vkn_status argmax_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    int64_t n = vkn_graph_dim(g, op->in[0], 0), k = vkn_graph_dim(g, op->in[0], 1);
    int32_t *idx = (int32_t *)out[0];
    for (int64_t i = 0; i < n; i++) {
        int32_t best = 0;
        for (int64_t j = 1; j < k; j++) if (in[0][i * k + j] > in[0][i * k + best]) best = (int32_t)j;
        idx[i] = best;
    }
    return VKN_OK;
}
static const vkn_gop_type gop_argmax = {"argmax", argmax_record, NULL, argmax_ref, NULL};

vkn_val vkn_nn_argmax(vkn_nn *m, vkn_val x)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    int64_t n = vkn_graph_dim(g, x, 0);
    vkn_val y = vkn_graph_value(g, "argmax", VKN_I32, 1, &n);
    vkn_graph_add_op(g, &gop_argmax, &x, 1, &y, 1, NULL, 0, NULL, "argmax");
    vkn_graph_set_id_range(g, y, vkn_graph_dim(g, x, 1));
    return y;
}

/* ---- random draws ---- */

typedef struct { uint64_t seed; uint32_t stream; int labels; int32_t k; float p; } rand_attr;

static uint32_t step_counter(const vkn_graph *g)
{
    uint32_t bits;
    memcpy(&bits, (const float *)g->step.host + VKN_STEP_RNG, 4);
    return bits;
}

static vkn_status rand_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const rand_attr *a = (const void *)op->attr;
    vkn_rng rng = {a->seed, a->stream};
    if (a->labels) return vkn_op_rand_labels(c, &g->step, rng, a->k, T(op->out[0]));
    return vkn_op_rand_normal(c, &g->step, rng, 0.0f, 1.0f, T(op->out[0]));
}
static vkn_status rand_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const rand_attr *a = (const void *)op->attr;
    int64_t n = vkn_graph_numel(g, op->out[0]);
    (void)in;
    if (a->labels) vkn_ref_rand_labels(a->seed, a->stream, step_counter(g), a->k, (int32_t *)out[0], n);
    else vkn_ref_rand_normal(a->seed, a->stream, step_counter(g), 0.0f, 1.0f, out[0], n);
    return VKN_OK;
}
static const vkn_gop_type gop_rand = {"rand", rand_record, NULL, rand_ref, NULL};

vkn_val vkn_nn_rand_normal(vkn_nn *m, int ndim, const int64_t *shape, uint32_t stream)
{
    vkn_val y = vkn_graph_value(m->g, "noise", VKN_F32, ndim, shape);
    rand_attr a = {.seed = m->seed, .stream = stream};
    vkn_graph_add_op(m->g, &gop_rand, NULL, 0, &y, 1, &a, sizeof a, NULL, "rand-normal");
    return y;
}

vkn_val vkn_nn_rand_labels(vkn_nn *m, int64_t n, int k, uint32_t stream)
{
    vkn_val y = vkn_graph_value(m->g, "rand_labels", VKN_I32, 1, &n);
    rand_attr a = {.seed = m->seed, .stream = stream, .labels = 1, .k = k};
    vkn_graph_add_op(m->g, &gop_rand, NULL, 0, &y, 1, &a, sizeof a, NULL, "rand-labels");
    vkn_graph_set_id_range(m->g, y, k);   /* the draws lie in 0..k-1 by construction */
    return y;
}

/* ---- dropout ---- */

static vkn_status dropout_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const rand_attr *a = (const void *)op->attr;
    vkn_rng rng = {a->seed, a->stream};
    return vkn_op_dropout(c, &g->step, rng, a->p, T(op->in[0]), T(op->out[1]), T(op->out[0]));
}
static vkn_status dropout_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const rand_attr *a = (const void *)op->attr;
    int64_t n = vkn_graph_numel(g, op->in[0]);
    vkn_ref_rand_bernoulli(a->seed, a->stream, step_counter(g), a->p, out[1], n);
    for (int64_t i = 0; i < n; i++) out[0][i] = in[0][i] * out[1][i];
    return VKN_OK;
}
static vkn_status dropout_bwd_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_dropout_backward(c, T(op->in[0]), T(op->in[1]), T(op->out[0]));
}
static const vkn_gop_type gop_dropout_bwd = {"dropout_backward", dropout_bwd_record, NULL, NULL, NULL};
static vkn_status dropout_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    din[0] = vkn_graph_value(g, "ddropout", VKN_F32, G(g, op->in[0])->ndim, G(g, op->in[0])->shape);
    vkn_val in[2] = {op->out[1], dout[0]};
    vkn_graph_add_op(g, &gop_dropout_bwd, in, 2, &din[0], 1, NULL, 0, NULL, "dropout-backward");
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_dropout = {"dropout", dropout_record, dropout_backward, dropout_ref, NULL};

vkn_val vkn_nn_dropout(vkn_nn *m, vkn_val x, float p, uint32_t stream)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    if (!(p >= 0 && p < 1)) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "dropout: p = %g must be in [0, 1)", p));
        return VKN_NONE;
    }
    if (!m->train || p == 0) return x;
    vkn_val outs[2] = {vkn_graph_value(g, "dropout", VKN_F32, G(g, x)->ndim, G(g, x)->shape),
                       vkn_graph_value(g, "dropout_mask", VKN_F32, G(g, x)->ndim, G(g, x)->shape)};
    rand_attr a = {.seed = m->seed, .stream = stream, .p = p};
    vkn_graph_add_op(g, &gop_dropout, &x, 1, outs, 2, &a, sizeof a, NULL, "dropout");
    return outs[0];
}

/* ---- gradient reversal: identity forward (an alias, no dispatch), -lambda dy backward ---- */

static vkn_status noop_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    (void)g; (void)op; (void)c;
    return VKN_OK;
}
static vkn_status alias_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    if (in[0] != out[0]) memcpy(out[0], in[0], (size_t)vkn_graph_numel(g, op->in[0]) * 4);
    return VKN_OK;
}
static vkn_status grl_bwd_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_grad_reverse(c, &g->step, T(op->in[0]), T(op->out[0]));
}
static const vkn_gop_type gop_grl_bwd = {"grad_reverse_backward", grl_bwd_record, NULL, NULL, NULL};
static vkn_status grl_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    din[0] = vkn_graph_value(g, "dgrl", VKN_F32, G(g, op->in[0])->ndim, G(g, op->in[0])->shape);
    vkn_graph_add_op(g, &gop_grl_bwd, &dout[0], 1, &din[0], 1, NULL, 0, NULL, "grad-reverse");
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_grl = {"grad_reverse", noop_record, grl_backward, alias_ref, NULL};

vkn_val vkn_nn_grad_reverse(vkn_nn *m, vkn_val x)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    vkn_val y = vkn_graph_value(g, "grad_reverse", G(g, x)->dtype, G(g, x)->ndim, G(g, x)->shape);
    if (y == VKN_NONE) return y;
    G(g, y)->alias = x;
    vkn_graph_add_op(g, &gop_grl, &x, 1, &y, 1, NULL, 0, NULL, "grad-reverse");
    return y;
}

/* ---- gradient norm ---- */

static vkn_status gnorm_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const vkn_tensor *ts[VKN_GOP_MAX_IN];
    for (int i = 0; i < op->nin; i++) ts[i] = T(op->in[i]);
    return vkn_op_grad_norm(c, ts, op->nin, T(op->out[0]));
}
static const vkn_gop_type gop_gnorm = {"grad_norm", gnorm_record, NULL, NULL, NULL};

vkn_val vkn_nn_grad_norm(vkn_nn *m, const char *prefix)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    vkn_val in[VKN_GOP_MAX_IN];
    int n = 0;
    for (vkn_val v = 0; v < g->nvals; v++) {
        gval *p = G(g, v);
        if (p->kind != VAL_PARAM || !p->train_param || p->grad == VKN_NONE) continue;
        if (prefix && strncmp(vkn_params_name(m->params, p->param), prefix, strlen(prefix))) continue;
        if (n == VKN_GOP_MAX_IN) {
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_UNSUPPORTED, "grad_norm: more than %d gradient tensors", VKN_GOP_MAX_IN));
            return VKN_NONE;
        }
        in[n++] = p->grad;
    }
    if (!n) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "grad_norm: no trained parameter matches (call after backward)"));
        return VKN_NONE;
    }
    int64_t one = 1;
    vkn_val out = vkn_graph_value(g, "grad_norm", VKN_F32, 1, &one);
    vkn_graph_add_op(g, &gop_gnorm, in, n, &out, 1, NULL, 0, NULL, "grad-norm");
    vkn_graph_keep(g, out);
    return out;
}

/* ---- optimizer ---- */

typedef struct { vkn_optim_opts o; } optim_attr;

static vkn_status optim_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const optim_attr *a = (const void *)op->attr;
    return vkn_op_optim_step(c, &a->o, &g->step, T(op->in[0]), T(op->in[1]), op->nin > 2 ? T(op->in[2]) : NULL,
                             op->nin > 3 ? T(op->in[3]) : NULL);
}
static const vkn_gop_type gop_optim = {"optimizer", optim_record, NULL, NULL, NULL};

vkn_status vkn_nn_optimizer(vkn_nn *m, const vkn_optim_opts *o, const char *prefix)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return vkn_graph_status(g);
    if (g->nforward < 0) return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "optimizer: call vkn_graph_backward first"));
    int nstate = vkn_optim_state_count(o);
    int nvals = g->nvals, found = 0;
    for (vkn_val v = 0; v < nvals; v++) {
        gval *p = G(g, v);
        if (p->kind != VAL_PARAM || !p->train_param || p->grad == VKN_NONE) continue;
        /* a copy: adding the state buffers below may move the store's items */
        char name[96];
        snprintf(name, sizeof name, "%s", vkn_params_name(m->params, p->param));
        if (prefix && strncmp(name, prefix, strlen(prefix))) continue;
        vkn_val in[4] = {v, p->grad, VKN_NONE, VKN_NONE};
        int64_t shape[VKN_MAX_DIMS];
        int ndim = p->ndim;
        memcpy(shape, p->shape, sizeof shape);
        for (int s = 0; s < nstate; s++) {
            char sname[120];
            snprintf(sname, sizeof sname, "%s.%s", name, s == 0 ? (o->kind == VKN_OPTIM_SGD ? "momentum" : "exp_avg") : "exp_avg_sq");
            int si = vkn_params_find(m->params, sname);
            if (si < 0) si = vkn_params_add_buffer(m->params, sname, ndim, shape, VKN_INIT_ZEROS, 0);
            if (si < 0) return vkn_graph_fail(g, vkn_params_status(m->params));
            in[2 + s] = vkn_graph_param(g, si, 0);
        }
        optim_attr a = {*o};
        a.o.clip_norm = NULL;
        char label[sizeof ((vkn_gop *)0)->label];
        snprintf(label, sizeof label, "%s %.40s", vkn_optim_name(o->kind), name);
        vkn_graph_add_op(g, &gop_optim, in, 2 + nstate, NULL, 0, &a, sizeof a, NULL, label);
        found++;
    }
    if (!found)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "optimizer: no trained parameter matches '%s'", prefix ? prefix : "*"));
    return vkn_graph_status(g);
}
