/* Status strings and the per-thread error detail. */
#include "vkn/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char detail[4096];

const char *vkn_status_string(vkn_status s)
{
    switch (s) {
    case VKN_OK: return "ok";
    case VKN_ERR_NO_LOADER: return "no Vulkan loader found (install libvulkan1, or run scripts/install-deps)";
    case VKN_ERR_NO_DEVICE: return "no Vulkan device found (install a driver; mesa-vulkan-drivers gives the lavapipe CPU device)";
    case VKN_ERR_BAD_DEVICE: return "the requested Vulkan device does not exist (check VKN_DEVICE / --device against the listed devices)";
    case VKN_ERR_DEVICE_OOM: return "out of device memory (use a smaller batch or model)";
    case VKN_ERR_HOST_OOM: return "out of host memory";
    case VKN_ERR_DEVICE_LOST: return "the Vulkan device was lost (driver crash or timeout)";
    case VKN_ERR_SHAPE: return "tensor shapes do not fit the operation";
    case VKN_ERR_ARG: return "invalid argument";
    case VKN_ERR_IO: return "file input/output error";
    case VKN_ERR_FORMAT: return "malformed file contents";
    case VKN_ERR_UNSUPPORTED: return "not supported by this device";
    case VKN_ERR_VULKAN: return "Vulkan call failed";
    case VKN_ERR_NOT_FINITE: return "non-finite value (NaN or Inf)";
    case VKN_ERR_MISMATCH: return "a device result differs from the C reference (VKN_CHECK)";
    default: return "unknown status";
    }
}

const char *vkn_status_detail(void) { return detail; }

void vkn_status_clear(void) { detail[0] = 0; }

vkn_status vkn_status_set(vkn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return s;
}
