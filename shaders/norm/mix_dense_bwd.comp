#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1, [N, C]) backward of the mixture methods (mix.glsl, NORMS.md 5.5, 6.5), CPU path:
// STAGE 1, one launch: an invocation owns a block of four channels (lane = channel) and every sample,
// with the forward's table (mix_dense_fwd.comp) in registers:
//   1. sums Hs_k = sum g tau_k and Gs_k = sum g tau_k (x - mean_k) (mn: and sum g);
//   2. forms the (WNB) coefficients per component, dx = sum_k tau_k (alpha_k g + beta_k d_k + gamma_k)
//      with d_k = x - mean_k (mix_bsum.comp's mt[2s]), acn's coefficients of dL/dtau_k =
//      c1 g d + c2 d + c3 d^2 + c4 (mt[2s+1]); mn writes dgamma = sum_k a_k r_k Gs_k, dbeta = sum g;
//   3. walks its samples again: dx, and for acn the gradient through the posteriors (5.5 (c)-(e):
//      rho_k = tau_k sum_l tau_l (t_k - t_l), dx -= sum_k rho_k (x - m_k)/s_k) with the sums of
//      rho (x - m)/s, rho (x - m)^2/(2 s^2) and rho per (k, c): dmeans and draw_var are written
//      directly, the prior gradient needs every channel: the block's sums of rho and of
//      r Gs (= sum g xhat tau) go to bs[k ncb + cb] for STAGE 2.
// STAGE 2 (acn), one workgroup: R_k = sum rho, GX_k = sum r Gs over the blocks (in a fixed order),
//   dlambda_k = R_k / lambda_k - 1/2 (lambda_k + eps)^-3/2 GX_k, dp_k = lambda_k (dlambda_k - sum_l
//   lambda_l dlambda_l).
// acn recomputes the E-step table from its parameters (the forward's tab holds mean, var, S only);
// the posteriors are recomputed in base 2 with the normalization applied once per sum (mix.glsl
// posterior4_2). STAGE 1 has no partials per sample chunk and no barriers; fixed order throughout.
#include "mix.glsl"
layout(local_size_x = 8) in;
layout(constant_id = 6) const bool AFF = false;   // mn with gamma, beta
layout(binding = 8) uniform samplerBuffer X;      // x, g: RGBA32F when C % 4 == 0 (DC4), else R32F
layout(binding = 9) uniform samplerBuffer G;
layout(binding = 10) uniform samplerBuffer TAB;   // the forward's table (RGBA32F)
layout(binding = 11) uniform samplerBuffer GAM;   // mn: gamma (as X); acn: raw_var (as X)
layout(binding = 12) uniform samplerBuffer MU;    // acn: means | mn: gmm_weight (as X)
layout(binding = 13) uniform samplerBuffer PL;    // acn: prior logits (R32F)
layout(std430, binding = 0) writeonly buffer DX { float dx[]; };
layout(std430, binding = 0) writeonly buffer DX4 { vec4 dx4[]; };
layout(std430, binding = 1) writeonly buffer D0 { float d0[]; };   // acn: dmeans   | mn: dgamma
layout(std430, binding = 1) writeonly buffer D04 { vec4 d04[]; };
layout(std430, binding = 2) writeonly buffer D1 { float d1[]; };   // acn: draw_var | mn: dbeta
layout(std430, binding = 2) writeonly buffer D14 { vec4 d14[]; };
layout(std430, binding = 3) buffer Bs { vec4 bs[]; };              // acn: (sum rho, sum r Gs) per (k, block)
layout(std430, binding = 4) writeonly buffer DP { float dp[]; };   // acn: prior-logit gradient (STAGE 2)

// acn: lambda = softmax(prior logits) (as mix_dense_fwd.comp)
float lambda(uint k)
{
    float mx = -3.0e38, z = 0.0;
    [[unroll]] for (uint l = 0u; l < KS; l++) mx = max(mx, texelFetch(PL, int(l)).x);
    [[unroll]] for (uint l = 0u; l < KS; l++) z += exp(texelFetch(PL, int(l)).x - mx);
    return exp(texelFetch(PL, int(k)).x - mx) / z;
}

