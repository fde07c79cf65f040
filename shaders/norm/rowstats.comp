#version 450
#extension GL_GOOGLE_include_directive : require
// Stage 1 of the segmented statistics: invocation t = (row r, chunk q) folds the elements
// [r*P + q*clen, min(r*P + (q+1)*clen, (r+1)*P)) serially, in order:
//   forward (BWD = false): part[t] = (count, mean, M2): the partial first and last vec4 blocks by
//     block4, the whole blocks between them by a Welford update per vec4 lane (the four lanes share
//     their count, so one reciprocal per block), merged (Chan) as first block, lanes 0..3, last block
//   backward (BWD = true): part[t] = (sum g, sum g*(x - M), 0, 0), M = the row's ftab mean
// Whole blocks are read without masks or bounds checks; x, g and the table through texel views.
// No barriers, no atomics; the merge stage (finalize / bsum) folds the partials in a fixed order.
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 3) const bool BWD = false;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer G4;
layout(binding = 10) uniform samplerBuffer FTAB4;
layout(binding = 11) uniform samplerBuffer KMAP1;
// FUSE (in on the CPU path, one chunk per row: a row is a segment): the invocation also does the
// merge's work for its row, as finalize.comp (forward: seg and ftab) and bsum.comp's segment part
// (backward: bseg and btab) would; gamma and beta come in the texel slots the method leaves free
layout(constant_id = 4) const bool FUSE = false;
layout(std430, binding = 0) writeonly buffer Part { vec4 part[]; };
layout(std430, binding = 1) writeonly buffer O1 { vec4 o1[]; };   // FUSE: seg (forward), btab (backward)
layout(std430, binding = 2) writeonly buffer O2 { vec4 o2[]; };   // FUSE: ftab (forward), bseg (backward)
layout(std430, binding = 3) readonly buffer XS { float xs[]; };   // the tensor's last, partial block
layout(std430, binding = 4) readonly buffer GS { float gs[]; };

vec4 tail4(bool g, uint v)
{
    vec4 r = vec4(0.0);
    for (uint j = 0u; j < 4u; j++)
        if (4u * v + j < p.total) r[j] = g ? gs[4u * v + j] : xs[4u * v + j];
    return r;
}
vec4 ldx(uint v) { return 4u * v + 3u < p.total ? texelFetch(X4, int(v)) : tail4(false, v); }
vec4 ldg(uint v) { return 4u * v + 3u < p.total ? texelFetch(G4, int(v)) : tail4(true, v); }
// element i of x (SHIFT: the shift of channel c is element c * P)
float xat(uint i) { return 4u * (i >> 2) + 3u < p.total ? texelFetch(X4, int(i >> 2))[i & 3u] : xs[i]; }

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint rows = p.N * p.C;
    if (t >= rows * p.nchunk) return;
    uint r = t / p.nchunk, q = t - r * p.nchunk;
    uint lo = r * p.P + q * p.clen, hi = min(lo + p.clen, (r + 1u) * p.P);
    uint v0 = lo / 4u, v1 = (hi - 1u) / 4u;
    // whole blocks [w0, w1): inside [lo, hi)
    uint w0 = (lo + 3u) / 4u, w1 = hi / 4u;
    if (w1 < w0) w1 = w0;
    // the partial blocks: v0 when v0 < w0 or there is no whole block, v1 (!= v0) when v1 >= w1
    bool ph = v0 < w0 || v0 >= w1, pt = v1 != v0 && v1 >= w1;
    if (!BWD) {
        // SHIFT (norm.glsl): the partials of x - S, the merge (finalize) adds S back; S = x[0, c, 0],
        // cn: x[f, c, 0] with f the first sample of n's context (FTAB4 holds kord in its forward)
        uint n = fdiv(r, p.C, p.invC), c = r - n * p.C;
        float S = 0.0;
        if (SHIFT) S = xat(c * p.P);
        if (SEG_CTX) {
            uint k = uint(texelFetch(KMAP1, int(n)).x);
            uint f = uint(texelFetch(FTAB4, int(uint(texelFetch(FTAB4, int(p.N + k)).x))).x);
            S = xat((f * p.C + c) * p.P);
        }
        vec3 acc = vec3(0.0);
        if (ph) chan(acc, block4(ldx(v0) - S, mask4(v0, lo, hi)));
        vec4 mean = vec4(0.0), m2 = vec4(0.0);
        float k = 0.0;
        for (uint v = w0; v < w1; v++) {
            vec4 x = texelFetch(X4, int(v)) - S;
            k += 1.0;
            vec4 d = x - mean;
            mean += d * (1.0 / k);
            m2 += d * (x - mean);
        }
        for (uint j = 0u; j < 4u; j++) chan(acc, vec3(k, mean[j], m2[j]));
        if (pt) chan(acc, block4(ldx(v1) - S, mask4(v1, lo, hi)));
        if (FUSE) {   // as post() (no running statistics) and write_entry() for in; G4 = gamma, KMAP1 = beta
            float var = acc.x > 0.0 ? acc.z / acc.x : 0.0;
            vec4 st = vec4(acc.y, inversesqrt(var + p.eps), acc.x, 0.0);
            bool aff = (p.flags & F_AFFINE) != 0u;
            float ga = aff ? texelFetch(G4, int(c)).x : 1.0, be = aff ? texelFetch(KMAP1, int(c)).x : 0.0;
            o1[r] = st;
            o2[r] = vec4(st.x, ga * st.y, be, 0.0);
            return;
        }
        part[t] = vec4(acc, 0.0);
    } else {
        uint n = fdiv(r, p.C, p.invC), c = r - n * p.C;
        uint tt = TAB_CTX ? uint(texelFetch(KMAP1, int(n)).x) : TAB_N ? n : 0u;
        vec4 st = texelFetch(FTAB4, int(tt * p.C + c));   // FUSE: seg[r] (st.x = ftab's M)
        float M = st.x, Ml = LOW && !FUSE ? st.w : 0.0;   // ftab's (M, Mlo)
        vec4 sg = vec4(0.0), sgx = vec4(0.0);
        for (uint v = w0; v < w1; v++) {
            vec4 g = texelFetch(G4, int(v));
            sg += g;
            sgx += g * ((texelFetch(X4, int(v)) - M) - Ml);
        }
        for (uint e = 0u; e < 2u; e++) {
            uint v = e == 0u ? v0 : v1;
            if (e == 0u ? !ph : !pt) continue;
            vec4 g = ldg(v) * mask4(v, lo, hi);
            sg += g;
            sgx += g * ((ldx(v) - M) - Ml);
        }
        vec2 hq = vec2(dot(sg, vec4(1.0)), dot(sgx, vec4(1.0)));
        part[t] = vec4(hq, 0.0, 0.0);   // bsum's parameter gradients read it
        if (FUSE) {   // bsum.comp's segment part for a one-row segment; KMAP1 = gamma
            float G = (p.flags & F_AFFINE) != 0u ? texelFetch(KMAP1, int(c)).x : 1.0;
            vec2 acc = G * hq;
            float R = st.y, W = max(st.z, 1.0);
            bool fixd = st.w > 0.5;
            float be = fixd ? 0.0 : -R * R * R * acc.y / W, ga = fixd ? 0.0 : -R * acc.x / W;
            o2[r] = vec4(acc, 0.0, 0.0);
            o1[r] = vec4(st.x, R * G, be, ga);
        }
    }
}
