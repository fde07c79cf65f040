/* The hazard tracker: a read-after-write chain gives the right answers (a barrier per link), and
 * independent dispatches get no barrier; the arena and the stream replay. */
#include "../common/testutil.h"

static void test_chain(void **state)
{
    (void)state;
    enum { N = 1000, STEPS = 6 };
    int64_t shape[1] = {N};
    float *h = tu_alloc(N), *out = tu_alloc(N);
    for (int i = 0; i < N; i++) h[i] = (float)i;
    vkn_tensor a = tu_tensor(1, shape, h), b = tu_tensor(1, shape, NULL);
    tu_begin();
    /* a -> b (x2), b -> a (x2), ...: every step reads what the previous one wrote */
    for (int s = 0; s < STEPS; s++)
        tu_check_op(vkn_op_unary(tu_cmd, VKN_UNARY_SCALE, 2.0f, s % 2 ? &b : &a, s % 2 ? &a : &b));
    tu_run();
    vkn_cmd_stats st = vkn_cmd_get_stats(tu_cmd);
    assert_int_equal(st.dispatches, STEPS);
    assert_int_equal(st.barriers, STEPS - 1);
    tu_download(&a, out);   /* STEPS even: result is in a */
    for (int i = 0; i < N; i++) assert_float_equal(out[i], (float)i * 64.0f, 0.0f);
    free(h);
    free(out);
}

static void test_independent(void **state)
{
    (void)state;
    int64_t shape[1] = {257};
    vkn_tensor t[6];
    for (int i = 0; i < 6; i++) t[i] = tu_tensor(1, shape, NULL);
    tu_begin();
    for (int i = 0; i < 6; i++) tu_check_op(vkn_op_fill(tu_cmd, &t[i], (float)i));
    /* reads of different tensors after the fills: each read needs one barrier for all */
    tu_check_op(vkn_op_copy(tu_cmd, &t[0], &t[1]));  /* RAW on t0 and WAW on t1: barrier */
    tu_check_op(vkn_op_copy(tu_cmd, &t[2], &t[3]));  /* already ordered by that barrier */
    tu_run();
    vkn_cmd_stats st = vkn_cmd_get_stats(tu_cmd);
    assert_int_equal(st.dispatches, 8);
    assert_int_equal(st.barriers, 1);
    float v[257];
    tu_download(&t[1], v);
    assert_float_equal(v[256], 0.0f, 0.0f);
    tu_download(&t[3], v);
    assert_float_equal(v[0], 2.0f, 0.0f);
    tu_download(&t[5], v);
    assert_float_equal(v[100], 5.0f, 0.0f);
}

static void test_write_after_read(void **state)
{
    (void)state;
    int64_t shape[1] = {64};
    float ones[64], out[64];
    for (int i = 0; i < 64; i++) ones[i] = 1.0f;
    vkn_tensor a = tu_tensor(1, shape, ones), b = tu_tensor(1, shape, NULL);
    tu_begin();
    tu_check_op(vkn_op_copy(tu_cmd, &a, &b));          /* reads a */
    tu_check_op(vkn_op_fill(tu_cmd, &a, 7.0f));         /* writes a: WAR, needs a barrier */
    tu_run();
    assert_int_equal(vkn_cmd_get_stats(tu_cmd).barriers, 1);
    tu_download(&b, out);
    for (int i = 0; i < 64; i++) assert_float_equal(out[i], 1.0f, 0.0f);
}

static void test_replay(void **state)
{
    (void)state;
    /* record once, submit three times: x <- x + 1 each time */
    int64_t shape[1] = {33};
    float z[33] = {0}, out[33];
    vkn_tensor x = tu_tensor(1, shape, z), one = tu_tensor(1, shape, NULL), tmp = tu_tensor(1, shape, NULL);
    tu_begin();
    tu_check_op(vkn_op_fill(tu_cmd, &one, 1.0f));
    tu_check_op(vkn_op_binary(tu_cmd, VKN_BINARY_ADD, &x, &one, &tmp));
    tu_check_op(vkn_op_copy(tu_cmd, &tmp, &x));
    assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
    for (int r = 0; r < 3; r++) assert_int_equal(vkn_cmd_submit(tu_cmd), VKN_OK);
    assert_int_equal(vkn_cmd_wait(tu_cmd), VKN_OK);
    assert_int_equal(vkn_cmd_get_stats(tu_cmd).submits >= 3, 1);
    tu_download(&x, out);
    for (int i = 0; i < 33; i++) assert_float_equal(out[i], 3.0f, 0.0f);
}