void st4(uint e0, uint c0, vec4 a, vec4 b)   // d0, d1 entries e0..e0+3 (lanes below C)
{
    if (DC4) { d04[e0 >> 2] = a; d14[e0 >> 2] = b; return; }
    [[unroll]] for (uint l = 0u; l < 4u; l++)
        if (c0 + l < p.C) { d0[e0 + l] = a[l]; d1[e0 + l] = b[l]; }
}

vec4 ME[KMAX], AL[KMAX], BE[KMAX], GM[KMAX];   // mean_k; (WNB) alpha, beta, gamma
vec4 T1[KMAX], T2[KMAX], T3[KMAX], T4[KMAX];   // acn: dL/dtau coefficients c1..c4
vec4 S0[KMAX], S1[KMAX], S2[KMAX];             // acn: sums of rho (x-m)/s, rho (x-m)^2/s^2, rho
float GX[KMAX];                                // acn: the block's sum of r Gs (= sum g xhat tau)
float AK[KMAX];                                // acn: a_k = 1/sqrt(lambda_k + eps)
vec4 SP[KMAX], RS[KMAX];                       // acn: sigmoid(raw_var) (d softplus / d raw_var), 1/s

// STAGE 2: the 8 invocations of the one workgroup sum consecutive runs of the blocks' (sum rho,
// sum r Gs), invocation 0 adds the 8 partial sums in order (fixed order, one barrier)
shared vec2 part8[8][KMAX];

void prior_grad(uint j)
{
    uint q = (p.ncb + 7u) / 8u, b0 = min(j * q, p.ncb), b1 = min(b0 + q, p.ncb);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec2 a = vec2(0.0);
        for (uint cb = b0; cb < b1; cb++) a += bs[k * p.ncb + cb].xy;
        part8[j][k] = a;
    }
    barrier();
    if (j != 0u) return;
    float dl[KMAX], lam[KMAX], sl = 0.0;
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec2 a = vec2(0.0);
        for (uint i = 0u; i < 8u; i++) a += part8[i][k];
        lam[k] = lambda(k);
        dl[k] = a.x / lam[k] - 0.5 * pow(lam[k] + p.eps, -1.5) * a.y;
        sl += lam[k] * dl[k];
    }
    [[unroll]] for (uint k = 0u; k < KS; k++) dp[k] = lam[k] * (dl[k] - sl);
}

