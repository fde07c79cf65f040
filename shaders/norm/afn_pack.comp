#version 450
#extension GL_GOOGLE_include_directive : require
// AFN's learned slots are 18 separate tensors (any of them replaceable, vkn_norm_set_tensors); the
// MLP kernels read them packed in one array and write their gradients packed. This kernel copies up
// to 7 slots between the packed array (binding 0) and the slot tensors (bindings 1..7):
//   UNPACK = false: packed[base + off[j] + i] = slot_j[i];   UNPACK = true: the other way round.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool UNPACK = false;
layout(push_constant) uniform PC {
    uint off[8];   // cumulative element offsets of the (up to 7) slots, off[nslot] = total
    uint nslot, base;
} p;
layout(std430, binding = 0) buffer Packed { float pk[]; };
layout(std430, binding = 1) buffer S1 { float s1[]; };
layout(std430, binding = 2) buffer S2 { float s2[]; };
layout(std430, binding = 3) buffer S3 { float s3[]; };
layout(std430, binding = 4) buffer S4 { float s4[]; };
layout(std430, binding = 5) buffer S5 { float s5[]; };
layout(std430, binding = 6) buffer S6 { float s6[]; };
layout(std430, binding = 7) buffer S7 { float s7[]; };

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (t >= p.off[p.nslot]) return;
    uint j = 0u;
    while (j + 1u < p.nslot && t >= p.off[j + 1u]) j++;
    uint i = t - p.off[j], k = p.base + t;
    if (!UNPACK) {
        float v = j == 0u ? s1[i] : j == 1u ? s2[i] : j == 2u ? s3[i] : j == 3u ? s4[i] : j == 4u ? s5[i]
                : j == 5u ? s6[i] : s7[i];
        pk[k] = v;
    } else {
        float v = pk[k];
        if (j == 0u) s1[i] = v;
        else if (j == 1u) s2[i] = v;
        else if (j == 2u) s3[i] = v;
        else if (j == 3u) s4[i] = v;
        else if (j == 4u) s5[i] = v;
        else if (j == 5u) s6[i] = v;
        else s7[i] = v;
    }
}
