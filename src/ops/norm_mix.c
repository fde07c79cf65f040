/* Mixture methods on the device: ACN in its intended form ACN-R and MN as per-channel 1-D mixtures
 * (shared/NORMS.md 5.3-5.5, 6; reference src/ops/norm_ref_mixture.c), the weighted-moments variant
 * of the segmented-statistics family (shaders/norm/mix*.comp, layout in shaders/norm/mix.glsl):
 *
 *   forward:  mix_prep (E-step table) -> mix_rows stage 0 (weighted Welford per item) ->
 *             mix_finalize (fixed-order Chan merge per (k, c), running statistics, MN's M-step) ->
 *             mix_apply stage 0 (y, posteriors recomputed)                          4 dispatches
 *   backward: mix_rows 1 -> mix_bsum 1 (WNB tables, MN's dgamma/dbeta) ->
 *             [acn: mix_rows 2 -> mix_bsum 2 (rho sums: dmeans, draw_var)] -> mix_apply 1 (dx;
 *             acn: the prior-logit gradient)                                       3 (mn) / 5 (acn)
 * The posteriors are never stored per element: every pass recomputes them from the E-step table
 * with log-sum-exp. Dense inputs (P = 1) on the GPU path fold blocks of 4 channels over chunks of
 * samples in stage 1. Dense inputs on CPU devices (lavapipe) take the shape of dense bn
 * (norm_dense.c): one invocation per block of 4 channels and every sample does all of the above
 * for its channels in registers, walking its samples twice per launch (mix_dense_fwd.comp,
 * mix_dense_bwd.comp):
 *   forward 1 launch; backward 1 (mn) / 2 (acn: the prior-logit gradient sums every channel). */
#include "ops/norm_dev.h"

#include <string.h>

static int slot(const vkn_norm *nm, const char *name) { return vkn_norm_slot_index(&nm->o, name); }

/* dense inputs (P = 1) on CPU devices: one invocation per block of 4 channels and every sample
 * (mix_dense_fwd.comp, mix_dense_bwd.comp) */
static int dense_path(const vkn_norm *nm, int P) { return P == 1 && !nm_gpu_path(nm); }

vkn_status nm_mix_alloc(vkn_norm *nm, shape sh)
{
    norm_ws *w = &nm->ws;
    const int64_t K = nm->o.components, KC = K * sh.C;
    if (dense_path(nm, sh.P))   /* part: the forward's table, 8 vec4 per (k, block of 4 channels) */
        return nm_alloc1(nm, 32 * K * w->ncb, VKN_F32, &w->part);
    int64_t items = sh.P > 1 ? (int64_t)sh.N * sh.C * w->nchunk : (int64_t)w->nq * sh.C;
    VKN_TRY(nm_alloc1(nm, 4 * K * items, VKN_F32, &w->part));
    VKN_TRY(nm_alloc1(nm, 4 * KC, VKN_F32, &w->ptab));
    VKN_TRY(nm_alloc1(nm, 8 * KC, VKN_F32, &w->mt));
    return VKN_OK;
}

static void spec(vkn_dispatch *d, const vkn_norm *nm, const norm_pc *pc, uint32_t stage)
{
    nm_set_spec(d, nm, pc, stage);
    d->spec[4] = (uint32_t)nm->o.components;
    d->spec[5] = pc->P != 1 ? 0 : pc->C % 4 == 0 ? 2 : 1;   /* DMODE (mix.glsl) */
    d->nspec = 6;
}

