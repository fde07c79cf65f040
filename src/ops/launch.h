/* Helpers shared by the op launchers. */
#ifndef VKN_OPS_LAUNCH_H
#define VKN_OPS_LAUNCH_H

#include "vkn/cmd.h"

/* A 1-D launch of `invocations` in workgroups of `wg`, laid out on a 2-D grid (x <= 65535). */
static inline void vkn_grid_1d(uint64_t invocations, uint32_t wg, uint32_t groups[3])
{
    uint64_t g = (invocations + wg - 1) / wg;
    if (g == 0) g = 1;
    groups[0] = (uint32_t)(g < 65535 ? g : 65535);
    groups[1] = (uint32_t)((g + groups[0] - 1) / groups[0]);
    groups[2] = 1;
}

static inline int vkn_is_f32(const vkn_tensor *t) { return t && t->dtype == VKN_F32 && t->buffer; }

#endif
