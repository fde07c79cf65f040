/* Row slicing: split a batch [N, ...] into its first rows [a, ...] and the rest [N-a, ...] (e.g. the
 * source and the target half of a domain-adaptation batch). The forward is vkn_op_split over
 * [1, a*F] and [1, (N-a)*F] views of the row-major tensors; the backward concatenates the two
 * gradients (zeros for a part that gets none) with vkn_op_concat over the same views. */
#include "nn/nn_internal.h"

typedef struct { int64_t rows_a, rows_b, row; } split_attr;   /* row: elements per row */

/* [1, rows*row] view of t (the whole tensor as one row). */
static vkn_status row_view(const vkn_tensor *t, vkn_tensor *out)
{
    int64_t s[2] = {1, t->numel};
    return vkn_tensor_reshape(t, 2, s, out);
}

static vkn_status split_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    vkn_tensor y, a, b;
    VKN_TRY(row_view(T(op->in[0]), &y));
    VKN_TRY(row_view(T(op->out[0]), &a));
    VKN_TRY(row_view(T(op->out[1]), &b));
    return vkn_op_split(c, &y, &a, &b);
}

static vkn_status split_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    const split_attr *at = (const void *)op->attr;
    (void)g;
    memcpy(out[0], in[0], (size_t)(at->rows_a * at->row) * sizeof(float));
    memcpy(out[1], in[0] + at->rows_a * at->row, (size_t)(at->rows_b * at->row) * sizeof(float));
    return VKN_OK;
}

static vkn_status join_record(vkn_graph *g, const vkn_gop *op, vkn_cmd *c)
{
    vkn_tensor a, b, y;
    VKN_TRY(row_view(T(op->in[0]), &a));
    VKN_TRY(row_view(T(op->in[1]), &b));
    VKN_TRY(row_view(T(op->out[0]), &y));
    return vkn_op_concat(c, &a, &b, &y);
}

static vkn_status join_ref(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out)
{
    int64_t na = vkn_graph_numel(g, op->in[0]), nb = vkn_graph_numel(g, op->in[1]);
    memcpy(out[0], in[0], (size_t)na * sizeof(float));
    memcpy(out[0] + na, in[1], (size_t)nb * sizeof(float));
    return VKN_OK;
}

static vkn_status join_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din);
static const vkn_gop_type gop_join = {"row_concat", join_record, join_backward, join_ref, NULL};

static vkn_val zeros_like(vkn_graph *g, vkn_val v)
{
    vkn_val z = vkn_graph_value(g, "zeros", VKN_F32, G(g, v)->ndim, G(g, v)->shape);
    float zero = 0.0f;
    vkn_graph_add_op(g, &vkn_gop_fill, NULL, 0, &z, 1, &zero, sizeof zero, NULL, "zeros");
    return z;
}

static vkn_status split_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    vkn_val x = op->in[0];
    vkn_val da = dout[0] != VKN_NONE ? dout[0] : zeros_like(g, op->out[0]);
    vkn_val db = dout[1] != VKN_NONE ? dout[1] : zeros_like(g, op->out[1]);
    vkn_val dx = vkn_graph_value(g, "dsplit", VKN_F32, G(g, x)->ndim, G(g, x)->shape);
    vkn_val in[2] = {da, db};
    vkn_graph_add_op(g, &gop_join, in, 2, &dx, 1, op->attr, sizeof(split_attr), NULL, "split-backward");
    din[0] = dx;
    return vkn_graph_status(g);
}
static const vkn_gop_type gop_split_rows = {"split_rows", split_record, split_backward, split_ref, NULL};

/* The backward of the join (used only if a graph differentiates through a split's backward). */
static vkn_status join_backward(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din)
{
    vkn_val outs[2] = {vkn_graph_value(g, "da", VKN_F32, G(g, op->in[0])->ndim, G(g, op->in[0])->shape),
                       vkn_graph_value(g, "db", VKN_F32, G(g, op->in[1])->ndim, G(g, op->in[1])->shape)};
    vkn_graph_add_op(g, &gop_split_rows, &dout[0], 1, outs, 2, op->attr, sizeof(split_attr), NULL, "split");
    din[0] = outs[0];
    din[1] = outs[1];
    return vkn_graph_status(g);
}

void vkn_nn_split(vkn_nn *m, vkn_val x, int64_t rows_a, vkn_val *a, vkn_val *b)
{
    vkn_graph *g = m->g;
    if (a) *a = VKN_NONE;
    if (b) *b = VKN_NONE;
    if (vkn_graph_status(g) != VKN_OK) return;
    int nd = vkn_graph_ndim(g, x);
    int64_t n = nd >= 1 ? vkn_graph_dim(g, x, 0) : 0;
    if (nd < 1 || rows_a < 1 || rows_a >= n) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_SHAPE, "split: %lld first rows of a value with %lld rows (need 1 <= a < N)",
                                         (long long)rows_a, (long long)n));
        return;
    }
    if (G(g, x)->dtype != VKN_F32) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "split: only F32 values are supported"));
        return;
    }
    split_attr at = {rows_a, n - rows_a, vkn_graph_numel(g, x) / n};
    int64_t sa[VKN_MAX_DIMS], sb[VKN_MAX_DIMS];
    memcpy(sa, G(g, x)->shape, sizeof sa);
    memcpy(sb, G(g, x)->shape, sizeof sb);
    sa[0] = at.rows_a;
    sb[0] = at.rows_b;
    vkn_val outs[2] = {vkn_graph_value(g, "split_a", VKN_F32, nd, sa), vkn_graph_value(g, "split_b", VKN_F32, nd, sb)};
    vkn_graph_add_op(g, &gop_split_rows, &x, 1, outs, 2, &at, sizeof at, NULL, "split");
    if (vkn_graph_status(g) != VKN_OK) return;
    if (a) *a = outs[0];
    if (b) *b = outs[1];
}
