#version 450
#extension GL_GOOGLE_include_directive : require
// y[n, k] = ids[n] == k ? 1 : 0 (y [N,K]); four consecutive outputs per invocation.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) readonly buffer Ids { int ids[]; };
layout(push_constant) uniform P { uint K, n; } p;

float at(uint e) { uint n = e / p.K; return ids[n] == int(e - n * p.K) ? 1.0 : 0.0; }

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) { y4[i] = vec4(at(base), at(base + 1u), at(base + 2u), at(base + 3u)); return; }
    for (uint j = base; j < p.n; j++) y[j] = at(j);
}
