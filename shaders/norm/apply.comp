#version 450
#extension GL_GOOGLE_include_directive : require
// Element-wise pass of every table-driven normalization, four elements per invocation:
//   forward (BWD = false):  y  = ((x - M) - Mlo) * A + B          ftab[row] = (M, A, B, Mlo) (norm.glsl SHIFT)
//   backward (BWD = true):  dx = alpha * g + beta * (x - M) + gamma  btab[row] = (M, alpha, beta, gamma)
// The table row of element i: r = i / P, n = r / C, c = r % C, t = 0 | ctx[n] | n (norm.glsl),
// entry t*C + c. With P >= 4 the four elements span at most two rows: two table fetches.
// WIDE > 0 (P >= 16): WIDE vec4 per invocation (4 * WIDE <= P, at most 48), which span at most two
// rows: the divisions and table fetches are shared by the WIDE vec4, the per-lane choice is a select.
// (llvmpipe: an invocation's fixed cost, two fdiv and two table gathers, is worth ~6 vec4 of work.)
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 3) const bool BWD = false;
layout(constant_id = 4) const uint WIDE = 0u;   // vec4 per invocation (0: one quad); 4*WIDE <= P
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer G4;     // backward: dy
layout(binding = 10) uniform samplerBuffer TAB4;  // table, one vec4 per entry
layout(binding = 11) uniform samplerBuffer KMAP1; // ctx[n] as float (TAB_CTX)
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) readonly buffer XS { float xs[]; };  // tails
layout(std430, binding = 2) readonly buffer GS { float gs[]; };

vec4 row_entry(uint r)
{
    uint n = fdiv(r, p.C, p.invC), c = r - n * p.C;
    uint t = TAB_CTX ? uint(texelFetch(KMAP1, int(n)).x) : TAB_N ? n : 0u;
    return texelFetch(TAB4, int(t * p.C + c));
}

vec4 entry(uint i)
{
    uint r = fdiv(i, p.P, p.invP);
    uint n = fdiv(r, p.C, p.invC), c = r - n * p.C;
    uint t = TAB_CTX ? uint(texelFetch(KMAP1, int(n)).x) : TAB_N ? n : 0u;
    return texelFetch(TAB4, int(t * p.C + c));
}

float one(vec4 e, float x, float g)
{
    return BWD ? e.y * g + e.z * (x - e.x) + e.w : ((x - e.x) - (LOW ? e.w : 0.0)) * e.y + e.z;
}

void quad(uint v)
{
    uint base = 4u * v;
    if (base >= p.total) return;
    if (base + 3u < p.total) {
        vec4 x = texelFetch(X4, int(v));
        vec4 g = BWD ? texelFetch(G4, int(v)) : vec4(0.0);
        vec4 e[4];
        if (p.P >= 4u) {
            vec4 e0 = entry(base), e3 = entry(base + 3u);
            uint r3s = fdiv(base + 3u, p.P, p.invP) * p.P;   // first element of the last row
            [[unroll]] for (uint j = 0u; j < 4u; j++) e[j] = base + j >= r3s ? e3 : e0;
        } else {
            [[unroll]] for (uint j = 0u; j < 4u; j++) e[j] = entry(base + j);
        }
        y4[v] = vec4(one(e[0], x.x, g.x), one(e[1], x.y, g.y), one(e[2], x.z, g.z), one(e[3], x.w, g.w));
        return;
    }
    for (uint i = base; i < p.total; i++) y[i] = one(entry(i), xs[i], BWD ? gs[i] : 0.0);
}

void main()
{
    uint w = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (WIDE == 0u) { quad(w); return; }
    uint base = 4u * WIDE * w;
    if (base >= p.total) return;
    if (base + 4u * WIDE - 1u >= p.total) {
        for (uint k = 0u; k < WIDE; k++) quad(WIDE * w + k);
        return;
    }
    uint r0 = fdiv(base, p.P, p.invP), r1 = fdiv(base + 4u * WIDE - 1u, p.P, p.invP);
    vec4 e0 = row_entry(r0), e1 = r1 == r0 ? e0 : row_entry(r1);
    uint b = r1 * p.P;   // first element of row r1
    for (uint k = 0u; k < WIDE; k++) {
        uint v = WIDE * w + k;
        bvec4 s1 = greaterThanEqual(uvec4(base + 4u * k) + uvec4(0u, 1u, 2u, 3u), uvec4(b));
        vec4 M = mix(vec4(e0.x), vec4(e1.x), s1), A = mix(vec4(e0.y), vec4(e1.y), s1);
        vec4 B = mix(vec4(e0.z), vec4(e1.z), s1);
        vec4 x = texelFetch(X4, int(v));
        if (BWD) {
            vec4 Gm = mix(vec4(e0.w), vec4(e1.w), s1);
            y4[v] = A * texelFetch(G4, int(v)) + B * (x - M) + Gm;
        } else {
            vec4 Ml = LOW ? mix(vec4(e0.w), vec4(e1.w), s1) : vec4(0.0);
            y4[v] = ((x - M) - Ml) * A + B;
        }
    }
}
