#version 450
#extension GL_GOOGLE_include_directive : require
// Softmax cross-entropy with label smoothing over logits [N, K] (R32F texel reads; rows need not be
// 4-aligned). Invocation c owns rows [c*rows, (c+1)*rows): per row max, logsumexp, the smoothed
// target's dot product, the gradient gscale * (softmax - q), and the row losses folded in order into
// part[c] or, with DIRECT, into loss[0] = (ACCUM ? loss[0] : 0) + lscale * sum.
// A label outside [0, K) gives that row NaN loss and gradient.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool HAS_DX = true;
layout(constant_id = 1) const bool HAS_LOSS = true;
layout(constant_id = 2) const bool DIRECT = false;
layout(constant_id = 3) const bool ACCUM = false;
layout(binding = 8) uniform samplerBuffer X;
layout(std430, binding = 0) writeonly buffer Dx { float dx[]; };
layout(std430, binding = 1) buffer Out { float o[]; };
layout(std430, binding = 2) readonly buffer Lab { int lab[]; };
layout(push_constant) uniform P { uint n, k, rows, chunks; float smooth_, gscale, lscale; } p;

void main()
{
    uint c = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (c >= p.chunks) return;
    uint r0 = c * p.rows, r1 = min(r0 + p.rows, p.n);
    float acc = 0.0;
    float on = 1.0 - p.smooth_, off = p.smooth_ / float(p.k);
    for (uint r = r0; r < r1; r++) {
        int base = int(r * p.k);
        float mx = -3.402823466e38;
        for (uint j = 0u; j < p.k; j++) mx = max(mx, texelFetch(X, base + int(j)).x);
        float se = 0.0, sx = 0.0;
        for (uint j = 0u; j < p.k; j++) {
            float v = texelFetch(X, base + int(j)).x - mx;
            se += exp(v);
            sx += v;
        }
        float lse = log(se);          // logsumexp - max
        int y = lab[r];
        bool ok = y >= 0 && uint(y) < p.k;
        float xy = ok ? texelFetch(X, base + y).x - mx : 0.0;
        float l = lse - on * xy - off * sx;
        if (!ok) l = uintBitsToFloat(0x7fc00000u);
        acc += l;
        if (HAS_DX)
            for (uint j = 0u; j < p.k; j++) {
                float sm = exp(texelFetch(X, base + int(j)).x - mx - lse);
                float q = off + (int(j) == y ? on : 0.0);
                dx[uint(base) + j] = ok ? p.gscale * (sm - q) : uintBitsToFloat(0x7fc00000u);
            }
    }
    if (!HAS_LOSS) return;
    if (DIRECT) o[0] = (ACCUM ? o[0] : 0.0) + p.lscale * acc;
    else o[c] = acc;
}
