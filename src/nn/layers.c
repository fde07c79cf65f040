/* Layers with parameters or shape logic: linear, convolutions, pooling, embedding, one-hot, concat,
 * flatten, activations. Each graph op type has a record, a backward rule and a reference. */
#include "nn/nn_internal.h"
#include "ops/ref_nn.h"

/* ---- helpers ---- */

vkn_val vkn_nn_param(vkn_nn *m, const char *layer, const char *what, int ndim, const int64_t *shape, vkn_init init,
                     float scale, int64_t fan_in, int64_t fan_out)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    int i = vkn_params_find(m->params, name);
    if (i < 0) i = vkn_params_add(m->params, name, ndim, shape, init, scale, fan_in, fan_out);
    if (i < 0) {
        vkn_graph_fail(m->g, vkn_params_status(m->params));
        return VKN_NONE;
    }
    const vkn_tensor *t = vkn_params_value(m->params, i);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        vkn_graph_fail(m->g, vkn_status_set(VKN_ERR_SHAPE, "layer %s: parameter %s exists with another shape", layer, name));
        return VKN_NONE;
    }
    return vkn_graph_param(m->g, i, m->trainable);
}

double *vkn_nn_to_double(const float *x, int64_t n)
{
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    if (d) for (int64_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

void vkn_nn_to_float(const double *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = (float)x[i];
}

static float seed_value(const vkn_graph *g, vkn_val v, int *is_fill)
{
    int d = G(g, v)->def;
    *is_fill = d >= 0 && g->ops[d].type == &vkn_gop_fill;
    float f = 0;
    if (*is_fill) memcpy(&f, g->ops[d].attr, sizeof f);
    return f;
}

vkn_val vkn_nn_scale_by_upstream(vkn_graph *g, vkn_val grad, vkn_val dloss)
{
    int fill;
    if (seed_value(g, dloss, &fill) == 1.0f && fill) return grad;
    return vkn_graph_binary(g, VKN_BINARY_MUL, grad, dloss);
}

static vkn_init weight_init(const vkn_nn *m) { return m->init ? m->init : VKN_INIT_HE; }

/* ---- linear ---- */

vkn_val vkn_nn_linear(vkn_nn *m, const char *name, vkn_val x, int out, int bias)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    if (vkn_graph_ndim(g, x) != 2) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "linear %s: input must be [N, features] (flatten first)", name));
        return VKN_NONE;
    }
    int64_t in = vkn_graph_dim(g, x, 1);
    int64_t ws[2] = {out, in}, bs[1] = {out};
    vkn_val w = vkn_nn_param(m, name, "weight", 2, ws, weight_init(m), m->init_scale, in, out);
    vkn_val b = bias ? vkn_nn_param(m, name, "bias", 1, bs, VKN_INIT_ZEROS, 0, 0, 0) : VKN_NONE;
    return vkn_graph_linear(g, x, w, b, VKN_ACT_NONE, 0);
}

/* ---- convolutions ---- */

typedef struct {
    vkn_window2d win;
    int transpose;
    int N, Cin, H, W, Cout, Ho, Wo;
    int bias;
    int want_dx, want_dw, want_db;    /* backward op only */
} conv_attr;

static vkn_status conv_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const conv_attr *a = (const void *)op->attr;
    const vkn_tensor *b = a->bias ? T(op->in[2]) : NULL;
    if (a->transpose) return vkn_op_conv_transpose2d(c, T(op->in[0]), T(op->in[1]), b, &a->win, T(op->out[0]), T(op->out[1]));
    return vkn_op_conv2d(c, T(op->in[0]), T(op->in[1]), b, &a->win, T(op->out[0]), T(op->out[1]));
}

static vkn_status conv_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const conv_attr *a = (const void *)op->attr;
    int64_t nx = (int64_t)a->N * a->Cin * a->H * a->W, nw = vkn_graph_numel(g, op->in[1]);
    int64_t ny = (int64_t)a->N * a->Cout * a->Ho * a->Wo;
    double *x = vkn_nn_to_double(in[0], nx), *w = vkn_nn_to_double(in[1], nw);
    double *b = a->bias ? vkn_nn_to_double(in[2], a->Cout) : NULL, *y = malloc((size_t)ny * sizeof *y);
    if (!x || !w || !y || (a->bias && !b)) { free(x); free(w); free(b); free(y); return vkn_status_set(VKN_ERR_HOST_OOM, "conv ref"); }
    if (a->transpose) vkn_ref_conv_transpose2d(&a->win, a->N, a->Cin, a->H, a->W, a->Cout, a->Ho, a->Wo, x, w, b, y);
    else vkn_ref_conv2d(&a->win, a->N, a->Cin, a->H, a->W, a->Cout, x, w, b, y);
    vkn_nn_to_float(y, out[0], ny);
    free(x); free(w); free(b); free(y);
    return VKN_OK;
}

