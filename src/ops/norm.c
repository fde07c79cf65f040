/* Normalization layers on the device: slots, workspace, and the recipes of every method over the
 * shared segmented-statistics kernels (shaders/norm, shaders/common/norm.glsl):
 *
 *   prep      context ids -> float map (clamped) + per-sample bad-id flags          (cbn, cn, cnx)
 *   rowstats  stage 1: per (row, chunk) Welford/Chan partials (forward), or sums of g and g (x - M)
 *             (backward); skipped when P = 1 (the merge reads the elements directly)
 *   finalize  stage 2 forward: fixed-order Chan merge per segment, batch / running choice, running
 *             update, segment statistics, forward table entries
 *   bsum      stage 2 backward: per-segment sums (NB), backward table entries, parameter gradients
 *   coef      tables that need more than one segment (bcn, cnx) and their gradients
 *   apply     the element-wise pass, y = (x - M) A + B  or  dx = alpha g + beta (x - M) + gamma
 *
 * So a forward is 3 dispatches (stage 1, merge, apply; + prep for ids, + coef for bcn), a backward
 * 3 (+ coef for bcn / CN-emb). The CPU path (lavapipe) merges serially per invocation (no barriers);
 * the GPU path (VKN_PATH=gpu or a GPU) merges with a workgroup per segment and a shared-memory tree.
 * Both are reproducible: fixed merge order, no float atomics.
 * acn and mn (weighted moments, posteriors recomputed) live in norm_mix.c; afn's MLPs in norm_afn.c. */
#include "vkn/norm.h"
#include "vkn/ops.h"
#include "ops/launch.h"
#include "vkn/norm_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/norm_dev.h"

static int has_running(vkn_norm_kind k)
{
    return k == VKN_NORM_BN || k == VKN_NORM_CBN || k == VKN_NORM_UBN || k == VKN_NORM_CN || k == VKN_NORM_BCN ||
           k == VKN_NORM_AFN || k == VKN_NORM_ACN || k == VKN_NORM_MN;
}

static int is_mix(vkn_norm_kind k) { return k == VKN_NORM_ACN || k == VKN_NORM_MN; }

const vkn_norm_opts *vkn_norm_options(const vkn_norm *nm) { return &nm->o; }
int vkn_norm_slot_count(const vkn_norm *nm) { return nm ? nm->ns : 0; }
const vkn_tensor *vkn_norm_slot_tensor(const vkn_norm *nm, int i)
{
    return nm && i >= 0 && i < nm->ns ? &nm->st[i] : NULL;
}
const vkn_tensor *vkn_norm_grad_tensor(const vkn_norm *nm, int i)
{
    return nm && i >= 0 && i < nm->ns && nm->sl[i].learned ? &nm->gt[i] : NULL;
}

const char *nm_kname(const vkn_norm *nm) { return vkn_norm_kind_name(nm->o.kind); }

vkn_status vkn_norm_set_tensors(vkn_norm *nm, const vkn_tensor *const *values, const vkn_tensor *const *grads)
{
    for (int i = 0; i < nm->ns; i++) {
        const vkn_tensor *v = values ? values[i] : NULL, *g = grads && nm->sl[i].learned ? grads[i] : NULL;
        if ((v && v->numel != nm->st[i].numel) || (g && g->numel != nm->st[i].numel))
            return vkn_status_set(VKN_ERR_SHAPE, "norm(%s): slot %s needs %lld elements", nm_kname(nm), nm->sl[i].name,
                                  (long long)nm->st[i].numel);
    }
    for (int i = 0; i < nm->ns; i++) {
        if (values && values[i]) nm->st[i] = *values[i];
        if (grads && grads[i] && nm->sl[i].learned) nm->gt[i] = *grads[i];
    }
    return VKN_OK;
}

/* llvmpipe (lavapipe) ends the loops of a shader invocation after 65535 iterations in total (Mesa's
 * LP_MAX_TGSI_LOOP_ITERATIONS, one counter shared by every loop of the invocation) and carries on:
 * a longer serial walk silently computes a wrong result. Other devices: no such limit (0). */
static uint64_t loop_limit(const vkn_context *ctx)
{
    return strstr(vkn_context_info(ctx)->name, "llvmpipe") ? 65535u : 0u;
}

/* An upper bound on the loop iterations of one invocation of this layer's kernels: the serial walks
 * over the samples (x the stage-1 chunks a merge reads per sample), over the contexts (prep's
 * counting sort; the dense cn, cbn kernels' context loop with a fold, sums and apply pass inside),
 * over a segment's channels (ln / gn tables, afn's MLP rows) and fixed overheads. Each is walked at
 * most 4 times by one invocation (dense_sums.comp: fold, sums, apply and the context loop). */
static uint64_t serial_trips(const vkn_norm *nm, int64_t N, int64_t nchunk, int64_t C, int dense)
{
    int64_t K = vkn_norm_needs_ctx(nm->o.kind) ? nm->o.contexts : 0;
    return 4u * (uint64_t)(N * nchunk + K) + (dense ? 0u : 2u * (uint64_t)C) + 64u;
}

static vkn_status check_loops(const vkn_norm *nm, int64_t N, int64_t nchunk, int64_t C, int dense)
{
    uint64_t lim = loop_limit(nm->ctx), t = serial_trips(nm, N, nchunk, C, dense);
    if (!lim || t <= lim) return VKN_OK;
    const int ctx = vkn_norm_needs_ctx(nm->o.kind);
    char what[96] = "", *w = what;   /* "16352 contexts, a batch of 16 samples" */
    if (ctx) w += snprintf(w, sizeof what, "%d contexts%s", nm->o.contexts, N ? ", " : "");
    if (N) snprintf(w, sizeof what - (size_t)(w - what), "a batch of %lld samples%s", (long long)N,
                    nchunk > 1 ? " (x stage-1 chunks)" : "");
    return vkn_status_set(VKN_ERR_UNSUPPORTED,
                          "norm(%s): %s: up to %llu loop iterations in one shader invocation, and this device "
                          "(%s) ends an invocation's loops after %llu in total (silently wrong results beyond): "
                          "4 x (samples%s%s)%s + 64 must be <= %llu",
                          nm_kname(nm), what, (unsigned long long)t, vkn_context_info(nm->ctx)->name,
                          (unsigned long long)lim, nchunk > 1 ? " x chunks" : "", ctx ? " + contexts" : "",
                          dense ? "" : " + 2 x channels", (unsigned long long)lim);
}

