#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(x) element-wise, f chosen by a specialization constant:
//   0 relu, 1 leaky_relu(alpha), 2 tanh, 3 sigmoid, 4 exp, 5 log, 6 scale (alpha*x)
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha; } p;

float f(float v)
{
    if (OP == 0u) return apply_act(ACT_RELU, v, 0.0);
    if (OP == 1u) return apply_act(ACT_LEAKY_RELU, v, p.alpha);
    if (OP == 2u) return apply_act(ACT_TANH, v, 0.0);
    if (OP == 3u) return apply_act(ACT_SIGMOID, v, 0.0);
    if (OP == 4u) return exp(v);
    if (OP == 5u) return log(v);
    return p.alpha * v;
}

void main()
{
    uint base = (flat_group_id() * 64u + gl_LocalInvocationID.x) * 4u;
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        if (base + j < p.n) y[base + j] = f(x[base + j]);
}
