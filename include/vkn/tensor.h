/* Tensors: a shape (up to 4-D, row-major, contiguous) over a slice of an arena.
 *
 * An arena is a few large VkBuffers sub-allocated by a bump pointer: one allocation carved into
 * tensors. Where device memory is host-visible it is mapped once and upload/download are memcpy;
 * otherwise they go through the context's staging ring. */
#ifndef VKN_TENSOR_H
#define VKN_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "vkn/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_arena vkn_arena;

typedef enum vkn_dtype { VKN_F32 = 0, VKN_I32 = 1 } vkn_dtype;

#define VKN_MAX_DIMS 4

typedef struct vkn_tensor {
    vkn_dtype dtype;
    int ndim;
    int64_t shape[VKN_MAX_DIMS];
    int64_t numel;
    uint64_t buffer;     /* VkBuffer handle */
    uint64_t offset;     /* bytes into buffer */
    uint64_t bytes;      /* numel * element size */
    void *host;          /* mapped pointer, or NULL when the memory is not host-visible */
    vkn_context *ctx;
} vkn_tensor;

/* chunk_bytes: size of each VkBuffer the arena creates (0: 64 MiB, capped at maxStorageBufferRange). */
vkn_status vkn_arena_create(vkn_context *ctx, uint64_t chunk_bytes, vkn_arena **out);
/* An arena in host-visible memory, always mapped: for what the host writes every step (input
 * batches, per-step scalars) so it needs no staging copy, whatever the device's memory model. */
vkn_status vkn_arena_create_host(vkn_context *ctx, uint64_t chunk_bytes, vkn_arena **out);
void vkn_arena_destroy(vkn_arena *a);
/* Forget every allocation (the memory stays, for reuse). */
void vkn_arena_reset(vkn_arena *a);
/* Bytes handed out, and bytes of device memory held. */
uint64_t vkn_arena_used(const vkn_arena *a);
uint64_t vkn_arena_reserved(const vkn_arena *a);

/* Carve a tensor of the given shape out of the arena. */
vkn_status vkn_tensor_alloc(vkn_arena *a, vkn_dtype dtype, int ndim, const int64_t *shape, vkn_tensor *out);
/* Shorthands for 1-4 dims: vkn_tensor_alloc_nd(a, VKN_F32, &t, 2, rows, cols). */
vkn_status vkn_tensor_alloc_nd(vkn_arena *a, vkn_dtype dtype, vkn_tensor *out, int ndim, ...);

/* A view with another shape of the same element count (no copy). */
vkn_status vkn_tensor_reshape(const vkn_tensor *t, int ndim, const int64_t *shape, vkn_tensor *out);

/* Host <-> device. Blocks until done; src/dst hold numel elements. */
vkn_status vkn_tensor_upload(const vkn_tensor *t, const void *src);
vkn_status vkn_tensor_download(const vkn_tensor *t, void *dst);

/* "2x3x4" into buf, for messages. */
const char *vkn_tensor_shape_str(const vkn_tensor *t, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
