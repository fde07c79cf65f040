#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1, [N, C]) forward of the mixture methods (mix.glsl), CPU path, one launch: an
// invocation owns a block of four channels c0..c0+3 (lane = channel) and every sample, so
//   1. it builds the E-step table of its channels in registers, in base 2 (posterior4_2 of mix.glsl:
//      acn: log2 lambda, lambda = softmax(prior logits), means, log2(e) / (2 s), s = softplus(raw_var)
//      + eps; mn: log2 w - 1/2 log2 v, gmm_mean, log2(e) / (2 v)); mn keeps it in tab for the
//      backward (its M-step overwrites its own channels' mixture below);
//   2. folds the samples with a posterior-weighted Welford update per component (S, mean, M2 and
//      X = sum_{i<j} w_i w_j, so S^2 - sum w^2 = 2 X comes without cancellation);
//   3. does mix_finalize.comp's work for its (k, c) lane-wise: batch or fixed statistics, the
//      running update, mn's M-step, the coefficients (mean_k, A_k = a_k r_k gamma, B = beta);
//   4. writes y = sum_k tau_k (x - mean_k) A_k + B over its samples again (cache-hot; the
//      posteriors recomputed, K exponentials per element).
// No partials, no barriers. For mix_dense_bwd.comp, tab[(k ncb + cb) 8 + j] (lane = channel):
// j = 3 mean, 4 var, 5 S; mn also 0 LB, 1 MM, 2 IS (its E-step, base 2, before the M-step
// overwrote the mixture). The backward recomputes the rest: acn's E-step from its learned
// parameters (which do not change between a forward and its backward), a_k from S (batch) or
// gmm_weight (fixed statistics: no M-step). Storage stores are the expensive
// operation on llvmpipe (a per-lane loop per vec4): the table is kept small.
#include "mix.glsl"
layout(local_size_x = 8) in;
layout(constant_id = 6) const bool AFF = false;   // mn with gamma, beta
// what is only read comes through texel views (gathers; a storage load is a per-lane loop), the
// per-channel and per-(k, c) ones RGBA32F when C % 4 == 0 (DC4), else R32F
layout(binding = 8) uniform samplerBuffer X;
layout(binding = 9) uniform samplerBuffer T1;     // acn: means      | mn: gamma
layout(binding = 10) uniform samplerBuffer T2;    // acn: raw_var    | mn: beta
layout(binding = 11) uniform samplerBuffer T3;    // acn: prior logits (R32F) | mn: gmm_weight
layout(binding = 12) uniform samplerBuffer RMT;   // running_mean, running_var (also bindings 1, 2)
layout(binding = 13) uniform samplerBuffer RVT;
layout(std430, binding = 0) writeonly buffer Tab { vec4 tab[]; };
layout(std430, binding = 1) buffer RM { float rm[]; };
layout(std430, binding = 1) buffer RM4 { vec4 rm4[]; };
layout(std430, binding = 2) buffer RV { float rv[]; };
layout(std430, binding = 2) buffer RV4 { vec4 rv4[]; };
layout(std430, binding = 3) buffer Q0 { float q0[]; };    // mn: gmm_mean
layout(std430, binding = 3) buffer Q04 { vec4 q04[]; };
layout(std430, binding = 4) buffer Q1 { float q1[]; };    // mn: gmm_var
layout(std430, binding = 4) buffer Q14 { vec4 q14[]; };
layout(std430, binding = 5) buffer Q2 { float q2[]; };    // mn: gmm_weight (also T3)
layout(std430, binding = 5) buffer Q24 { vec4 q24[]; };
layout(std430, binding = 6) writeonly buffer Y { float y[]; };
layout(std430, binding = 6) writeonly buffer Y4 { vec4 y4[]; };

// four consecutive entries e0..e0+3 of a per-(k, c) or per-channel buffer (lanes past C: e0), and
// the store of the lanes below C; whole vec4 accesses when C % 4 == 0 (e0 is then aligned)
#define LDST4(NAME, B, B4)                                                                  \
    vec4 NAME##_ld(uint e0, uint c0)                                                        \
    {                                                                                       \
        if (DC4) return B4[e0 >> 2];                                                        \
        vec4 r;                                                                             \
        [[unroll]] for (uint l = 0u; l < 4u; l++) r[l] = B[c0 + l < p.C ? e0 + l : e0];     \
        return r;                                                                           \
    }                                                                                       \
    void NAME##_st(uint e0, uint c0, vec4 v)                                                \
    {                                                                                       \
        if (DC4) { B4[e0 >> 2] = v; return; }                                               \
        [[unroll]] for (uint l = 0u; l < 4u; l++) if (c0 + l < p.C) B[e0 + l] = v[l];       \
    }
LDST4(rm, rm, rm4)
LDST4(rv, rv, rv4)
LDST4(q0, q0, q04)
LDST4(q1, q1, q14)
LDST4(q2, q2, q24)

vec4 A0[KMAX], A1[KMAX], A2[KMAX], A3[KMAX];   // Welford (S, mean, M2, X) per k; then mean_k, A_k
float AK[KMAX];                                // acn: a_k = 1/sqrt(lambda_k + eps)
vec4 ORM[KMAX], ORV[KMAX];                     // the running statistics
vec4 OV[KMAX], OW[KMAX];                       // mn: the old variances and weights; acn: softplus(raw_var)

