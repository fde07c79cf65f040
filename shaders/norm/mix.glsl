// Mixture methods (acn = ACN-R, mn = per-channel MN; NORMS.md 5.3-5.5, 6): the weighted-moments
// variant of the segmented-statistics family. Segment s = k*C + c (component k, channel c); the
// posterior weights tau_ik are recomputed from the E-step table wherever they are needed (never
// stored per element):
//   ptab[s] = (lb, m, 1/s, a_acn):  l_ik = lb - (x_i - m)^2 / (2 s),  tau_ik = softmax_k(l_ik)
//   seg[2s] = (mean, rstd, S, fixd), seg[2s+1] = (A, B, var, a)    forward: y = sum_k tau_k (x - mean_k) A_k + B
//   mt[2s]  = (M, alpha, beta, gamma)                             backward (a): dx = sum_k tau_k (alpha g + beta (x-M) + gamma)
//   mt[2s+1] = (c1, c2, c3, c4)  acn: dL/dtau_k = c1 g d + c2 d + c3 d^2 + c4, d = x - M_k   (5.5 (c))
//   bseg[s] = (sum g tau, sum g tau (x - M), sum g xhat tau, sum rho)
//   rho_k = tau_k sum_l tau_l (t_k - t_l)  (= tau_k (t_k - sum_l tau_l t_l) without the cancellation)
// Stage 1 ("rows") writes part[item*K + k], item = (n*C + c)*nchunk + q (NCHW: row (n,c), chunk q)
// or q*C + c (dense, GPU path: sample chunk q); the merge folds a segment's items in a fixed order.
// Dense inputs on CPU devices have their own kernels (mix_dense_fwd.comp, mix_dense_bwd.comp).
#include "norm.glsl"

layout(constant_id = 3) const uint STAGE = 0u;
layout(constant_id = 4) const uint KS = 3u;       // components K
// DMODE: 0 NCHW; P == 1 (GPU path: stage 1 folds channel blocks over sample chunks; the dense CPU
// kernels: lane = channel): 1 C % 4 != 0, 2 C % 4 == 0
// (a compile-time choice: llvmpipe evaluates both sides of a branch not known at compile time)
layout(constant_id = 5) const uint DMODE = 0u;
const bool DENSE = DMODE != 0u, DC4 = DMODE == 2u;

const bool ACN = METHOD == M_ACN;

// weighted (S, mean, M2, X) merge (Chan et al. with weights); X = sum_{i<j} w_i w_j, so that
// S^2 - sum w^2 = 2 X (the unbiased weighted variance's denominator) comes without cancellation
void wchan(inout vec4 a, vec4 b)
{
    if (b.x == 0.0) return;
    float n = a.x + b.x;
    float d = b.y - a.y, f = b.x / n;
    a = vec4(n, a.y + d * f, a.z + b.z + d * d * a.x * f, a.w + b.w + a.x * b.x);
}

// part item index of merge item j of channel c
uint mix_item(uint c, uint j)
{
    // dense: one chunk per item; else a float-reciprocal division (llvmpipe evaluates both operands
    // of the select, and a vector integer division is scalarized)
    uint n = DENSE ? j : p.nchunk == 1u ? j : fdiv(j, p.nchunk, 1.0 / float(p.nchunk)), q = j - n * p.nchunk;
    return (n * p.C + c) * p.nchunk + q;
}

float softplusf(float u)
{
    float e = exp(-abs(u));
    return max(u, 0.0) + (e < 1e-4 ? e - 0.5 * e * e : log(1.0 + e));
}

float sigmoidf(float u)
{
    float e = exp(-abs(u));
    return u >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

vec4 softplus4(vec4 u)
{
    vec4 e = exp(-abs(u));
    return max(u, vec4(0.0)) + mix(log(vec4(1.0) + e), e - 0.5 * e * e, lessThan(e, vec4(1e-4)));
}

vec4 sigmoid4(vec4 u)
{
    vec4 e = exp(-abs(u));
    return mix(e, vec4(1.0), greaterThanEqual(u, vec4(0.0))) / (1.0 + e);
}

const float LOG2E = 1.4426950408889634;

// the dense CPU kernels (mix_dense_*.comp, lane = channel): channels c0..c0+3 of sample n, or of a
// per-channel texel view (n = 0), zeros past C; and entries e0..e0+3 of a per-(k, c) texel view
// (lanes past C: e0). RGBA32F views when C % 4 == 0 (DC4), else R32F.
vec4 ldc(samplerBuffer t, uint n, uint c0)
{
    uint b = n * p.C + c0;
    if (DC4) return texelFetch(t, int(b >> 2));
    vec4 r = vec4(0.0);
    [[unroll]] for (uint l = 0u; l < 4u; l++)
        if (c0 + l < p.C) r[l] = texelFetch(t, int(b + l)).x;
    return r;
}

vec4 tex4(samplerBuffer t, uint e0, uint c0)
{
    if (DC4) return texelFetch(t, int(e0 >> 2));
    vec4 r;
    [[unroll]] for (uint l = 0u; l < 4u; l++) r[l] = texelFetch(t, int(c0 + l < p.C ? e0 + l : e0)).x;
    return r;
}

// per-lane table entries (lb, m, 1/s per k) and the posteriors of four values, one per lane;
// private arrays indexed by unrolled constants only (registers after specialization)
const uint KMAX = 8u;
vec4 LB[KMAX], MM[KMAX], IS[KMAX], TAU[KMAX];

void posterior4(vec4 x)
{
    vec4 mx = vec4(-3.0e38);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec4 d = x - MM[k];
        TAU[k] = LB[k] - 0.5 * d * d * IS[k];
        mx = max(mx, TAU[k]);
    }
    vec4 z = vec4(0.0);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        TAU[k] = exp(TAU[k] - mx);
        z += TAU[k];
    }
    vec4 iz = 1.0 / z;
    [[unroll]] for (uint k = 0u; k < KS; k++) TAU[k] *= iz;
}

// The same in base 2 with the normalization left to the caller (the dense kernels, mix_dense_*.comp:
// one multiply by 1/z instead of K where the posteriors enter a sum): LB and IS hold log2 lambda
// (mn: log2 w - 1/2 log2 v) and log2(e) / (2 s); TAU[k] = 2^(l_k - max_l l_l) (log2 units), returns 1 / sum_k TAU[k]
vec4 posterior4_2(vec4 x)
{
    vec4 mx = vec4(-3.0e38);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec4 d = x - MM[k];
        TAU[k] = LB[k] - d * d * IS[k];
        mx = max(mx, TAU[k]);
    }
    vec4 z = vec4(0.0);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        TAU[k] = exp2(TAU[k] - mx);
        z += TAU[k];
    }
    return 1.0 / z;
}
