#version 450
#extension GL_GOOGLE_include_directive : require
// GEMM for CPU-class devices (lavapipe): no shared memory, no barriers. Each invocation owns a 4x4
// block of C and walks K four at a time, so every step is 8 vec4 loads for 64 FMAs; the compiler
// keeps the 16 accumulators in registers. VEC: M, N, K are multiples of 4 and every access is a
// vec4 load; otherwise bounds-checked scalar loads.
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 4) in;
layout(constant_id = 5) const bool VEC = false;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) buffer C { float c[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) buffer C4 { vec4 c4[]; };

#include "gemm_epilogue.glsl"

float ld_a(uint base, uint m, uint k)   // op(A)[m,k], 0 outside
{
    if (m >= p.M || k >= p.K) return 0.0;
    return TA ? a[base + k * p.M + m] : a[base + m * p.K + k];
}
float ld_b(uint base, uint k, uint n)   // op(B)[k,n], 0 outside
{
    if (k >= p.K || n >= p.N) return 0.0;
    return TB ? b[base + n * p.K + k] : b[base + k * p.N + n];
}

void main()
{
    uint m0 = (gl_WorkGroupID.y * 4u + gl_LocalInvocationID.y) * 4u;
    uint n0 = (gl_WorkGroupID.x * 16u + gl_LocalInvocationID.x) * 4u;
    if (m0 >= p.M || n0 >= p.N) return;
    uint z = gl_WorkGroupID.z;
    uint ba = z * p.batch_a, bb = z * p.batch_b, bc = z * p.batch_c;
    vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));   // acc[i] = C[m0+i, n0..n0+3]

    if (VEC) {
        for (uint k = 0u; k < p.K; k += 4u) {
            vec4 ac[4];   // ac[kk] = op(A)[m0..m0+3, k+kk]
            vec4 br[4];   // br[kk] = op(B)[k+kk, n0..n0+3]
            if (TA) {
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) ac[kk] = a4[(ba + (k + kk) * p.M + m0) / 4u];
            } else {
                vec4 ar[4];
                [[unroll]] for (uint i = 0u; i < 4u; i++) ar[i] = a4[(ba + (m0 + i) * p.K + k) / 4u];
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) ac[kk] = vec4(ar[0][kk], ar[1][kk], ar[2][kk], ar[3][kk]);
            }
            if (TB) {
                vec4 bt[4];
                [[unroll]] for (uint j = 0u; j < 4u; j++) bt[j] = b4[(bb + (n0 + j) * p.K + k) / 4u];
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) br[kk] = vec4(bt[0][kk], bt[1][kk], bt[2][kk], bt[3][kk]);
            } else {
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) br[kk] = b4[(bb + (k + kk) * p.N + n0) / 4u];
            }
            [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                [[unroll]] for (uint i = 0u; i < 4u; i++) acc[i] = fma(vec4(ac[kk][i]), br[kk], acc[i]);
        }
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint ci = (bc + (m0 + i) * p.N + n0) / 4u;
            vec4 old = BETA ? c4[ci] : vec4(0.0);
            vec4 o;
            [[unroll]] for (uint j = 0u; j < 4u; j++) o[j] = epilogue(acc[i][j], m0 + i, n0 + j, old[j]);
            c4[ci] = o;
        }
    } else {
        for (uint k = 0u; k < p.K; k++) {
            vec4 ac = vec4(ld_a(ba, m0, k), ld_a(ba, m0 + 1u, k), ld_a(ba, m0 + 2u, k), ld_a(ba, m0 + 3u, k));
            vec4 br = vec4(ld_b(bb, k, n0), ld_b(bb, k, n0 + 1u), ld_b(bb, k, n0 + 2u), ld_b(bb, k, n0 + 3u));
            [[unroll]] for (uint i = 0u; i < 4u; i++) acc[i] = fma(vec4(ac[i]), br, acc[i]);
        }
        [[unroll]] for (uint i = 0u; i < 4u; i++)
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                uint m = m0 + i, n = n0 + j;
                if (m < p.M && n < p.N) {
                    uint ci = bc + m * p.N + n;
                    c[ci] = epilogue(acc[i][j], m, n, BETA ? c[ci] : 0.0);
                }
            }
    }
}