static vkn_status conv_bwd_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const conv_attr *a = (const void *)op->attr;
    int k = 0;
    const vkn_tensor *dx = a->want_dx ? T(op->out[k++]) : NULL;
    const vkn_tensor *dw = a->want_dw ? T(op->out[k++]) : NULL;
    const vkn_tensor *db = a->want_db ? T(op->out[k++]) : NULL;
    const vkn_tensor *ws = T(op->out[k]);
    if (a->transpose)
        return vkn_op_conv_transpose2d_backward(c, T(op->in[0]), T(op->in[1]), T(op->in[2]), &a->win, dx, dw, db, ws);
    return vkn_op_conv2d_backward(c, T(op->in[0]), T(op->in[1]), T(op->in[2]), &a->win, dx, dw, db, ws);
}
static const vkn_gop_type gop_conv_bwd = {"conv_backward", conv_bwd_record, NULL, NULL, NULL};

static vkn_status conv_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    conv_attr a = *(const conv_attr *)op->attr;
    vkn_val x = op->in[0], w = op->in[1];
    a.want_dx = G(g, x)->requires_grad;
    a.want_dw = G(g, w)->requires_grad;
    a.want_db = a.bias && G(g, op->in[2])->requires_grad;
    vkn_val outs[4];
    int k = 0;
    if (a.want_dx) outs[k++] = din[0] = vkn_graph_value(g, "dx", VKN_F32, G(g, x)->ndim, G(g, x)->shape);
    if (a.want_dw) outs[k++] = din[1] = vkn_graph_value(g, "dw", VKN_F32, G(g, w)->ndim, G(g, w)->shape);
    if (a.want_db) outs[k++] = din[2] = vkn_graph_value(g, "db", VKN_F32, G(g, op->in[2])->ndim, G(g, op->in[2])->shape);
    int64_t wsn = a.transpose ? vkn_conv_transpose2d_backward_workspace_size(a.N, a.Cin, a.H, a.W, a.Cout, a.Ho, a.Wo, &a.win)
                              : vkn_conv2d_backward_workspace_size(a.N, a.Cin, a.H, a.W, a.Cout, &a.win);
    if (wsn < 1) wsn = 1;
    outs[k++] = vkn_graph_value(g, "conv_ws", VKN_F32, 1, &wsn);
    vkn_val in[3] = {x, w, dout[0]};
    vkn_graph_add_op(g, &gop_conv_bwd, in, 3, outs, k, &a, sizeof a, NULL, a.transpose ? "convT-backward" : "conv-backward");
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_conv = {"conv", conv_record, conv_backward, conv_ref, NULL};

