/* Losses: every kind against its reference (loss and gradient) on small, odd and chunked sizes, with
 * constant and per-element targets, accumulate and scale; finite differences of the references'
 * gradients; softmax cross-entropy with label smoothing on huge logits; argmax and accuracy. */
#include "../common/testutil.h"
#include "ops/ref_train.h"
#include "vkn/loss.h"

static vkn_tensor i32_tensor(int64_t n, const int32_t *data)
{
    vkn_tensor t;
    if (vkn_tensor_alloc(tu_arena, VKN_I32, 1, &n, &t) != VKN_OK) fail_msg("alloc: %s", vkn_status_detail());
    if (data) assert_int_equal(vkn_tensor_upload(&t, data), VKN_OK);
    return t;
}

static const int64_t one = 1;

static void check_elem(vkn_loss_kind kind, int64_t n, int with_target, float tval, float scale)
{
    float *x = tu_alloc(n), *t = tu_alloc(n), *got = tu_alloc(n), *ref = tu_alloc(n);
    tu_fill(x, n, -4, 4);
    if (kind == VKN_LOSS_BCE_LOGITS) for (int64_t i = 0; i < n; i++) t[i] = tu_uniform() < 0.5 ? 0.0f : 1.0f;
    else tu_fill(t, n, -1, 1);
    vkn_tensor tx = tu_tensor(1, &n, x), tt = tu_tensor(1, &n, t), tdx = tu_tensor(1, &n, NULL);
    vkn_tensor tl = tu_tensor(1, &one, NULL), tl2 = tu_tensor(1, &one, NULL), tdx2 = tu_tensor(1, &n, NULL);
    float init = 0.75f;
    assert_int_equal(vkn_tensor_upload(&tl2, &init), VKN_OK);
    vkn_loss_opts o = {.target = with_target ? &tt : NULL, .target_value = tval, .scale = scale};
    vkn_loss_opts oa = o;
    oa.accumulate = 1;
    tu_begin();
    tu_check_op(vkn_op_loss(tu_cmd, kind, &tx, &tl, &tdx, &o));
    tu_check_op(vkn_op_loss(tu_cmd, kind, &tx, &tl2, NULL, &oa));      /* loss only, accumulated */
    tu_check_op(vkn_op_loss(tu_cmd, kind, &tx, NULL, &tdx2, &o));      /* gradient only */
    tu_run();
    double lref = vkn_ref_loss(kind, x, with_target ? t : NULL, tval, n, scale ? scale : 1, ref);
    float lg, lg2, lr = (float)lref, lr2 = (float)(lref + init);
    tu_download(&tl, &lg);
    tu_download(&tl2, &lg2);
    char what[128];
    snprintf(what, sizeof what, "%s n=%lld target=%d loss", vkn_loss_name(kind), (long long)n, with_target);
    tu_assert_close(what, &lg, &lr, 1, 1e-5, 1e-5);
    tu_assert_close(what, &lg2, &lr2, 1, 1e-5, 1e-5);
    snprintf(what, sizeof what, "%s n=%lld target=%d dx", vkn_loss_name(kind), (long long)n, with_target);
    tu_download(&tdx, got);
    tu_assert_close(what, got, ref, n, 1e-6 / (double)n, 1e-5);
    tu_download(&tdx2, got);
    tu_assert_close(what, got, ref, n, 1e-6 / (double)n, 1e-5);
    free(x); free(t); free(got); free(ref);
}

static void test_elementwise_losses(void **state)
{
    (void)state;
    tu_seed(11);
    const int64_t sizes[] = {1, 3, 8, 61, 256, 257, 1001, 50177};
    for (int k = 0; k < VKN_LOSS_COUNT_; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            check_elem((vkn_loss_kind)k, sizes[s], 0, k == VKN_LOSS_BCE_LOGITS ? 1.0f : 0.25f, 0);
            if (k == VKN_LOSS_BCE_LOGITS || k == VKN_LOSS_MSE) check_elem((vkn_loss_kind)k, sizes[s], 1, 0, 0.5f);
        }
    check_elem(VKN_LOSS_BCE_LOGITS, 13, 0, 0.0f, 2.0f);
}

