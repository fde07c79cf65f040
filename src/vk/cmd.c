/* Command recording: one shared descriptor-set layout (push descriptors where the device has them,
 * else sets from a pool owned by the stream), push constants, a hazard tracker that places barriers
 * only where needed, timeline-semaphore submission and optional timestamp profiling. */
#include "vkn/cmd.h"
#include "vk/vk_internal.h"

#include <stdlib.h>
#include <string.h>

#define PROFILE_MAX 8192     /* dispatches timed per recording */
#define SETS_PER_POOL 256

typedef struct range { VkBuffer buf; VkDeviceSize lo, hi; } range;
typedef struct range_list { range *v; uint32_t n, cap; } range_list;

struct vkn_cmd {
    vkn_context *ctx;
    VkCommandBuffer cb;
    VkSemaphore timeline;
    uint64_t value;          /* last value signalled by a submit */
    int recording, recorded, in_flight;
    range_list writes, reads;    /* accesses since the last barrier */
    VkDescriptorPool *pools;
    uint32_t npools, cur_pool;   /* sets come from pools[cur_pool]; all are reset at begin */
    char **labels;               /* label of every dispatch, for profiling and device-lost reports */
    uint32_t nlabels, cap_labels;
    VkQueryPool queries;         /* VKN_PROFILE: two per dispatch */
    VkQueryPool span;            /* vkn_cmd_enable_timing: start and end of the stream */
    vkn_arena *scratch;          /* created on first use, reset at begin */
    VkBufferView *views;         /* texel views made while recording, freed at the next begin */
    uint32_t nviews, cap_views;
    double last_us;
    vkn_cmd_stats stats;
    int test_skip_barriers;      /* vkn_cmd_test_skip_barriers: hazards left unordered on purpose */
};

static int list_push(range_list *l, range r)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        range *v = realloc(l->v, cap * sizeof *v);
        if (!v) return 0;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = r;
    return 1;
}

static int list_overlaps(const range_list *l, range r)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].buf == r.buf && l->v[i].lo < r.hi && r.lo < l->v[i].hi) return 1;
    return 0;
}

vkn_status vkn_cmd_create(vkn_context *ctx, vkn_cmd **out)
{
    vkn_cmd *c = calloc(1, sizeof *c);
    if (!c) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_cmd_create");
    c->ctx = ctx;
    c->last_us = -1;
    *out = c;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = ctx->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    VkSemaphoreTypeCreateInfo sti = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                                     .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE, .initialValue = 0};
    VkSemaphoreCreateInfo sci = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, .pNext = &sti};
    vkn_status s = VKN_OK;
    VkResult r = vkAllocateCommandBuffers(ctx->dev, &ai, &c->cb);
    if (r == VK_SUCCESS) r = vkCreateSemaphore(ctx->dev, &sci, NULL, &c->timeline);
    if (r == VK_SUCCESS && ctx->profile && ctx->info.timestamps) {
        VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2 * PROFILE_MAX};
        r = vkCreateQueryPool(ctx->dev, &qci, NULL, &c->queries);
    }
    if (r != VK_SUCCESS) {
        s = vkn_vk_check(r, "vkn_cmd_create");
        vkn_cmd_destroy(c);
        *out = NULL;
    }
    return s;
}

static void free_views(vkn_cmd *c)
{
    for (uint32_t i = 0; i < c->nviews; i++) vkDestroyBufferView(c->ctx->dev, c->views[i], NULL);
    c->nviews = 0;
}

static void free_labels(vkn_cmd *c)
{
    for (uint32_t i = 0; i < c->nlabels; i++) free(c->labels[i]);
    c->nlabels = 0;
}

void vkn_cmd_destroy(vkn_cmd *c)
{
    if (!c) return;
    vkn_context *ctx = c->ctx;
    if (c->in_flight) vkn_cmd_wait(c);
    for (uint32_t i = 0; i < c->npools; i++) vkDestroyDescriptorPool(ctx->dev, c->pools[i], NULL);
    free(c->pools);
    if (c->queries) vkDestroyQueryPool(ctx->dev, c->queries, NULL);
    if (c->span) vkDestroyQueryPool(ctx->dev, c->span, NULL);
    vkn_arena_destroy(c->scratch);
    if (c->timeline) vkDestroySemaphore(ctx->dev, c->timeline, NULL);
    if (c->cb) vkFreeCommandBuffers(ctx->dev, ctx->pool, 1, &c->cb);
    free_labels(c);
    free(c->labels);
    free_views(c);
    free(c->views);
    free(c->writes.v);
    free(c->reads.v);
    free(c);
}