static vkn_val conv_common(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias,
                           int transpose)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    if (vkn_graph_ndim(g, x) != 4 || k < 1 || stride < 1 || pad < 0 || out_ch < 1) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "%s %s: needs an NCHW input and k, stride >= 1, pad >= 0",
                                         transpose ? "conv_transpose2d" : "conv2d", name));
        return VKN_NONE;
    }
    conv_attr a = {.win = {k, k, stride, stride, pad, pad}, .transpose = transpose, .bias = bias};
    a.N = (int)vkn_graph_dim(g, x, 0);
    a.Cin = (int)vkn_graph_dim(g, x, 1);
    a.H = (int)vkn_graph_dim(g, x, 2);
    a.W = (int)vkn_graph_dim(g, x, 3);
    a.Cout = out_ch;
    if (transpose) {
        a.Ho = (a.H - 1) * stride - 2 * pad + k;
        a.Wo = (a.W - 1) * stride - 2 * pad + k;
    } else if (!vkn_window2d_out(&a.win, a.H, a.W, &a.Ho, &a.Wo)) {
        a.Ho = a.Wo = 0;
    }
    if (a.Ho < 1 || a.Wo < 1) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "%s %s: a %dx%d input gives no output with k=%d s=%d p=%d",
                                         transpose ? "conv_transpose2d" : "conv2d", name, a.H, a.W, k, stride, pad));
        return VKN_NONE;
    }
    int64_t ws[4] = {transpose ? a.Cin : out_ch, transpose ? out_ch : a.Cin, k, k}, bs[1] = {out_ch};
    int64_t fan_in = (int64_t)(transpose ? out_ch : a.Cin) * k * k, fan_out = (int64_t)(transpose ? a.Cin : out_ch) * k * k;
    vkn_val w = vkn_nn_param(m, name, "weight", 4, ws, weight_init(m), m->init_scale, fan_in, fan_out);
    vkn_val b = bias ? vkn_nn_param(m, name, "bias", 1, bs, VKN_INIT_ZEROS, 0, 0, 0) : VKN_NONE;
    int64_t ys[4] = {a.N, out_ch, a.Ho, a.Wo};
    int64_t wsn = transpose ? vkn_conv_transpose2d_workspace_size(a.N, a.Cin, a.H, a.W, out_ch, &a.win)
                            : vkn_conv2d_workspace_size(a.N, a.Cin, a.H, a.W, out_ch, &a.win);
    if (wsn < 1) wsn = 1;
    vkn_val outs[2] = {vkn_graph_value(g, name, VKN_F32, 4, ys), vkn_graph_value(g, "conv_ws", VKN_F32, 1, &wsn)};
    vkn_val in[3] = {x, w, b};
    vkn_graph_add_op(g, &gop_conv, in, bias ? 3 : 2, outs, 2, &a, sizeof a, NULL, name);
    return outs[0];
}

vkn_val vkn_nn_conv2d(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias)
{
    return conv_common(m, name, x, out_ch, k, stride, pad, bias, 0);
}

vkn_val vkn_nn_conv_transpose2d(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias)
{
    return conv_common(m, name, x, out_ch, k, stride, pad, bias, 1);
}

/* ---- activations ---- */

vkn_val vkn_nn_act(vkn_nn *m, vkn_act act, float alpha, vkn_val x)
{
    static const vkn_unary map[] = {VKN_UNARY_SCALE, VKN_UNARY_RELU, VKN_UNARY_LEAKY_RELU, VKN_UNARY_TANH, VKN_UNARY_SIGMOID};
    if (act == VKN_ACT_NONE) return x;
    if ((unsigned)act >= VKN_ACT_COUNT_) {
        vkn_graph_fail(m->g, vkn_status_set(VKN_ERR_ARG, "activation %d unknown", (int)act));
        return VKN_NONE;
    }
    return vkn_graph_unary(m->g, map[act], alpha, x);
}

/* ---- pooling ---- */

typedef struct { vkn_window2d win; int max; int planes, H, W; } pool_attr;

static vkn_status pool_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const pool_attr *a = (const void *)op->attr;
    if (a->max) return vkn_op_maxpool2d(c, T(op->in[0]), &a->win, T(op->out[0]), T(op->out[1]));
    return vkn_op_avgpool2d(c, T(op->in[0]), &a->win, T(op->out[0]));
}
static vkn_status pool_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const pool_attr *a = (const void *)op->attr;
    int64_t nx = vkn_graph_numel(g, op->in[0]), ny = vkn_graph_numel(g, op->out[0]);
    double *x = vkn_nn_to_double(in[0], nx), *y = malloc((size_t)ny * sizeof *y);
    if (!x || !y) { free(x); free(y); return vkn_status_set(VKN_ERR_HOST_OOM, "pool ref"); }
    if (a->max) vkn_ref_maxpool2d(&a->win, a->planes, a->H, a->W, x, y, (int32_t *)out[1]);
    else vkn_ref_avgpool2d(&a->win, a->planes, a->H, a->W, x, y);
    vkn_nn_to_float(y, out[0], ny);
    free(x); free(y);
    return VKN_OK;
}
static vkn_status pool_bwd_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const pool_attr *a = (const void *)op->attr;
    if (a->max) return vkn_op_maxpool2d_backward(c, T(op->in[0]), T(op->in[1]), &a->win, T(op->out[0]));
    return vkn_op_avgpool2d_backward(c, T(op->in[0]), &a->win, T(op->out[0]));
}
static const vkn_gop_type gop_pool_bwd = {"pool_backward", pool_bwd_record, NULL, NULL, NULL};
static vkn_status pool_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    const pool_attr *a = (const void *)op->attr;
    vkn_val x = op->in[0];
    din[0] = vkn_graph_value(g, "dpool", VKN_F32, G(g, x)->ndim, G(g, x)->shape);
    vkn_val in[2] = {dout[0], a->max ? op->out[1] : VKN_NONE};
    vkn_graph_add_op(g, &gop_pool_bwd, in, a->max ? 2 : 1, &din[0], 1, a, sizeof *a, NULL, "pool-backward");
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_pool = {"pool", pool_record, pool_backward, pool_ref, NULL};

