#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) forward of the per-channel segments (bn, ubn, cbn) and the per-(context, channel)
// ones (cn), CPU path, one launch: an invocation owns W consecutive blocks of four channels (lane =
// channel) and
//   1. folds the samples with a vec4 Welford update (cn: each context's samples in the order of
//      kord, prep.comp: sorted by context, increasing n);
//   2. does stage 2's work for its channels four at a time (post4: batch or running statistics, the
//      running update; the same decisions as post() in norm_post.glsl), writes seg (cn: channel 0
//      of each context only) and holds the table entries (M, A, B) in registers (ftab is not written);
//   3. the element-wise pass y = (x - M) A + B over its samples again (cache-hot): bn, ubn one
//      entry, cbn one per context (its samples in kord order), cn right after each context's
//      statistics.
// gamma and beta come through texel views and the running statistics as vec4 (one storage access
// per block instead of one per-lane loop per channel). No partials, no barriers.
#include "dense.glsl"
#ifndef DW
#define DW 2u
#endif
layout(local_size_x = 8) in;
layout(binding = 8) uniform samplerBuffer X;
layout(binding = 9) uniform samplerBuffer KORD;
layout(binding = 10) uniform samplerBuffer GAM;   // RGBA32F when C % 4 == 0, else R32F
layout(binding = 11) uniform samplerBuffer BET;
layout(binding = 12) uniform samplerBuffer RMT;   // the running statistics read as texels: RGBA32F
layout(binding = 13) uniform samplerBuffer RVT;   // when C % 4 == 0, else R32F; written through rm, rv
layout(std430, binding = 0) writeonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 4) buffer RM { float rm[]; };
layout(std430, binding = 4) buffer RM4 { vec4 rm4[]; };
layout(std430, binding = 5) buffer RV { float rv[]; };
layout(std430, binding = 5) buffer RV4 { vec4 rv4[]; };
layout(std430, binding = 6) readonly buffer Aux { float aux[]; };  // cn: priors; ubn: (sim, above)
layout(std430, binding = 7) writeonly buffer Y { float y[]; };       // the output
layout(std430, binding = 7) writeonly buffer Y4 { vec4 y4[]; };

const uint W = DW;   // blocks of four channels per invocation (consecutive: W x 16 bytes per sample)

#include "dense_fold.glsl"

// stage 2 for the segments s0..s0+3 of channels c0..c0+3 (post() of norm_post.glsl, lane-wise):
// writes seg, returns (mean, rstd) and whether the running statistics were used
void post4(uint s0, uint c0, vec4 S, vec4 mean_s, vec4 m2, float cnt, out vec4 M, out vec4 R, out vec4 Ml)
{
    vec4 mean;
    split4(S, mean_s, mean, Ml);   // the mean of x is mean + Ml (fold: statistics of x - S)
    vec4 var = cnt > 0.0 ? m2 / cnt : vec4(0.0);
    bool fixd = false;
    bool batch = p.use_batch != 0u;
    bool update = p.train != 0u;
    if (METHOD == M_UBN && p.train != 0u && aux[1] > 0.5) {
        update = false;
        if ((p.flags & F_UBN_BATCH_ABOVE) == 0u) batch = false;
    }
    if (SEG_CTX && cnt < 2.0) { batch = false; update = false; }
    // batch and update depend on cnt (cn) and aux (ubn), which the compiler cannot prove uniform:
    // loads and stores are placed under the push-constant conditions only and the choices are
    // selects, because llvmpipe runs a store under a non-uniform branch lane by lane (that alone
    // cost cn's ten context passes more than their statistics did). A segment that is not updated
    // gets its old value stored back by its own invocation.
    bool whole = C4 || (c0 + 4u <= p.C && (s0 & 3u) == 0u);   // vec4-aligned whole block
    // cn: a context with fewer than 2 samples takes the running statistics in every mode
    // (inference with batch statistics too)
    if (p.use_batch == 0u || p.train != 0u || SEG_CTX) {
        // read through texel views: llvmpipe runs a storage-buffer load lane by lane behind a bounds
        // branch, and cn's ten contexts made these loads cost more than the statistics
        vec4 rmv = par4(RMT, s0, c0), rvv = par4(RVT, s0, c0);
        fixd = !batch;
        if (p.train != 0u && p.use_batch != 0u) {
            float m = p.momentum;
            vec4 um = (1.0 - m) * rmv + m * mean, uv = (1.0 - m) * rvv + m * var * (cnt / (cnt - 1.0));
            um = update ? um : rmv;
            uv = update ? uv : rvv;
            if (whole) { rm4[s0 >> 2] = um; rv4[s0 >> 2] = uv; }
            else [[unroll]] for (uint l = 0u; l < 4u; l++)
                if (c0 + l < p.C) { rm[s0 + l] = um[l]; rv[s0 + l] = uv[l]; }
        }
        mean = fixd ? rmv : mean;
        var = fixd ? rvv : var;
        Ml = fixd ? vec4(0.0) : Ml;
    }
    M = mean;
    R = inversesqrt(var + p.eps);
    // cn: channel 0 of each context only (vkn_norm_diagnostics shows it): dense_sums recomputes the
    // statistics from x rather than read 16 bytes per (context, channel) back
    [[unroll]] for (uint l = 0u; l < 4u; l++)
        if (SEG_CTX ? c0 + l == 0u : C4 || c0 + l < p.C) seg[s0 + l] = vec4(M[l], R[l], cnt, fixd ? 1.0 : 0.0);
}

