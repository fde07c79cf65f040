/* fill, copy, unary and broadcasting binary ops against their references, on odd sizes. */
#include "../common/testutil.h"
#include "ops/ref.h"

static const int64_t sizes[] = {1, 3, 63, 64, 65, 255, 1000, 4099};

static void test_fill_copy(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        float *x = tu_alloc(n), *got = tu_alloc(n);
        tu_seed(n);
        tu_fill(x, n, -5, 5);
        vkn_tensor tx = tu_tensor(1, &n, x), ty = tu_tensor(1, &n, NULL), tf = tu_tensor(1, &n, NULL);
        tu_begin();
        tu_check_op(vkn_op_copy(tu_cmd, &tx, &ty));
        tu_check_op(vkn_op_fill(tu_cmd, &tf, -2.5f));
        tu_run();
        tu_download(&ty, got);
        tu_assert_close("copy", got, x, n, 0, 0);
        tu_download(&tf, got);
        for (int64_t i = 0; i < n; i++) assert_float_equal(got[i], -2.5f, 0.0f);
        free(x);
        free(got);
    }
}

static void test_unary(void **state)
{
    (void)state;
    for (int op = 0; op < VKN_UNARY_COUNT_; op++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            float *x = tu_alloc(n), *got = tu_alloc(n), *ref = tu_alloc(n);
            tu_seed(n * 31 + op);
            if (op == VKN_UNARY_LOG) tu_fill(x, n, 1e-3, 50);
            else tu_fill(x, n, -12, 12);
            if (n > 3) { x[0] = 0.0f; if (op != VKN_UNARY_LOG) { x[1] = -40.0f; x[2] = 40.0f; } }
            float alpha = op == VKN_UNARY_LEAKY_RELU ? 0.2f : -1.75f;
            vkn_tensor tx = tu_tensor(1, &n, x), ty = tu_tensor(1, &n, NULL);
            tu_begin();
            tu_check_op(vkn_op_unary(tu_cmd, (vkn_unary)op, alpha, &tx, &ty));
            tu_run();
            tu_download(&ty, got);
            vkn_ref_unary((vkn_unary)op, alpha, x, ref, n);
            char what[64];
            snprintf(what, sizeof what, "unary %s n=%lld", vkn_unary_name((vkn_unary)op), (long long)n);
            tu_assert_close(what, got, ref, n, 1e-6, 2e-6);
            free(x);
            free(got);
            free(ref);
        }
}

static void check_binary(int op, int nda, const int64_t *sa, int ndb, const int64_t *sb, int ndy, const int64_t *sy)
{
    int64_t na = 1, nb = 1, ny = 1;
    for (int i = 0; i < nda; i++) na *= sa[i];
    for (int i = 0; i < ndb; i++) nb *= sb[i];
    for (int i = 0; i < ndy; i++) ny *= sy[i];
    float *a = tu_alloc(na), *b = tu_alloc(nb), *got = tu_alloc(ny), *ref = tu_alloc(ny);
    tu_fill(a, na, -3, 3);
    tu_fill(b, nb, 0.5, 3);   /* positive: division is well conditioned */
    vkn_tensor ta = tu_tensor(nda, sa, a), tb = tu_tensor(ndb, sb, b), ty = tu_tensor(ndy, sy, NULL);
    tu_begin();
    tu_check_op(vkn_op_binary(tu_cmd, (vkn_binary)op, &ta, &tb, &ty));
    tu_run();
    tu_download(&ty, got);
    vkn_ref_binary((vkn_binary)op, a, nda, sa, b, ndb, sb, ref);
    tu_assert_close(vkn_binary_name((vkn_binary)op), got, ref, ny, 1e-6, 1e-6);
    free(a); free(b); free(got); free(ref);
}

static void test_binary_broadcast(void **state)
{
    (void)state;
    tu_seed(7);
    for (int op = 0; op < VKN_BINARY_COUNT_; op++) {
        int64_t same[2] = {7, 13};
        check_binary(op, 2, same, 2, same, 2, same);
        int64_t x4[4] = {2, 3, 5, 7}, c1[4] = {1, 3, 1, 1}, y4[4] = {2, 3, 5, 7};
        check_binary(op, 4, x4, 4, c1, 4, y4);                 /* per-channel (NCHW bias) */
        int64_t row[1] = {7};
        check_binary(op, 4, x4, 1, row, 4, y4);                /* trailing axis, lower rank */
        int64_t col[2] = {5, 1}, rowv[2] = {1, 9}, outer[2] = {5, 9};
        check_binary(op, 2, col, 2, rowv, 2, outer);           /* outer product shape */
        int64_t one[1] = {1}, big[1] = {1001};
        check_binary(op, 1, one, 1, big, 1, big);              /* scalar */
    }
}

static void test_shape_errors(void **state)
{
    (void)state;
    int64_t s3[1] = {3}, s4[1] = {4}, s2x3[2] = {2, 3};
    vkn_tensor a = tu_tensor(1, s3, NULL), b = tu_tensor(1, s4, NULL), y = tu_tensor(2, s2x3, NULL);
    tu_begin();
    assert_int_equal(vkn_op_binary(tu_cmd, VKN_BINARY_ADD, &a, &b, &y), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "3"));
    assert_non_null(strstr(vkn_status_detail(), "4"));
    assert_int_equal(vkn_op_copy(tu_cmd, &a, &b), VKN_ERR_SHAPE);
    assert_int_equal(vkn_op_unary(tu_cmd, (vkn_unary)99, 0, &a, &a), VKN_ERR_ARG);
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_copy), cmocka_unit_test(test_unary),
        cmocka_unit_test(test_binary_broadcast), cmocka_unit_test(test_shape_errors),
    };
    return TU_RUN(tests);
}
