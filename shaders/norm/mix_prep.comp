#version 450
#extension GL_GOOGLE_include_directive : require
// E-step table of the mixture methods (mix.glsl), one invocation per (k, c):
//   acn: lambda = softmax_k(prior_logits), ptab = (log lambda_k, means, 1/(softplus(raw_var) + eps),
//        1/sqrt(lambda_k + eps))
//   mn:  ptab = (log w - 1/2 log v, gmm_mean, 1/gmm_var, 0)   (the Gaussian E-step, warm start)
// Copying the E-step parameters first lets the merge overwrite MN's mixture in place.
#include "mix.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) writeonly buffer Ptab { vec4 ptab[]; };
// the parameters through texel views (R32F): storage loads at per-lane addresses are per-lane loops
layout(binding = 8) uniform samplerBuffer S0;    // acn: means       | mn: gmm_mean
layout(binding = 9) uniform samplerBuffer S1;    // acn: raw_var     | mn: gmm_var
layout(binding = 10) uniform samplerBuffer S2;   // acn: prior_logits | mn: gmm_weight
float s0(uint i) { return texelFetch(S0, int(i)).x; }
float s1(uint i) { return texelFetch(S1, int(i)).x; }
float s2(uint i) { return texelFetch(S2, int(i)).x; }
void main()
{
    uint s = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (s >= KS * p.C) return;
    uint k = fdiv(s, p.C, p.invC);
    if (ACN) {
        float mx = -3.0e38;
        for (uint l = 0u; l < KS; l++) mx = max(mx, s2(l));
        float z = 0.0;
        for (uint l = 0u; l < KS; l++) z += exp(s2(l) - mx);
        float lam = exp(s2(k) - mx) / z;
        ptab[s] = vec4(log(lam), s0(s), 1.0 / (softplusf(s1(s)) + p.eps), inversesqrt(lam + p.eps));
    } else {
        float w = s2(s), v = s1(s);
        ptab[s] = vec4((w > 0.0 ? log(w) : -1.0e30) - 0.5 * log(v), s0(s), 1.0 / v, 0.0);
    }
}
