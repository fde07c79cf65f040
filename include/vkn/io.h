/* Files: checkpoints in the safetensors format (atomic writes, fully validated reads) and metric logs
 * (CSV and JSONL side by side).
 *
 * safetensors (the Hugging Face format): 8-byte little-endian header length N, N bytes of UTF-8 JSON
 *   {"__metadata__": {"key": "value", ...}, "name": {"dtype": "F32", "shape": [2, 3],
 *    "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the raw little-endian tensor bytes; offsets count from
 * the start of the data and the tensors cover it exactly, without gaps or overlaps. The writer lays
 * files out byte for byte as the reference implementation does (tensors sorted by dtype, largest
 * first, then by name; compact JSON; "__metadata__" first). The reader accepts what the reference
 * reader accepts (tensors in any order in the header) and refuses everything else with a message
 * naming the file, the tensor and the problem. */
#ifndef VKN_IO_H
#define VKN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "vkn/status.h"
#include "vkn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Atomic file writes: every file vknorm writes (checkpoints, caches, PNGs, summaries) goes through   */
/* these. The bytes go to PATH.tmp-PID-N (unique per writer), which is flushed and fsync'ed, renamed  */
/* over PATH, and then PATH's folder is fsync'ed. On any failure PATH is untouched and the temporary  */
/* file is removed.                                                                                  */

typedef struct vkn_io_atomic vkn_io_atomic;

/* Start writing PATH; what names the writer in messages ("png", "cache", ...). */
vkn_status vkn_io_atomic_open(const char *path, const char *what, vkn_io_atomic **out);
vkn_status vkn_io_atomic_write(vkn_io_atomic *a, const void *data, size_t len);
/* The temporary file as a stdio stream, for fprintf (errors are caught at commit). */
FILE *vkn_io_atomic_file(vkn_io_atomic *a);
/* Flush, fsync, rename over PATH, fsync the folder; frees a (also on failure). */
vkn_status vkn_io_atomic_commit(vkn_io_atomic *a);
/* Remove the temporary file and free a (NULL is fine). */
void vkn_io_atomic_abort(vkn_io_atomic *a);
/* The whole file in one call. */
vkn_status vkn_io_write_file(const char *path, const void *data, size_t len, const char *what);

/* ---------------------------------------------------------------------------------------------- */
/* safetensors                                                                                     */

/* The element types of the format (those with whole-byte elements), in the reference's order. */
typedef enum vkn_io_dtype {
    VKN_IO_BOOL = 0, VKN_IO_U8, VKN_IO_I8, VKN_IO_F8_E5M2, VKN_IO_F8_E4M3, VKN_IO_I16, VKN_IO_U16,
    VKN_IO_F16, VKN_IO_BF16, VKN_IO_I32, VKN_IO_U32, VKN_IO_F32, VKN_IO_C64, VKN_IO_F64, VKN_IO_I64,
    VKN_IO_U64, VKN_IO_DTYPE_COUNT_
} vkn_io_dtype;

/* "F32", "I32", ...; "?" for a value out of range. */
const char *vkn_io_dtype_name(vkn_io_dtype d);
/* Bytes per element (0 for a value out of range). */
size_t vkn_io_dtype_size(vkn_io_dtype d);
/* The file dtype of a device tensor's dtype (VKN_F32 -> VKN_IO_F32, VKN_I32 -> VKN_IO_I32). */
vkn_io_dtype vkn_io_dtype_of(vkn_dtype d);
/* "[2, 3]" (or "[]" for a scalar) into buf, for messages. */
const char *vkn_io_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

/* Limits of what the reader accepts. */
#define VKN_IO_MAX_HEADER (100u * 1000u * 1000u)   /* header bytes, as the reference */
#define VKN_IO_MAX_NDIM 64

/* Writer: collect tensors (borrowed host pointers, which must stay valid until the write) and
 * metadata strings (copied), then write the file atomically or serialize to memory. */
typedef struct vkn_io_st_builder vkn_io_st_builder;

vkn_status vkn_io_safetensors_builder_create(vkn_io_st_builder **out);
void vkn_io_safetensors_builder_destroy(vkn_io_st_builder *b);
/* Names: non-empty UTF-8, unique, not "__metadata__". data holds numel * dtype size bytes (may be
 * NULL when that is 0). ndim 0 is a scalar (one element). */
vkn_status vkn_io_safetensors_add(vkn_io_st_builder *b, const char *name, vkn_io_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data);
/* A metadata string pair; a key given twice keeps the last value. */
vkn_status vkn_io_safetensors_add_meta(vkn_io_st_builder *b, const char *key, const char *value);
/* The whole file into a malloc'ed buffer (free it with free()). */
vkn_status vkn_io_safetensors_serialize(const vkn_io_st_builder *b, uint8_t **buf, size_t *len);
/* Atomic write: a temporary file beside path, written, flushed and fsync'ed, then renamed over path,
 * then the folder fsync'ed. On any failure path is untouched and the temporary file is removed. */
vkn_status vkn_io_safetensors_write(const vkn_io_st_builder *b, const char *path);

/* Reader. */
typedef struct vkn_io_safetensors vkn_io_safetensors;

/* What the header says about one tensor. Pointers stay valid until the file is closed. */
typedef struct vkn_io_tensor_info {
    const char *name;
    vkn_io_dtype dtype;
    int ndim;
    const int64_t *shape;   /* ndim entries */
    int64_t numel;
    uint64_t offset;        /* bytes from the start of the data section */
    uint64_t nbytes;
} vkn_io_tensor_info;

/* Open and validate the whole header against the file's size; tensor data is read on demand. */
vkn_status vkn_io_safetensors_open(const char *path, vkn_io_safetensors **out);
/* The same on a whole file held in memory; buf is borrowed and must outlive the handle. what names
 * the buffer in messages (NULL: "<memory>"). */
