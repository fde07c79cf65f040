#version 450
#extension GL_GOOGLE_include_directive : require
// Stage 1 of the mixture methods (mix.glsl): per-item partial sums, tau recomputed per element.
//   NCHW: invocation = (row (n,c), chunk q), four consecutive elements per step (lanes), lanes
//         merged at the end in a fixed order;
//   DENSE: invocation = (block of 4 channels, chunk of samples), one vec4 of channels per sample.
//   STAGE 0 (forward):  (S, mean, M2, X) of the weights tau_k     (weighted Welford, then Chan)
//   STAGE 1 (backward): (sum g tau_k, sum g tau_k (x - M_k), 0, 0)
//   STAGE 2 (acn backward, 5.5 (c)-(e)): (sum rho_k (x - m_k)/s_k, sum rho_k (x - m_k)^2/(2 s_k^2), sum rho_k, 0)
#include "mix.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer X1;
layout(binding = 10) uniform samplerBuffer G4;
layout(binding = 11) uniform samplerBuffer G1;
layout(std430, binding = 0) writeonly buffer Part { vec4 part[]; };
layout(std430, binding = 1) readonly buffer Ptab { vec4 ptab[]; };
layout(std430, binding = 2) readonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 3) readonly buffer Mt { vec4 mt[]; };

vec4 A0[KMAX], A1[KMAX], A2[KMAX], A3[KMAX];   // accumulators per k, lane-wise
vec4 MK[KMAX], T1[KMAX], T2[KMAX], T3[KMAX], T4[KMAX];

// four channels c0..c0+3 of sample n (zeros past C)
vec4 ldc4(samplerBuffer t4, samplerBuffer t1, uint n, uint c0)
{
    uint b = n * p.C + c0;
    if (DC4) return texelFetch(t4, int(b / 4u));
    vec4 r = vec4(0.0);
    for (uint j = 0u; j < 4u; j++)
        if (c0 + j < p.C) r[j] = texelFetch(t1, int(b + j)).x;
    return r;
}

void process(vec4 x, vec4 g, vec4 m)
{
    posterior4(x);
    if (STAGE == 0u) {
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 w = TAU[k] * m, S = A0[k] + w;
            vec4 d = x - A1[k];
            vec4 f = mix(vec4(0.0), w / max(S, vec4(1e-38)), greaterThan(S, vec4(0.0)));
            vec4 mn = A1[k] + d * f;
            A2[k] += w * d * (x - mn);
            A3[k] += w * A0[k];
            A1[k] = mn;
            A0[k] = S;
        }
    } else if (STAGE == 1u) {
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 h = g * TAU[k] * m;
            A0[k] += h;
            A1[k] += h * (x - MK[k]);
        }
    } else {
        vec4 t[KMAX];
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 d = x - MK[k];
            t[k] = T1[k] * g * d + T2[k] * d + T3[k] * d * d + T4[k];
        }
        [[unroll]] for (uint k = 0u; k < KS; k++) {
            vec4 dt = vec4(0.0);
            [[unroll]] for (uint l = 0u; l < KS; l++) dt += TAU[l] * (t[k] - t[l]);
            vec4 rho = TAU[k] * dt * m, e = (x - MM[k]) * IS[k];
            A0[k] += rho * e;
            A1[k] += 0.5 * rho * e * e;
            A2[k] += rho;
        }
    }
}

