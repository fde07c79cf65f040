/* Max and average pooling, forward and backward, against their references (LeNet's 2x2 max pool, the
 * GAN's feature-map sizes at batch 4, overlapping windows, padding, odd shapes); the reference
 * backward passes against finite differences; shape errors. */
#include "nn_testutil.h"
#include "ops/ref_nn.h"

typedef struct pshape { const char *name; int N, C, H, W; vkn_window2d win; } pshape;

static const pshape shapes[] = {
    {"lenet maxpool 2x2 on 28x28, 32ch", 4, 32, 28, 28, {2, 2, 2, 2, 0, 0}},
    {"2x2 on 7x7 (odd: last row dropped)", 4, 64, 7, 7, {2, 2, 2, 2, 0, 0}},
    {"3x3 s2 p1 on 5x7, 3ch (overlapping, padded)", 2, 3, 5, 7, {3, 3, 2, 2, 1, 1}},
    {"3x3 s1 p1 on 4x4", 1, 2, 4, 4, {3, 3, 1, 1, 1, 1}},
    {"1x1 spatial", 3, 5, 1, 1, {1, 1, 1, 1, 0, 0}},
    {"global 6x5", 2, 3, 6, 5, {6, 5, 1, 1, 0, 0}},
    {"rect 2x3 s(2,1)", 2, 3, 6, 7, {2, 3, 2, 1, 0, 1}},
};

static void run(const pshape *s)
{
    int P = s->N * s->C, H = s->H, W = s->W, Ho, Wo;
    assert_true(vkn_window2d_out(&s->win, H, W, &Ho, &Wo));
    int64_t nx = (int64_t)P * H * W, ny = (int64_t)P * Ho * Wo;
    double *x = nt_rand(nx, -1, 1), *g = nt_rand(ny, -1, 1);
    double *ymax = nt_alloc(ny), *yavg = nt_alloc(ny), *dxmax = nt_alloc(nx), *dxavg = nt_alloc(nx);
    int32_t *idx = calloc((size_t)ny, sizeof *idx), *gidx = calloc((size_t)ny, sizeof *gidx);
    vkn_ref_maxpool2d(&s->win, P, H, W, x, ymax, idx);
    vkn_ref_maxpool2d_backward(&s->win, P, H, W, g, idx, dxmax);
    vkn_ref_avgpool2d(&s->win, P, H, W, x, yavg);
    vkn_ref_avgpool2d_backward(&s->win, P, H, W, g, dxavg);

    vkn_tensor tx = nt_tensor4(s->N, s->C, H, W, x), tg = nt_tensor4(s->N, s->C, Ho, Wo, g);
    vkn_tensor tym = nt_tensor4(s->N, s->C, Ho, Wo, NULL), tya = nt_tensor4(s->N, s->C, Ho, Wo, NULL);
    vkn_tensor tym2 = nt_tensor4(s->N, s->C, Ho, Wo, NULL);
    vkn_tensor tdm = nt_tensor4(s->N, s->C, H, W, NULL), tda = nt_tensor4(s->N, s->C, H, W, NULL);
    vkn_tensor tidx;
    int64_t sh[4] = {s->N, s->C, Ho, Wo};
    assert_int_equal(vkn_tensor_alloc(tu_arena, VKN_I32, 4, sh, &tidx), VKN_OK);
    nt_poison(&tym); nt_poison(&tya); nt_poison(&tdm); nt_poison(&tda);
    tu_begin();
    tu_check_op(vkn_op_maxpool2d(tu_cmd, &tx, &s->win, &tym, &tidx));
    tu_check_op(vkn_op_maxpool2d(tu_cmd, &tx, &s->win, &tym2, NULL));
    tu_check_op(vkn_op_maxpool2d_backward(tu_cmd, &tg, &tidx, &s->win, &tdm));
    tu_check_op(vkn_op_avgpool2d(tu_cmd, &tx, &s->win, &tya));
    tu_check_op(vkn_op_avgpool2d_backward(tu_cmd, &tg, &s->win, &tda));
    tu_run();
    char what[128];
    snprintf(what, sizeof what, "maxpool y [%s]", s->name);
    nt_check(what, &tym, ymax, 0, 0);
    nt_check(what, &tym2, ymax, 0, 0);
    assert_int_equal(vkn_tensor_download(&tidx, gidx), VKN_OK);
    for (int64_t i = 0; i < ny; i++)
        if (gidx[i] != idx[i]) fail_msg("maxpool idx [%s]: element %lld: got %d, reference %d", s->name, (long long)i, gidx[i], idx[i]);
    snprintf(what, sizeof what, "maxpool dx [%s]", s->name);
    nt_check(what, &tdm, dxmax, 1e-6, 1e-6);
    snprintf(what, sizeof what, "avgpool y [%s]", s->name);
    nt_check(what, &tya, yavg, 1e-6, 1e-5);
    snprintf(what, sizeof what, "avgpool dx [%s]", s->name);
    nt_check(what, &tda, dxavg, 1e-6, 1e-5);
    free(x); free(g); free(ymax); free(yavg); free(dxmax); free(dxavg); free(idx); free(gidx);
}

