// Shared by the normalization kernels (shaders/norm/*.comp): the push constants, the method
// constants, segment maps and the statistics merges (Chan's parallel update, fixed order).
//
// Layout: x is (N, C, P) contiguous; a "row" r = n*C + c holds the P positions of (n, c).
// Segments (sets statistics are taken over), by method (NORMS.md 2-3, 7):
//   SEG_C   (bn, cbn, ubn, bcn's BN branch, afn): s = c, rows (n, c) for every n
//   SEG_GRP (ln, in, gn):  s = n*G + g, rows (n, c) for c in [g*cw, (g+1)*cw)
//   SEG_CTX (cn):          s = k*C + c, rows (n, c) with ctx[n] = k
// Tables ("ftab" forward, "btab" backward) hold per (t, c) the affine coefficients of a row, where
// t = 0 (bn, ubn, afn), ctx[n] (cbn, cn, cnx) or n (ln, in, gn, bcn):
//   forward   y  = (x - M) * A + B                    ftab = (M, A, B, -)
//   backward  dx = alpha * g + beta * (x - M) + gamma   btab = (M, alpha, beta, gamma)
#include "common.glsl"

layout(constant_id = 0) const uint METHOD = 1u;
layout(constant_id = 1) const bool RAW = false;   // P == 1: the merge reads x (and g) directly
layout(constant_id = 2) const bool GPU = false;   // workgroup (shared-memory) reductions

const uint M_NONE = 0u, M_BN = 1u, M_LN = 2u, M_IN = 3u, M_GN = 4u, M_CBN = 5u, M_CN = 6u, M_CNX = 7u,
           M_ACN = 8u, M_MN = 9u, M_BCN = 10u, M_UBN = 11u, M_AFN = 12u;

const bool SEG_GRP = METHOD == M_LN || METHOD == M_IN || METHOD == M_GN;
const bool SEG_CTX = METHOD == M_CN;
const bool SEG_C = !SEG_GRP && !SEG_CTX;
const bool TAB_CTX = METHOD == M_CBN || METHOD == M_CN || METHOD == M_CNX;
const bool TAB_N = SEG_GRP || METHOD == M_BCN;

// Rows with a large mean (|mean| >> spread): bn, cbn, ubn and afn take a channel's statistics of the
// shifted values x - S_c, S_c = x[0, c, 0] (the channel's first element, which every kernel can
// fetch): Welford's running mean of raw values rounds at ulp(|mean|) on every update, the shifted
// one at ulp(spread). The mean is then carried as M + Mlo (M = fl(S + mean_s), Mlo the exact rest,
// split_mean) and the forward applies y = ((x - M) - Mlo) A + B with Mlo in ftab's fourth component
// (x - M is exact where x is within a factor 2 of M). Every other method writes Mlo = 0 (LOW: the
// methods whose forward table has Mlo there; cnx keeps its own value in it).
// cn the same per (context, channel) segment, S = x[f, c, 0] with f the context's first sample
// (kord, prep.comp).
const bool SHIFT = METHOD == M_BN || METHOD == M_CBN || METHOD == M_UBN || METHOD == M_AFN;
const bool LOW = METHOD != M_CNX;

// (M, Mlo) with M + Mlo = S + ms exactly, M the float nearest (Fast2Sum: |S| >= |ms|, else Mlo ~ 0
// anyway to within the rounding of ms); precise: no reassociation may fold (S - M) + ms to 0
vec2 split_mean(float S, float ms)
{
    precise float M = S + ms;
    precise float lo = (S - M) + ms;
    return vec2(M, lo);
}

// flags bits
const uint F_AFFINE = 1u, F_PRIOR_SCALE = 2u, F_EMBEDDER = 4u, F_UBN_BATCH_ABOVE = 8u;

layout(push_constant) uniform PC {
    uint N, C, P, total;      // total = N*C*P
    uint nchunk, clen;        // stage-1 chunks per row, elements per chunk
    uint G, cw;               // SEG_GRP: groups per sample, channels per group
    uint K, nseg, NK, train;  // contexts; primary segments; table rows; train flag
    uint use_batch, flags, naff, step;
    float eps, momentum, invP, invC;
    float ubn_thr, pdrop, f2, f3;
    uint nq, qlen, nitem, ncb;   // mixture / dense stage 1: sample chunks, samples per chunk, merge
                                 // items per segment, channel blocks of 4
} p;

// a / b for a < 2^24 via a float reciprocal, corrected (llvmpipe has no vector integer division)
uint fdiv(uint a, uint b, float invb)
{
    uint q = uint(float(a) * invb);
    if (q * b > a) q--;
    if ((q + 1u) * b <= a) q++;
    return q;
}

// (count, mean, M2) merge, Chan et al.; a, b in a fixed order
void chan(inout vec3 a, vec3 b)
{
    if (b.x == 0.0) return;
    float n = a.x + b.x;
    float d = b.y - a.y, f = b.x / n;
    a = vec3(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}

// statistics of the masked entries of a vec4 block
vec3 block4(vec4 v, vec4 m)
{
    float n = dot(m, vec4(1.0));
    if (n == 0.0) return vec3(0.0);
    float mu = dot(v, m) / n;
    vec4 d = (v - mu) * m;
    return vec3(n, mu, dot(d, d));
}

// texel loads of four consecutive elements starting at 4*v (zeros past `total`)
vec4 ld4(samplerBuffer t4, samplerBuffer t1, uint v)
{
    if (4u * v + 3u < p.total) return texelFetch(t4, int(v));
    vec4 r = vec4(0.0);
    for (uint j = 0u; j < 4u; j++)
        if (4u * v + j < p.total) r[j] = texelFetch(t1, int(4u * v + j)).x;
    return r;
}

// mask of the elements 4v..4v+3 inside [lo, hi)
vec4 mask4(uint v, uint lo, uint hi)
{
    uvec4 i = uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u);
    return vec4(greaterThanEqual(i, uvec4(lo))) * vec4(lessThan(i, uvec4(hi)));
}