/* The layer's largest buffer within the device's storage-buffer range: a slot (4 bytes an element),
 * or the per-(context or component, channel) tables of vec4 (mixtures: 8 floats) */
static vkn_status check_device_sizes(const vkn_context *ctx, const vkn_norm_opts *o, const vkn_norm_slot *sl, int ns)
{
    uint64_t most = 0;
    const char *what = "";
    for (int i = 0; i < ns; i++)
        if (4u * (uint64_t)sl[i].count > most) { most = 4u * (uint64_t)sl[i].count; what = sl[i].name; }
    uint64_t kc = vkn_norm_needs_ctx(o->kind) ? (uint64_t)o->contexts * (uint64_t)o->channels
                : o->kind == VKN_NORM_ACN || o->kind == VKN_NORM_MN ? 2u * (uint64_t)o->components * (uint64_t)o->channels : 0;
    if (16u * kc > most) { most = 16u * kc; what = "its per-(context, channel) tables"; }
    uint64_t range = vkn_context_info(ctx)->max_storage_range;
    if (range && most > range)
        return vkn_status_set(VKN_ERR_UNSUPPORTED,
                              "norm(%s): %s need %llu bytes in one buffer; this device binds at most %llu "
                              "(maxStorageBufferRange): fewer contexts, components or channels",
                              vkn_norm_kind_name(o->kind), what, (unsigned long long)most, (unsigned long long)range);
    return VKN_OK;
}

vkn_status vkn_norm_create(vkn_context *ctx, vkn_arena *arena, const vkn_norm_opts *o, uint64_t seed, vkn_norm **out)
{
    if (!ctx || !arena || !out) return vkn_status_set(VKN_ERR_ARG, "norm: context, arena and out are required");
    *out = NULL;
    VKN_TRY(vkn_norm_opts_check(o));
    {
        vkn_norm_slot sl[VKN_NORM_MAX_SLOTS];
        int ns;
        VKN_TRY(vkn_norm_slots(o, sl, &ns));
        VKN_TRY(check_device_sizes(ctx, o, sl, ns));
        /* the contexts alone: refused here rather than at the first forward */
        vkn_norm probe = {.ctx = ctx, .o = *o};
        VKN_TRY(check_loops(&probe, 0, 1, 0, 1));
    }
    vkn_norm *nm = calloc(1, sizeof *nm);
    if (!nm) return vkn_status_set(VKN_ERR_HOST_OOM, "norm: layer");
    nm->ctx = ctx;
    nm->arena = arena;
    nm->o = *o;
    nm->seed = seed;
    if (o->kind == VKN_NORM_CN && o->cn_priors) {
        nm->priors = malloc((size_t)o->contexts * sizeof(double));
        if (!nm->priors) { free(nm); return vkn_status_set(VKN_ERR_HOST_OOM, "norm: priors"); }
        memcpy(nm->priors, o->cn_priors, (size_t)o->contexts * sizeof(double));
        nm->o.cn_priors = nm->priors;
    } else {
        nm->o.cn_priors = NULL;
    }
    vkn_status s = vkn_norm_slots(&nm->o, nm->sl, &nm->ns);
    double **ref = NULL;
    if (s == VKN_OK) s = vkn_norm_ref_slots_alloc(&nm->o, &ref);
    if (s == VKN_OK) s = vkn_norm_ref_init(&nm->o, seed, ref);
    for (int i = 0; s == VKN_OK && i < nm->ns; i++) {
        int64_t n = nm->sl[i].count;
        /* the slot's real shape ([C], or [K, C] for per-context / per-component tables): what the
         * parameter store, the optimizer state and checkpoints see (docs/CHECKPOINTS.md) */
        int64_t shape[2] = { nm->sl[i].shape[0], nm->sl[i].rank == 2 ? nm->sl[i].shape[1] : 1 };
        s = vkn_tensor_alloc(arena, VKN_F32, nm->sl[i].rank, shape, &nm->st[i]);
        if (s == VKN_OK && nm->sl[i].learned) s = vkn_tensor_alloc(arena, VKN_F32, nm->sl[i].rank, shape, &nm->gt[i]);
        if (s == VKN_OK) {
            float *f = malloc((size_t)n * sizeof *f);
            if (!f) { s = vkn_status_set(VKN_ERR_HOST_OOM, "norm: slot upload"); break; }
            for (int64_t j = 0; j < n; j++) f[j] = (float)ref[i][j];
            s = vkn_tensor_upload(&nm->st[i], f);
            if (s == VKN_OK && nm->sl[i].learned) {
                memset(f, 0, (size_t)n * sizeof *f);
                s = vkn_tensor_upload(&nm->gt[i], f);
            }
            free(f);
        }
    }
    if (ref) vkn_norm_ref_slots_free(&nm->o, ref);
    if (s == VKN_OK) {
        int64_t n = 64;
        s = vkn_tensor_alloc(arena, VKN_F32, 1, &n, &nm->dummy);
        if (s == VKN_OK) {
            float z[64] = {0};
            s = vkn_tensor_upload(&nm->dummy, z);
        }
    }
    if (s == VKN_OK && is_mix(o->kind) && o->components > NM_KMAX)
        s = vkn_status_set(VKN_ERR_UNSUPPORTED, "norm(%s): at most %d components on the device (K=%d)",
                           vkn_norm_kind_name(o->kind), NM_KMAX, o->components);
    if (s != VKN_OK) { vkn_norm_destroy(nm); return s; }
    nm->gi = vkn_norm_slot_index(&nm->o, "gamma");
    nm->bi = vkn_norm_slot_index(&nm->o, "beta");
    nm->rm = vkn_norm_slot_index(&nm->o, "running_mean");
    nm->rv = vkn_norm_slot_index(&nm->o, "running_var");
    nm->aux = o->kind == VKN_NORM_CN ? vkn_norm_slot_index(&nm->o, "priors")
            : o->kind == VKN_NORM_BCN ? vkn_norm_slot_index(&nm->o, "blend") : -1;
    if (o->kind == VKN_NORM_AFN || o->kind == VKN_NORM_ACN || o->kind == VKN_NORM_MN) nm->gi = nm->bi = -1;
    *out = nm;
    return VKN_OK;
}

