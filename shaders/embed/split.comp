#version 450
#extension GL_GOOGLE_include_directive : require
// The backward of concat: a[n, :] = y[n, :A], b[n, :] = y[n, A:]. Four consecutive elements of y per
// invocation; VEC (A % 4 == 0 and B % 4 == 0): one vec4 fetch, one vec4 store.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool VEC = false;
layout(binding = 8) uniform samplerBuffer Y4;
layout(binding = 9) uniform samplerBuffer Y1;
layout(std430, binding = 0) writeonly buffer A { float a[]; };
layout(std430, binding = 0) writeonly buffer A4v { vec4 a4[]; };
layout(std430, binding = 1) writeonly buffer B { float b[]; };
layout(std430, binding = 1) writeonly buffer B4v { vec4 b4[]; };
layout(push_constant) uniform P { uint A, B, n; } p;

void put(uint e, float v)
{
    uint R = p.A + p.B, r = e / R, j = e - r * R;
    if (j < p.A) a[r * p.A + j] = v; else b[r * p.B + j - p.A] = v;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (base >= p.n) return;
    if (VEC) {
        uint R = p.A + p.B, r = base / R, j = base - r * R;
        vec4 v = texelFetch(Y4, int(i));
        if (j < p.A) a4[(r * p.A + j) / 4u] = v; else b4[(r * p.B + j - p.A) / 4u] = v;
        return;
    }
    for (uint j = base; j < min(base + 4u, p.n); j++) put(j, texelFetch(Y1, int(j)).x);
}
