/* vkn-op: the element-wise, reduction and GEMM ops, forward and (given dy) backward, recorded with
 * vknorm's own ops (the backward of an op is composed of device ops, never computed on the host). */
#include "op.h"

#include <string.h>

/* ---- unary: y = f(x); dx = dy f'(x) ---- */
vkn_status run_unary(op_ctx *oc)
{
    vkn_unary u = (vkn_unary)oc->def->code;
    float alpha = u == VKN_UNARY_LEAKY_RELU ? (float)arg_f(oc->args, "alpha", 0.01)
                  : u == VKN_UNARY_SCALE    ? (float)arg_f(oc->args, "alpha", 1.0)
                                            : 0.0f;
    vkn_tensor x, y;
    VKN_TRY(oc_input(oc, "x", VKN_F32, 1, 4, &x));
    VKN_TRY(oc_output(oc, "y", VKN_F32, x.ndim, x.shape, &y));
    VKN_TRY(vkn_op_unary(oc->cmd, u, alpha, &x, &y));
    if (!oc_has(oc, "dy")) return VKN_OK;
    vkn_tensor dy, dx;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 1, 4, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, x.ndim, x.shape, "the shape of x"));
    VKN_TRY(oc_output(oc, "dx", VKN_F32, x.ndim, x.shape, &dx));
    switch (u) {
    case VKN_UNARY_RELU: VKN_TRY(vkn_op_act_grad(oc->cmd, VKN_ACT_RELU, 0, &x, &dy, &dx)); break;
    case VKN_UNARY_LEAKY_RELU: VKN_TRY(vkn_op_act_grad(oc->cmd, VKN_ACT_LEAKY_RELU, alpha, &x, &dy, &dx)); break;
    case VKN_UNARY_TANH: VKN_TRY(vkn_op_act_grad(oc->cmd, VKN_ACT_TANH, 0, &y, &dy, &dx)); break;
    case VKN_UNARY_SIGMOID: VKN_TRY(vkn_op_act_grad(oc->cmd, VKN_ACT_SIGMOID, 0, &y, &dy, &dx)); break;
    case VKN_UNARY_EXP: VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_MUL, &dy, &y, &dx)); break;      /* dy e^x */
    case VKN_UNARY_LOG: VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_DIV, &dy, &x, &dx)); break;      /* dy / x */
    case VKN_UNARY_SCALE: VKN_TRY(vkn_op_unary(oc->cmd, VKN_UNARY_SCALE, alpha, &dy, &dx)); break; /* alpha dy */
    default: return vkn_status_set(VKN_ERR_ARG, "unary op %d has no backward", (int)u);
    }
    oc->backward = 1;
    return VKN_OK;
}

/* ---- binary with broadcasting ---- */

/* g has y's shape; out = g summed over the axes along which t's shape broadcast to y's */
static vkn_status reduce_to(op_ctx *oc, const vkn_tensor *g, const vkn_tensor *y, const vkn_tensor *out)
{
    uint32_t mask = 0;
    int off = y->ndim - out->ndim;
    for (int i = 0; i < y->ndim; i++) {
        int j = i - off;
        if (j < 0 || (out->shape[j] == 1 && y->shape[i] != 1)) mask |= 1u << i;
    }
    if (!mask) return vkn_op_copy(oc->cmd, g, out);
    return vkn_op_reduce(oc->cmd, VKN_REDUCE_SUM, g, mask, out);
}

