/* Internal to src/vk and src/ops: the Vulkan objects behind vkn_context. Nothing above src/ops sees it. */
#ifndef VKN_VK_INTERNAL_H
#define VKN_VK_INTERNAL_H

#include <volk.h>
#include <stdio.h>
#include "vkn/device.h"
#include "vkn/tensor.h"
#include "vkn/cmd.h"

#define VKN_MAX_BINDINGS 8          /* storage buffers 0..7 */
#define VKN_MAX_TEXELS 6            /* uniform texel buffers 8..13 (VKN_DISPATCH_MAX_TEXEL) */
#define VKN_NUM_BINDINGS (VKN_MAX_BINDINGS + VKN_MAX_TEXELS)
#define VKN_PUSH_BYTES 128
#define VKN_MAX_SPEC 8

typedef struct vkn_pipeline {
    const char *shader;
    uint32_t spec[VKN_MAX_SPEC];
    uint32_t nspec;
    VkPipeline pipe;
    uint32_t writable;               /* storage bindings the SPIR-V declares writable */
    struct vkn_pipeline *next;
} vkn_pipeline;

typedef struct vkn_staging {
    VkBuffer buf;
    VkDeviceMemory mem;
    void *map;
    VkDeviceSize size;
    VkCommandBuffer cb;
    VkFence fence;
} vkn_staging;

struct vkn_context {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    /* this instance's own entry point: volk's global one is reloaded by every later instance (a plain
     * one, or vkn_context_list_devices) and is NULL where the extension is not enabled */
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memprops;
    vkn_device_info info;
    char describe[1400];
    uint32_t validation_count;
    uint32_t sync_hazard_count;    /* of those, synchronization hazards (message ids SYNC-*) */
    int validation_level;          /* 0 off, 1 the layer, 2 with synchronization validation */
    const char *dispatch_label;    /* the dispatch being recorded, for validation messages */
    int profile;
    int check_masks;                 /* VKN_CHECK_MASKS: list undeclared writable bindings */
    int quiet;

    VkDescriptorSetLayout dsl;       /* the one shared layout: VKN_MAX_BINDINGS storage buffers */
    VkPipelineLayout layout;         /* dsl + VKN_PUSH_BYTES of push constants */
    VkCommandPool pool;
    vkn_pipeline *pipelines;         /* lazily created, keyed by (shader, spec constants) */
    VkPipelineCache cache;
    vkn_staging staging;             /* used only when device memory is not host-visible */
    uint32_t mem_type_device;        /* memory type for arenas */
    uint64_t max_allocation;         /* maxMemoryAllocationSize: the largest single allocation */
    int device_mem_mapped;           /* arenas are host-visible and mapped */
};

/* Test-only: record no barrier where the hazard tracker finds one (the synchronization-validation
 * test makes a hazard on purpose and checks that the layer reports it). */
void vkn_cmd_test_skip_barriers(vkn_cmd *c, int skip);

/* Report a failed Vulkan call as a vkn_status, naming what was being done. */
vkn_status vkn_vk_check(VkResult r, const char *what);
#define VKN_VK(call, what) do { VkResult r_ = (call); if (r_ != VK_SUCCESS) return vkn_vk_check(r_, what); } while (0)

/* Find a memory type with all of `want` among `bits`; -1 if none. */
int vkn_vk_memory_type(const vkn_context *ctx, uint32_t bits, VkMemoryPropertyFlags want);

/* Pipelines (pipeline.c). */
vkn_status vkn_pipeline_get(vkn_context *ctx, const char *shader, const uint32_t *spec, uint32_t nspec,
                            VkPipeline *out, uint32_t *writable);
/* The storage bindings an embedded shader's SPIR-V declares writable (bit i: binding i). */
vkn_status vkn_pipeline_writable(const char *shader, uint32_t *mask);
void vkn_pipeline_destroy_all(vkn_context *ctx);

/* Staging copies for non-host-visible memory (memory.c). */
vkn_status vkn_staging_copy(vkn_context *ctx, VkBuffer buf, uint64_t offset, void *host, uint64_t bytes, int upload);
void vkn_staging_destroy(vkn_context *ctx);

int vkn_env_flag(const char *name);

#endif
