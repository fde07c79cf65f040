/* Arenas: a few large VkBuffers, sub-allocated by a bump pointer, mapped once when host-visible.
 * Where device memory is not host-visible, one staging buffer (grown on demand) carries uploads and
 * downloads. */
#include "vk/vk_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MAX_CHUNKS 64
#define VKN_TENSOR_MAX_NUMEL (1ll << 34)

typedef struct arena_chunk {
    VkBuffer buf;
    VkDeviceMemory mem;
    void *map;
    VkDeviceSize size, used;
} arena_chunk;

struct vkn_arena {
    vkn_context *ctx;
    uint32_t mem_type;
    int mapped;
    VkDeviceSize chunk_bytes;
    VkDeviceSize align;
    arena_chunk chunks[ARENA_MAX_CHUNKS];
    int nchunks;
};

static vkn_status create_buffer(vkn_context *ctx, VkDeviceSize size, uint32_t mem_type, int map,
                                VkBuffer *buf, VkDeviceMemory *mem, void **mapped)
{
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VKN_VK(vkCreateBuffer(ctx->dev, &bci, NULL, buf), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->dev, *buf, &req);
    if (!(req.memoryTypeBits & (1u << mem_type))) {
        vkDestroyBuffer(ctx->dev, *buf, NULL);
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "buffer cannot use memory type %u", mem_type);
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                                .memoryTypeIndex = mem_type};
    VkResult r = vkAllocateMemory(ctx->dev, &mai, NULL, mem);
    if (r != VK_SUCCESS) {
        vkDestroyBuffer(ctx->dev, *buf, NULL);
        *buf = VK_NULL_HANDLE;
        return r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY
                   ? vkn_status_set(VKN_ERR_DEVICE_OOM, "allocating %.1f MiB of device memory failed "
                                    "(out of device memory: use a smaller batch or model)", (double)size / 1048576.0)
                   : vkn_vk_check(r, "vkAllocateMemory");
    }
    VKN_VK(vkBindBufferMemory(ctx->dev, *buf, *mem, 0), "vkBindBufferMemory");
    *mapped = NULL;
    if (map) VKN_VK(vkMapMemory(ctx->dev, *mem, 0, VK_WHOLE_SIZE, 0, mapped), "vkMapMemory");
    return VKN_OK;
}

static vkn_status arena_create(vkn_context *ctx, uint64_t chunk_bytes, uint32_t mem_type, int mapped, vkn_arena **out)
{
    vkn_arena *a = calloc(1, sizeof *a);
    if (!a) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_arena_create: out of host memory");
    a->ctx = ctx;
    a->mem_type = mem_type;
    a->mapped = mapped;
    uint64_t cap = ctx->props.limits.maxStorageBufferRange;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : 64ull << 20;
    if (a->chunk_bytes > cap) a->chunk_bytes = cap & ~255ull;
    /* every tensor starts at an offset valid for a storage-buffer descriptor and for vec4 loads */
    a->align = ctx->props.limits.minStorageBufferOffsetAlignment;
    if (a->align < 16) a->align = 16;
    *out = a;
    return VKN_OK;
}

vkn_status vkn_arena_create(vkn_context *ctx, uint64_t chunk_bytes, vkn_arena **out)
{
    return arena_create(ctx, chunk_bytes, ctx->mem_type_device, ctx->device_mem_mapped, out);
}

vkn_status vkn_arena_create_host(vkn_context *ctx, uint64_t chunk_bytes, vkn_arena **out)
{
    if (ctx->device_mem_mapped) return arena_create(ctx, chunk_bytes, ctx->mem_type_device, 1, out);
    /* prefer device-local + host-visible (BAR) for small per-step data, else plain host memory */
    const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int t = vkn_vk_memory_type(ctx, ~0u, hv | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (t < 0 || vkn_env_flag("VKN_NO_HOST_VISIBLE")) t = vkn_vk_memory_type(ctx, ~0u, hv);
    if (t < 0) return vkn_status_set(VKN_ERR_UNSUPPORTED, "no host-visible coherent memory type");
    return arena_create(ctx, chunk_bytes ? chunk_bytes : 4ull << 20, (uint32_t)t, 1, out);
}

void vkn_arena_destroy(vkn_arena *a)
{
    if (!a) return;
    for (int i = 0; i < a->nchunks; i++) {
        vkDestroyBuffer(a->ctx->dev, a->chunks[i].buf, NULL);
        vkFreeMemory(a->ctx->dev, a->chunks[i].mem, NULL);
    }
    free(a);
}

void vkn_arena_reset(vkn_arena *a)
{
    for (int i = 0; i < a->nchunks; i++) a->chunks[i].used = 0;
}

uint64_t vkn_arena_used(const vkn_arena *a)
{
    uint64_t s = 0;
    for (int i = 0; i < a->nchunks; i++) s += a->chunks[i].used;
    return s;
}

uint64_t vkn_arena_reserved(const vkn_arena *a)
{
    uint64_t s = 0;
    for (int i = 0; i < a->nchunks; i++) s += a->chunks[i].size;
    return s;
}

static size_t dtype_size(vkn_dtype d) { (void)d; return 4; }

static const char *vkn_shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? "x%lld" : "%lld", (long long)shape[i]);
    return buf;
}

