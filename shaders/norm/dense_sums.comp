#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) backward of the per-channel segments (bn, ubn, cbn) and the per-(context, channel)
// ones (cn), CPU path (bsum.comp's work, NORMS.md 1.1 (NB)), one launch: an invocation owns W
// consecutive blocks of four channels (lane = channel) and
//   1. sums g and g (x - M) over the samples (cbn, cn: context by context in kord order, prep.comp,
//      so a context's affine entry is loaded once per context: cbn's per-(k, c) sums give dgamma /
//      dbeta and, weighted by gamma(k, c), the channel's H and Q; cn's are its segments);
//   2. writes the parameter gradients four channels at a time and forms the coefficients
//      (alpha, beta, gamma) in registers (bseg and btab are not written);
//   3. dx = alpha g + beta (x - M) + gamma over its samples again (cache-hot); cn right
//      after each context's sums, cbn context by context once H and Q are complete.
// seg comes through a texel view, gamma, dgamma and dbeta as vec4 where a block is whole and
// aligned. cn reads no seg: it refolds each context's samples (dense_fold.glsl, the forward's code:
// the same statistics bit for bit) right before its sums, so x is cache-hot for them. Fixed
// order, no barriers.
#include "dense.glsl"
#ifndef DW
#define DW 2u
#endif
layout(local_size_x = 8) in;
layout(binding = 8) uniform samplerBuffer X;
layout(binding = 9) uniform samplerBuffer G;
layout(binding = 10) uniform samplerBuffer KORD;
layout(binding = 11) uniform samplerBuffer SEG;   // bn, ubn, cbn: seg (mean, rstd, count, fixd) per
                                                  // segment; cn: its running means
layout(binding = 12) uniform samplerBuffer GAM;   // gamma; the per-channel views are RGBA32F when
layout(binding = 13) uniform samplerBuffer RVT;   // C % 4 == 0 (cn: running variances)
// (texel views, not storage buffers: llvmpipe loads a storage buffer lane by lane behind a branch)
layout(std430, binding = 4) writeonly buffer D0 { float d0[]; };   // dgamma
layout(std430, binding = 4) writeonly buffer D04 { vec4 d04[]; };
layout(std430, binding = 5) writeonly buffer D1 { float d1[]; };   // dbeta
layout(std430, binding = 5) writeonly buffer D14 { vec4 d14[]; };
layout(std430, binding = 6) readonly buffer Aux { float aux[]; };  // cn: priors
layout(std430, binding = 7) writeonly buffer DX { float dx[]; };   // the output
layout(std430, binding = 7) writeonly buffer DX4 { vec4 dx4[]; };

const uint W = DW;

bool aff() { return (p.flags & F_AFFINE) != 0u; }
float prior_scale(uint k) { return (p.flags & F_PRIOR_SCALE) != 0u ? inversesqrt(aux[k]) : 1.0; }
#include "dense_fold.glsl"

bool whole(uint e0, uint c0) { return C4 || (c0 + 4u <= p.C && (e0 & 3u) == 0u); }

// sums of g and g (x - M) over positions j0..j1-1 (of kord when ctx)
void sums(uint c0, uint j0, uint j1, bool ctx, vec4 M[W], out vec4 sg[W], out vec4 sgx[W])
{
    [[unroll]] for (uint w = 0u; w < W; w++) { sg[w] = vec4(0.0); sgx[w] = vec4(0.0); }
    for (uint j = j0; j < j1; j++) {
        uint n = ctx ? uint(texelFetch(KORD, int(j)).x) : j;
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = blk(c0, w);
            vec4 g = ldc(G, n, cw);
            sg[w] += g;
            sgx[w] += g * (ldc(X, n, cw) - M[w]);
        }
    }
}

// dx = A g + B (x - M) + Gm over positions j0..j1-1 (of kord when ctx)
void apply(uint c0, uint j0, uint j1, bool ctx, vec4 M[W], vec4 A[W], vec4 B[W], vec4 Gm[W])
{
    for (uint j = j0; j < j1; j++) {
        uint n = ctx ? uint(texelFetch(KORD, int(j)).x) : j;
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = c0 + 4u * w;
            if (W > 1u && cw >= p.C) break;
            vec4 v = A[w] * ldc(G, n, cw) + B[w] * (ldc(X, n, cw) - M[w]) + Gm[w];
            uint b = n * p.C + cw;
            if (c4()) dx4[b >> 2] = v;
            else [[unroll]] for (uint l = 0u; l < 4u; l++)
                if (cw + l < p.C) dx[b + l] = v[l];
        }
    }
}

// cn: the statistics the forward used for segments s0..s0+3 (dense_stats.comp post4's decisions):
// the context's batch statistics, recomputed by the forward's own fold, or (inference, a context
// with fewer than 2 samples) the running ones, which such a forward did not update
void ctx_stats(uint s0, uint c0, vec4 S, vec4 mean, vec4 m2, float cnt, out vec4 M, out vec4 R, out bool fixd)
{
    fixd = p.use_batch == 0u || cnt < 2.0;
    if (!fixd) {
        vec4 lo;
        split4(S, mean, M, lo);   // the fold's statistics are of x - S (dense_fold.glsl)
        R = inversesqrt(m2 / cnt + p.eps);
        return;
    }
    M = par4(SEG, s0, c0);
    R = inversesqrt(par4(RVT, s0, c0) + p.eps);
}