vkn_status vkn_io_safetensors_parse(const void *buf, size_t len, const char *what, vkn_io_safetensors **out);
void vkn_io_safetensors_close(vkn_io_safetensors *f);

/* The file's path (or the what given to parse). */
const char *vkn_io_safetensors_path(const vkn_io_safetensors *f);
/* Listing, in data order. */
int vkn_io_safetensors_count(const vkn_io_safetensors *f);
const vkn_io_tensor_info *vkn_io_safetensors_at(const vkn_io_safetensors *f, int i);
/* NULL when there is no tensor of that name (no error recorded). */
const vkn_io_tensor_info *vkn_io_safetensors_lookup(const vkn_io_safetensors *f, const char *name);
/* VKN_ERR_FORMAT naming the file and the tensor when it is absent. */
vkn_status vkn_io_safetensors_find(const vkn_io_safetensors *f, const char *name, vkn_io_tensor_info *info);
/* Copy a tensor's bytes to dst after checking its dtype and shape (ndim < 0: accept any shape).
 * A mismatch is VKN_ERR_SHAPE naming the file, the tensor, and what was expected and found. */
vkn_status vkn_io_safetensors_read(const vkn_io_safetensors *f, const char *name, vkn_io_dtype dtype,
                                   int ndim, const int64_t *shape, void *dst);
/* Metadata: count, i-th pair (in header order), value of a key (NULL when absent). */
int vkn_io_safetensors_meta_count(const vkn_io_safetensors *f);
void vkn_io_safetensors_meta_at(const vkn_io_safetensors *f, int i, const char **key, const char **value);
const char *vkn_io_safetensors_meta_get(const vkn_io_safetensors *f, const char *key);

/* ---------------------------------------------------------------------------------------------- */
/* Checkpoints: safetensors files whose metadata says what they are (docs/CHECKPOINTS.md):
 *   "format": "vknorm-checkpoint", "format_version": "2", "model": the model's name,
 *   "step": a whole number 0 .. VKN_IO_MAX_STEP, "crc32:<tensor>": the CRC-32 (zlib's) of each tensor's
 *   bytes as 8 lowercase hex digits, and the caller's own pairs.
 * Version 1 (no "format_version" key) had no checksums and stored the normalization slots flat
 * ([K * C] for a [K, C] table); it still loads. */

/* One named host tensor, as the graph lists its parameters and state. */
typedef struct vkn_io_entry {
    const char *name;
    vkn_io_dtype dtype;
    int ndim;
    int64_t shape[VKN_MAX_DIMS];
    void *data;   /* host memory: read when saving, filled when loading */
} vkn_io_entry;

#define VKN_IO_CHECKPOINT_FORMAT "vknorm-checkpoint"
#define VKN_IO_CHECKPOINT_VERSION 2
#define VKN_IO_CHECKSUM_PREFIX "crc32:"
/* More steps than any run takes: a larger "step" is a damaged file. */
#define VKN_IO_MAX_STEP INT64_C(1000000000000)

/* extra_meta: NULL or a NULL-terminated list of key, value strings (keys "format", "format_version",
 * "model", "step" and "crc32:..." are reserved). Checksums are computed here. Written atomically. */
vkn_status vkn_io_checkpoint_save(const char *path, const char *model, int64_t step,
                                  const vkn_io_entry *entries, int n, const char *const *extra_meta);

/* Flags of vkn_io_checkpoint_load. */
#define VKN_IO_ALLOW_UNEXPECTED 1u   /* tensors in the file that entries do not name are not an error */
#define VKN_IO_ALLOW_NONFINITE 2u    /* NaN / infinity in F32 / F64 tensors are not an error */

/* Check the file against entries: the metadata (format, version, model unless model is NULL, step,
 * checksums: VKN_ERR_FORMAT naming the key), every tensor's presence, dtype and shape (tensors the
 * caller did not ask for unless VKN_IO_ALLOW_UNEXPECTED: VKN_ERR_SHAPE reporting every problem in one
 * message), then every tensor asked for against its checksum and for non-finite values
 * (VKN_ERR_FORMAT naming the tensor); only when all of that passes, fill each entry's data. step may
 * be NULL. */
vkn_status vkn_io_checkpoint_load(const char *path, const char *model, const vkn_io_entry *entries, int n,
                                  unsigned flags, int64_t *step);
/* The metadata checks of vkn_io_checkpoint_load alone: format version and step (either may be NULL). */
vkn_status vkn_io_checkpoint_info(const char *path, int *version, int64_t *step);

/* ---------------------------------------------------------------------------------------------- */
/* Metric logs: <dir>/<name>.csv and <dir>/<name>.jsonl, one record per call, flushed each time. */

typedef struct vkn_io_metrics vkn_io_metrics;

typedef struct vkn_io_metric {
    const char *key;
    double value;   /* NaN/Inf are written as nan/inf in CSV and null in JSONL */
} vkn_io_metric;

/* Create dir (and parents) if needed. append 0 starts both files afresh; append 1 continues them
 * (the CSV's columns come from its existing header). */
vkn_status vkn_io_metrics_open(const char *dir, const char *name, int append, vkn_io_metrics **out);
/* The first record's keys fix the CSV columns; later records may leave columns out (empty cells)
 * but may not add keys (VKN_ERR_ARG, nothing written). Keys: non-empty, no control characters. */
vkn_status vkn_io_metrics_write(vkn_io_metrics *m, const vkn_io_metric *kv, int n);
/* Closes both files; reports a failed close. NULL is fine. */
vkn_status vkn_io_metrics_close(vkn_io_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
