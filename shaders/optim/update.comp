#version 450
#extension GL_GOOGLE_include_directive : require
// One optimizer update over n elements (one parameter tensor, or a contiguous span of many).
// Invocation i owns elements 4i..4i+3. KIND: 0 SGD (momentum buffer in s1 when HAS_MOM),
// 1 Adam (L2 weight decay added to g), 2 AdamW (decoupled weight decay).
// The learning rate and the step count t come from the step tensor (uint bits, binding 3).
// TEXEL_STATE: read param and state through texel views (CPU-class devices, where storage loads are
// slow); each invocation reads its own four elements before it writes them. Otherwise (GPUs) they are
// read from the storage buffers. The views cover the padded tail (allocations are 16-byte slots).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint KIND = 1u;
layout(constant_id = 1) const bool TEXEL_STATE = true;
layout(constant_id = 2) const bool HAS_MOM = false;
layout(constant_id = 3) const bool NESTEROV = false;
layout(constant_id = 4) const bool HAS_CLIP = false;
layout(std430, binding = 0) buffer Pm { float pm[]; };
layout(std430, binding = 0) buffer Pm4 { vec4 pm4[]; };
layout(std430, binding = 1) buffer S1 { float s1[]; };
layout(std430, binding = 1) buffer S14 { vec4 s14[]; };
layout(std430, binding = 2) buffer S2 { float s2[]; };
layout(std430, binding = 2) buffer S24 { vec4 s24[]; };
layout(std430, binding = 3) readonly buffer St { uint step[]; };
layout(std430, binding = 4) readonly buffer Cl { float clip[]; };
layout(binding = 8) uniform samplerBuffer G4;
layout(binding = 9) uniform samplerBuffer P4;
layout(binding = 10) uniform samplerBuffer M4;
layout(binding = 11) uniform samplerBuffer V4;
layout(push_constant) uniform Pc {
    uint n, lr_slot, t_slot;
    float beta1, beta2, eps, momentum, wd, gscale, max_norm;
} p;

vec4 load_p(uint i) { return TEXEL_STATE ? texelFetch(P4, int(i)) : pm4[i]; }
vec4 load_m(uint i) { return TEXEL_STATE ? texelFetch(M4, int(i)) : s14[i]; }
vec4 load_v(uint i) { return TEXEL_STATE ? texelFetch(V4, int(i)) : s24[i]; }

// 1 - b^t without cancellation (b near 1, small t: the bias corrections of the first Adam steps):
// log1p(-d) and expm1 by series where the plain formulas would lose digits in fp32.
float one_minus_pow(float b, float t)
{
    float d = 1.0 - b;   // exact for b in [0.5, 1]
    float l = d < 0.01 ? -d * (1.0 + d * (0.5 + d * (1.0 / 3.0 + d * 0.25))) : log(b);
    float x = t * l;     // <= 0
    if (x > -0.1)
        return -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0))))));
    return 1.0 - exp(x);
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (base >= p.n) return;
    bool full = VKN_VEC4_OR_TAIL(p.n, base);
    float lr = uintBitsToFloat(step[p.lr_slot]);
    float gs = p.gscale;
    if (HAS_CLIP) gs *= min(1.0, p.max_norm / (clip[0] + 1e-6));
    vec4 g, w, m = vec4(0.0), v = vec4(0.0);
    if (TEXEL_STATE || full) {
        g = texelFetch(G4, int(i));
        w = load_p(i);
        if (KIND != 0u || HAS_MOM) m = load_m(i);
        if (KIND != 0u) v = load_v(i);
    } else {
        g = texelFetch(G4, int(i));
        for (uint j = 0u; j < 4u; j++) {
            bool in_ = base + j < p.n;
            w[j] = in_ ? pm[base + j] : 0.0;
            if (KIND != 0u || HAS_MOM) m[j] = in_ ? s1[base + j] : 0.0;
            if (KIND != 0u) v[j] = in_ ? s2[base + j] : 0.0;
        }
    }
    g *= gs;
    if (KIND == 0u) {
        g += p.wd * w;
        if (HAS_MOM) {
            m = p.momentum * m + g;
            w -= lr * (NESTEROV ? g + p.momentum * m : m);
        } else w -= lr * g;
    } else {
        float t = uintBitsToFloat(step[p.t_slot]);
        float bc1 = one_minus_pow(p.beta1, t), bc2 = one_minus_pow(p.beta2, t);
        if (KIND == 1u) g += p.wd * w;
        m = p.beta1 * m + (1.0 - p.beta1) * g;
        v = p.beta2 * v + (1.0 - p.beta2) * (g * g);
        vec4 upd = (m / bc1) / (sqrt(v / bc2) + p.eps);
        if (KIND == 2u) upd += p.wd * w;
        w -= lr * upd;
    }
    if (full) {
        pm4[i] = w;
        if (KIND != 0u || HAS_MOM) s14[i] = m;
        if (KIND != 0u) s24[i] = v;
        return;
    }
    for (uint j = 0u; base + j < p.n; j++) {
        pm[base + j] = w[j];
        if (KIND != 0u || HAS_MOM) s1[base + j] = m[j];
        if (KIND != 0u) s2[base + j] = v[j];
    }
}