static void test_pool_device(void **state)
{
    (void)state;
    tu_seed(41);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) run(&shapes[k]);
}

typedef struct fd_ctx { int max; vkn_window2d win; int P, H, W; int64_t ny; double *x, *g, *y; } fd_ctx;

static double fd_loss(void *p)
{
    fd_ctx *c = p;
    if (c->max) vkn_ref_maxpool2d(&c->win, c->P, c->H, c->W, c->x, c->y, NULL);
    else vkn_ref_avgpool2d(&c->win, c->P, c->H, c->W, c->x, c->y);
    return nt_dot(c->g, c->y, c->ny);
}

static void test_reference_fd(void **state)
{
    (void)state;
    tu_seed(42);
    for (size_t k = 2; k < sizeof shapes / sizeof *shapes; k++)
        for (int max = 0; max < 2; max++) {
            const pshape *s = &shapes[k];
            int Ho, Wo;
            assert_true(vkn_window2d_out(&s->win, s->H, s->W, &Ho, &Wo));
            fd_ctx c = {max, s->win, s->N * s->C, s->H, s->W, (int64_t)s->N * s->C * Ho * Wo};
            int64_t nx = (int64_t)c.P * s->H * s->W;
            c.x = nt_rand(nx, -1, 1); c.g = nt_rand(c.ny, -1, 1); c.y = nt_alloc(c.ny);
            double *dx = nt_alloc(nx);
            int32_t *idx = calloc((size_t)c.ny, sizeof *idx);
            if (max) {
                vkn_ref_maxpool2d(&s->win, c.P, s->H, s->W, c.x, c.y, idx);
                vkn_ref_maxpool2d_backward(&s->win, c.P, s->H, s->W, c.g, idx, dx);
            } else {
                vkn_ref_avgpool2d_backward(&s->win, c.P, s->H, s->W, c.g, dx);
            }
            char what[128];
            snprintf(what, sizeof what, "%s ref dx (fd) [%s]", max ? "maxpool" : "avgpool", s->name);
            /* random data: no ties, and a step of 1e-6 does not move an argmax */
            nt_fd_check(what, fd_loss, &c, c.x, nx, dx, 500, 1e-6, 1e-7);
            free(c.x); free(c.g); free(c.y); free(dx); free(idx);
        }
}

static void test_errors(void **state)
{
    (void)state;
    vkn_window2d win = {2, 2, 2, 2, 0, 0};
    vkn_tensor x = nt_tensor4(1, 2, 5, 5, NULL), y = nt_tensor4(1, 2, 3, 3, NULL), y2 = nt_tensor4(1, 2, 2, 2, NULL);
    tu_begin();
    assert_int_equal(vkn_op_avgpool2d(tu_cmd, &x, &win, &y), VKN_ERR_SHAPE);   /* 5x5 / 2 gives 2x2 */
    assert_non_null(strstr(vkn_status_detail(), "1x2x3x3"));
    assert_int_equal(vkn_op_maxpool2d(tu_cmd, &x, &win, &y2, &x), VKN_ERR_SHAPE);   /* idx not i32 */
    vkn_window2d bad = {2, 2, 2, 2, 2, 0};
    assert_int_equal(vkn_op_avgpool2d(tu_cmd, &x, &bad, &y2), VKN_ERR_ARG);
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_device), cmocka_unit_test(test_reference_fd), cmocka_unit_test(test_errors),
    };
    return TU_RUN(tests);
}
