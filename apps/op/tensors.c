/* vkn-op: named tensors from the input file onto the device (with messages that name the tensor, the
 * file and both shapes), and the outputs: device tensors registered under a name, downloaded after
 * the run. */
#include "op.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

vkn_status oc_usage(op_ctx *oc, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    oc->usage = 1;
    return vkn_status_set(VKN_ERR_ARG, "%s", buf);
}

void oc_note(op_ctx *oc, const char *fmt, ...)
{
    size_t at = strlen(oc->notes);
    if (at + 2 >= sizeof oc->notes) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(oc->notes + at, sizeof oc->notes - at - 1, fmt, ap);
    va_end(ap);
    at = strlen(oc->notes);
    oc->notes[at] = '\n';
    oc->notes[at + 1] = 0;
}

int oc_has(const op_ctx *oc, const char *name) { return vkn_io_safetensors_lookup(oc->in, name) != NULL; }

const char *oc_shape(const vkn_tensor *t, char *buf, size_t len)
{
    return vkn_io_shape_str(t->ndim, t->shape, buf, len);
}

static void list_names(const op_ctx *oc, char *buf, size_t len)
{
    size_t at = 0;
    int n = vkn_io_safetensors_count(oc->in);
    buf[0] = 0;
    if (n == 0) {
        snprintf(buf, len, "none");
        return;
    }
    for (int i = 0; i < n && at + 8 < len; i++) {
        const vkn_io_tensor_info *ti = vkn_io_safetensors_at(oc->in, i);
        int w = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", ti->name);
        if (w < 0) break;
        at += (size_t)w;
    }
    if (at >= len - 8) snprintf(buf + len - 8, 8, ", ...");
}

vkn_status oc_input(op_ctx *oc, const char *name, vkn_dtype dt, int min_nd, int max_nd, vkn_tensor *t)
{
    const vkn_io_tensor_info *ti = vkn_io_safetensors_lookup(oc->in, name);
    if (!ti) {
        char names[512];
        list_names(oc, names, sizeof names);
        return vkn_status_set(VKN_ERR_FORMAT, "%s: no tensor '%s' in %s (%s reads: %s; the file has: %s)", oc->def->name,
                              name, oc->in_path, oc->def->name, oc->def->inputs, names);
    }
    char sb[128];
    vkn_io_shape_str(ti->ndim, ti->shape, sb, sizeof sb);
    vkn_io_dtype want = vkn_io_dtype_of(dt);
    if (ti->dtype != want)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor '%s' in %s is %s %s, expected %s (%s)", oc->def->name, name,
                              oc->in_path, vkn_io_dtype_name(ti->dtype), sb, vkn_io_dtype_name(want),
                              dt == VKN_I32 ? "int32 ids or labels" : "float32 values");
    int nd = ti->ndim;
    int64_t shape[VKN_MAX_DIMS] = {1, 1, 1, 1};
    if (nd == 0) {
        nd = 1;
    } else {
        if (nd > VKN_MAX_DIMS) nd = VKN_MAX_DIMS + 1;
        for (int i = 0; i < ti->ndim && i < VKN_MAX_DIMS; i++) shape[i] = ti->shape[i];
    }
    if (nd < min_nd || nd > max_nd) {
        if (min_nd == max_nd)
            return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor '%s' in %s has shape %s (%d-D), expected %d-D",
                                  oc->def->name, name, oc->in_path, sb, ti->ndim, min_nd);
        return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor '%s' in %s has shape %s (%d-D), expected %d-D to %d-D",
                              oc->def->name, name, oc->in_path, sb, ti->ndim, min_nd, max_nd);
    }
    if (ti->numel == 0)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor '%s' in %s has shape %s: no elements", oc->def->name, name,
                              oc->in_path, sb);
    VKN_TRY(vkn_tensor_alloc(oc->arena, dt, nd, shape, t));
    void *host = malloc((size_t)ti->nbytes);
    if (!host) return vkn_status_set(VKN_ERR_HOST_OOM, "%s: %llu bytes for tensor '%s'", oc->def->name,
                                     (unsigned long long)ti->nbytes, name);
    vkn_status s = vkn_io_safetensors_read(oc->in, name, want, -1, NULL, host);
    if (s == VKN_OK) s = vkn_tensor_upload(t, host);
    free(host);
    return s;
}