void vkn_norm_destroy(vkn_norm *nm)
{
    if (!nm) return;
    free(nm->priors);
    free(nm);   /* tensors live in the caller's arena */
}

/* ------------------------------------------------------------------------------------------------
 * Shapes and workspace
 * ---------------------------------------------------------------------------------------------- */
static vkn_status get_shape(const vkn_norm *nm, const char *what, const vkn_tensor *t, shape *sh)
{
    char b[64];
    if (!vkn_is_f32(t)) return vkn_status_set(VKN_ERR_ARG, "norm(%s): %s must be an f32 tensor", nm_kname(nm), what);
    if (t->ndim < 2 || t->shape[1] != nm->o.channels)
        return vkn_status_set(VKN_ERR_SHAPE, "norm(%s): %s is %s; expected [N, %d, ...] (channels = %d)", nm_kname(nm),
                              what, vkn_tensor_shape_str(t, b, sizeof b), nm->o.channels, nm->o.channels);
    int64_t P = 1;
    for (int i = 2; i < t->ndim; i++) P *= t->shape[i];
    if (t->numel >= (1 << 24))
        return vkn_status_set(VKN_ERR_SHAPE, "norm(%s): %s has %lld elements; at most 2^24 supported", nm_kname(nm), what,
                              (long long)t->numel);
    sh->N = (int)t->shape[0];
    sh->C = nm->o.channels;
    sh->P = (int)P;
    return VKN_OK;
}

static int nseg_of(const vkn_norm *nm, shape sh)
{
    const vkn_norm_opts *o = &nm->o;
    switch (o->kind) {
    case VKN_NORM_LN: return sh.N;
    case VKN_NORM_IN: return sh.N * sh.C;
    case VKN_NORM_GN: return sh.N * o->groups;
    case VKN_NORM_CN: return o->contexts * sh.C;
    case VKN_NORM_BCN: return sh.C + sh.N;
    case VKN_NORM_CNX: return 0;
    case VKN_NORM_ACN: case VKN_NORM_MN: return o->components * sh.C;
    default: return sh.C;
    }
}

static int nk_of(const vkn_norm *nm, shape sh)
{
    switch (nm->o.kind) {
    case VKN_NORM_CBN: case VKN_NORM_CN: case VKN_NORM_CNX: return nm->o.contexts;
    case VKN_NORM_LN: case VKN_NORM_IN: case VKN_NORM_GN: case VKN_NORM_BCN: return sh.N;
    default: return 1;
    }
}

vkn_status nm_alloc1(vkn_norm *nm, int64_t n, vkn_dtype dt, vkn_tensor *t)
{
    if (n < 4) n = 4;
    return vkn_tensor_alloc(nm->arena, dt, 1, &n, t);
}

static vkn_status ensure_ws(vkn_norm *nm, shape sh)
{
    norm_ws *w = &nm->ws;
    if (w->N == sh.N && w->P == sh.P) return VKN_OK;
    memset(w, 0, sizeof *w);
    nm->fwd_done = 0;
    int64_t rows = (int64_t)sh.N * sh.C;
    /* chunks: split long rows when there are few of them, so stage 1 has enough invocations */
    int nchunk = 1;
    const int mix = is_mix(nm->o.kind);
    if (nm_gpu_path(nm) && mix) {
        /* a GPU hides load latency with threads, not with a serial walk: aim at 64 K invocations of
         * at least 16 values (vec4-aligned chunks); 64x32x14x14 (2048 rows of 196) went from one
         * invocation per row to 13. On an H100 this made acn and mn 1.2-1.8x faster at the 14x14
         * shapes, left bn, ln, gn, cbn, cn unchanged and bcn and afn 1.3-1.5x slower (their merges
         * then read 13x more partials), so only the mixtures take it. */
        if (sh.P > 32) {
            int64_t want = (65536 + rows - 1) / rows, most = (sh.P + 15) / 16;
            nchunk = (int)(want < most ? want : most);
        }
    } else if (sh.P > 256 && rows < 2048) {
        int64_t want = (2048 + rows - 1) / rows, most = (sh.P + 63) / 64;
        nchunk = (int)(want < most ? want : most);
    }
    w->clen = (sh.P + nchunk - 1) / nchunk;
    if (nm_gpu_path(nm) && mix && nchunk > 1) w->clen = (w->clen + 3) & ~3;   /* whole vec4 per chunk */
    w->nchunk = (sh.P + w->clen - 1) / w->clen;
    /* dense (P = 1) stage 1: blocks of 4 channels over chunks of samples, enough invocations */
    w->ncb = (sh.C + 3) / 4;
    {
        int want = (1024 + w->ncb - 1) / w->ncb, most = (sh.N + 7) / 8;
        int nq = want < most ? want : most;
        if (nq < 1) nq = 1;
        w->qlen = (sh.N + nq - 1) / nq;
        w->nq = (sh.N + w->qlen - 1) / w->qlen;
    }
    int nseg = nseg_of(nm, sh), ntab = nk_of(nm, sh) * sh.C;
    if (nm->o.kind == VKN_NORM_AFN) VKN_TRY(nm_afn_alloc(nm, sh));
    if (mix) VKN_TRY(nm_mix_alloc(nm, sh));
    else if (sh.P > 1) VKN_TRY(nm_alloc1(nm, 4 * rows * w->nchunk, VKN_F32, &w->part));
    else if (nm_dense_path(nm, sh.P)) VKN_TRY(nm_dense_alloc(nm, sh));
    VKN_TRY(nm_alloc1(nm, (mix ? 8 : 4) * (int64_t)(nseg ? nseg : 1), VKN_F32, &w->seg));
    VKN_TRY(nm_alloc1(nm, 4 * (int64_t)(nseg ? nseg : 1), VKN_F32, &w->bseg));
    VKN_TRY(nm_alloc1(nm, 4 * (int64_t)ntab, VKN_F32, &w->ftab));
    VKN_TRY(nm_alloc1(nm, 4 * (int64_t)ntab, VKN_F32, &w->btab));
    VKN_TRY(nm_alloc1(nm, sh.N, VKN_F32, &w->kmap));
    VKN_TRY(nm_alloc1(nm, sh.N, VKN_I32, &w->bad));
    if (vkn_norm_needs_ctx(nm->o.kind)) VKN_TRY(nm_alloc1(nm, (int64_t)sh.N + nm->o.contexts + 1, VKN_F32, &w->kord));
    if (nm->o.kind == VKN_NORM_CNX && nm->o.cnx_embedder)
        VKN_TRY(nm_alloc1(nm, 2 * (int64_t)nm->o.contexts * sh.C, VKN_F32, &w->dtmp));
    if (nm->o.kind == VKN_NORM_UBN)
        VKN_TRY(nm_alloc1(nm, 8 + (int64_t)sh.N + ((int64_t)sh.C * sh.P + 3) / 4, VKN_F32, &w->ubn));
    /* defined contents for every workspace tensor (kmap is read for every method by some kernels) */
    float *z = calloc((size_t)sh.N + 4, sizeof(float));
    if (!z) return vkn_status_set(VKN_ERR_HOST_OOM, "norm: workspace");
    vkn_status s = vkn_tensor_upload(&w->kmap, z);
    free(z);
    VKN_TRY(s);
    w->N = sh.N;
    w->P = sh.P;
    return VKN_OK;
}

