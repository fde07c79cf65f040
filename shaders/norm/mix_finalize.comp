#version 450
#extension GL_GOOGLE_include_directive : require
// Forward merge of the mixture methods (mix.glsl), segment s = k*C + c: fold the items' weighted
// (S, mean, M2, X) in a fixed order (Chan), choose batch or fixed statistics, update the running
// statistics (EMA of the mean and of the unbiased weighted variance v S^2 / (S^2 - sum w^2)) and MN's
// mixture (the M-step: mean, variance + floor, weight S / (N P); the E-step already copied the old
// one into ptab), and write seg[2s] = (mean, rstd, S, fixd), seg[2s+1] = (A, B, var, a).
// CPU path: one invocation per segment; GPU path: a workgroup per segment and a shared-memory tree.
#include "mix.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer PART4;
layout(binding = 9) uniform samplerBuffer S1T;   // the same as S1 (read-only), as a texel view
layout(std430, binding = 0) writeonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 1) readonly buffer S1 { float s1[]; };   // mn: gamma | acn: prior_logits
layout(std430, binding = 2) readonly buffer S2 { float s2[]; };   // mn: beta
layout(std430, binding = 3) buffer RM { float rm[]; };
layout(std430, binding = 4) buffer RV { float rv[]; };
layout(std430, binding = 5) buffer S5 { float s5[]; };            // mn: gmm_mean | acn: means
layout(std430, binding = 6) buffer S6 { float s6[]; };            // mn: gmm_var  | acn: raw_var
layout(std430, binding = 7) buffer S7 { float s7[]; };            // mn: gmm_weight

shared vec4 sh[64];

vec4 fold(uint s, uint first, uint stride)
{
    uint k = fdiv(s, p.C, p.invC), c = s - k * p.C;
    vec4 a = vec4(0.0);
    for (uint j = first; j < p.nitem; j += stride) wchan(a, texelFetch(PART4, int(mix_item(c, j) * KS + k)));
    return a;
}

void post(uint s, vec4 acc)
{
    uint k = fdiv(s, p.C, p.invC), c = s - k * p.C;
    float S = acc.x, mean = acc.y, var = S > 0.0 ? acc.z / S : 0.0, lam = 0.0;
    bool fixd = p.use_batch == 0u;
    float M = float(p.N) * float(p.P);
    if (!fixd) {
        if (!ACN) lam = S / M;
        if (p.train != 0u) {
            float den = 2.0 * acc.w;   // S^2 - sum w^2
            if (S > 1e-12 && den > 1e-12 * S * S) {
                float m = p.momentum;
                rm[s] = (1.0 - m) * rm[s] + m * mean;
                rv[s] = (1.0 - m) * rv[s] + m * var * (S * S / den);
            }
            if (!ACN && S > 1e-12 && var + p.f2 > 0.0) {
                s5[s] = mean;
                s6[s] = var + p.f2;
                s7[s] = lam;
            }
        }
    } else {
        S = M;
        if (ACN && p.f3 > 0.5) {   // infer = learned
            mean = s5[s];
            var = softplusf(s6[s]);
        } else {
            mean = rm[s];
            var = rv[s];
        }
        if (!ACN) lam = s7[s];
    }
    float a;
    if (ACN) {
        float mx = -3.0e38, z = 0.0;
        for (uint l = 0u; l < KS; l++) mx = max(mx, texelFetch(S1T, int(l)).x);
        for (uint l = 0u; l < KS; l++) z += exp(texelFetch(S1T, int(l)).x - mx);
        a = inversesqrt(exp(texelFetch(S1T, int(k)).x - mx) / z + p.eps);
    } else {
        a = lam > 0.0 ? inversesqrt(lam) : 0.0;
    }
    float r = inversesqrt(var + p.eps);
    bool aff = !ACN && (p.flags & F_AFFINE) != 0u;
    float g = aff ? texelFetch(S1T, int(c)).x : 1.0, b = aff ? s2[c] : 0.0;
    seg[2u * s] = vec4(mean, r, S, fixd ? 1.0 : 0.0);
    seg[2u * s + 1u] = vec4(a * r * g, b, var, a);
}

void main()
{
    uint nseg = KS * p.C;
    if (!GPU) {
        uint s = flat_group_id() * 64u + gl_LocalInvocationID.x;
        if (s >= nseg) return;
        post(s, p.use_batch != 0u ? fold(s, 0u, 1u) : vec4(0.0));
        return;
    }
    uint s = flat_group_id(), l = gl_LocalInvocationID.x;
    if (s >= nseg) return;   // uniform per workgroup
    sh[l] = p.use_batch != 0u ? fold(s, l, 64u) : vec4(0.0);
    barrier();
    for (uint h = 32u; h > 0u; h >>= 1) {
        if (l < h) { vec4 a = sh[l]; wchan(a, sh[l + h]); sh[l] = a; }
        barrier();
    }
    if (l == 0u) post(s, sh[0]);
}
