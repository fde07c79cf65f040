/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed, read from memory or disk.
 *
 * Layout: magic 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data. We accept
 * type 0x08 (ubyte) only: images are [n, h, w] (ndims 3) or [n, c, h, w] (ndims 4, c = 1 or 3), labels
 * are [n]. Everything the header claims is checked against the bytes actually present before any
 * large allocation, so a corrupt header gives a message, never a crash or a partial load. */
#include "data/data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_FIX "the file is corrupt or not an IDX file: re-create it, or reinstall its package " \
                "(Fashion-MNIST: sudo apt-get install --reinstall dataset-fashion-mnist)"

/* Deflate cannot expand data by more than ~1032x, so a gzip stream of L bytes decodes to at most
 * this many: a header claiming more is refused before we allocate for it. */
#define GZ_MAX_RATIO 1040ull

/* A byte source: the buffer itself, or the inflated stream of a gzip buffer. */
typedef struct idx_src {
    const uint8_t *buf;
    size_t         len, pos;  /* plain: read position */
    int            gz, gz_end;
    z_stream       z;
    const char    *name;
} idx_src;

static vkn_status src_open(idx_src *s, const uint8_t *buf, size_t len, const char *name)
{
    memset(s, 0, sizeof *s);
    s->buf = buf, s->len = len, s->name = name;
    if (len > VKN_DATA_MAX_BYTES)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: %zu bytes is over the %llu-byte limit (%s)", name, len,
                              (unsigned long long)VKN_DATA_MAX_BYTES, IDX_FIX);
    s->gz = len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    if (s->gz) {
        s->z.next_in = (Bytef *)buf;
        s->z.avail_in = (uInt)len;
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)  /* 16+: expect the gzip wrapper */
            return vkn_status_set(VKN_ERR_HOST_OOM, "idx: %s: zlib could not start (out of memory?)", name);
    }
    return VKN_OK;
}

static void src_close(idx_src *s)
{
    if (s->gz) inflateEnd(&s->z);
    s->gz = 0;
}

/* Read up to n bytes; *got < n means the data ended. Corrupt gzip streams are errors. */
static vkn_status src_read(idx_src *s, uint8_t *dst, size_t n, size_t *got)
{
    if (!s->gz) {
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        memcpy(dst, s->buf + s->pos, k);
        s->pos += k, *got = k;
        return VKN_OK;
    }
    *got = 0;
    while (*got < n && !s->gz_end) {
        size_t want = n - *got;
        s->z.next_out = dst + *got;
        s->z.avail_out = want > (1u << 30) ? (1u << 30) : (uInt)want;
        uInt before = s->z.avail_out;
        int r = inflate(&s->z, Z_NO_FLUSH);
        *got += before - s->z.avail_out;
        if (r == Z_STREAM_END) {
            s->gz_end = 1;
        } else if (r == Z_BUF_ERROR || (r == Z_OK && s->z.avail_in == 0 && s->z.avail_out > 0)) {
            return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: truncated gzip stream (it ends after %zu "
                                  "compressed bytes; %s)", s->name, s->len, IDX_FIX);
        } else if (r != Z_OK) {
            return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: corrupted gzip stream (zlib: %s; %s)", s->name,
                                  s->z.msg ? s->z.msg : "error", IDX_FIX);
        }
    }
    return VKN_OK;
}

/* After the payload the source must be exhausted: extra bytes mean the header lies. For gzip this
 * also runs inflate to the end of the stream, which checks the CRC. */
static vkn_status src_expect_end(idx_src *s)
{
    uint8_t extra[4096];
    size_t got = 0, more = 0;
    VKN_TRY(src_read(s, extra, 64, &got));
    /* gzip: drain the rest first, so a corrupt stream that happens to decode long is reported as the
     * corruption (bad data or CRC) it is, not as a wrong header */
    while (s->gz && got > 0 && !s->gz_end) {
        VKN_TRY(src_read(s, extra, sizeof extra, &more));
        if (more == 0) break;
    }
    if (got > 0)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: more data than the header says (trailing bytes after "
                              "the last item; %s)", s->name, IDX_FIX);
    if (s->gz && s->z.avail_in != 0)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: %u bytes of trailing garbage after the gzip stream (%s)",
                              s->name, s->z.avail_in, IDX_FIX);
    return VKN_OK;
}

