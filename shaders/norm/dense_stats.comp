#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) forward statistics of the per-channel segments (bn, ubn, cbn) and the per-(context,
// channel) ones (cn), CPU path: one invocation per block of four channels walks the samples with a
// vec4 Welford update (lane = channel) and then does stage 2's work for its channels (post(),
// norm_post.glsl): no partials, no barriers, one launch. cn walks each context's samples in the
// order of kord (prep.comp: sorted by context, increasing n), so a sample is read once.
#include "dense.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X;
layout(binding = 9) uniform samplerBuffer KORD;
layout(std430, binding = 0) writeonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 1) writeonly buffer Ftab { vec4 ftab[]; };
layout(std430, binding = 2) readonly buffer Gam { float gam[]; };
layout(std430, binding = 3) readonly buffer Bet { float bet[]; };
layout(std430, binding = 4) buffer RM { float rm[]; };
layout(std430, binding = 5) buffer RV { float rv[]; };
layout(std430, binding = 6) readonly buffer Aux { float aux[]; };  // cn: priors; ubn: (sim, above)

#include "norm_post.glsl"

// Welford over positions j0..j1-1 (of kord when CTX, else samples themselves)
void fold(uint c0, uint j0, uint j1, bool ctx, out vec4 mean, out vec4 m2, out float cnt)
{
    mean = vec4(0.0);
    m2 = vec4(0.0);
    cnt = 0.0;
    for (uint j = j0; j < j1; j++) {
        uint n = ctx ? uint(texelFetch(KORD, int(j)).x) : j;
        vec4 x = ldc(X, n, c0);
        cnt += 1.0;
        vec4 d = x - mean;
        mean += d * (1.0 / cnt);
        m2 += d * (x - mean);
    }
}

void finish(uint s0, uint c0, vec4 mean, vec4 m2, float cnt)
{
    [[unroll]] for (uint l = 0u; l < 4u; l++) {
        if (c0 + l >= p.C) break;
        uint s = s0 + l;
        vec4 st = post(s, vec3(cnt, mean[l], m2[l]));
        seg[s] = st;
        uint ne = nentries(s);
        for (uint j = 0u; j < ne; j++) write_entry(s, j, st);
    }
}

void main()
{
    uint cb = flat_group_id() * 64u + gl_LocalInvocationID.x, c0 = 4u * cb;
    if (c0 >= p.C) return;
    bool need = p.use_batch != 0u;
    vec4 mean, m2;
    float cnt;
    if (!SEG_CTX) {
        fold(c0, 0u, need ? p.N : 0u, false, mean, m2, cnt);
        finish(c0, c0, mean, m2, need ? cnt : 0.0);
        return;
    }
    for (uint k = 0u; k < p.K; k++) {
        uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
        fold(c0, j0, need ? j1 : j0, true, mean, m2, cnt);
        finish(k * p.C + c0, c0, mean, m2, cnt);
    }
}
