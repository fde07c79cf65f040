#version 450
#extension GL_GOOGLE_include_directive : require
// col[r, q] = x[n, c, oh*sh - ph + i, ow*sw - pw + j] (0 outside) with r = (c*kh + i)*kw + j and
// q = (n*Ho + oh)*Wo + ow. x [N,C,H,W] is read through a scalar texel view (a gather); each invocation
// writes four consecutive q of one row (one vec4 store when L % 4 == 0).
// Rows r >= C*kh*kw (up to `rows`) are zero: padding of K to a multiple of 4 for the GEMM.
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

float at(uint r, uint q, uint c, uint i, uint j)
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
    uint inv = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint r = inv / p.L4;
    if (r >= p.rows) return;
    uint q0 = (inv - r * p.L4) * 4u;
    uint j = r % KW, t = r / KW;
    uint i = t % KH, c = t / KH;
    vec4 v = vec4(at(r, q0, c, i, j), at(r, q0 + 1u, c, i, j), at(r, q0 + 2u, c, i, j), at(r, q0 + 3u, c, i, j));
    uint o = r * p.L + q0;
    if ((p.L & 3u) == 0u) { col4[o / 4u] = v; return; }
    for (uint k = 0u; k < 4u && q0 + k < p.L; k++) col[o + k] = v[k];
}