vkn_status vkn_tensor_alloc(vkn_arena *a, vkn_dtype dtype, int ndim, const int64_t *shape, vkn_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (ndim < 1 || ndim > VKN_MAX_DIMS)
        return vkn_status_set(VKN_ERR_SHAPE, "tensor: %d dimensions (1 to %d allowed)", ndim, VKN_MAX_DIMS);
    if (dtype != VKN_F32 && dtype != VKN_I32)
        return vkn_status_set(VKN_ERR_ARG, "tensor: unknown dtype %d", (int)dtype);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > (1ll << 31))
            return vkn_status_set(VKN_ERR_SHAPE, "tensor: dimension %d is %lld (must be 1..2^31)", i, (long long)shape[i]);
        /* n <= 2^34 and shape[i] <= 2^31: test before the product, which could pass 2^63 */
        if (shape[i] > VKN_TENSOR_MAX_NUMEL / n) {
            char b[160];
            return vkn_status_set(VKN_ERR_SHAPE, "tensor: shape %s has more than 2^34 elements",
                                  vkn_shape_str(ndim, shape, b, sizeof b));
        }
        n *= shape[i];
        out->shape[i] = shape[i];
    }
    out->dtype = dtype;
    out->ndim = ndim;
    out->numel = n;
    out->bytes = (uint64_t)n * dtype_size(dtype);
    out->ctx = a->ctx;
    VkDeviceSize need = (out->bytes + a->align - 1) / a->align * a->align;
    if (need > a->ctx->props.limits.maxStorageBufferRange)
        return vkn_status_set(VKN_ERR_SHAPE, "tensor of %.1f MiB exceeds the device's maxStorageBufferRange (%.1f MiB)",
                              (double)need / 1048576.0, (double)a->ctx->props.limits.maxStorageBufferRange / 1048576.0);
    /* what the device can hold at all: a named error here, not minutes of allocating (lavapipe's heap is
     * system memory) before an out-of-memory */
    VkDeviceSize heap = a->ctx->memprops.memoryHeaps[a->ctx->memprops.memoryTypes[a->mem_type].heapIndex].size;
    if (need > heap || (a->ctx->max_allocation && need > a->ctx->max_allocation))
        return vkn_status_set(VKN_ERR_DEVICE_OOM, "tensor of %.1f MiB is larger than the device can allocate "
                              "(memory heap %.1f MiB, largest allocation %.1f MiB)", (double)need / 1048576.0,
                              (double)heap / 1048576.0, (double)a->ctx->max_allocation / 1048576.0);
    arena_chunk *c = NULL;
    for (int i = 0; i < a->nchunks; i++)
        if (a->chunks[i].size - a->chunks[i].used >= need) { c = &a->chunks[i]; break; }
    if (!c) {
        if (a->nchunks == ARENA_MAX_CHUNKS)
            return vkn_status_set(VKN_ERR_DEVICE_OOM, "arena: %d chunks in use; cannot grow further", ARENA_MAX_CHUNKS);
        c = &a->chunks[a->nchunks];
        VkDeviceSize size = need > a->chunk_bytes ? need : a->chunk_bytes;
        if (vkn_arena_reserved(a) + size > heap)
            return vkn_status_set(VKN_ERR_DEVICE_OOM, "arena: %.1f MiB more would make %.1f MiB, over the device's "
                                  "%.1f MiB memory heap (use a smaller batch or model)", (double)size / 1048576.0,
                                  (double)(vkn_arena_reserved(a) + size) / 1048576.0, (double)heap / 1048576.0);
        VKN_TRY(create_buffer(a->ctx, size, a->mem_type, a->mapped, &c->buf, &c->mem, &c->map));
        c->size = size;
        c->used = 0;
        a->nchunks++;
    }
    out->buffer = (uint64_t)(uintptr_t)c->buf;
    out->offset = c->used;
    out->host = c->map ? (char *)c->map + c->used : NULL;
    c->used += need;
    return VKN_OK;
}

vkn_status vkn_tensor_alloc_nd(vkn_arena *a, vkn_dtype dtype, vkn_tensor *out, int ndim, ...)
{
    int64_t shape[VKN_MAX_DIMS] = {0};
    if (ndim < 1 || ndim > VKN_MAX_DIMS)
        return vkn_status_set(VKN_ERR_SHAPE, "tensor: %d dimensions (1 to %d allowed)", ndim, VKN_MAX_DIMS);
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    return vkn_tensor_alloc(a, dtype, ndim, shape, out);
}

