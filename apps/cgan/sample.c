/* vkn-cgan sample: generate from a trained checkpoint (issue 19).
 *
 *   vkn-cgan sample --ckpt PATH [--class K|all] [--per-class N] [--seed S] [--truncation T] --out FILE
 *
 * Sample j of every class uses the same noise vector z_j (a function of the seed and j only), so a
 * column of the grid shows one z through all classes, and --class K gives exactly the images of class
 * K that --class all gives. Images are in class order: class k's N samples at k*N .. k*N + N-1 (for
 * --class K only that class). The model (cgan-small/base, G's and D's norms) and the dataset come from
 * the checkpoint's metadata; both checkpoint formats load (vkn_cgan_load). Inference uses the running
 * statistics, so a sample does not depend on the others of its batch. */
#include "cgan_app.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PER_CLASS 10000

static void usage(FILE *f)
{
    fprintf(f, "usage: vkn-cgan sample --ckpt PATH [--class K|all] [--per-class N] [--seed S] [--truncation T] --out FILE\n"
               "Generates images from a vkn-cgan checkpoint (ckpt.safetensors of a run folder; format 1 or 2).\n"
               "  --ckpt PATH        the checkpoint; the model and its norms come from its metadata\n"
               "  --class K|all      one class (0-9, or its name, e.g. Sneaker) or all ten (default all)\n"
               "  --per-class N      samples per class, 1..%d (default 10)\n"
               "  --seed S           seed of the noise (default 1): the same seed gives the same bytes\n"
               "  --truncation T     draw each noise component from N(0, 1) truncated to [-T, T] (T > 0;\n"
               "                     default: no truncation); smaller T trades variety for typical samples\n"
               "  --data fashion|mnist  class names for the PNG (default: the run's, from the checkpoint)\n"
               "  --out FILE         by its extension: .png a grid (rows: noise vectors, columns: classes);\n"
               "                     .safetensors \"images\" F32 [N, 28, 28] in [-1, 1] and \"labels\" I32 [N];\n"
               "                     .idx (or .idx3-ubyte) IDX unsigned bytes [N, 28, 28] (0 black .. 255 white),\n"
               "                     with the labels in FILE-labels.idx1-ubyte next to it\n",
            MAX_PER_CLASS);
}

static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vkn-cgan sample: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (vkn-cgan sample --help lists the options)\n");
    va_end(ap);
    return 2;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

enum { OUT_PNG, OUT_ST, OUT_IDX };

/* splitmix64 + Box-Muller: noise component i of sample j, independent of batching */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return ((splitmix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static void noise(uint64_t seed, int j, int zdim, float trunc, float *z)
{
    uint64_t s = seed * 0x2545f4914f6cdd1dULL + (uint64_t)j * 0x9e3779b97f4a7c15ULL + 1;
    for (int i = 0; i < zdim; i++) {
        double v;
        do v = sqrt(-2.0 * log(uniform(&s))) * cos(6.283185307179586 * uniform(&s));
        while (trunc > 0 && fabs(v) > trunc); /* rejection: the truncated normal exactly */
        z[i] = (float)v;
    }
}

static vkn_status write_idx(const char *path, const float *img, const int32_t *labels, int n)
{
    /* IDX: big-endian magic 0x00000803 (unsigned byte, 3 dims), then the dims, then the bytes */
    size_t len = 16 + (size_t)n * CG_PIX;
    uint8_t *b = malloc(len);
    if (!b) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan sample: %s", path);
    uint32_t hdr[4] = {0x00000803u, (uint32_t)n, CG_IMG, CG_IMG};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++) b[i * 4 + k] = (uint8_t)(hdr[i] >> (24 - 8 * k));
    for (size_t i = 0; i < (size_t)n * CG_PIX; i++) {
        float f = (img[i] + 1.f) * 127.5f;
        b[16 + i] = !(f > 0.f) ? 0 : f >= 255.f ? 255 : (uint8_t)(f + 0.5f);
    }
    vkn_status s = vkn_io_write_file(path, b, len, "IDX images");
    free(b);
    if (s != VKN_OK) return s;
    char lp[1100];
    size_t stem = strlen(path) - (ends_with(path, ".idx") ? 4 : strlen(".idx3-ubyte"));
    snprintf(lp, sizeof lp, "%.*s-labels.idx1-ubyte", (int)stem, path);
    uint8_t *l = malloc(8 + (size_t)n);
    if (!l) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan sample: %s", lp);
    uint32_t lh[2] = {0x00000801u, (uint32_t)n};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) l[i * 4 + k] = (uint8_t)(lh[i] >> (24 - 8 * k));
    for (int i = 0; i < n; i++) l[8 + i] = (uint8_t)labels[i];
    s = vkn_io_write_file(lp, l, 8 + (size_t)n, "IDX labels");
    free(l);
    return s;
}

