/* The dataset type: allocation, slicing, contexts, per-class counts and per-channel statistics. */
#include "data/data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

vkn_status vkn_data_alloc(vkn_dataset *ds, const char *name, int32_t n, int32_t c, int32_t h, int32_t w,
                          int32_t num_classes)
{
    memset(ds, 0, sizeof *ds);
    if (n < 0 || (c != 1 && c != 3) || h <= 0 || w <= 0 || h > 4096 || w > 4096 || num_classes <= 0 ||
        num_classes > 256)
        return vkn_status_set(VKN_ERR_ARG, "data: %s: bad dataset shape n=%d c=%d h=%d w=%d classes=%d "
                              "(c must be 1 or 3, 1 <= h, w <= 4096, 1 <= classes <= 256)",
                              name ? name : "?", n, c, h, w, num_classes);
    uint64_t bytes = (uint64_t)n * c * h * w;
    if (bytes > VKN_DATA_MAX_BYTES)
        return vkn_status_set(VKN_ERR_ARG, "data: %s: %d images of %dx%dx%d need %llu bytes, over the "
                              "%llu-byte limit (use fewer images)", name ? name : "?", n, c, h, w,
                              (unsigned long long)bytes, (unsigned long long)VKN_DATA_MAX_BYTES);
    ds->images = calloc(bytes ? bytes : 1, 1);
    ds->labels = calloc(n ? (size_t)n : 1, 1);
    if (!ds->images || !ds->labels) {
        vkn_data_free(ds);
        return vkn_status_set(VKN_ERR_HOST_OOM, "data: %s: cannot allocate %llu bytes of images",
                              name ? name : "?", (unsigned long long)bytes);
    }
    snprintf(ds->name, sizeof ds->name, "%s", name ? name : "");
    ds->n = n, ds->c = c, ds->h = h, ds->w = w, ds->num_classes = num_classes;
    return VKN_OK;
}

void vkn_data_free(vkn_dataset *ds)
{
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    free(ds->ctx);
    memset(ds, 0, sizeof *ds);
}

vkn_status vkn_data_slice(vkn_dataset *dst, const vkn_dataset *src, int32_t start, int32_t count)
{
    if (start < 0 || count < 0 || (int64_t)start + count > src->n)
        return vkn_status_set(VKN_ERR_ARG, "data: %s: slice [%d, %d) is outside the %d samples",
                              src->name, start, start + count, src->n);
    VKN_TRY(vkn_data_alloc(dst, src->name, count, src->c, src->h, src->w, src->num_classes));
    size_t per = (size_t)src->c * src->h * src->w;
    memcpy(dst->images, src->images + (size_t)start * per, (size_t)count * per);
    memcpy(dst->labels, src->labels + start, (size_t)count);
    if (src->ctx) {
        dst->ctx = malloc((count ? (size_t)count : 1) * sizeof *dst->ctx);
        if (!dst->ctx) {
            vkn_data_free(dst);
            return vkn_status_set(VKN_ERR_HOST_OOM, "data: %s: out of memory for contexts", src->name);
        }
        memcpy(dst->ctx, src->ctx + start, (size_t)count * sizeof *dst->ctx);
    }
    return VKN_OK;
}

vkn_status vkn_data_set_context(vkn_dataset *ds, int32_t ctx)
{
    int32_t *p = realloc(ds->ctx, (ds->n ? (size_t)ds->n : 1) * sizeof *p);
    if (!p) return vkn_status_set(VKN_ERR_HOST_OOM, "data: %s: out of memory for contexts", ds->name);
    for (int32_t i = 0; i < ds->n; i++) p[i] = ctx;
    ds->ctx = p;
    return VKN_OK;
}

void vkn_data_summary(const vkn_dataset *ds, int64_t *class_counts, double *mean, double *std)
{
    if (class_counts) {
        memset(class_counts, 0, (size_t)ds->num_classes * sizeof *class_counts);
        for (int32_t i = 0; i < ds->n; i++)
            if (ds->labels[i] < ds->num_classes) class_counts[ds->labels[i]]++;
    }
    if (!mean && !std) return;
    size_t hw = (size_t)ds->h * ds->w;
    for (int32_t ch = 0; ch < ds->c; ch++) {
        /* integer sums are exact: 70,000 * 784 * 255^2 fits easily in 64 bits */
        uint64_t s = 0, s2 = 0;
        for (int32_t i = 0; i < ds->n; i++) {
            const uint8_t *p = ds->images + ((size_t)i * ds->c + ch) * hw;
            for (size_t k = 0; k < hw; k++) s += p[k], s2 += (uint64_t)p[k] * p[k];
        }
        double cnt = (double)ds->n * (double)hw;
        double m = cnt > 0 ? (double)s / cnt : 0.0;
        double v = cnt > 0 ? (double)s2 / cnt - m * m : 0.0;
        if (mean) mean[ch] = m / 255.0;
        if (std) std[ch] = (v > 0 ? sqrt(v) : 0.0) / 255.0;
    }
}
