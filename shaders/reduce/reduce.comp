#version 450
#extension GL_GOOGLE_include_directive : require
// Reduction over chosen axes. x is 4-D; its dimensions split into kept ones (indexing the output)
// and reduced ones. Invocation (o, chunk) folds reduced elements [chunk*len, (chunk+1)*len) of
// output o in a fixed order, so results are reproducible. With CHUNKS > 1 a second launch of this
// shader folds the partials (then x is [O, CHUNKS], contiguous).
// OP: 0 sum, 1 mean (sum * scale), 2 max.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(constant_id = 1) const bool CONTIG = false;   // reduced elements of an output are contiguous
layout(binding = 8) uniform samplerBuffer X;        // texel reads: see common.glsl
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n_out;          // O
    uint n_red;          // R
    uint chunks;         // chunks per output
    uint len;            // reduced elements per chunk
    uint kshape[4];      // kept dims (size 1 where reduced), innermost last
    uint kstride[4];
    uint rshape[4];      // reduced dims (size 1 where kept)
    uint rstride[4];
    float scale;         // applied at the end (1/R for a final mean, else 1)
} p;

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (t >= p.n_out * p.chunks) return;
    uint o = t / p.chunks, chunk = t % p.chunks;
    uint base = 0u, r = o;
    [[unroll]] for (int d = 3; d >= 0; d--) { base += (r % p.kshape[d]) * p.kstride[d]; r /= p.kshape[d]; }
    uint lo = chunk * p.len, hi = min(lo + p.len, p.n_red);
    float acc = OP == 2u ? -3.402823466e38 : 0.0;
    // Kahan-compensated sum: a long serial fold in fp32 otherwise loses digits
    float comp = 0.0;
    for (uint i = lo; i < hi; i++) {
        uint off = base + i;
        if (!CONTIG) {
            uint q = i;
            off = base;
            [[unroll]] for (int d = 3; d >= 0; d--) { off += (q % p.rshape[d]) * p.rstride[d]; q /= p.rshape[d]; }
        }
        float v = texelFetch(X, int(off)).x;
        if (OP == 2u) acc = v > acc || isnan(v) ? v : acc;   // a NaN wins (max() would drop it)
        else { float yv = v - comp; float s = acc + yv; comp = (s - acc) - yv; acc = s; }
    }
    y[t] = OP == 2u ? acc : acc * p.scale;
}
