#version 450
#extension GL_GOOGLE_include_directive : require
// Split-K GEMM, second pass (gemm.c, split_plan): C = epilogue(sum of the S partial products). The
// partials [batch, S, M, N] come from gemm_tiled's slices; each invocation owns one element of C and
// adds its S partials in slice order, a fixed order (no atomics): the result is bit-reproducible.
// Consecutive invocations read consecutive partials of one slice, so the loads coalesce.
// Grid: x over M*N in groups of 256, z over the batch.
#define VKN_GEMM_SPLIT_K 1
#include "common.glsl"
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) buffer C { float c[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };

#include "gemm_epilogue.glsl"

void main()
{
    uint mn_count = p.M * p.N, mn = gl_GlobalInvocationID.x, zb = gl_WorkGroupID.z;
    if (mn >= mn_count) return;
    uint splits = max((p.K + p.k_slice - 1u) / p.k_slice, 1u);
    uint base = zb * splits * mn_count + mn;
    float acc = 0.0;
    for (uint s = 0u; s < splits; s++) acc += part[base + s * mn_count];
    uint m = mn / p.N, n = mn - m * p.N, ci = zb * p.batch_c + mn;
    float bv = BIAS == 1u ? bias[n] : BIAS == 2u ? bias[m] : 0.0;
    c[ci] = epilogue(acc, bv, BETA ? c[ci] : 0.0);
}