static norm_pc make_pc(const vkn_norm *nm, shape sh, int train, int use_batch)
{
    const vkn_norm_opts *o = &nm->o;
    norm_pc pc = {0};
    pc.N = (uint32_t)sh.N;
    pc.C = (uint32_t)sh.C;
    pc.P = (uint32_t)sh.P;
    pc.total = (uint32_t)((int64_t)sh.N * sh.C * sh.P);
    pc.nchunk = (uint32_t)nm->ws.nchunk;
    pc.clen = (uint32_t)nm->ws.clen;
    switch (o->kind) {
    case VKN_NORM_LN: pc.G = 1; pc.cw = (uint32_t)sh.C; break;
    case VKN_NORM_IN: pc.G = (uint32_t)sh.C; pc.cw = 1; break;
    case VKN_NORM_GN: pc.G = (uint32_t)o->groups; pc.cw = (uint32_t)(sh.C / o->groups); break;
    default: pc.G = 1; pc.cw = 1; break;
    }
    pc.K = (uint32_t)(vkn_norm_needs_ctx(o->kind) ? o->contexts : o->components);
    pc.nseg = (uint32_t)nseg_of(nm, sh);
    pc.NK = (uint32_t)nk_of(nm, sh);
    pc.train = train ? 1u : 0u;
    pc.use_batch = use_batch ? 1u : 0u;
    pc.flags = (nm->gi >= 0 ? F_AFFINE : 0) | (o->kind == VKN_NORM_CN && o->cn_prior_scale ? F_PRIOR_SCALE : 0) |
               (o->kind == VKN_NORM_CNX && o->cnx_embedder ? F_EMBEDDER : 0) |
               (o->kind == VKN_NORM_UBN && o->ubn_batch_stats_above ? F_UBN_BATCH_ABOVE : 0);
    pc.eps = (float)vkn_norm_eps(o);
    pc.momentum = (float)o->momentum;
    pc.invP = 1.0f / (float)sh.P;
    pc.invC = 1.0f / (float)sh.C;
    pc.ubn_thr = (float)o->ubn_threshold;
    pc.pdrop = (float)o->afn_dropout;
    pc.nq = (uint32_t)nm->ws.nq;
    pc.qlen = (uint32_t)nm->ws.qlen;
    pc.ncb = (uint32_t)nm->ws.ncb;
    return pc;
}

int nm_gpu_path(const vkn_norm *nm) { return vkn_context_info(nm->ctx)->path == VKN_PATH_GPU; }

const vkn_tensor *nm_slot_or(const vkn_norm *nm, int i) { return i >= 0 ? &nm->st[i] : &nm->dummy; }
const vkn_tensor *nm_grad_or(const vkn_norm *nm, int i) { return i >= 0 && nm->sl[i].learned ? &nm->gt[i] : &nm->dummy; }
const vkn_tensor *nm_ws_or(const vkn_norm *nm, const vkn_tensor *t) { return t->buffer ? t : &nm->dummy; }

void nm_set_grid(vkn_dispatch *d, uint64_t outputs, int workgroup_each)
{
    vkn_grid_1d(workgroup_each ? outputs * 64 : outputs, 64, d->groups);
}

void nm_set_spec(vkn_dispatch *d, const vkn_norm *nm, const norm_pc *pc, uint32_t extra)
{
    d->spec[0] = (uint32_t)nm->o.kind;
    d->spec[1] = pc->P == 1;
    d->spec[2] = (uint32_t)nm_gpu_path(nm);
    d->spec[3] = extra;
    d->nspec = 4;
    d->push = pc;
    d->push_bytes = sizeof *pc;
}

/* ---- the kernels ---- */
static vkn_status k_prep(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *ids)
{
    vkn_dispatch d = {.shader = "norm/prep", .label = "norm-prep",
                      .bind = {ids, &nm->ws.kmap, &nm->ws.bad, &nm->ws.kord}, .nbind = 4, .write_mask = 2 | 4 | 8};
    nm_set_spec(&d, nm, pc, 0);
    nm_set_grid(&d, (uint64_t)pc->N + pc->K + 1, 0);
    return vkn_cmd_dispatch(c, &d);
}

/* in on the CPU path with one chunk per row: stage 1 also does the merge's per-segment work
 * (rowstats.comp FUSE), so the forward skips finalize and the backward's bsum only computes the
 * parameter gradients */
static int in_fused(const vkn_norm *nm, const norm_pc *pc)
{
    return nm->o.kind == VKN_NORM_IN && !nm_gpu_path(nm) && pc->P > 1 && pc->nchunk == 1;
}

