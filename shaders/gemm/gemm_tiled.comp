#version 450
#extension GL_GOOGLE_include_directive : require
// GEMM for GPUs: 64x64 tiles of C per workgroup of 256 invocations, each owning 4x4 outputs; op(A)
// and op(B) are staged through shared memory 16 deep in K. Bounds-checked loads handle any shape.
// Split-K (gemm.c, split_plan): workgroup z = batch item * S + slice s covers K in
// [s * k_slice, (s+1) * k_slice) and stores its plain product at z * batch_c (the launcher gives an
// identity epilogue and a partial buffer [batch, S, M, N] as C; gemm_splitk_reduce finishes). Not
// split: k_slice = K, S = 1, z = batch item.
#define VKN_GEMM_SPLIT_K 1
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) buffer C { float c[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };

#include "gemm_epilogue.glsl"

const uint BM = 64u, BN = 64u, BK = 16u;
shared float As[BK][BM + 4u];   // padded against bank conflicts
shared float Bs[BK][BN + 4u];

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, tid = ty * 16u + tx;
    uint bm = gl_WorkGroupID.y * BM, bn = gl_WorkGroupID.x * BN;
    uint z = gl_WorkGroupID.z;
    uint splits = max((p.K + p.k_slice - 1u) / p.k_slice, 1u);
    uint zb = z / splits, k_begin = (z - zb * splits) * p.k_slice, k_end = min(p.K, k_begin + p.k_slice);
    uint ba = zb * p.batch_a, bb = zb * p.batch_b, bc = z * p.batch_c;
    float acc[4][4];
    [[unroll]] for (uint i = 0u; i < 4u; i++) [[unroll]] for (uint j = 0u; j < 4u; j++) acc[i][j] = 0.0;

    for (uint k0 = k_begin; k0 < k_end; k0 += BK) {
        // 1024 elements of each tile, 4 per invocation; consecutive invocations read along the
        // stored fast axis so global loads coalesce
        [[unroll]] for (uint r = 0u; r < 4u; r++) {
            uint e = r * 256u + tid;
            uint mm, kk;
            if (TA) { kk = e / BM; mm = e % BM; } else { mm = e / BK; kk = e % BK; }
            uint m = bm + mm, k = k0 + kk;
            As[kk][mm] = (m < p.M && k < k_end) ? (TA ? a[ba + k * p.M + m] : a[ba + m * p.K + k]) : 0.0;
            uint nn, kb;
            if (TB) { nn = e / BK; kb = e % BK; } else { kb = e / BN; nn = e % BN; }
            uint n = bn + nn, kg = k0 + kb;
            Bs[kb][nn] = (n < p.N && kg < k_end) ? (TB ? b[bb + n * p.K + kg] : b[bb + kg * p.N + n]) : 0.0;
        }
        barrier();
        [[unroll]] for (uint kk = 0u; kk < BK; kk++) {
            float av[4], bv[4];
            [[unroll]] for (uint i = 0u; i < 4u; i++) av[i] = As[kk][ty + 16u * i];
            [[unroll]] for (uint j = 0u; j < 4u; j++) bv[j] = Bs[kk][tx + 16u * j];
            [[unroll]] for (uint i = 0u; i < 4u; i++) [[unroll]] for (uint j = 0u; j < 4u; j++)
                acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier();
    }
    [[unroll]] for (uint i = 0u; i < 4u; i++) [[unroll]] for (uint j = 0u; j < 4u; j++) {
        uint m = bm + ty + 16u * i, n = bn + tx + 16u * j;
        if (m < p.M && n < p.N) {
            uint ci = bc + m * p.N + n;
            float bv = BIAS == 1u ? bias[n] : BIAS == 2u ? bias[m] : 0.0;
            c[ci] = epilogue(acc[i][j], bv, BETA ? c[ci] : 0.0);
        }
    }
}