static void test_bce_extreme(void **state)
{
    (void)state;
    /* |x| up to 1e4: the stable form has no overflow; tiny losses keep their relative precision */
    float x[8] = {-1e4f, -80, -20, -1e-3f, 0, 20, 80, 1e4f}, got[8], ref[8];
    int64_t n = 8;
    for (int tgt = 0; tgt < 2; tgt++) {
        vkn_tensor tx = tu_tensor(1, &n, x), tdx = tu_tensor(1, &n, NULL), tl = tu_tensor(1, &one, NULL);
        vkn_loss_opts o = {.target_value = (float)tgt};
        tu_begin();
        tu_check_op(vkn_op_loss(tu_cmd, VKN_LOSS_BCE_LOGITS, &tx, &tl, &tdx, &o));
        tu_run();
        float lg, lr = (float)vkn_ref_loss(VKN_LOSS_BCE_LOGITS, x, NULL, (float)tgt, n, 1, ref);
        tu_download(&tl, &lg);
        tu_download(&tdx, got);
        tu_assert_close("bce extreme loss", &lg, &lr, 1, 1e-6, 1e-6);
        tu_assert_close("bce extreme dx", got, ref, n, 1e-8, 1e-5);
    }
}

/* central differences of the reference loss in double vs the reference gradient */
static void test_fd_references(void **state)
{
    (void)state;
    tu_seed(12);
    enum { N = 7, K = 5 };
    float x[N * K], t[N * K], dx[N * K];
    int32_t lab[N];
    for (int k = 0; k < VKN_LOSS_COUNT_; k++) {
        tu_fill(x, N, -3, 3);
        /* keep hinge inputs away from the kinks at +-1 */
        for (int i = 0; i < N; i++) if (fabs(fabs(x[i]) - 1) < 0.05) x[i] += 0.2f;
        tu_fill(t, N, 0, 1);
        vkn_ref_loss((vkn_loss_kind)k, x, t, 0, N, 1.3, dx);
        for (int i = 0; i < N; i++) {
            float xs = x[i];
            double h = 1e-3, lp, lm;
            x[i] = (float)(xs + h); double xp = x[i];
            lp = vkn_ref_loss((vkn_loss_kind)k, x, t, 0, N, 1.3, NULL);
            x[i] = (float)(xs - h); double xm = x[i];
            lm = vkn_ref_loss((vkn_loss_kind)k, x, t, 0, N, 1.3, NULL);
            x[i] = xs;
            double fd = (lp - lm) / (xp - xm);
            if (fabs(fd - dx[i]) > 1e-5 + 1e-4 * fabs(fd))
                fail_msg("%s fd: element %d: fd %.9g, gradient %.9g", vkn_loss_name((vkn_loss_kind)k), i, fd, dx[i]);
        }
    }
    for (int s = 0; s < 2; s++) {
        double eps = s ? 0.1 : 0;
        tu_fill(x, N * K, -3, 3);
        for (int i = 0; i < N; i++) lab[i] = (int32_t)(tu_uniform() * K);
        vkn_ref_softmax_ce(x, lab, N, K, eps, 0.7, dx);
        for (int i = 0; i < N * K; i++) {
            float xs = x[i];
            double h = 1e-3;
            x[i] = (float)(xs + h); double xp = x[i];
            double lp = vkn_ref_softmax_ce(x, lab, N, K, eps, 0.7, NULL);
            x[i] = (float)(xs - h); double xm = x[i];
            double lm = vkn_ref_softmax_ce(x, lab, N, K, eps, 0.7, NULL);
            x[i] = xs;
            double fd = (lp - lm) / (xp - xm);
            if (fabs(fd - dx[i]) > 1e-6 + 1e-4 * fabs(fd))
                fail_msg("softmax_ce fd eps=%g: element %d: fd %.9g, gradient %.9g", eps, i, fd, dx[i]);
        }
    }
}

static void check_ce(int64_t n, int64_t k, float smoothing, double lo, double hi, int accumulate)
{
    int64_t shape[2] = {n, k}, nk = n * k;
    float *x = tu_alloc(nk), *got = tu_alloc(nk), *ref = tu_alloc(nk);
    int32_t *lab = calloc((size_t)n, 4), *gidx = calloc((size_t)n, 4), *ridx = calloc((size_t)n, 4);
    tu_fill(x, nk, lo, hi);
    for (int64_t i = 0; i < n; i++) lab[i] = (int32_t)(tu_uniform() * k);
    vkn_tensor tx = tu_tensor(2, shape, x), tdx = tu_tensor(2, shape, NULL), tl = tu_tensor(1, &one, NULL);
    vkn_tensor tlab = i32_tensor(n, lab), tidx = i32_tensor(n, NULL), tacc = tu_tensor(1, &one, NULL);
    float init = 2.0f;
    assert_int_equal(vkn_tensor_upload(&tl, &init), VKN_OK);
    vkn_loss_opts o = {.accumulate = accumulate, .scale = 1.5f};
    tu_begin();
    tu_check_op(vkn_op_softmax_ce(tu_cmd, &tx, &tlab, smoothing, &tl, &tdx, &o));
    tu_check_op(vkn_op_accuracy(tu_cmd, &tx, &tlab, &tacc, &tidx));
    tu_run();
    double lref = vkn_ref_softmax_ce(x, lab, n, k, smoothing, 1.5, ref) + (accumulate ? init : 0);
    double aref = vkn_ref_accuracy(x, lab, n, k, ridx);
    float lg, lr = (float)lref, ag, ar = (float)aref;
    tu_download(&tl, &lg);
    tu_download(&tdx, got);
    tu_download(&tacc, &ag);
    assert_int_equal(vkn_tensor_download(&tidx, gidx), VKN_OK);
    char what[96];
    snprintf(what, sizeof what, "softmax_ce %lldx%lld eps=%g loss", (long long)n, (long long)k, smoothing);
    tu_assert_close(what, &lg, &lr, 1, 1e-5, 1e-5);
    snprintf(what, sizeof what, "softmax_ce %lldx%lld eps=%g dx", (long long)n, (long long)k, smoothing);
    tu_assert_close(what, got, ref, nk, 1e-6 / (double)n, 1e-4);
    assert_memory_equal(gidx, ridx, (size_t)n * 4);
    tu_assert_close("accuracy", &ag, &ar, 1, 1e-6, 1e-6);
    free(x); free(got); free(ref); free(lab); free(gidx); free(ridx);
}

