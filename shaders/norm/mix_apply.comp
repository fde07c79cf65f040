#version 450
#extension GL_GOOGLE_include_directive : require
// Element-wise pass of the mixture methods (mix.glsl), four elements per invocation, tau recomputed:
//   STAGE 0 (forward):  y  = sum_k tau_k (x - mean_k) A_k + B
//   STAGE 1 (backward): dx = sum_k tau_k (alpha_k g + beta_k (x - M_k) + gamma_k)          (WNB, 5.5 (a))
//                        acn: - sum_k rho_k (x - m_k) / s_k,  rho_k = tau_k (t_k - sum_l tau_l t_l)   (5.5 (e))
//   acn, STAGE 1, invocation 0: the prior-logit gradient from bseg (5.5 (e): dlambda, dp).
#include "mix.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 6) const bool RUNS = false;
// FUSE2 (acn backward, runs): the run also sums stage 2 of mix_rows (the rho sums of 5.5 (c)-(e))
// into part[t K + k], with the same posteriors, masks and order as mix_rows would (so mix_rows is not
// launched for stage 2); the prior-logit gradient then needs bsum2's bseg.w and comes from a later
// launch of this shader with PRIOR (invocation 0 only). FMODE: 0 neither, 1 FUSE2, 2 PRIOR
layout(constant_id = 7) const uint FMODE = 0u;
const bool FUSE2 = FMODE == 1u, PRIOR = FMODE == 2u;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer G4;
layout(binding = 10) uniform samplerBuffer PT4;   // ptab
layout(binding = 11) uniform samplerBuffer TB4;   // forward: seg (2 per segment); backward: mt (2 per segment)
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) readonly buffer XS { float xs[]; };
layout(std430, binding = 2) readonly buffer GS { float gs[]; };
layout(std430, binding = 3) readonly buffer Bseg { vec4 bseg[]; };
layout(std430, binding = 4) writeonly buffer DP { float dp[]; };
layout(std430, binding = 5) writeonly buffer Part { vec4 part[]; };   // FUSE2

vec4 S0[KMAX], S1[KMAX], S2[KMAX];   // FUSE2: stage 2 sums per k, lane-wise

vec4 E0[KMAX], E1[KMAX], E2[KMAX], E3[KMAX], F0[KMAX], F1[KMAX], F2[KMAX], F3[KMAX];

vec4 comp(vec4 e[4], uint i) { return vec4(e[0][i], e[1][i], e[2][i], e[3][i]); }

// one = true (NCHW runs: the four lanes share a channel): one fetch per table entry, not four
void load(uvec4 c, bool one)
{
    uint nl = one ? 1u : 4u;
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec4 e[4];
        for (uint j = 0u; j < nl; j++) e[j] = texelFetch(PT4, int(k * p.C + c[j]));
        if (one) e[1] = e[2] = e[3] = e[0];
        LB[k] = comp(e, 0u); MM[k] = comp(e, 1u); IS[k] = comp(e, 2u);
        for (uint j = 0u; j < nl; j++) e[j] = texelFetch(TB4, int(2u * (k * p.C + c[j])));
        if (one) e[1] = e[2] = e[3] = e[0];
        E0[k] = comp(e, 0u); E1[k] = comp(e, 1u); E2[k] = comp(e, 2u); E3[k] = comp(e, 3u);
        if (STAGE == 0u || ACN) {
            for (uint j = 0u; j < nl; j++) e[j] = texelFetch(TB4, int(2u * (k * p.C + c[j]) + 1u));
            if (one) e[1] = e[2] = e[3] = e[0];
            F0[k] = comp(e, 0u); F1[k] = comp(e, 1u); F2[k] = comp(e, 2u); F3[k] = comp(e, 3u);
        }
    }
}


// m: the lanes that belong to the run (FUSE2's sums only)
vec4 compute(vec4 x, vec4 g, vec4 m)
{
    posterior4(x);
    vec4 o = vec4(0.0);
    if (STAGE == 0u) {
        [[unroll]] for (uint k = 0u; k < KS; k++) o += TAU[k] * (x - E0[k]) * F0[k];
        return o + F1[0];
    }
    vec4 t[KMAX];
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec4 d = x - E0[k];
        o += TAU[k] * (E1[k] * g + E2[k] * d + E3[k]);
        if (ACN) t[k] = F0[k] * g * d + F1[k] * d + F2[k] * d * d + F3[k];
    }
    if (ACN)
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 dt = vec4(0.0);
            [[unroll]] for (uint l = 0u; l < KS; l++) dt += TAU[l] * (t[k] - t[l]);
            o -= TAU[k] * dt * (x - MM[k]) * IS[k];
            if (FUSE2) {   // as mix_rows.comp's process(), STAGE 2
                vec4 rho = TAU[k] * dt * m, e = (x - MM[k]) * IS[k];
                S0[k] += rho * e;
                S1[k] += 0.5 * rho * e * e;
                S2[k] += rho;
            }
        }
    return o;
}

