/* The conditional GANs of models.h: three graphs over one parameter store. The discriminator step
 * and the generator step each record once and replay every step; the sampling graph runs the
 * generator alone in inference mode. */
#include "nn/nn_internal.h"
#include "vkn/models.h"
#include "vkn/step.h"

#include <math.h>

struct vkn_cgan {
    vkn_cgan_config c;
    char name[32];
    vkn_params *p;
    vkn_graph *gd, *gg, *gs;           /* D step, G step, sampling */
    vkn_val real, real_y, loss_d, loss_g, d_real_logit, d_fake_logit;
    vkn_val s_z, s_y, s_img;
    vkn_graph *gi;                     /* class interpolation (built on first use) */
    vkn_val i_z, i_a, i_b, i_t, i_img;
};

vkn_cgan_config vkn_cgan_defaults(void)
{
    vkn_cgan_config c = {.base = 0, .batch = 64, .zdim = 64, .classes = 10, .channels = 1, .norm_g = VKN_NORM_BN,
                         .norm_d = VKN_NORM_BN, .components = 3, .loss = VKN_GAN_LOSS_BCE, .lr_g = 2e-4f,
                         .lr_d = 2e-4f, .beta1 = 0.5f, .beta2 = 0.999f, .samples = 100, .seed = 1};
    return c;
}

const char *vkn_cgan_name(const vkn_cgan_config *c) { return c->base ? "cgan-base" : "cgan-small"; }

static vkn_norm_opts norm_opts(const vkn_cgan_config *c, vkn_norm_kind kind, int channels)
{
    vkn_norm_opts o = vkn_norm_opts_default(kind, channels);
    if (kind == VKN_NORM_GN) o.groups = channels >= 32 ? 8 : channels >= 8 ? 4 : 1;
    o.contexts = c->classes;
    o.components = c->components;
    return o;
}

/* A normalization layer of G; with a second class y2 (VKN_NONE: none) and a blend t [B, 1, 1, 1], the
 * outputs for y and y2 are blended when the kind takes the class as its context. */
static vkn_val g_norm(vkn_nn *m, const char *name, vkn_val h, vkn_val y, vkn_val y2, vkn_val t, const vkn_norm_opts *o)
{
    vkn_val a = vkn_nn_norm(m, name, h, y, o);
    if (y2 == VKN_NONE || !vkn_norm_needs_ctx(o->kind)) return a;
    vkn_val b = vkn_nn_norm(m, name, h, y2, o);
    vkn_graph *g = m->g;
    return vkn_graph_binary(g, VKN_BINARY_ADD, a, vkn_graph_binary(g, VKN_BINARY_MUL, t, vkn_graph_binary(g, VKN_BINARY_SUB, b, a)));
}

/* G(z, y): [B, zdim] x [B] -> [B, C, 28, 28]. With y2 and t ([B, 1]): conditioned on the blend
 * (1 - t) y + t y2 (one-hot input blended, class-context norms blended). */
static vkn_val generator_mix(vkn_nn *m, const vkn_cgan_config *c, vkn_val z, vkn_val y, vkn_val y2, vkn_val t)
{
    int w1 = c->base ? 128 : 64, w2 = c->base ? 64 : 32;
    vkn_graph *g = m->g;
    int64_t b = vkn_graph_dim(g, z, 0);
    vkn_val oh = vkn_nn_one_hot(m, y, c->classes), t4 = VKN_NONE;
    if (y2 != VKN_NONE) {
        vkn_val oh2 = vkn_nn_one_hot(m, y2, c->classes);
        oh = vkn_graph_binary(g, VKN_BINARY_ADD, oh, vkn_graph_binary(g, VKN_BINARY_MUL, t, vkn_graph_binary(g, VKN_BINARY_SUB, oh2, oh)));
        int64_t ts[4] = {b, 1, 1, 1};
        t4 = vkn_graph_reshape(g, t, 4, ts);
    }
    vkn_val h = vkn_nn_linear(m, "g.fc", vkn_nn_concat(m, z, oh), w1 * 49, 1);
    int64_t s[4] = {b, w1, 7, 7};
    h = vkn_graph_reshape(g, h, 4, s);
    vkn_norm_opts o1 = norm_opts(c, c->norm_g, w1), o2 = norm_opts(c, c->norm_g, w2);
    h = vkn_nn_act(m, VKN_ACT_RELU, 0, g_norm(m, "g.norm1", h, y, y2, t4, &o1));
    h = vkn_nn_conv_transpose2d(m, "g.convT1", h, w2, 4, 2, 1, 1);
    h = vkn_nn_act(m, VKN_ACT_RELU, 0, g_norm(m, "g.norm2", h, y, y2, t4, &o2));
    h = vkn_nn_conv_transpose2d(m, "g.convT2", h, c->channels, 4, 2, 1, 1);
    return vkn_nn_act(m, VKN_ACT_TANH, 0, h);
}

