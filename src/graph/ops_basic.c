/* Graph op types over the foundation's ops: fill, copy, add, unary, binary (broadcasting), reduce,
 * reshape, GEMM with bias and activation; each with its record, backward rule and reference. */
#include "graph/graph_internal.h"
#include "ops/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T(v) vkn_graph_tensor(g, (v))

/* ---- fill ---- */
static vkn_status fill_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    float v;
    memcpy(&v, op->attr, sizeof v);
    return vkn_op_fill(c, T(op->out[0]), v);
}
static vkn_status fill_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    float v;
    memcpy(&v, op->attr, sizeof v);
    for (int64_t i = 0; i < vkn_graph_numel(g, op->out[0]); i++) out[0][i] = v;
    (void)in;
    return VKN_OK;
}
const vkn_gop_type vkn_gop_fill = {"fill", fill_record, NULL, fill_ref, NULL};

/* ---- copy ---- */
static vkn_status copy_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c) { return vkn_op_copy(c, T(op->in[0]), T(op->out[0])); }
static vkn_status copy_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    (void)op;
    din[0] = dout[0];
    (void)g;
    return VKN_OK;
}
static vkn_status copy_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    memcpy(out[0], in[0], (size_t)vkn_graph_numel(g, op->out[0]) * sizeof(float));
    return VKN_OK;
}
const vkn_gop_type vkn_gop_copy = {"copy", copy_record, copy_backward, copy_ref, NULL};

/* ---- binary with broadcasting ---- */
typedef struct { vkn_binary op; } binary_attr;

static vkn_status binary_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const binary_attr *a = (const void *)op->attr;
    return vkn_op_binary(c, a->op, T(op->in[0]), T(op->in[1]), T(op->out[0]));
}

/* Sum a gradient of y's shape down to x's (broadcast) shape. */
static vkn_val unbroadcast(vkn_graph *g, vkn_val d, vkn_val x)
{
    int ndy = vkn_graph_ndim(g, d), ndx = vkn_graph_ndim(g, x);
    uint32_t mask = 0;
    int64_t keep[VKN_MAX_DIMS];
    for (int i = 0; i < ndy; i++) {
        int xi = i - (ndy - ndx);
        int64_t xs = xi >= 0 ? vkn_graph_dim(g, x, xi) : 1;
        if (xs == 1 && vkn_graph_dim(g, d, i) != 1) mask |= 1u << i;
        keep[i] = xs;
    }
    (void)keep;
    if (!mask) return d;
    vkn_val r = vkn_graph_reduce(g, VKN_REDUCE_SUM, d, mask);
    return vkn_graph_reshape(g, r, G(g, x)->ndim, G(g, x)->shape);
}

static vkn_val scalar_const(vkn_graph *g, float v)
{
    int64_t one = 1;
    vkn_val c = vkn_graph_value(g, "const", VKN_F32, 1, &one);
    vkn_graph_add_op(g, &vkn_gop_fill, NULL, 0, &c, 1, &v, sizeof v, NULL, "const");
    return c;
}

static vkn_status binary_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    const binary_attr *a = (const void *)op->attr;
    vkn_val x = op->in[0], y = op->in[1], d = dout[0];
    int gx = G(g, x)->requires_grad, gy = G(g, y)->requires_grad;
    switch (a->op) {
    case VKN_BINARY_ADD:
        if (gx) din[0] = unbroadcast(g, d, x);
        if (gy) din[1] = unbroadcast(g, d, y);
        break;
    case VKN_BINARY_SUB:
        if (gx) din[0] = unbroadcast(g, d, x);
        if (gy) din[1] = unbroadcast(g, vkn_graph_unary(g, VKN_UNARY_SCALE, -1.0f, d), y);
        break;
    case VKN_BINARY_MUL:
        if (gx) din[0] = unbroadcast(g, vkn_graph_binary(g, VKN_BINARY_MUL, d, y), x);
        if (gy) din[1] = unbroadcast(g, vkn_graph_binary(g, VKN_BINARY_MUL, d, x), y);
        break;
    default: /* div: d(x/y)/dx = 1/y, d(x/y)/dy = -x/y^2 = -(out)/y */
        if (gx) din[0] = unbroadcast(g, vkn_graph_binary(g, VKN_BINARY_DIV, d, y), x);
        if (gy) {
            vkn_val q = vkn_graph_binary(g, VKN_BINARY_DIV, op->out[0], y);
            din[1] = unbroadcast(g, vkn_graph_unary(g, VKN_UNARY_SCALE, -1.0f, vkn_graph_binary(g, VKN_BINARY_MUL, d, q)), y);
        }
        break;
    }
    return vkn_graph_status(g);
}

