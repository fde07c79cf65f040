/* libFuzzer target: the IDX readers (images and labels, plain and gzip) on arbitrary bytes. They must
 * either succeed with consistent sizes or return an error; never crash, leak or read out of bounds. */
#include "vkn/data.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *img = NULL, *lab = NULL;
    int32_t n, c, h, w, nl;
    if (vkn_data_idx_parse_images(data, size, "fuzz", &img, &n, &c, &h, &w) == VKN_OK) {
        /* touch the last byte: ASan checks the buffer really has n*c*h*w bytes */
        volatile uint8_t last = img[(size_t)n * c * h * w - 1];
        (void)last;
        if (n <= 0 || (c != 1 && c != 3) || h <= 0 || w <= 0) abort();
    } else if (img || !*vkn_status_detail()) {
        abort();  /* an error must leave nothing allocated and say what went wrong */
    }
    free(img);
    if (vkn_data_idx_parse_labels(data, size, "fuzz", 10, &lab, &nl) == VKN_OK) {
        for (int32_t i = 0; i < nl; i++)
            if (lab[i] >= 10) abort();
    } else if (lab) {
        abort();
    }
    free(lab);
    return 0;
}
