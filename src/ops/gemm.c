/* GEMM: C = act(alpha op(A) op(B) + beta C + bias), optionally batched; launcher and reference.
 * Two kernels: gemm_reg (register-blocked, barrier-free: CPU-class devices) and gemm_tiled
 * (shared-memory tiles: GPUs), picked by the context's kernel path (VKN_PATH=cpu|gpu forces it).
 * gemm_tiled splits a long K over several workgroups when C has few tiles (see split_plan). */
#include "vkn/ops.h"
#include "ops/gemm_internal.h"
#include "ops/launch.h"
#include "ops/ref.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vkn_op_gemm_path(const vkn_context *ctx)
{
    return vkn_context_info(ctx)->path == VKN_PATH_CPU ? "reg" : "tiled";
}

/* Matrix dims of a 2-D or 3-D operand: rows, cols, batch (1 for 2-D). */
static int mat_dims(const vkn_tensor *t, int64_t *rows, int64_t *cols, int64_t *batch)
{
    if (t->ndim == 2) { *batch = 1; *rows = t->shape[0]; *cols = t->shape[1]; return 1; }
    if (t->ndim == 3) { *batch = t->shape[0]; *rows = t->shape[1]; *cols = t->shape[2]; return 1; }
    return 0;
}

/* Split-K on the GPU path. A convolution's weight gradient dW = dY' col^T has a C of few 64x64 tiles
 * (Cout x Cin*kh*kw: 32x75 is 2 tiles) and a reduction over every output pixel of the batch (K = L =
 * 64*24*24 = 36864 for DANN's conv1): one or two workgroups walk all of K while the rest of the GPU
 * idles (2.4 ms of a 6.8 ms training step on an H100). So K is cut into S contiguous slices of
 * k_slice: gemm_tiled runs tiles*S workgroups, slice s of batch item zb writing its plain product to
 * partials [batch, S, M, N]; gemm_splitk_reduce then sums the S partials of each element in slice
 * order and applies the epilogue (alpha, beta C, bias, activation). Plain stores and a fixed summation
 * order, no float atomics: the result is bit-identical run to run. The partials come from the
 * caller's scratch (vkn_op_gemm_ws: conv.c's workspace, planned with the graph's memory) or else
 * from the stream's scratch (vkn_cmd_scratch: vkn_op_gemm).
 * S: enough workgroups to fill a large GPU, SPLIT_TARGET_GROUPS in all (256: about 2 per SM on a
 * 132-SM H100), in slices of at least SPLIT_MIN_K (128: 8 of the kernel's 16-deep K steps; a lone
 * workgroup is latency-bound, about 1 us per step on an H100, so shorter walks pay off until the
 * partial tile's store, the reduction and the barrier between them, a few us, dominate), k_slice
 * rounded up to the K step. No split when S < 2 (C fills the GPU) or K < SPLIT_MIN_TOTAL_K (512: two
 * slices of a short K save less than the second dispatch and its barrier cost). Since S is at most
 * ceil(256 / tiles), the partials hold at most ~2*256 tiles of 64x64 (4 MiB).
 * Measured on an H100 through Vulkan: slices of 128 beat 256 on every conv backward of the cgan and
 * DANN benchmarks (cgan-small step 1.38 -> 1.31 ms), and 512 groups instead of 256 were within noise.
 * Examples: 32x75x36864 (2 tiles) S = 128 of 288; 32x16x12544 (1 tile) S = 98 of 128; 64x512x3136 tB
 * (8 tiles) S = 22 of 144. The plan depends on the shape only (not on the device), so conv.c's
 * workspace sizes can include the partials without a context. */
#define SPLIT_TARGET_GROUPS 256
#define SPLIT_MIN_K 128
#define SPLIT_MIN_TOTAL_K 512

/* The number of slices S (1: not split) and the K per slice. */
static int64_t split_plan(int64_t M, int64_t N, int64_t K, int64_t batch, uint32_t *k_slice)
{
    int64_t tiles = (M + 63) / 64 * ((N + 63) / 64) * batch;
    int64_t s = tiles > 0 ? (SPLIT_TARGET_GROUPS + tiles - 1) / tiles : 1;
    if (s > K / SPLIT_MIN_K) s = K / SPLIT_MIN_K;
    *k_slice = (uint32_t)(K > 0 ? K : 1);
    if (s < 2 || K < SPLIT_MIN_TOTAL_K) return 1;
    int64_t ks = ((K + s - 1) / s + 15) / 16 * 16;
    *k_slice = (uint32_t)ks;
    return (K + ks - 1) / ks;   /* >= 2 (K >= 512, ks <= K/2 + 16) and no slice empty */
}

