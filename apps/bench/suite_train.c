/* train: whole training steps of the conditional GANs (cgan-small, cgan-base; batch 64, BatchNorm,
 * Adam(2e-4, 0.5, 0.999), non-saturating BCE, weights N(0, 0.02)): ms/step, samples/s, dispatches,
 * barriers and submits per step, device memory. The real batch is fixed noise: the work per step
 * does not depend on the data. */
#include "bench.h"
#include "vkn/models.h"
#include "model.h"   /* apps/da: the LeNet + DANN model of vkn-da */

#include <stdio.h>
#include <stdlib.h>

static vkn_status train_one(bench_ctx *b, int base)
{
    vkn_cgan_config c = vkn_cgan_defaults();
    c.base = base;
    c.samples = 10;
    vkn_cgan *m;
    VKN_TRY(vkn_cgan_create(b->ctx, &c, &m));
    float *x = vkn_cgan_real_images(m);
    int32_t *y = vkn_cgan_real_labels(m);
    uint32_t s = 12345;
    for (int i = 0; i < c.batch * 28 * 28; i++) { s = s * 1664525u + 1013904223u; x[i] = (float)(s >> 8) / 8388608.0f - 1.0f; }
    for (int i = 0; i < c.batch; i++) y[i] = i % c.classes;
    vkn_status st = VKN_OK;
    for (int w = 0; w < 2 && st == VKN_OK; w++) st = vkn_cgan_step(m, w, NULL);   /* warm-up */
    enum { MAXR = 1000 };
    static double t[MAXR];
    int n = 0;
    double start = bench_now_us();
    int min_runs = b->opts.quick ? 2 : 5;
    while (st == VKN_OK && n < MAXR && (n < min_runs || bench_now_us() - start < b->opts.min_time_s * 1e6 * 4)) {
        double t0 = bench_now_us();
        st = vkn_cgan_step(m, 2 + n, NULL);
        t[n++] = bench_now_us() - t0;
    }
    if (st == VKN_OK) {
        for (int i = 1; i < n; i++)   /* insertion sort: n is small */
            for (int j = i; j > 0 && t[j] < t[j - 1]; j--) { double tmp = t[j]; t[j] = t[j - 1]; t[j - 1] = tmp; }
        vkn_graph_report rd = vkn_cgan_report(m, 0), rg = vkn_cgan_report(m, 1);
        char shape[48];
        snprintf(shape, sizeof shape, "batch %d, %u disp, %u barr", c.batch, rd.dispatches + rg.dispatches,
                 rd.barriers + rg.barriers);
        char name[64];
        snprintf(name, sizeof name, "%s step (D + G), host clock", vkn_cgan_name(&c));
        bench_result *r = bench_add(b, "train", name, shape);
        r->runs = n;
        r->median_us = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
        r->min_us = t[0];
        r->max_us = t[n - 1];
        r->value = c.batch / (r->median_us * 1e-6);
        snprintf(r->unit, sizeof r->unit, "samples/s");
        fprintf(stderr, "%s: %.1f ms/step, %u+%u dispatches, %u+%u barriers, 2 submits per step, device memory "
                "%.1f MiB activations (D step) + %.1f MiB (G step), %.1f MiB parameters and optimizer state\n",
                vkn_cgan_name(&c), r->median_us / 1000, rd.dispatches, rg.dispatches, rd.barriers, rg.barriers,
                rd.activation_bytes / 1048576.0, rg.activation_bytes / 1048576.0, rd.param_bytes / 1048576.0);
        if (b->opts.peer) bench_peer_train(b, (int)(r - b->results), base);
    }
    vkn_cgan_destroy(m);
    return st;
}

/* The DANN step of vkn-da: LeNet feature extractor with shared BN, label and domain heads, 64 source +
 * 64 target images (issue 7's target on lavapipe: <= 250 ms). */
static vkn_status train_dann(bench_ctx *b)
{
    da_model_cfg cfg = {.set = {.method = DA_DANN, .norm = DA_NORM_BN, .tctx = DA_TCTX_OWN}, .batch = 64,
                        .eval_batch = 8, .seed = 1, .optim = DA_OPTIM_ADAM};
    da_setting_label(&cfg.set);
    da_model *m;
    VKN_TRY(da_model_create(b->ctx, &cfg, &m));
    float *x = da_model_train_images(m);
    int32_t *y = da_model_train_labels(m);
    uint32_t s = 777;
    for (int i = 0; i < 2 * cfg.batch * 3 * 28 * 28; i++) { s = s * 1664525u + 1013904223u; x[i] = (float)(s >> 8) / 8388608.0f - 1.0f; }
    for (int i = 0; i < cfg.batch; i++) y[i] = i % 10;
    vkn_status st = VKN_OK;
    for (int w = 0; w < 2 && st == VKN_OK; w++) st = da_model_train_step(m, w, 1e-3f, 0.5f, NULL);
    enum { MAXR = 1000 };
    static double t[MAXR];
    int n = 0;
    double start = bench_now_us();
    int min_runs = b->opts.quick ? 2 : 5;
    while (st == VKN_OK && n < MAXR && (n < min_runs || bench_now_us() - start < b->opts.min_time_s * 1e6 * 4)) {
        double t0 = bench_now_us();
        st = da_model_train_step(m, 2 + n, 1e-3f, 0.5f, NULL);
        t[n++] = bench_now_us() - t0;
    }
    if (st == VKN_OK) {
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && t[j] < t[j - 1]; j--) { double tmp = t[j]; t[j] = t[j - 1]; t[j - 1] = tmp; }
        vkn_graph_report r0 = vkn_graph_get_report(m->tr);
        char shape[48];
        snprintf(shape, sizeof shape, "64+64, %u disp, %u barr", r0.dispatches, r0.barriers);
        bench_result *r = bench_add(b, "train", "dann step (LeNet, shared bn), host clock", shape);
        r->runs = n;
        r->median_us = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
        r->min_us = t[0];
        r->max_us = t[n - 1];
        r->value = 2 * cfg.batch / (r->median_us * 1e-6);
        snprintf(r->unit, sizeof r->unit, "samples/s");
    }
    da_model_destroy(m);
    return st;
}

vkn_status bench_suite_train(bench_ctx *b)
{
    VKN_TRY(train_dann(b));
    VKN_TRY(train_one(b, 0));
    if (!b->opts.quick) VKN_TRY(train_one(b, 1));
    return VKN_OK;
}