static vkn_status k_rowstats(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                             int bwd)
{
    const vkn_tensor *gg = g ? g : x;
    vkn_dispatch d = {.shader = "norm/rowstats", .label = bwd ? "norm-rowsums" : "norm-rowstats",
                      .bind = {&nm->ws.part, &nm->dummy, &nm->dummy, x, gg}, .nbind = 5, .write_mask = 1,
                      .texel = {x, gg, &nm->ws.ftab, &nm->ws.kmap}, .ntexel = 4, .texel_vec4_mask = 7};
    const int fuse = in_fused(nm, pc);
    if (!bwd && nm->o.kind == VKN_NORM_CN) {   /* the shift of a row's segment: kord (norm.glsl SHIFT) */
        d.texel[2] = &nm->ws.kord;
        d.texel_vec4_mask = 1 | 2;
    }
    if (fuse && !bwd) {
        d.bind[1] = &nm->ws.seg;
        d.bind[2] = &nm->ws.ftab;
        d.texel[1] = nm_slot_or(nm, nm->gi);
        d.texel[2] = &nm->dummy;
        d.texel[3] = nm_slot_or(nm, nm->bi);
        d.texel_vec4_mask = 1 | 4;
        d.write_mask = 1 | 2 | 4;
    } else if (fuse) {
        d.bind[1] = &nm->ws.btab;
        d.bind[2] = &nm->ws.bseg;
        d.texel[2] = &nm->ws.seg;
        d.texel[3] = nm_slot_or(nm, nm->gi);
        d.write_mask = 1 | 2 | 4;
    }
    nm_set_spec(&d, nm, pc, (uint32_t)bwd);
    d.spec[4] = (uint32_t)fuse;
    d.nspec = 5;
    nm_set_grid(&d, (uint64_t)pc->N * pc->C * pc->nchunk, 0);
    return vkn_cmd_dispatch(c, &d);
}

/* ln, in, gn on the CPU path: finalize and bsum read gamma, beta and seg through texel views */
static int seg_grp_cpu(const vkn_norm *nm)
{
    vkn_norm_kind k = nm->o.kind;
    return !nm_gpu_path(nm) && (k == VKN_NORM_LN || k == VKN_NORM_IN || k == VKN_NORM_GN);
}

