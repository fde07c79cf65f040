#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(x) element-wise, f chosen by a specialization constant:
//   0 relu, 1 leaky_relu(alpha), 2 tanh, 3 sigmoid, 4 exp, 5 log, 6 scale (alpha*x)
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer X1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
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
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        vec4 v = texelFetch(X4, int(i));
        y4[i] = vec4(f(v.x), f(v.y), f(v.z), f(v.w));
        return;
    }
    for (uint j = base; j < p.n; j++) y[j] = f(texelFetch(X1, int(j)).x);
}
