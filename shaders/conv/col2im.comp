#version 450
#extension GL_GOOGLE_include_directive : require
// The adjoint of im2col, by gather: x[n,c,h,w] = sum over the (i, j) with (h + ph - i) % sh == 0 and
// oh = (h + ph - i) / sh in [0, Ho) (likewise w) of col[(c*kh + i)*kw + j, (n*Ho + oh)*Wo + ow],
// in a fixed order (+ bias[c]). No atomics: deterministic. Four consecutive outputs per invocation.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 5) const bool BIAS = false;
#include "window2d.glsl"
layout(binding = 8) uniform samplerBuffer COL1;
layout(binding = 9) uniform samplerBuffer BIAS1;
layout(std430, binding = 0) writeonly buffer X { float x[]; };
layout(std430, binding = 0) writeonly buffer X4 { vec4 x4[]; };
layout(push_constant) uniform P {
    uint L;        // N*Ho*Wo
    uint n;        // N*C*H*W
} p;

float gather(uint e)
{
    uint w = e % IW, t = e / IW;
    uint h = t % IH; t /= IH;
    uint c = t % CH, nn = t / CH;
    float s = BIAS ? texelFetch(BIAS1, int(c)).x : 0.0;
    uint hp = h + PH, wp = w + PW;
    // the (i, j) with i = hp % sh + ii*sh <= hp, oh = (hp - i)/sh < Ho (likewise j): a fixed count of
    // ceil(kh/sh) x ceil(kw/sw) candidates (constants), so straight-line code with predicated fetches
    // instead of loops whose trip counts differ per lane
    const uint NI = (KH + SH - 1u) / SH, NJ = (KW + SW - 1u) / SW;
    uint i0 = hp % SH, j0 = wp % SW;
    [[unroll]] for (uint ii = 0u; ii < NI; ii++) {
        uint i = i0 + ii * SH;
        uint oh = (hp - i) / SH;
        bool okh = i < KH && i <= hp && oh < OH;
        uint rowi = (c * KH + i) * KW, qi = (nn * OH + oh) * OW;
        [[unroll]] for (uint jj = 0u; jj < NJ; jj++) {
            uint j = j0 + jj * SW;
            uint ow = (wp - j) / SW;
            bool ok = okh && j < KW && j <= wp && ow < OW;
            float v = texelFetch(COL1, ok ? int((rowi + j) * p.L + qi + ow) : 0).x;
            s += ok ? v : 0.0;
        }
    }
    return s;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        x4[i] = vec4(gather(base), gather(base + 1u), gather(base + 2u), gather(base + 3u));
        return;
    }
    for (uint j = base; j < p.n; j++) x[j] = gather(j);
}
