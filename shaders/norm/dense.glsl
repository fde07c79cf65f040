// Shared by the dense kernels (P = 1, CPU path: dense_*.comp): an invocation owns a block of four
// channels c0..c0+3 (one per vec4 lane; lanes past C are masked) and walks samples.
// The x and g views are RGBA32F when C % 4 == 0 (one fetch per sample and block), else R32F (four
// fetches); the host picks the view format to match and sets C4 (norm_dense.c). C4 is a
// specialization constant because llvmpipe evaluates both sides of a branch whose condition is not
// known at compile time (a push-constant test would run the four-fetch path as well).
#include "norm.glsl"

layout(constant_id = 6) const bool C4 = false;   // C % 4 == 0

bool c4() { return C4; }

// the four channels c0..c0+3 of sample n (zeros past C)
vec4 ldc(samplerBuffer t, uint n, uint c0)
{
    uint b = n * p.C + c0;
    if (c4()) return texelFetch(t, int(b >> 2));
    vec4 r = vec4(0.0);
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        if (c0 + j < p.C) r[j] = texelFetch(t, int(b + j)).x;
    return r;
}

// lane mask and clamped channel indices of block c0
vec4 lane_mask(uint c0) { return vec4(lessThan(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.C))); }
uvec4 lane_c(uint c0) { return min(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.C - 1u)); }

// four consecutive entries a0..a0+3 of a per-channel (or per-(k, c)) texel view (RGBA32F when C % 4
// == 0, then a0 % 4 == 0; else R32F); lanes past C: entry a0
vec4 par4(samplerBuffer t, uint a0, uint c0)
{
    if (c4()) return texelFetch(t, int(a0 >> 2));
    vec4 r;
    [[unroll]] for (uint l = 0u; l < 4u; l++) r[l] = texelFetch(t, int(c0 + l < p.C ? a0 + l : a0)).x;
    return r;
}