static vkn_status k_prep(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc)
{
    int acn = nm->o.kind == VKN_NORM_ACN;
    vkn_dispatch d = {.shader = "norm/mix_prep", .label = "norm-mix-prep", .nbind = 1, .write_mask = 1,
                      .bind = {&nm->ws.ptab}, .ntexel = 3,
                      .texel = {&nm->st[slot(nm, acn ? "means" : "gmm_mean")],
                                &nm->st[slot(nm, acn ? "raw_var" : "gmm_var")],
                                &nm->st[slot(nm, acn ? "prior_logits" : "gmm_weight")]}};
    spec(&d, nm, pc, 0);
    nm_set_grid(&d, (uint64_t)pc->K * pc->C, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_rows(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                         uint32_t stage)
{
    const vkn_tensor *gg = g ? g : x;
    vkn_dispatch d = {.shader = "norm/mix_rows", .label = stage ? "norm-mix-rowsums" : "norm-mix-rowstats",
                      .bind = {&nm->ws.part, &nm->ws.ptab, &nm->ws.seg, &nm->ws.mt}, .nbind = 4, .write_mask = 1,
                      .texel = {x, x, gg, gg}, .ntexel = 4, .texel_vec4_mask = 5};
    spec(&d, nm, pc, stage);
    nm_set_grid(&d, pc->P == 1 ? (uint64_t)pc->ncb * pc->nq : (uint64_t)pc->N * pc->C * pc->nchunk, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_finalize(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc)
{
    int acn = nm->o.kind == VKN_NORM_ACN;
    const vkn_tensor *D = &nm->dummy;
    vkn_dispatch d = {.shader = "norm/mix_finalize", .label = "norm-mix-finalize", .nbind = 8,
                      .texel = {&nm->ws.part}, .ntexel = 1, .texel_vec4_mask = 1};
    const vkn_tensor *b[8] = {&nm->ws.seg, D, D, &nm->st[nm->rm], &nm->st[nm->rv], D, D, D};
    if (acn) {
        b[1] = &nm->st[slot(nm, "prior_logits")];
        b[5] = &nm->st[slot(nm, "means")];
        b[6] = &nm->st[slot(nm, "raw_var")];
        d.write_mask = 1 | 8 | 16;
    } else {
        int gi = slot(nm, "gamma"), bi = slot(nm, "beta");
        b[1] = nm_slot_or(nm, gi);
        b[2] = nm_slot_or(nm, bi);
        b[5] = &nm->st[slot(nm, "gmm_mean")];
        b[6] = &nm->st[slot(nm, "gmm_var")];
        b[7] = &nm->st[slot(nm, "gmm_weight")];
        d.write_mask = 1 | 8 | 16 | 32 | 64 | 128;
    }
    for (int i = 0; i < 8; i++) d.bind[i] = b[i];
    d.texel[1] = b[1];   /* acn: prior logits, mn: gamma, also as a texel view (mix_finalize.comp) */
    d.ntexel = 2;
    spec(&d, nm, pc, 0);
    nm_set_grid(&d, (uint64_t)pc->K * pc->C, nm_gpu_path(nm));
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_bsum(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, uint32_t stage)
{
    int acn = nm->o.kind == VKN_NORM_ACN;
    const vkn_tensor *d0, *d1, *u = &nm->dummy;
    if (stage == 2) {
        d0 = &nm->gt[slot(nm, "means")];
        d1 = &nm->gt[slot(nm, "raw_var")];
        u = &nm->st[slot(nm, "raw_var")];
    } else {
        d0 = acn ? &nm->dummy : nm_grad_or(nm, slot(nm, "gamma"));
        d1 = acn ? &nm->dummy : nm_grad_or(nm, slot(nm, "beta"));
    }
    vkn_dispatch d = {.shader = "norm/mix_bsum", .label = stage == 2 ? "norm-mix-bsum2" : "norm-mix-bsum",
                      .bind = {&nm->ws.mt, &nm->ws.bseg, &nm->ws.seg, d0, d1, u}, .nbind = 6,
                      .write_mask = (stage == 2 ? 0 : 1) | 2 | 8 | 16,
                      .texel = {&nm->ws.part, &nm->ws.seg, u}, .ntexel = 3, .texel_vec4_mask = 3};
    spec(&d, nm, pc, stage);
    nm_set_grid(&d, (uint64_t)pc->K * pc->C + (stage == 2 ? 0 : pc->naff), nm_gpu_path(nm));
    return vkn_cmd_dispatch(c, &d);
}

/* acn backward on the CPU path with runs (NCHW rows of 8 or more): the dx pass also sums stage 2
 * (mix_apply FUSE2) */
static int fuse2(const vkn_norm *nm, const norm_pc *pc)
{
    return nm->o.kind == VKN_NORM_ACN && pc->P >= 8 && !nm_gpu_path(nm);
}

static vkn_status k_apply(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                          const vkn_tensor *out, uint32_t stage)
{
    int acn = nm->o.kind == VKN_NORM_ACN;
    const vkn_tensor *gg = g ? g : x;
    const vkn_tensor *dp = acn && stage ? &nm->gt[slot(nm, "prior_logits")] : &nm->dummy;
    vkn_dispatch d = {.shader = "norm/mix_apply", .label = stage ? "norm-mix-apply-bwd" : "norm-mix-apply",
                      .bind = {out, x, gg, &nm->ws.bseg, dp, &nm->dummy}, .nbind = 6,
                      .write_mask = 1 | (acn && stage ? 16 : 0),
                      .texel = {x, gg, &nm->ws.ptab, stage ? &nm->ws.mt : &nm->ws.seg}, .ntexel = 4,
                      .texel_vec4_mask = 15};
    spec(&d, nm, pc, stage);
    /* CPU path, NCHW rows of 8 or more: one invocation per (row, chunk), so the tables are fetched
     * once per run, not per four elements (dense inputs on the CPU path do not come here) */
    int runs = pc->P >= 8 && !nm_gpu_path(nm);
    d.spec[6] = (uint32_t)runs;
    d.spec[7] = stage && fuse2(nm, pc);   /* FMODE 1: FUSE2 */
    d.nspec = 8;
    if (d.spec[7]) {   /* the prior-logit gradient comes after bsum2 (k_prior) */
        d.bind[4] = &nm->dummy;
        d.bind[5] = &nm->ws.part;
        d.nbind = 6;
        d.write_mask = 1 | 32;
    }
    uint64_t inv = !runs ? ((uint64_t)pc->total + 3) / 4 : (uint64_t)pc->N * pc->C * pc->nchunk;
    nm_set_grid(&d, inv, 0);
    return vkn_cmd_dispatch(c, &d);
}

/* acn with FUSE2: the prior-logit gradient from bseg (as a texel view) once bsum2 has run (mix_apply PRIOR,
 * one invocation) */
static vkn_status k_prior(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x)
{
    vkn_dispatch d = {.shader = "norm/mix_apply", .label = "norm-mix-prior",
                      .bind = {&nm->dummy, x, x, &nm->ws.bseg, &nm->gt[slot(nm, "prior_logits")], &nm->dummy},
                      .nbind = 6,
                      .write_mask = 16, .texel = {x, x, &nm->ws.ptab, &nm->ws.bseg}, .ntexel = 4, .texel_vec4_mask = 15};
    spec(&d, nm, pc, 1);
    d.spec[6] = 0;
    d.spec[7] = 2;   /* FMODE 2: PRIOR */
    d.nspec = 8;
    nm_set_grid(&d, 1, 0);
    return vkn_cmd_dispatch(c, &d);
}

static void mix_pc(const vkn_norm *nm, norm_pc *pc)
{
    pc->K = (uint32_t)nm->o.components;
    pc->f2 = (float)nm->o.mn_var_floor;
    pc->f3 = nm->o.kind == VKN_NORM_ACN && nm->o.infer == VKN_NORM_INFER_LEARNED ? 1.0f : 0.0f;
    if (nm->o.kind == VKN_NORM_MN && nm->o.affine) pc->flags |= F_AFFINE;
    if (pc->P == 1) {
        pc->nchunk = 1;
        pc->nitem = pc->nq;
    } else {
        pc->nitem = pc->N * pc->nchunk;
    }
}

/* ---- dense inputs, CPU path: one launch forward, one (mn) or two (acn: + the prior gradient) backward ---- */

static void dense_spec(vkn_dispatch *d, const vkn_norm *nm, const norm_pc *pc, uint32_t stage)
{
    spec(d, nm, pc, stage);
    d->spec[6] = nm->o.kind == VKN_NORM_MN && nm->o.affine;   /* AFF */
    d->nspec = 7;
    vkn_grid_1d(stage == 2 ? 1 : pc->ncb, 8, d->groups);
}

static vkn_status k_dense_fwd(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *y)
{
    const int acn = nm->o.kind == VKN_NORM_ACN, c4 = pc->C % 4 == 0, aff = !acn && nm->o.affine;
    const vkn_tensor *D = &nm->dummy;
    /* what the shader only reads comes through texel views, also the running statistics and mn's
     * weights it then writes through the storage bindings (each invocation its own entries) */
    const vkn_tensor *t1 = acn ? &nm->st[slot(nm, "means")] : aff ? &nm->st[slot(nm, "gamma")] : D;
    const vkn_tensor *t2 = acn ? &nm->st[slot(nm, "raw_var")] : aff ? &nm->st[slot(nm, "beta")] : D;
    vkn_dispatch d = {.shader = "norm/mix_dense_fwd", .label = "norm-mix-dense",
                      .bind = {&nm->ws.part, &nm->st[nm->rm], &nm->st[nm->rv], acn ? D : &nm->st[slot(nm, "gmm_mean")],
                               acn ? D : &nm->st[slot(nm, "gmm_var")], acn ? D : &nm->st[slot(nm, "gmm_weight")], y},
                      .nbind = 7, .write_mask = 1 | 2 | 4 | 64 | (acn ? 0 : 8 | 16 | 32),
                      .texel = {x, t1, t2, &nm->st[slot(nm, acn ? "prior_logits" : "gmm_weight")], &nm->st[nm->rm],
                                &nm->st[nm->rv]},
                      .ntexel = 6,
                      .texel_vec4_mask = c4 ? 1 | (t1 != D ? 2 | 4 : 0) | (acn ? 0 : 8) | 16 | 32 : 0};
    dense_spec(&d, nm, pc, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_dense_bwd(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                              const vkn_tensor *dx, uint32_t stage)
{
    const int acn = nm->o.kind == VKN_NORM_ACN, c4 = pc->C % 4 == 0, aff = !acn && nm->o.affine;
    const vkn_tensor *D = &nm->dummy;
    const vkn_tensor *d0 = acn ? &nm->gt[slot(nm, "means")] : nm_grad_or(nm, slot(nm, "gamma"));
    const vkn_tensor *d1 = acn ? &nm->gt[slot(nm, "raw_var")] : nm_grad_or(nm, slot(nm, "beta"));
    const vkn_tensor *t3 = acn ? &nm->st[slot(nm, "raw_var")] : aff ? &nm->st[slot(nm, "gamma")] : D;
    vkn_dispatch d = {.shader = "norm/mix_dense_bwd", .label = stage == 2 ? "norm-mix-dense-prior" : "norm-mix-dense-bwd",
                      .bind = {dx, d0, d1, &nm->ws.bseg, D}, .nbind = 5,
                      .write_mask = 1 | (acn || pc->naff ? 2 | 4 : 0) | (acn ? 8 : 0),
                      .texel = {x, g, &nm->ws.part, t3, &nm->st[slot(nm, acn ? "means" : "gmm_weight")],
                                acn ? &nm->st[slot(nm, "prior_logits")] : D},
                      .ntexel = 6, .texel_vec4_mask = 4 | (c4 ? 1 | 2 | (t3 != D ? 8 : 0) | 16 : 0)};
    if (stage == 2) {   /* reads bseg, writes the prior-logit gradient */
        d.bind[0] = d.bind[1] = d.bind[2] = D;
        d.bind[4] = &nm->gt[slot(nm, "prior_logits")];
        d.write_mask = 16;
    }
    dense_spec(&d, nm, pc, stage);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status nm_mix_forward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc0, const vkn_tensor *x, const vkn_tensor *y)
{
    norm_pc pc = *pc0;
    mix_pc(nm, &pc);
    if (dense_path(nm, (int)pc.P)) return k_dense_fwd(c, nm, &pc, x, y);
    VKN_TRY(k_prep(c, nm, &pc));
    if (pc.use_batch) VKN_TRY(k_rows(c, nm, &pc, x, NULL, 0));
    VKN_TRY(k_finalize(c, nm, &pc));
    return k_apply(c, nm, &pc, x, NULL, y, 0);
}

vkn_status nm_mix_backward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc0, const vkn_tensor *x, const vkn_tensor *g,
                           const vkn_tensor *dx)
{
    norm_pc pc = *pc0;
    mix_pc(nm, &pc);
    int acn = nm->o.kind == VKN_NORM_ACN;
    if (acn && !pc.use_batch)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm(acn) backward: needs a forward with batch statistics (train, or infer=batch)");
    pc.naff = !acn && nm->o.affine ? pc.C : 0;
    if (dense_path(nm, (int)pc.P)) {
        VKN_TRY(k_dense_bwd(c, nm, &pc, x, g, dx, 1));
        return acn ? k_dense_bwd(c, nm, &pc, x, g, dx, 2) : VKN_OK;
    }
    VKN_TRY(k_rows(c, nm, &pc, x, g, 1));
    VKN_TRY(k_bsum(c, nm, &pc, 1));
    if (acn && fuse2(nm, &pc)) {   /* dx and stage 2's sums in one pass, then bsum2 and the prior gradient */
        VKN_TRY(k_apply(c, nm, &pc, x, g, dx, 1));
        VKN_TRY(k_bsum(c, nm, &pc, 2));
        return k_prior(c, nm, &pc, x);
    }
    if (acn) {
        VKN_TRY(k_rows(c, nm, &pc, x, g, 2));
        VKN_TRY(k_bsum(c, nm, &pc, 2));
    }
    return k_apply(c, nm, &pc, x, g, dx, 1);
}
