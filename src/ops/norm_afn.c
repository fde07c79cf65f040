/* AFN on the device (shared/NORMS.md 9; reference src/ops/norm_ref_fused.c): batch statistics by the
 * shared kernels, the encoder/decoder MLPs and gates by small barrier-free kernels
 * (shaders/norm/afn_mlp.comp, one invocation per output unit, serial sums), the element-wise passes
 * by apply.comp with AFN's per-channel tables.
 *
 *   forward:  [rowstats] -> finalize (mean, unbiased variance; running update / running statistics)
 *             -> afn_pack x3 (the 18 learned slots into one array) -> afn_mlp 0 (dropout masks,
 *             encoders) -> afn_mlp 1 (decoders, gates, ftab) -> apply                  7 (+1)
 *   backward: [rowstats] -> afn_mlp 2, 3, 4 (per-channel sums, MLP backward, btab) -> apply ->
 *             afn_pack x3 (packed gradients into the gradient tensors)                 7 (+1)
 * Dropout: the keep flags are a counter hash of (layer seed, step, index) with the step counter on
 * the device (bumped by every training forward with p > 0, so a recorded graph replays with new
 * masks); vkn_norm_debug_tensor(nm, "afn_mask") gives the 2*C flags of the last forward. */
#include "ops/norm_dev.h"

#include <stdlib.h>
#include <string.h>

/* learned slots 0..17 in slot order; 18, 19 are the running statistics */
enum { AFN_NLEARN = 18, AFN_NCARR = 21 };

static int64_t aux_floats(int C, int hs, int hr)
{
    return 2 * (int64_t)C + 4 + (int64_t)AFN_NCARR * C + 4 * (int64_t)hs + 4 * (int64_t)hr;
}

static int64_t packed_floats(const vkn_norm *nm)
{
    int64_t n = 0;
    for (int i = 0; i < AFN_NLEARN; i++) n += nm->sl[i].count;
    return n;
}

vkn_status nm_afn_alloc(vkn_norm *nm, shape sh)
{
    norm_ws *w = &nm->ws;
    const int hs = vkn_norm_afn_hidden_std(&nm->o), hr = vkn_norm_afn_hidden_rescale(&nm->o);
    int64_t na = aux_floats(sh.C, hs, hr), np = packed_floats(nm);
    VKN_TRY(nm_alloc1(nm, na, VKN_F32, &w->afn));
    VKN_TRY(nm_alloc1(nm, np, VKN_F32, &w->afn_prm));
    VKN_TRY(nm_alloc1(nm, np, VKN_F32, &w->afn_gpk));
    float *z = calloc((size_t)(na > np ? na : np), sizeof *z);
    if (!z) return vkn_status_set(VKN_ERR_HOST_OOM, "norm(afn): workspace");
    for (int64_t i = 0; i < 2 * sh.C; i++) z[i] = 1.0f;   /* keep flags before the first forward */
    vkn_status s = vkn_tensor_upload(&w->afn, z);         /* step counter 0 */
    free(z);
    VKN_TRY(s);
    w->afn_mask = w->afn;
    w->afn_mask.ndim = 1;
    w->afn_mask.shape[0] = w->afn_mask.numel = 2 * (int64_t)sh.C;
    w->afn_mask.bytes = (uint64_t)w->afn_mask.numel * sizeof(float);
    return VKN_OK;
}

typedef struct afn_pc {
    uint32_t C, HS, HR, N;
    uint32_t P, nchunk, train, raw;
    float eps, pdrop, M, pad0;
    uint32_t seed_lo, seed_hi, nout, pad1;
} afn_pc;

typedef struct pack_pc {
    uint32_t off[8];
    uint32_t nslot, base;
} pack_pc;

