/* Reductions over every axis subset of small odd 4-D shapes, plus long reductions (two launches)
 * and rows with a large mean (sum precision). */
#include "../common/testutil.h"
#include "ops/ref.h"

static void check(vkn_reduce op, int ndim, const int64_t *shape, uint32_t mask, double lo, double hi)
{
    int64_t n = 1, nout = 1;
    for (int i = 0; i < ndim; i++) { n *= shape[i]; if (!((mask >> i) & 1)) nout *= shape[i]; }
    float *x = tu_alloc(n), *got = tu_alloc(nout), *ref = tu_alloc(nout);
    tu_fill(x, n, lo, hi);
    vkn_tensor tx = tu_tensor(ndim, shape, x), ty = tu_tensor(1, &nout, NULL);
    tu_begin();
    tu_check_op(vkn_op_reduce(tu_cmd, op, &tx, mask, &ty));
    tu_run();
    tu_download(&ty, got);
    vkn_ref_reduce(op, x, ndim, shape, mask, ref);
    char what[96];
    snprintf(what, sizeof what, "reduce %s ndim=%d mask=0x%x", vkn_reduce_name(op), ndim, mask);
    /* a float sum of R terms is good to about eps * sum|x|: scale atol with R * max|x| */
    double maxabs = fmax(fabs(lo), fabs(hi)), r = (double)n / (double)nout;
    double atol = 1e-6 + (op == VKN_REDUCE_MAX ? 0 : 1e-7 * r * maxabs / (op == VKN_REDUCE_MEAN ? r : 1));
    tu_assert_close(what, got, ref, nout, atol, 1e-5);
    free(x); free(got); free(ref);
}

static void test_all_axes(void **state)
{
    (void)state;
    tu_seed(3);
    int64_t s4[4] = {3, 5, 1, 7};
    for (int op = 0; op < VKN_REDUCE_COUNT_; op++)
        for (uint32_t mask = 1; mask < 16; mask++) check((vkn_reduce)op, 4, s4, mask, -2, 2);
    int64_t s1[1] = {1};
    for (int op = 0; op < VKN_REDUCE_COUNT_; op++) check((vkn_reduce)op, 1, s1, 1, -2, 2);
}

static void test_long(void **state)
{
    (void)state;
    tu_seed(4);
    int64_t s2[2] = {3, 100003};
    for (int op = 0; op < VKN_REDUCE_COUNT_; op++) {
        check((vkn_reduce)op, 2, s2, 2, -1, 1);     /* per row: chunked, then partials */
        check((vkn_reduce)op, 2, s2, 3, -1, 1);     /* everything to one value */
    }
    /* large mean: a float running sum of 1e5 values near 1e3 would lose ~3 digits */
    check(VKN_REDUCE_MEAN, 2, s2, 2, 999.9, 1000.1);
}

static void test_errors(void **state)
{
    (void)state;
    int64_t s[2] = {4, 6}, wrong[1] = {5};
    vkn_tensor x = tu_tensor(2, s, NULL), y = tu_tensor(1, wrong, NULL);
    tu_begin();
    assert_int_equal(vkn_op_reduce(tu_cmd, VKN_REDUCE_SUM, &x, 1, &y), VKN_ERR_SHAPE);
    assert_int_equal(vkn_op_reduce(tu_cmd, VKN_REDUCE_SUM, &x, 4, &y), VKN_ERR_ARG);
    assert_int_equal(vkn_op_reduce(tu_cmd, VKN_REDUCE_SUM, &x, 0, &y), VKN_ERR_ARG);
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_axes), cmocka_unit_test(test_long), cmocka_unit_test(test_errors),
    };
    return TU_RUN(tests);
}
