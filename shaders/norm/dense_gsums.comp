#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) backward sums of ln, gn, in, CPU path. A segment (n, g) is the contiguous run of cw
// elements [s cw, (s + 1) cw), s = n G + g, so:
//   invocations t < nseg * nchunk: segment s = t / nchunk, chunk q: over its elements of chunk q,
//     part[t] = (sum gamma_c g, sum gamma_c g (x - M_s), 0, 0)   (bsum.comp then merges a
//     segment's chunks in order, as for in's rows: norm_dense.c);  none for in (cw = 1: inline)
//   the next ncb invocations (when there are parameter gradients): channel block c0..c0+3 over
//     every sample: dgamma_c = sum_n R_s g (x - M_s), dbeta_c = sum_n g (vec4, lane = channel).
// No barriers, fixed order.
#include "dense.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X;      // RGBA32F (x as one long vector) for the chunks ...
layout(binding = 9) uniform samplerBuffer G;
layout(binding = 10) uniform samplerBuffer GAM;   // gamma: RGBA32F when C % 4 == 0, else R32F
layout(binding = 11) uniform samplerBuffer SEG;   // seg (mean, rstd, count, fixd) per segment
layout(std430, binding = 0) writeonly buffer Part { vec4 part[]; };
layout(std430, binding = 1) writeonly buffer D0 { float d0[]; };   // dgamma
layout(std430, binding = 2) writeonly buffer D1 { float d1[]; };   // dbeta
layout(std430, binding = 3) readonly buffer XS { float xs[]; };    // the last, partial vec4
layout(std430, binding = 4) readonly buffer GS { float gs[]; };

bool aff() { return (p.flags & F_AFFINE) != 0u; }

vec4 ld(samplerBuffer t4, uint v, bool isg)
{
    if (4u * v + 3u < p.total) return texelFetch(t4, int(v));
    vec4 r = vec4(0.0);
    for (uint j = 0u; j < 4u; j++)
        if (4u * v + j < p.total) r[j] = isg ? gs[4u * v + j] : xs[4u * v + j];
    return r;
}

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint nA = p.cw == 1u ? 0u : p.nseg * p.nchunk;
    if (t < nA) {
        uint s = t / p.nchunk, q = t - s * p.nchunk;
        uint n = s / p.G, base = n * p.C;   // element i of sample n has channel i - base
        uint lo = s * p.cw + q * p.clen, hi = min(lo + p.clen, (s + 1u) * p.cw);
        float M = texelFetch(SEG, int(s)).x;
        vec4 h = vec4(0.0), hx = vec4(0.0);
        uint v0 = lo / 4u, v1 = (hi - 1u) / 4u, w0 = (lo + 3u) / 4u, w1 = max(hi / 4u, w0);
        if (c4()) {
            // the whole blocks [w0, w1) without masks or bounds checks (their channels are
            // 4 (v - w) .. +3 with w = base / 4, gamma one fetch); the partial ones below
            uint wb = base / 4u;
            for (uint v = w0; v < w1; v++) {
                vec4 gg = (aff() ? texelFetch(GAM, int(v - wb)) : vec4(1.0)) * texelFetch(G, int(v));
                h += gg;
                hx += gg * (texelFetch(X, int(v)) - M);
            }
        }
        // C % 4 == 0: only the partial first and last blocks are left (at most two); else every block
        bool ph = v0 < w0 || v0 >= w1, pt = v1 != v0 && v1 >= w1;
        uint nb = c4() ? 2u : v1 - v0 + 1u;
        for (uint e = 0u; e < nb; e++) {
            uint v = c4() ? (e == 0u ? v0 : v1) : v0 + e;
            if (c4() && (e == 0u ? !ph : !pt)) continue;
            vec4 m = mask4(v, lo, hi);
            vec4 ga = vec4(1.0);
            if (aff()) {
                uvec4 c = min(uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u) - uvec4(min(4u * v, base)), uvec4(p.C - 1u));
                if (c4()) ga = texelFetch(GAM, int(c.x >> 2));
                else [[unroll]] for (uint j = 0u; j < 4u; j++) ga[j] = texelFetch(GAM, int(c[j])).x;
            }
            vec4 gg = ga * ld(G, v, true) * m;
            h += gg;
            hx += gg * (ld(X, v, false) - M);
        }
        part[t] = vec4(dot(h, vec4(1.0)), dot(hx, vec4(1.0)), 0.0, 0.0);
        return;
    }
    uint cb = t - nA, c0 = 4u * cb;
    if (p.naff == 0u || c0 >= p.C) return;
    uvec4 gi = lane_c(c0) / p.cw;
    vec4 sg = vec4(0.0), sgx = vec4(0.0);
    float Rin = inversesqrt(p.eps);
    for (uint n = 0u; n < p.N; n++) {
        vec4 x, g;
        // x, g of the block: one fetch each when C % 4 == 0 (the chunk views are RGBA32F)
        uint b = n * p.C + c0;
        if (c4()) { x = texelFetch(X, int(b >> 2)); g = texelFetch(G, int(b >> 2)); }
        else {
            x = vec4(0.0); g = vec4(0.0);
            for (uint j = 0u; j < 4u; j++)
                if (c0 + j < p.C) { x[j] = xs[b + j]; g[j] = gs[b + j]; }
        }
        vec4 M, R;
        if (p.cw == 1u) { M = x; R = vec4(Rin); }
        else if (gi.x == gi.w) {   // the block lies in one group: one fetch
            vec4 e = texelFetch(SEG, int(n * p.G + gi.x));
            M = vec4(e.x);
            R = vec4(e.y);
        } else {
            vec4 e[4];
            [[unroll]] for (uint l = 0u; l < 4u; l++) e[l] = texelFetch(SEG, int(n * p.G + gi[l]));
            M = vec4(e[0].x, e[1].x, e[2].x, e[3].x);
            R = vec4(e[0].y, e[1].y, e[2].y, e[3].y);
        }
        sg += g;
        sgx += R * (g * (x - M));
    }
    [[unroll]] for (uint l = 0u; l < 4u; l++) {
        if (c0 + l >= p.C) break;
        d0[c0 + l] = sgx[l];
        d1[c0 + l] = sg[l];
    }
}
