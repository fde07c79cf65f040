/* Dense inputs (P = 1, [N, C]) on CPU devices: the BN-like, context and group methods get kernels
 * shaped for a batch of feature vectors instead of the per-(sample, channel) rows of the NCHW path
 * (where a row would be a single element and a segment would be merged serially by one invocation):
 *
 *   bn, ubn, cbn, cn  dense_stats (one invocation per DENSE_W blocks of 4 channels: vec4 Welford over
 *                     the samples, stage 2 for its channels four at a time, then y over the samples
 *                     again with the coefficients in registers)                          1 launch
 *                     backward: dense_sums (same shape: sums, coefficients, dgamma/dbeta, dx)    1
 *                     cbn, cn walk the samples context by context in kord order (prep.comp); the
 *                     tables ftab, btab and bseg are not written (nothing reads them after); cn
 *                     writes seg for channel 0 only (the diagnostics) and its backward refolds x.
 *   ln, gn            a segment (n, g) is a contiguous run of C/G elements: stage 1 and the merge are
 *                     the NCHW kernels (rowstats, finalize; bsum backward) run on the reshaped view
 *                     [N, G, C/G] as instance norm without affine, with the runs cut into chunks so
 *                     that there are enough invocations; dense_apply adds gamma and beta; backward
 *                     dense_gsums (run sums) -> bsum -> dense_apply (dx, dgamma, dbeta)     3 + 3
 *   in (one element per segment: mean x, variance 0)  dense_apply alone; backward dense_apply
 *                     (dx, dgamma, dbeta)                                                  1 + 1
 * The GPU path (except in and gn with one channel per group, which have no statistics) and the other
 * methods (bcn, cnx, afn, acn, mn) keep the shared kernels. */
#include "ops/norm_dev.h"

#include <string.h>

int nm_dense_path(const vkn_norm *nm, int P)
{
    if (P != 1) return 0;
    /* one element per segment (in; gn with one channel per group): no statistics to merge, so the
     * shared family would spend a workgroup on each of N*C segments (335 us on an H100 at 64x3136,
     * against one element-wise pass): every device takes dense_apply */
    if (nm->o.kind == VKN_NORM_IN || (nm->o.kind == VKN_NORM_GN && nm->o.groups == nm->o.channels)) return 1;
    if (nm_gpu_path(nm)) return 0;
    switch (nm->o.kind) {
    case VKN_NORM_BN: case VKN_NORM_UBN: case VKN_NORM_CBN: case VKN_NORM_CN:
    case VKN_NORM_LN: case VKN_NORM_IN: case VKN_NORM_GN: return 1;
    default: return 0;
    }
}

static int is_grp(const vkn_norm *nm)
{
    vkn_norm_kind k = nm->o.kind;
    return k == VKN_NORM_LN || k == VKN_NORM_IN || k == VKN_NORM_GN;
}

vkn_status nm_dense_alloc(vkn_norm *nm, shape sh)
{
    norm_ws *w = &nm->ws;
    if (!is_grp(nm)) return VKN_OK;
    int G = nm->o.kind == VKN_NORM_LN ? 1 : nm->o.kind == VKN_NORM_IN ? sh.C : nm->o.groups, cw = sh.C / G;
    int64_t segs = (int64_t)sh.N * G;
    w->gnchunk = 1;
    w->gclen = cw;
    if (cw == 1) return VKN_OK;   /* in: no statistics kernels */
    /* cut the runs when there are few segments, chunks of a multiple of 4 elements (whole vec4) */
    if (segs < 2048 && cw > 64) {
        int64_t want = (2048 + segs - 1) / segs, most = (cw + 31) / 32;
        int nch = (int)(want < most ? want : most);
        w->gclen = ((cw + nch - 1) / nch + 3) & ~3;
        w->gnchunk = (cw + w->gclen - 1) / w->gclen;
    }
    return nm_alloc1(nm, 4 * segs * w->gnchunk, VKN_F32, &w->part);
}

/* the reshaped view [N, G, C/G] of ln / gn as instance norm without affine (rowstats, finalize, bsum) */
static norm_pc grp_pc(const vkn_norm *nm, const norm_pc *pc)
{
    norm_pc q = *pc;
    q.C = pc->G;
    q.P = pc->cw;
    q.cw = 1;
    q.nchunk = (uint32_t)nm->ws.gnchunk;
    q.clen = (uint32_t)nm->ws.gclen;
    q.invP = 1.0f / (float)q.P;
    q.invC = 1.0f / (float)q.C;
    q.flags &= ~(uint32_t)F_AFFINE;
    q.nseg = pc->N * pc->G;
    q.NK = pc->N;
    q.naff = 0;
    return q;
}

static void grp_spec(vkn_dispatch *d, const vkn_norm *nm, const norm_pc *q, uint32_t extra)
{
    nm_set_spec(d, nm, q, extra);
    d->spec[0] = VKN_NORM_IN;
    d->spec[1] = 0;   /* not RAW: the runs have cw > 1 elements */
}

static int c4(const norm_pc *pc) { return (pc->C & 3u) == 0; }