/* Read the header: magic and ndims sizes. */
static vkn_status read_header(idx_src *s, int want_ndims_lo, int want_ndims_hi, const char *kind,
                              uint32_t *dims, int *ndims)
{
    uint8_t h[4];
    size_t got;
    VKN_TRY(src_read(s, h, 4, &got));
    if (got < 4)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: truncated: %zu bytes, too short for an IDX header (%s)",
                              s->name, got, IDX_FIX);
    uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (h[0] != 0 || h[1] != 0 || h[3] == 0 || h[3] > 4)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: wrong magic number 0x%08x: not an IDX file (expected "
                              "0x00000803 for images, 0x00000801 for labels; %s)", s->name, magic, IDX_FIX);
    if (h[2] != 0x08)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: magic 0x%08x has data type 0x%02x; only unsigned bytes "
                              "(0x08) are supported (convert the file to ubyte)", s->name, magic, h[2]);
    if (h[3] < want_ndims_lo || h[3] > want_ndims_hi)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: magic 0x%08x has %d dimensions, but %s files have %d%s "
                              "(swapped the image and label files?)", s->name, magic, h[3], kind, want_ndims_lo,
                              want_ndims_hi != want_ndims_lo ? " or 4" : "");
    *ndims = h[3];
    uint8_t d[16];
    VKN_TRY(src_read(s, d, 4u * h[3], &got));
    if (got < 4u * h[3])
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: truncated in the header (%s)", s->name, IDX_FIX);
    for (int i = 0; i < h[3]; i++)
        dims[i] = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 | (uint32_t)d[4 * i + 2] << 8 |
                  d[4 * i + 3];
    return VKN_OK;
}

/* Check the payload the header claims against the limit and the bytes present, then read it. */
static vkn_status read_payload(idx_src *s, uint64_t bytes, const char *what, uint8_t **out)
{
    if (bytes > VKN_DATA_MAX_BYTES)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: header claims %s = %llu bytes, over the %llu-byte limit "
                              "(dimension overflow; %s)", s->name, what, (unsigned long long)bytes,
                              (unsigned long long)VKN_DATA_MAX_BYTES, IDX_FIX);
    if (!s->gz && bytes > s->len - s->pos)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: truncated: header claims %s = %llu bytes but only %zu "
                              "follow the header (%s)", s->name, what, (unsigned long long)bytes,
                              s->len - s->pos, IDX_FIX);
    if (s->gz && bytes > (uint64_t)s->len * GZ_MAX_RATIO)
        return vkn_status_set(VKN_ERR_FORMAT, "idx: %s: truncated: header claims %s = %llu bytes, more than a "
                              "%zu-byte gzip file can hold (%s)", s->name, what, (unsigned long long)bytes,
                              s->len, IDX_FIX);
    uint8_t *p = malloc(bytes ? (size_t)bytes : 1);
    if (!p)
        return vkn_status_set(VKN_ERR_HOST_OOM, "idx: %s: cannot allocate %llu bytes for %s", s->name,
                              (unsigned long long)bytes, what);
    size_t got;
    vkn_status st = src_read(s, p, (size_t)bytes, &got);
    if (st == VKN_OK && got < bytes)
        st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s: truncated: header claims %s = %llu bytes but the data "
                            "ends after %zu (%s)", s->name, what, (unsigned long long)bytes, got, IDX_FIX);
    if (st == VKN_OK) st = src_expect_end(s);
    if (st != VKN_OK) {
        free(p);
        return st;
    }
    *out = p;
    return VKN_OK;
}

