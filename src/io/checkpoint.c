/* Checkpoints: named host tensors in a safetensors file tagged {"format": "vknorm-checkpoint",
 * "format_version": "2", "model", "step", "crc32:<tensor>" for each tensor} (docs/CHECKPOINTS.md).
 * Loading checks everything first (metadata, shapes, checksums, finite values), reporting the shape
 * problems all at once, and only then fills the caller's memory. */
#include "io/io_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_reserved(const char *k)
{
    return strcmp(k, "format") == 0 || strcmp(k, "format_version") == 0 || strcmp(k, "model") == 0 ||
           strcmp(k, "step") == 0 || strncmp(k, VKN_IO_CHECKSUM_PREFIX, strlen(VKN_IO_CHECKSUM_PREFIX)) == 0;
}

/* "crc32:" + name */
static int checksum_key(char *buf, size_t cap, const char *name)
{
    return snprintf(buf, cap, "%s%s", VKN_IO_CHECKSUM_PREFIX, name) < (int)cap;
}

vkn_status vkn_io_checkpoint_save(const char *path, const char *model, int64_t step,
                                  const vkn_io_entry *entries, int n, const char *const *extra_meta)
{
    if (!path || !model || n < 0 || (n && !entries))
        return vkn_status_set(VKN_ERR_ARG, "checkpoint: save needs a path, a model name and n >= 0 entries");
    if (step < 0 || step > VKN_IO_MAX_STEP)
        return vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: step %lld is outside 0 .. %lld", path, (long long)step,
                              (long long)VKN_IO_MAX_STEP);
    vkn_io_st_builder *b;
    VKN_TRY(vkn_io_safetensors_builder_create(&b));
    vkn_status s = VKN_OK;
    char stepstr[32], ver[16];
    snprintf(stepstr, sizeof stepstr, "%" PRId64, step);
    snprintf(ver, sizeof ver, "%d", VKN_IO_CHECKPOINT_VERSION);
    if ((s = vkn_io_safetensors_add_meta(b, "format", VKN_IO_CHECKPOINT_FORMAT)) != VKN_OK) goto out;
    if ((s = vkn_io_safetensors_add_meta(b, "format_version", ver)) != VKN_OK) goto out;
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
        /* the checksum of the bytes as stored: numel * dtype size, little-endian like the host */
        uint64_t bytes = vkn_io_dtype_size(e->dtype);
        for (int d = 0; d < e->ndim; d++) bytes *= (uint64_t)e->shape[d];
        char key[160], val[16];
        if (!checksum_key(key, sizeof key, e->name)) {
            s = vkn_status_set(VKN_ERR_ARG, "checkpoint: %s: tensor name '%.60s...' is too long (at most %zu bytes)",
                               path, e->name, sizeof key - sizeof VKN_IO_CHECKSUM_PREFIX);
            goto out;
        }
        snprintf(val, sizeof val, "%08" PRIx32, io_crc32(e->data, (size_t)bytes));
        if ((s = vkn_io_safetensors_add_meta(b, key, val)) != VKN_OK) goto out;
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

/* A strict decimal integer (digits only, no sign, no spaces, no leading zeros) in [0, max]; 0 when fine. */
static int parse_count(const char *s, int64_t max, int64_t *out)
{
    if (!s || !s[0] || (s[0] == '0' && s[1])) return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (max - (*p - '0')) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

/* The metadata every checkpoint carries, checked for type, range and consistency with the tensors. */
static vkn_status check_metadata(const vkn_io_safetensors *f, const char *path, int *version, int64_t *step)
{
    const char *fmt = vkn_io_safetensors_meta_get(f, "format");
    if (!fmt || strcmp(fmt, VKN_IO_CHECKPOINT_FORMAT) != 0)
        return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: not a vknorm checkpoint (metadata \"format\" is %s%.60s%s, "
                              "expected \"%s\")", path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "",
                              VKN_IO_CHECKPOINT_FORMAT);
    /* format 1 (before the key existed): flat norm slots, no checksums */
    const char *ver = vkn_io_safetensors_meta_get(f, "format_version");
    int64_t v = 1;
    if (ver && (parse_count(ver, 1000, &v) != 0 || v < 1 || v > VKN_IO_CHECKPOINT_VERSION))
        return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: metadata \"format_version\" is \"%.40s\": this build "
                              "reads versions 1 to %d (a newer vknorm wrote it?)", path, ver, VKN_IO_CHECKPOINT_VERSION);
    *version = (int)v;
    const char *m = vkn_io_safetensors_meta_get(f, "model");
    if (!m || !m[0])
        return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: metadata \"model\" is %s", path, m ? "empty" : "missing");
    const char *st = vkn_io_safetensors_meta_get(f, "step");
    if (!st)
        return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: metadata \"step\" is missing", path);
    if (parse_count(st, VKN_IO_MAX_STEP, step) != 0)
        return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: metadata \"step\" is \"%.40s\": expected a whole number "
                              "0 .. %lld (a damaged checkpoint?)", path, st, (long long)VKN_IO_MAX_STEP);
    /* checksums: from version 2, exactly one per tensor, 8 hex digits */
    size_t np = strlen(VKN_IO_CHECKSUM_PREFIX);
    for (int i = 0; i < vkn_io_safetensors_meta_count(f); i++) {
        const char *k, *val;
        vkn_io_safetensors_meta_at(f, i, &k, &val);
        if (strncmp(k, VKN_IO_CHECKSUM_PREFIX, np) != 0) continue;
        if (!vkn_io_safetensors_lookup(f, k + np))
            return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: metadata \"%.80s\" is the checksum of a tensor the "
                                  "file does not hold", path, k);
        int ok = strlen(val) == 8;
        for (int j = 0; ok && j < 8; j++) ok = isxdigit((unsigned char)val[j]) != 0;
        if (!ok)
            return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: metadata \"%.80s\" is \"%.20s\", not a CRC-32 of 8 hex "
                                  "digits", path, k, val);
    }
    if (*version >= 2)
        for (int i = 0; i < vkn_io_safetensors_count(f); i++) {
            const vkn_io_tensor_info *t = vkn_io_safetensors_at(f, i);
            char key[160];
            if (!checksum_key(key, sizeof key, t->name) || !vkn_io_safetensors_meta_get(f, key))
                return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: tensor '%.80s' has no checksum (metadata \"%s%.80s\")",
                                      path, t->name, VKN_IO_CHECKSUM_PREFIX, t->name);
        }
    return VKN_OK;
}

