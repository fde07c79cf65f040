// GEMM for CPU-class devices (lavapipe): no shared memory, no barriers. Each invocation owns TM rows
// by 4*NV columns of C (TM*NV vec4 accumulators in registers) and walks K four at a time. Operands are
// read through texel buffers (a straight-line gather on llvmpipe, where a storage-buffer load is a
// per-lane loop): per step, 4*NV fetches of op(B) and TM of op(A) feed 16*TM*NV FMAs.
// VEC: K and N are multiples of 4 (and M too when A is transposed), so every fetch is a vec4;
// otherwise bounds-checked scalar fetches (NV = 1 only).
// The body of gemm_reg.comp (32-bit stores) and gemm_reg_w64.comp (C stored as 64-bit words; needs
// shaderInt64).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 5) const bool VEC = false;
layout(constant_id = 6) const uint TM = 8u;
// constant 7: NV | CHW << 4. NV: vec4 column groups per invocation (1 or 2; VEC only). CHW != 0: C is
// stored NCHW, not [M, N]: column n = img*CHW + pix of row m lands at (img*M + m)*CHW + pix (a conv's
// CNHW product written as its NCHW output, no swap01 pass; not batched)
layout(constant_id = 7) const uint NVX = 1u;
const uint NV = NVX & 15u, CHW = NVX >> 4;

layout(std430, binding = 0) buffer C { float c[]; };
layout(std430, binding = 0) buffer C4 { vec4 c4[]; };
#ifdef VKN_W64
layout(std430, binding = 0) buffer C8 { u64vec2 c8[]; };
layout(std430, binding = 0) buffer C16 { u64vec4 c16[]; };
#endif
layout(std430, binding = 1) readonly buffer Bias { float bias[]; };
layout(binding = 8) uniform samplerBuffer A4;    // A as vec4 texels (VEC)
layout(binding = 9) uniform samplerBuffer B4;
layout(binding = 10) uniform samplerBuffer A1;   // A as scalars (not VEC)
layout(binding = 11) uniform samplerBuffer B1;
#include "gemm_epilogue.glsl"