vkn_status vkn_data_idx_parse_images(const uint8_t *buf, size_t len, const char *name, uint8_t **images,
                                     int32_t *n, int32_t *c, int32_t *h, int32_t *w)
{
    *images = NULL, *n = *c = *h = *w = 0;
    idx_src s;
    vkn_status st = src_open(&s, buf, len, name);
    uint32_t d[4] = {0};
    int nd = 0;
    if (st == VKN_OK) st = read_header(&s, 3, 4, "image", d, &nd);
    uint32_t N = d[0], C = nd == 4 ? d[1] : 1, H = d[nd - 2 < 0 ? 0 : nd - 2], W = d[nd - 1 < 0 ? 0 : nd - 1];
    if (st == VKN_OK && (N == 0 || N > INT32_MAX))
        st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s: header claims %u images (must be 1 .. 2^31-1; %s)", name,
                            N, IDX_FIX);
    if (st == VKN_OK && (C != 1 && C != 3))
        st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s: header claims %u channels (must be 1 or 3; %s)", name, C,
                            IDX_FIX);
    if (st == VKN_OK && (H == 0 || W == 0 || H > 4096 || W > 4096))
        st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s: header claims %ux%u images (each side must be 1 .. 4096; "
                            "%s)", name, H, W, IDX_FIX);
    if (st == VKN_OK) {
        char what[96];
        snprintf(what, sizeof what, "%u images of %ux%ux%u", N, C, H, W);
        st = read_payload(&s, (uint64_t)N * C * H * W, what, images);
    }
    src_close(&s);
    if (st != VKN_OK) return st;
    *n = (int32_t)N, *c = (int32_t)C, *h = (int32_t)H, *w = (int32_t)W;
    return VKN_OK;
}

vkn_status vkn_data_idx_parse_labels(const uint8_t *buf, size_t len, const char *name, int32_t num_classes,
                                     uint8_t **labels, int32_t *n)
{
    *labels = NULL, *n = 0;
    if (num_classes <= 0 || num_classes > 256)
        return vkn_status_set(VKN_ERR_ARG, "idx: %s: num_classes %d must be 1 .. 256", name, num_classes);
    idx_src s;
    vkn_status st = src_open(&s, buf, len, name);
    uint32_t d[4] = {0};
    int nd = 0;
    if (st == VKN_OK) st = read_header(&s, 1, 1, "label", d, &nd);
    if (st == VKN_OK && (d[0] == 0 || d[0] > INT32_MAX))
        st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s: header claims %u labels (must be 1 .. 2^31-1; %s)", name,
                            d[0], IDX_FIX);
    uint8_t *p = NULL;
    if (st == VKN_OK) {
        char what[64];
        snprintf(what, sizeof what, "%u labels", d[0]);
        st = read_payload(&s, d[0], what, &p);
    }
    src_close(&s);
    if (st != VKN_OK) return st;
    for (uint32_t i = 0; i < d[0]; i++)
        if (p[i] >= num_classes) {
            st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s: label %u of sample %u is out of range 0..%d (expected "
                                "a %d-class label file; if it is one, %s)", name, p[i], i, num_classes - 1,
                                num_classes, IDX_FIX);
            free(p);
            return st;
        }
    *labels = p, *n = (int32_t)d[0];
    return VKN_OK;
}