static vkn_status k_finalize(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x)
{
    const vkn_tensor *aux = nm->o.kind == VKN_NORM_UBN ? &nm->ws.ubn : nm_slot_or(nm, nm->aux);
    vkn_dispatch d = {.shader = "norm/finalize", .label = "norm-finalize",
                      .bind = {&nm->ws.seg, &nm->ws.ftab, nm_slot_or(nm, nm->gi), nm_slot_or(nm, nm->bi), nm_slot_or(nm, nm->rm),
                               nm_slot_or(nm, nm->rv), &nm->ws.kmap, aux},
                      .nbind = 8, .write_mask = 1 | 2 | (nm->rm >= 0 ? 16 : 0) | (nm->rv >= 0 ? 32 : 0),
                      .texel = {nm_ws_or(nm, &nm->ws.part), x, nm_ws_or(nm, &nm->ws.kord), &nm->dummy}, .ntexel = 4,
                      .texel_vec4_mask = 1};
    if (seg_grp_cpu(nm)) {   /* ln, in, gn on the CPU path: gamma and beta as texel views (finalize.comp) */
        d.texel[2] = nm_slot_or(nm, nm->gi);
        d.texel[3] = nm_slot_or(nm, nm->bi);
    }
    nm_set_spec(&d, nm, pc, 0);
    nm_set_grid(&d, pc->nseg, nm_gpu_path(nm));
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_apply(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                          const vkn_tensor *out, int bwd)
{
    const vkn_tensor *gg = g ? g : x;
    vkn_dispatch d = {.shader = "norm/apply", .label = bwd ? "norm-apply-bwd" : "norm-apply",
                      .bind = {out, x, gg}, .nbind = 3, .write_mask = 1,
                      .texel = {x, gg, bwd ? &nm->ws.btab : &nm->ws.ftab, &nm->ws.kmap}, .ntexel = 4,
                      .texel_vec4_mask = 1 | 2 | 4};
    nm_set_spec(&d, nm, pc, (uint32_t)bwd);
    /* WIDE vec4 per invocation (apply.comp), spanning at most two rows (4 * WIDE <= P), so that the
     * row divisions and table fetches are shared by up to 48 vec4 */
    uint32_t wide = pc->P / 4u < 48u ? pc->P / 4u : 48u;
    if (wide < 4u) wide = 0u;
    uint32_t per = wide ? 4u * wide : 4u;
    d.spec[4] = wide;
    d.nspec = 5;
    nm_set_grid(&d, ((uint64_t)pc->total + per - 1) / per, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_bsum(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g)
{
    const vkn_norm_kind k = nm->o.kind;
    const vkn_tensor *d0, *d1, *aux, *gam = nm_slot_or(nm, nm->gi);
    if (k == VKN_NORM_CNX) {
        /* CN-emb: d(k,c) of mu and log-std into dtmp (2*K*C), reordered by coef.comp */
        d0 = nm->o.cnx_embedder ? &nm->ws.dtmp : &nm->gt[0];
        d1 = nm->o.cnx_embedder ? &nm->dummy : &nm->gt[1];
        aux = &nm->ws.ftab;
    } else {
        d0 = nm_grad_or(nm, nm->gi);
        d1 = nm_grad_or(nm, nm->bi);
        aux = nm_slot_or(nm, nm->aux);
    }
    vkn_dispatch d = {.shader = "norm/bsum", .label = "norm-bsum",
                      .bind = {&nm->ws.btab, &nm->ws.bseg, gam, d0, d1, &nm->ws.kmap, &nm->ws.seg, aux},
                      .nbind = 8, .write_mask = 1 | 2 | 8 | 16,
                      .texel = {nm_ws_or(nm, &nm->ws.part), x, g, nm_ws_or(nm, &nm->ws.kord)}, .ntexel = 4,
                      .texel_vec4_mask = 1};
    if (seg_grp_cpu(nm) && pc->P > 1) {   /* bsum.comp: gamma in X1's place, seg in KORD's */
        d.texel[1] = gam;
        d.texel[3] = &nm->ws.seg;
        d.texel_vec4_mask = 1 | 8;
    }
    const int paronly = in_fused(nm, pc);   /* rowstats did the segment part: parameter gradients only */
    nm_set_spec(&d, nm, pc, (uint32_t)paronly);
    /* CPU path, cbn / cn: a segment's invocation also writes the parameter gradients (bsum.comp) */
    int ctx_cpu = !nm_gpu_path(nm) && (k == VKN_NORM_CBN || k == VKN_NORM_CN);
    nm_set_grid(&d, paronly ? pc->naff : (uint64_t)pc->nseg + (ctx_cpu ? 0 : pc->naff), nm_gpu_path(nm));
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status k_coef(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g, int bwd)
{
    const vkn_tensor *D = &nm->dummy;
    vkn_dispatch d = {.shader = "norm/coef", .label = bwd ? "norm-coef-bwd" : "norm-coef", .nbind = 8,
                      .texel = {nm_ws_or(nm, &nm->ws.part), x, g ? g : x}, .ntexel = 3, .texel_vec4_mask = 1};
    const vkn_tensor *b[8] = {bwd ? &nm->ws.btab : &nm->ws.ftab, &nm->ws.bseg, D, D, D, D, &nm->ws.seg, D};
    uint64_t inv = 0;
    if (nm->o.kind == VKN_NORM_CNX && !bwd) {
        for (int i = 0; i < nm->ns && i < 4; i++) b[2 + i] = &nm->st[i];
        d.write_mask = 1;
        inv = (uint64_t)nm->o.contexts * pc->C;
    } else if (nm->o.kind == VKN_NORM_CNX) {
        for (int i = 0; i < 4; i++) b[2 + i] = &nm->gt[i];
        b[7] = &nm->ws.dtmp;
        d.write_mask = 4 | 8 | 16 | 32;
        inv = pc->C;
    } else if (!bwd) { /* bcn */
        b[2] = nm_slot_or(nm, nm->gi);
        b[3] = nm_slot_or(nm, nm->bi);
        b[5] = &nm->st[nm->aux];
        d.write_mask = 1;
        inv = (uint64_t)pc->N * pc->C;
    } else {
        b[2] = nm_slot_or(nm, nm->gi);
        b[3] = nm_grad_or(nm, nm->gi);
        b[4] = nm_grad_or(nm, nm->bi);
        b[5] = &nm->st[nm->aux];
        b[7] = &nm->gt[nm->aux];
        d.write_mask = 1 | 8 | 16 | 128;
        inv = (uint64_t)pc->N * pc->C + pc->C;
    }
    for (int i = 0; i < 8; i++) d.bind[i] = b[i];
    nm_set_spec(&d, nm, pc, (uint32_t)bwd);
    nm_set_grid(&d, inv, 0);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status check_ids_tensor(const vkn_norm *nm, const vkn_tensor *ctx, int N)
{
    if (!vkn_norm_needs_ctx(nm->o.kind)) return VKN_OK;
    if (!ctx || !ctx->buffer || ctx->dtype != VKN_I32)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): needs %s ids as an int32 tensor [N], got %s", nm_kname(nm),
                              nm->o.kind == VKN_NORM_CBN ? "class" : "context", !ctx ? "NULL" : "another tensor");
    if (ctx->numel < N)
        return vkn_status_set(VKN_ERR_SHAPE, "norm(%s): %lld ids for a batch of %d samples", nm_kname(nm),
                              (long long)ctx->numel, N);
    return VKN_OK;
}

static int supported(vkn_norm_kind k)
{
    return k >= VKN_NORM_NONE && k < VKN_NORM_KIND_COUNT_;
}

static vkn_status ubn_similarity(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x);

vkn_status vkn_norm_forward(vkn_cmd *c, vkn_norm *nm, const vkn_tensor *x, const vkn_tensor *ctx, const vkn_tensor *y,
                            int train)
{
    if (!c || !nm) return vkn_status_set(VKN_ERR_ARG, "norm forward: stream and layer are required");
    const vkn_norm_kind k = nm->o.kind;
    shape sh, shy;
    VKN_TRY(get_shape(nm, "x", x, &sh));
    VKN_TRY(get_shape(nm, "y", y, &shy));
    if (shy.N != sh.N || shy.P != sh.P)
        return vkn_status_set(VKN_ERR_SHAPE, "norm(%s): y (%dx%dx%d) differs from x (%dx%dx%d)", nm_kname(nm), shy.N,
                              shy.C, shy.P, sh.N, sh.C, sh.P);
    if (k == VKN_NORM_NONE) return vkn_op_copy(c, x, y);
    if (!supported(k))
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "norm(%s): not implemented on the device yet", nm_kname(nm));
    VKN_TRY(check_ids_tensor(nm, ctx, sh.N));
    int use_batch = k == VKN_NORM_LN || k == VKN_NORM_IN || k == VKN_NORM_GN ||
                    (k != VKN_NORM_CNX && (train || nm->o.infer == VKN_NORM_INFER_BATCH));
    if (train && has_running(k) && k != VKN_NORM_CN && (int64_t)sh.N * sh.P < 2)
        return vkn_status_set(VKN_ERR_SHAPE,
                              "norm(%s): training needs at least 2 values per channel (N*H*W=%lld) for the unbiased "
                              "running variance",
                              nm_kname(nm), (long long)sh.N * sh.P);
    if (k == VKN_NORM_AFN && use_batch && (int64_t)sh.N * sh.P < 2)
        return vkn_status_set(VKN_ERR_SHAPE,
                              "norm(afn): batch statistics need at least 2 values per channel (N*H*W=%lld) for the "
                              "unbiased std",
                              (long long)sh.N * sh.P);
    VKN_TRY(ensure_ws(nm, sh));
    VKN_TRY(check_loops(nm, sh.N, nm->ws.nchunk, sh.C, nm_dense_path(nm, sh.P)));
    norm_pc pc = make_pc(nm, sh, train, use_batch);
    if (vkn_norm_needs_ctx(k)) VKN_TRY(k_prep(c, nm, &pc, ctx));
    if (is_mix(k)) {
        VKN_TRY(nm_mix_forward(c, nm, &pc, x, y));
        nm->fwd_done = 1;
        nm->fwd_batch = use_batch;
        return VKN_OK;
    }
    if (k == VKN_NORM_CNX) {
        VKN_TRY(k_coef(c, nm, &pc, x, NULL, 0));
    } else {
        if (k == VKN_NORM_UBN && train) VKN_TRY(ubn_similarity(c, nm, &pc, x));
        if (nm_dense_path(nm, sh.P)) {
            VKN_TRY(nm_dense_forward(c, nm, &pc, x, y));
            nm->fwd_done = 1;
            nm->fwd_batch = use_batch;
            return VKN_OK;
        }
        if (sh.P > 1 && (use_batch || k == VKN_NORM_BCN)) VKN_TRY(k_rowstats(c, nm, &pc, x, NULL, 0));
        if (!in_fused(nm, &pc)) VKN_TRY(k_finalize(c, nm, &pc, x));
        if (k == VKN_NORM_BCN) VKN_TRY(k_coef(c, nm, &pc, x, NULL, 0));
        if (k == VKN_NORM_AFN) VKN_TRY(nm_afn_forward_mlp(c, nm, &pc));
    }
    VKN_TRY(k_apply(c, nm, &pc, x, NULL, y, 0));
    nm->fwd_done = 1;
    nm->fwd_batch = use_batch;
    return VKN_OK;
}

vkn_status vkn_norm_backward(vkn_cmd *c, vkn_norm *nm, const vkn_tensor *x, const vkn_tensor *ctx,
                             const vkn_tensor *dy, const vkn_tensor *dx)
{
    if (!c || !nm) return vkn_status_set(VKN_ERR_ARG, "norm backward: stream and layer are required");
    const vkn_norm_kind k = nm->o.kind;
    shape sh, s2, s3;
    VKN_TRY(get_shape(nm, "x", x, &sh));
    VKN_TRY(get_shape(nm, "dy", dy, &s2));
    VKN_TRY(get_shape(nm, "dx", dx, &s3));
    if (s2.N != sh.N || s2.P != sh.P || s3.N != sh.N || s3.P != sh.P)
        return vkn_status_set(VKN_ERR_SHAPE, "norm(%s) backward: x, dy and dx must have the same shape", nm_kname(nm));
    if (k == VKN_NORM_NONE) return vkn_op_copy(c, dy, dx);
    if (!supported(k))
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "norm(%s): not implemented on the device yet", nm_kname(nm));
    VKN_TRY(check_ids_tensor(nm, ctx, sh.N));
    if (!nm->fwd_done || nm->ws.N != sh.N || nm->ws.P != sh.P)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s) backward: record a forward of this shape first", nm_kname(nm));
    norm_pc pc = make_pc(nm, sh, 0, nm->fwd_batch);
    if (is_mix(k)) return nm_mix_backward(c, nm, &pc, x, dy, dx);
    if (k == VKN_NORM_AFN) {
        if (!pc.use_batch)
            return vkn_status_set(VKN_ERR_ARG,
                                  "norm(afn) backward: needs a forward with batch statistics (train, or infer=batch)");
        if (sh.P > 1) VKN_TRY(k_rowstats(c, nm, &pc, x, dy, 1));
        VKN_TRY(nm_afn_backward_mlp(c, nm, &pc, x, dy));
        VKN_TRY(k_apply(c, nm, &pc, x, dy, dx, 1));
        return nm_afn_unpack_grads(c, nm);
    }
    int aff = nm->gi >= 0;
    switch (k) {
    case VKN_NORM_BN: case VKN_NORM_UBN: case VKN_NORM_LN: case VKN_NORM_IN: case VKN_NORM_GN:
        pc.naff = aff ? (uint32_t)sh.C : 0; break;
    case VKN_NORM_CBN: case VKN_NORM_CN: pc.naff = aff ? (uint32_t)(nm->o.contexts * sh.C) : 0; break;
    case VKN_NORM_CNX: pc.naff = (uint32_t)(nm->o.contexts * sh.C); break;
    default: pc.naff = 0; break;
    }
    if (nm_dense_path(nm, sh.P)) return nm_dense_backward(c, nm, &pc, x, dy, dx);
    if (sh.P > 1) VKN_TRY(k_rowstats(c, nm, &pc, x, dy, 1));
    if (!in_fused(nm, &pc) || pc.naff) VKN_TRY(k_bsum(c, nm, &pc, x, dy));
    if (k == VKN_NORM_BCN || (k == VKN_NORM_CNX && nm->o.cnx_embedder)) VKN_TRY(k_coef(c, nm, &pc, x, dy, 1));
    return k_apply(c, nm, &pc, x, dy, dx, 1);
}

