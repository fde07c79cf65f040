#version 450
#extension GL_GOOGLE_include_directive : require
// y = a (op) b with broadcasting. Shapes are right-aligned to 4-D; a broadcast dimension has
// stride 0. OP: 0 add, 1 sub, 2 mul, 3 div. SAME: both inputs have y's shape (no index math).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(constant_id = 1) const bool SAME = false;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n;
    uint shape[4];     // y's shape, 4-D
    uint sa[4];        // a's strides per y dimension (0 = broadcast)
    uint sb[4];
} p;

float op(float u, float v)
{
    if (OP == 0u) return u + v;
    if (OP == 1u) return u - v;
    if (OP == 2u) return u * v;
    return u / v;
}

void main()
{
    uint base = (flat_group_id() * 64u + gl_LocalInvocationID.x) * 4u;
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        uint i = base + j;
        if (i >= p.n) return;
        if (SAME) { y[i] = op(a[i], b[i]); continue; }
        uint r = i, ia = 0u, ib = 0u;
        [[unroll]] for (int d = 3; d >= 0; d--) {
            uint c = r % p.shape[d];
            r /= p.shape[d];
            ia += c * p.sa[d];
            ib += c * p.sb[d];
        }
        y[i] = op(a[ia], b[ib]);
    }
}
