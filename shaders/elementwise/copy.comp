#version 450
#extension GL_GOOGLE_include_directive : require
// y[i] = x[i], four elements per invocation (vec4 where the count allows)
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; } p;
void main()
{
    uint base = (flat_group_id() * 64u + gl_LocalInvocationID.x) * 4u;
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        if (base + j < p.n) y[base + j] = x[base + j];
}
