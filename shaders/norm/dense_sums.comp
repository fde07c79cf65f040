#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) backward merge of the per-channel segments (bn, ubn, cbn) and the per-(context,
// channel) ones (cn), CPU path (bsum.comp's work, NORMS.md 1.1 (NB)): one invocation per block of
// four channels sums g and g (x - M) over the samples (vec4, lane = channel) and writes its
// channels' backward table entries and parameter gradients. cbn and cn walk the samples context
// by context in kord order (prep.comp), so a context's affine entry is loaded once per context,
// not per row: cbn's per-(k, c) sums give dgamma/dbeta and, weighted by gamma(k, c), the channel's
// H and Q; cn's are its segments. Fixed order, no barriers, one launch.
#include "dense.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X;
layout(binding = 9) uniform samplerBuffer G;
layout(binding = 10) uniform samplerBuffer KORD;
layout(std430, binding = 0) writeonly buffer Btab { vec4 btab[]; };
layout(std430, binding = 1) writeonly buffer Bseg { vec4 bseg[]; };
layout(std430, binding = 2) readonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 3) readonly buffer Gam { float gam[]; };
layout(std430, binding = 4) writeonly buffer D0 { float d0[]; };   // dgamma
layout(std430, binding = 5) writeonly buffer D1 { float d1[]; };   // dbeta
layout(std430, binding = 6) readonly buffer Aux { float aux[]; };  // cn: priors

bool aff() { return (p.flags & F_AFFINE) != 0u; }
float prior_scale(uint k) { return (p.flags & F_PRIOR_SCALE) != 0u ? inversesqrt(aux[k]) : 1.0; }

// sums of g and g (x - M) over positions j0..j1-1 (of kord when ctx)
void sums(uint c0, uint j0, uint j1, bool ctx, vec4 M, out vec4 sg, out vec4 sgx)
{
    sg = vec4(0.0);
    sgx = vec4(0.0);
    for (uint j = j0; j < j1; j++) {
        uint n = ctx ? uint(texelFetch(KORD, int(j)).x) : j;
        vec4 g = ldc(G, n, c0);
        sg += g;
        sgx += g * (ldc(X, n, c0) - M);
    }
}

// (alpha, beta, gamma) of segment statistics st with sums H, Q (as bsum.comp's finish)
vec4 entry(vec4 st, float G, float H, float Q)
{
    float R = st.y, W = max(st.z, 1.0);
    bool fixd = st.w > 0.5;
    return vec4(st.x, R * G, fixd ? 0.0 : -R * R * R * Q / W, fixd ? 0.0 : -R * H / W);
}

void main()
{
    uint cb = flat_group_id() * 64u + gl_LocalInvocationID.x, c0 = 4u * cb;
    if (c0 >= p.C) return;
    uvec4 cc = lane_c(c0);
    bool pg = p.naff != 0u;
    vec4 sg, sgx;
    if (SEG_CTX) {   // cn: segment (k, c) = affine entry (k, c)
        for (uint k = 0u; k < p.K; k++) {
            uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
            vec4 st[4];
            [[unroll]] for (uint l = 0u; l < 4u; l++) st[l] = seg[k * p.C + cc[l]];
            sums(c0, j0, j1, true, vec4(st[0].x, st[1].x, st[2].x, st[3].x), sg, sgx);
            float sc = prior_scale(k);
            [[unroll]] for (uint l = 0u; l < 4u; l++) {
                if (c0 + l >= p.C) break;
                uint s = k * p.C + c0 + l;
                float ga = aff() ? gam[s] : 1.0, Gr = ga * sc;
                bseg[s] = vec4(Gr * sg[l], Gr * sgx[l], 0.0, 0.0);
                btab[s] = entry(st[l], sc * ga, Gr * sg[l], Gr * sgx[l]);
                if (pg) { d0[s] = sc * (st[l].y * sgx[l]); d1[s] = sc * sg[l]; }
            }
        }
        return;
    }
    vec4 st[4];
    [[unroll]] for (uint l = 0u; l < 4u; l++) st[l] = seg[cc[l]];
    vec4 M = vec4(st[0].x, st[1].x, st[2].x, st[3].x), R = vec4(st[0].y, st[1].y, st[2].y, st[3].y);
    if (METHOD != M_CBN) {   // bn, ubn: G = gamma_c for every row
        sums(c0, 0u, p.N, false, M, sg, sgx);
        [[unroll]] for (uint l = 0u; l < 4u; l++) {
            if (c0 + l >= p.C) break;
            uint c = c0 + l;
            float ga = aff() ? gam[c] : 1.0;
            bseg[c] = vec4(ga * sg[l], ga * sgx[l], 0.0, 0.0);
            btab[c] = entry(st[l], ga, ga * sg[l], ga * sgx[l]);
            if (pg) { d0[c] = R[l] * sgx[l]; d1[c] = sg[l]; }
        }
        return;
    }
    // cbn: per-context sums; H, Q of the channel weighted by gamma(k, c)
    vec4 H = vec4(0.0), Q = vec4(0.0);
    for (uint k = 0u; k < p.K; k++) {
        uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
        sums(c0, j0, j1, true, M, sg, sgx);
        vec4 ga = vec4(1.0);
        if (aff()) [[unroll]] for (uint l = 0u; l < 4u; l++) ga[l] = gam[k * p.C + cc[l]];
        H += ga * sg;
        Q += ga * sgx;
        if (pg)
            [[unroll]] for (uint l = 0u; l < 4u; l++) {
                if (c0 + l >= p.C) break;
                d0[k * p.C + c0 + l] = R[l] * sgx[l];
                d1[k * p.C + c0 + l] = sg[l];
            }
    }
    [[unroll]] for (uint l = 0u; l < 4u; l++) {
        if (c0 + l >= p.C) break;
        uint c = c0 + l;
        bseg[c] = vec4(H[l], Q[l], 0.0, 0.0);
        for (uint k = 0u; k < p.K; k++) btab[k * p.C + c] = entry(st[l], aff() ? gam[k * p.C + c] : 1.0, H[l], Q[l]);
    }
}