vkn_status run_binary(op_ctx *oc)
{
    vkn_binary op = (vkn_binary)oc->def->code;
    vkn_tensor a, b, y;
    VKN_TRY(oc_input(oc, "a", VKN_F32, 1, 4, &a));
    VKN_TRY(oc_input(oc, "b", VKN_F32, 1, 4, &b));
    int nd = a.ndim > b.ndim ? a.ndim : b.ndim;
    int64_t ys[VKN_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a.ndim), ib = i - (nd - b.ndim);
        int64_t sa = ia >= 0 ? a.shape[ia] : 1, sb = ib >= 0 ? b.shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char s1[128], s2[128];
            return vkn_status_set(VKN_ERR_SHAPE,
                                  "%s: tensors 'a' %s and 'b' %s in %s do not broadcast (axis %d from the right: %lld vs %lld)",
                                  oc->def->name, oc_shape(&a, s1, sizeof s1), oc_shape(&b, s2, sizeof s2), oc->in_path,
                                  nd - i, (long long)sa, (long long)sb);
        }
        ys[i] = sa == 1 ? sb : sa;
    }
    VKN_TRY(oc_output(oc, "y", VKN_F32, nd, ys, &y));
    VKN_TRY(vkn_op_binary(oc->cmd, op, &a, &b, &y));
    if (!oc_has(oc, "dy")) return VKN_OK;

    vkn_tensor dy, da, db, ga, gb;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 1, 4, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, y.ndim, y.shape, "the broadcast shape of a and b"));
    VKN_TRY(oc_output(oc, "da", VKN_F32, a.ndim, a.shape, &da));
    VKN_TRY(oc_output(oc, "db", VKN_F32, b.ndim, b.shape, &db));
    switch (op) {
    case VKN_BINARY_ADD:
        VKN_TRY(reduce_to(oc, &dy, &y, &da));
        VKN_TRY(reduce_to(oc, &dy, &y, &db));
        break;
    case VKN_BINARY_SUB:
        VKN_TRY(oc_temp(oc, VKN_F32, y.ndim, y.shape, &gb));
        VKN_TRY(vkn_op_unary(oc->cmd, VKN_UNARY_SCALE, -1.0f, &dy, &gb));
        VKN_TRY(reduce_to(oc, &dy, &y, &da));
        VKN_TRY(reduce_to(oc, &gb, &y, &db));
        break;
    case VKN_BINARY_MUL:
        VKN_TRY(oc_temp(oc, VKN_F32, y.ndim, y.shape, &ga));
        VKN_TRY(oc_temp(oc, VKN_F32, y.ndim, y.shape, &gb));
        VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_MUL, &dy, &b, &ga));
        VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_MUL, &dy, &a, &gb));
        VKN_TRY(reduce_to(oc, &ga, &y, &da));
        VKN_TRY(reduce_to(oc, &gb, &y, &db));
        break;
    case VKN_BINARY_DIV: {
        /* da = dy / b;  db = -dy a / b^2 = -(dy y) / b */
        vkn_tensor t;
        VKN_TRY(oc_temp(oc, VKN_F32, y.ndim, y.shape, &ga));
        VKN_TRY(oc_temp(oc, VKN_F32, y.ndim, y.shape, &gb));
        VKN_TRY(oc_temp(oc, VKN_F32, y.ndim, y.shape, &t));
        VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_DIV, &dy, &b, &ga));
        VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_MUL, &ga, &y, &t));
        VKN_TRY(vkn_op_unary(oc->cmd, VKN_UNARY_SCALE, -1.0f, &t, &gb));
        VKN_TRY(reduce_to(oc, &ga, &y, &da));
        VKN_TRY(reduce_to(oc, &gb, &y, &db));
        break;
    }
    default: return vkn_status_set(VKN_ERR_ARG, "binary op %d has no backward", (int)op);
    }
    oc->backward = 1;
    return VKN_OK;
}

/* ---- reductions ---- */
vkn_status run_reduce(op_ctx *oc)
{
    vkn_reduce op = (vkn_reduce)oc->def->code;
    vkn_tensor x, y;
    VKN_TRY(oc_input(oc, "x", VKN_F32, 1, 4, &x));
    int axes[8], na = arg_ints(oc->args, "axes", axes, 8);
    uint32_t mask = 0;
    if (!arg_given(oc->args, "axes")) mask = (1u << x.ndim) - 1;
    for (int i = 0; i < na; i++) {
        int ax = axes[i] < 0 ? axes[i] + x.ndim : axes[i];
        if (ax < 0 || ax >= x.ndim) {
            char s[128];
            return oc_usage(oc, "%s: --axes %s: axis %d does not exist in x %s (axes 0..%d, or -%d..-1)", oc->def->name,
                            arg_str(oc->args, "axes", ""), axes[i], oc_shape(&x, s, sizeof s), x.ndim - 1, x.ndim);
        }
        mask |= 1u << ax;
    }
    int keep = arg_bool(oc->args, "keepdims", 0);
    int64_t kept[VKN_MAX_DIMS], sq[VKN_MAX_DIMS];
    int nsq = 0;
    int64_t nred = 1;
    for (int i = 0; i < x.ndim; i++) {
        int red = (mask >> i) & 1;
        kept[i] = red ? 1 : x.shape[i];
        if (red) nred *= x.shape[i];
        else sq[nsq++] = x.shape[i];
    }
    VKN_TRY(oc_output(oc, "y", VKN_F32, x.ndim, kept, &y));
    if (!keep) oc_output_fshape(oc, &y, nsq, sq);
    VKN_TRY(vkn_op_reduce(oc->cmd, op, &x, mask, &y));
    if (!oc_has(oc, "dy")) return VKN_OK;
    if (op == VKN_REDUCE_MAX) {
        oc_note(oc, "max: no backward (vknorm has no gradient of a max reduction); 'dy' ignored");
        return VKN_OK;
    }
    vkn_tensor dy, dyk, dx, fill;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 1, 4, &dy));
    VKN_TRY(oc_expect_numel(oc, "dy", &dy, y.numel, "the shape of y"));
    VKN_TRY(vkn_tensor_reshape(&dy, x.ndim, kept, &dyk));
    VKN_TRY(oc_output(oc, "dx", VKN_F32, x.ndim, x.shape, &dx));
    VKN_TRY(oc_temp(oc, VKN_F32, x.ndim, x.shape, &fill));
    VKN_TRY(vkn_op_fill(oc->cmd, &fill, op == VKN_REDUCE_MEAN ? (float)(1.0 / (double)nred) : 1.0f));
    VKN_TRY(vkn_op_binary(oc->cmd, VKN_BINARY_MUL, &fill, &dyk, &dx));
    oc->backward = 1;
    return VKN_OK;
}

