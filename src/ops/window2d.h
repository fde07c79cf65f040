/* The packed window-geometry specialization constants of shaders/common/window2d.glsl (ids 0..4). */
#ifndef VKN_OPS_WINDOW2D_H
#define VKN_OPS_WINDOW2D_H

#include "vkn/status.h"
#include <stdint.h>

static inline vkn_status vkn_window_spec(const char *op, uint32_t C, uint32_t H, uint32_t W, uint32_t kh, uint32_t kw,
                                         uint32_t sh, uint32_t sw, uint32_t ph, uint32_t pw, uint32_t Ho, uint32_t Wo,
                                         uint32_t spec[5])
{
    if (H > 0xFFFF || W > 0xFFFF || Ho > 0xFFFF || Wo > 0xFFFF || ph > 0xFFFF || pw > 0xFFFF || kh > 0xFF || kw > 0xFF ||
        sh > 0xFF || sw > 0xFF)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: sizes over 65535 or kernel/stride over 255 are not supported", op);
    spec[0] = C;
    spec[1] = H | W << 16;
    spec[2] = kh | kw << 8 | sh << 16 | sw << 24;
    spec[3] = ph | pw << 16;
    spec[4] = Ho | Wo << 16;
    return VKN_OK;
}

#endif