/* the dense kernels' specialization constant 6: C % 4 == 0 (dense.glsl) */
static void set_c4(vkn_dispatch *d, const norm_pc *pc)
{
    for (uint32_t i = d->nspec; i < 6; i++) d->spec[i] = 0;
    d->spec[6] = (uint32_t)c4(pc);
    d->nspec = 7;
}

static vkn_status k_grp_rowstats(vkn_cmd *c, vkn_norm *nm, const norm_pc *q, const vkn_tensor *x)
{
    vkn_dispatch d = {.shader = "norm/rowstats", .label = "norm-dense-rowstats",
                      .bind = {&nm->ws.part, &nm->dummy, &nm->dummy, x, x}, .nbind = 5, .write_mask = 1,
                      .texel = {x, x, &nm->ws.ftab, &nm->ws.kmap}, .ntexel = 4, .texel_vec4_mask = 7};
    grp_spec(&d, nm, q, 0);
    nm_set_grid(&d, (uint64_t)q->nseg * q->nchunk, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_grp_finalize(vkn_cmd *c, vkn_norm *nm, const norm_pc *q)
{
    const vkn_tensor *D = &nm->dummy;
    vkn_dispatch d = {.shader = "norm/finalize", .label = "norm-dense-finalize",
                      .bind = {&nm->ws.seg, &nm->ws.ftab, D, D, D, D, &nm->ws.kmap, D}, .nbind = 8, .write_mask = 1 | 2,
                      .texel = {&nm->ws.part, D, D, D}, .ntexel = 4, .texel_vec4_mask = 1};
    grp_spec(&d, nm, q, 0);
    nm_set_grid(&d, q->nseg, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_grp_bsum(vkn_cmd *c, vkn_norm *nm, const norm_pc *q)
{
    const vkn_tensor *D = &nm->dummy;
    vkn_dispatch d = {.shader = "norm/bsum", .label = "norm-dense-bsum",
                      .bind = {&nm->ws.btab, &nm->ws.bseg, D, D, D, &nm->ws.kmap, &nm->ws.seg, D}, .nbind = 8,
                      .write_mask = 1 | 2, .texel = {&nm->ws.part, D, D, &nm->ws.seg}, .ntexel = 4,
                      .texel_vec4_mask = 1 | 8};
    grp_spec(&d, nm, q, 0);
    nm_set_grid(&d, q->nseg, 0);
    return vkn_cmd_dispatch(c, &d);
}

/* channel blocks of 4 per invocation of dense_stats and dense_sums (DW in the shaders): a sample's
 * W x 16 bytes are read together */
#define DENSE_W 2

/* one invocation per block of 4 channels, DENSE_W blocks per workgroup */
static vkn_status dispatch_channel_blocks(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, vkn_dispatch *d)
{
    norm_pc q = *pc;
    q.ncb = (pc->C + 3) / 4;
    nm_set_spec(d, nm, &q, 0);
    set_c4(d, pc);
    vkn_grid_1d((q.ncb + DENSE_W - 1) / DENSE_W, 8, d->groups);
    return vkn_cmd_dispatch(c, d);
}

/* statistics, stage 2 and (APPLY) the element-wise pass y = (x - M) A + B in one launch */
static vkn_status k_stats(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *y)
{
    const vkn_tensor *aux = nm->o.kind == VKN_NORM_UBN ? &nm->ws.ubn : nm_slot_or(nm, nm->aux), *D = &nm->dummy;
    const int aff = nm->gi >= 0;
    vkn_dispatch d = {.shader = "norm/dense_stats", .label = "norm-dense-stats",
                      .bind = {&nm->ws.seg, D, D, D, nm_slot_or(nm, nm->rm), nm_slot_or(nm, nm->rv), aux, y},
                      .nbind = 8, .write_mask = 1 | (nm->rm >= 0 ? 16 : 0) | (nm->rv >= 0 ? 32 : 0) | 128,
                      .texel = {x, nm_ws_or(nm, &nm->ws.kord), nm_slot_or(nm, nm->gi), nm_slot_or(nm, nm->bi),
                                nm_slot_or(nm, nm->rm), nm_slot_or(nm, nm->rv)},
                      .ntexel = 6, .texel_vec4_mask = c4(pc) ? 1 | (aff ? 4 | 8 : 0) | (nm->rm >= 0 ? 16 | 32 : 0) : 0};
    return dispatch_channel_blocks(c, nm, pc, &d);
}

/* backward sums, the (NB) coefficients, parameter gradients and (APPLY) dx in one launch */
static vkn_status k_sums(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                         const vkn_tensor *dx)
{
    const vkn_tensor *D = &nm->dummy;
    const int cn = nm->o.kind == VKN_NORM_CN, aff = nm->gi >= 0, v4 = c4(pc);
    vkn_dispatch d = {.shader = "norm/dense_sums", .label = "norm-dense-sums",
                      .bind = {D, D, D, D, nm_grad_or(nm, nm->gi), nm_grad_or(nm, nm->bi), nm_slot_or(nm, nm->aux), dx},
                      .nbind = 8, .write_mask = 16 | 32 | 128,
                      .texel = {x, g, nm_ws_or(nm, &nm->ws.kord), cn ? nm_slot_or(nm, nm->rm) : &nm->ws.seg,
                                nm_slot_or(nm, nm->gi), cn ? nm_slot_or(nm, nm->rv) : D},
                      .ntexel = 6,
                      /* seg is vec4 per segment; cn's running statistics and gamma per channel */
                      .texel_vec4_mask = (v4 ? 1 | 2 : 0) | (cn ? (v4 ? 8 | 32 : 0) : 8) | (v4 && aff ? 16 : 0)};
    return dispatch_channel_blocks(c, nm, pc, &d);
}

static vkn_status k_gsums(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g)
{
    norm_pc q = *pc;
    q.nchunk = (uint32_t)nm->ws.gnchunk;
    q.clen = (uint32_t)nm->ws.gclen;
    q.nseg = pc->N * pc->G;
    uint64_t nA = pc->cw == 1 ? 0 : (uint64_t)q.nseg * q.nchunk;   /* dgamma, dbeta: dense_apply */
    if (nA == 0) return VKN_OK;
    vkn_dispatch d = {.shader = "norm/dense_gsums", .label = "norm-dense-gsums",
                      .bind = {&nm->ws.part, &nm->dummy, &nm->dummy, x, g}, .nbind = 5, .write_mask = 1,
                      .texel = {x, g, nm_slot_or(nm, nm->gi), &nm->ws.seg}, .ntexel = 4,
                      .texel_vec4_mask = 1 | 2 | (c4(pc) ? 4 : 0) | 8};
    nm_set_spec(&d, nm, &q, 0);
    set_c4(&d, pc);
    nm_set_grid(&d, nA, 0);
    return vkn_cmd_dispatch(c, &d);
}

/* samples per apply invocation: the per-channel values are fetched once per run */
#define APPLY_RUN 8

static vkn_status k_apply(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                          const vkn_tensor *out, int bwd)
{
    const vkn_tensor *D = &nm->dummy;
    const int aff = nm->gi >= 0, v4 = c4(pc);
    const vkn_tensor *t1 = bwd ? g : aff ? &nm->st[nm->bi] : D;
    const vkn_tensor *tab = pc->cw == 1 ? D : bwd ? &nm->ws.btab : &nm->ws.seg;
    vkn_dispatch d = {.shader = "norm/dense_apply", .label = bwd ? "norm-dense-apply-bwd" : "norm-dense-apply",
                      .bind = {out}, .nbind = 1, .write_mask = 1,
                      .texel = {x, t1, tab, aff ? &nm->st[nm->gi] : D}, .ntexel = 4,
                      .texel_vec4_mask = (v4 ? 1 : 0) | (v4 && t1 != D ? 2 : 0) | 4 | (v4 && aff ? 8 : 0)};
    norm_pc q = *pc;
    q.ncb = (pc->C + 3) / 4;
    q.qlen = APPLY_RUN;
    q.f2 = 1.0f / (float)q.ncb;
    q.f3 = 1.0f / (float)pc->cw;
    nm_set_spec(&d, nm, &q, (uint32_t)bwd);
    d.spec[4] = APPLY_RUN;
    d.spec[5] = pc->cw == 1 ? 0 : pc->cw % 4 == 0 && v4 ? 1 : pc->cw >= 4 ? 2 : 3;
    d.nspec = 6;
    set_c4(&d, pc);
    /* backward with parameter gradients: every sample of a block in one invocation, which also sums
     * dgamma and dbeta */
    const int pg = bwd && pc->naff != 0;
    d.bind[1] = pg ? nm_grad_or(nm, nm->gi) : D;   /* the shader declares them either way */
    d.bind[2] = pg ? nm_grad_or(nm, nm->bi) : D;
    d.nbind = 3;
    if (pg) d.write_mask |= 2 | 4;
    d.spec[7] = (uint32_t)pg;
    d.nspec = 8;
    nm_set_grid(&d, pg ? (uint64_t)q.ncb : (uint64_t)q.ncb * ((pc->N + APPLY_RUN - 1) / APPLY_RUN), 0);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status nm_dense_forward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *y)
{
    if (!is_grp(nm)) return k_stats(c, nm, pc, x, y);
    if (pc->cw > 1) {
        norm_pc q = grp_pc(nm, pc);
        VKN_TRY(k_grp_rowstats(c, nm, &q, x));
        VKN_TRY(k_grp_finalize(c, nm, &q));
    }
    return k_apply(c, nm, pc, x, NULL, y, 0);
}

vkn_status nm_dense_backward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                             const vkn_tensor *dx)
{
    if (!is_grp(nm)) return k_sums(c, nm, pc, x, g, dx);
    VKN_TRY(k_gsums(c, nm, pc, x, g));
    if (pc->cw > 1) {
        norm_pc q = grp_pc(nm, pc);
        VKN_TRY(k_grp_bsum(c, nm, &q));
    }
    return k_apply(c, nm, pc, x, g, dx, 1);
}