int64_t vkn_gemm_split_scratch_numel(int64_t M, int64_t N, int64_t K, int64_t batch)
{
    uint32_t ks;
    if (M < 1 || N < 1 || K < 1 || batch < 1) return 0;
    int64_t s = split_plan(M, N, K, batch, &ks);
    return s > 1 ? s * batch * M * N : 0;
}

/* Push constants of both kernels (gemm_epilogue.glsl); gemm_reg's block ends before k_slice. */
typedef struct gemm_push {
    uint32_t M, N, K;
    float alpha, beta, act_alpha;
    uint32_t batch_a, batch_b, batch_c;
    uint32_t k_slice;   /* gemm_tiled and gemm_splitk_reduce: K per slice (K when not split) */
} gemm_push;

/* The split GEMM: d is the unsplit gemm_tiled dispatch of pc (C [batch, M, N]); two dispatches. */
static vkn_status gemm_split(vkn_cmd *c, const vkn_dispatch *d, const gemm_push *pc, int64_t splits, int64_t batch,
                             const vkn_tensor *scratch, const char *label)
{
    int64_t MN = (int64_t)pc->M * pc->N, need = splits * batch * MN;
    vkn_tensor part;
    if (scratch) {
        if (!vkn_is_f32(scratch) || scratch->numel < need)
            return vkn_status_set(VKN_ERR_SHAPE, "gemm: split-K scratch of %lld elements is too small (need %lld)",
                                  scratch ? (long long)scratch->numel : 0ll, (long long)need);
        part = *scratch;   /* a 1-D view of exactly the partials: the hazard tracker sees only those */
    } else {
        VKN_TRY(vkn_cmd_scratch(c, VKN_F32, need, &part));
    }
    part.ndim = 1;
    part.shape[0] = need;
    for (int i = 1; i < VKN_MAX_DIMS; i++) part.shape[i] = 0;
    part.numel = need;
    part.bytes = (uint64_t)need * 4;

    /* pass 1: gemm_tiled over z = batch item * S + slice, an identity epilogue (alpha 1, no beta, bias
     * or activation: alpha * acc + 0 is acc), partial z at z * M*N */
    gemm_push p1 = *pc;
    p1.alpha = 1.0f;
    p1.beta = 0.0f;
    p1.act_alpha = 0.0f;
    p1.batch_c = (uint32_t)MN;
    char l1[96], l2[96];
    snprintf(l1, sizeof l1, "%s split %lld", label, (long long)splits);
    vkn_dispatch d1 = *d;
    d1.label = l1;
    d1.push = &p1;
    d1.spec[2] = d1.spec[3] = d1.spec[4] = 0;
    d1.bind[2] = d1.bind[3] = &part;
    d1.groups[2] = (uint32_t)(batch * splits);
    VKN_TRY(vkn_cmd_dispatch(c, &d1));

    /* pass 2: one invocation per element of C (x), batch item (z) */
    snprintf(l2, sizeof l2, "%s split-K reduce", label);
    vkn_dispatch d2 = {.shader = "gemm/gemm_splitk_reduce", .label = l2, .nspec = 5, .push = pc,
                       .push_bytes = sizeof *pc, .bind = {&part, d->bind[2], d->bind[3]}, .nbind = 3, .write_mask = 2};
    memcpy(d2.spec, d->spec, 5 * sizeof d->spec[0]);
    d2.groups[0] = (uint32_t)((MN + 255) / 256);
    d2.groups[1] = 1;
    d2.groups[2] = (uint32_t)batch;
    return vkn_cmd_dispatch(c, &d2);
}

/* chw != 0 (CPU-class kernels, not batched): C is written NCHW with images of chw pixels instead of
 * [M, N] (see gemm_reg.glsl); out is any f32 view of M*N elements given as [M, N]. */