static vkn_val pool(vkn_nn *m, vkn_val x, int k, int stride, int max)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    pool_attr a = {.win = {k, k, stride, stride, 0, 0}, .max = max};
    int Ho = 0, Wo = 0;
    if (vkn_graph_ndim(g, x) != 4 || !vkn_window2d_out(&a.win, (int)vkn_graph_dim(g, x, 2), (int)vkn_graph_dim(g, x, 3), &Ho, &Wo) ||
        Ho < 1 || Wo < 1) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "%s: needs an NCHW input at least %dx%d", max ? "maxpool" : "avgpool", k, k));
        return VKN_NONE;
    }
    a.planes = (int)(vkn_graph_dim(g, x, 0) * vkn_graph_dim(g, x, 1));
    a.H = (int)vkn_graph_dim(g, x, 2);
    a.W = (int)vkn_graph_dim(g, x, 3);
    int64_t ys[4] = {vkn_graph_dim(g, x, 0), vkn_graph_dim(g, x, 1), Ho, Wo};
    vkn_val outs[2] = {vkn_graph_value(g, max ? "maxpool" : "avgpool", VKN_F32, 4, ys),
                       max ? vkn_graph_value(g, "argmax", VKN_I32, 4, ys) : VKN_NONE};
    vkn_graph_add_op(g, &gop_pool, &x, 1, outs, max ? 2 : 1, &a, sizeof a, NULL, max ? "maxpool" : "avgpool");
    return outs[0];
}

vkn_val vkn_nn_maxpool2d(vkn_nn *m, vkn_val x, int k, int stride) { return pool(m, x, k, stride, 1); }
vkn_val vkn_nn_avgpool2d(vkn_nn *m, vkn_val x, int k, int stride) { return pool(m, x, k, stride, 0); }

/* ---- embedding, one-hot ---- */

typedef struct { int K, D, N; } embed_attr;

static vkn_status embed_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_embedding(c, T(op->in[0]), T(op->in[1]), T(op->out[0]));
}
static vkn_status embed_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const embed_attr *a = (const void *)op->attr;
    double *t = vkn_nn_to_double(in[0], (int64_t)a->K * a->D), *y = malloc((size_t)a->N * a->D * sizeof *y);
    if (!t || !y) { free(t); free(y); return vkn_status_set(VKN_ERR_HOST_OOM, "embedding ref"); }
    vkn_ref_embedding(a->K, a->D, a->N, t, (const int32_t *)in[1], y);
    vkn_nn_to_float(y, out[0], (int64_t)a->N * a->D);
    free(t); free(y);
    return VKN_OK;
}
static vkn_status embed_bwd_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_embedding_backward(c, T(op->in[0]), T(op->in[1]), T(op->out[0]));
}
static const vkn_gop_type gop_embed_bwd = {"embedding_backward", embed_bwd_record, NULL, NULL, NULL};
static vkn_status embed_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    vkn_val table = op->in[0];
    din[0] = vkn_graph_value(g, "dtable", VKN_F32, G(g, table)->ndim, G(g, table)->shape);
    vkn_val in[2] = {op->in[1], dout[0]};
    vkn_graph_add_op(g, &gop_embed_bwd, in, 2, &din[0], 1, op->attr, sizeof(embed_attr), NULL, "embedding-backward");
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_embed = {"embedding", embed_record, embed_backward, embed_ref, NULL};

vkn_val vkn_nn_embedding(vkn_nn *m, const char *name, vkn_val ids, int num, int dim)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    if (G(g, ids)->dtype != VKN_I32 || vkn_graph_ndim(g, ids) != 1) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "embedding %s: ids must be I32 [N]", name));
        return VKN_NONE;
    }
    int64_t ts[2] = {num, dim};
    vkn_val table = vkn_nn_param(m, name, "weight", 2, ts, m->init ? m->init : VKN_INIT_NORMAL,
                                 m->init ? m->init_scale : 1.0f, dim, num);
    embed_attr a = {num, dim, (int)vkn_graph_dim(g, ids, 0)};
    int64_t ys[2] = {a.N, dim};
    vkn_val y = vkn_graph_value(g, name, VKN_F32, 2, ys);
    vkn_val in[2] = {table, ids};
    vkn_graph_require_ids(g, ids, num, name);
    vkn_graph_add_op(g, &gop_embed, in, 2, &y, 1, &a, sizeof a, NULL, name);
    return y;
}