vkn_context *vkn_cmd_context(const vkn_cmd *c) { return c->ctx; }
vkn_status vkn_cmd_enable_timing(vkn_cmd *c)
{
    if (c->span) return VKN_OK;
    if (!c->ctx->info.timestamps || c->ctx->info.timestamp_period_ns <= 0)
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "%s has no compute timestamps", c->ctx->info.name);
    VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                 .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2};
    VKN_VK(vkCreateQueryPool(c->ctx->dev, &qci, NULL, &c->span), "vkCreateQueryPool");
    return VKN_OK;
}

vkn_status vkn_cmd_scratch(vkn_cmd *c, vkn_dtype dtype, int64_t numel, vkn_tensor *out)
{
    if (!c->scratch) VKN_TRY(vkn_arena_create(c->ctx, 16ull << 20, &c->scratch));
    return vkn_tensor_alloc(c->scratch, dtype, 1, &numel, out);
}

vkn_cmd_stats vkn_cmd_get_stats(const vkn_cmd *c) { return c->stats; }
double vkn_cmd_last_device_us(const vkn_cmd *c) { return c->last_us; }

vkn_status vkn_cmd_begin(vkn_cmd *c)
{
    if (c->in_flight) VKN_TRY(vkn_cmd_wait(c));
    VKN_VK(vkResetCommandBuffer(c->cb, 0), "vkResetCommandBuffer");
    for (uint32_t i = 0; i < c->npools; i++) vkResetDescriptorPool(c->ctx->dev, c->pools[i], 0);
    c->cur_pool = 0;
    c->writes.n = c->reads.n = 0;
    if (c->scratch) vkn_arena_reset(c->scratch);
    free_labels(c);
    free_views(c);
    uint64_t submits = c->stats.submits;
    memset(&c->stats, 0, sizeof c->stats);
    c->stats.submits = submits;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VKN_VK(vkBeginCommandBuffer(c->cb, &bi), "vkBeginCommandBuffer");
    if (c->queries) vkCmdResetQueryPool(c->cb, c->queries, 0, 2 * PROFILE_MAX);
    if (c->span) {
        vkCmdResetQueryPool(c->cb, c->span, 0, 2);
        vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->span, 0);
    }
    c->recording = 1;
    c->recorded = 0;
    return VKN_OK;
}

static void record_barrier(vkn_cmd *c)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                         0, NULL, 0, NULL);
    c->writes.n = c->reads.n = 0;
    c->stats.barriers++;
}

void vkn_cmd_test_skip_barriers(vkn_cmd *c, int skip) { c->test_skip_barriers = skip; }

void vkn_cmd_barrier(vkn_cmd *c)
{
    if (c->recording) record_barrier(c);
}

static vkn_status next_set(vkn_cmd *c, VkDescriptorSet *set)
{
    vkn_context *ctx = c->ctx;
    for (;;) {
        if (c->cur_pool == c->npools) {
            VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                       .descriptorCount = SETS_PER_POOL * VKN_MAX_BINDINGS};
            VkDescriptorPoolSize ps2[2] = {ps, {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                                .descriptorCount = SETS_PER_POOL * VKN_MAX_TEXELS}};
            VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                              .maxSets = SETS_PER_POOL, .poolSizeCount = 2, .pPoolSizes = ps2};
            VkDescriptorPool *pools = realloc(c->pools, (c->npools + 1) * sizeof *pools);
            if (!pools) return vkn_status_set(VKN_ERR_HOST_OOM, "descriptor pools");
            c->pools = pools;
            VKN_VK(vkCreateDescriptorPool(ctx->dev, &pci, NULL, &c->pools[c->npools]), "vkCreateDescriptorPool");
            c->npools++;
        }
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = c->pools[c->cur_pool], .descriptorSetCount = 1,
                                          .pSetLayouts = &ctx->dsl};
        VkResult r = vkAllocateDescriptorSets(ctx->dev, &ai, set);
        if (r == VK_ERROR_OUT_OF_POOL_MEMORY || r == VK_ERROR_FRAGMENTED_POOL) {
            c->cur_pool++;   /* this pool is full: move to the next (made on demand) */
            continue;
        }
        VKN_VK(r, "vkAllocateDescriptorSets");
        return VKN_OK;
    }
}

/* The bindings the shader declares writable (SPIR-V) that the launcher's write mask calls read-only,
 * except those inside a range this dispatch writes through another binding. The device may write
 * them whatever the launcher meant (a mode the shader skips by a specialization constant still
 * declares the write, and the validation layer's synchronization checks count it), so the tracker
 * treats them as written: a wrong mask costs a barrier, not a race. Most are placeholders bound to
 * a shared dummy; VKN_CHECK_MASKS=1 lists them (bind such a placeholder to the dispatch's output,
 * which is written anyway, and the barrier goes). */
