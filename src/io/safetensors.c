/* safetensors: an in-memory builder with an atomic file writer, and a reader that validates the
 * whole header (against the file's size) before handing out a single tensor. */
#include "io/io_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------- */
/* dtypes                                                                                          */

static const struct { const char *name; size_t size; } dtypes[VKN_IO_DTYPE_COUNT_] = {
    [VKN_IO_BOOL] = { "BOOL", 1 }, [VKN_IO_U8] = { "U8", 1 },     [VKN_IO_I8] = { "I8", 1 },
    [VKN_IO_F8_E5M2] = { "F8_E5M2", 1 }, [VKN_IO_F8_E4M3] = { "F8_E4M3", 1 },
    [VKN_IO_I16] = { "I16", 2 }, [VKN_IO_U16] = { "U16", 2 },   [VKN_IO_F16] = { "F16", 2 },
    [VKN_IO_BF16] = { "BF16", 2 }, [VKN_IO_I32] = { "I32", 4 }, [VKN_IO_U32] = { "U32", 4 },
    [VKN_IO_F32] = { "F32", 4 }, [VKN_IO_C64] = { "C64", 8 },   [VKN_IO_F64] = { "F64", 8 },
    [VKN_IO_I64] = { "I64", 8 }, [VKN_IO_U64] = { "U64", 8 },
};

const char *vkn_io_dtype_name(vkn_io_dtype d)
{
    return (unsigned)d < VKN_IO_DTYPE_COUNT_ ? dtypes[d].name : "?";
}

size_t vkn_io_dtype_size(vkn_io_dtype d)
{
    return (unsigned)d < VKN_IO_DTYPE_COUNT_ ? dtypes[d].size : 0;
}

vkn_io_dtype vkn_io_dtype_of(vkn_dtype d) { return d == VKN_I32 ? VKN_IO_I32 : VKN_IO_F32; }

static int dtype_from_name(const char *s)
{
    for (int i = 0; i < VKN_IO_DTYPE_COUNT_; i++)
        if (strcmp(s, dtypes[i].name) == 0) return i;
    return -1;
}

const char *vkn_io_shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t k = 0;
    if (!len) return buf;
    buf[0] = 0;
    k += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}

/* numel and bytes of a shape, refusing negative sizes and 64-bit overflow. 0 when fine. */
static int shape_bytes(int ndim, const int64_t *shape, size_t esize, int64_t *numel, uint64_t *nbytes)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        uint64_t d = (uint64_t)shape[i];
        if (d && n > (uint64_t)INT64_MAX / d) return -1;
        n *= d;
    }
    if (esize && n > UINT64_MAX / esize) return -1;
    *numel = (int64_t)n;
    *nbytes = n * esize;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* builder and writer                                                                              */

typedef struct st_entry {
    char *name;
    vkn_io_dtype dtype;
    int ndim;
    int64_t *shape;
    const void *data;
    uint64_t nbytes;
} st_entry;

struct vkn_io_st_builder {
    st_entry *t;
    int n, cap;
    char **key, **val;
    int nmeta, metacap;
};

vkn_status vkn_io_safetensors_builder_create(vkn_io_st_builder **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? VKN_OK : vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: cannot allocate a builder");
}

void vkn_io_safetensors_builder_destroy(vkn_io_st_builder *b)
{
    if (!b) return;
    for (int i = 0; i < b->n; i++) free(b->t[i].name), free(b->t[i].shape);
    for (int i = 0; i < b->nmeta; i++) free(b->key[i]), free(b->val[i]);
    free(b->t), free(b->key), free(b->val), free(b);
}

static vkn_status check_text(const char *s, const char *what)
{
    size_t bad;
    if (!s) return vkn_status_set(VKN_ERR_ARG, "safetensors: %s is NULL", what);
    if (!io_utf8_valid(s, strlen(s), &bad))
        return vkn_status_set(VKN_ERR_ARG, "safetensors: %s \"%.100s\" is not valid UTF-8 (byte %zu)", what, s, bad);
    return VKN_OK;
}

