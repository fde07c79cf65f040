#version 450
#extension GL_GOOGLE_include_directive : require
// y = x, four elements per invocation
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X4;   // x as vec4 texels
layout(binding = 9) uniform samplerBuffer X1;   // x as scalars (tail)
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) { y4[i] = texelFetch(X4, int(i)); return; }
    for (uint j = base; j < p.n; j++) y[j] = texelFetch(X1, int(j)).x;
}
