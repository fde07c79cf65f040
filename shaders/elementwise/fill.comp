#version 450
#extension GL_GOOGLE_include_directive : require
// y[i] = value
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float value; } p;
void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (i < p.n) y[i] = p.value;
}