vkn_status vkn_io_safetensors_add(vkn_io_st_builder *b, const char *name, vkn_io_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data)
{
    VKN_TRY(check_text(name, "tensor name"));
    if (!name[0]) return vkn_status_set(VKN_ERR_ARG, "safetensors: empty tensor name");
    if (strcmp(name, "__metadata__") == 0)
        return vkn_status_set(VKN_ERR_ARG, "safetensors: \"__metadata__\" is reserved and cannot name a tensor");
    if ((unsigned)dtype >= VKN_IO_DTYPE_COUNT_)
        return vkn_status_set(VKN_ERR_ARG, "safetensors: tensor '%s': unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > VKN_IO_MAX_NDIM || (ndim && !shape))
        return vkn_status_set(VKN_ERR_ARG, "safetensors: tensor '%s': bad rank %d", name, ndim);
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->t[i].name, name) == 0)
            return vkn_status_set(VKN_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    int64_t numel;
    uint64_t nbytes;
    char sb[128];
    if (shape_bytes(ndim, shape, dtypes[dtype].size, &numel, &nbytes) != 0)
        return vkn_status_set(VKN_ERR_ARG, "safetensors: tensor '%s': bad shape %s", name,
                              vkn_io_shape_str(ndim, shape, sb, sizeof sb));
    if (nbytes && !data) return vkn_status_set(VKN_ERR_ARG, "safetensors: tensor '%s': data is NULL", name);
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        st_entry *t = realloc(b->t, (size_t)cap * sizeof *t);
        if (!t) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory adding '%s'", name);
        b->t = t, b->cap = cap;
    }
    st_entry *e = &b->t[b->n];
    e->name = strdup(name);
    e->shape = malloc(((size_t)ndim + 1) * sizeof(int64_t));
    if (!e->name || !e->shape) {
        free(e->name), free(e->shape);
        return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory adding '%s'", name);
    }
    if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof(int64_t));
    e->dtype = dtype, e->ndim = ndim, e->data = data, e->nbytes = nbytes;
    b->n++;
    return VKN_OK;
}

vkn_status vkn_io_safetensors_add_meta(vkn_io_st_builder *b, const char *key, const char *value)
{
    VKN_TRY(check_text(key, "metadata key"));
    VKN_TRY(check_text(value, "metadata value"));
    char *v = strdup(value);
    if (!v) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory adding metadata");
    for (int i = 0; i < b->nmeta; i++)
        if (strcmp(b->key[i], key) == 0) {
            free(b->val[i]);
            b->val[i] = v;
            return VKN_OK;
        }
    if (b->nmeta == b->metacap) {
        int cap = b->metacap ? 2 * b->metacap : 8;
        char **k = realloc(b->key, (size_t)cap * sizeof *k);
        if (k) b->key = k;
        char **vv = k ? realloc(b->val, (size_t)cap * sizeof *vv) : NULL;
        if (!vv) {
            free(v);
            return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory adding metadata");
        }
        b->val = vv, b->metacap = cap;
    }
    b->key[b->nmeta] = strdup(key);
    if (!b->key[b->nmeta]) {
        free(v);
        return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory adding metadata");
    }
    b->val[b->nmeta++] = v;
    return VKN_OK;
}

