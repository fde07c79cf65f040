/* Compute pipelines, created on first use from the embedded SPIR-V and cached per
 * (shader, specialization constants). Constant i of a shader has constant_id i. */
#include "vk/vk_internal.h"
#include "vk/shader_registry.h"

#include <stdlib.h>
#include <string.h>

static const vkn_shader_entry *find_shader(const char *name)
{
    for (size_t i = 0; i < vkn_shader_count; i++)
        if (strcmp(vkn_shader_table[i].name, name) == 0) return &vkn_shader_table[i];
    return NULL;
}

/* The storage-buffer bindings (0..31) that the SPIR-V declares writable: a StorageBuffer variable not
 * decorated NonWritable whose block has a member without NonWritable (glslang's `readonly` marks the
 * members). The validation layer's synchronization checks count a write through each such binding
 * whether or not this configuration of the shader stores to it, so the hazard tracker must too. */
static uint32_t writable_bindings(const uint32_t *w, size_t n)
{
    enum { OP_TYPE_STRUCT = 30, OP_TYPE_POINTER = 32, OP_VARIABLE = 59, OP_DECORATE = 71, OP_MEMBER_DECORATE = 72,
           DEC_NON_WRITABLE = 24, DEC_BINDING = 33, SC_STORAGE_BUFFER = 12 };
    if (n < 5 || w[0] != 0x07230203u || w[3] == 0 || w[3] > (1u << 22)) return 0;
    uint32_t bound = w[3], mask = 0;
    /* per id: binding + 1, NonWritable, struct members, members NonWritable, pointee; variables */
    uint32_t *binding = calloc(bound, sizeof *binding), *members = calloc(bound, sizeof *members);
    uint32_t *ro = calloc(bound, sizeof *ro), *pointee = calloc(bound, sizeof *pointee);
    uint8_t *nonwritable = calloc(bound, 1);
    if (!binding || !members || !ro || !pointee || !nonwritable) goto out;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 5; i < n;) {
            uint32_t wc = w[i] >> 16, op = w[i] & 0xffffu;
            if (wc == 0 || i + wc > n) goto out;
            const uint32_t *a = w + i + 1;
            if (pass == 0) {
                if (op == OP_DECORATE && wc >= 3 && a[0] < bound) {
                    if (a[1] == DEC_BINDING && wc >= 4) binding[a[0]] = a[2] + 1;
                    if (a[1] == DEC_NON_WRITABLE) nonwritable[a[0]] = 1;
                } else if (op == OP_MEMBER_DECORATE && wc >= 4 && a[0] < bound && a[2] == DEC_NON_WRITABLE) {
                    ro[a[0]]++;
                } else if (op == OP_TYPE_STRUCT && wc >= 2 && a[0] < bound) {
                    members[a[0]] = wc - 2;
                } else if (op == OP_TYPE_POINTER && wc >= 4 && a[0] < bound) {
                    pointee[a[0]] = a[2];
                }
            } else if (op == OP_VARIABLE && wc >= 4 && a[1] < bound && a[0] < bound && a[2] == SC_STORAGE_BUFFER) {
                uint32_t id = a[1], st = pointee[a[0]];
                if (binding[id] && binding[id] <= 32 && !nonwritable[id] && st < bound && members[st] > ro[st])
                    mask |= 1u << (binding[id] - 1);
            }
            i += wc;
        }
out:
    free(binding), free(members), free(ro), free(pointee), free(nonwritable);
    return mask;
}

vkn_status vkn_pipeline_writable(const char *shader, uint32_t *mask)
{
    for (size_t i = 0; i < vkn_shader_count; i++)
        if (strcmp(vkn_shader_table[i].name, shader) == 0) {
            *mask = writable_bindings(vkn_shader_table[i].code, *vkn_shader_table[i].words);
            return VKN_OK;
        }
    return vkn_status_set(VKN_ERR_ARG, "no embedded shader named '%s' (rebuild after adding shaders)", shader);
}

vkn_status vkn_pipeline_get(vkn_context *ctx, const char *shader, const uint32_t *spec, uint32_t nspec, VkPipeline *out,
                            uint32_t *writable)
{
    if (nspec > VKN_MAX_SPEC) return vkn_status_set(VKN_ERR_ARG, "pipeline %s: %u specialization constants (max %d)",
                                                    shader, nspec, VKN_MAX_SPEC);
    for (vkn_pipeline *p = ctx->pipelines; p; p = p->next)
        if (p->nspec == nspec && strcmp(p->shader, shader) == 0 && (!nspec || !memcmp(p->spec, spec, nspec * 4))) {
            *out = p->pipe;
            *writable = p->writable;
            return VKN_OK;
        }
    const vkn_shader_entry *e = find_shader(shader);
    if (!e) return vkn_status_set(VKN_ERR_ARG, "no embedded shader named '%s' (rebuild after adding shaders)", shader);

    VkShaderModuleCreateInfo smci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                     .codeSize = *e->words * 4, .pCode = e->code};
    VkShaderModule mod;
    VKN_VK(vkCreateShaderModule(ctx->dev, &smci, NULL, &mod), "vkCreateShaderModule");
    VkSpecializationMapEntry map[VKN_MAX_SPEC];
    for (uint32_t i = 0; i < nspec; i++) map[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = nspec, .pMapEntries = map, .dataSize = nspec * 4, .pData = spec};
    VkComputePipelineCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod, .pName = "main", .pSpecializationInfo = nspec ? &si : NULL},
        .layout = ctx->layout,
    };
    VkPipeline pipe;
    VkResult r = vkCreateComputePipelines(ctx->dev, ctx->cache, 1, &cpci, NULL, &pipe);
    vkDestroyShaderModule(ctx->dev, mod, NULL);
    if (r != VK_SUCCESS) return vkn_vk_check(r, shader);
    vkn_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        vkDestroyPipeline(ctx->dev, pipe, NULL);
        return vkn_status_set(VKN_ERR_HOST_OOM, "pipeline cache entry");
    }
    p->shader = e->name;
    p->nspec = nspec;
    if (nspec) memcpy(p->spec, spec, nspec * 4);
    p->pipe = pipe;
    p->writable = writable_bindings(e->code, *e->words);
    *writable = p->writable;
    p->next = ctx->pipelines;
    ctx->pipelines = p;
    *out = pipe;
    return VKN_OK;
}

void vkn_pipeline_destroy_all(vkn_context *ctx)
{
    for (vkn_pipeline *p = ctx->pipelines, *n; p; p = n) {
        n = p->next;
        vkDestroyPipeline(ctx->dev, p->pipe, NULL);
        free(p);
    }
    ctx->pipelines = NULL;
}
