#version 450
#extension GL_GOOGLE_include_directive : require
// FMA peak probe: eight independent vec4 FMA chains per invocation (enough to hide FMA latency),
// ITERS iterations; the sum is stored so nothing is optimized away. FLOPs = invocations * ITERS * 8 * 4 * 2.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ITERS = 1024u;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { float a, b; } p;
void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x;
    vec4 s0 = vec4(float(i)), s1 = s0 + 1.0, s2 = s0 + 2.0, s3 = s0 + 3.0;
    vec4 s4 = s0 + 4.0, s5 = s0 + 5.0, s6 = s0 + 6.0, s7 = s0 + 7.0;
    vec4 a = vec4(p.a), b = vec4(p.b);
    for (uint k = 0u; k < ITERS; k++) {
        s0 = fma(s0, a, b); s1 = fma(s1, a, b); s2 = fma(s2, a, b); s3 = fma(s3, a, b);
        s4 = fma(s4, a, b); s5 = fma(s5, a, b); s6 = fma(s6, a, b); s7 = fma(s7, a, b);
    }
    vec4 s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    y[i] = s.x + s.y + s.z + s.w;
}