void main()
{
    uint cb = flat_group_id() * 8u + gl_LocalInvocationID.x, c0 = 4u * cb;
    if (cb >= p.ncb) return;
    // 1. the E-step table of channels c0..c0+3, and every value of its (k, c) that step 3 needs:
    // all loads before any store (a reload after this invocation's stores costs as much as the
    // whole M-step on llvmpipe)
    bool batch = p.use_batch != 0u, train = p.train != 0u;
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        uint e0 = k * p.C + c0;
        if (!batch || train) { ORM[k] = tex4(RMT, e0, c0); ORV[k] = tex4(RVT, e0, c0); }
    }
    if (ACN) {
        float mx = -3.0e38, z = 0.0;
        [[unroll]] for (uint k = 0u; k < KS; k++) mx = max(mx, texelFetch(T3, int(k)).x);
        [[unroll]] for (uint k = 0u; k < KS; k++) z += exp(texelFetch(T3, int(k)).x - mx);
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            float lam = exp(texelFetch(T3, int(k)).x - mx) / z;
            uint e0 = k * p.C + c0;
            LB[k] = vec4(log2(lam));
            MM[k] = tex4(T1, e0, c0);
            OV[k] = softplus4(tex4(T2, e0, c0));   // the learned variance (infer = learned)
            IS[k] = (0.5 * LOG2E) / (OV[k] + p.eps);
            AK[k] = inversesqrt(lam + p.eps);
        }
    } else {
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            uint e0 = k * p.C + c0;
            OW[k] = tex4(T3, e0, c0);
            OV[k] = q1_ld(e0, c0);
            LB[k] = mix(vec4(-1.0e30), log2(OW[k]), greaterThan(OW[k], vec4(0.0))) - 0.5 * log2(OV[k]);
            MM[k] = q0_ld(e0, c0);
            IS[k] = (0.5 * LOG2E) / OV[k];
        }
    }
    // 2. posterior-weighted Welford over the samples (batch statistics only)
    [[unroll]] for (uint k = 0u; k < KS; k++) A0[k] = A1[k] = A2[k] = A3[k] = vec4(0.0);
    uint nb = p.use_batch != 0u ? p.N : 0u;
    for (uint n = 0u; n < nb; n++) {
        vec4 x = ldc(X, n, c0);
        vec4 iz = posterior4_2(x);
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 w = TAU[k] * iz, S = A0[k] + w;
            vec4 d = x - A1[k];
            vec4 f = w / max(S, vec4(1.1754944e-38));   // S = 0 only where w = 0 (f = 0); FLT_MIN: no denormal operand
            vec4 mn = A1[k] + d * f;
            A2[k] += w * d * (x - mn);
            A3[k] += w * A0[k];
            A1[k] = mn;
            A0[k] = S;
        }
    }
    // 3. statistics, running update, M-step, coefficients (mix_finalize.comp's post(), lane-wise)
    float M = float(p.N);
    vec4 ga = AFF ? ldc(T1, 0u, c0) : vec4(1.0), be = AFF ? ldc(T2, 0u, c0) : vec4(0.0);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        uint e0 = k * p.C + c0, tb = (k * p.ncb + cb) * 8u;
        vec4 S = A0[k], mean = A1[k], var = mix(vec4(0.0), A2[k] / max(S, vec4(1.1754944e-38)), greaterThan(S, vec4(0.0)));
        vec4 lam = vec4(0.0);
        if (batch) {
            if (!ACN) lam = S / M;
            if (train) {
                vec4 den = 2.0 * A3[k];   // S^2 - sum w^2
                bvec4 up = bvec4(uvec4(greaterThan(S, vec4(1e-12))) & uvec4(greaterThan(den, 1e-12 * S * S)));
                float m = p.momentum;
                rm_st(e0, c0, mix(ORM[k], (1.0 - m) * ORM[k] + m * mean, up));
                rv_st(e0, c0, mix(ORV[k], (1.0 - m) * ORV[k] + m * var * (S * S / den), up));
                if (!ACN) {   // the M-step: this invocation's channels only (the old mixture: MM, OV, OW)
                    bvec4 ok = bvec4(uvec4(greaterThan(S, vec4(1e-12))) & uvec4(greaterThan(var + p.f2, vec4(0.0))));
                    q0_st(e0, c0, mix(MM[k], mean, ok));
                    q1_st(e0, c0, mix(OV[k], var + p.f2, ok));
                    q2_st(e0, c0, mix(OW[k], lam, ok));
                }
            }
        } else {
            S = vec4(M);
            if (ACN && p.f3 > 0.5) {   // infer = learned
                mean = MM[k];
                var = OV[k];
            } else {
                mean = ORM[k];
                var = ORV[k];
            }
            if (!ACN) lam = OW[k];
        }
        vec4 a = ACN ? vec4(AK[k]) : mix(vec4(0.0), inversesqrt(lam), greaterThan(lam, vec4(0.0)));
        vec4 r = inversesqrt(var + p.eps);
        if (!ACN) {
            tab[tb] = LB[k];
            tab[tb + 1u] = MM[k];
            tab[tb + 2u] = IS[k];
        }
        tab[tb + 3u] = mean;
        tab[tb + 4u] = var;
        tab[tb + 5u] = S;
        A0[k] = mean;
        A1[k] = a * r * ga;
    }
    // 4. y over the samples again
    for (uint n = 0u; n < p.N; n++) {
        vec4 x = ldc(X, n, c0);
        vec4 iz = posterior4_2(x), o = vec4(0.0);
        [[unroll]] for (uint k = 0u; k < KS; k++) o += TAU[k] * (x - A0[k]) * A1[k];
        o = o * iz + be;
        uint b = n * p.C + c0;
        if (DC4) y4[b >> 2] = o;
        else [[unroll]] for (uint l = 0u; l < 4u; l++)
            if (c0 + l < p.C) y[b + l] = o[l];
    }
}
