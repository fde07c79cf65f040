/* Example 3: load a vkn-cgan checkpoint and write a PNG of generated samples for chosen classes: one
 * row of 8 samples per class, the same noise in every row (so a column shows one "style" across classes).
 *   cgan_samples CHECKPOINT OUT.png [CLASS...]      classes 0-9, default all ten
 * The checkpoint's metadata names the model (cgan-small or cgan-base) and the generator's and
 * discriminator's normalizations; the model is rebuilt from them and the weights loaded by name.
 * Build: cc cgan_samples.c $(pkg-config --cflags --libs vknorm) -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vkn/vkn.h>

enum { PER_CLASS = 8 };

#define TRY(x) do { if ((x) != VKN_OK) { fprintf(stderr, "%s: %s\n", #x, vkn_status_detail()); return 1; } } while (0)

/* The model and norms a checkpoint was saved with: metadata "model" and "norm_g/norm_d" ("bn/cn"). */
static vkn_status read_config(const char *path, vkn_cgan_config *c)
{
    vkn_io_safetensors *f;
    VKN_TRY(vkn_io_safetensors_open(path, &f));
    const char *model = vkn_io_safetensors_meta_get(f, "model"), *norms = vkn_io_safetensors_meta_get(f, "norm_g/norm_d");
    char g[32] = "", d[32] = "";
    vkn_status s = VKN_OK;
    if (!model || (strcmp(model, "cgan-small") && strcmp(model, "cgan-base")) || !norms ||
        sscanf(norms, "%31[^/]/%31s", g, d) != 2)
        s = vkn_status_set(VKN_ERR_FORMAT, "%s: not a vkn-cgan checkpoint (metadata model=%s, norm_g/norm_d=%s)",
                           path, model ? model : "(none)", norms ? norms : "(none)");
    if (s == VKN_OK) c->base = strcmp(model, "cgan-base") == 0;
    if (s == VKN_OK) s = vkn_norm_kind_from_name(g, &c->norm_g);
    if (s == VKN_OK) s = vkn_norm_kind_from_name(d, &c->norm_d);
    vkn_io_safetensors_close(f);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CHECKPOINT OUT.png [CLASS...]   (classes 0-9, default all)\n", argv[0]);
        return 2;
    }
    int classes[10], nc = 0;
    for (int i = 3; i < argc; i++) {
        char *end;
        long k = strtol(argv[i], &end, 10);
        if (*end || k < 0 || k > 9 || nc == 10) { fprintf(stderr, "bad class '%s' (0-9, at most 10)\n", argv[i]); return 2; }
        classes[nc++] = (int)k;
    }
    for (; argc == 3 && nc < 10; nc++) classes[nc] = nc;

    vkn_cgan_config c = vkn_cgan_defaults();
    TRY(read_config(argv[1], &c));
    c.samples = nc * PER_CLASS;   /* the sampling graph's batch */
    vkn_context *dev;
    vkn_cgan *gan;
    int64_t step;
    TRY(vkn_context_create(NULL, &dev));
    TRY(vkn_cgan_create(dev, &c, &gan));
    TRY(vkn_cgan_load(gan, argv[1], &step));

    /* z ~ N(0, 1) by Box-Muller from a small seeded generator, shared by every row */
    const int n = c.samples, hw = 28 * 28 * c.channels;
    float *z = malloc(sizeof(float) * (size_t)n * c.zdim), *img = malloc(sizeof(float) * (size_t)n * hw);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
    uint64_t s = 42;
    for (int j = 0; j < PER_CLASS * c.zdim; j++) {
        double u[2];
        for (int t = 0; t < 2; t++) s = s * 6364136223846793005ull + 1442695040888963407ull, u[t] = ((s >> 11) + 0.5) * 0x1.0p-53;
        z[j] = (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
    }
    for (int r = 0; r < nc; r++) {
        memcpy(z + (size_t)r * PER_CLASS * c.zdim, z, sizeof(float) * PER_CLASS * c.zdim);
        for (int j = 0; j < PER_CLASS; j++) labels[r * PER_CLASS + j] = classes[r];
    }
    TRY(vkn_cgan_generate(gan, z, labels, img));   /* inference: running statistics */

    /* images in [-1, 1] -> a uint8 dataset -> a PNG grid, PER_CLASS columns */
    vkn_dataset ds;
    TRY(vkn_data_alloc(&ds, "samples", n, c.channels, 28, 28, 10));
    for (int i = 0; i < n * hw; i++) ds.images[i] = (uint8_t)lrintf(fminf(fmaxf((img[i] + 1) * 127.5f, 0), 255));
    for (int i = 0; i < n; i++) ds.labels[i] = (uint8_t)labels[i];
    TRY(vkn_data_png_grid(&ds, argv[2], 0, n, PER_CLASS, 2));
    printf("%s: %d classes x %d samples from %s (%s, G %s, D %s, step %lld)\n", argv[2], nc, PER_CLASS, argv[1],
           vkn_cgan_name(&c), vkn_norm_kind_name(c.norm_g), vkn_norm_kind_name(c.norm_d), (long long)step);

    vkn_data_free(&ds);
    free(labels), free(img), free(z);
    vkn_cgan_destroy(gan);
    vkn_context_destroy(dev);
    return 0;
}
