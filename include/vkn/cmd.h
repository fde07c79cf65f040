/* Recorded command streams. Ops record dispatches into a vkn_cmd; the hazard tracker inserts a
 * barrier only where a dispatch reads or writes memory an earlier, unbarriered dispatch wrote (or
 * writes memory one read). A recorded vkn_cmd can be submitted any number of times (the static
 * training graph records once and replays every step); each submit signals a timeline semaphore.
 * VKN_PROFILE=1 timestamps every dispatch and prints a per-dispatch table after each wait. */
#ifndef VKN_CMD_H
#define VKN_CMD_H

#include <stdint.h>
#include "vkn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_cmd vkn_cmd;

typedef struct vkn_cmd_stats {
    uint32_t dispatches;
    uint32_t barriers;
    uint64_t submits;
} vkn_cmd_stats;

vkn_status vkn_cmd_create(vkn_context *ctx, vkn_cmd **out);
void vkn_cmd_destroy(vkn_cmd *c);

/* Start recording (waits for and forgets what was recorded before). */
vkn_status vkn_cmd_begin(vkn_cmd *c);
/* Finish recording. */
vkn_status vkn_cmd_end(vkn_cmd *c);
/* Submit the recording (waits first if the previous submit of this stream is still running). */
vkn_status vkn_cmd_submit(vkn_cmd *c);
/* Submit so that the device starts this stream only after prev's last submit finished (a timeline
 * semaphore wait, no host round trip): two graphs of one training step run back to back. */
vkn_status vkn_cmd_submit_after(vkn_cmd *c, const vkn_cmd *prev);
/* Wait for the last submit; reports device loss with the names of the dispatches in it. */
vkn_status vkn_cmd_wait(vkn_cmd *c);
/* submit + wait */
vkn_status vkn_cmd_run(vkn_cmd *c);
/* 1 when nothing is in flight or the last submit has finished (it does not wait; a finished submit
 * still wants vkn_cmd_wait, which then returns at once), 0 while the device is still on it. */
int vkn_cmd_done(const vkn_cmd *c);

vkn_cmd_stats vkn_cmd_get_stats(const vkn_cmd *c);
/* Time every submit of this stream on the device (two timestamps around the recording); call
 * before vkn_cmd_begin. Returns VKN_ERR_UNSUPPORTED where the queue has no timestamps. */
vkn_status vkn_cmd_enable_timing(vkn_cmd *c);
/* Device time of the last waited submit in microseconds (timing or VKN_PROFILE on); -1 otherwise. */
double vkn_cmd_last_device_us(const vkn_cmd *c);

/* One dispatch, as an op describes it. Binding i of the shader's set 0 is bind[i]. */
#define VKN_DISPATCH_MAX_BIND 8
#define VKN_DISPATCH_MAX_TEXEL 6
#define VKN_TEXEL_BINDING 8           /* first samplerBuffer binding */
typedef struct vkn_dispatch {
    const char *shader;              /* registry name, e.g. "elementwise/unary" */
    const char *label;               /* shown by the profiler and in device-lost reports */
    uint32_t spec[8];                /* specialization constants 0..nspec-1 */
    uint32_t nspec;
    const vkn_tensor *bind[VKN_DISPATCH_MAX_BIND];
    uint32_t nbind;
    uint32_t write_mask;             /* bit i set: the shader writes bind[i] */
    /* Read-only texel-buffer views (GLSL samplerBuffer at binding 8+i). On CPU-class devices these
     * fetch through the texture path, whose gathers are straight-line code, several times faster
     * than storage-buffer loads (which llvmpipe scalarizes per lane behind a branch). */
    const vkn_tensor *texel[VKN_DISPATCH_MAX_TEXEL];
    uint32_t ntexel;
    uint32_t texel_vec4_mask;        /* bit i: view texel[i] as RGBA32F (vec4 per fetch), else R32F */
    const void *push;                /* push constants (<= 128 bytes) */
    uint32_t push_bytes;
    uint32_t groups[3];              /* workgroup counts (0 means 1) */
} vkn_dispatch;

vkn_status vkn_cmd_dispatch(vkn_cmd *c, const vkn_dispatch *d);

/* Record a barrier now, whatever the tracker thinks (for host-visible effects between phases). */
void vkn_cmd_barrier(vkn_cmd *c);

vkn_context *vkn_cmd_context(const vkn_cmd *c);

/* Temporary memory owned by the stream for as long as its recording lives (freed at the next begin):
 * ops use it for partial results. The hazard tracker orders reuse like any other memory. */
vkn_status vkn_cmd_scratch(vkn_cmd *c, vkn_dtype dtype, int64_t numel, vkn_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
