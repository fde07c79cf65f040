/* Concatenation along axis 1 of row-flattened tensors, and its backward (split); launchers and
 * references. One dispatch each. */
#include "vkn/ops.h"
#include "ops/launch.h"
#include "ops/ref_nn.h"

#include <string.h>

static vkn_status rows_check(const char *op, const vkn_tensor *y, const vkn_tensor *a, const vkn_tensor *b,
                             int64_t *N, int64_t *A, int64_t *B)
{
    char ba[64], bb[64], by[64];
    if (!vkn_is_f32(y) || !vkn_is_f32(a) || !vkn_is_f32(b)) return vkn_status_set(VKN_ERR_ARG, "%s: a, b and y must be f32 tensors", op);
    *N = y->shape[0];
    if (a->shape[0] != *N || b->shape[0] != *N || a->numel + b->numel != y->numel || a->numel == 0 || b->numel == 0 ||
        y->numel >= (1ll << 32))
        return vkn_status_set(VKN_ERR_SHAPE, "%s: a %s and b %s do not concatenate along axis 1 to y %s", op,
                              vkn_tensor_shape_str(a, ba, sizeof ba), vkn_tensor_shape_str(b, bb, sizeof bb),
                              vkn_tensor_shape_str(y, by, sizeof by));
    *A = a->numel / *N;
    *B = b->numel / *N;
    return VKN_OK;
}

vkn_status vkn_op_concat(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *y)
{
    int64_t N = 0, A = 0, B = 0;
    VKN_TRY(rows_check("concat", y, a, b, &N, &A, &B));
    struct { uint32_t A, B, n; } pc = {(uint32_t)A, (uint32_t)B, (uint32_t)y->numel};
    vkn_dispatch d = {.shader = "embed/concat", .label = "concat", .spec = {A % 4 == 0 && B % 4 == 0}, .nspec = 1,
                      .bind = {y}, .nbind = 1, .write_mask = 1, .texel = {a, a, b, b}, .ntexel = 4,
                      .texel_vec4_mask = 5, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_split(vkn_cmd *c, const vkn_tensor *y, const vkn_tensor *a, const vkn_tensor *b)
{
    int64_t N = 0, A = 0, B = 0;
    VKN_TRY(rows_check("split", y, a, b, &N, &A, &B));
    struct { uint32_t A, B, n; } pc = {(uint32_t)A, (uint32_t)B, (uint32_t)y->numel};
    vkn_dispatch d = {.shader = "embed/split", .label = "split", .spec = {A % 4 == 0 && B % 4 == 0}, .nspec = 1,
                      .bind = {a, b}, .nbind = 2, .write_mask = 3, .texel = {y, y}, .ntexel = 2,
                      .texel_vec4_mask = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

void vkn_ref_concat(int64_t N, int64_t A, int64_t B, const double *a, const double *b, double *y)
{
    for (int64_t n = 0; n < N; n++) {
        memcpy(y + n * (A + B), a + n * A, (size_t)A * sizeof *y);
        memcpy(y + n * (A + B) + A, b + n * B, (size_t)B * sizeof *y);
    }
}

void vkn_ref_split(int64_t N, int64_t A, int64_t B, const double *y, double *a, double *b)
{
    for (int64_t n = 0; n < N; n++) {
        memcpy(a + n * A, y + n * (A + B), (size_t)A * sizeof *y);
        memcpy(b + n * B, y + n * (A + B) + A, (size_t)B * sizeof *y);
    }
}