/* The reference's layout: larger dtypes first (by the enum's order, descending), then by name. */
static int cmp_layout(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The padded header and the order in which the tensors' data follows it. */
static vkn_status build_header(const vkn_io_st_builder *b, io_buf *h, const st_entry ***order_out)
{
    const st_entry **order = malloc(((size_t)b->n + 1) * sizeof *order);
    if (!order) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory");
    for (int i = 0; i < b->n; i++) order[i] = &b->t[i];
    qsort(order, (size_t)b->n, sizeof *order, cmp_layout);
    io_buf_str(h, "{");
    int first = 1;
    if (b->nmeta) {
        io_buf_str(h, "\"__metadata__\":{");
        for (int i = 0; i < b->nmeta; i++) {
            if (i) io_buf_str(h, ",");
            io_buf_json_str(h, b->key[i]);
            io_buf_str(h, ":");
            io_buf_json_str(h, b->val[i]);
        }
        io_buf_str(h, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (int k = 0; k < b->n; k++) {
        const st_entry *e = order[k];
        if (!first) io_buf_str(h, ",");
        first = 0;
        io_buf_json_str(h, e->name);
        io_buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[e->dtype].name);
        for (int i = 0; i < e->ndim; i++) io_buf_printf(h, "%s%lld", i ? "," : "", (long long)e->shape[i]);
        io_buf_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                      (unsigned long long)(off + e->nbytes));
        off += e->nbytes;
    }
    io_buf_str(h, "}");
    while (h->n % 8) io_buf_str(h, " ");
    if (h->oom) {
        free(order);
        return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: out of memory building the header");
    }
    *order_out = order;
    return VKN_OK;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

vkn_status vkn_io_safetensors_serialize(const vkn_io_st_builder *b, uint8_t **buf, size_t *len)
{
    *buf = NULL, *len = 0;
    io_buf h = { 0 };
    const st_entry **order;
    VKN_TRY(build_header(b, &h, &order));
    uint64_t total = 8 + h.n;
    for (int i = 0; i < b->n; i++) total += b->t[i].nbytes;
    uint8_t *p = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
    if (!p) {
        free(h.p), free((void *)order);
        return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: cannot allocate %llu bytes", (unsigned long long)total);
    }
    put_le64(p, h.n);
    memcpy(p + 8, h.p, h.n);
    size_t at = 8 + h.n;
    for (int k = 0; k < b->n; k++) {
        const st_entry *e = order[k];
        if (e->nbytes) memcpy(p + at, e->data, (size_t)e->nbytes);
        at += (size_t)e->nbytes;
    }
    free(h.p), free((void *)order);
    *buf = p, *len = (size_t)total;
    return VKN_OK;
}

vkn_status vkn_io_safetensors_write(const vkn_io_st_builder *b, const char *path)
{
    io_buf h = { 0 };
    const st_entry **order;
    VKN_TRY(build_header(b, &h, &order));
    vkn_io_atomic *a;
    vkn_status s = vkn_io_atomic_open(path, "safetensors", &a);
    if (s == VKN_OK) {
        uint8_t n8[8];
        put_le64(n8, h.n);
        s = vkn_io_atomic_write(a, n8, 8);
        if (s == VKN_OK) s = vkn_io_atomic_write(a, h.p, h.n);
        for (int k = 0; s == VKN_OK && k < b->n; k++) s = vkn_io_atomic_write(a, order[k]->data, (size_t)order[k]->nbytes);
        if (s == VKN_OK) s = vkn_io_atomic_commit(a);
        else vkn_io_atomic_abort(a);
    }
    free(h.p), free((void *)order);
    return s;
}

/* ---------------------------------------------------------------------------------------------- */
/* reader                                                                                          */

struct vkn_io_safetensors {
    char *path;
    int fd;                  /* -1 when reading from memory */
    const uint8_t *mem;      /* the data section, when reading from memory */
    uint64_t data_start;     /* 8 + header length */
    uint64_t data_len;
    vkn_io_tensor_info *t;   /* in data order */
    int n;
    vkn_io_tensor_info **by_name;   /* t sorted by name */
    char **key, **val;
    int nmeta;
};

static vkn_status fmt_err(const vkn_io_safetensors *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static vkn_status fmt_err(const vkn_io_safetensors *f, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vkn_status_set(VKN_ERR_FORMAT, "safetensors: %s: %s (not a valid safetensors file)", f->path, msg);
}

void vkn_io_safetensors_close(vkn_io_safetensors *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    for (int i = 0; i < f->n; i++) free((void *)f->t[i].name), free((void *)f->t[i].shape);
    for (int i = 0; i < f->nmeta; i++) free(f->key[i]), free(f->val[i]);
    free(f->t), free(f->by_name), free(f->key), free(f->val), free(f->path), free(f);
}

static int cmp_offsets(const void *a, const void *b)
{
    const vkn_io_tensor_info *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp((*(const vkn_io_tensor_info *const *)a)->name, (*(const vkn_io_tensor_info *const *)b)->name);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The first key that occurs twice among obj's members, or NULL. */
static const char *duplicate_key(const cJSON *obj, int *oom)
{
    int n = cJSON_GetArraySize(obj);
    *oom = 0;
    if (n < 2) return NULL;
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) {
        *oom = 1;
        return NULL;
    }
    int k = 0;
    for (const cJSON *c = obj->child; c && k < n; c = c->next) names[k++] = c->string ? c->string : "";
    qsort(names, (size_t)k, sizeof *names, cmp_str);
    const char *dup = NULL;
    for (int i = 1; i < k && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
    free(names);
    return dup;
}

/* A JSON number that is a whole number in [0, 2^53]. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0)) return 0;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return 0;
    *out = u;
    return 1;
}

static vkn_status parse_tensor(vkn_io_safetensors *f, const cJSON *j, vkn_io_tensor_info *t)
{
    const char *name = j->string;
    if (!cJSON_IsObject(j)) return fmt_err(f, "tensor '%s': its entry is not a JSON object", name);
    int oom;
    const char *dup = duplicate_key(j, &oom);
    if (oom) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
    if (dup) return fmt_err(f, "tensor '%s': field \"%s\" given twice", name, dup);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!jd || !js || !jo)
        return fmt_err(f, "tensor '%s': missing \"%s\"", name, !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!cJSON_IsString(jd)) return fmt_err(f, "tensor '%s': dtype is not a string", name);
    int dt = dtype_from_name(jd->valuestring);
    if (dt < 0)
        return fmt_err(f, "tensor '%s': unknown dtype \"%.40s\" (known: BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16 "
                          "BF16 I32 U32 F32 C64 F64 I64 U64)", name, jd->valuestring);
    if (!cJSON_IsArray(js)) return fmt_err(f, "tensor '%s': shape is not an array", name);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > VKN_IO_MAX_NDIM) return fmt_err(f, "tensor '%s': %d dimensions (at most %d)", name, ndim, VKN_IO_MAX_NDIM);
    int64_t *shape = malloc(((size_t)ndim + 1) * sizeof *shape);
    if (!shape) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
    t->shape = shape;   /* owned by t from here, freed with the file */
    int i = 0;
    for (const cJSON *c = js->child; c; c = c->next, i++) {
        uint64_t d;
        if (!json_uint(c, &d)) return fmt_err(f, "tensor '%s': shape entry %d is not a non-negative integer", name, i);
        shape[i] = (int64_t)d;
    }
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return fmt_err(f, "tensor '%s': data_offsets is not an array [begin, end]", name);
    uint64_t begin, end;
    if (!json_uint(jo->child, &begin) || !json_uint(jo->child->next, &end))
        return fmt_err(f, "tensor '%s': data_offsets are not non-negative integers", name);
    if (end < begin)
        return fmt_err(f, "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                       (unsigned long long)begin, (unsigned long long)end);
    int64_t numel;
    uint64_t nbytes;
    char sb[160];
    if (shape_bytes(ndim, shape, dtypes[dt].size, &numel, &nbytes) != 0)
        return fmt_err(f, "tensor '%s': shape %s overflows 64 bits", name, vkn_io_shape_str(ndim, shape, sb, sizeof sb));
    if (nbytes != end - begin)
        return fmt_err(f, "tensor '%s': %s %s needs %llu bytes but data_offsets [%llu, %llu] hold %llu", name,
                       dtypes[dt].name, vkn_io_shape_str(ndim, shape, sb, sizeof sb), (unsigned long long)nbytes,
                       (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin));
    if (end > f->data_len)
        return fmt_err(f, "tensor '%s': data_offsets [%llu, %llu] run past the %llu-byte data section (truncated file?)", name,
                       (unsigned long long)begin, (unsigned long long)end, (unsigned long long)f->data_len);
    t->dtype = (vkn_io_dtype)dt;
    t->ndim = ndim;
    t->numel = numel;
    t->offset = begin;
    t->nbytes = nbytes;
    return VKN_OK;
}

static vkn_status parse_metadata(vkn_io_safetensors *f, const cJSON *m)
{
    if (cJSON_IsNull(m)) return VKN_OK;
    if (!cJSON_IsObject(m)) return fmt_err(f, "__metadata__ is not an object of strings");
    int oom;
    const char *dup = duplicate_key(m, &oom);
    if (oom) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
    if (dup) return fmt_err(f, "__metadata__: key \"%s\" given twice", dup);
    int n = cJSON_GetArraySize(m);
    f->key = calloc((size_t)n + 1, sizeof *f->key);
    f->val = calloc((size_t)n + 1, sizeof *f->val);
    if (!f->key || !f->val) return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c)) return fmt_err(f, "__metadata__: value of \"%s\" is not a string", c->string);
        f->key[f->nmeta] = strdup(c->string);
        f->val[f->nmeta] = strdup(c->valuestring);
        f->nmeta++;
        if (!f->key[f->nmeta - 1] || !f->val[f->nmeta - 1])
            return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
    }
    return VKN_OK;
}

/* The offset of a \u0000 escape inside a JSON string of the header, or n when there is none: cJSON
 * decodes it to a NUL byte, which would cut a tensor name (or metadata text) short without a word,
 * so "x\u0000junk" would read as tensor "x". */
static size_t escaped_nul(const char *hdr, size_t n)
{
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_string) {
            in_string = hdr[i] == '"';
        } else if (hdr[i] == '"') {
            in_string = 0;
        } else if (hdr[i] == '\\' && i + 1 < n) {
            if (hdr[i + 1] == 'u' && n - i >= 6 && memcmp(hdr + i + 2, "0000", 4) == 0) return i;
            i++;   /* the escaped character: an escaped quote does not end the string */
        }
    }
    return n;
}

