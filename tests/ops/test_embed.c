/* Embedding forward/backward, one-hot, concat/split against their references (odd widths take the
 * scalar paths, multiples of 4 the vec4 ones; repeated and out-of-range ids); the reference backward
 * passes against finite differences; shape errors. */
#include "nn_testutil.h"
#include "ops/ref_nn.h"

static int32_t *rand_ids(int64_t n, int K, int allow_bad)
{
    int32_t *ids = calloc((size_t)n, sizeof *ids);
    assert_non_null(ids);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)(tu_uniform() * K);
    if (allow_bad && n > 2) { ids[1] = -1; ids[n - 1] = K; }
    return ids;
}

static void test_embedding(void **state)
{
    (void)state;
    static const int shapes[][3] = {{10, 16, 4}, {10, 50, 64}, {7, 5, 9}, {1, 1, 1}, {3, 4, 100}, {300, 12, 33}};   /* K, D, N */
    tu_seed(51);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int K = shapes[s][0], D = shapes[s][1], N = shapes[s][2];
        double *table = nt_rand((int64_t)K * D, -1, 1), *dy = nt_rand((int64_t)N * D, -1, 1);
        double *y = nt_alloc((int64_t)N * D), *dt = nt_alloc((int64_t)K * D), *oh = nt_alloc((int64_t)N * K);
        int32_t *ids = rand_ids(N, K, s == 2);
        vkn_ref_embedding(K, D, N, table, ids, y);
        vkn_ref_embedding_backward(K, D, N, ids, dy, dt);
        vkn_ref_one_hot(K, N, ids, oh);
        int64_t st[2] = {K, D}, sy[2] = {N, D}, so[2] = {N, K};
        vkn_tensor tt = nt_tensor(2, st, table), tdy = nt_tensor(2, sy, dy), tid = nt_ids(N, ids);
        vkn_tensor ty = nt_tensor(2, sy, NULL), tdt = nt_tensor(2, st, NULL), toh = nt_tensor(2, so, NULL);
        nt_poison(&ty); nt_poison(&tdt); nt_poison(&toh);
        tu_begin();
        tu_check_op(vkn_op_embedding(tu_cmd, &tt, &tid, &ty));
        tu_check_op(vkn_op_embedding_backward(tu_cmd, &tid, &tdy, &tdt));
        tu_check_op(vkn_op_one_hot(tu_cmd, &tid, &toh));
        tu_run();
        char what[96];
        snprintf(what, sizeof what, "embedding K=%d D=%d N=%d", K, D, N);
        nt_check(what, &ty, y, 0, 0);
        snprintf(what, sizeof what, "embedding_backward K=%d D=%d N=%d", K, D, N);
        nt_check(what, &tdt, dt, 1e-6, 1e-6);
        snprintf(what, sizeof what, "one_hot K=%d N=%d", K, N);
        nt_check(what, &toh, oh, 0, 0);
        free(table); free(dy); free(y); free(dt); free(oh); free(ids);
    }
}

static void test_concat_split(void **state)
{
    (void)state;
    /* N, A, B: the GAN's noise+label (100 + 10), channel concat of maps (4x4: 16 per channel), odd */
    static const int64_t shapes[][3] = {{4, 100, 10}, {4, 32 * 16, 10 * 16}, {3, 5, 7}, {1, 1, 1}, {5, 8, 4}, {2, 3, 1}};
    tu_seed(52);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t N = shapes[s][0], A = shapes[s][1], B = shapes[s][2];
        double *a = nt_rand(N * A, -1, 1), *b = nt_rand(N * B, -1, 1), *y = nt_alloc(N * (A + B));
        double *ra = nt_alloc(N * A), *rb = nt_alloc(N * B);
        vkn_ref_concat(N, A, B, a, b, y);
        vkn_ref_split(N, A, B, y, ra, rb);
        for (int64_t i = 0; i < N * A; i++) assert_true(ra[i] == a[i]);
        for (int64_t i = 0; i < N * B; i++) assert_true(rb[i] == b[i]);
        int64_t sa[2] = {N, A}, sb[2] = {N, B}, sy[2] = {N, A + B};
        vkn_tensor ta = nt_tensor(2, sa, a), tb = nt_tensor(2, sb, b), ty = nt_tensor(2, sy, NULL);
        vkn_tensor ta2 = nt_tensor(2, sa, NULL), tb2 = nt_tensor(2, sb, NULL);
        nt_poison(&ty); nt_poison(&ta2); nt_poison(&tb2);
        tu_begin();
        tu_check_op(vkn_op_concat(tu_cmd, &ta, &tb, &ty));
        tu_check_op(vkn_op_split(tu_cmd, &ty, &ta2, &tb2));
        tu_run();
        char what[96];
        snprintf(what, sizeof what, "concat N=%lld A=%lld B=%lld", (long long)N, (long long)A, (long long)B);
        nt_check(what, &ty, y, 0, 0);
        snprintf(what, sizeof what, "split N=%lld A=%lld B=%lld", (long long)N, (long long)A, (long long)B);
        nt_check(what, &ta2, a, 0, 0);
        nt_check(what, &tb2, b, 0, 0);
        free(a); free(b); free(y); free(ra); free(rb);
    }
    /* NCHW channel concatenation: [2,3,4,5] + [2,1,4,5] -> [2,4,4,5] */
    double *a = nt_rand(2 * 3 * 20, -1, 1), *b = nt_rand(2 * 1 * 20, -1, 1), *y = nt_alloc(2 * 4 * 20);
    vkn_ref_concat(2, 60, 20, a, b, y);
    vkn_tensor ta = nt_tensor4(2, 3, 4, 5, a), tb = nt_tensor4(2, 1, 4, 5, b), ty = nt_tensor4(2, 4, 4, 5, NULL);
    tu_begin();
    tu_check_op(vkn_op_concat(tu_cmd, &ta, &tb, &ty));
    tu_run();
    nt_check("concat NCHW channels", &ty, y, 0, 0);
    free(a); free(b); free(y);
}