// the coefficients of table entries e0..e0+3 (affine entries e0..e0+3, scale sc): A = sc gamma rstd, B = sc beta
void coef(uint e0, uint c0, vec4 R, float sc, out vec4 A, out vec4 B)
{
    bool aff = (p.flags & F_AFFINE) != 0u;
    vec4 g = aff ? par4(GAM, e0, c0) : vec4(1.0), b = aff ? par4(BET, e0, c0) : vec4(0.0);
    A = sc * g * R;
    B = sc * b;
}

// y = ((x - M) - Ml) A + B over positions j0..j1-1 (of kord when ctx)
void apply(uint c0, uint j0, uint j1, bool ctx, vec4 M[W], vec4 Ml[W], vec4 A[W], vec4 B[W])
{
    for (uint j = j0; j < j1; j++) {
        uint n = ctx ? uint(texelFetch(KORD, int(j)).x) : j;
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = c0 + 4u * w;
            if (W > 1u && cw >= p.C) break;
            vec4 v = ((ldc(X, n, cw) - M[w]) - Ml[w]) * A[w] + B[w];
            uint b = n * p.C + cw;
            if (c4()) y4[b >> 2] = v;
            else [[unroll]] for (uint l = 0u; l < 4u; l++)
                if (cw + l < p.C) y[b + l] = v[l];
        }
    }
}

void main()
{
    uint t = flat_group_id() * 8u + gl_LocalInvocationID.x, c0 = 4u * W * t;
    if (c0 >= p.C) return;
    bool need = p.use_batch != 0u;
    vec4 mean[W], m2[W], M[W], R[W], A[W], B[W], S[W], Ml[W];
    float cnt;
    if (!SEG_CTX) {
        fold(c0, 0u, need ? p.N : 0u, false, mean, m2, cnt, S);
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = c0 + 4u * w;
            if (W > 1u && cw >= p.C) break;
            post4(cw, cw, S[w], mean[w], m2[w], need ? cnt : 0.0, M[w], R[w], Ml[w]);
            if (METHOD != M_CBN) coef(cw, cw, R[w], 1.0, A[w], B[w]);
        }
        if (METHOD != M_CBN) {
            apply(c0, 0u, p.N, false, M, Ml, A, B);
            return;
        }
        for (uint k = 0u; k < p.K; k++) {   // cbn: context k's samples with its affine entries
            uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
            bool aff = (p.flags & F_AFFINE) != 0u;
            [[unroll]] for (uint w = 0u; w < W; w++) {
                uint cw = blk(c0, w), e0 = k * p.C + cw;
                A[w] = (aff ? par4(GAM, e0, cw) : vec4(1.0)) * R[w];
                B[w] = aff ? par4(BET, e0, cw) : vec4(0.0);
            }
            apply(c0, j0, j1, true, M, Ml, A, B);
        }
        return;
    }
    for (uint k = 0u; k < p.K; k++) {
        uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
        fold(c0, j0, need ? j1 : j0, true, mean, m2, cnt, S);
        float sc = (p.flags & F_PRIOR_SCALE) != 0u ? inversesqrt(aux[k]) : 1.0;
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = c0 + 4u * w;
            if (W > 1u && cw >= p.C) break;
            post4(k * p.C + cw, cw, S[w], mean[w], m2[w], cnt, M[w], R[w], Ml[w]);
            coef(k * p.C + cw, cw, R[w], sc, A[w], B[w]);
        }
        apply(c0, j0, j1, true, M, Ml, A, B);
    }
}