/* Validate the header text (n bytes) against a data section of f->data_len bytes. */
static vkn_status parse_header(vkn_io_safetensors *f, const char *hdr, size_t n)
{
    size_t bad;
    if (n == 0 || hdr[0] != '{') return fmt_err(f, "the JSON header does not start with '{'");
    if (!io_utf8_valid(hdr, n, &bad))
        return fmt_err(f, "the header is not valid UTF-8 text (byte %zu of %zu)", bad, n);
    if ((bad = escaped_nul(hdr, n)) < n)
        return fmt_err(f, "a name or text in the header holds a NUL byte (\\u0000 at byte %zu of %zu: \"%.*s\")", bad, n,
                       (int)(bad < 24 ? bad : 24), hdr + bad - (bad < 24 ? bad : 24));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        size_t at = e && e >= hdr && e <= hdr + n ? (size_t)(e - hdr) : 0;
        return fmt_err(f, "the header is not well-formed JSON (near byte %zu of %zu)", at, n);
    }
    vkn_status s = VKN_OK;
    for (const char *p = end; p < hdr + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = fmt_err(f, "text after the JSON header (byte %zu of %zu)", (size_t)(p - hdr), n);
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        s = fmt_err(f, "the header is not a JSON object");
        goto out;
    }
    int oom;
    const char *dup = duplicate_key(root, &oom);
    if (oom) {
        s = vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
        goto out;
    }
    if (dup) {
        s = fmt_err(f, "the name \"%s\" appears twice in the header", dup);
        goto out;
    }
    int count = cJSON_GetArraySize(root);
    f->t = calloc((size_t)count + 1, sizeof *f->t);
    if (!f->t) {
        s = vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
        goto out;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if ((s = parse_metadata(f, c)) != VKN_OK) goto out;
            continue;
        }
        vkn_io_tensor_info *t = &f->t[f->n++];
        t->name = strdup(c->string);
        if (!t->name) {
            s = vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
            goto out;
        }
        if ((s = parse_tensor(f, c, t)) != VKN_OK) goto out;
    }
    /* the tensors must tile the data section exactly, in offset order */
    qsort(f->t, (size_t)f->n, sizeof *f->t, cmp_offsets);
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        const vkn_io_tensor_info *t = &f->t[i];
        if (t->offset < at) {
            s = fmt_err(f, "tensor '%s' at data_offsets [%llu, %llu] overlaps tensor '%s' (which ends at %llu)", t->name,
                        (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes), f->t[i - 1].name,
                        (unsigned long long)at);
            goto out;
        }
        if (t->offset > at) {
            s = fmt_err(f, "a gap of %llu unused bytes before tensor '%s' (data_offsets [%llu, %llu])",
                        (unsigned long long)(t->offset - at), t->name, (unsigned long long)t->offset,
                        (unsigned long long)(t->offset + t->nbytes));
            goto out;
        }
        at = t->offset + t->nbytes;
    }
    if (at != f->data_len) {
        s = fmt_err(f, "the tensors cover %llu bytes but the data section holds %llu (truncated or padded file?)",
                    (unsigned long long)at, (unsigned long long)f->data_len);
        goto out;
    }
    f->by_name = malloc(((size_t)f->n + 1) * sizeof *f->by_name);
    if (!f->by_name) {
        s = vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", f->path);
        goto out;
    }
    for (int i = 0; i < f->n; i++) f->by_name[i] = &f->t[i];
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_by_name);
out:
    cJSON_Delete(root);
    return s;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Header length n8 against a whole size of len bytes. */