static vkn_val generator(vkn_nn *m, const vkn_cgan_config *c, vkn_val z, vkn_val y)
{
    return generator_mix(m, c, z, y, VKN_NONE, VKN_NONE);
}

/* D(x, y): [B, C, 28, 28] x [B] -> logits [B, 1] (projection discriminator) */
static vkn_val discriminator(vkn_nn *m, const vkn_cgan_config *c, vkn_val x, vkn_val y)
{
    int w1 = c->base ? 64 : 32, w2 = c->base ? 128 : 64;
    vkn_graph *g = m->g;
    vkn_val h = vkn_nn_act(m, VKN_ACT_LEAKY_RELU, 0.2f, vkn_nn_conv2d(m, "d.conv1", x, w1, 4, 2, 1, 1));
    h = vkn_nn_conv2d(m, "d.conv2", h, w2, 4, 2, 1, 1);
    vkn_norm_opts o = norm_opts(c, c->norm_d, w2);
    h = vkn_nn_act(m, VKN_ACT_LEAKY_RELU, 0.2f, vkn_nn_norm(m, "d.norm", h, y, &o));
    vkn_val f = vkn_nn_flatten(m, h);
    vkn_val out = vkn_nn_linear(m, "d.fc", f, 1, 1);
    vkn_val e = vkn_nn_embedding(m, "d.embed", y, c->classes, w2 * 49);
    vkn_val proj = vkn_graph_reduce(g, VKN_REDUCE_SUM, vkn_graph_binary(g, VKN_BINARY_MUL, e, f), 2);
    int64_t s[2] = {vkn_graph_dim(g, x, 0), 1};
    return vkn_graph_binary(g, VKN_BINARY_ADD, out, vkn_graph_reshape(g, proj, 2, s));
}

/* The training graphs' device RNG seed: each rank of a data-parallel run draws its own noise. */
static uint64_t rng_seed(const vkn_cgan_config *c)
{
    return c->dist ? c->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)vkn_dist_rank(c->dist)) : c->seed;
}

static vkn_status build_d_step(vkn_cgan *m)
{
    const vkn_cgan_config *c = &m->c;
    VKN_TRY(vkn_graph_create(m->p, "cgan-d-step", &m->gd));
    vkn_graph *g = m->gd;
    vkn_nn gen = {.g = g, .params = m->p, .train = 1, .trainable = 0, .init = VKN_INIT_NORMAL, .init_scale = 0.02f, .seed = rng_seed(c)};
    vkn_nn dis = gen;
    dis.trainable = 1;
    int64_t xs[4] = {c->batch, c->channels, 28, 28}, ys[1] = {c->batch}, zs[2] = {c->batch, c->zdim};
    m->real = vkn_graph_input(g, "real", VKN_F32, 4, xs);
    m->real_y = vkn_graph_input(g, "real_labels", VKN_I32, 1, ys);
    vkn_val z = vkn_nn_rand_normal(&gen, 2, zs, 1);
    vkn_val yf = vkn_nn_rand_labels(&gen, c->batch, c->classes, 2);
    vkn_val fake = generator(&gen, c, z, yf);
    m->d_real_logit = discriminator(&dis, c, m->real, m->real_y);
    m->d_fake_logit = discriminator(&dis, c, fake, yf);
    vkn_val lr = c->loss == VKN_GAN_LOSS_HINGE ? vkn_nn_loss(&dis, VKN_LOSS_HINGE_REAL, m->d_real_logit, 0)
                                               : vkn_nn_loss(&dis, VKN_LOSS_BCE_LOGITS, m->d_real_logit, 1.0f);
    vkn_val lf = c->loss == VKN_GAN_LOSS_HINGE ? vkn_nn_loss(&dis, VKN_LOSS_HINGE_FAKE, m->d_fake_logit, 0)
                                               : vkn_nn_loss(&dis, VKN_LOSS_BCE_LOGITS, m->d_fake_logit, 0.0f);
    m->loss_d = vkn_graph_binary(g, VKN_BINARY_ADD, lr, lf);
    vkn_graph_keep(g, m->loss_d);
    vkn_graph_keep(g, m->d_real_logit);
    vkn_graph_keep(g, m->d_fake_logit);
    VKN_TRY(vkn_graph_backward(g, m->loss_d));
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0, .beta1 = c->beta1, .beta2 = c->beta2, .eps = 1e-8f};
    VKN_TRY(vkn_nn_optimizer(&dis, &o, "d."));
    if (c->dist) VKN_TRY(vkn_dist_attach(c->dist, g, NULL));
    return vkn_graph_compile(g);
}