vkn_status vkn_norm_check_ids(vkn_norm *nm)
{
    if (!nm) return vkn_status_set(VKN_ERR_ARG, "norm: layer is NULL");
    if (!vkn_norm_needs_ctx(nm->o.kind) || !nm->ws.N || !nm->fwd_done) return VKN_OK;
    int32_t *bad = malloc((size_t)(nm->ws.N > 4 ? nm->ws.N : 4) * sizeof *bad);
    if (!bad) return vkn_status_set(VKN_ERR_HOST_OOM, "norm: id flags");
    vkn_tensor t = nm->ws.bad;
    vkn_status s = vkn_tensor_download(&t, bad);
    for (int n = 0; s == VKN_OK && n < nm->ws.N; n++)
        if (bad[n]) {
            s = vkn_status_set(VKN_ERR_ARG,
                               "norm(%s): sample %d had a %s id outside 0..%d (clamped on the device; fix the ids)",
                               nm_kname(nm), n, nm->o.kind == VKN_NORM_CBN ? "class" : "context", nm->o.contexts - 1);
        }
    free(bad);
    return s;
}

size_t vkn_norm_state_floats(const vkn_norm *nm)
{
    size_t n = 0;
    for (int i = 0; nm && i < nm->ns; i++) n += (size_t)nm->sl[i].count;
    return n;
}