vkn_status vkn_data_idx_load(vkn_dataset *ds, const char *images_path, const char *labels_path,
                             int32_t num_classes)
{
    memset(ds, 0, sizeof *ds);
    const char *fix = "check the path; for Fashion-MNIST install Debian's dataset-fashion-mnist "
                      "(scripts/install-deps)";
    uint8_t *ib = NULL, *lb = NULL;
    size_t il = 0, ll = 0;
    int32_t n = 0, c = 0, h = 0, w = 0, nl = 0;
    uint8_t *images = NULL, *labels = NULL;
    vkn_status st = vkn_data_read_file(images_path, VKN_DATA_MAX_BYTES, "idx", fix, &ib, &il);
    if (st == VKN_OK) st = vkn_data_idx_parse_images(ib, il, images_path, &images, &n, &c, &h, &w);
    free(ib);
    if (st == VKN_OK) st = vkn_data_read_file(labels_path, VKN_DATA_MAX_BYTES, "idx", fix, &lb, &ll);
    if (st == VKN_OK) st = vkn_data_idx_parse_labels(lb, ll, labels_path, num_classes, &labels, &nl);
    free(lb);
    if (st == VKN_OK && n != nl)
        st = vkn_status_set(VKN_ERR_FORMAT, "idx: %s has %d images but %s has %d labels (pass an image file and "
                            "its own label file)", images_path, n, labels_path, nl);
    if (st != VKN_OK) {
        free(images);
        free(labels);
        return st;
    }
    /* name the dataset after the image file, without folders */
    const char *base = strrchr(images_path, '/');
    snprintf(ds->name, sizeof ds->name, "%s", base ? base + 1 : images_path);
    ds->n = n, ds->c = c, ds->h = h, ds->w = w, ds->num_classes = num_classes;
    ds->images = images, ds->labels = labels;
    return VKN_OK;
}

/* Encode one IDX file in memory (optionally gzip) and write it atomically. */
static vkn_status write_idx(const char *path, const uint32_t *dims, int nd, const uint8_t *data, size_t bytes,
                            int gz)
{
    size_t hlen = 4 + 4 * (size_t)nd, raw_len = hlen + bytes;
    uint8_t *raw = malloc(raw_len);
    if (!raw) return vkn_status_set(VKN_ERR_HOST_OOM, "idx: %s: out of memory", path);
    raw[0] = 0, raw[1] = 0, raw[2] = 0x08, raw[3] = (uint8_t)nd;
    for (int i = 0; i < nd; i++)
        for (int b = 0; b < 4; b++) raw[4 + 4 * i + b] = (uint8_t)(dims[i] >> (24 - 8 * b));
    memcpy(raw + hlen, data, bytes);
    if (!gz) {
        vkn_status st = vkn_io_write_file(path, raw, raw_len, "idx");
        free(raw);
        return st;
    }
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(raw);
        return vkn_status_set(VKN_ERR_HOST_OOM, "idx: %s: zlib could not start", path);
    }
    size_t cap = deflateBound(&z, raw_len) + 64;
    uint8_t *out = malloc(cap);
    vkn_status st = VKN_OK;
    if (!out) {
        st = vkn_status_set(VKN_ERR_HOST_OOM, "idx: %s: out of memory", path);
    } else {
        z.next_in = raw, z.avail_in = (uInt)raw_len;
        z.next_out = out, z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            st = vkn_status_set(VKN_ERR_IO, "idx: %s: gzip compression failed", path);
        else
            st = vkn_io_write_file(path, out, cap - z.avail_out, "idx");
    }
    deflateEnd(&z);
    free(out);
    free(raw);
    return st;
}

vkn_status vkn_data_idx_write(const vkn_dataset *ds, const char *images_path, const char *labels_path, int gz)
{
    if (ds->n <= 0)
        return vkn_status_set(VKN_ERR_ARG, "idx: %s: cannot write an empty dataset", images_path);
    uint32_t d[4];
    int nd;
    if (ds->c == 1) d[0] = ds->n, d[1] = ds->h, d[2] = ds->w, nd = 3;
    else d[0] = ds->n, d[1] = ds->c, d[2] = ds->h, d[3] = ds->w, nd = 4;
    VKN_TRY(write_idx(images_path, d, nd, ds->images, (size_t)ds->n * ds->c * ds->h * ds->w, gz));
    uint32_t dl = (uint32_t)ds->n;
    return write_idx(labels_path, &dl, 1, ds->labels, (size_t)ds->n, gz);
}