static vkn_status write_png(const char *path, const float *img, int nclass, int first, int per, const char *const *names,
                            const char *title)
{
    /* rows: the noise vectors, columns: the classes; about 56 px per image up to a 2048 px canvas */
    int cols = nclass, rows = per;
    int cell = 64;
    while (cell > 30 && (cols * cell > 2000 || rows * cell > 2000)) cell -= 2;
    int w = cols * cell + 80, h = rows * cell + 70;
    if (w < 360) w = 360;
    if (w > 4096 || h > 4096)
        return vkn_status_set(VKN_ERR_ARG, "vkn-cgan sample: %s: a grid of %d x %d images is too large for a PNG; use .safetensors or .idx",
                              path, rows, cols);
    float *grid = malloc(sizeof(float) * (size_t)rows * cols * CG_PIX);
    const char **rl = calloc((size_t)rows, sizeof *rl);
    char (*rb)[12] = calloc((size_t)rows, sizeof *rb);
    vkn_canvas c;
    vkn_ui ui;
    vkn_status s = VKN_OK;
    if (!grid || !rl || !rb) s = vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan sample: %s", path);
    for (int r = 0; s == VKN_OK && r < rows; r++) {
        snprintf(rb[r], sizeof rb[r], "z%d", r + 1);
        rl[r] = rb[r];
        for (int k = 0; k < cols; k++) memcpy(grid + ((size_t)r * cols + k) * CG_PIX, img + ((size_t)k * per + r) * CG_PIX, sizeof(float) * CG_PIX);
    }
    if (s == VKN_OK && (s = vkn_canvas_init(&c, w, h)) == VKN_OK) {
        if ((s = vkn_ui_init(&ui, &c)) == VKN_OK) {
            vkn_canvas_clear(&c, VKN_COL_BG);
            vkn_canvas_text(&c, ui.bold, 15.f, 12, 10, VKN_ALIGN_LEFT | VKN_ALIGN_TOP, VKN_COL_TEXT, title);
            vkn_grid g = {grid, rows * cols, 1, CG_IMG, CG_IMG, rows, cols, NULL, NULL, names + first, rl, -1, true};
            vkn_ui_grid(&ui, (vkn_rect){8, 34, w - 16, h - 42}, &g);
            s = vkn_canvas_write_png(&c, path);
            vkn_ui_free(&ui);
        }
        vkn_canvas_free(&c);
    }
    free(grid), free(rl), free(rb);
    return s;
}