// one = true (NCHW: the four lanes share a channel): one load per table entry, not four
void load_tables(uvec4 c, bool one)
{
    uint nl = one ? 1u : 4u;
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec4 e[4];
        for (uint j = 0u; j < nl; j++) e[j] = ptab[k * p.C + c[j]];
        if (one) e[1] = e[2] = e[3] = e[0];
        LB[k] = vec4(e[0].x, e[1].x, e[2].x, e[3].x);
        MM[k] = vec4(e[0].y, e[1].y, e[2].y, e[3].y);
        IS[k] = vec4(e[0].z, e[1].z, e[2].z, e[3].z);
        A0[k] = A1[k] = A2[k] = A3[k] = vec4(0.0);
        if (STAGE >= 1u) {
            for (uint j = 0u; j < nl; j++) e[j] = seg[2u * (k * p.C + c[j])];
            if (one) e[1] = e[2] = e[3] = e[0];
            MK[k] = vec4(e[0].x, e[1].x, e[2].x, e[3].x);
        }
        if (STAGE == 2u) {
            for (uint j = 0u; j < nl; j++) e[j] = mt[2u * (k * p.C + c[j]) + 1u];
            if (one) e[1] = e[2] = e[3] = e[0];
            T1[k] = vec4(e[0].x, e[1].x, e[2].x, e[3].x);
            T2[k] = vec4(e[0].y, e[1].y, e[2].y, e[3].y);
            T3[k] = vec4(e[0].z, e[1].z, e[2].z, e[3].z);
            T4[k] = vec4(e[0].w, e[1].w, e[2].w, e[3].w);
        }
    }
}

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (DENSE) {
        if (t >= p.ncb * p.nq) return;
        uint q = t / p.ncb, cb = t - q * p.ncb, c0 = 4u * cb;
        uvec4 c = min(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.C - 1u));
        vec4 m = vec4(lessThan(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.C)));
        load_tables(c, false);
        uint n0 = q * p.qlen, n1 = min(n0 + p.qlen, p.N);
        for (uint n = n0; n < n1; n++) {
            vec4 x = ldc4(X4, X1, n, c0);
            vec4 g = STAGE >= 1u ? ldc4(G4, G1, n, c0) : vec4(0.0);
            process(x, g, m);
        }
        for (uint j = 0u; j < 4u; j++) {
            if (c0 + j >= p.C) break;
            uint it = (q * p.C + c0 + j) * KS;
            [[unroll]] for (uint k = 0u; k < KS; k++)
                part[it + k] = vec4(A0[k][j], A1[k][j], A2[k][j], STAGE == 0u ? A3[k][j] : 0.0);
        }
        return;
    }
    uint rows = p.N * p.C;
    if (t >= rows * p.nchunk) return;
    uint r = t / p.nchunk, q = t - r * p.nchunk;
    uint n = r / p.C, c = r - n * p.C;
    load_tables(uvec4(c), true);
    uint lo = r * p.P + q * p.clen, hi = min(lo + p.clen, (r + 1u) * p.P);
    uint v0 = lo / 4u, v1 = (hi - 1u) / 4u;
    // the partial first block, the whole blocks [w0, w1) without masks or bounds checks, the
    // partial last block (the same order as one loop over v0..v1)
    uint w0 = (lo + 3u) / 4u, w1 = max(hi / 4u, w0);
    bool ph = v0 < w0 || v0 >= w1, pt = v1 != v0 && v1 >= w1;
    if (ph) process(ld4(X4, X1, v0), STAGE >= 1u ? ld4(G4, G1, v0) : vec4(0.0), mask4(v0, lo, hi));
    for (uint v = w0; v < w1; v++)
        process(texelFetch(X4, int(v)), STAGE >= 1u ? texelFetch(G4, int(v)) : vec4(0.0), vec4(1.0));
    if (pt) process(ld4(X4, X1, v1), STAGE >= 1u ? ld4(G4, G1, v1) : vec4(0.0), mask4(v1, lo, hi));
    [[unroll]] for (uint k = 0u; k < KS; k++) {
        vec4 o;
        if (STAGE == 0u) {
            o = vec4(A0[k].x, A1[k].x, A2[k].x, A3[k].x);
            for (uint j = 1u; j < 4u; j++) wchan(o, vec4(A0[k][j], A1[k][j], A2[k][j], A3[k][j]));
        } else {
            o = vec4(dot(A0[k], vec4(1.0)), dot(A1[k], vec4(1.0)), dot(A2[k], vec4(1.0)), 0.0);
        }
        part[t * KS + k] = o;
    }
}
