/* Built-in quality metrics of vkn-cgan (no Inception network needed):
 *
 *   a small CNN classifier trained by vknorm on the real training split (conv-relu-pool x2, fc 64,
 *   fc 10), cached as a checkpoint under the data folder after the first run;
 *   conditional accuracy: the share of generated samples the classifier assigns to the class they
 *   were generated for, per class and overall;
 *   the histogram of predicted classes (a generator that collapses onto a few modes piles up there);
 *   the Frechet distance between the classifier's penultimate features (64, after ReLU) of generated
 *   and of real test images: Gaussians fitted on the host in double, the matrix square root through
 *   eigen-decompositions of symmetric matrices by cyclic Jacobi rotations. */
#include "cgan_app.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EVAL_B 100
#define CLF_MODEL "cgan-classifier-v1"

struct cg_clf {
    vkn_params *p;
    vkn_graph *gt, *ge;
    int tb;
    vkn_val t_x, t_y, t_loss;
    vkn_val e_x, e_feat, e_pred;
};

/* x [B, 1, 28, 28] -> logits [B, 10]; *feat = the penultimate features [B, 64] */
static vkn_val clf_net(vkn_nn *m, vkn_val x, vkn_val *feat)
{
    vkn_val h = vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_conv2d(m, "c.conv1", x, 16, 3, 1, 1, 1));
    h = vkn_nn_maxpool2d(m, h, 2, 2);                                             /* 16 x 14 x 14 */
    h = vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_conv2d(m, "c.conv2", h, 32, 3, 1, 1, 1));
    h = vkn_nn_maxpool2d(m, h, 2, 2);                                             /* 32 x 7 x 7 */
    vkn_val f = vkn_nn_act(m, VKN_ACT_RELU, 0, vkn_nn_linear(m, "c.fc1", vkn_nn_flatten(m, h), CG_FEAT, 1));
    *feat = f;
    return vkn_nn_linear(m, "c.fc2", f, CG_CLASSES, 1);
}

vkn_status cg_clf_create(vkn_context *ctx, uint64_t seed, int train_batch, cg_clf **out)
{
    *out = NULL;
    cg_clf *c = calloc(1, sizeof *c);
    if (!c) return vkn_status_set(VKN_ERR_HOST_OOM, "classifier");
    c->tb = train_batch;
    vkn_status s = vkn_params_create(ctx, seed, &c->p);
    if (s == VKN_OK) s = vkn_graph_create(c->p, "clf-train", &c->gt);
    if (s == VKN_OK) {
        vkn_nn m = {.g = c->gt, .params = c->p, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = seed};
        int64_t xs[4] = {train_batch, 1, CG_IMG, CG_IMG}, ys[1] = {train_batch};
        c->t_x = vkn_graph_input(c->gt, "x", VKN_F32, 4, xs);
        c->t_y = vkn_graph_input(c->gt, "y", VKN_I32, 1, ys);
        vkn_val feat, logits = clf_net(&m, c->t_x, &feat);
        c->t_loss = vkn_nn_softmax_ce(&m, logits, c->t_y, 0.0f);
        vkn_graph_keep(c->gt, c->t_loss);
        s = vkn_graph_backward(c->gt, c->t_loss);
        vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
        if (s == VKN_OK) s = vkn_nn_optimizer(&m, &o, NULL);
        if (s == VKN_OK) s = vkn_graph_compile(c->gt);
    }
    if (s == VKN_OK) s = vkn_graph_create(c->p, "clf-eval", &c->ge);
    if (s == VKN_OK) {
        vkn_nn m = {.g = c->ge, .params = c->p, .train = 0, .trainable = 0, .init = VKN_INIT_HE, .seed = seed};
        int64_t xs[4] = {EVAL_B, 1, CG_IMG, CG_IMG};
        c->e_x = vkn_graph_input(c->ge, "x", VKN_F32, 4, xs);
        vkn_val logits = clf_net(&m, c->e_x, &c->e_feat);
        c->e_pred = vkn_nn_argmax(&m, logits);
        vkn_graph_keep(c->ge, c->e_feat);
        vkn_graph_keep(c->ge, c->e_pred);
        s = vkn_graph_compile(c->ge);
    }
    if (s != VKN_OK) {
        cg_clf_destroy(c);
        return s;
    }
    *out = c;
    return VKN_OK;
}

void cg_clf_destroy(cg_clf *c)
{
    if (!c) return;
    vkn_graph_destroy(c->gt);
    vkn_graph_destroy(c->ge);
    vkn_params_destroy(c->p);
    free(c);
}

