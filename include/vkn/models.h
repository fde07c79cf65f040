/* Ready-made models: the conditional GANs of the demo and the benchmark (28x28 images).
 *
 * cgan-small  G: concat(z[64], onehot(y)[10]) -> linear -> 64x7x7 -> norm -> ReLU -> convT(64->32, k4 s2 p1)
 *                -> norm -> ReLU -> convT(32->C, k4 s2 p1) -> tanh
 *             D: conv(C->32, k4 s2 p1) -> LeakyReLU(0.2) -> conv(32->64, k4 s2 p1) -> norm -> LeakyReLU(0.2)
 *                -> flatten -> linear(3136->1) + <embedding(y), features>  (projection discriminator)
 * cgan-base   the same with G widths 128/64 and D widths 64/128.
 * Weights N(0, 0.02); Adam(lr, 0.5, 0.999). One step = a discriminator update on a real and a fake batch,
 * then a generator update; noise and fake labels are drawn on the device. */
#ifndef VKN_MODELS_H
#define VKN_MODELS_H

#include "vkn/dist.h"
#include "vkn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkn_gan_loss { VKN_GAN_LOSS_BCE = 0 /* non-saturating */, VKN_GAN_LOSS_HINGE } vkn_gan_loss;

typedef struct vkn_cgan_config {
    int base;                  /* 0: cgan-small, 1: cgan-base */
    int batch;                 /* 64 */
    int zdim;                  /* 64 */
    int classes;               /* 10 */
    int channels;              /* image channels, 1 */
    vkn_norm_kind norm_g;      /* generator's norm (contexts = the class labels where the kind uses them) */
    vkn_norm_kind norm_d;      /* discriminator's norm */
    int components;            /* K of acn / mn (3) */
    vkn_gan_loss loss;
    float lr_g, lr_d, beta1, beta2;
    int samples;               /* batch of the sampling graph (a grid: rows x classes), 100 */
    uint64_t seed;
    /* NULL: one process. Else data-parallel over the ranks of dist (docs/DIST.md): batch is this
     * rank's part, the D and G steps average their gradients over the ranks before Adam, rank 0's
     * initial parameters are broadcast at create, and each rank draws its own noise and fake labels
     * (the seed of the device RNG mixed with the rank). Normalization statistics stay per rank. */
    vkn_dist *dist;
} vkn_cgan_config;

/* The benchmark's settings: cgan-small, batch 64, BN in G and D, BCE, Adam(2e-4, 0.5, 0.999). */
vkn_cgan_config vkn_cgan_defaults(void);
const char *vkn_cgan_name(const vkn_cgan_config *c);

typedef struct vkn_cgan vkn_cgan;

typedef struct vkn_cgan_stats {
    float loss_d, loss_g;
    float d_real, d_fake;      /* mean D output probability on the real and the fake batch */
} vkn_cgan_stats;

vkn_status vkn_cgan_create(vkn_context *ctx, const vkn_cgan_config *c, vkn_cgan **out);
void vkn_cgan_destroy(vkn_cgan *m);
/* Host pointers of the next real batch: images [batch, C, 28, 28] in [-1, 1], labels [batch]. */
float *vkn_cgan_real_images(vkn_cgan *m);
int32_t *vkn_cgan_real_labels(vkn_cgan *m);
/* One training step (step counts from 0: it seeds the device RNG and Adam's t). */
vkn_status vkn_cgan_step(vkn_cgan *m, int64_t step, vkn_cgan_stats *out);
/* Generate: z [samples, zdim] and labels [samples] (samples = config.samples) -> images
 * [samples, C, 28, 28]. train_stats: 0 = inference with running statistics, 1 = batch statistics. */
vkn_status vkn_cgan_generate(vkn_cgan *m, const float *z, const int32_t *labels, float *images);
/* Class interpolation with fixed noise (inference mode, like generate): sample i is conditioned on
 * (1 - t[i]) * class a[i] + t[i] * class b[i]: the one-hot input is blended, and normalization layers
 * that take the class as their context (cbn, cn, cnx) blend their outputs for the two classes.
 * z [samples, zdim], a, b, t [samples]. The graph is built on the first call. */
vkn_status vkn_cgan_interpolate(vkn_cgan *m, const float *z, const int32_t *a, const int32_t *b, const float *t,
                                float *images);
vkn_params *vkn_cgan_params(vkn_cgan *m);
/* The generator's normalization layers ("g.norm1", "g.norm2") for diagnostics (NULL if none). */
vkn_norm *vkn_cgan_norm(vkn_cgan *m, int layer);
vkn_status vkn_cgan_save(vkn_cgan *m, const char *path, int64_t step);
/* The same with more metadata: NULL or a NULL-terminated key, value, ... list (at most 128 pairs; the
 * keys "format", "model", "step" and "norm_g/norm_d" are the checkpoint's own). */
vkn_status vkn_cgan_save_meta(vkn_cgan *m, const char *path, int64_t step, const char *const *extra_meta);
vkn_status vkn_cgan_load(vkn_cgan *m, const char *path, int64_t *step);
/* Per graph (0: D step, 1: G step, 2: generate): dispatches, barriers, memory. */
vkn_graph_report vkn_cgan_report(const vkn_cgan *m, int graph);

#ifdef __cplusplus
}
#endif
#endif
