/* Checkpoints: named host tensors in a safetensors file tagged {"format": "vknorm-checkpoint", "model",
 * "step"}. Loading checks everything first and reports every problem at once, then reads. */
#include "io/io_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_reserved(const char *k)
{
    return strcmp(k, "format") == 0 || strcmp(k, "model") == 0 || strcmp(k, "step") == 0;
}

vkn_status vkn_io_checkpoint_save(const char *path, const char *model, int64_t step,
                                  const vkn_io_entry *entries, int n, const char *const *extra_meta)
{
    if (!path || !model || n < 0 || (n && !entries))
        return vkn_status_set(VKN_ERR_ARG, "checkpoint: save needs a path, a model name and n >= 0 entries");
    vkn_io_st_builder *b;
    VKN_TRY(vkn_io_safetensors_builder_create(&b));
    vkn_status s = VKN_OK;
    char stepstr[32];
    snprintf(stepstr, sizeof stepstr, "%" PRId64, step);
    if ((s = vkn_io_safetensors_add_meta(b, "format", VKN_IO_CHECKPOINT_FORMAT)) != VKN_OK) goto out;
    if ((s = vkn_io_safetensors_add_meta(b, "model", model)) != VKN_OK) goto out;
    if ((s = vkn_io_safetensors_add_meta(b, "step", stepstr)) != VKN_OK) goto out;
    for (const char *const *kv = extra_meta; kv && kv[0]; kv += 2) {
        if (!kv[1]) {
            s = vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: metadata key \"%s\" has no value (the list is key, "
                               "value, ..., NULL)", path, kv[0]);
            goto out;
        }
        if (is_reserved(kv[0])) {
            s = vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: metadata key \"%s\" is reserved", path, kv[0]);
            goto out;
        }
        if ((s = vkn_io_safetensors_add_meta(b, kv[0], kv[1])) != VKN_OK) goto out;
    }
    for (int i = 0; i < n; i++) {
        const vkn_io_entry *e = &entries[i];
        if (e->ndim < 0 || e->ndim > VKN_MAX_DIMS) {
            s = vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: tensor '%s': rank %d (at most %d)", path,
                               e->name ? e->name : "(null)", e->ndim, VKN_MAX_DIMS);
            goto out;
        }
        if ((s = vkn_io_safetensors_add(b, e->name, e->dtype, e->ndim, e->shape, e->data)) != VKN_OK) goto out;
    }
    s = vkn_io_safetensors_write(b, path);
out:
    vkn_io_safetensors_builder_destroy(b);
    return s;
}

/* Problems, collected into one message that fits vkn_status_detail's buffer. */
typedef struct problems {
    io_buf text;
    int count, shown;
    int missing, unexpected, mismatched;
} problems;

static void problem(problems *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void problem(problems *p, const char *fmt, ...)
{
    p->count++;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->text.n + strlen(line) > 700) return;   /* the rest is counted, not shown */
    io_buf_str(&p->text, "; ");
    io_buf_str(&p->text, line);
    p->shown++;
}

vkn_status vkn_io_checkpoint_load(const char *path, const char *model, const vkn_io_entry *entries, int n,
                                  unsigned flags, int64_t *step)
{
    if (!path || n < 0 || (n && !entries))
        return vkn_status_set(VKN_ERR_ARG, "checkpoint: load needs a path and n >= 0 entries");
    for (int i = 0; i < n; i++) {
        if (!entries[i].name || (entries[i].ndim < 0 || entries[i].ndim > VKN_MAX_DIMS))
            return vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: entry %d has no name or a bad rank", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(entries[i].name, entries[j].name) == 0)
                return vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: tensor '%s' asked for twice", path, entries[i].name);
    }
    vkn_io_safetensors *f;
    VKN_TRY(vkn_io_safetensors_open(path, &f));
    vkn_status s = VKN_OK;
    problems p = { 0 };
    const char *fmt = vkn_io_safetensors_meta_get(f, "format");
    if (!fmt || strcmp(fmt, VKN_IO_CHECKPOINT_FORMAT) != 0) {
        s = vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: not a vknorm checkpoint (metadata \"format\" is %s%s%s, "
                           "expected \"%s\")", path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "",
                           VKN_IO_CHECKPOINT_FORMAT);
        goto out;
    }
    const char *m = vkn_io_safetensors_meta_get(f, "model");
    if (model && (!m || strcmp(m, model) != 0))
        problem(&p, "model is \"%s\", expected \"%s\"", m ? m : "(missing)", model);
    const char *st = vkn_io_safetensors_meta_get(f, "step");
    int64_t stepv = 0;
    {
        char *end = NULL;
        errno = 0;
        long long v = st ? strtoll(st, &end, 10) : 0;
        if (!st || !*st || *end || errno) problem(&p, "step \"%s\" is not an integer", st ? st : "(missing)");
        else stepv = v;
    }
    for (int i = 0; i < n; i++) {
        const vkn_io_entry *e = &entries[i];
        const vkn_io_tensor_info *t = vkn_io_safetensors_lookup(f, e->name);
        char a[160], b[160];
        if (!t) {
            p.missing++;
            problem(&p, "missing tensor '%s' (expected %s %s)", e->name, vkn_io_dtype_name(e->dtype),
                    vkn_io_shape_str(e->ndim, e->shape, a, sizeof a));
            continue;
        }
        int same = t->dtype == e->dtype && t->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
        if (!same) {
            p.mismatched++;
            problem(&p, "tensor '%s': expected %s %s, found %s %s", e->name, vkn_io_dtype_name(e->dtype),
                    vkn_io_shape_str(e->ndim, e->shape, a, sizeof a), vkn_io_dtype_name(t->dtype),
                    vkn_io_shape_str(t->ndim, t->shape, b, sizeof b));
        } else if (t->nbytes && !e->data)
            problem(&p, "tensor '%s': no destination (data is NULL)", e->name);
    }
    if (!(flags & VKN_IO_ALLOW_UNEXPECTED)) {
        for (int k = 0; k < vkn_io_safetensors_count(f); k++) {
            const vkn_io_tensor_info *t = vkn_io_safetensors_at(f, k);
            int known = 0;
            for (int i = 0; i < n && !known; i++) known = strcmp(entries[i].name, t->name) == 0;
            char a[160];
            if (!known) p.unexpected++;
            if (!known)
                problem(&p, "unexpected tensor '%s' (%s %s)", t->name, vkn_io_dtype_name(t->dtype),
                        vkn_io_shape_str(t->ndim, t->shape, a, sizeof a));
        }
    }
    if (p.text.oom) {
        s = vkn_status_set(VKN_ERR_HOST_OOM, "checkpoint: %s: out of memory", path);
        goto out;
    }
    if (p.count) {
        s = vkn_status_set(VKN_ERR_SHAPE, "checkpoint: %s does not fit model \"%s\": %d problem%s (%d missing, %d "
                           "unexpected, %d mismatched tensors)%s%s", path, model ? model : (m ? m : "?"), p.count,
                           p.count == 1 ? "" : "s", p.missing, p.unexpected, p.mismatched, p.text.p ? p.text.p : "",
                           p.shown < p.count ? "; ..." : "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const vkn_io_entry *e = &entries[i];
        if ((s = vkn_io_safetensors_read(f, e->name, e->dtype, e->ndim, e->shape, e->data)) != VKN_OK) goto out;
    }
    if (step) *step = stepv;
out:
    free(p.text.p);
    vkn_io_safetensors_close(f);
    return s;
}