vkn_status cg_clf_train(cg_clf *c, const vkn_dataset *ds, int steps, uint64_t seed, atomic_bool *stop,
                        void (*progress)(void *user, int step, float loss), void *user)
{
    vkn_loader_opts lo = {.batch = c->tb, .mode = VKN_BATCH_SHUFFLE, .seed = seed ^ 0x5eedc1fULL, .channels = 1};
    vkn_data_loader *ld;
    VKN_TRY(vkn_data_loader_create(&ld, ds, &lo));
    vkn_status s = VKN_OK;
    for (int t = 0; t < steps && s == VKN_OK; t++) {
        if (stop && atomic_load(stop)) break;
        s = vkn_data_batch_fill(ld, vkn_graph_input_ptr(c->gt, c->t_x), vkn_graph_input_ptr(c->gt, c->t_y), NULL);
        if (s != VKN_OK) break;
        /* Adam 2e-3, decayed to 2e-4 over the run */
        float lr = 2e-3f * powf(0.1f, (float)t / (float)(steps > 1 ? steps - 1 : 1));
        vkn_graph_set_step(c->gt, VKN_STEP_T, (float)(t + 1));
        vkn_graph_set_step(c->gt, VKN_STEP_LR0, lr);
        s = vkn_graph_run(c->gt);
        if (s == VKN_OK && progress && (t % 25 == 0 || t == steps - 1)) {
            float loss = NAN;
            s = vkn_graph_read(c->gt, c->t_loss, &loss);
            progress(user, t + 1, loss);
        }
    }
    vkn_data_loader_destroy(ld);
    return s;
}

void cg_clf_cache_path(const char *data, int steps, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%s-%d.safetensors", vkn_data_cache_dir(), CLF_MODEL, data, steps);
}

static void mkdir_parents(const char *path)
{
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
}

vkn_status cg_clf_save(cg_clf *c, const char *path, int steps)
{
    mkdir_parents(path);
    char st[32];
    snprintf(st, sizeof st, "%d", steps);
    const char *meta[] = {"classifier_steps", st, NULL};
    return vkn_params_save(c->p, path, CLF_MODEL, steps, meta);
}

vkn_status cg_clf_load(cg_clf *c, const char *path)
{
    int64_t step = 0;
    return vkn_params_load(c->p, path, CLF_MODEL, &step);
}

vkn_status cg_clf_classify(cg_clf *c, const float *images, int n, int32_t *pred, float *feat)
{
    float *x = vkn_graph_input_ptr(c->ge, c->e_x);
    float fbuf[EVAL_B * CG_FEAT];
    int32_t pbuf[EVAL_B];
    for (int i0 = 0; i0 < n; i0 += EVAL_B) {
        int k = n - i0 < EVAL_B ? n - i0 : EVAL_B;
        memcpy(x, images + (size_t)i0 * CG_PIX, (size_t)k * CG_PIX * sizeof *x);
        for (int j = k; j < EVAL_B; j++) memcpy(x + (size_t)j * CG_PIX, images + (size_t)i0 * CG_PIX, CG_PIX * sizeof *x);
        VKN_TRY(vkn_graph_run(c->ge));
        if (pred) {
            VKN_TRY(vkn_graph_read(c->ge, c->e_pred, (float *)pbuf));
            memcpy(pred + i0, pbuf, (size_t)k * sizeof *pred);
        }
        if (feat) {
            VKN_TRY(vkn_graph_read(c->ge, c->e_feat, fbuf));
            memcpy(feat + (size_t)i0 * CG_FEAT, fbuf, (size_t)k * CG_FEAT * sizeof *feat);
        }
    }
    return VKN_OK;
}

/* ------------------------------------------------------------------------------------------------ */
/* Gaussians and the Frechet distance                                                                */

void cg_gauss_fit(cg_gauss *g, const float *feat, int n, int d)
{
    memset(g, 0, sizeof *g);
    g->d = d;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++) g->mu[a] += feat[(size_t)i * d + a];
    for (int a = 0; a < d; a++) g->mu[a] /= n > 0 ? n : 1;
    double row[CG_FEAT];
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < d; a++) row[a] = feat[(size_t)i * d + a] - g->mu[a];
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++) g->cov[a * d + b] += row[a] * row[b];
    }
    double den = n > 1 ? n - 1 : 1;
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) g->cov[b * d + a] = g->cov[a * d + b] /= den;
}

