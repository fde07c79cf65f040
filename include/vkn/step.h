/* Per-step scalars. A recorded training step is replayed unchanged, so every value that changes from
 * step to step (learning rates, the Adam step count, the RNG counter, the gradient-reversal lambda)
 * lives in a small F32 tensor in host-mapped memory that the host rewrites before each submit.
 * Ops that need such a value take the step tensor and the index of their slot. Integer slots (the
 * RNG counter) store the uint32 bits in the float (floatBitsToUint in GLSL, memcpy on the host). */
#ifndef VKN_STEP_H
#define VKN_STEP_H

enum {
    VKN_STEP_T = 0,          /* optimizer step count t (1, 2, ...), as a float */
    VKN_STEP_RNG = 1,        /* RNG counter (uint32 bits): a new value per step gives new noise */
    VKN_STEP_LAMBDA = 2,     /* gradient-reversal coefficient */
    VKN_STEP_LR0 = 4,        /* learning rates of up to 8 optimizers: VKN_STEP_LR0 + i */
    VKN_STEP_USER = 12,      /* free for apps */
    VKN_STEP_COUNT = 16
};

#endif
