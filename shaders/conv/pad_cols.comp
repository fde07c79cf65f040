#version 450
#extension GL_GOOGLE_include_directive : require
// out[m, k] = k < WI ? in[m, k] : 0 for out [M, WO], in [M, WI]: pads (WO > WI) or crops (WO < WI) the
// columns of a matrix (a conv weight's K to a multiple of 4 for the GEMM's vec4 path, and back).
// Four consecutive outputs per invocation.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint WI = 1u;
layout(constant_id = 1) const uint WO = 1u;
layout(binding = 8) uniform samplerBuffer X1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;

float at(uint e) { uint m = e / WO, k = e - m * WO; return k < WI ? texelFetch(X1, int(m * WI + k)).x : 0.0; }

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) { y4[i] = vec4(at(base), at(base + 1u), at(base + 2u), at(base + 3u)); return; }
    for (uint j = base; j < p.n; j++) y[j] = at(j);
}