static uint32_t undeclared_writes(vkn_cmd *c, const vkn_dispatch *d, const range *rs, uint32_t writable)
{
    uint32_t out = 0, cand = writable & ~d->write_mask & (d->nbind >= 32 ? ~0u : (1u << d->nbind) - 1);
    for (uint32_t i = 0; cand && i < d->nbind; i++) {
        if (!((cand >> i) & 1)) continue;
        int covered = 0;
        for (uint32_t j = 0; j < d->nbind && !covered; j++)
            covered = ((d->write_mask >> j) & 1) && rs[j].buf == rs[i].buf && rs[j].lo <= rs[i].lo && rs[i].hi <= rs[j].hi;
        if (covered) continue;
        out |= 1u << i;
        if (c->ctx->check_masks)
            fprintf(stderr, "vknorm: dispatch '%s': binding %u of %s is writable in the shader but read-only in the "
                    "launcher's write mask 0x%x: tracked as written\n", d->label ? d->label : d->shader, i, d->shader,
                    d->write_mask);
    }
    return out;
}

vkn_status vkn_cmd_dispatch(vkn_cmd *c, const vkn_dispatch *d)
{
    vkn_context *ctx = c->ctx;
    if (!c->recording) return vkn_status_set(VKN_ERR_ARG, "dispatch %s: stream is not recording (call vkn_cmd_begin)", d->shader);
    if (d->nbind > VKN_DISPATCH_MAX_BIND || d->ntexel > VKN_DISPATCH_MAX_TEXEL || d->push_bytes > VKN_PUSH_BYTES)
        return vkn_status_set(VKN_ERR_ARG, "dispatch %s: %u bindings, %u push bytes", d->shader, d->nbind, d->push_bytes);
    VkPipeline pipe;
    uint32_t writable;
    VKN_TRY(vkn_pipeline_get(ctx, d->shader, d->spec, d->nspec, &pipe, &writable));

    range rs[VKN_DISPATCH_MAX_BIND];
    for (uint32_t i = 0; i < d->nbind; i++) {
        const vkn_tensor *t = d->bind[i];
        if (!t || !t->buffer) return vkn_status_set(VKN_ERR_ARG, "dispatch %s: binding %u is not a tensor", d->shader, i);
        rs[i] = (range){(VkBuffer)(uintptr_t)t->buffer, t->offset, t->offset + t->bytes};
    }
    uint32_t writes = d->write_mask | undeclared_writes(c, d, rs, writable);

    /* hazards: read-after-write, write-after-write, write-after-read */
    int hazard = 0;
    for (uint32_t i = 0; i < d->nbind; i++) {
        int w = (writes >> i) & 1;
        if (list_overlaps(&c->writes, rs[i]) || (w && list_overlaps(&c->reads, rs[i]))) hazard = 1;
    }
    /* texel views (read-only): R32F, or RGBA32F */
    enum { NV = VKN_DISPATCH_MAX_TEXEL };
    range ts[NV];
    uint32_t nv = d->ntexel;
    for (uint32_t i = 0; i < nv; i++) {
        const vkn_tensor *t = d->texel[i];
        if (!t || !t->buffer) return vkn_status_set(VKN_ERR_ARG, "dispatch %s: texel %u is not a tensor", d->shader, i);
        ts[i] = (range){(VkBuffer)(uintptr_t)t->buffer, t->offset, t->offset + t->bytes};
        if (list_overlaps(&c->writes, ts[i])) hazard = 1;
    }
    if (hazard && !c->test_skip_barriers) record_barrier(c);
    for (uint32_t i = 0; i < d->nbind; i++)
        if (!list_push(((writes >> i) & 1) ? &c->writes : &c->reads, rs[i]))
            return vkn_status_set(VKN_ERR_HOST_OOM, "hazard tracker");
    for (uint32_t i = 0; i < nv; i++)
        if (!list_push(&c->reads, ts[i])) return vkn_status_set(VKN_ERR_HOST_OOM, "hazard tracker");

    VkBufferView views[NV];
    for (uint32_t i = 0; i < nv; i++) {
        int v4 = (d->texel_vec4_mask >> i) & 1;
        VkDeviceSize texel = v4 ? 16 : 4, range = (ts[i].hi - ts[i].lo) / texel * texel;
        if (range == 0) range = texel;   /* a 1-3 element tensor as vec4: its arena slot holds 16 bytes */
        if (range / texel > c->ctx->props.limits.maxTexelBufferElements)
            return vkn_status_set(VKN_ERR_SHAPE, "dispatch %s: view %u has %llu texels (device max %u)", d->shader, i,
                                  (unsigned long long)(range / texel), c->ctx->props.limits.maxTexelBufferElements);
        VkBufferViewCreateInfo vci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO, .buffer = ts[i].buf,
                                      .format = v4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT,
                                      .offset = ts[i].lo, .range = range};
        if (c->nviews == c->cap_views) {
            uint32_t cap = c->cap_views ? 2 * c->cap_views : 64;
            VkBufferView *v = realloc(c->views, cap * sizeof *v);
            if (!v) return vkn_status_set(VKN_ERR_HOST_OOM, "texel views");
            c->views = v;
            c->cap_views = cap;
        }
        VKN_VK(vkCreateBufferView(c->ctx->dev, &vci, NULL, &views[i]), "vkCreateBufferView");
        c->views[c->nviews++] = views[i];
    }

    VkDescriptorBufferInfo bi[VKN_DISPATCH_MAX_BIND];
    VkWriteDescriptorSet wr[VKN_DISPATCH_MAX_BIND + NV];
    uint32_t nwr = d->nbind + nv;
    for (uint32_t i = 0; i < d->nbind; i++) {
        bi[i] = (VkDescriptorBufferInfo){rs[i].buf, rs[i].lo, rs[i].hi - rs[i].lo};
        wr[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstBinding = i,
                                       .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                       .pBufferInfo = &bi[i]};
    }
    for (uint32_t i = 0; i < nv; i++)
        wr[d->nbind + i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .descriptorCount = 1, .pTexelBufferView = &views[i],
            .dstBinding = VKN_TEXEL_BINDING + i, .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER};
    vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    if (ctx->info.push_descriptors) {
        if (nwr) vkCmdPushDescriptorSetKHR(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, ctx->layout, 0, nwr, wr);
    } else {
        VkDescriptorSet set;
        VKN_TRY(next_set(c, &set));
        for (uint32_t i = 0; i < nwr; i++) wr[i].dstSet = set;
        if (nwr) vkUpdateDescriptorSets(ctx->dev, nwr, wr, 0, NULL);
        vkCmdBindDescriptorSets(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, ctx->layout, 0, 1, &set, 0, NULL);
    }
    if (d->push_bytes) {
        /* the layout declares 128 bytes; pad so every byte a shader may read is defined */
        uint8_t pc[VKN_PUSH_BYTES] = {0};
        memcpy(pc, d->push, d->push_bytes);
        vkCmdPushConstants(c->cb, ctx->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, VKN_PUSH_BYTES, pc);
    }
    uint32_t idx = c->stats.dispatches;
    int timed = c->queries && idx < PROFILE_MAX;
    if (timed) vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->queries, 2 * idx);
    ctx->dispatch_label = d->label ? d->label : d->shader;
    vkCmdDispatch(c->cb, d->groups[0] ? d->groups[0] : 1, d->groups[1] ? d->groups[1] : 1, d->groups[2] ? d->groups[2] : 1);
    ctx->dispatch_label = NULL;
    if (timed) vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->queries, 2 * idx + 1);
    c->stats.dispatches++;

    if (c->nlabels == c->cap_labels) {
        uint32_t cap = c->cap_labels ? 2 * c->cap_labels : 64;
        char **l = realloc(c->labels, cap * sizeof *l);
        if (!l) return vkn_status_set(VKN_ERR_HOST_OOM, "labels");
        c->labels = l;
        c->cap_labels = cap;
    }
    c->labels[c->nlabels++] = strdup(d->label ? d->label : d->shader);
    return VKN_OK;
}