// seg entries s0..s0+3 (lanes past C: s0): mean, rstd; count and fixd are the same for the four
void seg4(uint s0, uint c0, out vec4 M, out vec4 R, out float cnt, out bool fixd)
{
    vec4 e[4];
    [[unroll]] for (uint l = 0u; l < 4u; l++) e[l] = texelFetch(SEG, int(c0 + l < p.C ? s0 + l : s0));
    M = vec4(e[0].x, e[1].x, e[2].x, e[3].x);
    R = vec4(e[0].y, e[1].y, e[2].y, e[3].y);
    cnt = e[0].z;
    fixd = e[0].w > 0.5;
}

vec4 gam4v(uint e0, uint c0)
{
    return aff() ? par4(GAM, e0, c0) : vec4(1.0);
}

void put(uint e0, uint c0, vec4 a, vec4 b)   // dgamma, dbeta
{
    if (whole(e0, c0)) { d04[e0 >> 2] = a; d14[e0 >> 2] = b; return; }
    [[unroll]] for (uint l = 0u; l < 4u; l++)
        if (c0 + l < p.C) { d0[e0 + l] = a[l]; d1[e0 + l] = b[l]; }
}

// (alpha, beta, gamma) of statistics (M, R, count, fixd) with scale Gs and sums H, Q (bsum.comp)
void entry(vec4 R, float cnt, bool fixd, vec4 Gs, vec4 H, vec4 Q, out vec4 A, out vec4 B, out vec4 Gm)
{
    float Wc = max(cnt, 1.0);
    A = R * Gs;
    B = fixd ? vec4(0.0) : -R * R * R * Q / Wc;
    Gm = fixd ? vec4(0.0) : -R * H / Wc;
}

void main()
{
    uint t = flat_group_id() * 8u + gl_LocalInvocationID.x, c0 = 4u * W * t;
    if (c0 >= p.C) return;
    bool pg = p.naff != 0u;
    vec4 sg[W], sgx[W], M[W], R[W], A[W], B[W], Gm[W];
    float cnt;
    bool fixd;
    if (SEG_CTX) {   // cn: segment (k, c) = affine entry (k, c)
        for (uint k = 0u; k < p.K; k++) {
            uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
            vec4 mean[W], m2[W], S[W];
            fold(c0, j0, p.use_batch != 0u ? j1 : j0, true, mean, m2, cnt, S);
            [[unroll]] for (uint w = 0u; w < W; w++)
                ctx_stats(k * p.C + blk(c0, w), blk(c0, w), S[w], mean[w], m2[w], cnt, M[w], R[w], fixd);
            sums(c0, j0, j1, true, M, sg, sgx);
            float sc = prior_scale(k);
            [[unroll]] for (uint w = 0u; w < W; w++) {
                uint cw = c0 + 4u * w, s0 = k * p.C + cw;
                if (W > 1u && cw >= p.C) break;
                vec4 ga = gam4v(s0, cw), Gr = ga * sc;
                entry(R[w], cnt, fixd, sc * ga, Gr * sg[w], Gr * sgx[w], A[w], B[w], Gm[w]);
                if (pg) put(s0, cw, sc * (R[w] * sgx[w]), sc * sg[w]);
            }
            apply(c0, j0, j1, true, M, A, B, Gm);
        }
        return;
    }
    [[unroll]] for (uint w = 0u; w < W; w++) seg4(blk(c0, w), blk(c0, w), M[w], R[w], cnt, fixd);
    if (METHOD != M_CBN) {   // bn, ubn: G = gamma_c for every row
        sums(c0, 0u, p.N, false, M, sg, sgx);
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = c0 + 4u * w;
            if (W > 1u && cw >= p.C) break;
            vec4 ga = gam4v(cw, cw);
            entry(R[w], cnt, fixd, ga, ga * sg[w], ga * sgx[w], A[w], B[w], Gm[w]);
            if (pg) put(cw, cw, R[w] * sgx[w], sg[w]);
        }
        apply(c0, 0u, p.N, false, M, A, B, Gm);
        return;
    }
    // cbn: per-context sums; H, Q of the channel weighted by gamma(k, c)
    vec4 H[W], Q[W];
    [[unroll]] for (uint w = 0u; w < W; w++) { H[w] = vec4(0.0); Q[w] = vec4(0.0); }
    for (uint k = 0u; k < p.K; k++) {
        uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
        sums(c0, j0, j1, true, M, sg, sgx);
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = blk(c0, w);
            vec4 ga = gam4v(k * p.C + cw, cw);
            H[w] += ga * sg[w];
            Q[w] += ga * sgx[w];
            if (pg && (W == 1u || c0 + 4u * w < p.C)) put(k * p.C + cw, cw, R[w] * sgx[w], sg[w]);
        }
    }
    for (uint k = 0u; k < p.K; k++) {   // context k's samples: alpha = R gamma(k, c), beta and gamma shared
        uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
        [[unroll]] for (uint w = 0u; w < W; w++) {
            uint cw = blk(c0, w);
            entry(R[w], cnt, fixd, gam4v(k * p.C + cw, cw), H[w], Q[w], A[w], B[w], Gm[w]);
        }
        apply(c0, j0, j1, true, M, A, B, Gm);
    }
}
