// GEMM push constants and epilogue, shared by the register-blocked and the tiled kernels.
//   C[M,N] = act(alpha * op(A)[M,K] op(B)[K,N] + beta * C + bias)
//   op(A) = A ([M,K] row-major) or A^T (A stored [K,M]); likewise B ([K,N] or stored [N,K]).
//   bias: none, per column (length N: a linear layer's bias) or per row (length M: conv channels).
layout(constant_id = 0) const bool TA = false;
layout(constant_id = 1) const bool TB = false;
layout(constant_id = 2) const uint ACT = 0u;
layout(constant_id = 3) const uint BIAS = 0u;     // 0 none, 1 per column, 2 per row
layout(constant_id = 4) const bool BETA = false;  // read C and add beta * C

layout(push_constant) uniform P {
    uint M, N, K;
    float alpha, beta, act_alpha;
    uint batch_a, batch_b, batch_c;   // element strides between batch items (gl_WorkGroupID.z)
#ifdef VKN_GEMM_SPLIT_K
    uint k_slice;   // gemm_tiled and gemm_splitk_reduce: K per split-K slice (K when not split)
#endif
} p;

// bias_v: the bias of this element (0 when BIAS == 0)
float epilogue(float acc, float bias_v, float c_old)
{
    float v = p.alpha * acc + bias_v;
    if (BETA) v += p.beta * c_old;
    return apply_act(ACT, v, p.act_alpha);
}
