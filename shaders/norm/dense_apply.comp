#version 450
#extension GL_GOOGLE_include_directive : require
// Dense (P = 1) element-wise pass of ln, gn and in, CPU path (bn, ubn, cbn and cn do theirs in
// dense_stats / dense_sums): invocation = (block of four channels, run of qlen samples), so what is
// per channel (gamma, beta) is fetched once per invocation:
//   ln, gn:   per-segment statistics TAB[n G + c / cw] = (M, R, ..) (forward: seg; backward: btab
//             (M, R, beta, gamma)) and the channel's gamma, beta:
//             y = (x - M) (gamma R) + beta | dx = (R gamma) g + beta_s (x - M) + gamma_s
//   in (and gn with one channel per group): a segment is one element, so the statistics are those
//             of x itself (M = x, var 0), computed here: no statistics kernels at all.
// Texel views: X (8), G (9, backward) or beta (9, forward), TAB (10, vec4), gamma (11). X, G and gamma/beta are RGBA32F when C % 4 == 0, else R32F.
#include "dense.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 3) const bool BWD = false;
layout(constant_id = 4) const uint RUN = 8u;   // samples per invocation (p.qlen)
// how a block's four channels map to segments (a compile-time choice: llvmpipe evaluates both sides
// of a branch that is not uniform at compile time): 0 in (cw = 1: no table), 1 one segment (cw % 4
// == 0, C % 4 == 0: one fetch), 2 at most two (cw >= 4: two fetches and a select), 3 any (four)
layout(constant_id = 5) const uint SEGS = 3u;
// PG (backward with affine): the invocation takes every sample of its block (RUN = 0: a loop over
// p.N) and also sums the parameter gradients dgamma_c = sum_n R_s g (x - M_s), dbeta_c = sum_n g
// in increasing n (as dense_gsums did), so no other pass reads x and g for them
layout(constant_id = 7) const bool PG = false;
layout(binding = 8) uniform samplerBuffer X;
layout(binding = 9) uniform samplerBuffer G;      // backward: dy; forward (ln, gn, in): beta
layout(binding = 10) uniform samplerBuffer TAB;
layout(binding = 11) uniform samplerBuffer AUX;   // gamma
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) writeonly buffer D0 { float d0[]; };   // PG: dgamma
layout(std430, binding = 1) writeonly buffer D04 { vec4 d04[]; };
layout(std430, binding = 2) writeonly buffer D1 { float d1[]; };   // PG: dbeta
layout(std430, binding = 2) writeonly buffer D14 { vec4 d14[]; };

vec4 col(vec4 e[4], uint i) { return vec4(e[0][i], e[1][i], e[2][i], e[3][i]); }

// per-channel values of block c0 from a view holding one float per channel
vec4 chan4(samplerBuffer t, uint c0)
{
    if (c4()) return texelFetch(t, int(c0 >> 2));
    vec4 r = vec4(0.0);
    uvec4 cc = lane_c(c0);
    [[unroll]] for (uint j = 0u; j < 4u; j++) r[j] = texelFetch(t, int(cc[j])).x;
    return r;
}

void store(uint n, uint c0, vec4 v)
{
    uint b = n * p.C + c0;
    if (c4()) { y4[b >> 2] = v; return; }
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        if (c0 + j < p.C) y[b + j] = v[j];
}

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint q = fdiv(t, p.ncb, p.f2), cb = t - q * p.ncb, c0 = 4u * cb;   // f2 = 1 / ncb
    uint n0 = PG ? 0u : q * RUN;
    if (PG ? c0 >= p.C : n0 >= p.N) return;
    uvec4 cc = lane_c(c0);
    bool aff = (p.flags & F_AFFINE) != 0u;
    vec4 e[4];
    vec4 E1 = aff ? chan4(AUX, c0) : vec4(1.0);                   // gamma
    vec4 E2 = !BWD && aff ? chan4(G, c0) : vec4(0.0);              // beta
    // ln / gn: the segments of the four lanes by float reciprocals (f3 = 1 / cw; a vector integer
    // division is scalarized on llvmpipe)
    uvec4 gi = uvec4(0u);
    if (SEGS != 0u) { gi.x = fdiv(cc.x, p.cw, p.f3); gi.w = fdiv(cc.w, p.cw, p.f3); }
    if (SEGS == 3u) { gi.y = fdiv(cc.y, p.cw, p.f3); gi.z = fdiv(cc.z, p.cw, p.f3); }
    bvec4 hi = greaterThanEqual(cc, uvec4(gi.w * p.cw));   // SEGS 2: the lanes in the second segment
    float Rin = inversesqrt(p.eps);   // in: variance 0
    // a trip count that is the same for every lane (llvmpipe: no divergent loop); a run that
    // passes N repeats the last sample (the same value stored twice by this invocation)
    vec4 sg = vec4(0.0), sgx = vec4(0.0);
    for (uint i = 0u; i < (PG ? p.N : RUN); i++) {
        uint n = PG ? i : min(n0 + i, p.N - 1u);
        vec4 x = ldc(X, n, c0);
        vec4 g = BWD ? ldc(G, n, c0) : vec4(0.0);
        vec4 M, A, B, Gm, R;
        if (SEGS == 0u) {   // in: M = x, R = 1/sqrt(eps); (NB) with one element, W = 1
            M = x;
            R = vec4(Rin);
            A = Rin * E1;
            if (!BWD) { B = E2; }
            else {   // y = beta whatever x is: dx = 0 exactly (R gamma g - R gamma g rounds to ~R ulp)
                A = vec4(0.0); B = vec4(0.0); Gm = vec4(0.0);
            }
        } else {
            uint s0 = n * p.G;
            if (SEGS == 1u) { vec4 st = texelFetch(TAB, int(s0 + gi.x)); e[0] = e[1] = e[2] = e[3] = st; }
            else if (SEGS == 2u) {
                vec4 a = texelFetch(TAB, int(s0 + gi.x)), b = texelFetch(TAB, int(s0 + gi.w));
                [[unroll]] for (uint l = 0u; l < 4u; l++) e[l] = hi[l] ? b : a;
            } else [[unroll]] for (uint l = 0u; l < 4u; l++) e[l] = texelFetch(TAB, int(s0 + gi[l]));
            M = col(e, 0u);
            R = col(e, 1u);
            if (!BWD) { A = E1 * col(e, 1u); B = E2; }
            else { A = col(e, 1u) * E1; B = col(e, 2u); Gm = col(e, 3u); }
        }
        store(n, c0, BWD ? A * g + B * (x - M) + Gm : (x - M) * A + B);
        if (PG) {
            sg += g;
            sgx += R * (g * (x - M));
        }
    }
    if (!PG) return;
    if (C4) { d04[c0 >> 2] = sgx; d14[c0 >> 2] = sg; return; }
    [[unroll]] for (uint l = 0u; l < 4u; l++)
        if (c0 + l < p.C) { d0[c0 + l] = sgx[l]; d1[c0 + l] = sg[l]; }
}
