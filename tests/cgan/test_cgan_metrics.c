/* vkn-cgan's built-in metrics on known inputs: the Jacobi eigen-decomposition, the Frechet distance of
 * Gaussians with a closed form, and a tiny classifier trained for a few steps: real test images score a
 * high conditional accuracy and a near-zero Frechet distance to themselves; a collapsed set (one image
 * repeated for every class) scores chance accuracy, a full mode-collapse histogram and a large
 * distance. The classifier part is skipped without Fashion-MNIST (Debian dataset-fashion-mnist). */
#include "cgan_test.h"
#include "cgan_app.h"

#include <math.h>

static void test_jacobi(void **state)
{
    (void)state;
    enum { N = 12 };
    double a[N * N], keep[N * N], w[N], v[N * N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            a[i * N + j] = a[j * N + i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        }
    memcpy(keep, a, sizeof a);
    int sweeps = cg_sym_eigen(a, N, w, v);
    assert_true(sweeps < 30);
    /* A v_k = w_k v_k and V orthonormal */
    for (int k = 0; k < N; k++)
        for (int i = 0; i < N; i++) {
            double av = 0;
            for (int j = 0; j < N; j++) av += keep[i * N + j] * v[j * N + k];
            assert_true(fabs(av - w[k] * v[i * N + k]) < 1e-10);
        }
    for (int k = 0; k < N; k++)
        for (int l = 0; l < N; l++) {
            double d = 0;
            for (int i = 0; i < N; i++) d += v[i * N + k] * v[i * N + l];
            assert_true(fabs(d - (k == l)) < 1e-10);
        }
}

static void test_frechet_closed_form(void **state)
{
    (void)state;
    /* diagonal: |dmu|^2 + sum (sqrt(a_i) - sqrt(b_i))^2 = 5 + 1 + 1 + 0 = 7 */
    cg_gauss *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->d = b->d = 3;
    double da[3] = {1, 4, 9}, db[3] = {4, 1, 9}, mb[3] = {1, 2, 0};
    for (int i = 0; i < 3; i++) a->cov[i * 3 + i] = da[i], b->cov[i * 3 + i] = db[i], b->mu[i] = mb[i];
    assert_true(fabs(cg_frechet(a, b) - 7.0) < 1e-9);
    assert_true(cg_frechet(a, a) < 1e-9);
    /* rotating both Gaussians the same way changes nothing */
    double c = cos(0.7), s = sin(0.7), r[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
    cg_gauss *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    ra->d = rb->d = 3;
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++) rb->mu[i] += r[i * 3 + k] * b->mu[k];
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) {
                ra->cov[i * 3 + j] += r[i * 3 + k] * da[k] * r[j * 3 + k];
                rb->cov[i * 3 + j] += r[i * 3 + k] * db[k] * r[j * 3 + k];
            }
    }
    assert_true(fabs(cg_frechet(ra, rb) - 7.0) < 1e-9);
    free(a), free(b), free(ra), free(rb);
}

