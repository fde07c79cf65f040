/* Element-wise ops: fill, copy, unary, broadcasting binary; launchers and references. */
#include "vkn/ops.h"
#include "ops/launch.h"
#include "ops/ref.h"

#include <math.h>
#include <string.h>

static const char *unary_names[] = {"relu", "leaky_relu", "tanh", "sigmoid", "exp", "log", "scale"};
static const char *binary_names[] = {"add", "sub", "mul", "div"};

const char *vkn_unary_name(vkn_unary op) { return (unsigned)op < VKN_UNARY_COUNT_ ? unary_names[op] : "?"; }
const char *vkn_binary_name(vkn_binary op) { return (unsigned)op < VKN_BINARY_COUNT_ ? binary_names[op] : "?"; }

vkn_status vkn_op_fill(vkn_cmd *c, const vkn_tensor *y, float value)
{
    if (!y || !y->buffer) return vkn_status_set(VKN_ERR_ARG, "fill: no output tensor");
    struct { uint32_t n; float value; } pc = {(uint32_t)y->numel, value};
    vkn_dispatch d = {.shader = "elementwise/fill", .label = "fill", .bind = {y}, .nbind = 1, .write_mask = 1,
                      .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d((uint64_t)y->numel, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_copy(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *y)
{
    char bx[64], by[64];
    if (!x || !y || !x->buffer || !y->buffer) return vkn_status_set(VKN_ERR_ARG, "copy: missing tensor");
    if (x->numel != y->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "copy: x is %s but y is %s", vkn_tensor_shape_str(x, bx, sizeof bx),
                              vkn_tensor_shape_str(y, by, sizeof by));
    struct { uint32_t n; } pc = {(uint32_t)x->numel};
    vkn_dispatch d = {.shader = "elementwise/copy", .label = "copy", .bind = {y}, .nbind = 1, .write_mask = 1,
                      .texel = {x, x}, .ntexel = 2, .texel_vec4_mask = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)x->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_unary(vkn_cmd *c, vkn_unary op, float alpha, const vkn_tensor *x, const vkn_tensor *y)
{
    char bx[64], by[64];
    if ((unsigned)op >= VKN_UNARY_COUNT_) return vkn_status_set(VKN_ERR_ARG, "unary: unknown op %d", (int)op);
    if (!vkn_is_f32(x) || !vkn_is_f32(y)) return vkn_status_set(VKN_ERR_ARG, "unary %s: x and y must be f32 tensors", unary_names[op]);
    if (x->numel != y->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "unary %s: x is %s but y is %s", unary_names[op],
                              vkn_tensor_shape_str(x, bx, sizeof bx), vkn_tensor_shape_str(y, by, sizeof by));
    struct { uint32_t n; float alpha; } pc = {(uint32_t)x->numel, alpha};
    vkn_dispatch d = {.shader = "elementwise/unary", .label = unary_names[op], .spec = {(uint32_t)op}, .nspec = 1,
                      .bind = {y}, .nbind = 1, .write_mask = 1, .texel = {x, x}, .ntexel = 2, .texel_vec4_mask = 1,
                      .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)x->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

/* Right-align a shape to 4-D (leading 1s). */
static void pad4(const vkn_tensor *t, int64_t s[4])
{
    for (int i = 0; i < 4; i++) s[i] = 1;
    for (int i = 0; i < t->ndim; i++) s[4 - t->ndim + i] = t->shape[i];
}

vkn_status vkn_op_binary(vkn_cmd *c, vkn_binary op, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *y)
{
    char ba[64], bb[64], by[64];
    if ((unsigned)op >= VKN_BINARY_COUNT_) return vkn_status_set(VKN_ERR_ARG, "binary: unknown op %d", (int)op);
    if (!vkn_is_f32(a) || !vkn_is_f32(b) || !vkn_is_f32(y))
        return vkn_status_set(VKN_ERR_ARG, "binary %s: a, b and y must be f32 tensors", binary_names[op]);
    int64_t sa[4], sb[4], sy[4];
    pad4(a, sa);
    pad4(b, sb);
    pad4(y, sy);
    struct { uint32_t n, shape[4], sa[4], sb[4]; } pc = {(uint32_t)y->numel};
    uint32_t ra = 1, rb = 1;
    for (int i = 3; i >= 0; i--) {
        /* y's shape may exceed both (a and b both broadcast along an axis: a "broadcast to") */
        int64_t out = sy[i];
        if ((sa[i] != 1 && sa[i] != out) || (sb[i] != 1 && sb[i] != out) || y->ndim < a->ndim || y->ndim < b->ndim)
            return vkn_status_set(VKN_ERR_SHAPE, "binary %s: shapes %s and %s do not broadcast to y's %s",
                                  binary_names[op], vkn_tensor_shape_str(a, ba, sizeof ba),
                                  vkn_tensor_shape_str(b, bb, sizeof bb), vkn_tensor_shape_str(y, by, sizeof by));
        pc.shape[i] = (uint32_t)out;
        pc.sa[i] = sa[i] == 1 ? 0 : ra;
        pc.sb[i] = sb[i] == 1 ? 0 : rb;
        ra *= (uint32_t)sa[i];
        rb *= (uint32_t)sb[i];
    }
    uint32_t same = a->numel == y->numel && b->numel == y->numel;
    vkn_dispatch d = {.shader = "elementwise/binary", .label = binary_names[op], .spec = {(uint32_t)op, same},
                      .nspec = 2, .bind = {y}, .nbind = 1, .write_mask = 1, .texel = {a, a, b, b}, .ntexel = 4,
                      .texel_vec4_mask = 5, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)y->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

/* ---- references ---- */

double vkn_ref_act(vkn_act act, float alpha, double v)
{
    switch (act) {
    case VKN_ACT_RELU: return v > 0 || isnan(v) ? v : 0;   /* a NaN stays NaN (PyTorch) */
    case VKN_ACT_LEAKY_RELU: return v > 0 ? v : alpha * v;
    case VKN_ACT_TANH: return tanh(v);
    case VKN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    default: return v;
    }
}

double vkn_ref_unary1(vkn_unary op, float alpha, double v)
{
    switch (op) {
    case VKN_UNARY_RELU: return vkn_ref_act(VKN_ACT_RELU, alpha, v);
    case VKN_UNARY_LEAKY_RELU: return vkn_ref_act(VKN_ACT_LEAKY_RELU, alpha, v);
    case VKN_UNARY_TANH: return tanh(v);
    case VKN_UNARY_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case VKN_UNARY_EXP: return exp(v);
    case VKN_UNARY_LOG: return log(v);
    case VKN_UNARY_SCALE: return alpha * v;
    default: return NAN;
    }
}

void vkn_ref_unary(vkn_unary op, float alpha, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = (float)vkn_ref_unary1(op, alpha, x[i]);
}

void vkn_ref_binary(vkn_binary op, const float *a, int nda, const int64_t *sha, const float *b, int ndb,
                    const int64_t *shb, float *y)
{
    int64_t sa[4] = {1, 1, 1, 1}, sb[4] = {1, 1, 1, 1}, so[4];
    for (int i = 0; i < nda; i++) sa[4 - nda + i] = sha[i];
    for (int i = 0; i < ndb; i++) sb[4 - ndb + i] = shb[i];
    for (int i = 0; i < 4; i++) so[i] = sa[i] > sb[i] ? sa[i] : sb[i];
    int64_t idx = 0;
    for (int64_t i0 = 0; i0 < so[0]; i0++)
        for (int64_t i1 = 0; i1 < so[1]; i1++)
            for (int64_t i2 = 0; i2 < so[2]; i2++)
                for (int64_t i3 = 0; i3 < so[3]; i3++) {
                    int64_t ia = (((sa[0] > 1 ? i0 : 0) * sa[1] + (sa[1] > 1 ? i1 : 0)) * sa[2] + (sa[2] > 1 ? i2 : 0)) * sa[3] + (sa[3] > 1 ? i3 : 0);
                    int64_t ib = (((sb[0] > 1 ? i0 : 0) * sb[1] + (sb[1] > 1 ? i1 : 0)) * sb[2] + (sb[2] > 1 ? i2 : 0)) * sb[3] + (sb[3] > 1 ? i3 : 0);
                    double u = a[ia], v = b[ib], r;
                    switch (op) {
                    case VKN_BINARY_ADD: r = u + v; break;
                    case VKN_BINARY_SUB: r = u - v; break;
                    case VKN_BINARY_MUL: r = u * v; break;
                    default: r = u / v; break;
                    }
                    y[idx++] = (float)r;
                }
}
