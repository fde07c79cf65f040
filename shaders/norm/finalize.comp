#version 450
#extension GL_GOOGLE_include_directive : require
// Stage 2 of the forward statistics: per segment s, merge the row partials of stage 1 (or, RAW, the
// elements themselves) in a fixd order with Chan's update, decide batch or running statistics,
// update the running ones (train), and write seg[s] = (mean, rstd, count, fixd) and the segment's
// ftab entries (M = mean, A = scale * gamma * rstd, B = scale * beta).
// CPU path: one invocation per segment, serial. GPU path: one workgroup of 64 per segment, lane l
// folds items l, l+64, ..., then a shared-memory tree in fixd order.
// bcn: segments 0..C-1 are the BN branch (per channel), C..C+N-1 the LN branch (per sample); its
// table is built by coef.comp. afn: seg[c] = (mean, variance, count, fixd), no table (afn_mlp.comp).
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer PART4;
layout(binding = 9) uniform samplerBuffer X1;
layout(binding = 10) uniform samplerBuffer KORD;   // cn: samples sorted by context (prep.comp)
                                                   // ln, in, gn, CPU path: gamma (GAM1 below)
layout(binding = 11) uniform samplerBuffer BET1;   // ln, in, gn, CPU path: beta
layout(std430, binding = 0) writeonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 1) writeonly buffer Ftab { vec4 ftab[]; };
layout(std430, binding = 2) readonly buffer Gam { float gam[]; };
layout(std430, binding = 3) readonly buffer Bet { float bet[]; };
layout(std430, binding = 4) buffer RM { float rm[]; };
layout(std430, binding = 5) buffer RV { float rv[]; };
layout(std430, binding = 6) readonly buffer Kmap { float kmap[]; };
layout(std430, binding = 7) readonly buffer Aux { float aux[]; };  // cn: priors; ubn: (sim, above)

shared vec3 sh[64];
shared vec4 shs;
shared float shlo;

// SHIFT (norm.glsl): segment s = channel c, shift S_c = x[0, c, 0]; cn: s = (k, c), S = x[f, c, 0]
// with f the first sample of context k (0 for an empty context). The stage-1 partials are of x - S.
float shift_of(uint s)
{
    if (SHIFT) return texelFetch(X1, int(s * p.P)).x;
    if (!SEG_CTX) return 0.0;
    uint k = s / p.C, c = s - k * p.C;
    uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
    return j1 > j0 ? texelFetch(X1, int((uint(texelFetch(KORD, int(j0)).x) * p.C + c) * p.P)).x : 0.0;
}

vec3 item(uint r, float S)
{
    if (RAW) return vec3(1.0, texelFetch(X1, int(r)).x - S, 0.0);
    vec3 a = vec3(0.0);
    for (uint q = 0u; q < p.nchunk; q++) chan(a, texelFetch(PART4, int(r * p.nchunk + q)).xyz);
    return a;
}

// rows of segment s: count, and the j-th (or ~0u when filtered out)
uint nitems(uint s)
{
    if (METHOD == M_BCN && s >= p.C) return p.C;
    return SEG_GRP ? p.cw : p.N;
}
uint row_of(uint s, uint j)
{
    if (METHOD == M_BCN && s >= p.C) return (s - p.C) * p.C + j;
    if (SEG_GRP) { uint n = s / p.G, g = s - n * p.G; return n * p.C + g * p.cw + j; }
    if (SEG_CTX) { uint k = s / p.C; return uint(kmap[j]) == k ? j * p.C + (s - k * p.C) : ~0u; }
    return j * p.C + s;
}

vec3 fold(uint s, uint first, uint stride)
{
    vec3 a = vec3(0.0);
    float S = shift_of(s);
    if (SEG_CTX && !GPU) {   // the context's samples only, in increasing n (as the filter below)
        uint k = s / p.C, c = s - k * p.C;
        uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
        for (uint j = j0; j < j1; j++) chan(a, item(uint(texelFetch(KORD, int(j)).x) * p.C + c, S));
        return a;
    }
    uint n = nitems(s);
    for (uint j = first; j < n; j += stride) {
        uint r = row_of(s, j);
        if (r != ~0u) chan(a, item(r, S));
    }
    return a;
}

#include "norm_post.glsl"

void main()
{
    if (!GPU) {
        uint s = flat_group_id() * 64u + gl_LocalInvocationID.x;
        if (s >= p.nseg) return;
        bool need = p.use_batch != 0u || (METHOD == M_BCN && s >= p.C);
        vec4 st = post(s, need ? fold(s, 0u, 1u) : vec3(0.0), shift_of(s));
        seg[s] = st;
        if (SEG_GRP) {   // as write_entry, with gamma and beta through texel views (no storage loads)
            uint n = s / p.G, g = s - n * p.G;
            bool aff = (p.flags & F_AFFINE) != 0u;
            for (uint j = 0u; j < p.cw; j++) {
                uint a = g * p.cw + j;
                float ga = aff ? texelFetch(KORD, int(a)).x : 1.0, be = aff ? texelFetch(BET1, int(a)).x : 0.0;
                ftab[n * p.C + a] = vec4(st.x, ga * st.y, be, 0.0);
            }
            return;
        }
        uint ne = nentries(s);
        for (uint j = 0u; j < ne; j++) write_entry(s, j, st);
        if (METHOD == M_AFN) ftab[s] = vec4(0.0, 0.0, 0.0, post_lo);   // afn_mlp.comp reads Mlo
        return;
    }
    uint s = flat_group_id(), l = gl_LocalInvocationID.x;
    if (s >= p.nseg) return;   // uniform per workgroup
    bool need = p.use_batch != 0u || (METHOD == M_BCN && s >= p.C);
    sh[l] = need ? fold(s, l, 64u) : vec3(0.0);
    barrier();
    for (uint h = 32u; h > 0u; h >>= 1) {
        if (l < h) { vec3 a = sh[l]; chan(a, sh[l + h]); sh[l] = a; }
        barrier();
    }
    if (l == 0u) {
        vec4 st = post(s, sh[0], shift_of(s));
        seg[s] = st;
        shs = st;
        shlo = post_lo;
        if (METHOD == M_AFN) ftab[s] = vec4(0.0, 0.0, 0.0, post_lo);
    }
    barrier();
    vec4 st = shs;
    post_lo = shlo;
    uint ne = nentries(s);
    for (uint j = l; j < ne; j += 64u) write_entry(s, j, st);
}
