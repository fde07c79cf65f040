#version 450
#extension GL_GOOGLE_include_directive : require
// Table builders of the methods whose table does not come out of one segment's statistics.
// Forward (BWD = false):
//   cnx: entry (k, c): mu, log-std s from the table (or CN-emb: W[c,k] + b[c]); q = 1/(exp(clamp(s)) + eps)
//        ftab = (mu, q, 0, exp(clamp(s)) or 0 where s is clamped)           y = (x - mu) q
//   bcn: entry (n, c) from seg[c] (BN branch) and seg[C+n] (LN branch):
//        ftab = (mB, gamma (l rB + (1-l) rL), gamma (1-l) rL (mB - mL) + beta, 0)
// Backward (BWD = true):
//   bcn: t < N*C: btab (n, c) from the branch sums bseg of bsum.comp; t = N*C + c: dgamma, dbeta, dblend
//   cnx (CN-emb): t = c: dW[c,k] = d(k,c), db[c] = sum_k d(k,c) for mu and log-std
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 3) const bool BWD = false;
layout(binding = 8) uniform samplerBuffer PART4;
layout(binding = 9) uniform samplerBuffer X1;
layout(binding = 10) uniform samplerBuffer G1;
layout(std430, binding = 0) writeonly buffer Tab { vec4 tab[]; };
layout(std430, binding = 1) readonly buffer Bseg { vec4 bseg[]; };
layout(std430, binding = 2) buffer S0 { float s0[]; };   // bcn: gamma | cnx: slot 0 (mu table / W_mu) | emb bwd: dW_mu
layout(std430, binding = 3) buffer S1 { float s1[]; };   // bcn: beta (fwd) / dgamma (bwd) | cnx: slot 1 | emb bwd: db_mu
layout(std430, binding = 4) buffer S2 { float s2[]; };   // bcn: dbeta (bwd) | cnx: slot 2 | emb bwd: dW_ls
layout(std430, binding = 5) buffer S3 { float s3[]; };   // bcn: blend | cnx: slot 3 | emb bwd: db_ls
layout(std430, binding = 6) readonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 7) buffer S4 { float s4[]; };   // bcn bwd: dblend | emb bwd: d(k,c) pairs

bool aff() { return (p.flags & F_AFFINE) != 0u; }

vec2 rowsum(uint r, float M)
{
    if (RAW) {
        float g = texelFetch(G1, int(r)).x;
        return vec2(g, g * (texelFetch(X1, int(r)).x - M));
    }
    vec2 a = vec2(0.0);
    for (uint q = 0u; q < p.nchunk; q++) a += texelFetch(PART4, int(r * p.nchunk + q)).xy;
    return a;
}

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (METHOD == M_CNX && !BWD) {
        if (t >= p.K * p.C) return;
        uint k = t / p.C, c = t - k * p.C;
        float mu, ls;
        if ((p.flags & F_EMBEDDER) == 0u) { mu = s0[t]; ls = s1[t]; }
        else { mu = s0[c * p.K + k] + s1[c]; ls = s2[c * p.K + k] + s3[c]; }
        float e = exp(clamp(ls, -20.0, 20.0));
        tab[t] = vec4(mu, 1.0 / (e + p.eps), 0.0, abs(ls) <= 20.0 ? e : 0.0);
    } else if (METHOD == M_CNX) {
        if (t >= p.C) return;
        uint c = t;
        float smu = 0.0, sls = 0.0;
        for (uint k = 0u; k < p.K; k++) {
            float dm = s4[k * p.C + c], dl = s4[p.K * p.C + k * p.C + c];
            s0[c * p.K + k] = dm;
            s2[c * p.K + k] = dl;
            smu += dm;
            sls += dl;
        }
        s1[c] = smu;
        s3[c] = sls;
    } else if (METHOD == M_BCN && !BWD) {
        if (t >= p.N * p.C) return;
        uint n = t / p.C, c = t - n * p.C;
        vec4 B = seg[c], L = seg[p.C + n];
        float g = aff() ? s0[c] : 1.0, b = aff() ? s1[c] : 0.0, l = s3[c];
        tab[t] = vec4(B.x, g * (l * B.y + (1.0 - l) * L.y), g * (1.0 - l) * L.y * (B.x - L.x) + b, 0.0);
    } else if (METHOD == M_BCN) {
        if (t < p.N * p.C) {
            uint n = t / p.C, c = t - n * p.C;
            vec4 B = seg[c], L = seg[p.C + n], hB = bseg[c], hL = bseg[p.C + n];
            float g = aff() ? s0[c] : 1.0, l = s3[c];
            float rB = B.y, rL = L.y, WB = max(B.z, 1.0), WL = max(L.z, 1.0);
            bool fixdB = B.w > 0.5;
            float beta = -rL * rL * rL * hL.y / WL, gam0 = -rL * hL.x / WL - rL * rL * rL * hL.y / WL * (B.x - L.x);
            if (!fixdB) {
                beta -= rB * rB * rB * hB.y / WB;
                gam0 -= rB * hB.x / WB;
            }
            tab[t] = vec4(B.x, g * (l * rB + (1.0 - l) * rL), beta, gam0);
        } else if (t < p.N * p.C + p.C) {
            uint c = t - p.N * p.C;
            vec4 B = seg[c];
            float g = aff() ? s0[c] : 1.0, l = s3[c];
            float dg = 0.0, db = 0.0, dl = 0.0;
            for (uint n = 0u; n < p.N; n++) {
                vec4 L = seg[p.C + n];
                vec2 v = rowsum(n * p.C + c, B.x);
                float xb = B.y * v.y, xl = L.y * (v.y + (B.x - L.x) * v.x);   // sum g xhatB, sum g xhatL
                dg += l * xb + (1.0 - l) * xl;
                db += v.x;
                dl += g * (xb - xl);
            }
            if (aff()) { s1[c] = dg; s2[c] = db; }
            s4[c] = dl;
        }
    }
}
