#version 450
#extension GL_GOOGLE_include_directive : require
// Counter-based random fills. Invocation i owns elements 4i..4i+3 and draws one Philox block with
// counter (i, stream, step counter, 0) and key (seed lo, seed hi): word j goes to element 4i+j.
// MODE: 0 uniform lo + (hi-lo) u; 1 normal mean + std z (Box-Muller on words (0,1) and (2,3));
//       2 bernoulli mask (u >= p ? scale : 0); 3 I32 labels (bits * K) >> 32;
//       4 dropout: mask as 2 into binding 0 and y = x * mask into binding 1 (x: texel 8).
#include "common.glsl"
#include "philox.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const bool HAS_STEP = false;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 0) writeonly buffer YI { int yi[]; };
layout(std430, binding = 0) writeonly buffer YI4 { ivec4 yi4[]; };
layout(std430, binding = 1) writeonly buffer Z { float z[]; };
layout(std430, binding = 1) writeonly buffer Z4 { vec4 z4[]; };
layout(std430, binding = 2) readonly buffer S { uint step[]; };
layout(binding = 8) uniform samplerBuffer X4;
layout(push_constant) uniform P {
    uint n;
    uint seed_lo, seed_hi, stream;
    uint step_slot;
    float a, b;          // lo, hi-lo | mean, std | p, scale | K (as uint bits in a)
} p;

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (base >= p.n) return;
    uint ctr = HAS_STEP ? step[p.step_slot] : 0u;
    uvec4 bits = philox4x32_10(uvec4(i, p.stream, ctr, 0u), uvec2(p.seed_lo, p.seed_hi));
    bool full = VKN_VEC4_OR_TAIL(p.n, base);
    if (MODE == 3u) {
        uint k = floatBitsToUint(p.a);
        uvec4 hi, lo;
        umulExtended(bits, uvec4(k), hi, lo);
        ivec4 v = ivec4(hi);
        if (full) yi4[i] = v;
        else for (uint j = 0u; base + j < p.n; j++) yi[base + j] = v[j];
        return;
    }
    vec4 u = philox_u01(bits), v;
    if (MODE == 0u) v = p.a + p.b * u;
    else if (MODE == 1u) {
        vec2 r = sqrt(-2.0 * log(1.0 - u.xz));
        vec2 th = 6.283185307179586 * u.yw;
        v = p.a + p.b * vec4(r.x * cos(th.x), r.x * sin(th.x), r.y * cos(th.y), r.y * sin(th.y));
    } else v = mix(vec4(0.0), vec4(p.b), greaterThanEqual(u, vec4(p.a)));
    if (full) {
        y4[i] = v;
        if (MODE == 4u) z4[i] = v * texelFetch(X4, int(i));
        return;
    }
    vec4 x = MODE == 4u ? texelFetch(X4, int(i)) : vec4(0.0);   // the view covers the padded tail
    for (uint j = 0u; base + j < p.n; j++) {
        y[base + j] = v[j];
        if (MODE == 4u) z[base + j] = v[j] * x[j];
    }
}
