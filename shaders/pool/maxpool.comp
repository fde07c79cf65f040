#version 450
#extension GL_GOOGLE_include_directive : require
// Max pooling: y[n,c,oh,ow] = max over the window of x (padding never wins); idx = h*W + w of the first
// maximum in window order (-1 and y = 0 when the window holds only padding). Four outputs per invocation.
#include "common.glsl"
#include "window2d.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 5) const bool IDX = true;
layout(binding = 8) uniform samplerBuffer X1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) writeonly buffer I { int idx[]; };
layout(std430, binding = 1) writeonly buffer I4 { ivec4 idx4[]; };
layout(push_constant) uniform P { uint n; } p;

float pool(uint o, out int arg)
{
    uint ow = o % OW, t = o / OW;
    uint oh = t % OH, plane = t / OH;
    uint xb = plane * IH * IW;
    float m = 0.0;
    arg = -1;
    int h0 = int(oh * SH) - int(PH), w0 = int(ow * SW) - int(PW);
    for (uint i = 0u; i < KH; i++) {
        int h = h0 + int(i);
        if (h < 0 || h >= int(IH)) continue;
        for (uint j = 0u; j < KW; j++) {
            int w = w0 + int(j);
            if (w < 0 || w >= int(IW)) continue;
            int a = h * int(IW) + w;
            float v = texelFetch(X1, int(xb) + a).x;
            if (arg < 0 || v > m || isnan(v)) { m = v; arg = a; }   // a NaN wins, as in PyTorch
        }
    }
    return m;
}

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        ivec4 a;
        vec4 v = vec4(pool(base, a.x), pool(base + 1u, a.y), pool(base + 2u, a.z), pool(base + 3u, a.w));
        y4[i] = v;
        if (IDX) idx4[i] = a;
        return;
    }
    for (uint j = base; j < p.n; j++) {
        int a;
        y[j] = pool(j, a);
        if (IDX) idx[j] = a;
    }
}
