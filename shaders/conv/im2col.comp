#version 450
#extension GL_GOOGLE_include_directive : require
// col[r, q] = x[n, c, oh*sh - ph + i, ow*sw - pw + j] (0 outside) with r = (c*kh + i)*kw + j and
// q = (n*Ho + oh)*Wo + ow. x [N,C,H,W] is read through a scalar texel view (a gather); each invocation
// writes four consecutive q of one row (one vec4 store when L % 4 == 0).
// Rows r >= C*kh*kw (up to `rows`) are zero: padding of K to a multiple of 4 for the GEMM.
// Grid: x (then z past 65535 groups) walks the row in blocks of 256 q, y is the row: r, c, i, j are uniform per workgroup and no lane divides by a push constant
// (llvmpipe has no vector integer divide: a division by a non-constant is a per-lane loop).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X1;
layout(std430, binding = 0) writeonly buffer Col { float col[]; };
layout(std430, binding = 0) writeonly buffer Col4 { vec4 col4[]; };
#include "window2d.glsl"
layout(push_constant) uniform P {
    uint L;        // N*Ho*Wo: row length
    uint L4;       // ceil(L/4): invocations per row
    uint rows;     // rows written (>= C*kh*kw)
} p;

float at(uint q, uint c, uint i, uint j)
{
    if (q >= p.L || c >= CH) return 0.0;
    uint ow = q % OW, t = q / OW;
    uint oh = t % OH, n = t / OH;
    int h = int(oh * SH + i) - int(PH), w = int(ow * SW + j) - int(PW);
    if (h < 0 || w < 0 || h >= int(IH) || w >= int(IW)) return 0.0;
    return texelFetch(X1, int(((n * CH + c) * IH + uint(h)) * IW + uint(w))).x;
}

void main()
{
    uint r = gl_WorkGroupID.y;
    uint j = r % KW, t = r / KW;
    uint i = t % KH, c = t / KH;
    uint b = (gl_WorkGroupID.z * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 64u + gl_LocalInvocationID.x;
    if (b >= p.L4) return;
    uint q0 = b * 4u;
    vec4 v;
    if (OW >= 4u) {
        // decompose q0 once; q0+1..q0+3 step ow, wrapping into the next output row at most once
        uint ow0 = q0 % OW, t0 = q0 / OW;
        [[unroll]] for (uint k = 0u; k < 4u; k++) {
            uint ow = ow0 + k, t = t0;
            if (OW % 4u != 0u && ow >= OW) { ow -= OW; t++; }   // never taken when OW % 4 == 0 (q0 % 4 == 0)
            uint oh = t % OH, n = t / OH;
            int h = int(oh * SH + i) - int(PH), w = int(ow * SW + j) - int(PW);
            bool ok = q0 + k < p.L && c < CH && h >= 0 && w >= 0 && h < int(IH) && w < int(IW);
            float x = texelFetch(X1, ok ? int(((n * CH + c) * IH + uint(h)) * IW + uint(w)) : 0).x;
            v[k] = ok ? x : 0.0;
        }
    } else {
        v = vec4(at(q0, c, i, j), at(q0 + 1u, c, i, j), at(q0 + 2u, c, i, j), at(q0 + 3u, c, i, j));
    }
    uint o = r * p.L + q0;
    if ((p.L & 3u) == 0u) { col4[o / 4u] = v; return; }
    for (uint k = 0u; k < 4u && q0 + k < p.L; k++) col[o + k] = v[k];
}