vkn_status vkn_norm_save(const vkn_norm *nm, float *host)
{
    if (!nm || (!host && nm->ns)) return vkn_status_set(VKN_ERR_ARG, "norm save: layer and buffer are required");
    size_t off = 0;
    for (int i = 0; i < nm->ns; i++) {
        VKN_TRY(vkn_tensor_download(&nm->st[i], host + off));
        off += (size_t)nm->sl[i].count;
    }
    return VKN_OK;
}

vkn_status vkn_norm_load(vkn_norm *nm, const float *host)
{
    if (!nm || (!host && nm->ns)) return vkn_status_set(VKN_ERR_ARG, "norm load: layer and buffer are required");
    size_t off = 0;
    for (int i = 0; i < nm->ns; i++) {
        VKN_TRY(vkn_tensor_upload(&nm->st[i], host + off));
        off += (size_t)nm->sl[i].count;
    }
    return VKN_OK;
}

const vkn_tensor *vkn_norm_debug_tensor(const vkn_norm *nm, const char *name)
{
    if (!nm || !name || !nm->ws.N) return NULL;
    if (!strcmp(name, "seg")) return &nm->ws.seg;
    if (!strcmp(name, "bseg")) return &nm->ws.bseg;
    if (!strcmp(name, "ftab")) return &nm->ws.ftab;
    if (!strcmp(name, "btab")) return &nm->ws.btab;
    if (!strcmp(name, "kmap")) return &nm->ws.kmap;
    if (!strcmp(name, "ubn") && nm->ws.ubn.buffer) return &nm->ws.ubn;
    if (!strcmp(name, "afn_mask") && nm->ws.afn.buffer) return &nm->ws.afn_mask;
    if (!strcmp(name, "afn") && nm->ws.afn.buffer) return &nm->ws.afn;
    return NULL;
}

static void diag_add(vkn_norm_diag *d, const char *label, const float *v, int n)
{
    if (d->nseries >= VKN_NORM_DIAG_MAX) return;
    vkn_norm_diag_series *s = &d->s[d->nseries++];
    snprintf(s->label, sizeof s->label, "%s", label);
    s->count = n < VKN_NORM_DIAG_VALUES ? n : VKN_NORM_DIAG_VALUES;
    memcpy(s->v, v, (size_t)s->count * sizeof(float));
}

vkn_status vkn_norm_diagnostics(vkn_norm *nm, vkn_norm_diag *out)
{
    if (!nm || !out) return vkn_status_set(VKN_ERR_ARG, "norm diagnostics: layer and output are required");
    memset(out, 0, sizeof *out);
    out->kind = nm->o.kind;
    const vkn_norm_kind k = nm->o.kind;
    const int C = nm->o.channels;
    float v[VKN_NORM_DIAG_VALUES];
    if (k == VKN_NORM_CN && nm->ws.N && nm->fwd_done) {
        int K = nm->o.contexts, nseg = K * C;
        float *seg = malloc((size_t)nseg * 4 * sizeof *seg);
        if (!seg) return vkn_status_set(VKN_ERR_HOST_OOM, "norm diagnostics");
        vkn_status s = vkn_tensor_download(&nm->ws.seg, seg);
        if (s == VKN_OK) {
            int n = K < VKN_NORM_DIAG_VALUES ? K : VKN_NORM_DIAG_VALUES;
            for (int i = 0; i < n; i++) v[i] = seg[4 * (i * C)] == seg[4 * (i * C)] ? seg[4 * (i * C) + 2] / (float)nm->ws.P : 0;
            diag_add(out, "ctx samples", v, n);
            for (int i = 0; i < n; i++) v[i] = seg[4 * (i * C)];
            diag_add(out, "ctx mean[c0]", v, n);
            for (int i = 0; i < n; i++) v[i] = 1.0f / seg[4 * (i * C) + 1];
            diag_add(out, "ctx std[c0]", v, n);
        }
        free(seg);
        VKN_TRY(s);
    }
    if (k == VKN_NORM_BCN) {
        int n = C < VKN_NORM_DIAG_VALUES ? C : VKN_NORM_DIAG_VALUES;
        float *b = malloc((size_t)C * sizeof *b);
        if (!b) return vkn_status_set(VKN_ERR_HOST_OOM, "norm diagnostics");
        vkn_status s = vkn_tensor_download(&nm->st[nm->aux], b);
        if (s == VKN_OK) diag_add(out, "blend (1 = bn)", b, n);
        free(b);
        VKN_TRY(s);
    }
    if (k == VKN_NORM_AFN) {
        static const char *names[4] = {"gate_mu", "gate_sigma", "gate_beta", "gate_gamma"};
        for (int i = 0; i < 4; i++) {
            float th;
            VKN_TRY(vkn_tensor_download(&nm->st[vkn_norm_slot_index(&nm->o, names[i])], &th));
            v[i] = 1.0f / (1.0f + expf(-th));
        }
        diag_add(out, "gates (mu, sigma, beta, gamma)", v, 4);
    }
    if (k == VKN_NORM_UBN && nm->ws.ubn.buffer) {
        float u[2];
        vkn_tensor t = nm->ws.ubn;
        t.numel = 2;
        t.bytes = 8;
        t.shape[0] = 2;
        VKN_TRY(vkn_tensor_download(&t, u));
        diag_add(out, "similarity", u, 1);
        diag_add(out, "above threshold", u + 1, 1);
    }
    return VKN_OK;
}

/* UBN (feature-condensation threshold): the samples' mean cosine similarity, on the device
 * (shaders/norm/ubn.comp, three small launches); finalize.comp reads the "above" flag. */
static vkn_status ubn_similarity(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x)
{
    uint64_t D = (uint64_t)pc->C * pc->P, inv[3] = {pc->N, (D + 3) / 4, 1};
    for (uint32_t stage = 0; stage < 3; stage++) {
        vkn_dispatch d = {.shader = "norm/ubn", .label = "norm-ubn-similarity", .bind = {&nm->ws.ubn}, .nbind = 1,
                          .write_mask = 1, .texel = {x}, .ntexel = 1};
        nm_set_spec(&d, nm, pc, stage);
        nm_set_grid(&d, inv[stage], nm_gpu_path(nm) && stage != 1);   /* ubn.comp: GPU, a workgroup each */
        VKN_TRY(vkn_cmd_dispatch(c, &d));
    }
    return VKN_OK;
}
