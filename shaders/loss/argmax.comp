#version 450
#extension GL_GOOGLE_include_directive : require
// Row argmax of x [N, K] (first index on ties; R32F texel reads). Invocation c owns rows
// [c*rows, (c+1)*rows): writes idx[r] when HAS_IDX, and with HAS_ACC counts rows whose argmax equals
// lab[r] into part[c] or, with DIRECT, writes acc[0] = lscale * count.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool HAS_IDX = true;
layout(constant_id = 1) const bool HAS_ACC = false;
layout(constant_id = 2) const bool DIRECT = false;
layout(binding = 8) uniform samplerBuffer X;
layout(std430, binding = 0) writeonly buffer Idx { int idx[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, binding = 2) readonly buffer Lab { int lab[]; };
layout(push_constant) uniform P { uint n, k, rows, chunks; float lscale; } p;

void main()
{
    uint c = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (c >= p.chunks) return;
    uint r0 = c * p.rows, r1 = min(r0 + p.rows, p.n);
    float cnt = 0.0;
    for (uint r = r0; r < r1; r++) {
        int base = int(r * p.k), best = 0;
        float bv = texelFetch(X, base).x;
        for (uint j = 1u; j < p.k; j++) {
            float v = texelFetch(X, base + int(j)).x;
            if (v > bv) { bv = v; best = int(j); }
        }
        if (HAS_IDX) idx[r] = best;
        if (HAS_ACC && lab[r] == best) cnt += 1.0;
    }
    if (!HAS_ACC) return;
    if (DIRECT) o[0] = p.lscale * cnt;
    else o[c] = cnt;
}
