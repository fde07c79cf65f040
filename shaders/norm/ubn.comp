#version 450
#extension GL_GOOGLE_include_directive : require
// UBN (feature-condensation threshold, NORMS.md 8.2): the mean pairwise cosine similarity of the N
// samples (D = C*P values each),  s = (||sum_n u_n||^2 - N') / (N' (N' - 1)),  u_n = x_n / ||x_n||,
// N' = samples with a nonzero norm (s = 0 when N' < 2). Three launches (STAGE):
//   0: invocation n: u[4 + n] = 1/||x_n|| (0 for a zero sample)
//   1: invocation j: partial u[4 + N + j] = sum over columns 4j..4j+3 of (sum_n x[n, col] / ||x_n||)^2
//   2: one invocation: u[0] = s, u[1] = (s > threshold) (read by finalize.comp), in a fixed order.
// GPU path: stages 0 and 2 take a workgroup (per sample; one) whose lane l sums items l, l + 64, ...
// and a shared-memory tree adds the lanes in a fixed order (a serial walk of D = 3136 values by one
// thread per sample took 200+ us on an H100).
#include "norm.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 3) const uint STAGE = 0u;
layout(binding = 8) uniform samplerBuffer X1;
layout(std430, binding = 0) buffer U { float u[]; };
shared float red[64];

// the sum of the 64 lanes' v, fixed order; every lane gets it
float wg_sum(float v)
{
    uint l = gl_LocalInvocationID.x;
    red[l] = v;
    barrier();
    for (uint h = 32u; h > 0u; h >>= 1u) {
        if (l < h) red[l] += red[l + h];
        barrier();
    }
    return red[0];
}

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    uint D = p.C * p.P;
    if (GPU && STAGE != 1u) {   // workgroup per output: flat_group_id() is the sample (stage 0)
        uint n = flat_group_id(), l = gl_LocalInvocationID.x;
        if (STAGE == 0u) {
            float sq = 0.0;
            for (uint j = l; j < D; j += 64u) { float v = texelFetch(X1, int(n * D + j)).x; sq += v * v; }
            sq = wg_sum(sq);
            if (l == 0u) u[4u + n] = sq > 0.0 ? inversesqrt(sq) : 0.0;
            return;
        }
        uint nq = (D + 3u) / 4u;
        float tot = 0.0, nn = 0.0;
        for (uint j = l; j < nq; j += 64u) tot += u[4u + p.N + j];
        for (uint m = l; m < p.N; m += 64u) nn += u[4u + m] > 0.0 ? 1.0 : 0.0;
        tot = wg_sum(tot);
        barrier();
        nn = wg_sum(nn);
        if (l == 0u) {
            float s = nn >= 2.0 ? (tot - nn) / (nn * (nn - 1.0)) : 0.0;
            u[0] = s;
            u[1] = s > p.ubn_thr ? 1.0 : 0.0;
        }
        return;
    }
    if (STAGE == 0u) {
        if (t >= p.N) return;
        float sq = 0.0;
        for (uint j = 0u; j < D; j++) { float v = texelFetch(X1, int(t * D + j)).x; sq += v * v; }
        u[4u + t] = sq > 0.0 ? inversesqrt(sq) : 0.0;
    } else if (STAGE == 1u) {
        uint nq = (D + 3u) / 4u;
        if (t >= nq) return;
        float q = 0.0;
        for (uint j = 4u * t; j < min(4u * t + 4u, D); j++) {
            float s = 0.0;
            for (uint n = 0u; n < p.N; n++) s += texelFetch(X1, int(n * D + j)).x * u[4u + n];
            q += s * s;
        }
        u[4u + p.N + t] = q;
    } else {
        if (t != 0u) return;
        uint nq = (D + 3u) / 4u;
        float tot = 0.0, nn = 0.0;
        for (uint j = 0u; j < nq; j++) tot += u[4u + p.N + j];
        for (uint n = 0u; n < p.N; n++) nn += u[4u + n] > 0.0 ? 1.0 : 0.0;
        float s = nn >= 2.0 ? (tot - nn) / (nn * (nn - 1.0)) : 0.0;
        u[0] = s;
        u[1] = s > p.ubn_thr ? 1.0 : 0.0;
    }
}