void main()
{
    uint cb = flat_group_id() * 8u + gl_LocalInvocationID.x, c0 = 4u * cb;
    if (STAGE == 2u) {
        prior_grad(gl_LocalInvocationID.x);
        return;
    }
    if (cb >= p.ncb) return;
    vec4 lm = vec4(lessThan(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.C)));   // lanes below C
    [[unroll]] for (uint k = 0u; k < KS; k++) {   // the forward's E-step table (base 2, mix.glsl) and means
        uint tb = (k * p.ncb + cb) * 8u;
        if (ACN) {
            float lam = lambda(k);
            uint e0 = k * p.C + c0;
            vec4 u = tex4(GAM, e0, c0), m = tex4(MU, e0, c0);
            LB[k] = vec4(log2(lam));
            MM[k] = m;
            vec4 sv = softplus4(u) + p.eps;
            IS[k] = (0.5 * LOG2E) / sv;   // as the forward computed it
            RS[k] = 1.0 / sv;
            AK[k] = inversesqrt(lam + p.eps);
            SP[k] = sigmoid4(u);
        } else {
            LB[k] = texelFetch(TAB, int(tb));
            MM[k] = texelFetch(TAB, int(tb + 1u));
            IS[k] = texelFetch(TAB, int(tb + 2u));
        }
        ME[k] = texelFetch(TAB, int(tb + 3u));
        S0[k] = S1[k] = vec4(0.0);
    }
    // 1. Hs_k (S0), Gs_k (S1), sum g (sg)
    vec4 sg = vec4(0.0);
    for (uint n = 0u; n < p.N; n++) {
        vec4 x = ldc(X, n, c0), g = ldc(G, n, c0);
        vec4 gz = g * posterior4_2(x);
        sg += g;
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 h = gz * TAU[k];
            S0[k] += h;
            S1[k] += h * (x - ME[k]);
        }
    }
    // 2. the coefficients (mix_bsum.comp's finish(), lane-wise)
    bool fixd = p.use_batch == 0u;
    vec4 ga = AFF ? ldc(GAM, 0u, c0) : vec4(1.0), dgam = vec4(0.0);
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        uint tb = (k * p.ncb + cb) * 8u;
        vec4 v = texelFetch(TAB, int(tb + 4u)), S = texelFetch(TAB, int(tb + 5u));
        vec4 r = inversesqrt(v + p.eps), a = vec4(AK[k]);
        if (!ACN) {   // as the forward: lambda = S / N (batch), gmm_weight (fixed statistics)
            uint e0 = k * p.C + c0;
            vec4 lam = fixd ? tex4(MU, e0, c0) : S / float(p.N);
            a = mix(vec4(0.0), inversesqrt(lam), greaterThan(lam, vec4(0.0)));
        }
        vec4 A = a * r * ga, Hs = S0[k], Gs = S1[k];
        vec4 iw = 1.0 / mix(vec4(1.0), S, greaterThan(S, vec4(0.0)));
        AL[k] = A;
        BE[k] = fixd ? vec4(0.0) : -A * r * r * Gs * iw;
        GM[k] = fixd ? vec4(0.0) : -A * Hs * iw;
        if (ACN) {
            vec4 H = a * Hs, Gg = a * r * Gs;
            vec4 q = mix(vec4(0.0), iw, greaterThan(S, vec4(0.0)));
            T1[k] = r * a;
            T2[k] = -H * r * q;
            T3[k] = -0.5 * Gg * r * r * q;
            T4[k] = 0.5 * Gg * r * r * v * q;
            // the prior gradient's sum g xhat tau = r Gs, summed over the block's channels in order
            GX[k] = dot(r * Gs * lm, vec4(1.0));
            S0[k] = S1[k] = S2[k] = vec4(0.0);
        } else {
            dgam += a * r * Gs;
        }
    }
    if (!ACN && AFF) st4(c0, c0, dgam, sg);
    // 3. dx (and acn's sums through the posteriors) over the samples again
    for (uint n = 0u; n < p.N; n++) {
        vec4 x = ldc(X, n, c0), g = ldc(G, n, c0);
        vec4 iz = posterior4_2(x), o = vec4(0.0);
        vec4 t[KMAX], dt[KMAX];
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 d = x - ME[k];
            o += TAU[k] * (AL[k] * g + BE[k] * d + GM[k]);
            if (ACN) t[k] = (T1[k] * g + T2[k] + T3[k] * d) * d + T4[k];
        }
        o *= iz;
        if (ACN) {
            // dt_k = sum_l tau_l (t_k - t_l), each difference formed once (D_lk = -D_kl), the terms
            // of dt_k added in increasing l as in mix_apply.comp
            [[unroll]] for (uint k = 0u; k < KS; k++) { TAU[k] *= iz; dt[k] = vec4(0.0); }
            [[unroll]] for (uint k = 0u; k < KS; k++)
                [[unroll]] for (uint l = 0u; l < KS; l++)
                    if (l > k) {   // constant after unrolling
                        vec4 D = t[k] - t[l];
                        dt[k] += TAU[l] * D;
                        dt[l] -= TAU[k] * D;
                    }
            [[unroll]] for (uint k = 0u; k < KS; k++) {
                vec4 rho = TAU[k] * dt[k], e = (x - MM[k]) * RS[k], re = rho * e;
                o -= re;
                S0[k] += re;
                S1[k] += re * e;   // times 1/2 at the end
                S2[k] += rho;
            }
        }
        uint b = n * p.C + c0;
        if (DC4) dx4[b >> 2] = o;
        else [[unroll]] for (uint l = 0u; l < 4u; l++)
            if (c0 + l < p.C) dx[b + l] = o[l];
    }
    if (ACN)
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            uint e0 = k * p.C + c0;
            st4(e0, c0, S0[k], 0.5 * S1[k] * SP[k]);
            bs[k * p.ncb + cb] = vec4(dot(S2[k] * lm, vec4(1.0)), GX[k], 0.0, 0.0);
        }
}