static vkn_status binary_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const binary_attr *a = (const void *)op->attr;
    const gval *x = G(g, op->in[0]), *y = G(g, op->in[1]), *o = G(g, op->out[0]);
    /* the reference broadcasts to the max shape; y's shape may be larger: broadcast then */
    int64_t sx[4] = {1, 1, 1, 1}, sy[4] = {1, 1, 1, 1}, so[4] = {1, 1, 1, 1};
    for (int i = 0; i < x->ndim; i++) sx[4 - x->ndim + i] = x->shape[i];
    for (int i = 0; i < y->ndim; i++) sy[4 - y->ndim + i] = y->shape[i];
    for (int i = 0; i < o->ndim; i++) so[4 - o->ndim + i] = o->shape[i];
    int64_t idx = 0;
    for (int64_t i0 = 0; i0 < so[0]; i0++) for (int64_t i1 = 0; i1 < so[1]; i1++)
    for (int64_t i2 = 0; i2 < so[2]; i2++) for (int64_t i3 = 0; i3 < so[3]; i3++, idx++) {
        int64_t ix = (((sx[0] > 1 ? i0 : 0) * sx[1] + (sx[1] > 1 ? i1 : 0)) * sx[2] + (sx[2] > 1 ? i2 : 0)) * sx[3] + (sx[3] > 1 ? i3 : 0);
        int64_t iy = (((sy[0] > 1 ? i0 : 0) * sy[1] + (sy[1] > 1 ? i1 : 0)) * sy[2] + (sy[2] > 1 ? i2 : 0)) * sy[3] + (sy[3] > 1 ? i3 : 0);
        double u = in[0][ix], v = in[1][iy];
        out[0][idx] = (float)(a->op == VKN_BINARY_ADD ? u + v : a->op == VKN_BINARY_SUB ? u - v
                              : a->op == VKN_BINARY_MUL ? u * v : u / v);
    }
    return VKN_OK;
}
static const vkn_gop_type gop_binary = {"binary", binary_record, binary_backward, binary_ref, NULL};

static vkn_val binary_to(vkn_graph *g, vkn_binary op, vkn_val a, vkn_val b, int ndim, const int64_t *shape)
{
    vkn_val out = vkn_graph_value(g, vkn_binary_name(op), VKN_F32, ndim, shape);
    binary_attr at = {op};
    vkn_val in[2] = {a, b};
    vkn_graph_add_op(g, &gop_binary, in, 2, &out, 1, &at, sizeof at, NULL, vkn_binary_name(op));
    return out;
}

vkn_val vkn_graph_binary(vkn_graph *g, vkn_binary op, vkn_val a, vkn_val b)
{
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    const gval *x = G(g, a), *y = G(g, b);
    int nd = x->ndim > y->ndim ? x->ndim : y->ndim;
    int64_t shape[VKN_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int xi = i - (nd - x->ndim), yi = i - (nd - y->ndim);
        int64_t xs = xi >= 0 ? x->shape[xi] : 1, ys = yi >= 0 ? y->shape[yi] : 1;
        if (xs != ys && xs != 1 && ys != 1) {
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph: %s of %s and %s: dimension %d is %lld vs %lld",
                                             vkn_binary_name(op), x->name, y->name, i, (long long)xs, (long long)ys));
            return VKN_NONE;
        }
        shape[i] = xs > ys ? xs : ys;
    }
    return binary_to(g, op, a, b, nd, shape);
}

