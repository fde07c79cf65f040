#version 450
#extension GL_GOOGLE_include_directive : require
// Max-pool backward by gather: dx[n,c,h,w] = sum of dy over the windows covering (h,w) whose argmax is
// h*W + w, in a fixed order (deterministic, no atomics). Four inputs per invocation.
#include "common.glsl"
#include "window2d.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer G1;                        // dy
layout(std430, binding = 0) writeonly buffer DX { float dx[]; };
layout(std430, binding = 0) writeonly buffer DX4 { vec4 dx4[]; };
// idx (i32) through an R32F texel view, bits kept by floatBitsToInt: a straight-line gather on llvmpipe
// instead of a per-lane storage-buffer load (the fetch moves bits; small ints are denormals, -1 a NaN,
// and the tests check both survive)
layout(binding = 9) uniform samplerBuffer I1;
layout(push_constant) uniform P { uint n; } p;

float gather(uint e)
{
    uint w = e % IW, t = e / IW;
    uint h = t % IH, plane = t / IH;
    int me = int(h * IW + w);
    uint hp = h + PH, wp = w + PW;
    // windows oh with oh*sh <= hp < oh*sh + kh
    uint oh0 = hp + 1u > KH ? (hp + 1u - KH + SH - 1u) / SH : 0u, oh1 = min(hp / SH + 1u, OH);
    uint ow0 = wp + 1u > KW ? (wp + 1u - KW + SW - 1u) / SW : 0u, ow1 = min(wp / SW + 1u, OW);
    // at most ceil(kh/sh) x ceil(kw/sw) windows (constants): straight-line, predicated fetches
    const uint NI = (KH + SH - 1u) / SH, NJ = (KW + SW - 1u) / SW;
    float s = 0.0;
    [[unroll]] for (uint ii = 0u; ii < NI; ii++)
        [[unroll]] for (uint jj = 0u; jj < NJ; jj++) {
            uint oh = oh0 + ii, ow = ow0 + jj;
            bool ok = oh < oh1 && ow < ow1;
            int o = ok ? int((plane * OH + oh) * OW + ow) : 0;
            bool hit = ok && floatBitsToInt(texelFetch(I1, o).x) == me;
            float g = texelFetch(G1, o).x;
            s += hit ? g : 0.0;
        }
    return s;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        dx4[i] = vec4(gather(base), gather(base + 1u), gather(base + 2u), gather(base + 3u));
        return;
    }
    for (uint j = base; j < p.n; j++) dx[j] = gather(j);
}