static void test_softmax_ce(void **state)
{
    (void)state;
    tu_seed(13);
    check_ce(1, 1, 0, -1, 1, 0);
    check_ce(3, 10, 0, -3, 3, 0);
    check_ce(64, 10, 0.1f, -3, 3, 1);
    check_ce(300, 7, 0, -3, 3, 0);       /* chunked rows + second launch */
    check_ce(2000, 10, 0.2f, -5, 5, 1);
    check_ce(5, 11, 0.1f, 990, 1010, 0); /* huge logits: max subtracted */
    check_ce(33, 3, 0, -80, 80, 0);
}

static void test_argmax_and_bad_labels(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 4}, n = 3;
    float x[12] = {1, 5, 5, 0, -1, -2, -3, -4, 0, 0, 0, 7}, dx[12];
    int32_t lab[3] = {1, 4, 3}, idx[3];
    vkn_tensor tx = tu_tensor(2, shape, x), tl = tu_tensor(1, &one, NULL), tdx = tu_tensor(2, shape, NULL);
    vkn_tensor tlab = i32_tensor(n, lab), tidx = i32_tensor(n, NULL), tacc = tu_tensor(1, &one, NULL);
    tu_begin();
    tu_check_op(vkn_op_argmax_rows(tu_cmd, &tx, &tidx));
    tu_check_op(vkn_op_softmax_ce(tu_cmd, &tx, &tlab, 0, &tl, &tdx, NULL));
    tu_check_op(vkn_op_accuracy(tu_cmd, &tx, &tlab, &tacc, NULL));
    tu_run();
    assert_int_equal(vkn_tensor_download(&tidx, idx), VKN_OK);
    assert_int_equal(idx[0], 1);   /* first of the tie */
    assert_int_equal(idx[1], 0);
    assert_int_equal(idx[2], 3);
    float l, acc;
    tu_download(&tl, &l);
    tu_download(&tdx, dx);
    tu_download(&tacc, &acc);
    assert_true(isnan(l));          /* label 4 of K = 4 */
    assert_true(isnan(dx[4]) && !isnan(dx[0]));
    assert_true(fabsf(acc - 2.0f / 3.0f) < 1e-6f);
    /* argument errors */
    int64_t five = 5;
    vkn_tensor bad = tu_tensor(1, &five, NULL);
    tu_begin();
    assert_int_equal(vkn_op_loss(tu_cmd, VKN_LOSS_MSE, &tx, NULL, NULL, NULL), VKN_ERR_ARG);
    assert_int_equal(vkn_op_loss(tu_cmd, VKN_LOSS_MSE, &tx, &bad, NULL, NULL), VKN_ERR_SHAPE);
    assert_int_equal(vkn_op_loss(tu_cmd, VKN_LOSS_MSE, &tx, NULL, &bad, NULL), VKN_ERR_SHAPE);
    assert_int_equal(vkn_op_softmax_ce(tu_cmd, &tx, &tx, 0, &tl, NULL, NULL), VKN_ERR_SHAPE);
    assert_int_equal(vkn_op_softmax_ce(tu_cmd, &tx, &tlab, 1.0f, &tl, NULL, NULL), VKN_ERR_ARG);
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise_losses), cmocka_unit_test(test_bce_extreme),
        cmocka_unit_test(test_fd_references), cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_argmax_and_bad_labels),
    };
    return TU_RUN(tests);
}