static vkn_status gemm_impl(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                            const vkn_gemm_opts *opts, uint32_t chw, const vkn_tensor *scratch)
{
    vkn_gemm_opts o = {0};
    if (opts) o = *opts;
    if (o.alpha == 0.0f) o.alpha = 1.0f;
    char ba[64], bb[64], bc[64];
    if (!vkn_is_f32(a) || !vkn_is_f32(b) || !vkn_is_f32(out))
        return vkn_status_set(VKN_ERR_ARG, "gemm: A, B and C must be f32 tensors");
    int64_t ar, ac, an, br, bcl, bn, cr, cc, cn;
    if (!mat_dims(a, &ar, &ac, &an) || !mat_dims(b, &br, &bcl, &bn) || !mat_dims(out, &cr, &cc, &cn))
        return vkn_status_set(VKN_ERR_SHAPE, "gemm: operands must be 2-D or 3-D (A %s, B %s, C %s)",
                              vkn_tensor_shape_str(a, ba, sizeof ba), vkn_tensor_shape_str(b, bb, sizeof bb),
                              vkn_tensor_shape_str(out, bc, sizeof bc));
    int64_t M = o.trans_a ? ac : ar, Ka = o.trans_a ? ar : ac;
    int64_t Kb = o.trans_b ? bcl : br, N = o.trans_b ? br : bcl;
    if (Ka != Kb || cr != M || cc != N || (an != 1 && an != cn) || (bn != 1 && bn != cn))
        return vkn_status_set(VKN_ERR_SHAPE, "gemm: op(A)=%s%s and op(B)=%s%s do not give C=%s",
                              vkn_tensor_shape_str(a, ba, sizeof ba), o.trans_a ? "^T" : "",
                              vkn_tensor_shape_str(b, bb, sizeof bb), o.trans_b ? "^T" : "",
                              vkn_tensor_shape_str(out, bc, sizeof bc));
    if (o.bias_kind != VKN_BIAS_NONE) {
        int64_t want = o.bias_kind == VKN_BIAS_COL ? N : M;
        if (!vkn_is_f32(o.bias) || o.bias->numel != want)
            return vkn_status_set(VKN_ERR_SHAPE, "gemm: bias must be an f32 tensor of %lld elements (%s)",
                                  (long long)want, o.bias_kind == VKN_BIAS_COL ? "one per column N" : "one per row M");
    }
    if ((unsigned)o.act >= VKN_ACT_COUNT_) return vkn_status_set(VKN_ERR_ARG, "gemm: unknown activation %d", (int)o.act);
    if (M * Ka > (1ll << 31) || Ka * N > (1ll << 31) || M * N * cn > (1ll << 31))
        return vkn_status_set(VKN_ERR_SHAPE, "gemm: operands over 2^31 elements are not supported");

    /* A matrix-vector product (N = 1) leaves 3 of every 4 lanes idle in kernels that vectorize along
     * N: compute C^T = op(B)^T op(A)^T instead, the same memory since C is [M,1] = [1,M]. */
    if (N == 1 && M > 1 && !chw) {
        const vkn_tensor *t = a;
        a = b;
        b = t;
        int ta = o.trans_a;
        o.trans_a = !o.trans_b;
        o.trans_b = !ta;
        int64_t tn = an;
        an = bn;
        bn = tn;
        N = M;
        M = 1;
        if (o.bias_kind != VKN_BIAS_NONE) o.bias_kind = o.bias_kind == VKN_BIAS_COL ? VKN_BIAS_ROW : VKN_BIAS_COL;
    }
    gemm_push pc = {(uint32_t)M, (uint32_t)N, (uint32_t)Ka, o.alpha, o.beta, o.act_alpha,
                    an == 1 ? 0u : (uint32_t)(M * Ka), bn == 1 ? 0u : (uint32_t)(Ka * N), (uint32_t)(M * N), 0u};
    int cpu = vkn_context_info(vkn_cmd_context(c))->path == VKN_PATH_CPU;
    if (chw && (!cpu || cn != 1 || N % chw != 0 || chw >= (1u << 27)))
        return vkn_status_set(VKN_ERR_ARG, "gemm: an NCHW output needs the CPU-class kernel, no batch and N a multiple of H*W");
    /* with no bias, the bias binding still needs a valid buffer: C stands in (never read) */
    const vkn_tensor *bias = o.bias_kind != VKN_BIAS_NONE ? o.bias : out;
    char label[64];   /* the profiler's table shows each GEMM's shape */
    snprintf(label, sizeof label, "gemm %lldx%lldx%lld%s%s%s%s", (long long)M, (long long)N, (long long)Ka,
             o.trans_a ? " tA" : "", o.trans_b ? " tB" : "", cn > 1 ? " batched" : "", chw ? " nchw" : "");
    vkn_dispatch d = {.label = label, .push = &pc, .push_bytes = sizeof pc};
    int64_t splits = 1;
    uint32_t spec[5] = {(uint32_t)!!o.trans_a, (uint32_t)!!o.trans_b, (uint32_t)o.act, (uint32_t)o.bias_kind,
                        o.beta != 0.0f};
    memcpy(d.spec, spec, sizeof spec);
    if (cpu) {
        /* vec4 fetches need K and N (and M when A is transposed) to be multiples of 4 */
        uint32_t vec = (Ka % 4 == 0) && (N % 4 == 0) && (!o.trans_a || M % 4 == 0);
        /* Block shape, measured on llvmpipe (CPU time per GEMM): 8 columns per invocation (NV = 2) when
         * N fills the groups (fewer fetches per FMA: 1.2-1.6x); with a long K, 32 or 24 rows (the one
         * wasting fewer rows past M), else 16 (the epilogue's stores dominate a short K). */
        uint32_t nv = vec && N >= 512 ? 2 : 1;
        uint32_t tm = M >= 16 ? 16 : M >= 8 ? 8 : 4;
        if (vec && M >= 24 && Ka >= 256) {
            int64_t pad32 = (M + 31) / 32 * 32, pad24 = (M + 23) / 24 * 24;
            tm = pad32 <= pad24 ? 32 : 24;
        }
        /* a small C with a long K (a convolution's dW) can be a single workgroup, which llvmpipe runs on
         * one thread: smaller blocks until there are two (not more: smaller blocks cost CPU time) */
        for (;;) {
            int64_t groups = (N + 256 * nv - 1) / (256 * nv) * ((M + tm - 1) / tm) * cn;
            if (groups >= 2) break;
            if (tm > 8 && tm % 8 == 0) tm /= 2;   /* stays a multiple of 4 (the transposed-A fetches) */
            else if (nv > 1) nv = 1;
            else break;
        }
        /* llvmpipe (shaderInt64 always) stores C as 64-bit words: half the per-component stores */
        d.shader = strstr(vkn_context_info(vkn_cmd_context(c))->name, "llvmpipe") ? "gemm/gemm_reg_w64" : "gemm/gemm_reg";
        d.spec[5] = vec;
        d.spec[6] = tm;
        d.spec[7] = nv | chw << 4;
        d.nspec = 8;
        d.push_bytes = offsetof(gemm_push, k_slice);
        d.bind[0] = out;
        d.bind[1] = bias;
        d.nbind = 2;
        d.write_mask = 1;
        d.texel[0] = a;
        d.texel[1] = b;
        d.texel[2] = a;
        d.texel[3] = b;
        d.ntexel = 4;
        d.texel_vec4_mask = 3;
        d.groups[0] = (uint32_t)((N + 256 * nv - 1) / (256 * nv));
        d.groups[1] = (uint32_t)((M + tm - 1) / tm);
    } else {
        d.shader = "gemm/gemm_tiled";
        d.nspec = 5;
        d.bind[0] = a;
        d.bind[1] = b;
        d.bind[2] = out;
        d.bind[3] = bias;
        d.nbind = 4;
        d.write_mask = 4;
        d.groups[0] = (uint32_t)((N + 63) / 64);
        d.groups[1] = (uint32_t)((M + 63) / 64);
        splits = split_plan(M, N, Ka, cn, &pc.k_slice);
    }
    d.groups[2] = (uint32_t)cn;
    if (d.groups[1] > 65535 || d.groups[2] > 65535)
        return vkn_status_set(VKN_ERR_SHAPE, "gemm: M=%lld or batch=%lld exceeds the launch grid", (long long)M, (long long)cn);
    if (splits > 1) return gemm_split(c, &d, &pc, splits, cn, scratch, label);   /* cn*S < 65535: C has < 256 tiles */
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_gemm(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                       const vkn_gemm_opts *opts)
{
    return gemm_impl(c, a, b, out, opts, 0, NULL);
}

vkn_status vkn_op_gemm_ws(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                          const vkn_gemm_opts *opts, const vkn_tensor *scratch)
{
    return gemm_impl(c, a, b, out, opts, 0, scratch);
}

/* C = op(A) op(B) written NCHW, images of hw pixels (CPU-class path: never split). */
vkn_status vkn_op_gemm_nchw_out(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                                const vkn_gemm_opts *opts, int64_t hw)
{
    if (hw < 1) return vkn_status_set(VKN_ERR_ARG, "gemm: image size %lld", (long long)hw);
    return gemm_impl(c, a, b, out, opts, (uint32_t)hw, NULL);
}

void vkn_ref_gemm(int64_t nb, int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *c,
                  const float *bias, const vkn_gemm_opts *opts)
{
    vkn_gemm_opts o = {0};
    if (opts) o = *opts;
    if (o.alpha == 0.0f) o.alpha = 1.0f;
    for (int64_t z = 0; z < nb; z++) {
        const float *az = a ? a + z * M * K : NULL, *bz = b + z * K * N;
        float *cz = c + z * M * N;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++) {
                    double av = o.trans_a ? az[k * M + m] : az[m * K + k];
                    double bv = o.trans_b ? bz[n * K + k] : bz[k * N + n];
                    acc += av * bv;
                }
                double v = o.alpha * acc;
                if (o.beta != 0.0f) v += (double)o.beta * cz[m * N + n];
                if (o.bias_kind == VKN_BIAS_COL) v += bias[n];
                if (o.bias_kind == VKN_BIAS_ROW) v += bias[m];
                cz[m * N + n] = (float)vkn_ref_act(o.act, o.act_alpha, v);
            }
    }
}