static vkn_status check_lengths(vkn_io_safetensors *f, uint64_t len, uint64_t n)
{
    if (n > VKN_IO_MAX_HEADER)
        return fmt_err(f, "header length %llu is over the %u-byte limit", (unsigned long long)n, VKN_IO_MAX_HEADER);
    if (n > len - 8)
        return fmt_err(f, "header length %llu runs past the end of the %llu-byte file (truncated?)",
                       (unsigned long long)n, (unsigned long long)len);
    f->data_start = 8 + n;
    f->data_len = len - 8 - n;
    return VKN_OK;
}

static vkn_status new_file(const char *path, vkn_io_safetensors **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->path = strdup(path))) {
        free(*out);
        *out = NULL;
        return vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: out of memory", path);
    }
    (*out)->fd = -1;
    return VKN_OK;
}

vkn_status vkn_io_safetensors_parse(const void *buf, size_t len, const char *what, vkn_io_safetensors **out)
{
    vkn_io_safetensors *f;
    *out = NULL;
    VKN_TRY(new_file(what ? what : "<memory>", &f));
    const uint8_t *p = buf;
    vkn_status s;
    if (len < 8) s = fmt_err(f, "%zu bytes, shorter than the 8-byte header length", len);
    else if ((s = check_lengths(f, len, get_le64(p))) == VKN_OK)
        s = parse_header(f, (const char *)p + 8, (size_t)(f->data_start - 8));
    if (s != VKN_OK) {
        vkn_io_safetensors_close(f);
        return s;
    }
    f->mem = p + f->data_start;
    *out = f;
    return VKN_OK;
}

