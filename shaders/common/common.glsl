// Shared helpers for every compute shader.
#extension GL_EXT_control_flow_attributes : enable

// Large 1-D launches use a 2-D grid (x up to 65535 groups): the flat workgroup index.
uint flat_group_id() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// Activations shared by the GEMM epilogue and the element-wise kernels.
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_TANH 3
#define ACT_SIGMOID 4

float apply_act(uint act, float v, float alpha)
{
    // max(NaN, 0) is undefined in SPIR-V (0 on some drivers): a NaN must reach the NaN guard, as in PyTorch
    if (act == ACT_RELU) return isnan(v) ? v : max(v, 0.0);
    if (act == ACT_LEAKY_RELU) return v > 0.0 ? v : alpha * v;
    if (act == ACT_TANH) {
        // tanh through exp of a negative argument: no overflow for large |v|
        float e = exp(-2.0 * abs(v));
        return sign(v) * (1.0 - e) / (1.0 + e);
    }
    if (act == ACT_SIGMOID) {
        float e = exp(-abs(v));
        return v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
    return v;
}

// Element-wise kernels read their inputs through texel buffers (binding 8+): on CPU devices
// (llvmpipe) a texel fetch is a straight-line gather, several times faster than a storage-buffer
// load, which is scalarized per lane behind a branch. Each invocation owns four consecutive
// elements: one vec4 fetch (RGBA32F view) when all four exist, scalar fetches (R32F view) for the tail.
#define VKN_VEC4_OR_TAIL(n, base) ((base) + 3u < (n))
