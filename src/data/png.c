/* Dataset slices as PNG grids for inspection (stb_image_write, compiled static to this file so no
 * other room's copy can clash with it). */
#include "data/data_internal.h"

#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define BORDER 2

vkn_status vkn_data_png_grid(const vkn_dataset *ds, const char *path, int32_t start, int32_t count,
                             int32_t cols, int32_t scale)
{
    if (start < 0 || count <= 0 || (int64_t)start + count > ds->n)
        return vkn_status_set(VKN_ERR_ARG, "png: %s: samples [%d, %d) are outside %s's %d samples", path, start,
                              start + count, ds->name, ds->n);
    if (cols <= 0 || scale <= 0 || scale > 16)
        return vkn_status_set(VKN_ERR_ARG, "png: %s: cols %d must be >= 1 and scale %d 1 .. 16", path, cols, scale);
    if (cols > count) cols = count;
    int32_t rows = (count + cols - 1) / cols;
    int64_t cw = (int64_t)ds->w * scale + BORDER, chh = (int64_t)ds->h * scale + BORDER;
    int64_t W = cols * cw + BORDER, H = rows * chh + BORDER;
    if (W > 16384 || H > 16384)
        return vkn_status_set(VKN_ERR_ARG, "png: %s: a %lldx%lld grid is too large (show fewer samples or use a "
                              "smaller scale)", path, (long long)W, (long long)H);
    uint8_t *rgb = malloc((size_t)(W * H * 3));
    if (!rgb) return vkn_status_set(VKN_ERR_HOST_OOM, "png: %s: out of memory", path);
    memset(rgb, 48, (size_t)(W * H * 3));  /* dark grey borders */
    size_t hw = (size_t)ds->h * ds->w;
    for (int32_t k = 0; k < count; k++) {
        const uint8_t *img = ds->images + (size_t)(start + k) * ds->c * hw;
        int64_t x0 = BORDER + (k % cols) * cw, y0 = BORDER + (k / cols) * chh;
        for (int64_t y = 0; y < (int64_t)ds->h * scale; y++)
            for (int64_t x = 0; x < (int64_t)ds->w * scale; x++) {
                size_t src = (size_t)(y / scale) * ds->w + (size_t)(x / scale);
                uint8_t *px = rgb + ((y0 + y) * W + x0 + x) * 3;
                for (int ch = 0; ch < 3; ch++) px[ch] = img[(ds->c == 3 ? (size_t)ch * hw : 0) + src];
            }
    }
    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(rgb, (int)(W * 3), (int)W, (int)H, 3, &len);
    free(rgb);
    if (!png) return vkn_status_set(VKN_ERR_HOST_OOM, "png: %s: encoding failed (out of memory)", path);
    vkn_status st = vkn_io_write_file(path, png, (size_t)len, "png");
    STBIW_FREE(png);
    return st;
}
