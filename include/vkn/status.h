/* vknorm status codes. Every public function that can fail returns a vkn_status; the last error's
 * details (what failed, where, what to do) are kept per thread and read with vkn_status_detail(). */
#ifndef VKN_STATUS_H
#define VKN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkn_status {
    VKN_OK = 0,
    VKN_ERR_NO_LOADER,      /* no Vulkan loader (libvulkan.so.1) on this machine */
    VKN_ERR_NO_DEVICE,      /* loader present but no usable Vulkan device */
    VKN_ERR_BAD_DEVICE,     /* VKN_DEVICE / --device names no device */
    VKN_ERR_DEVICE_OOM,     /* out of device memory */
    VKN_ERR_HOST_OOM,       /* out of host memory */
    VKN_ERR_DEVICE_LOST,    /* the device was lost while running a submit */
    VKN_ERR_SHAPE,          /* tensor shapes do not fit the operation */
    VKN_ERR_ARG,            /* a bad argument or option value */
    VKN_ERR_IO,             /* a file could not be opened, read or written */
    VKN_ERR_FORMAT,         /* a file's contents are malformed */
    VKN_ERR_UNSUPPORTED,    /* the device lacks a needed feature */
    VKN_ERR_VULKAN,         /* any other Vulkan failure */
    VKN_ERR_NOT_FINITE,     /* NaN or Inf in a result */
    VKN_ERR_MISMATCH,       /* a device result differs from the C reference (VKN_CHECK) */
    VKN_ERR_COUNT_
} vkn_status;

/* Short fixed description of a status, with the usual remedy. */
const char *vkn_status_string(vkn_status s);

/* The detailed message of the last error raised on this thread ("" when none). */
const char *vkn_status_detail(void);

/* Record an error (printf-style detail) and return s, so callers can write
 * `return vkn_status_set(VKN_ERR_SHAPE, "gemm: A is %dx%d", m, k);`. */
vkn_status vkn_status_set(vkn_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Forget the last error on this thread. */
void vkn_status_clear(void);

#define VKN_TRY(expr) do { vkn_status s_ = (expr); if (s_ != VKN_OK) return s_; } while (0)

#ifdef __cplusplus
}
#endif
#endif
