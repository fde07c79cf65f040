/* Helpers shared by the training-op launchers (loss.c, optim.c, random.c, train_misc.c). */
#ifndef VKN_OPS_TRAIN_LAUNCH_H
#define VKN_OPS_TRAIN_LAUNCH_H

#include "ops/launch.h"

/* The same tensor with its byte range rounded up to 16: a vec4 texel view then covers the last
 * partial vec4 (arena slots are 16-byte aligned and padded, so those bytes exist; kernels ignore the
 * lanes past numel). */
static inline vkn_tensor vkn_pad16(const vkn_tensor *t)
{
    vkn_tensor p = *t;
    p.bytes = (p.bytes + 15) / 16 * 16;
    return p;
}

/* Modes of shaders/optim/finish.comp */
enum { VKN_FINISH_SUM = 0, VKN_FINISH_SQRT = 1, VKN_FINISH_ANY = 2 };

/* out[0] = fold of part[0..m) (fixed order): see finish.comp. */
vkn_status vkn_train_finish(vkn_cmd *c, uint32_t mode, int accumulate, float scale, const vkn_tensor *part,
                            uint32_t m, const vkn_tensor *out, const char *label);

#endif