uint c_at(uint bc, uint m, uint n)   // element index of C[m, n]
{
    if (CHW == 0u) return bc + m * p.N + n;
    uint img = n / CHW;
    return (img * p.M + m) * CHW + (n - img * CHW);
}

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
    uint n0 = (gl_WorkGroupID.x * 64u + gl_LocalInvocationID.x) * 4u * NV;
    uint m0 = gl_WorkGroupID.y * TM;
    if (n0 >= p.N) return;
    uint z = gl_WorkGroupID.z;
    uint ba = z * p.batch_a, bb = z * p.batch_b, bc = z * p.batch_c;
    vec4 acc[TM * NV];                              // acc[i*NV + v] = C[m0+i, n0+4v..n0+4v+3]
    [[unroll]] for (uint i = 0u; i < TM * NV; i++) acc[i] = vec4(0.0);

    if (VEC) {
        uint mlast = min(p.M, m0 + TM) - 1u;        // rows past M repeat the last row (never stored)
        uint nv[NV];                                // column group starts, clamped inside N (extra never stored)
        [[unroll]] for (uint v = 0u; v < NV; v++) nv[v] = min(n0 + 4u * v, p.N - 4u);
        for (uint k = 0u; k < p.K; k += 4u) {
            vec4 br[4 * NV];                        // br[kk*NV + v] = op(B)[k+kk, nv[v]..nv[v]+3]
            if (TB) {
                [[unroll]] for (uint v = 0u; v < NV; v++) {
                    vec4 bt[4];                     // bt[j] = op(B)[k..k+3, nv[v]+j]
                    [[unroll]] for (uint j = 0u; j < 4u; j++) bt[j] = texelFetch(B4, int((bb + (nv[v] + j) * p.K + k) / 4u));
                    [[unroll]] for (uint kk = 0u; kk < 4u; kk++) br[kk * NV + v] = vec4(bt[0][kk], bt[1][kk], bt[2][kk], bt[3][kk]);
                }
            } else {
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                    [[unroll]] for (uint v = 0u; v < NV; v++) br[kk * NV + v] = texelFetch(B4, int((bb + (k + kk) * p.N + nv[v]) / 4u));
            }
            if (TA) {
                // op(A)[m0+q..m0+q+3, k+kk] lies along a stored row: 4 vec4 fetches per 4 rows; each
                // accumulator takes its 4 FMAs in a row (one spill reload and store, not four)
                [[unroll]] for (uint q = 0u; q < TM; q += 4u) {
                    uint mq = min(m0 + q, p.M - 4u);
                    vec4 av[4];                     // av[kk][r] = op(A)[m0+q+r, k+kk]
                    [[unroll]] for (uint kk = 0u; kk < 4u; kk++) av[kk] = texelFetch(A4, int((ba + (k + kk) * p.M + mq) / 4u));
                    [[unroll]] for (uint r = 0u; r < 4u; r++)
                        [[unroll]] for (uint v = 0u; v < NV; v++)
                            [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                                acc[(q + r) * NV + v] = fma(vec4(av[kk][r]), br[kk * NV + v], acc[(q + r) * NV + v]);
                }
            } else {
                [[unroll]] for (uint i = 0u; i < TM; i++) {
                    vec4 av = texelFetch(A4, int((ba + min(m0 + i, mlast) * p.K + k) / 4u));   // op(A)[m0+i, k..k+3]
                    [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                        [[unroll]] for (uint v = 0u; v < NV; v++)
                            acc[i * NV + v] = fma(vec4(av[kk]), br[kk * NV + v], acc[i * NV + v]);
                }
            }
        }
        vec4 bcol[NV];
        [[unroll]] for (uint v = 0u; v < NV; v++) {
            uint nn = nv[v];
            bcol[v] = BIAS == 1u ? vec4(bias[nn], bias[nn + 1u], bias[nn + 2u], bias[nn + 3u]) : vec4(0.0);
        }
#ifdef VKN_W64
        // C stored as 64-bit words: llvmpipe stores a storage buffer per lane and per component, so
        // two floats per component halve that work (most of the epilogue's cost, which dominates a
        // short K); with NV = 2 and N % 8 == 0, one u64vec4 store covers both column groups
        bool wide = NV == 2u && (p.N & 7u) == 0u && (bc & 7u) == 0u && n0 + 8u <= p.N;
#endif
        [[unroll]] for (uint i = 0u; i < TM; i++) {
            uint m = m0 + i;
            if (m >= p.M) break;
            float brow = BIAS == 2u ? bias[m] : 0.0;
            vec4 o[NV];
            [[unroll]] for (uint v = 0u; v < NV; v++) {
                vec4 old = vec4(0.0);
                if (BETA) {
                    if (CHW == 0u || CHW % 4u == 0u) old = c4[c_at(bc, m, nv[v]) / 4u];
                    else [[unroll]] for (uint j = 0u; j < 4u; j++) old[j] = c[c_at(bc, m, min(nv[v] + j, p.N - 1u))];
                }
                [[unroll]] for (uint j = 0u; j < 4u; j++) o[v][j] = epilogue(acc[i * NV + v][j], BIAS == 1u ? bcol[v][j] : brow, old[j]);
            }
            if (CHW != 0u && CHW % 4u != 0u) {      // NCHW with an image size not a multiple of 4: scalars
                [[unroll]] for (uint v = 0u; v < NV; v++)
                    [[unroll]] for (uint j = 0u; j < 4u; j++)
                        if (n0 + 4u * v + j < p.N) c[c_at(bc, m, n0 + 4u * v + j)] = o[v][j];
                continue;
            }
            if (CHW != 0u) {                        // NCHW, 4 | CHW: each vec4 lies in one image
#ifdef VKN_W64
                [[unroll]] for (uint v = 0u; v < NV; v++)
                    if (n0 + 4u * v < p.N)
                        c8[c_at(bc, m, n0 + 4u * v) / 4u] = u64vec2(packUint2x32(floatBitsToUint(o[v].xy)), packUint2x32(floatBitsToUint(o[v].zw)));
#else
                [[unroll]] for (uint v = 0u; v < NV; v++)
                    if (n0 + 4u * v < p.N) c4[c_at(bc, m, n0 + 4u * v) / 4u] = o[v];
#endif
                continue;
            }
            uint ce = bc + m * p.N + n0;            // element index of C[m, n0]
#ifdef VKN_W64
            if (NV == 2u && wide) {
                c16[ce / 8u] = u64vec4(packUint2x32(floatBitsToUint(o[0].xy)), packUint2x32(floatBitsToUint(o[0].zw)),
                                       packUint2x32(floatBitsToUint(o[NV - 1u].xy)), packUint2x32(floatBitsToUint(o[NV - 1u].zw)));
                continue;
            }
            [[unroll]] for (uint v = 0u; v < NV; v++)
                if (n0 + 4u * v < p.N)
                    c8[(ce + 4u * v) / 4u] = u64vec2(packUint2x32(floatBitsToUint(o[v].xy)), packUint2x32(floatBitsToUint(o[v].zw)));
#else
            [[unroll]] for (uint v = 0u; v < NV; v++)
                if (n0 + 4u * v < p.N) c4[(ce + 4u * v) / 4u] = o[v];
#endif
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
                    uint ci = c_at(bc, m, n);
                    float bv = BIAS == 1u ? bias[n] : BIAS == 2u ? bias[m] : 0.0;
                    c[ci] = epilogue(acc[i][j], bv, BETA ? c[ci] : 0.0);
                }
            }
    }
}
