/* norm: forward (train) + backward of every device normalization method at the conditional GAN's
 * activation shapes (batch 64) and a dense 64x3136 layer. GB/s counts the bytes a fwd+bwd pair must
 * move at least (forward: read x, write y; backward: read x and dy, write dx: 5 x the tensor), and the
 * ratio is to the probe's copy bandwidth. cbn, cn, cnx use 10 contexts (ids n % 10); acn and mn use
 * K = 3 components (their target: within 4x of bn's time); afn with its default dropout and widths. */
#include "bench.h"
#include "vkn/norm.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct norm_shape { int N, C, H, W; } norm_shape;   /* W = 0: dense [N, C] */

static const norm_shape shapes[] = {
    {64, 64, 7, 7}, {64, 32, 14, 14}, {64, 128, 7, 7}, {64, 64, 14, 14}, {64, 3136, 1, 0},
};

static const vkn_norm_kind kinds[] = {VKN_NORM_BN, VKN_NORM_LN, VKN_NORM_IN, VKN_NORM_GN, VKN_NORM_CBN, VKN_NORM_CN,
                                      VKN_NORM_CNX, VKN_NORM_BCN, VKN_NORM_UBN, VKN_NORM_ACN, VKN_NORM_MN,
                                      VKN_NORM_AFN};

static vkn_status one(bench_ctx *b, vkn_norm_kind kind, const norm_shape *s, const float *host, const int32_t *ids)
{
    vkn_norm_opts o = vkn_norm_opts_default(kind, s->C);
    if (vkn_norm_needs_ctx(kind)) o.contexts = 10;
    vkn_norm *nm = NULL;
    VKN_TRY(vkn_norm_create(b->ctx, b->arena, &o, 1, &nm));
    int64_t shp[4] = {s->N, s->C, s->H, s->W}, nid = s->N;
    int nd = s->W ? 4 : 2;
    vkn_tensor x, dy, y, dx, tid;
    vkn_status st = vkn_tensor_alloc(b->arena, VKN_F32, nd, shp, &x);
    if (st == VKN_OK) st = vkn_tensor_alloc(b->arena, VKN_F32, nd, shp, &dy);
    if (st == VKN_OK) st = vkn_tensor_alloc(b->arena, VKN_F32, nd, shp, &y);
    if (st == VKN_OK) st = vkn_tensor_alloc(b->arena, VKN_F32, nd, shp, &dx);
    if (st == VKN_OK) st = vkn_tensor_alloc(b->arena, VKN_I32, 1, &nid, &tid);
    if (st == VKN_OK) st = vkn_tensor_upload(&x, host);
    if (st == VKN_OK) st = vkn_tensor_upload(&dy, host + 7);
    if (st == VKN_OK) st = vkn_tensor_upload(&tid, ids);
    const vkn_tensor *ctx = vkn_norm_needs_ctx(kind) ? &tid : NULL;
    if (st == VKN_OK) st = vkn_cmd_begin(b->cmd);
    if (st == VKN_OK) st = vkn_norm_forward(b->cmd, nm, &x, ctx, &y, 1);
    if (st == VKN_OK) st = vkn_norm_backward(b->cmd, nm, &x, ctx, &dy, &dx);
    if (st == VKN_OK) st = vkn_cmd_end(b->cmd);
    if (st == VKN_OK) {
        char shape[48], name[64];
        if (s->W) snprintf(shape, sizeof shape, "%dx%dx%dx%d", s->N, s->C, s->H, s->W);
        else snprintf(shape, sizeof shape, "%dx%d dense", s->N, s->C);
        vkn_cmd_stats cs = vkn_cmd_get_stats(b->cmd);
        snprintf(name, sizeof name, "%s fwd+bwd [%s, %u disp]", vkn_norm_kind_name(kind),
                 vkn_context_info(b->ctx)->path == VKN_PATH_GPU ? "gpu" : "cpu", cs.dispatches);
        bench_result *r = bench_add(b, "norm", name, shape);
        st = bench_time_cmd(b, 1, r);
        double bytes = 5.0 * 4.0 * (double)x.numel;
        r->bytes = bytes;
        r->value = bytes / (r->median_us * 1e3);
        snprintf(r->unit, sizeof r->unit, "GB/s");
        if (b->copy_gbs > 0) {
            r->ratio = r->value / b->copy_gbs;
            snprintf(r->ratio_what, sizeof r->ratio_what, "of copy");
        }
        if (b->opts.peer) bench_peer_norm(b, (int)(r - b->results), kind, s->N, s->C, s->H, s->W, o.groups);
    }
    if (st == VKN_OK) st = vkn_norm_check_ids(nm);
    vkn_norm_destroy(nm);
    vkn_arena_reset(b->arena);
    return st;
}

vkn_status bench_suite_norm(bench_ctx *b)
{
    int64_t most = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t n = (int64_t)shapes[s].N * shapes[s].C * (shapes[s].W ? shapes[s].H * shapes[s].W : 1);
        if (n > most) most = n;
    }
    float *host = malloc(((size_t)most + 8) * sizeof *host);
    int32_t ids[64];
    if (!host) return vkn_status_set(VKN_ERR_HOST_OOM, "bench norm: data");
    uint64_t st = 12345;
    for (int64_t i = 0; i < most + 8; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        host[i] = (float)((double)(st >> 11) * 0x1.0p-53 * 4.0 - 1.0);
    }
    for (int n = 0; n < 64; n++) ids[n] = n % 10;
    vkn_status s = VKN_OK;
    for (size_t k = 0; s == VKN_OK && k < sizeof kinds / sizeof *kinds; k++)
        for (size_t i = 0; s == VKN_OK && i < sizeof shapes / sizeof *shapes; i++) {
            if (b->opts.quick && i != 0 && i != 4) continue;
            s = one(b, kinds[k], &shapes[i], host, ids);
        }
    free(host);
    return s;
}
