#version 450
#extension GL_GOOGLE_include_directive : require
// Context ids of cbn, cn, cnx: kmap[n] = float(id) clamped into 0..K-1 (the later kernels read it
// through texel views and never index out of range), bad[n] = 1 where the id was outside 0..K-1
// (vkn_norm_check_ids downloads these flags and reports the first bad sample).
// kord = the samples sorted by context, stably: kord[j] = n for the j-th sample in (context, n)
// order, then kord[N + k] = the first position of context k (k = 0..K, kord[N + K] = N), so the
// merges visit a context's samples only, in increasing n (a fixed order), with no per-row filter.
// CPU path: one invocation does it all by a counting sort (O(N + K) storage accesses by one lane);
// the GPU path: invocations 0..N-1 place sample n, N..N+K write the starts (O(N) loads each).
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Ctx { int ctx[]; };
layout(std430, binding = 1) writeonly buffer Kmap { float kmap[]; };
layout(std430, binding = 2) writeonly buffer Bad { int bad[]; };
layout(std430, binding = 3) buffer Kord { float kord[]; };

int cid(uint n) { return clamp(ctx[n], 0, int(p.K) - 1); }

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (!GPU) {
        if (t != 0u) return;
        // counts of each context at kord[N + k], ids into kmap and bad
        for (uint k = 0u; k < p.K; k++) kord[p.N + k] = 0.0;
        for (uint n = 0u; n < p.N; n++) {
            int id = ctx[n];
            int k = clamp(id, 0, int(p.K) - 1);
            kmap[n] = float(k);
            bad[n] = id >= 0 && id < int(p.K) ? 0 : 1;
            kord[p.N + uint(k)] += 1.0;
        }
        for (uint k = 1u; k < p.K; k++) kord[p.N + k] += kord[p.N + k - 1u];
        // now kord[N + k] = end of context k; place from the back (stable: increasing n within k),
        // each end moving down to its context's start
        for (uint m = p.N; m > 0u; m--) {
            uint n = m - 1u, k = uint(cid(n));
            float e = kord[p.N + k] - 1.0;
            kord[p.N + k] = e;
            kord[uint(e)] = float(n);
        }
        // kord[N + k] = start of context k, kord[N + K] = N
        kord[p.N + p.K] = float(p.N);
        return;
    }
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