static vkn_status run(const char *ckpt, int cls, int per, uint64_t seed, float trunc, const char *data, const char *out,
                      int kind)
{
    /* what the checkpoint holds: the model and the norms */
    vkn_io_safetensors *f;
    VKN_TRY(vkn_io_safetensors_open(ckpt, &f));
    const char *model = vkn_io_safetensors_meta_get(f, "model"), *norms = vkn_io_safetensors_meta_get(f, "norm_g/norm_d");
    const char *rd = vkn_io_safetensors_meta_get(f, "option:data");
    vkn_cgan_config cfg = vkn_cgan_defaults();
    char ng[32] = "", nd[32] = "";
    vkn_status s = VKN_OK;
    if (!model || (strcmp(model, "cgan-small") && strcmp(model, "cgan-base")))
        s = vkn_status_set(VKN_ERR_FORMAT, "vkn-cgan sample: %s: not a vkn-cgan checkpoint (metadata \"model\" is %s%s%s)", ckpt,
                           model ? "\"" : "", model ? model : "absent", model ? "\"" : "");
    else if (!norms || sscanf(norms, "%31[^/]/%31s", ng, nd) != 2 || vkn_norm_kind_from_name(ng, &cfg.norm_g) != VKN_OK ||
             vkn_norm_kind_from_name(nd, &cfg.norm_d) != VKN_OK)
        s = vkn_status_set(VKN_ERR_FORMAT, "vkn-cgan sample: %s: metadata \"norm_g/norm_d\" is %s (want e.g. \"cn/bn\")", ckpt,
                           norms ? norms : "absent");
    cfg.base = model && !strcmp(model, "cgan-base");
    if (!data) data = rd && !strcmp(rd, "mnist") ? "mnist" : "fashion";
    vkn_io_safetensors_close(f);
    if (s != VKN_OK) return s;
    cfg.samples = CG_GRID;
    cfg.batch = 8; /* the training graphs are built but not run */

    int first = cls < 0 ? 0 : cls, nclass = cls < 0 ? CG_CLASSES : 1;
    int n = nclass * per;
    float *img = malloc(sizeof(float) * (size_t)n * CG_PIX);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
    float *z = malloc(sizeof(float) * (size_t)CG_GRID * cfg.zdim), *out_b = malloc(sizeof(float) * (size_t)CG_GRID * CG_PIX);
    int32_t yb[CG_GRID];
    vkn_context *ctx = NULL;
    vkn_cgan *m = NULL;
    int64_t step = 0;
    if (!img || !labels || !z || !out_b) s = vkn_status_set(VKN_ERR_HOST_OOM, "vkn-cgan sample: %d images", n);
    if (s == VKN_OK) s = vkn_context_create(NULL, &ctx);
    if (s == VKN_OK) s = vkn_cgan_create(ctx, &cfg, &m);
    if (s == VKN_OK && (s = vkn_cgan_load(m, ckpt, &step)) != VKN_OK)
        s = vkn_status_set(s, "vkn-cgan sample: %s", vkn_status_detail());
    /* batches of the sampling graph's 100; the tail is padded with repeats and dropped */
    for (int i0 = 0; s == VKN_OK && i0 < n; i0 += CG_GRID) {
        for (int b = 0; b < CG_GRID; b++) {
            int i = i0 + b < n ? i0 + b : n - 1;
            int k = first + i / per, j = i % per;
            noise(seed, j, cfg.zdim, trunc, z + (size_t)b * cfg.zdim);
            yb[b] = k;
            labels[i] = k;
        }
        s = vkn_cgan_generate(m, z, yb, out_b);
        int cnt = n - i0 < CG_GRID ? n - i0 : CG_GRID;
        if (s == VKN_OK) memcpy(img + (size_t)i0 * CG_PIX, out_b, sizeof(float) * (size_t)cnt * CG_PIX);
    }
    if (s == VKN_OK) {
        if (kind == OUT_ST) {
            int64_t ish[3] = {n, CG_IMG, CG_IMG}, lsh[1] = {n};
            vkn_io_st_builder *b;
            char sv[32], tv[32], st[32];
            snprintf(sv, sizeof sv, "%llu", (unsigned long long)seed);
            snprintf(tv, sizeof tv, "%g", trunc > 0 ? (double)trunc : 0.0);
            snprintf(st, sizeof st, "%lld", (long long)step);
            if ((s = vkn_io_safetensors_builder_create(&b)) == VKN_OK) {
                if (s == VKN_OK) s = vkn_io_safetensors_add(b, "images", VKN_IO_F32, 3, ish, img);
                if (s == VKN_OK) s = vkn_io_safetensors_add(b, "labels", VKN_IO_I32, 1, lsh, labels);
                if (s == VKN_OK) s = vkn_io_safetensors_add_meta(b, "source", ckpt);
                if (s == VKN_OK) s = vkn_io_safetensors_add_meta(b, "step", st);
                if (s == VKN_OK) s = vkn_io_safetensors_add_meta(b, "seed", sv);
                if (s == VKN_OK) s = vkn_io_safetensors_add_meta(b, "truncation", tv);
                if (s == VKN_OK) s = vkn_io_safetensors_write(b, out);
                vkn_io_safetensors_builder_destroy(b);
            }
        } else if (kind == OUT_IDX) s = write_idx(out, img, labels, n);
        else {
            char title[300];
            snprintf(title, sizeof title, "%s \xc2\xb7 G %s \xc2\xb7 step %lld \xc2\xb7 seed %llu%s", cfg.base ? "cgan-base" : "cgan-small",
                     ng, (long long)step, (unsigned long long)seed, trunc > 0 ? " \xc2\xb7 truncated" : "");
            s = write_png(out, img, nclass, first, per, cg_class_names(data), title);
        }
    }
    if (s == VKN_OK)
        fprintf(stderr, "vkn-cgan sample: %d image%s (%s, step %lld) -> %s\n", n, n == 1 ? "" : "s", cls < 0 ? "all classes" : cg_class_names(data)[cls],
                (long long)step, out);
    vkn_cgan_destroy(m);
    vkn_context_destroy(ctx);
    free(img), free(labels), free(z), free(out_b);
    return s;
}

