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

vkn_status vkn_pipeline_get(vkn_context *ctx, const char *shader, const uint32_t *spec, uint32_t nspec, VkPipeline *out)
{
    if (nspec > VKN_MAX_SPEC) return vkn_status_set(VKN_ERR_ARG, "pipeline %s: %u specialization constants (max %d)",
                                                    shader, nspec, VKN_MAX_SPEC);
    for (vkn_pipeline *p = ctx->pipelines; p; p = p->next)
        if (p->nspec == nspec && strcmp(p->shader, shader) == 0 && (!nspec || !memcmp(p->spec, spec, nspec * 4))) {
            *out = p->pipe;
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
