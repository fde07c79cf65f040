#version 450
#extension GL_GOOGLE_include_directive : require
// y[b, a, p] = x[a, b, p] (x is [A,B,P]): NCHW <-> CNHW. Four consecutive outputs per invocation;
// VEC (P % 4 == 0): they come from one aligned vec4 of x.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool VEC = false;
layout(constant_id = 1) const uint A = 1u;      // the sizes as constants: divisions become multiplies
layout(constant_id = 2) const uint B = 1u;
layout(constant_id = 3) const uint PP = 1u;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer X1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;

uint src(uint o)
{
    uint q = o % PP, t = o / PP;
    uint a = t % A, b = t / A;
    return (a * B + b) * PP + q;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (base >= p.n) return;
    if (VEC) { y4[i] = texelFetch(X4, int(src(base) / 4u)); return; }
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        y4[i] = vec4(texelFetch(X1, int(src(base))).x, texelFetch(X1, int(src(base + 1u))).x,
                     texelFetch(X1, int(src(base + 2u))).x, texelFetch(X1, int(src(base + 3u))).x);
        return;
    }
    for (uint j = base; j < p.n; j++) y[j] = texelFetch(X1, int(src(j))).x;
}