int cg_sample_main(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *cls_s = "all", *data = NULL;
    long per = 10;
    unsigned long long seed = 1;
    double trunc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        static const char *const with_value[] = {"--ckpt", "--class", "--per-class", "--seed", "--truncation", "--out", "--data", NULL};
        bool known = false;
        for (int k = 0; with_value[k]; k++) known |= !strcmp(a, with_value[k]);
        if (!known) return bad("unknown option '%s'", a);
        if (i + 1 >= argc) return bad("%s needs a value", a);
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (!strcmp(a, "--ckpt")) ckpt = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--class")) cls_s = v;
        else if (!strcmp(a, "--data")) {
            if (strcmp(v, "fashion") && strcmp(v, "mnist")) return bad("--data: unknown dataset '%s'; valid: fashion, mnist", v);
            data = v;
        } else if (!strcmp(a, "--per-class")) {
            per = strtol(v, &end, 10);
            if (errno || end == v || *end || per < 1 || per > MAX_PER_CLASS)
                return bad("--per-class: '%s' is not a whole number in 1..%d", v, MAX_PER_CLASS);
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-') return bad("--seed: '%s' is not a whole number >= 0", v);
        } else if (!strcmp(a, "--truncation")) {
            trunc = strtod(v, &end);
            if (errno || end == v || *end || !(trunc >= 0.05) || !(trunc <= 100))
                return bad("--truncation: '%s' is not a number in 0.05..100", v);
        }
    }
    if (!ckpt) return bad("--ckpt PATH is required");
    if (!out) return bad("--out FILE is required");
    int kind = ends_with(out, ".png") ? OUT_PNG : ends_with(out, ".safetensors") ? OUT_ST
             : ends_with(out, ".idx") || ends_with(out, ".idx3-ubyte") ? OUT_IDX : -1;
    if (kind < 0) return bad("--out: '%s' has no known extension; valid: .png, .safetensors, .idx, .idx3-ubyte", out);
    int cls = -1;
    if (strcmp(cls_s, "all")) {
        char *end;
        long k = strtol(cls_s, &end, 10);
        if (end != cls_s && !*end && k >= 0 && k < CG_CLASSES) cls = (int)k;
        for (int d = 0; cls < 0 && d < 2; d++)
            for (int j = 0; j < CG_CLASSES; j++)
                if (!strcasecmp(cls_s, cg_class_names(d ? "mnist" : "fashion")[j])) cls = j;
        if (cls < 0) return bad("--class: '%s' is not 0..9, a class name or all", cls_s);
    }
    if (kind == OUT_PNG && per > 100) return bad("--per-class %ld: a PNG grid holds at most 100 per class; use .safetensors or .idx", per);
    if (run(ckpt, cls, (int)per, seed, (float)trunc, data, out, kind) != VKN_OK) {
        fprintf(stderr, "vkn-cgan sample: %s\n", vkn_status_detail());
        return 1;
    }
    return 0;
}