vkn_status vkn_cmd_end(vkn_cmd *c)
{
    if (!c->recording) return vkn_status_set(VKN_ERR_ARG, "vkn_cmd_end: stream is not recording");
    /* make every shader write visible to the host (mapped reads) and to later transfers */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT};
    vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    if (c->span) vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->span, 1);
    VKN_VK(vkEndCommandBuffer(c->cb), "vkEndCommandBuffer");
    c->recording = 0;
    c->recorded = 1;
    return VKN_OK;
}

static vkn_status submit(vkn_cmd *c, const vkn_cmd *prev)
{
    if (!c->recorded) return vkn_status_set(VKN_ERR_ARG, "vkn_cmd_submit: nothing recorded (begin/end first)");
    if (c->in_flight) VKN_TRY(vkn_cmd_wait(c));
    uint64_t signal = c->value + 1, wait = prev ? prev->value : 0;
    VkPipelineStageFlags stage = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
    VkTimelineSemaphoreSubmitInfo ts = {.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                                        .signalSemaphoreValueCount = 1, .pSignalSemaphoreValues = &signal,
                                        .waitSemaphoreValueCount = prev ? 1 : 0, .pWaitSemaphoreValues = &wait};
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .pNext = &ts, .commandBufferCount = 1,
                       .pCommandBuffers = &c->cb, .signalSemaphoreCount = 1, .pSignalSemaphores = &c->timeline,
                       .waitSemaphoreCount = prev ? 1 : 0, .pWaitSemaphores = prev ? &prev->timeline : NULL,
                       .pWaitDstStageMask = prev ? &stage : NULL};
    VkResult r = vkQueueSubmit(c->ctx->queue, 1, &si, VK_NULL_HANDLE);
    if (r != VK_SUCCESS) return vkn_vk_check(r, "vkQueueSubmit");
    c->value = signal;
    c->in_flight = 1;
    c->stats.submits++;
    return VKN_OK;
}