int cg_sym_eigen(double *a, int n, double *w, double *v)
{
    if (v)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) v[i * n + j] = i == j;
    int sweep = 0;
    for (; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int p = 0; p < n; p++) {
            diag += a[p * n + p] * a[p * n + p];
            for (int q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
        }
        if (off <= 1e-30 * (diag + 1e-300) || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double app = a[p * n + p], aqq = a[q * n + q];
                double theta = (aqq - app) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q: A <- A J */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q: A <- J^T A */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                a[p * n + q] = a[q * n + p] = 0;
                if (v)
                    for (int k = 0; k < n; k++) {
                        double vkp = v[k * n + p], vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[i * n + i];
    return sweep;
}

double cg_frechet(const cg_gauss *ga, const cg_gauss *gb)
{
    const int d = ga->d;
    /* a non-finite mean or covariance (a NaN classifier) has no distance: never a quiet 0 */
    for (int i = 0; i < d; i++) {
        if (!isfinite(ga->mu[i]) || !isfinite(gb->mu[i])) return NAN;
        for (int j = 0; j < d; j++)
            if (!isfinite(ga->cov[i * d + j]) || !isfinite(gb->cov[i * d + j])) return NAN;
    }
    double *tmp = malloc(sizeof(double) * d * d * 4), w[CG_FEAT];
    if (!tmp) return NAN;
    double *v = tmp + d * d, *sq = v + d * d, *m = sq + d * d;
    /* S1^1/2 = V diag(sqrt(max(w, 0))) V^T */
    memcpy(tmp, ga->cov, sizeof(double) * d * d);
    cg_sym_eigen(tmp, d, w, v);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += v[i * d + k] * sqrt(w[k] > 0 ? w[k] : 0) * v[j * d + k];
            sq[i * d + j] = s;
        }
    /* M = S1^1/2 S2 S1^1/2 (symmetric positive semi-definite): tr (S1 S2)^1/2 = sum sqrt(eig M) */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += sq[i * d + k] * gb->cov[k * d + j];
            tmp[i * d + j] = s;
        }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += tmp[i * d + k] * sq[k * d + j];
            m[i * d + j] = s;
        }
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
    cg_sym_eigen(m, d, w, NULL);
    double tr_sqrt = 0, tr = 0, dmu = 0;
    for (int i = 0; i < d; i++) {
        tr_sqrt += sqrt(w[i] > 0 ? w[i] : 0);
        tr += ga->cov[i * d + i] + gb->cov[i * d + i];
        dmu += (ga->mu[i] - gb->mu[i]) * (ga->mu[i] - gb->mu[i]);
    }
    free(tmp);
    double fd = dmu + tr - 2 * tr_sqrt;
    return !isfinite(fd) ? NAN : fd < 0 ? 0 : fd;
}

vkn_status cg_eval_images(cg_clf *c, const float *images, const int32_t *labels, int n, const cg_gauss *real,
                          cg_eval *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->fd = NAN;
    int32_t *pred = malloc((size_t)n * sizeof *pred);
    float *feat = malloc((size_t)n * CG_FEAT * sizeof *feat);
    cg_gauss *g = malloc(sizeof *g);
    vkn_status s = pred && feat && g ? VKN_OK : vkn_status_set(VKN_ERR_HOST_OOM, "metrics");
    if (s == VKN_OK) s = cg_clf_classify(c, images, n, pred, feat);
    if (s == VKN_OK) {
        int right = 0, per[CG_CLASSES] = {0}, cnt[CG_CLASSES] = {0}, hist[CG_CLASSES] = {0};
        for (int i = 0; i < n; i++) {
            int y = labels[i] >= 0 && labels[i] < CG_CLASSES ? labels[i] : 0, p = pred[i];
            cnt[y]++;
            if (p >= 0 && p < CG_CLASSES) hist[p]++;
            if (p == y) right++, per[y]++;
        }
        out->acc = n ? (float)right / n : 0;
        for (int k = 0; k < CG_CLASSES; k++) {
            out->acc_class[k] = cnt[k] ? (float)per[k] / cnt[k] : NAN;
            out->share[k] = n ? (float)hist[k] / n : 0;
            if (out->share[k] > out->max_share) out->max_share = out->share[k];
        }
        if (real) {
            cg_gauss_fit(g, feat, n, CG_FEAT);
            out->fd = (float)cg_frechet(g, real);
        }
    }
    free(pred);
    free(feat);
    free(g);
    return s;
}