/* ---- add (same shape, for gradient accumulation) ---- */
static vkn_status add_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    return vkn_op_binary(c, VKN_BINARY_ADD, T(op->in[0]), T(op->in[1]), T(op->out[0]));
}
static vkn_status add_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    (void)g; (void)op;
    din[0] = dout[0];
    din[1] = dout[0];
    return VKN_OK;
}
static vkn_status add_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    for (int64_t i = 0; i < vkn_graph_numel(g, op->out[0]); i++) out[0][i] = in[0][i] + in[1][i];
    return VKN_OK;
}
const vkn_gop_type vkn_gop_add = {"add", add_record, add_backward, add_ref, NULL};

/* ---- unary ---- */
typedef struct { vkn_unary op; float alpha; } unary_attr;

static vkn_status unary_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const unary_attr *a = (const void *)op->attr;
    return vkn_op_unary(c, a->op, a->alpha, T(op->in[0]), T(op->out[0]));
}
static vkn_status unary_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    const unary_attr *a = (const void *)op->attr;
    vkn_val x = op->in[0], y = op->out[0], d = dout[0];
    switch (a->op) {
    case VKN_UNARY_SCALE: din[0] = vkn_graph_unary(g, VKN_UNARY_SCALE, a->alpha, d); break;
    case VKN_UNARY_EXP: din[0] = vkn_graph_binary(g, VKN_BINARY_MUL, d, y); break;
    case VKN_UNARY_LOG: din[0] = vkn_graph_binary(g, VKN_BINARY_DIV, d, x); break;
    default: return vkn_graph_act_backward(g, (vkn_act)(a->op == VKN_UNARY_RELU ? VKN_ACT_RELU
                                                        : a->op == VKN_UNARY_LEAKY_RELU ? VKN_ACT_LEAKY_RELU
                                                        : a->op == VKN_UNARY_TANH ? VKN_ACT_TANH : VKN_ACT_SIGMOID),
                                           a->alpha, x, y, d, &din[0]);
    }
    return vkn_graph_status(g);
}
static vkn_status unary_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const unary_attr *a = (const void *)op->attr;
    vkn_ref_unary(a->op, a->alpha, in[0], out[0], vkn_graph_numel(g, op->in[0]));
    return VKN_OK;
}
static const vkn_gop_type gop_unary = {"unary", unary_record, unary_backward, unary_ref, NULL};

vkn_val vkn_graph_unary(vkn_graph *g, vkn_unary op, float alpha, vkn_val x)
{
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    vkn_val out = vkn_graph_value(g, vkn_unary_name(op), VKN_F32, G(g, x)->ndim, G(g, x)->shape);
    unary_attr at = {op, alpha};
    vkn_graph_add_op(g, &gop_unary, &x, 1, &out, 1, &at, sizeof at, NULL, vkn_unary_name(op));
    return out;
}

/* ---- reduce (sum, mean) ---- */
typedef struct { vkn_reduce op; uint32_t axes; } reduce_attr;

static vkn_status reduce_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const reduce_attr *a = (const void *)op->attr;
    return vkn_op_reduce(c, a->op, T(op->in[0]), a->axes, T(op->out[0]));
}
static vkn_status reduce_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    const reduce_attr *a = (const void *)op->attr;
    vkn_val x = op->in[0];
    if (a->op == VKN_REDUCE_MAX)
        return vkn_graph_fail(g, vkn_status_set(VKN_ERR_UNSUPPORTED, "graph: reduce max has no backward"));
    /* dy with the reduced axes kept as 1, broadcast back to x: dx = dy * (1 or 1/R) */
    const gval *xv = G(g, x);
    int64_t kd[VKN_MAX_DIMS], r = 1;
    for (int i = 0; i < xv->ndim; i++) {
        kd[i] = (a->axes >> i) & 1 ? 1 : xv->shape[i];
        if ((a->axes >> i) & 1) r *= xv->shape[i];
    }
    vkn_val dk = vkn_graph_reshape(g, dout[0], xv->ndim, kd);
    vkn_val scale = scalar_const(g, a->op == VKN_REDUCE_MEAN ? (float)(1.0 / (double)r) : 1.0f);
    din[0] = binary_to(g, VKN_BINARY_MUL, dk, scale, xv->ndim, xv->shape);
    return vkn_graph_status(g);
}
static vkn_status reduce_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const reduce_attr *a = (const void *)op->attr;
    const gval *x = G(g, op->in[0]);
    vkn_ref_reduce(a->op, in[0], x->ndim, x->shape, a->axes, out[0]);
    return VKN_OK;
}
static const vkn_gop_type gop_reduce = {"reduce", reduce_record, reduce_backward, reduce_ref, NULL};

