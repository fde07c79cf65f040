#version 450
#extension GL_GOOGLE_include_directive : require
// Context ids of cbn, cn, cnx: kmap[n] = float(id) clamped into 0..K-1 (the later kernels read it
// through texel views and never index out of range), bad[n] = 1 where the id was outside 0..K-1
// (vkn_norm_check_ids downloads these flags and reports the first bad sample).
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Ctx { int ctx[]; };
layout(std430, binding = 1) writeonly buffer Kmap { float kmap[]; };
layout(std430, binding = 2) writeonly buffer Bad { int bad[]; };
void main()
{
    uint n = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (n >= p.N) return;
    int id = ctx[n];
    bool ok = id >= 0 && id < int(p.K);
    kmap[n] = float(clamp(id, 0, int(p.K) - 1));
    bad[n] = ok ? 0 : 1;
}