static vkn_status onehot_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c) { return vkn_op_one_hot(c, T(op->in[0]), T(op->out[0])); }
static vkn_status onehot_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    int K = (int)vkn_graph_dim(g, op->out[0], 1), N = (int)vkn_graph_dim(g, op->out[0], 0);
    double *y = malloc((size_t)N * K * sizeof *y);
    if (!y) return vkn_status_set(VKN_ERR_HOST_OOM, "one_hot ref");
    vkn_ref_one_hot(K, N, (const int32_t *)in[0], y);
    vkn_nn_to_float(y, out[0], (int64_t)N * K);
    free(y);
    return VKN_OK;
}
static const vkn_gop_type gop_onehot = {"one_hot", onehot_record, NULL, onehot_ref, NULL};

vkn_val vkn_nn_one_hot(vkn_nn *m, vkn_val ids, int k)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    int64_t ys[2] = {vkn_graph_dim(g, ids, 0), k};
    vkn_val y = vkn_graph_value(g, "one_hot", VKN_F32, 2, ys);
    vkn_graph_require_ids(g, ids, k, "one-hot");
    vkn_graph_add_op(g, &gop_onehot, &ids, 1, &y, 1, NULL, 0, NULL, "one-hot");
    return y;
}

/* ---- concat / flatten ---- */

static vkn_status concat_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_concat(c, T(op->in[0]), T(op->in[1]), T(op->out[0]));
}
static vkn_status concat_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    int64_t N = vkn_graph_dim(g, op->in[0], 0), A = vkn_graph_dim(g, op->in[0], 1), B = vkn_graph_dim(g, op->in[1], 1);
    for (int64_t n = 0; n < N; n++) {
        memcpy(out[0] + n * (A + B), in[0] + n * A, (size_t)A * 4);
        memcpy(out[0] + n * (A + B) + A, in[1] + n * B, (size_t)B * 4);
    }
    return VKN_OK;
}
static vkn_status split_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_split(c, T(op->in[0]), T(op->out[0]), T(op->out[1]));
}
static const vkn_gop_type gop_split = {"split", split_record, NULL, NULL, NULL};
static vkn_status concat_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    vkn_val outs[2] = {vkn_graph_value(g, "da", VKN_F32, 2, G(g, op->in[0])->shape),
                       vkn_graph_value(g, "db", VKN_F32, 2, G(g, op->in[1])->shape)};
    vkn_graph_add_op(g, &gop_split, &dout[0], 1, outs, 2, NULL, 0, NULL, "split");
    din[0] = outs[0];
    din[1] = outs[1];
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_concat = {"concat", concat_record, concat_backward, concat_ref, NULL};

vkn_val vkn_nn_concat(vkn_nn *m, vkn_val a, vkn_val b)
{
    vkn_graph *g = m->g;
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    if (vkn_graph_ndim(g, a) != 2 || vkn_graph_ndim(g, b) != 2 || vkn_graph_dim(g, a, 0) != vkn_graph_dim(g, b, 0)) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "concat: needs [N, a] and [N, b] inputs"));
        return VKN_NONE;
    }
    int64_t ys[2] = {vkn_graph_dim(g, a, 0), vkn_graph_dim(g, a, 1) + vkn_graph_dim(g, b, 1)};
    vkn_val y = vkn_graph_value(g, "concat", VKN_F32, 2, ys);
    vkn_val in[2] = {a, b};
    vkn_graph_add_op(g, &gop_concat, in, 2, &y, 1, NULL, 0, NULL, "concat");
    return y;
}

vkn_val vkn_nn_flatten(vkn_nn *m, vkn_val x)
{
    int64_t s[2] = {vkn_graph_dim(m->g, x, 0), vkn_graph_numel(m->g, x) / (vkn_graph_dim(m->g, x, 0) ? vkn_graph_dim(m->g, x, 0) : 1)};
    return vkn_graph_reshape(m->g, x, 2, s);
}