/* Stream a tensor's bytes through its CRC-32 and, for floats, a finiteness check. scratch: 1 MiB. */
static vkn_status verify_tensor(const vkn_io_safetensors *f, const char *path, const vkn_io_tensor_info *t,
                                const char *crc_hex, unsigned flags, uint8_t *scratch, size_t cap)
{
    uint32_t crc = 0;
    size_t esize = vkn_io_dtype_size(t->dtype);
    int check_finite = !(flags & VKN_IO_ALLOW_NONFINITE) && (t->dtype == VKN_IO_F32 || t->dtype == VKN_IO_F64);
    for (uint64_t off = 0; off < t->nbytes;) {
        size_t n = t->nbytes - off < cap ? (size_t)(t->nbytes - off) : cap;
        VKN_TRY(io_st_read_raw(f, t, off, scratch, n));
        crc = io_crc32_update(crc, scratch, n);
        if (check_finite)
            for (size_t j = 0; j < n; j += esize) {
                double x;
                if (esize == 4) {
                    float v;
                    memcpy(&v, scratch + j, 4);
                    x = v;
                } else {
                    memcpy(&x, scratch + j, 8);
                }
                if (!isfinite(x))
                    return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: tensor '%s' holds %s at element %llu (saved "
                                          "from a diverged run, or damaged)", path, t->name, isnan(x) ? "NaN" : "an infinity",
                                          (unsigned long long)((off + j) / esize));
            }
        off += n;
    }
    if (crc_hex) {
        uint32_t want = (uint32_t)strtoul(crc_hex, NULL, 16);
        if (crc != want)
            return vkn_status_set(VKN_ERR_FORMAT, "checkpoint: %s: tensor '%s' does not match its checksum (CRC-32 "
                                  "stored %08" PRIx32 ", data %08" PRIx32 "): the file is damaged", path, t->name,
                                  want, crc);
    }
    return VKN_OK;
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
    uint8_t *scratch = NULL;
    int version = 0;
    int64_t stepv = 0;
    if ((s = check_metadata(f, path, &version, &stepv)) != VKN_OK) goto out;
    const char *m = vkn_io_safetensors_meta_get(f, "model");
    if (model && strcmp(m, model) != 0) problem(&p, "model is \"%s\", expected \"%s\"", m, model);
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
        if (!same && version == 1 && t->dtype == e->dtype && t->ndim == 1 && e->ndim > 1) {
            /* format 1 stored the norm slots flat: [K * C] for a [K, C] table, same bytes */
            int64_t numel = 1;
            for (int d = 0; d < e->ndim; d++) numel *= e->shape[d];
            same = numel == t->numel;
        }
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
                           "unexpected, %d mismatched tensors)%s%s", path, model ? model : m, p.count,
                           p.count == 1 ? "" : "s", p.missing, p.unexpected, p.mismatched, p.text.p ? p.text.p : "",
                           p.shown < p.count ? "; ..." : "");
        goto out;
    }
    /* every tensor asked for against its checksum (and finite) before any destination is touched */
    const size_t cap = 1u << 20;
    if (!(scratch = malloc(cap))) {
        s = vkn_status_set(VKN_ERR_HOST_OOM, "checkpoint: %s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const vkn_io_tensor_info *t = vkn_io_safetensors_lookup(f, entries[i].name);
        char key[160];
        const char *crc = checksum_key(key, sizeof key, t->name) ? vkn_io_safetensors_meta_get(f, key) : NULL;
        if ((s = verify_tensor(f, path, t, crc, flags, scratch, cap)) != VKN_OK) goto out;
    }
    for (int i = 0; i < n; i++) {
        const vkn_io_entry *e = &entries[i];
        if ((s = vkn_io_safetensors_read(f, e->name, e->dtype, -1, NULL, e->data)) != VKN_OK) goto out;
    }
    if (step) *step = stepv;
out:
    free(scratch);
    free(p.text.p);
    vkn_io_safetensors_close(f);
    return s;
}

vkn_status vkn_io_checkpoint_info(const char *path, int *version, int64_t *step)
{
    vkn_io_safetensors *f;
    VKN_TRY(vkn_io_safetensors_open(path, &f));
    int v = 0;
    int64_t st = 0;
    vkn_status s = check_metadata(f, path, &v, &st);
    vkn_io_safetensors_close(f);
    if (s == VKN_OK && version) *version = v;
    if (s == VKN_OK && step) *step = st;
    return s;
}
