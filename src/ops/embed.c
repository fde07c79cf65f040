/* Embedding (gather rows by id, and its deterministic backward), one-hot; launchers and references. */
#include "vkn/ops.h"
#include "ops/launch.h"
#include "ops/ref_nn.h"

#include <string.h>

static int is_ids(const vkn_tensor *t) { return t && t->buffer && t->dtype == VKN_I32; }

static vkn_status embed(vkn_cmd *c, int bwd, const vkn_tensor *ids, const vkn_tensor *in, const vkn_tensor *out,
                        int64_t N, int64_t K, int64_t D)
{
    struct { uint32_t N, K, D, D4; } pc = {(uint32_t)N, (uint32_t)K, (uint32_t)D, (uint32_t)((D + 3) / 4)};
    uint32_t vec = D % 4 == 0;
    vkn_dispatch d = {.shader = "embed/embed", .label = bwd ? "embedding_bwd" : "embedding", .spec = {(uint32_t)bwd, vec},
                      .nspec = 2, .bind = {out, ids}, .nbind = 2, .write_mask = 1, .texel = {in, in}, .ntexel = 2,
                      .texel_vec4_mask = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d((uint64_t)(bwd ? K : N) * pc.D4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_embedding(vkn_cmd *c, const vkn_tensor *table, const vkn_tensor *ids, const vkn_tensor *y)
{
    char bt[64], by[64];
    if (!vkn_is_f32(table) || !vkn_is_f32(y) || !is_ids(ids) || table->ndim != 2)
        return vkn_status_set(VKN_ERR_ARG, "embedding: table (2-D) and y must be f32, ids i32");
    int64_t K = table->shape[0], D = table->shape[1], N = ids->numel;
    if (y->numel != N * D || y->shape[0] != N)
        return vkn_status_set(VKN_ERR_SHAPE, "embedding: table %s and %lld ids give %lldx%lld, not y %s",
                              vkn_tensor_shape_str(table, bt, sizeof bt), (long long)N, (long long)N, (long long)D,
                              vkn_tensor_shape_str(y, by, sizeof by));
    return embed(c, 0, ids, table, y, N, K, D);
}

vkn_status vkn_op_embedding_backward(vkn_cmd *c, const vkn_tensor *ids, const vkn_tensor *dy, const vkn_tensor *dtable)
{
    char bt[64], by[64];
    if (!vkn_is_f32(dtable) || !vkn_is_f32(dy) || !is_ids(ids) || dtable->ndim != 2)
        return vkn_status_set(VKN_ERR_ARG, "embedding_backward: dtable (2-D) and dy must be f32, ids i32");
    int64_t K = dtable->shape[0], D = dtable->shape[1], N = ids->numel;
    if (dy->numel != N * D || dy->shape[0] != N)
        return vkn_status_set(VKN_ERR_SHAPE, "embedding_backward: dtable %s and %lld ids need dy %lldx%lld, not %s",
                              vkn_tensor_shape_str(dtable, bt, sizeof bt), (long long)N, (long long)N, (long long)D,
                              vkn_tensor_shape_str(dy, by, sizeof by));
    return embed(c, 1, ids, dy, dtable, N, K, D);
}

vkn_status vkn_op_one_hot(vkn_cmd *c, const vkn_tensor *ids, const vkn_tensor *y)
{
    char by[64];
    if (!vkn_is_f32(y) || !is_ids(ids) || y->ndim != 2) return vkn_status_set(VKN_ERR_ARG, "one_hot: y must be 2-D f32, ids i32");
    if (y->shape[0] != ids->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "one_hot: %lld ids but y is %s", (long long)ids->numel, vkn_tensor_shape_str(y, by, sizeof by));
    struct { uint32_t K, n; } pc = {(uint32_t)y->shape[1], (uint32_t)y->numel};
    vkn_dispatch d = {.shader = "embed/one_hot", .label = "one_hot", .bind = {y, ids}, .nbind = 2, .write_mask = 1,
                      .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

/* ---- references ---- */

void vkn_ref_embedding(int K, int D, int N, const double *table, const int32_t *ids, double *y)
{
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) y[(int64_t)n * D + d] = ids[n] >= 0 && ids[n] < K ? table[(int64_t)ids[n] * D + d] : 0.0;
}

void vkn_ref_embedding_backward(int K, int D, int N, const int32_t *ids, const double *dy, double *dtable)
{
    memset(dtable, 0, (size_t)K * D * sizeof *dtable);
    for (int n = 0; n < N; n++)
        if (ids[n] >= 0 && ids[n] < K)
            for (int d = 0; d < D; d++) dtable[(int64_t)ids[n] * D + d] += dy[(int64_t)n * D + d];
}

void vkn_ref_one_hot(int K, int N, const int32_t *ids, double *y)
{
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) y[(int64_t)n * K + k] = ids[n] == k ? 1.0 : 0.0;
}