vkn_status vkn_tensor_reshape(const vkn_tensor *t, int ndim, const int64_t *shape, vkn_tensor *out)
{
    char b[64], c[160];
    if (ndim < 1 || ndim > VKN_MAX_DIMS)
        return vkn_status_set(VKN_ERR_SHAPE, "reshape: %s to %d dimensions (1 to %d allowed)",
                              vkn_tensor_shape_str(t, b, sizeof b), ndim, VKN_MAX_DIMS);
    int64_t n = 1;   /* the product, checked: it stops where it would pass numel (or 2^63) */
    for (int i = 0; i < ndim && n > 0; i++) n = shape[i] >= 1 && shape[i] <= t->numel / n ? n * shape[i] : -1;
    if (n != t->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "reshape: %s (%lld elements) to shape %s, which holds another number",
                              vkn_tensor_shape_str(t, b, sizeof b), (long long)t->numel, vkn_shape_str(ndim, shape, c, sizeof c));
    vkn_tensor r = *t;
    r.ndim = ndim;
    for (int i = 0; i < VKN_MAX_DIMS; i++) r.shape[i] = i < ndim ? shape[i] : 0;
    *out = r;
    return VKN_OK;
}

const char *vkn_tensor_shape_str(const vkn_tensor *t, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < t->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? "x%lld" : "%lld", (long long)t->shape[i]);
    return buf;
}

/* ---- staging (only where device memory is not host-visible) ---- */

static vkn_status staging_reserve(vkn_context *ctx, VkDeviceSize bytes)
{
    vkn_staging *s = &ctx->staging;
    if (s->buf && s->size >= bytes) return VKN_OK;
    if (s->buf) {
        vkDestroyBuffer(ctx->dev, s->buf, NULL);
        vkFreeMemory(ctx->dev, s->mem, NULL);
        s->buf = VK_NULL_HANDLE;
    }
    VkDeviceSize size = 16ull << 20;
    while (size < bytes) size *= 2;
    int t = vkn_vk_memory_type(ctx, ~0u, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (t < 0) return vkn_status_set(VKN_ERR_UNSUPPORTED, "no host-visible coherent memory type for staging");
    VKN_TRY(create_buffer(ctx, size, (uint32_t)t, 1, &s->buf, &s->mem, &s->map));
    s->size = size;
    if (!s->cb) {
        VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                          .commandPool = ctx->pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                          .commandBufferCount = 1};
        VKN_VK(vkAllocateCommandBuffers(ctx->dev, &ai, &s->cb), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VKN_VK(vkCreateFence(ctx->dev, &fci, NULL, &s->fence), "vkCreateFence");
    }
    return VKN_OK;
}

vkn_status vkn_staging_copy(vkn_context *ctx, VkBuffer buf, uint64_t offset, void *host, uint64_t bytes, int upload)
{
    VKN_TRY(staging_reserve(ctx, bytes));
    vkn_staging *s = &ctx->staging;
    if (upload) memcpy(s->map, host, bytes);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VKN_VK(vkBeginCommandBuffer(s->cb, &bi), "vkBeginCommandBuffer");
    /* earlier compute work on the buffer must finish before the copy, and the copy before later work */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    vkCmdPipelineBarrier(s->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VkBufferCopy region = {.srcOffset = upload ? 0 : offset, .dstOffset = upload ? offset : 0, .size = bytes};
    if (upload) vkCmdCopyBuffer(s->cb, s->buf, buf, 1, &region);
    else vkCmdCopyBuffer(s->cb, buf, s->buf, 1, &region);
    VkMemoryBarrier mb2 = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(s->cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb2, 0, NULL, 0, NULL);
    VKN_VK(vkEndCommandBuffer(s->cb), "vkEndCommandBuffer");
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &s->cb};
    VKN_VK(vkQueueSubmit(ctx->queue, 1, &si, s->fence), "vkQueueSubmit (staging copy)");
    VKN_VK(vkWaitForFences(ctx->dev, 1, &s->fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (staging copy)");
    VKN_VK(vkResetFences(ctx->dev, 1, &s->fence), "vkResetFences");
    if (!upload) memcpy(host, s->map, bytes);
    return VKN_OK;
}

void vkn_staging_destroy(vkn_context *ctx)
{
    vkn_staging *s = &ctx->staging;
    if (s->buf) vkDestroyBuffer(ctx->dev, s->buf, NULL);
    if (s->mem) vkFreeMemory(ctx->dev, s->mem, NULL);
    if (s->fence) vkDestroyFence(ctx->dev, s->fence, NULL);
    if (s->cb) vkFreeCommandBuffers(ctx->dev, ctx->pool, 1, &s->cb);
    memset(s, 0, sizeof *s);
}

vkn_status vkn_tensor_upload(const vkn_tensor *t, const void *src)
{
    if (t->host) {
        memcpy(t->host, src, t->bytes);
        return VKN_OK;
    }
    return vkn_staging_copy(t->ctx, (VkBuffer)(uintptr_t)t->buffer, t->offset, (void *)src, t->bytes, 1);
}

vkn_status vkn_tensor_download(const vkn_tensor *t, void *dst)
{
    if (t->host) {
        memcpy(dst, t->host, t->bytes);
        return VKN_OK;
    }
    return vkn_staging_copy(t->ctx, (VkBuffer)(uintptr_t)t->buffer, t->offset, dst, t->bytes, 0);
}