static vkn_status build_g_step(vkn_cgan *m)
{
    const vkn_cgan_config *c = &m->c;
    VKN_TRY(vkn_graph_create(m->p, "cgan-g-step", &m->gg));
    vkn_graph *g = m->gg;
    vkn_nn gen = {.g = g, .params = m->p, .train = 1, .trainable = 1, .init = VKN_INIT_NORMAL, .init_scale = 0.02f, .seed = rng_seed(c)};
    vkn_nn dis = gen;
    dis.trainable = 0;
    int64_t zs[2] = {c->batch, c->zdim};
    vkn_val z = vkn_nn_rand_normal(&gen, 2, zs, 3);
    vkn_val yf = vkn_nn_rand_labels(&gen, c->batch, c->classes, 4);
    vkn_val logit = discriminator(&dis, c, generator(&gen, c, z, yf), yf);
    m->loss_g = c->loss == VKN_GAN_LOSS_HINGE ? vkn_nn_loss(&gen, VKN_LOSS_HINGE_GEN, logit, 0)
                                              : vkn_nn_loss(&gen, VKN_LOSS_BCE_LOGITS, logit, 1.0f);
    vkn_graph_keep(g, m->loss_g);
    VKN_TRY(vkn_graph_backward(g, m->loss_g));
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0, .beta1 = c->beta1, .beta2 = c->beta2, .eps = 1e-8f};
    VKN_TRY(vkn_nn_optimizer(&gen, &o, "g."));
    if (c->dist) VKN_TRY(vkn_dist_attach(c->dist, g, NULL));
    return vkn_graph_compile(g);
}

static vkn_status build_sampler(vkn_cgan *m)
{
    const vkn_cgan_config *c = &m->c;
    VKN_TRY(vkn_graph_create(m->p, "cgan-generate", &m->gs));
    vkn_graph *g = m->gs;
    vkn_nn gen = {.g = g, .params = m->p, .train = 0, .trainable = 0, .init = VKN_INIT_NORMAL, .init_scale = 0.02f, .seed = c->seed};
    int64_t zs[2] = {c->samples, c->zdim}, ys[1] = {c->samples};
    m->s_z = vkn_graph_input(g, "z", VKN_F32, 2, zs);
    m->s_y = vkn_graph_input(g, "labels", VKN_I32, 1, ys);
    m->s_img = generator(&gen, c, m->s_z, m->s_y);
    vkn_graph_keep(g, m->s_img);
    return vkn_graph_compile(g);
}

