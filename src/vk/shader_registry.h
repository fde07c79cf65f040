/* The embedded SPIR-V of every compute shader under shaders/ (generated at build time by scripts/shader_embed.py). */
#ifndef VKN_SHADER_REGISTRY_H
#define VKN_SHADER_REGISTRY_H
#include <stddef.h>
#include <stdint.h>

typedef struct vkn_shader_entry {
    const char *name;          /* path under shaders/ without .comp, e.g. "gemm/gemm_reg" */
    const uint32_t *code;
    const size_t *words;
} vkn_shader_entry;

extern const vkn_shader_entry vkn_shader_table[];
extern const size_t vkn_shader_count;

#endif