typedef struct fd_ctx { int K, D, N; const int32_t *ids; double *table, *g, *y; } fd_ctx;

static double fd_loss(void *p)
{
    fd_ctx *c = p;
    vkn_ref_embedding(c->K, c->D, c->N, c->table, c->ids, c->y);
    return nt_dot(c->g, c->y, (int64_t)c->N * c->D);
}

typedef struct cat_ctx { int64_t N, A, B; double *a, *b, *g, *y; } cat_ctx;

static double cat_loss(void *p)
{
    cat_ctx *c = p;
    vkn_ref_concat(c->N, c->A, c->B, c->a, c->b, c->y);
    return nt_dot(c->g, c->y, c->N * (c->A + c->B));
}

static void test_reference_fd(void **state)
{
    (void)state;
    tu_seed(53);
    fd_ctx c = {6, 5, 13};
    int32_t *ids = rand_ids(c.N, c.K, 1);
    c.ids = ids;
    c.table = nt_rand(c.K * c.D, -1, 1); c.g = nt_rand(c.N * c.D, -1, 1); c.y = nt_alloc(c.N * c.D);
    double *dt = nt_alloc(c.K * c.D);
    vkn_ref_embedding_backward(c.K, c.D, c.N, ids, c.g, dt);
    nt_fd_check("embedding ref dtable (fd)", fd_loss, &c, c.table, c.K * c.D, dt, 1000, 1e-3, 1e-9);
    free(ids); free(c.table); free(c.g); free(c.y); free(dt);

    cat_ctx k = {3, 4, 5};
    k.a = nt_rand(12, -1, 1); k.b = nt_rand(15, -1, 1); k.g = nt_rand(27, -1, 1); k.y = nt_alloc(27);
    double *da = nt_alloc(12), *db = nt_alloc(15);
    vkn_ref_split(3, 4, 5, k.g, da, db);
    nt_fd_check("concat ref da (fd)", cat_loss, &k, k.a, 12, da, 100, 1e-3, 1e-9);
    nt_fd_check("concat ref db (fd)", cat_loss, &k, k.b, 15, db, 100, 1e-3, 1e-9);
    free(k.a); free(k.b); free(k.g); free(k.y); free(da); free(db);
}

static void test_errors(void **state)
{
    (void)state;
    int64_t st[2] = {10, 8}, sy[2] = {5, 8}, sb[2] = {4, 8};
    vkn_tensor t = nt_tensor(2, st, NULL), y = nt_tensor(2, sy, NULL), ids = nt_ids(4, NULL), b = nt_tensor(2, sb, NULL);
    tu_begin();
    assert_int_equal(vkn_op_embedding(tu_cmd, &t, &ids, &y), VKN_ERR_SHAPE);     /* 4 ids, y has 5 rows */
    assert_int_equal(vkn_op_embedding(tu_cmd, &t, &t, &y), VKN_ERR_ARG);         /* ids not i32 */
    assert_int_equal(vkn_op_concat(tu_cmd, &y, &b, &t), VKN_ERR_SHAPE);          /* 5 rows vs 4 */
    assert_non_null(strstr(vkn_status_detail(), "5x8"));
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding), cmocka_unit_test(test_concat_split),
        cmocka_unit_test(test_reference_fd), cmocka_unit_test(test_errors),
    };
    return TU_RUN(tests);
}
