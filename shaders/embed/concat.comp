#version 450
#extension GL_GOOGLE_include_directive : require
// y[n, :] = [a[n, :], b[n, :]] with a [N,A], b [N,B], y [N,A+B]. Four consecutive outputs per
// invocation; VEC (A % 4 == 0 and B % 4 == 0): each four lie in one aligned vec4 of a or of b.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool VEC = false;
layout(binding = 8) uniform samplerBuffer A4;
layout(binding = 9) uniform samplerBuffer A1;
layout(binding = 10) uniform samplerBuffer B4;
layout(binding = 11) uniform samplerBuffer B1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint A, B, n; } p;

float at(uint e)
{
    uint R = p.A + p.B, r = e / R, j = e - r * R;
    return j < p.A ? texelFetch(A1, int(r * p.A + j)).x : texelFetch(B1, int(r * p.B + j - p.A)).x;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (base >= p.n) return;
    if (VEC) {
        uint R = p.A + p.B, r = base / R, j = base - r * R;
        y4[i] = j < p.A ? texelFetch(A4, int((r * p.A + j) / 4u)) : texelFetch(B4, int((r * p.B + j - p.A) / 4u));
        return;
    }
    if (VKN_VEC4_OR_TAIL(p.n, base)) { y4[i] = vec4(at(base), at(base + 1u), at(base + 2u), at(base + 3u)); return; }
    for (uint j = base; j < p.n; j++) y[j] = at(j);
}
