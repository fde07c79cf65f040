/* libFuzzer target: the safetensors reader on arbitrary bytes (copied to an exact-size buffer so reads
 * past the end are caught). Whatever it accepts must be self-consistent: every listed tensor can be
 * found by name and read whole, and its bytes lie inside the input. */
#include "vkn/io.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    vkn_io_safetensors *f = NULL;
    if (vkn_io_safetensors_parse(buf, size, "fuzz.safetensors", &f) == VKN_OK) {
        uint64_t total = 0;
        for (int i = 0; i < vkn_io_safetensors_count(f); i++) {
            const vkn_io_tensor_info *t = vkn_io_safetensors_at(f, i);
            if (vkn_io_safetensors_lookup(f, t->name) != t) abort();
            if (t->nbytes != (uint64_t)t->numel * vkn_io_dtype_size(t->dtype)) abort();
            total += t->nbytes;
            if (t->nbytes <= (1u << 20)) {
                void *dst = malloc(t->nbytes ? t->nbytes : 1);
                if (dst && vkn_io_safetensors_read(f, t->name, t->dtype, t->ndim, t->shape, dst) != VKN_OK) abort();
                free(dst);
            }
        }
        if (total > size) abort();
        for (int i = 0; i < vkn_io_safetensors_meta_count(f); i++) {
            const char *k, *v;
            vkn_io_safetensors_meta_at(f, i, &k, &v);
            if (!k || !v || vkn_io_safetensors_meta_get(f, k) == NULL) abort();
        }
        vkn_io_safetensors_close(f);
    } else if (f) {
        abort();
    }
    free(buf);
    return 0;
}
