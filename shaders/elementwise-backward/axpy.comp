#version 450
#extension GL_GOOGLE_include_directive : require
// y += alpha * x (gradient accumulation): y through the storage buffer, x through texel views.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer X1;
layout(std430, binding = 0) buffer Y { float y[]; };
layout(std430, binding = 0) buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; float alpha; } p;

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        y4[i] = fma(vec4(p.alpha), texelFetch(X4, int(i)), y4[i]);
        return;
    }
    for (uint j = base; j < p.n; j++) y[j] = fma(p.alpha, texelFetch(X1, int(j)).x, y[j]);
}
