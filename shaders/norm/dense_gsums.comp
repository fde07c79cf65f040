#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) backward run sums of ln and gn, CPU path. A segment (n, g) is the contiguous run of
// cw elements [s cw, (s + 1) cw), s = n G + g, so invocation t (< nseg * nchunk): segment
// s = t / nchunk, chunk q: over its elements of chunk q,
//   part[t] = (sum gamma_c g, sum gamma_c g (x - M_s), 0, 0)
// (bsum.comp then merges a segment's chunks in order, as for in's rows: norm_dense.c). in (cw = 1)
// needs none; the parameter gradients are summed by dense_apply's backward. No barriers, fixed order.
#include "dense.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X;      // RGBA32F (x as one long vector) for the chunks ...
layout(binding = 9) uniform samplerBuffer G;
layout(binding = 10) uniform samplerBuffer GAM;   // gamma: RGBA32F when C % 4 == 0, else R32F
layout(binding = 11) uniform samplerBuffer SEG;   // seg (mean, rstd, count, fixd) per segment
layout(std430, binding = 0) writeonly buffer Part { vec4 part[]; };
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
    if (t >= p.nseg * p.nchunk) return;
    {
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
                // channel of element i = i - base; lanes before the sample (the first block of a
                // sample whose start is not a multiple of 4) are masked and clamped to channel 0
                uvec4 i = uvec4(4u * v) + uvec4(0u, 1u, 2u, 3u);
                uvec4 c = min(i - min(i, uvec4(base)), uvec4(p.C - 1u));
                if (c4()) ga = texelFetch(GAM, int(c.x >> 2));
                else [[unroll]] for (uint j = 0u; j < 4u; j++) ga[j] = texelFetch(GAM, int(c[j])).x;
            }
            vec4 gg = ga * ld(G, v, true) * m;
            h += gg;
            hx += gg * (ld(X, v, false) - M);
        }
        part[t] = vec4(dot(h, vec4(1.0)), dot(hx, vec4(1.0)), 0.0, 0.0);
    }
}