vkn_val vkn_graph_reduce(vkn_graph *g, vkn_reduce op, vkn_val x, uint32_t axes)
{
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    const gval *xv = G(g, x);
    int64_t shape[VKN_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < xv->ndim; i++)
        if (!((axes >> i) & 1)) shape[nd++] = xv->shape[i];
    if (nd == 0) shape[nd++] = 1;
    vkn_val out = vkn_graph_value(g, vkn_reduce_name(op), VKN_F32, nd, shape);
    reduce_attr at = {op, axes};
    vkn_graph_add_op(g, &gop_reduce, &x, 1, &out, 1, &at, sizeof at, NULL, vkn_reduce_name(op));
    return out;
}

/* ---- reshape (an alias: no dispatch) ---- */
static vkn_status reshape_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    (void)g; (void)op; (void)c;
    return VKN_OK;
}
static vkn_status reshape_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    din[0] = vkn_graph_reshape(g, dout[0], G(g, op->in[0])->ndim, G(g, op->in[0])->shape);
    return vkn_graph_status(g);
}
static vkn_status reshape_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    if (in[0] != out[0]) memcpy(out[0], in[0], (size_t)vkn_graph_numel(g, op->in[0]) * sizeof(float));
    return VKN_OK;
}
static const vkn_gop_type gop_reshape = {"reshape", reshape_record, reshape_backward, reshape_ref, NULL};

vkn_val vkn_graph_reshape(vkn_graph *g, vkn_val x, int ndim, const int64_t *shape)
{
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (n != G(g, x)->numel) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph: reshape of %s (%lld elements) to %lld elements",
                                         G(g, x)->name, (long long)G(g, x)->numel, (long long)n));
        return VKN_NONE;
    }
    vkn_val out = vkn_graph_value(g, "reshape", G(g, x)->dtype, ndim, shape);
    if (out == VKN_NONE) return out;
    G(g, out)->alias = x;
    vkn_graph_add_op(g, &gop_reshape, &x, 1, &out, 1, NULL, 0, NULL, "reshape");
    return out;
}

/* ---- GEMM with bias and activation ---- */
typedef struct { int ta, tb; vkn_act act; float act_alpha; int bias; } gemm_attr;

static vkn_status gemm_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    const gemm_attr *a = (const void *)op->attr;
    vkn_gemm_opts o = {.trans_a = a->ta, .trans_b = a->tb, .act = a->act, .act_alpha = a->act_alpha,
                       .bias_kind = a->bias ? VKN_BIAS_COL : VKN_BIAS_NONE, .bias = a->bias ? T(op->in[2]) : NULL};
    return vkn_op_gemm(c, T(op->in[0]), T(op->in[1]), T(op->out[0]), &o);
}
static vkn_val gemm_raw(vkn_graph *g, vkn_val a, vkn_val b, int ta, int tb, vkn_val bias, vkn_act act, float act_alpha);