/* pread exactly n bytes at off. */
static int read_at(int fd, void *dst, size_t n, uint64_t off)
{
    uint8_t *d = dst;
    while (n) {
        ssize_t k = pread(fd, d, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return -1;
        }
        d += k, n -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

vkn_status vkn_io_safetensors_open(const char *path, vkn_io_safetensors **out)
{
    vkn_io_safetensors *f;
    *out = NULL;
    VKN_TRY(new_file(path, &f));
    vkn_status s = VKN_OK;
    char *hdr = NULL;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f->fd < 0) {
        s = vkn_status_set(VKN_ERR_IO, "safetensors: %s: cannot open (%s)", path, strerror(errno));
        goto out;
    }
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = vkn_status_set(VKN_ERR_IO, "safetensors: %s: not a regular file", path);
        goto out;
    }
    uint64_t len = (uint64_t)st.st_size;
    uint8_t n8[8];
    if (len < 8) {
        s = fmt_err(f, "%llu bytes, shorter than the 8-byte header length", (unsigned long long)len);
        goto out;
    }
    if (read_at(f->fd, n8, 8, 0) != 0) {
        s = vkn_status_set(VKN_ERR_IO, "safetensors: %s: read failed (%s)", path, strerror(errno));
        goto out;
    }
    if ((s = check_lengths(f, len, get_le64(n8))) != VKN_OK) goto out;
    size_t n = (size_t)(f->data_start - 8);
    hdr = malloc(n + 1);
    if (!hdr) {
        s = vkn_status_set(VKN_ERR_HOST_OOM, "safetensors: %s: cannot allocate %zu header bytes", path, n);
        goto out;
    }
    if (read_at(f->fd, hdr, n, 8) != 0) {
        s = vkn_status_set(VKN_ERR_IO, "safetensors: %s: read failed (%s)", path, strerror(errno));
        goto out;
    }
    s = parse_header(f, hdr, n);
out:
    free(hdr);
    if (s != VKN_OK) {
        vkn_io_safetensors_close(f);
        return s;
    }
    *out = f;
    return VKN_OK;
}

