/* Shared inside src/io: a growable text buffer, path helpers, and the failure-injection hook that the
 * tests use to check that a failed write leaves the previous file untouched. */
#ifndef VKN_IO_INTERNAL_H
#define VKN_IO_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "vkn/io.h"

/* Where vkn_io_safetensors_write pretends to fail (tests only; 0 in normal use). */
enum {
    VKN_IO_FAIL_NONE = 0,
    VKN_IO_FAIL_CREATE,   /* creating the temporary file */
    VKN_IO_FAIL_WRITE,    /* writing the data (as if the disk were full) */
    VKN_IO_FAIL_FSYNC,    /* fsync of the temporary file */
    VKN_IO_FAIL_RENAME,   /* renaming it over the target */
};
extern int vkn_io_fail_point;

/* Growable NUL-terminated text; on allocation failure oom is set and appends become no-ops. */
typedef struct io_buf {
    char *p;
    size_t n, cap;
    int oom;
} io_buf;

void io_buf_add(io_buf *b, const void *s, size_t n);
void io_buf_str(io_buf *b, const char *s);
void io_buf_printf(io_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as a JSON string literal, escaped exactly as serde_json does. */
void io_buf_json_str(io_buf *b, const char *s);
/* Shortest decimal that reads back as the same double ("nan"/"inf"/"-inf" for non-finite). */
void io_fmt_double(char *out, size_t cap, double v);
/* 1 when s (n bytes) is valid UTF-8 without NUL bytes; else 0 and *bad = offset of the first bad byte. */
int io_utf8_valid(const char *s, size_t n, size_t *bad);
/* CRC-32 (zlib's, the ISO-HDLC / PNG / gzip polynomial) of n bytes, and continued from crc. */
uint32_t io_crc32_update(uint32_t crc, const void *data, size_t n);
static inline uint32_t io_crc32(const void *data, size_t n) { return io_crc32_update(0, data, n); }
/* n bytes of tensor t starting off bytes into it (off + n <= t->nbytes). */
vkn_status io_st_read_raw(const vkn_io_safetensors *f, const vkn_io_tensor_info *t, uint64_t off, void *dst, size_t n);
/* mkdir -p. */
vkn_status io_mkdirs(const char *dir, const char *what);

#endif
