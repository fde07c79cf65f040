#version 450
#extension GL_GOOGLE_include_directive : require
// First stage of the gradient norm and the non-finite check: invocation c folds elements
// [c*len, (c+1)*len) of x (len a multiple of 4, vec4 texel reads, fixed order) into part[c].
// Invocations c in [chunks, slots) write 0 (padding of this tensor's slot in a shared partials
// buffer). MODE: 0 sum of squares (Kahan-compensated); 1 count of NaN/Inf elements.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(binding = 8) uniform samplerBuffer X4;
layout(std430, binding = 0) writeonly buffer Part { float part[]; };
layout(push_constant) uniform P { uint n, len, chunks, slots; } p;

void main()
{
    uint c = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (c >= p.slots) return;
    float acc = 0.0, comp = 0.0;
    uint lo = c * p.len, hi = c < p.chunks ? min(lo + p.len, p.n) : lo;
    for (uint e = lo; e < hi; e += 4u) {
        vec4 v = texelFetch(X4, int(e / 4u));
        // the last vec4 may reach past n: those lanes are another tensor's padding
        bvec4 live = lessThan(uvec4(e) + uvec4(0u, 1u, 2u, 3u), uvec4(hi));
        if (MODE == 0u) {
            vec4 sq = mix(vec4(0.0), v * v, live);
            float s = (sq.x + sq.y) + (sq.z + sq.w);
            float yv = s - comp, t = acc + yv;
            comp = (t - acc) - yv;
            acc = t;
        } else {
            // exponent all ones <=> NaN or Inf (bit test: immune to fast-math folding of isnan)
            uvec4 ex = floatBitsToUint(v) & 0x7f800000u;
            bvec4 bad = equal(ex, uvec4(0x7f800000u));
            for (int j = 0; j < 4; j++) if (live[j] && bad[j]) acc += 1.0;
        }
    }
    part[c] = acc;
}