const char *vkn_io_safetensors_path(const vkn_io_safetensors *f) { return f->path; }
int vkn_io_safetensors_count(const vkn_io_safetensors *f) { return f->n; }

const vkn_io_tensor_info *vkn_io_safetensors_at(const vkn_io_safetensors *f, int i)
{
    return i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const vkn_io_tensor_info *vkn_io_safetensors_lookup(const vkn_io_safetensors *f, const char *name)
{
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

vkn_status vkn_io_safetensors_find(const vkn_io_safetensors *f, const char *name, vkn_io_tensor_info *info)
{
    const vkn_io_tensor_info *t = vkn_io_safetensors_lookup(f, name);
    if (!t)
        return vkn_status_set(VKN_ERR_FORMAT, "safetensors: %s: no tensor named '%s' (the file has %d tensors)",
                              f->path, name, f->n);
    *info = *t;
    return VKN_OK;
}

vkn_status vkn_io_safetensors_read(const vkn_io_safetensors *f, const char *name, vkn_io_dtype dtype, int ndim,
                                   const int64_t *shape, void *dst)
{
    vkn_io_tensor_info t;
    VKN_TRY(vkn_io_safetensors_find(f, name, &t));
    int same = t.dtype == dtype;
    if (ndim >= 0) {
        same &= t.ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same &= t.shape[i] == shape[i];
    }
    if (!same) {
        char a[160], b[160];
        return vkn_status_set(VKN_ERR_SHAPE, "safetensors: %s: tensor '%s': expected %s %s, found %s %s", f->path, name,
                              vkn_io_dtype_name(dtype), ndim >= 0 ? vkn_io_shape_str(ndim, shape, a, sizeof a) : "[any]",
                              vkn_io_dtype_name(t.dtype), vkn_io_shape_str(t.ndim, t.shape, b, sizeof b));
    }
    if (!t.nbytes) return VKN_OK;
    if (f->fd < 0) {
        memcpy(dst, f->mem + t.offset, (size_t)t.nbytes);
        return VKN_OK;
    }
    if (read_at(f->fd, dst, (size_t)t.nbytes, f->data_start + t.offset) != 0)
        return vkn_status_set(VKN_ERR_IO, "safetensors: %s: tensor '%s': read failed (%s) (file changed while open?)",
                              f->path, name, strerror(errno));
    return VKN_OK;
}

vkn_status io_st_read_raw(const vkn_io_safetensors *f, const vkn_io_tensor_info *t, uint64_t off, void *dst, size_t n)
{
    if (off > t->nbytes || n > t->nbytes - off)
        return vkn_status_set(VKN_ERR_ARG, "safetensors: %s: tensor '%s': bytes [%llu, %llu) are outside its %llu",
                              f->path, t->name, (unsigned long long)off, (unsigned long long)(off + n),
                              (unsigned long long)t->nbytes);
    if (!n) return VKN_OK;
    if (f->fd < 0) {
        memcpy(dst, f->mem + t->offset + off, n);
        return VKN_OK;
    }
    if (read_at(f->fd, dst, n, f->data_start + t->offset + off) != 0)
        return vkn_status_set(VKN_ERR_IO, "safetensors: %s: tensor '%s': read failed (%s) (file changed while open?)",
                              f->path, t->name, strerror(errno));
    return VKN_OK;
}

int vkn_io_safetensors_meta_count(const vkn_io_safetensors *f) { return f->nmeta; }

void vkn_io_safetensors_meta_at(const vkn_io_safetensors *f, int i, const char **key, const char **value)
{
    int ok = i >= 0 && i < f->nmeta;
    if (key) *key = ok ? f->key[i] : NULL;
    if (value) *value = ok ? f->val[i] : NULL;
}

const char *vkn_io_safetensors_meta_get(const vkn_io_safetensors *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->key[i], key) == 0) return f->val[i];
    return NULL;
}