static vkn_status gemm_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    const gemm_attr *a = (const void *)op->attr;
    vkn_val A = op->in[0], B = op->in[1], dz = dout[0];
    if (a->act != VKN_ACT_NONE) VKN_TRY(vkn_graph_act_backward(g, a->act, a->act_alpha, VKN_NONE, op->out[0], dz, &dz));
    /* C = op(A) op(B): dA = dC op(B)^T (stored transposed when ta), dB likewise */
    if (G(g, A)->requires_grad)
        din[0] = a->ta ? gemm_raw(g, B, dz, a->tb, 1, VKN_NONE, VKN_ACT_NONE, 0)    /* dA = op(B) dC^T */
                       : gemm_raw(g, dz, B, 0, !a->tb, VKN_NONE, VKN_ACT_NONE, 0);  /* dA = dC op(B)^T */
    if (G(g, B)->requires_grad)
        din[1] = a->tb ? gemm_raw(g, dz, A, 1, a->ta, VKN_NONE, VKN_ACT_NONE, 0)    /* dB = dC^T op(A) */
                       : gemm_raw(g, A, dz, !a->ta, 0, VKN_NONE, VKN_ACT_NONE, 0);  /* dB = op(A)^T dC */
    if (a->bias && G(g, op->in[2])->requires_grad) din[2] = vkn_graph_reduce(g, VKN_REDUCE_SUM, dz, 1);
    return vkn_graph_status(g);
}
static vkn_status gemm_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const gemm_attr *a = (const void *)op->attr;
    const gval *o = G(g, op->out[0]), *A = G(g, op->in[0]);
    int64_t M = o->shape[0], N = o->shape[1], K = a->ta ? A->shape[0] : A->shape[1];
    vkn_gemm_opts opt = {.trans_a = a->ta, .trans_b = a->tb, .act = a->act, .act_alpha = a->act_alpha,
                         .bias_kind = a->bias ? VKN_BIAS_COL : VKN_BIAS_NONE};
    vkn_ref_gemm(1, M, N, K, in[0], in[1], out[0], a->bias ? in[2] : NULL, &opt);
    return VKN_OK;
}
static const vkn_gop_type gop_gemm = {"gemm", gemm_record, gemm_backward, gemm_ref, NULL};

static vkn_val gemm_raw(vkn_graph *g, vkn_val a, vkn_val b, int ta, int tb, vkn_val bias, vkn_act act, float act_alpha)
{
    if (vkn_graph_status(g) != VKN_OK) return VKN_NONE;
    const gval *A = G(g, a), *B = G(g, b);
    if (A->ndim != 2 || B->ndim != 2) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph: matmul of %s and %s needs 2-D operands", A->name, B->name));
        return VKN_NONE;
    }
    int64_t M = ta ? A->shape[1] : A->shape[0], K = ta ? A->shape[0] : A->shape[1];
    int64_t Kb = tb ? B->shape[1] : B->shape[0], N = tb ? B->shape[0] : B->shape[1];
    if (K != Kb) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph: matmul %s%s (%lldx%lld) by %s%s (%lldx%lld): inner %lld vs %lld",
                                         A->name, ta ? "^T" : "", (long long)A->shape[0], (long long)A->shape[1],
                                         B->name, tb ? "^T" : "", (long long)B->shape[0], (long long)B->shape[1],
                                         (long long)K, (long long)Kb));
        return VKN_NONE;
    }
    if (bias != VKN_NONE && G(g, bias)->numel != N) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "graph: bias %s has %lld elements, expected %lld",
                                         G(g, bias)->name, (long long)G(g, bias)->numel, (long long)N));
        return VKN_NONE;
    }
    int64_t shape[2] = {M, N};
    vkn_val out = vkn_graph_value(g, "gemm", VKN_F32, 2, shape);
    gemm_attr at = {ta, tb, act, act_alpha, bias != VKN_NONE};
    vkn_val in[3] = {a, b, bias};
    vkn_graph_add_op(g, &gop_gemm, in, bias != VKN_NONE ? 3 : 2, &out, 1, &at, sizeof at, NULL, "gemm");
    return out;
}

vkn_val vkn_graph_linear(vkn_graph *g, vkn_val x, vkn_val w, vkn_val b, vkn_act act, float act_alpha)
{
    return gemm_raw(g, x, w, 0, 1, b, act, act_alpha);
}

vkn_val vkn_graph_matmul(vkn_graph *g, vkn_val a, vkn_val b, int trans_a, int trans_b)
{
    return gemm_raw(g, a, b, trans_a, trans_b, VKN_NONE, VKN_ACT_NONE, 0);
}

vkn_val vkn_graph_mse(vkn_graph *g, vkn_val x, vkn_val target)
{
    vkn_val d = vkn_graph_binary(g, VKN_BINARY_SUB, x, target);
    vkn_val sq = vkn_graph_binary(g, VKN_BINARY_MUL, d, d);
    return vkn_graph_reduce(g, VKN_REDUCE_MEAN, sq, (1u << vkn_graph_ndim(g, sq)) - 1);
}

