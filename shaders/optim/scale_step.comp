#version 450
#extension GL_GOOGLE_include_directive : require
// y = factor * step[slot] * x (gradient reversal: factor -1, slot VKN_STEP_LAMBDA).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X4;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) readonly buffer St { float step[]; };
layout(push_constant) uniform P { uint n, slot; float factor; } p;

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (base >= p.n) return;
    vec4 v = (p.factor * step[p.slot]) * texelFetch(X4, int(i));
    if (VKN_VEC4_OR_TAIL(p.n, base)) { y4[i] = v; return; }
    for (uint j = 0u; base + j < p.n; j++) y[base + j] = v[j];
}