/* ---- GEMM: y = act(alpha op(a) op(b) + beta c + bias) ---- */
static void mat3(const vkn_tensor *t, int64_t *nb, int64_t *r, int64_t *c)
{
    *nb = t->ndim == 3 ? t->shape[0] : 1;
    *r = t->shape[t->ndim - 2];
    *c = t->shape[t->ndim - 1];
}

/* out = gemm(p, q) into out, or into a batched temporary summed over the batch when out is 2-D and
 * the product is 3-D (a 2-D operand broadcast over the batch) */
static vkn_status gemm_into(op_ctx *oc, const vkn_tensor *p, const vkn_tensor *q, const vkn_gemm_opts *o, int64_t nb,
                            const vkn_tensor *out)
{
    if (nb == 1 || out->ndim == 3) return vkn_op_gemm(oc->cmd, p, q, out, o);
    vkn_tensor t;
    int64_t s3[3] = {nb, out->shape[0], out->shape[1]};
    VKN_TRY(oc_temp(oc, VKN_F32, 3, s3, &t));
    VKN_TRY(vkn_op_gemm(oc->cmd, p, q, &t, o));
    return vkn_op_reduce(oc->cmd, VKN_REDUCE_SUM, &t, 1u, out);
}

vkn_status run_gemm(op_ctx *oc)
{
    const op_args *A = oc->args;
    vkn_tensor a, b, y, c, bias;
    VKN_TRY(oc_input(oc, "a", VKN_F32, 2, 3, &a));
    VKN_TRY(oc_input(oc, "b", VKN_F32, 2, 3, &b));
    vkn_gemm_opts o = {0};
    o.trans_a = arg_bool(A, "trans-a", 0);
    o.trans_b = arg_bool(A, "trans-b", 0);
    o.alpha = (float)arg_f(A, "alpha", 1.0);
    o.beta = (float)arg_f(A, "beta", 0.0);
    o.act = (vkn_act)arg_enum(A, "act", 0);
    o.act_alpha = (float)arg_f(A, "act-alpha", 0.01);
    if (o.alpha == 0.0f)
        return oc_usage(oc, "gemm: --alpha 0 is not supported (vknorm reads alpha 0 as 1)");
    if (o.act == VKN_ACT_LEAKY_RELU && o.act_alpha < 0)
        return oc_usage(oc, "gemm: --act-alpha must be >= 0 (got %g)", o.act_alpha);
    int has_bias = oc_has(oc, "bias");
    o.bias_kind = (vkn_bias)arg_enum(A, "bias", has_bias ? VKN_BIAS_COL : VKN_BIAS_NONE);
    if (has_bias && o.bias_kind == VKN_BIAS_NONE) oc_note(oc, "gemm: tensor 'bias' ignored (--bias none)");

    int64_t an, ar, ac, bn, br, bc;
    mat3(&a, &an, &ar, &ac);
    mat3(&b, &bn, &br, &bc);
    int64_t M = o.trans_a ? ac : ar, K = o.trans_a ? ar : ac, Kb = o.trans_b ? bc : br, N = o.trans_b ? br : bc;
    char s1[128], s2[128];
    if (K != Kb || (an != 1 && bn != 1 && an != bn))
        return vkn_status_set(VKN_ERR_SHAPE, "gemm: 'a' %s%s and 'b' %s%s in %s do not multiply (K %lld vs %lld%s)",
                              oc_shape(&a, s1, sizeof s1), o.trans_a ? " (transposed)" : "",
                              oc_shape(&b, s2, sizeof s2), o.trans_b ? " (transposed)" : "", oc->in_path,
                              (long long)K, (long long)Kb, an != bn && an != 1 && bn != 1 ? ", batch sizes differ" : "");
    int64_t nb = an > bn ? an : bn;
    int nd = (a.ndim == 3 || b.ndim == 3) ? 3 : 2;
    int64_t ys[3] = {nb, M, N};
    const int64_t *yshape = nd == 3 ? ys : ys + 1;
    VKN_TRY(oc_output(oc, "y", VKN_F32, nd, yshape, &y));
    int has_c = oc_has(oc, "c");
    if (o.beta != 0.0f && !has_c) return oc_usage(oc, "gemm: --beta %g needs a tensor 'c' (C's old value) in %s", o.beta, oc->in_path);
    if (has_c) {
        VKN_TRY(oc_input(oc, "c", VKN_F32, 2, 3, &c));
        VKN_TRY(oc_expect_shape(oc, "c", &c, nd, yshape, "the shape of y = op(a) op(b)"));
        if (o.beta == 0.0f) oc_note(oc, "gemm: tensor 'c' ignored (give --beta)");
        else VKN_TRY(vkn_op_copy(oc->cmd, &c, &y));
    }
    if (o.bias_kind != VKN_BIAS_NONE) {
        VKN_TRY(oc_input(oc, "bias", VKN_F32, 1, 4, &bias));
        VKN_TRY(oc_expect_numel(oc, "bias", &bias, o.bias_kind == VKN_BIAS_COL ? N : M,
                                o.bias_kind == VKN_BIAS_COL ? "--bias col: one per column N" : "--bias row: one per row M"));
        o.bias = &bias;
    }
    VKN_TRY(vkn_op_gemm(oc->cmd, &a, &b, &y, &o));
    if (!oc_has(oc, "dy")) return VKN_OK;

    vkn_tensor dy, g, da, db;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 2, 3, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, nd, yshape, "the shape of y"));
    const vkn_tensor *G = &dy;
    if (o.act != VKN_ACT_NONE) {   /* through the activation: its derivative from the output y */
        VKN_TRY(oc_temp(oc, VKN_F32, nd, yshape, &g));
        VKN_TRY(vkn_op_act_grad(oc->cmd, o.act, o.act_alpha, &y, &dy, &g));
        G = &g;
    }
    VKN_TRY(oc_output(oc, "da", VKN_F32, a.ndim, a.shape, &da));
    VKN_TRY(oc_output(oc, "db", VKN_F32, b.ndim, b.shape, &db));
    vkn_gemm_opts q = {.alpha = o.alpha};
    /* op(A) = A: dA = alpha G op(B)^T;  op(A) = A^T: dA = alpha op(B) G^T */
    if (!o.trans_a) { q.trans_a = 0; q.trans_b = !o.trans_b; VKN_TRY(gemm_into(oc, G, &b, &q, a.ndim == 2 ? nb : 1, &da)); }
    else { q.trans_a = o.trans_b; q.trans_b = 1; VKN_TRY(gemm_into(oc, &b, G, &q, a.ndim == 2 ? nb : 1, &da)); }
    /* op(B) = B: dB = alpha op(A)^T G;  op(B) = B^T: dB = alpha G^T op(A) */
    if (!o.trans_b) { q.trans_a = !o.trans_a; q.trans_b = 0; VKN_TRY(gemm_into(oc, &a, G, &q, b.ndim == 2 ? nb : 1, &db)); }
    else { q.trans_a = 1; q.trans_b = o.trans_a; VKN_TRY(gemm_into(oc, G, &a, &q, b.ndim == 2 ? nb : 1, &db)); }
    if (has_c && o.beta != 0.0f) {
        vkn_tensor dc;
        VKN_TRY(oc_output(oc, "dc", VKN_F32, nd, yshape, &dc));
        VKN_TRY(vkn_op_unary(oc->cmd, VKN_UNARY_SCALE, o.beta, G, &dc));
    }
    if (o.bias_kind != VKN_BIAS_NONE) {
        vkn_tensor dbias;
        VKN_TRY(oc_output(oc, "dbias", VKN_F32, bias.ndim, bias.shape, &dbias));
        uint32_t mask = o.bias_kind == VKN_BIAS_COL ? (nd == 3 ? 3u : 1u) : (nd == 3 ? 5u : 2u);
        VKN_TRY(vkn_op_reduce(oc->cmd, VKN_REDUCE_SUM, G, mask, &dbias));
    }
    oc->backward = 1;
    return VKN_OK;
}
