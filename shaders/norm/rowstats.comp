#version 450
#extension GL_GOOGLE_include_directive : require
// Stage 1 of the segmented statistics: invocation t = (row r, chunk q) folds the elements
// [r*P + q*clen, min(r*P + (q+1)*clen, (r+1)*P)) serially, one vec4 block at a time, in order.
//   forward (BWD = false): part[t] = (count, mean, M2) by Chan's merge of the vec4 blocks
//   backward (BWD = true): part[t] = (sum g, sum g*(x - M), 0, 0), M = the row's ftab mean
// No barriers, no atomics; the merge stage (finalize / bsum) folds the partials in a fixed order.
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 3) const bool BWD = false;
layout(binding = 8) uniform samplerBuffer X4;
layout(binding = 9) uniform samplerBuffer X1;
layout(binding = 10) uniform samplerBuffer G4;
layout(binding = 11) uniform samplerBuffer G1;
layout(std430, binding = 0) writeonly buffer Part { vec4 part[]; };
layout(std430, binding = 1) readonly buffer Ftab { vec4 ftab[]; };
layout(std430, binding = 2) readonly buffer Kmap { float kmap[]; };

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint rows = p.N * p.C;
    if (t >= rows * p.nchunk) return;
    uint r = t / p.nchunk, q = t - r * p.nchunk;
    uint lo = r * p.P + q * p.clen, hi = min(lo + p.clen, (r + 1u) * p.P);
    uint v0 = lo / 4u, v1 = (hi - 1u) / 4u;
    if (!BWD) {
        vec3 acc = vec3(0.0);
        for (uint v = v0; v <= v1; v++) chan(acc, block4(ld4(X4, X1, v), mask4(v, lo, hi)));
        part[t] = vec4(acc, 0.0);
    } else {
        uint n = r / p.C, c = r - n * p.C;
        uint tt = TAB_CTX ? uint(kmap[n]) : TAB_N ? n : 0u;
        float M = ftab[tt * p.C + c].x;
        vec4 sg = vec4(0.0), sgx = vec4(0.0);
        for (uint v = v0; v <= v1; v++) {
            vec4 m = mask4(v, lo, hi), g = ld4(G4, G1, v) * m;
            sg += g;
            sgx += g * (ld4(X4, X1, v) - M);
        }
        part[t] = vec4(dot(sg, vec4(1.0)), dot(sgx, vec4(1.0)), 0.0, 0.0);
    }
}
