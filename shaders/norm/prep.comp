#version 450
#extension GL_GOOGLE_include_directive : require
// Context ids of cbn, cn, cnx: kmap[n] = float(id) clamped into 0..K-1 (the later kernels read it
// through texel views and never index out of range), bad[n] = 1 where the id was outside 0..K-1
// (vkn_norm_check_ids downloads these flags and reports the first bad sample).
// kord = the samples sorted by context, stably: kord[j] = n for the j-th sample in (context, n)
// order, then kord[N + k] = the first position of context k (k = 0..K, kord[N + K] = N), so the
// merges visit a context's samples only, in increasing n (a fixed order), with no per-row filter.
// Invocations 0..N-1 place sample n; N..N+K write the starts. O(N) loads each, N is a batch.
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Ctx { int ctx[]; };
layout(std430, binding = 1) writeonly buffer Kmap { float kmap[]; };
layout(std430, binding = 2) writeonly buffer Bad { int bad[]; };
layout(std430, binding = 3) writeonly buffer Kord { float kord[]; };

int cid(uint n) { return clamp(ctx[n], 0, int(p.K) - 1); }

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (t < p.N) {
        uint n = t;
        int id = ctx[n];
        bool ok = id >= 0 && id < int(p.K);
        int k = clamp(id, 0, int(p.K) - 1);
        kmap[n] = float(k);
        bad[n] = ok ? 0 : 1;
        uint rank = 0u;
        for (uint m = 0u; m < p.N; m++) {
            int km = cid(m);
            if (km < k || (km == k && m < n)) rank++;
        }
        kord[rank] = float(n);
    } else if (t <= p.N + p.K) {
        int k = int(t - p.N);
        uint first = 0u;
        for (uint m = 0u; m < p.N; m++)
            if (cid(m) < k) first++;
        kord[t] = float(first);
    }
}