static void test_classifier_metrics(void **state)
{
    (void)state;
    if (!ct_have_fashion()) {
        print_message("Fashion-MNIST not installed (Debian package dataset-fashion-mnist): skipped\n");
        skip();
    }
    vkn_context *ctx;
    if (vkn_context_create(NULL, &ctx) != VKN_OK) fail_msg("context: %s", vkn_status_detail());
    vkn_dataset train = {0}, test = {0};
    assert_int_equal(vkn_data_fashion_load(&train, NULL, VKN_SPLIT_TRAIN), VKN_OK);
    assert_int_equal(vkn_data_fashion_load(&test, NULL, VKN_SPLIT_TEST), VKN_OK);
    cg_clf *clf;
    if (cg_clf_create(ctx, 3, 32, &clf) != VKN_OK) fail_msg("classifier: %s", vkn_status_detail());
    if (cg_clf_train(clf, &train, 60, 3, NULL, NULL, NULL) != VKN_OK) fail_msg("train: %s", vkn_status_detail());
    enum { N = 500 };
    float *x = malloc(sizeof(float) * N * CG_PIX), *col = malloc(sizeof(float) * N * CG_PIX), *feat = malloc(sizeof(float) * N * CG_FEAT);
    int32_t y[N], yc[N];
    vkn_data_loader *ld;
    vkn_loader_opts lo = {.batch = N, .mode = VKN_BATCH_SEQUENTIAL, .seed = 1, .channels = 1};
    assert_int_equal(vkn_data_loader_create(&ld, &test, &lo), VKN_OK);
    assert_int_equal(vkn_data_batch_fill(ld, x, y, NULL), VKN_OK);
    assert_int_equal(cg_clf_classify(clf, x, N, NULL, feat), VKN_OK);
    cg_gauss *real = malloc(sizeof *real), *h1 = malloc(sizeof *h1), *h2 = malloc(sizeof *h2);
    cg_gauss_fit(real, feat, N, CG_FEAT);
    cg_gauss_fit(h1, feat, N / 2, CG_FEAT);
    cg_gauss_fit(h2, feat + N / 2 * CG_FEAT, N / 2, CG_FEAT);
    double halves = cg_frechet(h1, h2);

    cg_eval e;
    assert_int_equal(cg_eval_images(clf, x, y, N, real, &e), VKN_OK);
    print_message("real test images: conditional accuracy %.1f%%, Frechet distance to themselves %.2e "
                  "(two halves: %.3f), largest share %.0f%%\n", 100.0 * e.acc, e.fd, halves, 100.0 * e.max_share);
    assert_true(e.acc >= 0.6f);
    assert_true(e.fd < 1e-3f * (float)halves + 1e-4f);
    assert_true(e.max_share < 0.25f);

    /* collapsed: image 0 for every requested class */
    for (int i = 0; i < N; i++) {
        memcpy(col + (size_t)i * CG_PIX, x, sizeof(float) * CG_PIX);
        yc[i] = i % CG_CLASSES;
    }
    cg_eval c;
    assert_int_equal(cg_eval_images(clf, col, yc, N, real, &c), VKN_OK);
    print_message("collapsed set: conditional accuracy %.1f%%, Frechet distance %.3f, largest share %.0f%%\n",
                  100.0 * c.acc, c.fd, 100.0 * c.max_share);
    assert_true(c.acc <= 0.11f);
    assert_true(c.max_share == 1.0f);
    assert_true(c.fd > 5 * halves && c.fd > 1.0f);

    /* the cache: a round trip, then a flipped byte and a NaN (saved with a valid checksum) are refused by
     * name, so the app rebuilds instead of reporting a Frechet distance of a NaN classifier */
    char dir[] = "/tmp/vkn-clf-cache-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/clf.safetensors", dir);
    assert_int_equal(cg_clf_save(clf, path, 60), VKN_OK);
    assert_int_equal(cg_clf_load(clf, path), VKN_OK);
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_OK);
    int nt = vkn_io_safetensors_count(f);
    vkn_io_entry *ent = calloc((size_t)nt, sizeof *ent);
    const vkn_io_tensor_info *fc = NULL;
    for (int i = 0; i < nt; i++) {
        const vkn_io_tensor_info *t = vkn_io_safetensors_at(f, i);
        if (!fc && t->dtype == VKN_IO_F32 && t->numel > 4) fc = t;
        ent[i] = (vkn_io_entry){ t->name, t->dtype, t->ndim, {0}, malloc(t->nbytes ? t->nbytes : 1) };
        memcpy(ent[i].shape, t->shape, (size_t)t->ndim * sizeof(int64_t));
        assert_int_equal(vkn_io_safetensors_read(f, t->name, t->dtype, -1, NULL, ent[i].data), VKN_OK);
    }
    assert_non_null(fc);
    size_t len;
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    len = (size_t)ftell(fp);
    uint64_t data_len = 0;   /* the data section ends the file */
    for (int i = 0; i < nt; i++) data_len += vkn_io_safetensors_at(f, i)->nbytes;
    uint64_t at = len - data_len + fc->offset + 2;
    fseek(fp, (long)at, SEEK_SET);
    int byte = fgetc(fp);
    fclose(fp);
    fp = fopen(path, "r+b");
    fseek(fp, (long)at, SEEK_SET);
    fputc(byte ^ 0x01, fp);
    fclose(fp);
    assert_int_equal(cg_clf_load(clf, path), VKN_ERR_FORMAT);
    assert_non_null(strstr(vkn_status_detail(), "does not match its checksum"));
    assert_non_null(strstr(vkn_status_detail(), fc->name));
    for (int i = 0; i < nt; i++)
        if (!strcmp(ent[i].name, fc->name)) ((float *)ent[i].data)[3] = NAN;
    assert_int_equal(vkn_io_checkpoint_save(path, "cgan-classifier-v1", 60, ent, nt, NULL), VKN_OK);
    assert_int_equal(cg_clf_load(clf, path), VKN_ERR_FORMAT);
    assert_non_null(strstr(vkn_status_detail(), "holds NaN at element 3"));
    for (int i = 0; i < nt; i++) free(ent[i].data);
    free(ent);
    vkn_io_safetensors_close(f);
    remove(path);
    rmdir(dir);
    /* and a NaN Gaussian has no distance (not 0) */
    h1->mu[5] = NAN;
    assert_true(isnan(cg_frechet(h1, h2)));
    assert_true(isnan(cg_frechet(h2, h1)));

    free(x), free(col), free(feat), free(real), free(h1), free(h2);
    vkn_data_loader_destroy(ld);
    cg_clf_destroy(clf);
    vkn_data_free(&train);
    vkn_data_free(&test);
    uint32_t msgs = vkn_context_validation_count(ctx);
    vkn_context_destroy(ctx);
    assert_int_equal(msgs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobi),
        cmocka_unit_test(test_frechet_closed_form),
        cmocka_unit_test(test_classifier_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
