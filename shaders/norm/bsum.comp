#version 450
#extension GL_GOOGLE_include_directive : require
// Stage 2 of the backward pass (NORMS.md 1.1 (NB)), from the row sums of rowstats.comp
// (Sg = sum g, Sgx = sum g (x - M_row)) or, RAW, from g and x themselves:
//   invocation t < nseg: segment s = t:  H = sum_rows G_r Sg_r,  Q = sum_rows G_r Sgx_r
//     (G_r = scale * gamma of the row, h = G_r g), so sum h = H and sum h xhat = rstd * Q;
//     writes bseg[s] = (H, Q) and the segment's btab entries
//       (M, alpha = rstd G_r, beta = -rstd^3 Q / W, gamma = -rstd H / W)   (beta = gamma = 0 if fixd)
//   invocation nseg <= t < nseg + naff: parameter gradients of affine entry a = t - nseg,
//     dgamma_a = sum scale rstd_s(r) Sgx_r, dbeta_a = sum scale Sg_r  (cnx: dmu, dlogstd, and btab)
// bcn: segments 0..C-1 (BN branch, G_r = gamma l) and C..C+N-1 (LN branch, G_r = gamma (1 - l),
// Q relative to the sample mean); coef.comp builds its table and parameter gradients.
// CPU path: one invocation per output, serial; GPU path: a workgroup per output, shared-memory tree.
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(binding = 8) uniform samplerBuffer PART4;
layout(binding = 9) uniform samplerBuffer X1;     // RAW: x; ln, in, gn, CPU path: gamma
layout(binding = 10) uniform samplerBuffer G1;
layout(binding = 11) uniform samplerBuffer KORD;   // cbn, cn, CPU path: samples sorted by context (prep.comp)
                                                   // ln, in, gn, CPU path: seg (vec4)
layout(std430, binding = 0) writeonly buffer Btab { vec4 btab[]; };
layout(std430, binding = 1) writeonly buffer Bseg { vec4 bseg[]; };
layout(std430, binding = 2) readonly buffer Gam { float gam[]; };
layout(std430, binding = 3) writeonly buffer D0 { float d0[]; };
layout(std430, binding = 4) writeonly buffer D1 { float d1[]; };
layout(std430, binding = 5) readonly buffer Kmap { float kmap[]; };
layout(std430, binding = 6) readonly buffer Seg { vec4 seg[]; };
layout(std430, binding = 7) readonly buffer Aux { float aux[]; };  // cn: priors; bcn: blend; cnx: ftab

layout(constant_id = 3) const bool PARONLY = false;   // in, CPU path: rowstats did the segment part

shared vec2 sh[64];

bool aff() { return (p.flags & F_AFFINE) != 0u; }

// (Sg, Sgx) of row r, Sgx relative to M
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

float prior_scale(uint k) { return (p.flags & F_PRIOR_SCALE) != 0u ? inversesqrt(aux[k]) : 1.0; }

// ---- segment part: the j-th row of segment s contributes (G_r Sg, G_r Sgx) ----
uint seg_items(uint s)
{
    if (METHOD == M_BCN && s >= p.C) return p.C;
    return SEG_GRP ? p.cw : p.N;
}
vec2 seg_item(uint s, uint j, vec4 st)
{
    uint r, c, n;
    if (METHOD == M_BCN && s >= p.C) { n = s - p.C; c = j; }
    else if (SEG_GRP) { n = s / p.G; c = (s - n * p.G) * p.cw + j; }
    else if (SEG_CTX) { uint k = s / p.C; c = s - k * p.C; n = j; if (uint(kmap[n]) != k) return vec2(0.0); }
    else { c = s; n = j; }
    r = n * p.C + c;
    if (METHOD == M_BCN) {
        float l = aux[c], g = aff() ? gam[c] : 1.0;
        float mB = seg[c].x;
        vec2 v = rowsum(r, mB);
        if (s < p.C) return g * l * v;
        return g * (1.0 - l) * vec2(v.x, v.y + (mB - st.x) * v.x);   // Q relative to the sample mean
    }
    float G = aff() ? gam[METHOD == M_CBN ? uint(kmap[n]) * p.C + c : SEG_CTX ? s : c] : 1.0;
    if (SEG_CTX) G *= prior_scale(s / p.C);
    return G * rowsum(r, st.x);
}

