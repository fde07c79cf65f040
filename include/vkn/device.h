/* The Vulkan device vknorm runs on: choice, capabilities, validation.
 *
 * Device choice: VKN_DEVICE (an index into the listed devices, or a substring of a device's name)
 * first, then discrete > integrated > virtual > CPU. Switches (environment, read at create):
 *   VKN_VALIDATE=1          enable VK_LAYER_KHRONOS_validation and count its messages
 *   VKN_VALIDATE=sync       the same with the layer's synchronization validation (hazards between
 *                           dispatches that no barrier orders); a comma list ("sync,1") works too
 *   VKN_PROFILE=1           timestamp every dispatch and print a per-dispatch table after each wait
 *   VKN_PATH=cpu|gpu        force the kernel family (barrier-free register-blocked vs shared-memory tiled)
 *   VKN_NO_PUSH_DESCRIPTOR=1, VKN_NO_SUBGROUP=1, VKN_NO_HOST_VISIBLE=1  turn optional paths off
 *   VKN_QUIET=1             do not print the capability line at start */
#ifndef VKN_DEVICE_H
#define VKN_DEVICE_H

#include <stdint.h>
#include "vkn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_context vkn_context;

typedef enum vkn_path { VKN_PATH_AUTO = 0, VKN_PATH_CPU, VKN_PATH_GPU } vkn_path;

typedef struct vkn_context_opts {
    const char *device;     /* index or name substring; NULL: VKN_DEVICE, else automatic */
    int validate;           /* -1: VKN_VALIDATE, 0: off, 1: on, 2: on with synchronization validation */
    int quiet;              /* -1: VKN_QUIET, 0: print the capability line, 1: silent */
    vkn_path path;          /* AUTO: VKN_PATH, else by device type */
} vkn_context_opts;

typedef struct vkn_device_info {
    char name[256];
    char driver[512];
    char type[16];              /* "discrete", "integrated", "virtual", "cpu", "other" */
    uint32_t vendor_id, device_id, api_version;
    uint32_t subgroup_size;
    uint32_t max_shared_bytes;
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_count[3];    /* workgroups per dispatch, per dimension */
    uint64_t max_storage_range;
    uint64_t device_local_bytes;
    int host_visible_device_memory;  /* one memory type both device-local and host-visible */
    int fp16;                        /* shaderFloat16 + storageBuffer16BitAccess */
    int push_descriptors;
    int subgroup_arith;              /* subgroup arithmetic in compute */
    int timestamps;
    float timestamp_period_ns;
    vkn_path path;                   /* the kernel family in use */
} vkn_device_info;

vkn_status vkn_context_create(const vkn_context_opts *opts /* NULL: defaults */, vkn_context **out);
void vkn_context_destroy(vkn_context *ctx);

const vkn_device_info *vkn_context_info(const vkn_context *ctx);
/* One line: device, driver, API, subgroup size, shared memory, fp16, memory model, kernel path. */
const char *vkn_context_describe(const vkn_context *ctx);
/* Validation messages (warnings and errors) counted since create; 0 when validation is off. */
uint32_t vkn_context_validation_count(const vkn_context *ctx);

/* List every Vulkan device (index, type, name) into buf; returns the count (or a negative status). */
int vkn_context_list_devices(char *buf, int buf_len);

#ifdef __cplusplus
}
#endif
#endif
