/* Checkpoints of a parameter store through the safetensors writer and reader of src/io. */
#include "graph/graph_internal.h"
#include "vkn/io.h"

#include <stdlib.h>
#include <string.h>

/* Host copies of every tensor, as io entries (data freed by free_entries). */
static vkn_status make_entries(const vkn_params *p, vkn_io_entry **out)
{
    vkn_io_entry *e = calloc((size_t)(p->n ? p->n : 1), sizeof *e);
    if (!e) return vkn_status_set(VKN_ERR_HOST_OOM, "checkpoint");
    for (int i = 0; i < p->n; i++) {
        const vkn_tensor *t = &p->items[i].value;
        e[i].name = p->items[i].name;
        e[i].dtype = vkn_io_dtype_of(t->dtype);
        e[i].ndim = t->ndim;
        memcpy(e[i].shape, t->shape, sizeof e[i].shape);
        e[i].data = malloc((size_t)t->bytes);
        if (!e[i].data) {
            for (int k = 0; k < i; k++) free(e[k].data);
            free(e);
            return vkn_status_set(VKN_ERR_HOST_OOM, "checkpoint");
        }
    }
    *out = e;
    return VKN_OK;
}

static void free_entries(vkn_io_entry *e, int n)
{
    for (int i = 0; i < n; i++) free(e[i].data);
    free(e);
}

vkn_status vkn_params_save(const vkn_params *p, const char *path, const char *model, int64_t step,
                           const char *const *extra_meta)
{
    vkn_io_entry *e;
    VKN_TRY(make_entries(p, &e));
    vkn_status s = VKN_OK;
    for (int i = 0; i < p->n && s == VKN_OK; i++) s = vkn_tensor_download(&p->items[i].value, e[i].data);
    if (s == VKN_OK) s = vkn_io_checkpoint_save(path, model, step, e, p->n, extra_meta);
    free_entries(e, p->n);
    return s;
}

vkn_status vkn_params_load(vkn_params *p, const char *path, const char *model, int64_t *step)
{
    vkn_io_entry *e;
    VKN_TRY(make_entries(p, &e));
    vkn_status s = vkn_io_checkpoint_load(path, model, e, p->n, 0, step);
    for (int i = 0; i < p->n && s == VKN_OK; i++) s = vkn_tensor_upload(&p->items[i].value, e[i].data);
    free_entries(e, p->n);
    return s;
}