vkn_status vkn_cmd_submit(vkn_cmd *c) { return submit(c, NULL); }

vkn_status vkn_cmd_submit_after(vkn_cmd *c, const vkn_cmd *prev)
{
    if (!prev || !prev->value) return submit(c, NULL);
    if (prev->ctx != c->ctx) return vkn_status_set(VKN_ERR_ARG, "vkn_cmd_submit_after: streams of different contexts");
    return submit(c, prev);
}

static void print_profile(vkn_cmd *c)
{
    uint32_t n = c->stats.dispatches < PROFILE_MAX ? c->stats.dispatches : PROFILE_MAX;
    if (!n) return;
    uint64_t *ts = malloc(2 * n * sizeof *ts);
    if (!ts) return;
    if (vkGetQueryPoolResults(c->ctx->dev, c->queries, 0, 2 * n, 2 * n * sizeof *ts, ts, sizeof *ts,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        double period_us = c->ctx->info.timestamp_period_ns / 1000.0, total = 0;
        fprintf(stderr, "vknorm profile: %u dispatches, %u barriers\n  %5s  %10s  %s\n", c->stats.dispatches,
                c->stats.barriers, "#", "us", "dispatch");
        for (uint32_t i = 0; i < n; i++) {
            double us = (double)(ts[2 * i + 1] - ts[2 * i]) * period_us;
            total += us;
            fprintf(stderr, "  %5u  %10.1f  %s\n", i, us, c->labels[i]);
        }
        double span = (double)(ts[2 * n - 1] - ts[0]) * period_us;
        fprintf(stderr, "  total %.1f us in dispatches, %.1f us first to last\n", total, span);
        c->last_us = span;
    }
    free(ts);
}

vkn_status vkn_cmd_wait(vkn_cmd *c)
{
    if (!c->in_flight) return VKN_OK;
    VkSemaphoreWaitInfo wi = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, .semaphoreCount = 1,
                              .pSemaphores = &c->timeline, .pValues = &c->value};
    VkResult r = vkWaitSemaphores(c->ctx->dev, &wi, UINT64_MAX);
    c->in_flight = 0;
    if (r == VK_ERROR_DEVICE_LOST) {
        char names[768] = "";
        size_t o = 0;
        for (uint32_t i = 0; i < c->nlabels && o < sizeof names - 64; i++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", c->labels[i]);
        if (c->nlabels && o >= sizeof names - 64) snprintf(names + o, sizeof names - o, ", ... (%u in all)", c->nlabels);
        return vkn_status_set(VKN_ERR_DEVICE_LOST, "device lost during a submit of %u dispatches: %s",
                              c->stats.dispatches, names);
    }
    if (r != VK_SUCCESS) return vkn_vk_check(r, "vkWaitSemaphores");
    if (c->queries) print_profile(c);
    if (c->span) {
        uint64_t ts[2];
        if (vkGetQueryPoolResults(c->ctx->dev, c->span, 0, 2, sizeof ts, ts, sizeof ts[0],
                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS)
            c->last_us = (double)(ts[1] - ts[0]) * c->ctx->info.timestamp_period_ns / 1000.0;
    }
    return VKN_OK;
}

int vkn_cmd_done(const vkn_cmd *c)
{
    if (!c->in_flight) return 1;
    uint64_t v = 0;
    /* an error (device lost) counts as done: vkn_cmd_wait reports it */
    return vkGetSemaphoreCounterValue(c->ctx->dev, c->timeline, &v) != VK_SUCCESS || v >= c->value;
}

vkn_status vkn_cmd_run(vkn_cmd *c)
{
    VKN_TRY(vkn_cmd_submit(c));
    return vkn_cmd_wait(c);
}