vkn_status vkn_cgan_create(vkn_context *ctx, const vkn_cgan_config *cfg, vkn_cgan **out)
{
    *out = NULL;
    const vkn_cgan_config *c = cfg;
    if (c->batch < 2 || c->zdim < 1 || c->classes < 1 || c->channels < 1 || c->samples < 1 || c->lr_g <= 0 || c->lr_d <= 0)
        return vkn_status_set(VKN_ERR_ARG, "cgan: batch >= 2, zdim, classes, channels, samples >= 1 and learning "
                              "rates > 0 are required (batch %d, lr_g %g, lr_d %g)", c->batch, c->lr_g, c->lr_d);
    vkn_cgan *m = calloc(1, sizeof *m);
    if (!m) return vkn_status_set(VKN_ERR_HOST_OOM, "cgan");
    m->c = *c;
    vkn_status s = vkn_params_create(ctx, c->seed, &m->p);
    if (s == VKN_OK) s = build_d_step(m);
    if (s == VKN_OK) s = build_g_step(m);
    if (s == VKN_OK) s = build_sampler(m);
    if (s == VKN_OK && c->dist) s = vkn_dist_broadcast_params(c->dist, m->p);
    if (s != VKN_OK) {
        vkn_cgan_destroy(m);
        return s;
    }
    *out = m;
    return VKN_OK;
}

void vkn_cgan_destroy(vkn_cgan *m)
{
    if (!m) return;
    vkn_graph_destroy(m->gd);
    vkn_graph_destroy(m->gg);
    vkn_graph_destroy(m->gs);
    vkn_graph_destroy(m->gi);
    vkn_params_destroy(m->p);
    free(m);
}

float *vkn_cgan_real_images(vkn_cgan *m) { return vkn_graph_input_ptr(m->gd, m->real); }
int32_t *vkn_cgan_real_labels(vkn_cgan *m) { return vkn_graph_input_ptr(m->gd, m->real_y); }
vkn_params *vkn_cgan_params(vkn_cgan *m) { return m->p; }

static void set_step(vkn_graph *g, int64_t step, uint32_t rng, float lr)
{
    vkn_graph_set_step(g, VKN_STEP_T, (float)(step + 1));
    vkn_graph_set_step_u32(g, VKN_STEP_RNG, rng);
    vkn_graph_set_step(g, VKN_STEP_LR0, lr);
}

static float mean_sigmoid(const float *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += 1.0 / (1.0 + exp(-(double)x[i]));
    return (float)(s / n);
}

vkn_status vkn_cgan_step(vkn_cgan *m, int64_t step, vkn_cgan_stats *out)
{
    /* the RNG counter: a fresh value per step; D and G steps draw from different streams */
    uint32_t rng = (uint32_t)step;
    set_step(m->gd, step, rng, m->c.lr_d);
    set_step(m->gg, step, rng, m->c.lr_g);
    /* one host wait per step: the G step starts on the device when the D step is done */
    VKN_TRY(vkn_graph_submit(m->gd));
    VKN_TRY(vkn_graph_submit_after(m->gg, m->gd));
    VKN_TRY(vkn_graph_wait(m->gg));
    VKN_TRY(vkn_graph_wait(m->gd));
    if (out) {
        float *buf = malloc((size_t)m->c.batch * sizeof *buf);
        if (!buf) return vkn_status_set(VKN_ERR_HOST_OOM, "cgan step");
        vkn_status s = vkn_graph_read(m->gd, m->loss_d, &out->loss_d);
        if (s == VKN_OK) s = vkn_graph_read(m->gg, m->loss_g, &out->loss_g);
        if (s == VKN_OK) s = vkn_graph_read(m->gd, m->d_real_logit, buf);
        if (s == VKN_OK) out->d_real = mean_sigmoid(buf, m->c.batch);
        if (s == VKN_OK) s = vkn_graph_read(m->gd, m->d_fake_logit, buf);
        if (s == VKN_OK) out->d_fake = mean_sigmoid(buf, m->c.batch);
        free(buf);
        if (s != VKN_OK) return s;
        if (!isfinite(out->loss_d) || !isfinite(out->loss_g))
            return vkn_status_set(VKN_ERR_NOT_FINITE, "cgan step %lld: loss D %g, loss G %g is not finite (diverged: "
                                  "lower the learning rates or change the normalization)", (long long)step,
                                  out->loss_d, out->loss_g);
    }
    return VKN_OK;
}

