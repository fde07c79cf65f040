#version 450
#extension GL_GOOGLE_include_directive : require
// Second stage: one invocation folds the m partials (texel R32F) in order into out[0].
// MODE: 0 out = (ACCUM ? out : 0) + scale * sum (losses, accuracy); 1 out = sqrt(sum) (gradient
// norm); 2 out = sum > 0 ? 1 : 0 (non-finite flag).
#include "common.glsl"
layout(local_size_x = 1) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const bool ACCUM = false;
layout(binding = 8) uniform samplerBuffer X;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(push_constant) uniform P { uint m; float scale; } p;

void main()
{
    float acc = 0.0, comp = 0.0;
    for (uint i = 0u; i < p.m; i++) {
        float yv = texelFetch(X, int(i)).x - comp, t = acc + yv;
        comp = (t - acc) - yv;
        acc = t;
    }
    if (MODE == 0u) o[0] = (ACCUM ? o[0] : 0.0) + p.scale * acc;
    else if (MODE == 1u) o[0] = sqrt(acc);
    else o[0] = acc > 0.0 ? 1.0 : 0.0;
}
