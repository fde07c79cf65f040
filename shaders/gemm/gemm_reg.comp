#version 450
#extension GL_GOOGLE_include_directive : require
// GEMM for CPU-class devices (lavapipe): no shared memory, no barriers. Each invocation owns TM rows
// by 4 columns of C (TM vec4 accumulators in registers) and walks K four at a time. Operands are
// read through texel buffers (a straight-line gather on llvmpipe, where a storage-buffer load is a
// per-lane loop): per step, 4 fetches of op(B) and TM of op(A) feed 16*TM FMAs.
// VEC: K and N are multiples of 4 (and M too when A is transposed), so every fetch is a vec4;
// otherwise bounds-checked scalar fetches.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 5) const bool VEC = false;
layout(constant_id = 6) const uint TM = 8u;

layout(std430, binding = 0) buffer C { float c[]; };
layout(std430, binding = 0) buffer C4 { vec4 c4[]; };
layout(std430, binding = 1) readonly buffer Bias { float bias[]; };
layout(binding = 8) uniform samplerBuffer A4;    // A as vec4 texels (VEC)
layout(binding = 9) uniform samplerBuffer B4;
layout(binding = 10) uniform samplerBuffer A1;   // A as scalars (not VEC)
layout(binding = 11) uniform samplerBuffer B1;
#include "gemm_epilogue.glsl"

float a_at(uint ba, uint m, uint k)   // op(A)[m,k], 0 outside
{
    if (m >= p.M || k >= p.K) return 0.0;
    return texelFetch(A1, int(ba + (TA ? k * p.M + m : m * p.K + k))).x;
}
float b_at(uint bb, uint k, uint n)   // op(B)[k,n], 0 outside
{
    if (k >= p.K || n >= p.N) return 0.0;
    return texelFetch(B1, int(bb + (TB ? n * p.K + k : k * p.N + n))).x;
}

void main()
{
    uint n0 = (gl_WorkGroupID.x * 64u + gl_LocalInvocationID.x) * 4u;
    uint m0 = gl_WorkGroupID.y * TM;
    if (n0 >= p.N) return;
    uint z = gl_WorkGroupID.z;
    uint ba = z * p.batch_a, bb = z * p.batch_b, bc = z * p.batch_c;
    vec4 acc[TM];                                   // acc[i] = C[m0+i, n0..n0+3]
    [[unroll]] for (uint i = 0u; i < TM; i++) acc[i] = vec4(0.0);

    if (VEC) {
        uint mlast = min(p.M, m0 + TM) - 1u;        // rows past M repeat the last row (never stored)
        for (uint k = 0u; k < p.K; k += 4u) {
            vec4 br[4];                             // br[kk] = op(B)[k+kk, n0..n0+3]
            if (TB) {
                vec4 bt[4];                         // bt[j] = op(B)[k..k+3, n0+j]
                [[unroll]] for (uint j = 0u; j < 4u; j++) bt[j] = texelFetch(B4, int((bb + (n0 + j) * p.K + k) / 4u));
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) br[kk] = vec4(bt[0][kk], bt[1][kk], bt[2][kk], bt[3][kk]);
            } else {
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) br[kk] = texelFetch(B4, int((bb + (k + kk) * p.N + n0) / 4u));
            }
            if (TA) {
                // op(A)[m0.., k+kk] lies along a stored row: TM/4 vec4 fetches per kk
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                    [[unroll]] for (uint q = 0u; q < TM; q += 4u) {
                        vec4 av = texelFetch(A4, int((ba + (k + kk) * p.M + min(m0 + q, p.M - 4u)) / 4u));
                        [[unroll]] for (uint r = 0u; r < 4u; r++) acc[q + r] = fma(vec4(av[r]), br[kk], acc[q + r]);
                    }
            } else {
                [[unroll]] for (uint i = 0u; i < TM; i++) {
                    vec4 av = texelFetch(A4, int((ba + min(m0 + i, mlast) * p.K + k) / 4u));   // op(A)[m0+i, k..k+3]
                    acc[i] = fma(vec4(av.x), br[0], acc[i]);
                    acc[i] = fma(vec4(av.y), br[1], acc[i]);
                    acc[i] = fma(vec4(av.z), br[2], acc[i]);
                    acc[i] = fma(vec4(av.w), br[3], acc[i]);
                }
            }
        }
        vec4 bcol = BIAS == 1u ? vec4(bias[n0], bias[n0 + 1u], bias[n0 + 2u], bias[n0 + 3u]) : vec4(0.0);
        [[unroll]] for (uint i = 0u; i < TM; i++) {
            uint m = m0 + i;
            if (m >= p.M) break;
            uint ci = (bc + m * p.N + n0) / 4u;
            vec4 old = BETA ? c4[ci] : vec4(0.0);
            float brow = BIAS == 2u ? bias[m] : 0.0;
            vec4 o;
            [[unroll]] for (uint j = 0u; j < 4u; j++) o[j] = epilogue(acc[i][j], BIAS == 1u ? bcol[j] : brow, old[j]);
            c4[ci] = o;
        }
    } else {
        for (uint k = 0u; k < p.K; k++) {
            vec4 br = vec4(b_at(bb, k, n0), b_at(bb, k, n0 + 1u), b_at(bb, k, n0 + 2u), b_at(bb, k, n0 + 3u));
            [[unroll]] for (uint i = 0u; i < TM; i++) acc[i] = fma(vec4(a_at(ba, m0 + i, k)), br, acc[i]);
        }
        [[unroll]] for (uint i = 0u; i < TM; i++)
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                uint m = m0 + i, n = n0 + j;
                if (m < p.M && n < p.N) {
                    uint ci = bc + m * p.N + n;
                    float bv = BIAS == 1u ? bias[n] : BIAS == 2u ? bias[m] : 0.0;
                    c[ci] = epilogue(acc[i][j], bv, BETA ? c[ci] : 0.0);
                }
            }
    }
}