vkn_status vkn_cgan_generate(vkn_cgan *m, const float *z, const int32_t *labels, float *images)
{
    memcpy(vkn_graph_input_ptr(m->gs, m->s_z), z, (size_t)m->c.samples * m->c.zdim * sizeof *z);
    memcpy(vkn_graph_input_ptr(m->gs, m->s_y), labels, (size_t)m->c.samples * sizeof *labels);
    VKN_TRY(vkn_graph_run(m->gs));
    return vkn_graph_read(m->gs, m->s_img, images);
}

static vkn_status build_interpolator(vkn_cgan *m)
{
    const vkn_cgan_config *c = &m->c;
    VKN_TRY(vkn_graph_create(m->p, "cgan-interpolate", &m->gi));
    vkn_graph *g = m->gi;
    vkn_nn gen = {.g = g, .params = m->p, .train = 0, .trainable = 0, .init = VKN_INIT_NORMAL, .init_scale = 0.02f, .seed = c->seed};
    int64_t zs[2] = {c->samples, c->zdim}, ys[1] = {c->samples}, ts[2] = {c->samples, 1};
    m->i_z = vkn_graph_input(g, "z", VKN_F32, 2, zs);
    m->i_a = vkn_graph_input(g, "labels_a", VKN_I32, 1, ys);
    m->i_b = vkn_graph_input(g, "labels_b", VKN_I32, 1, ys);
    m->i_t = vkn_graph_input(g, "t", VKN_F32, 2, ts);
    m->i_img = generator_mix(&gen, c, m->i_z, m->i_a, m->i_b, m->i_t);
    vkn_graph_keep(g, m->i_img);
    return vkn_graph_compile(g);
}

vkn_status vkn_cgan_interpolate(vkn_cgan *m, const float *z, const int32_t *a, const int32_t *b, const float *t,
                                float *images)
{
    if (!m->gi) {
        vkn_status s = build_interpolator(m);
        if (s != VKN_OK) {
            vkn_graph_destroy(m->gi);
            m->gi = NULL;
            return s;
        }
    }
    size_t n = (size_t)m->c.samples;
    memcpy(vkn_graph_input_ptr(m->gi, m->i_z), z, n * m->c.zdim * sizeof *z);
    memcpy(vkn_graph_input_ptr(m->gi, m->i_a), a, n * sizeof *a);
    memcpy(vkn_graph_input_ptr(m->gi, m->i_b), b, n * sizeof *b);
    memcpy(vkn_graph_input_ptr(m->gi, m->i_t), t, n * sizeof *t);
    VKN_TRY(vkn_graph_run(m->gi));
    return vkn_graph_read(m->gi, m->i_img, images);
}

vkn_norm *vkn_cgan_norm(vkn_cgan *m, int layer)
{
    return vkn_nn_norm_lookup(m->gg, layer == 0 ? "g.norm1" : "g.norm2");
}

vkn_status vkn_cgan_save(vkn_cgan *m, const char *path, int64_t step)
{
    return vkn_cgan_save_meta(m, path, step, NULL);
}

vkn_status vkn_cgan_save_meta(vkn_cgan *m, const char *path, int64_t step, const char *const *extra_meta)
{
    char norms[64];
    snprintf(norms, sizeof norms, "%s/%s", vkn_norm_kind_name(m->c.norm_g), vkn_norm_kind_name(m->c.norm_d));
    enum { MAX_META = 256 };
    const char *meta[MAX_META + 3] = {"norm_g/norm_d", norms};
    int k = 2;
    for (const char *const *kv = extra_meta; kv && kv[0]; kv += 2) {
        if (k + 2 > MAX_META + 2)
            return vkn_status_set(VKN_ERR_ARG, "cgan: %s: more than %d metadata entries", path, MAX_META / 2);
        meta[k++] = kv[0];
        meta[k++] = kv[1];
    }
    meta[k] = NULL;
    return vkn_params_save(m->p, path, vkn_cgan_name(&m->c), step, meta);
}

vkn_status vkn_cgan_load(vkn_cgan *m, const char *path, int64_t *step)
{
    return vkn_params_load(m->p, path, vkn_cgan_name(&m->c), step);
}

vkn_graph_report vkn_cgan_report(const vkn_cgan *m, int graph)
{
    return vkn_graph_get_report(graph == 0 ? m->gd : graph == 1 ? m->gg : m->gs);
}
