/* Activation backward (dx = dy * f'(.)) and axpy (y += alpha x); launchers and references. */
#include "vkn/ops.h"
#include "ops/launch.h"
#include "ops/ref_nn.h"

#include <math.h>

static const char *act_grad_names[] = {"none_grad", "relu_grad", "leaky_relu_grad", "tanh_grad", "sigmoid_grad"};

vkn_status vkn_op_act_grad(vkn_cmd *c, vkn_act act, float alpha, const vkn_tensor *v, const vkn_tensor *dy,
                           const vkn_tensor *dx)
{
    char b1[64], b2[64], b3[64];
    if (act <= VKN_ACT_NONE || act >= VKN_ACT_COUNT_) return vkn_status_set(VKN_ERR_ARG, "act_grad: unknown activation %d", (int)act);
    if (!vkn_is_f32(v) || !vkn_is_f32(dy) || !vkn_is_f32(dx))
        return vkn_status_set(VKN_ERR_ARG, "%s: v, dy and dx must be f32 tensors", act_grad_names[act]);
    if (v->numel != dy->numel || dx->numel != dy->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: v %s, dy %s and dx %s differ in size", act_grad_names[act],
                              vkn_tensor_shape_str(v, b1, sizeof b1), vkn_tensor_shape_str(dy, b2, sizeof b2),
                              vkn_tensor_shape_str(dx, b3, sizeof b3));
    struct { uint32_t n; float alpha; } pc = {(uint32_t)dy->numel, alpha};
    vkn_dispatch d = {.shader = "elementwise-backward/act_grad", .label = act_grad_names[act], .spec = {(uint32_t)act},
                      .nspec = 1, .bind = {dx}, .nbind = 1, .write_mask = 1, .texel = {v, v, dy, dy}, .ntexel = 4,
                      .texel_vec4_mask = 5, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)dy->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_axpy(vkn_cmd *c, float alpha, const vkn_tensor *x, const vkn_tensor *y)
{
    char bx[64], by[64];
    if (!vkn_is_f32(x) || !vkn_is_f32(y)) return vkn_status_set(VKN_ERR_ARG, "axpy: x and y must be f32 tensors");
    if (x->numel != y->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "axpy: x is %s but y is %s", vkn_tensor_shape_str(x, bx, sizeof bx),
                              vkn_tensor_shape_str(y, by, sizeof by));
    struct { uint32_t n; float alpha; } pc = {(uint32_t)x->numel, alpha};
    vkn_dispatch d = {.shader = "elementwise-backward/axpy", .label = "axpy", .bind = {y}, .nbind = 1,
                      .write_mask = 1, .texel = {x, x}, .ntexel = 2, .texel_vec4_mask = 1, .push = &pc,
                      .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)x->numel + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

/* ---- references ---- */

double vkn_ref_act_d(vkn_act act, double alpha, double v)
{
    switch (act) {
    case VKN_ACT_RELU: return v > 0 || isnan(v) ? v : 0;
    case VKN_ACT_LEAKY_RELU: return v > 0 ? v : alpha * v;
    case VKN_ACT_TANH: return tanh(v);
    case VKN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    default: return v;
    }
}

void vkn_ref_act_grad(vkn_act act, double alpha, const double *v, const double *dy, double *dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double g = dy[i], u = v[i];
        switch (act) {
        case VKN_ACT_RELU: dx[i] = u <= 0 ? 0 : g; break;   /* PyTorch: a NaN u passes g */
        case VKN_ACT_LEAKY_RELU: dx[i] = u > 0 ? g : alpha * g; break;
        case VKN_ACT_TANH: dx[i] = g * (1 - u * u); break;
        case VKN_ACT_SIGMOID: dx[i] = g * u * (1 - u); break;
        default: dx[i] = g; break;
        }
    }
}

void vkn_ref_axpy(double alpha, const double *x, double *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
