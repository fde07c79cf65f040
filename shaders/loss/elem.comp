#version 450
#extension GL_GOOGLE_include_directive : require
// Element-wise losses. Invocation c owns elements [c*len, (c+1)*len) (len a multiple of 4; vec4
// texel reads of x and of the targets), writes dx = gscale * dl/dx there and folds l in a fixed
// order: into part[c] (a second launch folds the partials), or, with DIRECT (a single invocation),
// straight into loss[0] = (ACCUM ? loss[0] : 0) + lscale * sum.
// KIND: 0 BCE with logits, 1 hinge real relu(1-x), 2 hinge fake relu(1+x), 3 hinge G (-x), 4 MSE.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint KIND = 0u;
layout(constant_id = 1) const bool HAS_TARGET = false;
layout(constant_id = 2) const bool HAS_DX = true;
layout(constant_id = 3) const bool HAS_LOSS = true;
layout(constant_id = 4) const bool DIRECT = false;
layout(constant_id = 5) const bool ACCUM = false;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer T4;
layout(std430, binding = 0) writeonly buffer Dx { float dx[]; };
layout(std430, binding = 0) writeonly buffer Dx4 { vec4 dx4[]; };
layout(std430, binding = 1) buffer Out { float o[]; };
layout(push_constant) uniform P { uint n, len, chunks; float tval, gscale, lscale; } p;

// log(1 + e) for e in [0, 1]; the series below 1e-4 keeps relative precision for tiny e
vec4 log1p_small(vec4 e) { return mix(log(1.0 + e), e * (1.0 - 0.5 * e), lessThan(e, vec4(1e-4))); }

void loss_grad(vec4 x, vec4 t, out vec4 l, out vec4 g)
{
    if (KIND == 0u) {
        vec4 e = exp(-abs(x));
        l = max(x, 0.0) - x * t + log1p_small(e);
        vec4 s = mix(e / (1.0 + e), 1.0 / (1.0 + e), greaterThanEqual(x, vec4(0.0)));   // sigmoid(x)
        g = s - t;
    } else if (KIND == 1u) {
        // relu(1 - x) keeping a NaN (max(NaN, 0) is undefined); relu' as PyTorch: 0 where 1 - x <= 0
        l = mix(max(1.0 - x, 0.0), x, isnan(x));
        g = mix(vec4(-1.0), vec4(0.0), greaterThanEqual(x, vec4(1.0)));
    } else if (KIND == 2u) {
        l = mix(max(1.0 + x, 0.0), x, isnan(x));
        g = mix(vec4(1.0), vec4(0.0), lessThanEqual(x, vec4(-1.0)));
    } else if (KIND == 3u) {
        l = -x;
        g = vec4(-1.0);
    } else {
        vec4 d = x - t;
        l = d * d;
        g = 2.0 * d;
    }
}

void main()
{
    uint c = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (c >= p.chunks) return;
    uint lo = c * p.len, hi = min(lo + p.len, p.n);
    float acc = 0.0, comp = 0.0;
    for (uint e = lo; e < hi; e += 4u) {
        uint i = e / 4u;
        vec4 x = texelFetch(X4, int(i));
        vec4 t = HAS_TARGET ? texelFetch(T4, int(i)) : vec4(p.tval);
        vec4 l, g;
        loss_grad(x, t, l, g);
        g *= p.gscale;
        bool full = e + 3u < hi;
        if (HAS_DX) {
            if (full) dx4[i] = g;
            else for (uint j = 0u; e + j < hi; j++) dx[e + j] = g[j];
        }
        if (HAS_LOSS) {
            if (!full) l = mix(vec4(0.0), l, lessThan(uvec4(e) + uvec4(0u, 1u, 2u, 3u), uvec4(hi)));
            float s = (l.x + l.y) + (l.z + l.w);
            float yv = s - comp, tt = acc + yv;
            comp = (tt - acc) - yv;
            acc = tt;
        }
    }
    if (!HAS_LOSS) return;
    if (DIRECT) o[0] = (ACCUM ? o[0] : 0.0) + p.lscale * acc;
    else o[c] = acc;
}
