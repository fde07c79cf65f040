#version 450
#extension GL_GOOGLE_include_directive : require
// y = a (op) b with broadcasting. Shapes are right-aligned to 4-D; a broadcast dimension has
// stride 0. OP: 0 add, 1 sub, 2 mul, 3 div. SAME: both inputs have y's shape (vec4 path).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(constant_id = 1) const bool SAME = false;
layout(binding = 8) uniform samplerBuffer A4;
layout(binding = 9) uniform samplerBuffer A1;
layout(binding = 10) uniform samplerBuffer B4;
layout(binding = 11) uniform samplerBuffer B1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P {
    uint n;
    uint shape[4];     // y's shape, 4-D
    uint sa[4];        // a's strides per y dimension (0 = broadcast)
    uint sb[4];
} p;

vec4 op(vec4 u, vec4 v)
{
    if (OP == 0u) return u + v;
    if (OP == 1u) return u - v;
    if (OP == 2u) return u * v;
    return u / v;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (SAME && VKN_VEC4_OR_TAIL(p.n, base)) {
        y4[i] = op(texelFetch(A4, int(i)), texelFetch(B4, int(i)));
        return;
    }
    for (uint j = base; j < min(base + 4u, p.n); j++) {
        uint r = j, ia = 0u, ib = 0u;
        [[unroll]] for (int d = 3; d >= 0; d--) {
            uint c = r % p.shape[d];
            r /= p.shape[d];
            ia += c * p.sa[d];
            ib += c * p.sb[d];
        }
        y[j] = op(texelFetch(A1, int(ia)), texelFetch(B1, int(ib))).x;
    }
}