/* packed <-> slots (values, or gradients when unpack) in batches of 7 */
static vkn_status k_pack(vkn_cmd *c, vkn_norm *nm, int unpack)
{
    uint32_t base = 0;
    for (int first = 0; first < AFN_NLEARN; first += 7) {
        int n = AFN_NLEARN - first < 7 ? AFN_NLEARN - first : 7;
        pack_pc pc = {{0}, (uint32_t)n, base};
        vkn_dispatch d = {.shader = "norm/afn_pack", .label = unpack ? "norm-afn-unpack" : "norm-afn-pack",
                          .nbind = 8, .spec = {(uint32_t)unpack}, .nspec = 1, .push = &pc, .push_bytes = sizeof pc};
        d.bind[0] = unpack ? &nm->ws.afn_gpk : &nm->ws.afn_prm;
        d.write_mask = unpack ? 0 : 1;
        for (int j = 0; j < 7; j++) {
            if (j < n) {
                d.bind[1 + j] = unpack ? &nm->gt[first + j] : &nm->st[first + j];
                pc.off[j + 1] = pc.off[j] + (uint32_t)nm->sl[first + j].count;
                if (unpack) d.write_mask |= 1u << (1 + j);
            } else {
                d.bind[1 + j] = &nm->dummy;
            }
        }
        nm_set_grid(&d, pc.off[n], 0);
        VKN_TRY(vkn_cmd_dispatch(c, &d));
        base += pc.off[n];
    }
    return VKN_OK;
}

static vkn_status k_mlp(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc0, uint32_t stage, const vkn_tensor *x,
                        const vkn_tensor *g)
{
    const int C = nm->o.channels, hs = vkn_norm_afn_hidden_std(&nm->o), hr = vkn_norm_afn_hidden_rescale(&nm->o);
    afn_pc pc = {.C = (uint32_t)C, .HS = (uint32_t)hs, .HR = (uint32_t)hr, .N = pc0->N, .P = pc0->P,
                 .nchunk = pc0->nchunk, .train = pc0->train, .raw = pc0->P == 1, .eps = pc0->eps,
                 .pdrop = (float)nm->o.afn_dropout, .M = (float)((double)pc0->N * pc0->P),
                 .seed_lo = (uint32_t)nm->seed, .seed_hi = (uint32_t)(nm->seed >> 32)};
    uint64_t nout;
    switch (stage) {
    case 0: nout = (uint64_t)(C > 2 * hs + 2 * hr ? C : 2 * hs + 2 * hr); break;
    case 1: case 2: nout = (uint64_t)C; break;
    case 3: nout = (uint64_t)C * (2 * hs + 2 * hr) + 2 * hs + 2 * hr + 4; break;
    default: nout = (uint64_t)(hs + hr) * C + hs + hr + C; break;
    }
    pc.nout = (uint32_t)nout;
    static const char *labels[5] = {"norm-afn-encode", "norm-afn-decode", "norm-afn-bwd-sums", "norm-afn-bwd-dec",
                                    "norm-afn-bwd-enc"};
    const vkn_tensor *tab = stage == 4 ? &nm->ws.btab : &nm->ws.ftab;
    const vkn_tensor *t1 = stage == 0 ? &nm->ws.seg : stage == 2 ? nm_ws_or(nm, &nm->ws.part) : &nm->dummy;
    vkn_dispatch d = {.shader = "norm/afn_mlp", .label = labels[stage], .spec = {stage}, .nspec = 1,
                      .bind = {&nm->ws.afn, tab, &nm->ws.afn_gpk}, .nbind = 3,
                      .write_mask = 1 | (stage == 1 || stage == 4 ? 2 : 0) | (stage >= 2 ? 4 : 0),
                      .texel = {&nm->ws.afn_prm, t1, x ? x : &nm->dummy, g ? g : &nm->dummy}, .ntexel = 4,
                      .texel_vec4_mask = 2, .push = &pc, .push_bytes = sizeof pc};
    nm_set_grid(&d, nout, 0);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status nm_afn_forward_mlp(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc)
{
    VKN_TRY(k_pack(c, nm, 0));
    VKN_TRY(k_mlp(c, nm, pc, 0, NULL, NULL));
    return k_mlp(c, nm, pc, 1, NULL, NULL);
}

vkn_status nm_afn_backward_mlp(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g)
{
    if (!pc->use_batch)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm(afn) backward: needs a forward with batch statistics (train, or infer=batch)");
    VKN_TRY(k_mlp(c, nm, pc, 2, x, g));
    VKN_TRY(k_mlp(c, nm, pc, 3, NULL, NULL));
    return k_mlp(c, nm, pc, 4, NULL, NULL);
}

vkn_status nm_afn_unpack_grads(vkn_cmd *c, vkn_norm *nm) { return k_pack(c, nm, 1); }