// ---- parameter part: affine entry a ----
uint par_items() { return p.N; }
vec2 par_item(uint a, uint n)   // (scale Sg, scale rstd Sgx) of row (n, c(a)), or zero when filtered
{
    uint c = TAB_CTX ? a % p.C : a;
    if (TAB_CTX && uint(kmap[n]) != a / p.C) return vec2(0.0);
    uint r = n * p.C + c;
    if (METHOD == M_CNX) {
        vec4 e = vec4(aux[4u * a], aux[4u * a + 1u], aux[4u * a + 2u], aux[4u * a + 3u]);
        return rowsum(r, e.x);
    }
    uint s = SEG_GRP ? n * p.G + c / p.cw : SEG_CTX ? a : c;
    vec4 st = seg[s];
    float sc = SEG_CTX ? prior_scale(a / p.C) : 1.0;
    vec2 v = rowsum(r, st.x);
    return sc * vec2(v.x, st.y * v.y);
}

vec2 total(uint t, uint first, uint stride, vec4 st)
{
    vec2 acc = vec2(0.0);
    if (t < p.nseg) {
        uint ni = seg_items(t);
        for (uint j = first; j < ni; j += stride) acc += seg_item(t, j, st);
    } else {
        uint a = t - p.nseg;
        for (uint n = first; n < p.N; n += stride) acc += par_item(a, n);
    }
    return acc;
}

void finish(uint t, vec2 acc, uint first, uint stride)
{
    if (t < p.nseg) {
        uint s = t;
        if (first == 0u) bseg[s] = vec4(acc, 0.0, 0.0);
        if (METHOD == M_BCN) return;
        vec4 st = seg[s];
        float R = st.y, W = max(st.z, 1.0);
        bool fixd = st.w > 0.5;
        float be = fixd ? 0.0 : -R * R * R * acc.y / W, ga = fixd ? 0.0 : -R * acc.x / W;
        // entries as in finalize.comp
        if (METHOD == M_CBN) {
            for (uint k = first; k < p.K; k += stride) btab[k * p.C + s] = vec4(st.x, R * (aff() ? gam[k * p.C + s] : 1.0), be, ga);
        } else if (SEG_GRP) {
            uint n = s / p.G, g = s - n * p.G;
            for (uint j = first; j < p.cw; j += stride) {
                uint c = g * p.cw + j;
                btab[n * p.C + c] = vec4(st.x, R * (aff() ? gam[c] : 1.0), be, ga);
            }
        } else if (first == 0u) {
            float sc = SEG_CTX ? prior_scale(s / p.C) : 1.0;
            btab[s] = vec4(st.x, sc * R * (aff() ? gam[s] : 1.0), be, ga);
        }
        return;
    }
    if (first != 0u) return;
    uint a = t - p.nseg;
    if (METHOD == M_CNX) {
        vec4 e = vec4(aux[4u * a], aux[4u * a + 1u], aux[4u * a + 2u], aux[4u * a + 3u]);
        float dmu = -e.y * acc.x, dls = -e.w * e.y * e.y * acc.y;   // dls = 0 where clamped (e.w = 0)
        if ((p.flags & F_EMBEDDER) != 0u) { d0[a] = dmu; d0[p.naff + a] = dls; }   // reordered by coef.comp
        else { d0[a] = dmu; d1[a] = dls; }
        btab[a] = vec4(e.x, e.y, 0.0, 0.0);
        return;
    }
    d0[a] = acc.y;
    d1[a] = acc.x;
}

