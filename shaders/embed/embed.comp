#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding. BWD = false: y[n, d] = table[ids[n], d] (0 for an id outside [0,K)); one invocation per
// (n, 4 consecutive d). BWD = true: dtable[k, d] = sum over n with ids[n] == k of dy[n, d]; one
// invocation per (k, 4 consecutive d) loops over n in order (deterministic, no atomics).
// T4/T1 view the table (forward) or dy (backward); VEC: D % 4 == 0.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool BWD = false;
layout(constant_id = 1) const bool VEC = false;
layout(binding = 8) uniform samplerBuffer T4;
layout(binding = 9) uniform samplerBuffer T1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) readonly buffer Ids { int ids[]; };
layout(push_constant) uniform P { uint N, K, D, D4; } p;

vec4 row(uint r, uint d0)   // 4 elements of row r from column d0 of the T view ([*, D])
{
    if (VEC) return texelFetch(T4, int((r * p.D + d0) / 4u));
    vec4 v = vec4(0.0);
    for (uint k = 0u; k < 4u && d0 + k < p.D; k++) v[k] = texelFetch(T1, int(r * p.D + d0 + k)).x;
    return v;
}

void main()
{
    uint inv = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint r = inv / p.D4, d0 = (inv - r * p.D4) * 4u;
    vec4 v = vec4(0.0);
    if (BWD) {
        if (r >= p.K) return;
        for (uint n = 0u; n < p.N; n++)
            if (ids[n] == int(r)) v += row(n, d0);
    } else {
        if (r >= p.N) return;
        int id = ids[r];
        if (id >= 0 && id < int(p.K)) v = row(uint(id), d0);
    }
    uint o = r * p.D + d0;
    if (VEC) { y4[o / 4u] = v; return; }
    for (uint k = 0u; k < 4u && d0 + k < p.D; k++) y[o + k] = v[k];
}
