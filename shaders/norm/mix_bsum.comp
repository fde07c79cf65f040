#version 450
#extension GL_GOOGLE_include_directive : require
// Backward merges of the mixture methods (mix.glsl), from the items of mix_rows.comp:
// STAGE 1, t < K*C: segment s: Hs = sum g tau, Gs = sum g tau (x - M); writes bseg[s] and the
//   tables mt[2s] = (M, alpha = A, beta = -A r^2 Gs / S, gamma = -A Hs / S)  (WNB per component;
//   zero beta, gamma for fixed statistics) and, acn, mt[2s+1] = the coefficients of dL/dtau (5.5 (b),(c)):
//   H = a Hs, G = a r Gs: c1 = r a, c2 = -H r / S, c3 = -G r^2 / (2 S), c4 = G r^2 v / (2 S).
//   mn, K*C <= t < K*C + naff: dbeta_c = sum g, dgamma_c = sum_k a_k r_k Gs_kc.
// STAGE 2 (acn), t < K*C: dmeans = sum rho (x - m)/s, draw_var = sum rho (x - m)^2/(2 s^2) sigmoid(u),
//   bseg[s].w = sum rho (mix_apply.comp's first invocation turns it into the prior gradient).
// CPU path: one invocation per output; GPU path: a workgroup per output, shared-memory tree.
#include "mix.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer PART4;
layout(binding = 9) uniform samplerBuffer SEG4;   // seg as a texel view (no per-lane storage loads)
layout(binding = 10) uniform samplerBuffer U1;    // u as a texel view (acn stage 2: raw_var)
layout(std430, binding = 0) buffer Mt { vec4 mt[]; };        // stage 2: unused
layout(std430, binding = 1) buffer Bseg { vec4 bseg[]; };
layout(std430, binding = 2) readonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 3) writeonly buffer D0 { float d0[]; };   // mn: dgamma | acn (stage 2): dmeans
layout(std430, binding = 4) writeonly buffer D1 { float d1[]; };   // mn: dbeta  | acn (stage 2): draw_var
layout(std430, binding = 5) readonly buffer U { float u[]; };      // acn: raw_var

shared vec4 sh[64];

vec4 fold(uint t, uint first, uint stride)
{
    vec4 a = vec4(0.0);
    uint nseg = KS * p.C;
    if (t < nseg) {
        uint k = fdiv(t, p.C, p.invC), c = t - k * p.C;
        for (uint j = first; j < p.nitem; j += stride) a += texelFetch(PART4, int(mix_item(c, j) * KS + k));
        return a;
    }
    uint c = t - nseg;   // mn parameters: items (k, j) in order
    for (uint i = first; i < KS * p.nitem; i += stride) {
        uint k = i / p.nitem, j = i - k * p.nitem;
        vec4 v = texelFetch(PART4, int(mix_item(c, j) * KS + k));
        uint s = k * p.C + c;
        a += vec4(v.x, texelFetch(SEG4, int(2u * s + 1u)).w * texelFetch(SEG4, int(2u * s)).y * v.y, 0.0, 0.0);
    }
    return a;
}

void finish(uint t, vec4 acc)
{
    uint nseg = KS * p.C;
    if (STAGE == 2u) {
        d0[t] = acc.x;
        d1[t] = acc.y * sigmoidf(texelFetch(U1, int(t)).x);
        vec4 b = bseg[t];
        bseg[t] = vec4(b.xyz, acc.z);
        return;
    }
    if (t >= nseg) {
        uint c = t - nseg;
        d0[c] = acc.y;
        d1[c] = acc.x;
        return;
    }
    vec4 st = texelFetch(SEG4, int(2u * t)), st2 = texelFetch(SEG4, int(2u * t + 1u));
    float r = st.y, S = st.z, A = st2.x, v = st2.z, a = st2.w;
    float W = S > 0.0 ? S : 1.0, Hs = acc.x, Gs = acc.y;
    bool fixd = st.w > 0.5;
    mt[2u * t] = vec4(st.x, A, fixd ? 0.0 : -A * r * r * Gs / W, fixd ? 0.0 : -A * Hs / W);
    if (ACN) {
        float H = a * Hs, G = a * r * Gs;
        float q = S > 0.0 ? 1.0 / S : 0.0;
        mt[2u * t + 1u] = vec4(r * a, -H * r * q, -0.5 * G * r * r * q, 0.5 * G * r * r * v * q);
    }
    bseg[t] = vec4(Hs, Gs, r * Gs, 0.0);
}

void main()
{
    uint total_out = STAGE == 2u ? KS * p.C : KS * p.C + p.naff;
    if (!GPU) {
        uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
        if (t >= total_out) return;
        finish(t, fold(t, 0u, 1u));
        return;
    }
    uint t = flat_group_id(), l = gl_LocalInvocationID.x;
    if (t >= total_out) return;
    sh[l] = fold(t, l, 64u);
    barrier();
    for (uint h = 32u; h > 0u; h >>= 1) {
        if (l < h) sh[l] += sh[l + h];
        barrier();
    }
    if (l == 0u) finish(t, sh[0]);
}
