#version 450
#extension GL_GOOGLE_include_directive : require
// Average pooling (divisor kh*kw, padding counts as zeros). BWD = false: y[n,c,oh,ow] = mean of the
// window of x; BWD = true: dx[n,c,h,w] = sum of dy over the windows covering (h,w) / (kh*kw), gathered in
// a fixed order. X1 is x (forward) or dy (backward). Four outputs per invocation.
#include "common.glsl"
#include "window2d.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 5) const bool BWD = false;
layout(binding = 8) uniform samplerBuffer X1;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; float scale; } p;

float fwd(uint o)
{
    uint ow = o % OW, t = o / OW;
    uint oh = t % OH, plane = t / OH;
    uint xb = plane * IH * IW;
    int h0 = int(oh * SH) - int(PH), w0 = int(ow * SW) - int(PW);
    float s = 0.0;
    for (uint i = 0u; i < KH; i++) {
        int h = h0 + int(i);
        if (h < 0 || h >= int(IH)) continue;
        for (uint j = 0u; j < KW; j++) {
            int w = w0 + int(j);
            if (w >= 0 && w < int(IW)) s += texelFetch(X1, int(xb) + h * int(IW) + w).x;
        }
    }
    return s * p.scale;
}

float bwd(uint e)
{
    uint w = e % IW, t = e / IW;
    uint h = t % IH, plane = t / IH;
    uint hp = h + PH, wp = w + PW;
    uint oh0 = hp + 1u > KH ? (hp + 1u - KH + SH - 1u) / SH : 0u, oh1 = min(hp / SH + 1u, OH);
    uint ow0 = wp + 1u > KW ? (wp + 1u - KW + SW - 1u) / SW : 0u, ow1 = min(wp / SW + 1u, OW);
    float s = 0.0;
    for (uint oh = oh0; oh < oh1; oh++)
        for (uint ow = ow0; ow < ow1; ow++) s += texelFetch(X1, int((plane * OH + oh) * OW + ow)).x;
    return s * p.scale;
}

float f(uint o) { return BWD ? bwd(o) : fwd(o); }

void main()
{
    uint i = flat_group_id() * 64u + gl_LocalInvocationID.x, base = 4u * i;
    if (VKN_VEC4_OR_TAIL(p.n, base)) {
        y4[i] = vec4(f(base), f(base + 1u), f(base + 2u), f(base + 3u));
        return;
    }
    for (uint j = base; j < p.n; j++) y[j] = f(j);
}
