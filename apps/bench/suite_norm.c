/* norm: forward (train) + backward of every device normalization method at the conditional GAN's
 * activation shapes (batch 64) and a dense 64x3136 layer. GB/s counts the bytes a fwd+bwd pair must
 * move at least (forward: read x, write y; backward: read x and dy, write dx: 5 x the tensor), and the
 * ratio is to the probe's copy bandwidth. cbn, cn, cnx use 10 contexts (ids n % 10); acn and mn use
 * K = 3 components (their target: within 4x of bn's time); afn with its default dropout and widths. */
#include "bench.h"
#include "vkn/norm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct norm_shape { int N, C, H, W; } norm_shape;   /* W = 0: dense [N, C] */

static const norm_shape shapes[] = {
    {64, 64, 7, 7}, {64, 32, 14, 14}, {64, 128, 7, 7}, {64, 64, 14, 14}, {64, 3136, 1, 0},
};

static const vkn_norm_kind kinds[] = {VKN_NORM_BN, VKN_NORM_LN, VKN_NORM_IN, VKN_NORM_GN, VKN_NORM_CBN, VKN_NORM_CN,
                                      VKN_NORM_CNX, VKN_NORM_BCN, VKN_NORM_UBN, VKN_NORM_ACN, VKN_NORM_MN,
                                      VKN_NORM_AFN};

static void shape_name(const norm_shape *s, char *buf, size_t size)
{
    if (s->W) snprintf(buf, size, "%dx%dx%dx%d", s->N, s->C, s->H, s->W);
    else snprintf(buf, size, "%dx%d dense", s->N, s->C);
}

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
        shape_name(s, shape, sizeof shape);
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

/* --filter: bit k of *methods / bit i of *shapes set for each method / shape named (all when none
 * of that kind is named); a term that names neither is an error. */
static vkn_status parse_filter(const char *filter, unsigned *methods, unsigned *shape_bits)
{
    enum { NK = sizeof kinds / sizeof *kinds, NS = sizeof shapes / sizeof *shapes };
    *methods = *shape_bits = 0;
    const char *p = filter ? filter : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        char term[48];
        if (len == 0 || len >= sizeof term)
            return vkn_status_set(VKN_ERR_ARG, "vkn-bench --filter '%s': empty or overlong term", filter);
        memcpy(term, p, len);
        term[len] = 0;
        int found = 0;
        for (int k = 0; k < NK; k++)
            if (!strcmp(term, vkn_norm_kind_name(kinds[k]))) { *methods |= 1u << k; found = 1; }
        for (int i = 0; i < NS; i++) {
            char name[48], dense[48];
            shape_name(&shapes[i], name, sizeof name);
            snprintf(dense, sizeof dense, "%dx%d", shapes[i].N, shapes[i].C);
            if (!strcmp(term, name) || (!shapes[i].W && (!strcmp(term, "dense") || !strcmp(term, dense)))) {
                *shape_bits |= 1u << i;
                found = 1;
            }
        }
        if (!found)
            return vkn_status_set(VKN_ERR_ARG, "vkn-bench --filter: '%s' names no method of the norm suite (bn, ln, in, "
                                  "gn, cbn, cn, cnx, bcn, ubn, acn, mn, afn) and no shape (64x64x7x7, 64x32x14x14, "
                                  "64x128x7x7, 64x64x14x14, 64x3136 or dense)", term);
        p += len + (p[len] == ',');
    }
    if (!*methods) *methods = (1u << NK) - 1;
    if (!*shape_bits) *shape_bits = (1u << NS) - 1;
    return VKN_OK;
}

vkn_status bench_norm_filter_check(const char *filter)
{
    unsigned k, sh;
    return parse_filter(filter, &k, &sh);
}

vkn_status bench_suite_norm(bench_ctx *b)
{
    unsigned want_kind, want_shape;
    VKN_TRY(parse_filter(b->opts.filter, &want_kind, &want_shape));
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
            if (!(want_kind >> k & 1u) || !(want_shape >> i & 1u)) continue;
            s = one(b, kinds[k], &shapes[i], host, ids);
        }
    free(host);
    return s;
}