void main()
{
    uint total_out = p.nseg + p.naff;
    if (!GPU) {
        uint t = flat_group_id() * 64u + gl_LocalInvocationID.x + (PARONLY ? p.nseg : 0u);
        if (t >= total_out) return;
        if (METHOD == M_BN || METHOD == M_UBN) {
            // per channel: one pass over the rows gives both the segment sums and the parameter
            // gradients (G_r = gamma_c is the same for every row; no loads inside the loop)
            if (t >= p.nseg) return;
            vec4 st = seg[t];
            vec2 acc = vec2(0.0);
            for (uint n = 0u; n < p.N; n++) acc += rowsum(n * p.C + t, st.x);
            float G = aff() ? gam[t] : 1.0;
            finish(t, G * acc, 0u, 1u);
            if (p.naff != 0u) { d0[t] = st.y * acc.y; d1[t] = acc.x; }
            return;
        }
        if (METHOD == M_CBN || METHOD == M_CN) {
            // walk each context's rows in kord order, so the ids and the affine entry are loaded
            // once per context, not per row; one pass gives the segment sums and the gradients
            uint c = t % p.C, k0 = METHOD == M_CN ? t / p.C : 0u, k1 = METHOD == M_CN ? k0 + 1u : p.K;
            if (t >= p.nseg) return;
            vec4 st = seg[t];
            vec2 hq = vec2(0.0);
            for (uint k = k0; k < k1; k++) {
                uint j0 = uint(texelFetch(KORD, int(p.N + k)).x), j1 = uint(texelFetch(KORD, int(p.N + k + 1u)).x);
                vec2 a = vec2(0.0);
                for (uint j = j0; j < j1; j++) a += rowsum(uint(texelFetch(KORD, int(j)).x) * p.C + c, st.x);
                float sc = METHOD == M_CN ? prior_scale(k) : 1.0;
                uint e = k * p.C + c;
                hq += (aff() ? gam[e] : 1.0) * sc * a;
                if (p.naff != 0u) { d0[e] = sc * (st.y * a.y); d1[e] = sc * a.x; }
            }
            finish(t, hq, 0u, 1u);
            return;
        }
        if (SEG_GRP && !RAW) {
            // as total() and finish(), with gamma (X1) and the per-sample seg (KORD) through texel
            // views: no storage loads in the loops
            if (t < p.nseg) {
                uint s = t, n = s / p.G, g = s - n * p.G;
                vec4 st = seg[s];
                vec2 acc = vec2(0.0);
                for (uint j = 0u; j < p.cw; j++) {
                    uint c = g * p.cw + j;
                    acc += (aff() ? texelFetch(X1, int(c)).x : 1.0) * rowsum(n * p.C + c, st.x);
                }
                bseg[s] = vec4(acc, 0.0, 0.0);
                float R = st.y, W = max(st.z, 1.0);
                bool fixd = st.w > 0.5;
                float be = fixd ? 0.0 : -R * R * R * acc.y / W, ga = fixd ? 0.0 : -R * acc.x / W;
                for (uint j = 0u; j < p.cw; j++) {
                    uint c = g * p.cw + j;
                    btab[n * p.C + c] = vec4(st.x, R * (aff() ? texelFetch(X1, int(c)).x : 1.0), be, ga);
                }
                return;
            }
            uint a = t - p.nseg, gc = a / p.cw;
            vec2 acc = vec2(0.0);
            for (uint n = 0u; n < p.N; n++) {
                vec4 st = texelFetch(KORD, int(n * p.G + gc));
                vec2 v = rowsum(n * p.C + a, st.x);
                acc += vec2(v.x, st.y * v.y);
            }
            d0[a] = acc.y;
            d1[a] = acc.x;
            return;
        }
        vec4 st = t < p.nseg ? seg[t] : vec4(0.0);
        finish(t, total(t, 0u, 1u, st), 0u, 1u);
        return;
    }
    uint t = flat_group_id(), l = gl_LocalInvocationID.x;
    if (t >= total_out) return;
    vec4 st = t < p.nseg ? seg[t] : vec4(0.0);
    sh[l] = total(t, l, 64u, st);
    barrier();
    for (uint h = 32u; h > 0u; h >>= 1) {
        if (l < h) sh[l] += sh[l + h];
        barrier();
    }
    vec2 acc = sh[0];
    finish(t, acc, l, 64u);
}
