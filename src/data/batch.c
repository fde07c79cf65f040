/* Batching: seeded shuffling, class-balanced and domain-paired batches, written as float [-1, 1]
 * straight into caller-provided (mapped device) memory, so no staging copy is needed. */
#include "data/data_internal.h"

#include <stdlib.h>
#include <string.h>

struct vkn_data_loader {
    const vkn_dataset *ds;
    vkn_loader_opts    o;
    int32_t            out_c;
    int32_t           *order;      /* [n] shuffle: this epoch's permutation; balanced: indices by class */
    int32_t           *cls_start;  /* [K+1] balanced: class k owns order[cls_start[k] .. cls_start[k+1]) */
    int32_t           *cls_pos;    /* [K] balanced: next position within each class */
    int32_t           *cls_round;  /* [K] balanced: how often each class was reshuffled */
    int32_t           *pick;       /* [batch] the samples of the batch being filled */
    int32_t            pos, epoch, batches, last_valid;
    vkn_data_rng       rng;        /* balanced: positions within a batch */
};

static void shuffle(int32_t *a, int32_t n, vkn_data_rng *r)
{
    for (int32_t i = n - 1; i > 0; i--) {  /* Fisher-Yates */
        int32_t j = (int32_t)vkn_data_rng_int(r, (uint32_t)i + 1);
        int32_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

/* Each epoch's permutation depends only on (seed, epoch), so reset() replays the same batches. */
static void shuffle_epoch(vkn_data_loader *ld)
{
    for (int32_t i = 0; i < ld->ds->n; i++) ld->order[i] = i;
    vkn_data_rng r = vkn_data_rng_for(ld->o.seed, (uint64_t)ld->epoch);
    shuffle(ld->order, ld->ds->n, &r);
}

static void shuffle_class(vkn_data_loader *ld, int32_t k)
{
    vkn_data_rng r = vkn_data_rng_for(ld->o.seed ^ 0xC1A55ull, ((uint64_t)k << 32) | (uint32_t)ld->cls_round[k]);
    shuffle(ld->order + ld->cls_start[k], ld->cls_start[k + 1] - ld->cls_start[k], &r);
}

void vkn_data_loader_reset(vkn_data_loader *ld)
{
    ld->pos = ld->epoch = ld->batches = 0;
    ld->last_valid = 0;
    ld->rng = vkn_data_rng_for(ld->o.seed, 0xBA1A4CEDull);
    if (ld->o.mode == VKN_BATCH_SHUFFLE) shuffle_epoch(ld);
    if (ld->o.mode == VKN_BATCH_BALANCED) {
        /* counting sort of the indices by label, then one seeded shuffle per class */
        const vkn_dataset *ds = ld->ds;
        int32_t K = ds->num_classes;
        memset(ld->cls_start, 0, (size_t)(K + 1) * sizeof *ld->cls_start);
        for (int32_t i = 0; i < ds->n; i++) ld->cls_start[ds->labels[i] + 1]++;
        for (int32_t k = 0; k < K; k++) ld->cls_start[k + 1] += ld->cls_start[k];
        for (int32_t k = 0; k < K; k++) ld->cls_pos[k] = 0, ld->cls_round[k] = 0;
        for (int32_t i = 0; i < ds->n; i++) {
            int32_t k = ds->labels[i];
            ld->order[ld->cls_start[k] + ld->cls_pos[k]++] = i;
        }
        for (int32_t k = 0; k < K; k++) ld->cls_pos[k] = 0, shuffle_class(ld, k);
    }
}

vkn_status vkn_data_loader_create(vkn_data_loader **out, const vkn_dataset *ds, const vkn_loader_opts *opts)
{
    *out = NULL;
    vkn_loader_opts o = *opts;
    int32_t oc = o.channels ? o.channels : ds->c;
    if (!ds->images || ds->n <= 0)
        return vkn_status_set(VKN_ERR_ARG, "loader: %s: the dataset is empty (load it first)", ds->name);
    if (o.batch <= 0 || o.batch > (1 << 20))   /* pos + batch and n + batch stay far inside int32 */
        return vkn_status_set(VKN_ERR_ARG, "loader: %s: batch %d must be in 1..2^20", ds->name, o.batch);
    if (oc != 1 && oc != 3)
        return vkn_status_set(VKN_ERR_ARG, "loader: %s: channels %d must be 0 (as the data), 1 or 3", ds->name,
                              o.channels);
    /* a batch's images [batch, out_c, h, w] as floats: one device tensor holds at most 2^34 elements */
    int64_t elems = (int64_t)o.batch * oc * ds->h * ds->w;
    if (elems > (1ll << 34))
        return vkn_status_set(VKN_ERR_ARG, "loader: %s: a batch of %d images of %dx%dx%d is %lld values, over 2^34",
                              ds->name, o.batch, oc, ds->h, ds->w, (long long)elems);
    if (o.mode < VKN_BATCH_SEQUENTIAL || o.mode > VKN_BATCH_BALANCED)
        return vkn_status_set(VKN_ERR_ARG, "loader: %s: unknown batch mode %d", ds->name, (int)o.mode);
    int32_t K = ds->num_classes;
    if (o.mode == VKN_BATCH_BALANCED) {
        if (o.batch % K != 0)
            return vkn_status_set(VKN_ERR_ARG, "loader: %s: a balanced batch must be a multiple of the %d classes "
                                  "(batch %d; use e.g. %d)", ds->name, K, o.batch, (o.batch / K + 1) * K);
        int64_t cnt[256] = {0};
        vkn_data_summary(ds, cnt, NULL, NULL);
        for (int32_t k = 0; k < K; k++)
            if (cnt[k] == 0)
                return vkn_status_set(VKN_ERR_ARG, "loader: %s: class %d has no samples, so balanced batches are "
                                      "impossible (use VKN_BATCH_SHUFFLE)", ds->name, k);
    }
    vkn_data_loader *ld = calloc(1, sizeof *ld);
    if (ld) {
        ld->order = malloc((size_t)ds->n * sizeof *ld->order);
        ld->pick = malloc((size_t)o.batch * sizeof *ld->pick);
        ld->cls_start = calloc((size_t)K + 1, sizeof *ld->cls_start);
        ld->cls_pos = calloc((size_t)K, sizeof *ld->cls_pos);
        ld->cls_round = calloc((size_t)K, sizeof *ld->cls_round);
    }
    if (!ld || !ld->order || !ld->pick || !ld->cls_start || !ld->cls_pos || !ld->cls_round) {
        vkn_data_loader_destroy(ld);
        return vkn_status_set(VKN_ERR_HOST_OOM, "loader: %s: out of memory", ds->name);
    }
    ld->ds = ds, ld->o = o, ld->out_c = oc;
    vkn_data_loader_reset(ld);
    *out = ld;
    return VKN_OK;
}

void vkn_data_loader_destroy(vkn_data_loader *ld)
{
    if (!ld) return;
    free(ld->order);
    free(ld->pick);
    free(ld->cls_start);
    free(ld->cls_pos);
    free(ld->cls_round);
    free(ld);
}

/* Choose the samples of the next batch into ld->pick. */
static void next_indices(vkn_data_loader *ld)
{
    const int32_t B = ld->o.batch, n = ld->ds->n;
    int32_t bpe = (n + B - 1) / B;
    switch (ld->o.mode) {
    case VKN_BATCH_SEQUENTIAL:
        ld->last_valid = n - ld->pos < B ? n - ld->pos : B;
        for (int32_t b = 0; b < B; b++) ld->pick[b] = (ld->pos + b) % n;  /* the tail wraps to the start */
        ld->pos += ld->last_valid;
        if (ld->pos >= n) ld->pos = 0, ld->epoch++;
        break;
    case VKN_BATCH_SHUFFLE:
        for (int32_t b = 0; b < B; b++) {
            if (ld->pos >= n) ld->pos = 0, ld->epoch++, shuffle_epoch(ld);
            ld->pick[b] = ld->order[ld->pos++];
        }
        ld->last_valid = B;
        break;
    case VKN_BATCH_BALANCED: {
        const int32_t K = ld->ds->num_classes;
        for (int32_t b = 0; b < B; b++) {
            int32_t k = b % K, size = ld->cls_start[k + 1] - ld->cls_start[k];
            if (ld->cls_pos[k] >= size) ld->cls_pos[k] = 0, ld->cls_round[k]++, shuffle_class(ld, k);
            ld->pick[b] = ld->order[ld->cls_start[k] + ld->cls_pos[k]++];
        }
        shuffle(ld->pick, B, &ld->rng);  /* no fixed class pattern inside a batch */
        ld->last_valid = B;
        ld->batches++;
        ld->epoch = ld->batches / bpe;
        break;
    }
    }
}

vkn_status vkn_data_batch_fill(vkn_data_loader *ld, float *images_dst, int32_t *labels_dst, int32_t *ctx_dst)
{
    if (!ld || !images_dst)
        return vkn_status_set(VKN_ERR_ARG, "loader: batch_fill needs a loader and an image destination");
    next_indices(ld);
    const vkn_dataset *ds = ld->ds;
    const size_t hw = (size_t)ds->h * ds->w;
    const float s = 2.0f / 255.0f;
    for (int32_t b = 0; b < ld->o.batch; b++) {
        int32_t i = ld->pick[b];
        const uint8_t *src = ds->images + (size_t)i * ds->c * hw;
        float *dst = images_dst + (size_t)b * ld->out_c * hw;  /* [batch, out_c, h, w] */
        if (ds->c == ld->out_c) {
            for (size_t k = 0; k < (size_t)ds->c * hw; k++) dst[k] = src[k] * s - 1.0f;
        } else if (ds->c == 1) {  /* grey to RGB: replicate */
            for (size_t k = 0; k < hw; k++) dst[k] = dst[hw + k] = dst[2 * hw + k] = src[k] * s - 1.0f;
        } else {                  /* RGB to grey: channel mean */
            for (size_t k = 0; k < hw; k++)
                dst[k] = (float)(src[k] + src[hw + k] + src[2 * hw + k]) * (s / 3.0f) - 1.0f;
        }
        if (labels_dst) labels_dst[b] = ds->labels[i];
        if (ctx_dst)
            ctx_dst[b] = ld->o.ctx_mode == VKN_CTX_LABEL ? ds->labels[i] : ds->ctx ? ds->ctx[i] : 0;
    }
    return VKN_OK;
}

vkn_status vkn_data_pair_fill(vkn_data_loader *src, vkn_data_loader *tgt, float *src_images,
                              int32_t *src_labels, float *tgt_images, int32_t *tgt_labels)
{
    if (!src || !tgt)
        return vkn_status_set(VKN_ERR_ARG, "loader: pair_fill needs a source and a target loader");
    if (src->out_c != tgt->out_c || src->ds->h != tgt->ds->h || src->ds->w != tgt->ds->w)
        return vkn_status_set(VKN_ERR_SHAPE, "loader: source %s gives %dx%dx%d images but target %s gives %dx%dx%d "
                              "(set channels = 3 on both loaders)", src->ds->name, src->out_c, src->ds->h,
                              src->ds->w, tgt->ds->name, tgt->out_c, tgt->ds->h, tgt->ds->w);
    VKN_TRY(vkn_data_batch_fill(src, src_images, src_labels, NULL));
    return vkn_data_batch_fill(tgt, tgt_images, tgt_labels, NULL);
}

int32_t vkn_data_loader_batches_per_epoch(const vkn_data_loader *ld)
{
    return (ld->ds->n + ld->o.batch - 1) / ld->o.batch;
}
int32_t vkn_data_loader_epoch(const vkn_data_loader *ld) { return ld->epoch; }
int32_t vkn_data_loader_last_valid(const vkn_data_loader *ld) { return ld->last_valid; }
void vkn_data_loader_shape(const vkn_data_loader *ld, int32_t *c, int32_t *h, int32_t *w)
{
    if (c) *c = ld->out_c;
    if (h) *h = ld->ds->h;
    if (w) *w = ld->ds->w;
}