void prior_grad()
{
    float dl[KMAX], lam[KMAX], sl = 0.0;
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        float R = 0.0, GX = 0.0;
        for (uint c = 0u; c < p.C; c++) {
            vec4 b = PRIOR ? texelFetch(TB4, int(k * p.C + c)) : bseg[k * p.C + c];   // PRIOR: bseg as TB4
            R += b.w;
            GX += b.z;
        }
        lam[k] = exp(texelFetch(PT4, int(k * p.C)).x);
        dl[k] = R / lam[k] - 0.5 * pow(lam[k] + p.eps, -1.5) * GX;
        sl += lam[k] * dl[k];
    }
    [[unroll]] for (uint k = 0u; k < KS; k++) dp[k] = lam[k] * (dl[k] - sl);
}

// RUNS (NCHW, P >= 8): invocation = (row (n, c), chunk q) as in stage 1, so the channel's table
// entries are fetched once per run of elements instead of once per four; the vec4 blocks shared
// with the neighbouring rows are written element by element (each element by its own row's run).
// the block v of a run [lo, hi) that is partial or at the tensor's end: bounds-checked loads and
// element stores
void edge(uint v, uint lo, uint hi)
{
    uint base = 4u * v;
    vec4 x, g = vec4(0.0);
    if (base + 3u < p.total) {
        x = texelFetch(X4, int(v));
        if (STAGE == 1u) g = texelFetch(G4, int(v));
    } else {
        x = vec4(0.0);
        for (uint j = 0u; j < 4u; j++)
            if (base + j < p.total) { x[j] = xs[base + j]; if (STAGE == 1u) g[j] = gs[base + j]; }
    }
    vec4 o = compute(x, g, mask4(v, lo, hi));
    if (base >= lo && base + 3u < hi) { y4[v] = o; return; }
    for (uint j = 0u; j < 4u; j++)
        if (base + j >= lo && base + j < hi) y[base + j] = o[j];
}

void runs(uint t)
{
    if (t >= p.N * p.C * p.nchunk) return;
    uint r = t / p.nchunk, q = t - r * p.nchunk;
    uint c = r - (r / p.C) * p.C;
    load(uvec4(c), true);
    if (FUSE2) [[unroll]] for (uint k = 0u; k < KS; k++) S0[k] = S1[k] = S2[k] = vec4(0.0);
    uint lo = r * p.P + q * p.clen, hi = min(lo + p.clen, (r + 1u) * p.P);
    // whole blocks [w0, w1) straight (no bounds checks, vec4 stores); the partial first and last
    uint v0 = lo / 4u, v1 = (hi - 1u) / 4u, w0 = (lo + 3u) / 4u, w1 = max(hi / 4u, w0);
    if (v0 < w0 || v0 >= w1) edge(v0, lo, hi);
    for (uint v = w0; v < w1; v++)
        y4[v] = compute(texelFetch(X4, int(v)), STAGE == 1u ? texelFetch(G4, int(v)) : vec4(0.0), vec4(1.0));
    if (v1 != v0 && v1 >= w1) edge(v1, lo, hi);
    if (FUSE2)
        [[unroll]] for (uint k = 0u; k < KS; k++)
            part[t * KS + k] = vec4(dot(S0[k], vec4(1.0)), dot(S1[k], vec4(1.0)), dot(S2[k], vec4(1.0)), 0.0);
}

void main()
{
    uint v = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * v;
    if (PRIOR) { if (v == 0u) prior_grad(); return; }
    if (ACN && STAGE == 1u && !FUSE2 && v == 0u) prior_grad();
    if (RUNS) { runs(v); return; }   // NCHW (dense inputs on CPU devices: mix_dense_*.comp)
    if (base >= p.total) return;
    uvec4 i = uvec4(base) + uvec4(0u, 1u, 2u, 3u);
    uvec4 ic = min(i, uvec4(p.total - 1u));
    uvec4 c;
    for (uint j = 0u; j < 4u; j++) {
        uint r = fdiv(ic[j], p.P, p.invP);
        c[j] = r - fdiv(r, p.C, p.invC) * p.C;
    }
    load(c, false);
    if (base + 3u < p.total) {
        vec4 x = texelFetch(X4, int(v));
        vec4 g = STAGE == 1u ? texelFetch(G4, int(v)) : vec4(0.0);
        y4[v] = compute(x, g, vec4(1.0));
        return;
    }
    vec4 x = vec4(xs[ic.x], xs[ic.y], xs[ic.z], xs[ic.w]);
    vec4 g = STAGE == 1u ? vec4(gs[ic.x], gs[ic.y], gs[ic.z], gs[ic.w]) : vec4(0.0);
    vec4 o = compute(x, g, vec4(1.0));
    for (uint j = 0u; j < 4u; j++)
        if (i[j] < p.total) y[i[j]] = o[j];
}