static void test_submit_after(void **state)
{
    (void)state;
    /* stream b reads what stream a writes; b is submitted to wait on a on the device */
    int64_t shape[1] = {4096};
    vkn_tensor x = tu_tensor(1, shape, NULL), y = tu_tensor(1, shape, NULL);
    vkn_cmd *a, *b;
    assert_int_equal(vkn_cmd_create(tu_ctx, &a), VKN_OK);
    assert_int_equal(vkn_cmd_create(tu_ctx, &b), VKN_OK);
    assert_int_equal(vkn_cmd_begin(a), VKN_OK);
    tu_check_op(vkn_op_fill(a, &x, 3.0f));
    tu_check_op(vkn_op_unary(a, VKN_UNARY_SCALE, 2.0f, &x, &y));
    tu_check_op(vkn_op_copy(a, &y, &x));                       /* x = 6 */
    assert_int_equal(vkn_cmd_end(a), VKN_OK);
    assert_int_equal(vkn_cmd_begin(b), VKN_OK);
    tu_check_op(vkn_op_unary(b, VKN_UNARY_SCALE, 0.5f, &x, &y)); /* y = 3 only if a finished first */
    assert_int_equal(vkn_cmd_end(b), VKN_OK);
    for (int r = 0; r < 5; r++) {
        assert_int_equal(vkn_cmd_submit(a), VKN_OK);
        assert_int_equal(vkn_cmd_submit_after(b, a), VKN_OK);
        assert_int_equal(vkn_cmd_wait(b), VKN_OK);
        assert_int_equal(vkn_cmd_wait(a), VKN_OK);
        float out[4096];
        tu_download(&y, out);
        for (int i = 0; i < 4096; i++) assert_float_equal(out[i], 3.0f, 0.0f);
    }
    vkn_cmd_destroy(b);
    vkn_cmd_destroy(a);
}

static void test_arena(void **state)
{
    (void)state;
    vkn_arena *a;
    assert_int_equal(vkn_arena_create(tu_ctx, 1 << 20, &a), VKN_OK);
    vkn_tensor t1, t2, big;
    assert_int_equal(vkn_tensor_alloc_nd(a, VKN_F32, &t1, 2, (int64_t)3, (int64_t)5), VKN_OK);
    assert_int_equal(vkn_tensor_alloc_nd(a, VKN_F32, &t2, 1, (int64_t)1), VKN_OK);
    assert_true(t2.offset % 16 == 0 && t2.offset >= t1.bytes);
    assert_int_equal(vkn_tensor_alloc_nd(a, VKN_F32, &big, 1, (int64_t)(600000)), VKN_OK);  /* > chunk: own chunk */
    assert_true(vkn_arena_reserved(a) >= (1u << 20) + 2400000u);
    vkn_tensor bad;
    int64_t neg[2] = {3, 0};
    assert_int_equal(vkn_tensor_alloc(a, VKN_F32, 2, neg, &bad), VKN_ERR_SHAPE);
    vkn_tensor r;
    int64_t rs[1] = {15}, rbad[1] = {16};
    assert_int_equal(vkn_tensor_reshape(&t1, 1, rs, &r), VKN_OK);
    assert_int_equal(vkn_tensor_reshape(&t1, 1, rbad, &r), VKN_ERR_SHAPE);
    vkn_arena_destroy(a);
}

static void test_errors(void **state)
{
    (void)state;
    vkn_cmd *c;
    assert_int_equal(vkn_cmd_create(tu_ctx, &c), VKN_OK);
    int64_t shape[1] = {4};
    vkn_tensor t = tu_tensor(1, shape, NULL);
    assert_int_equal(vkn_op_fill(c, &t, 0.0f), VKN_ERR_ARG);     /* not recording */
    assert_int_equal(vkn_cmd_submit(c), VKN_ERR_ARG);            /* nothing recorded */
    vkn_cmd_destroy(c);
}

/* Tensor sizes: products checked before they are formed (2^17 x 2^17 x 2^31 is 2^65, which wrapped
 * to 2 elements), the device's storage range named, and reshape's product checked the same way
 * ((2^62 + 1) x 4 wrapped to the 4 elements of the tensor). */
static void test_sizes(void **state)
{
    (void)state;
    vkn_tensor t;
    int64_t wrap[3] = {1ll << 17, 1ll << 17, 1ll << 31};
    assert_int_equal(vkn_tensor_alloc(tu_arena, VKN_F32, 3, wrap, &t), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "shape 131072x131072x2147483648 has more than 2^34 elements"));
    int64_t big[2] = {1ll << 31, 4};   /* 32 GiB: no device's storage-buffer range */
    assert_int_equal(vkn_tensor_alloc(tu_arena, VKN_F32, 2, big, &t), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "maxStorageBufferRange"));
    int64_t four[1] = {4}, bad[2] = {(1ll << 62) + 1, 4}, ok[2] = {2, 2};
    vkn_tensor a = tu_tensor(1, four, NULL), r;
    assert_int_equal(vkn_tensor_reshape(&a, 2, bad, &r), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "to shape 4611686018427387905x4"));
    assert_int_equal(vkn_tensor_reshape(&a, 2, ok, &r), VKN_OK);
    assert_int_equal(r.numel, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),  cmocka_unit_test(test_independent), cmocka_unit_test(test_write_after_read),
        cmocka_unit_test(test_replay), cmocka_unit_test(test_arena),       cmocka_unit_test(test_submit_after),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sizes),
    };
    return TU_RUN(tests);
}