vkn_status oc_expect_shape(op_ctx *oc, const char *name, const vkn_tensor *t, int ndim, const int64_t *shape,
                           const char *why)
{
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (same) return VKN_OK;
    char a[128], b[128];
    return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor '%s' in %s has shape %s, expected %s (%s)", oc->def->name, name,
                          oc->in_path, oc_shape(t, a, sizeof a), vkn_io_shape_str(ndim, shape, b, sizeof b), why);
}

vkn_status oc_expect_numel(op_ctx *oc, const char *name, const vkn_tensor *t, int64_t numel, const char *why)
{
    if (t->numel == numel) return VKN_OK;
    char a[128];
    return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor '%s' in %s has shape %s (%lld elements), expected %lld elements (%s)",
                          oc->def->name, name, oc->in_path, oc_shape(t, a, sizeof a), (long long)t->numel,
                          (long long)numel, why);
}

vkn_status oc_check_ids(op_ctx *oc, const char *name, int64_t limit, const char *why)
{
    const vkn_io_tensor_info *ti = vkn_io_safetensors_lookup(oc->in, name);
    if (!ti) return vkn_status_set(VKN_ERR_FORMAT, "%s: no tensor '%s' in %s", oc->def->name, name, oc->in_path);
    int32_t *h = malloc((size_t)(ti->numel ? ti->numel : 1) * sizeof *h);
    if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "%s: tensor '%s'", oc->def->name, name);
    vkn_status s = vkn_io_safetensors_read(oc->in, name, VKN_IO_I32, -1, NULL, h);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; s == VKN_OK && i < (int64_t)ti->numel; i++)
        if (h[i] < 0 || h[i] >= limit) {
            if (first < 0) first = i;
            bad++;
        }
    if (s == VKN_OK && bad)
        s = vkn_status_set(VKN_ERR_ARG, "%s: tensor '%s' in %s: element %lld is %d, outside the valid range 0..%lld (%s; "
                           "%lld of %lld out of range)", oc->def->name, name, oc->in_path, (long long)first, h[first],
                           (long long)limit - 1, why, (long long)bad, (long long)ti->numel);
    free(h);
    return s;
}

vkn_status oc_output_tensor(op_ctx *oc, const char *name, const vkn_tensor *t, int fndim, const int64_t *fshape)
{
    if (oc->nout >= OP_MAX_OUT) return vkn_status_set(VKN_ERR_ARG, "%s: more than %d outputs", oc->def->name, OP_MAX_OUT);
    for (int i = 0; i < oc->nout; i++)
        if (!strcmp(oc->out[i].name, name))
            return vkn_status_set(VKN_ERR_ARG, "%s: output '%s' registered twice", oc->def->name, name);
    op_out *o = &oc->out[oc->nout++];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->t = *t;
    o->fndim = fndim;
    for (int i = 0; i < fndim && i < VKN_MAX_DIMS; i++) o->fshape[i] = fshape[i];
    return VKN_OK;
}

void oc_output_fshape(op_ctx *oc, const vkn_tensor *t, int fndim, const int64_t *fshape)
{
    for (int i = 0; i < oc->nout; i++)
        if (oc->out[i].t.buffer == t->buffer && oc->out[i].t.offset == t->offset) {
            oc->out[i].fndim = fndim;
            for (int k = 0; k < fndim && k < VKN_MAX_DIMS; k++) oc->out[i].fshape[k] = fshape[k];
        }
}

vkn_status oc_output(op_ctx *oc, const char *name, vkn_dtype dt, int ndim, const int64_t *shape, vkn_tensor *t)
{
    VKN_TRY(vkn_tensor_alloc(oc->arena, dt, ndim, shape, t));
    return oc_output_tensor(oc, name, t, t->ndim, t->shape);
}

vkn_status oc_temp(op_ctx *oc, vkn_dtype dt, int ndim, const int64_t *shape, vkn_tensor *t)
{
    return vkn_tensor_alloc(oc->arena, dt, ndim, shape, t);
}

vkn_status oc_download(op_ctx *oc)
{
    for (int i = 0; i < oc->nout; i++) {
        op_out *o = &oc->out[i];
        o->host = malloc((size_t)o->t.bytes);
        if (!o->host) return vkn_status_set(VKN_ERR_HOST_OOM, "output '%s': %llu bytes", o->name,
                                            (unsigned long long)o->t.bytes);
        VKN_TRY(vkn_tensor_download(&o->t, o->host));
    }
    return VKN_OK;
}

void oc_free(op_ctx *oc)
{
    if (oc->cleanup) oc->cleanup(oc);
    for (int i = 0; i < oc->nout; i++) free(oc->out[i].host);
    oc->nout = 0;
}
