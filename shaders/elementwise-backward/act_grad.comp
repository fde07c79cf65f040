#version 450
#extension GL_GOOGLE_include_directive : require
// dx = dy * f'(.), f chosen by a specialization constant (the vkn_act values):
//   1 relu (v = x), 2 leaky_relu(alpha) (v = x), 3 tanh (v = y: 1 - y^2), 4 sigmoid (v = y: y (1 - y))
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 1u;
layout(binding = 8) uniform samplerBuffer V4;
layout(binding = 9) uniform samplerBuffer V1;
layout(binding = 10) uniform samplerBuffer G4;
layout(binding = 11) uniform samplerBuffer G1;
layout(std430, binding = 0) writeonly buffer DX { float dx[]; };
layout(std430, binding = 0) writeonly buffer DX4 { vec4 dx4[]; };
layout(push_constant) uniform P { uint n; float alpha; } p;

vec4 grad(vec4 v, vec4 g)
{
    // PyTorch's rule: 0 where v <= 0, else dy (so a NaN v passes dy; the forward's NaN is reported)
    if (ACT == ACT_RELU) return mix(g, vec4(0.0), lessThanEqual(v, vec4(0.0)));
    if (ACT == ACT_LEAKY_RELU) return mix(p.alpha * g, g, greaterThan(v, vec4(0.0)));
    if (ACT == ACT_TANH) return g * (1.0 - v * v);
    if (ACT == ACT_SIGMOID) return g * v * (1.0 - v);
    return g;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        dx4[i] = grad(texelFetch(V4, int(i)), texelFetch(G4, int(i)));
        return;
    }
    for (uint j = base; j < p.n; j++) dx[j] = grad(texelFetch(V1, int(j)), texelFetch(G1, int(j))).x;
}
