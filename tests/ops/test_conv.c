/* Convolution: im2col, col2im, swap01 against their references; conv2d and conv_transpose2d forward and
 * backward (through im2col/GEMM/col2im on the device) against direct-loop references on the conditional
 * GAN's shapes (batch 4), a LeNet 5x5 layer and odd shapes; the reference backward passes against
 * finite differences of the reference forward passes; shape errors. Shapes whose dW GEMM (few tiles, a
 * long L) is split along L on the GPU kernel path (gemm.c, split_plan), the workspace that holds the
 * partials, and bit-identical gradients run to run. */
#include "nn_testutil.h"
#include "ops/gemm_internal.h"
#include "ops/ref_nn.h"

typedef struct cshape {
    const char *name;
    int N, Cin, H, W, Cout;
    vkn_window2d win;
} cshape;

static const cshape conv_shapes[] = {
    {"gan D conv1 1->32 k4s2p1 28x28", 4, 1, 28, 28, 32, {4, 4, 2, 2, 1, 1}},
    {"gan D conv2 32->64 k4s2p1 14x14", 4, 32, 14, 14, 64, {4, 4, 2, 2, 1, 1}},
    {"lenet 3->32 k5 32x32", 4, 3, 32, 32, 32, {5, 5, 1, 1, 0, 0}},
    {"k3s2p1 on 5x7, 3->5", 2, 3, 5, 7, 5, {3, 3, 2, 2, 1, 1}},
    {"1x1 spatial k1", 3, 2, 1, 1, 3, {1, 1, 1, 1, 0, 0}},
    {"1x1 spatial k3p1", 2, 3, 1, 1, 4, {3, 3, 1, 1, 1, 1}},
    {"rect k2x3 s(1,2) p(0,1)", 2, 3, 6, 5, 3, {2, 3, 1, 2, 0, 1}},
    /* dW split along L on the GPU path (the first: DANN's conv1 at batch 8, L = 4608 in 18 slices) */
    {"dann conv1 3->32 k5 28x28", 8, 3, 28, 28, 32, {5, 5, 1, 1, 0, 0}},
    {"odd 3->5 k3p1 23x19", 3, 3, 23, 19, 5, {3, 3, 1, 1, 1, 1}},
};
#define CONV_SPLIT_FIRST 7   /* conv_shapes[7..]: the dW GEMM splits */

typedef struct tshape {
    const char *name;
    int N, Cin, H, W, Cout, Ho, Wo;   /* Ho, Wo 0: the default (no output padding) */
    vkn_window2d win;
} tshape;

static const tshape convt_shapes[] = {
    {"gan G convT 64->32 k4s2p1 7x7", 4, 64, 7, 7, 32, 0, 0, {4, 4, 2, 2, 1, 1}},
    {"gan G convT 32->1 k4s2p1 14x14", 4, 32, 14, 14, 1, 0, 0, {4, 4, 2, 2, 1, 1}},
    {"k3s2p1 on 5x7, 3->2", 2, 3, 5, 7, 2, 0, 0, {3, 3, 2, 2, 1, 1}},
    {"k3s2p1 on 5x7 + output padding", 2, 3, 5, 7, 2, 10, 14, {3, 3, 2, 2, 1, 1}},
    {"1x1 spatial k3", 3, 4, 1, 1, 3, 0, 0, {3, 3, 1, 1, 0, 0}},
    {"1x1 spatial k1", 2, 3, 1, 1, 5, 0, 0, {1, 1, 1, 1, 0, 0}},
    /* the output padding decides the size: the default Wo is -1 (issue 14 item 5) or 0 */
    {"1x1 k5 s(1,3) p(0,3) op(0,2): Wo -1 -> 1", 1, 4, 1, 1, 4, 5, 1, {5, 5, 1, 3, 0, 3}},
    {"2x1 k(3,2) s(2,3) p1 op(1,2): Wo 0 -> 2", 2, 3, 2, 1, 2, 4, 2, {3, 2, 2, 3, 1, 1}},
    {"3x2 k3 s3 p2 op(2,1): 5x2 -> 7x3", 1, 5, 3, 2, 3, 7, 3, {3, 3, 3, 3, 2, 2}},
    /* dW split along L on the GPU path */
    {"convT 8->3 k4s2p1 16x16", 4, 8, 16, 16, 3, 0, 0, {4, 4, 2, 2, 1, 1}},
    {"convT 5->2 k3p1 19x23", 3, 5, 19, 23, 2, 0, 0, {3, 3, 1, 1, 1, 1}},
};
#define CONVT_SPLIT_FIRST 9

static void tdims(const tshape *s, int *Ho, int *Wo)
{
    int sh = s->win.sh ? s->win.sh : 1, sw = s->win.sw ? s->win.sw : 1;
    *Ho = s->Ho ? s->Ho : (s->H - 1) * sh - 2 * s->win.ph + s->win.kh;
    *Wo = s->Wo ? s->Wo : (s->W - 1) * sw - 2 * s->win.pw + s->win.kw;
}

/* ---- building blocks ---- */

static void test_im2col_col2im(void **state)
{
    (void)state;
    tu_seed(31);
    for (size_t k = 0; k < sizeof conv_shapes / sizeof *conv_shapes; k++) {
        const cshape *s = &conv_shapes[k];
        int N = s->N > 2 ? 2 : s->N, C = s->Cin, H = s->H, W = s->W, Ho, Wo;
        assert_true(vkn_window2d_out(&s->win, H, W, &Ho, &Wo));
        int64_t nx = (int64_t)N * C * H * W, R = (int64_t)C * s->win.kh * s->win.kw, L = (int64_t)N * Ho * Wo;
        double *x = nt_rand(nx, -1, 1), *col = nt_rand(R * L, -1, 1), *bias = nt_rand(C, -1, 1);
        double *rcol = nt_alloc(R * L), *rx = nt_alloc(nx);
        vkn_ref_im2col(&s->win, N, C, H, W, x, rcol);
        vkn_ref_col2im(&s->win, N, C, H, W, col, bias, rx);
        /* the references are adjoint: <im2col(x), col> = <x, col2im(col)> (bias off) */
        double *rx0 = nt_alloc(nx);
        vkn_ref_col2im(&s->win, N, C, H, W, col, NULL, rx0);
        double l = nt_dot(rcol, col, R * L), r = nt_dot(x, rx0, nx);
        assert_true(fabs(l - r) <= 1e-9 * (1 + fabs(l)));

        int64_t sc[2] = {R, L};
        vkn_tensor tx = nt_tensor4(N, C, H, W, x), tcol = nt_tensor(2, sc, col), tb = nt_tensor1(C, bias);
        vkn_tensor ocol = nt_tensor(2, sc, NULL), ox = nt_tensor4(N, C, H, W, NULL), ox0 = nt_tensor4(N, C, H, W, NULL);
        nt_poison(&ocol);
        nt_poison(&ox);
        tu_begin();
        tu_check_op(vkn_op_im2col(tu_cmd, &tx, &s->win, &ocol));
        tu_check_op(vkn_op_col2im(tu_cmd, &tcol, &s->win, &tb, &ox));
        tu_check_op(vkn_op_col2im(tu_cmd, &tcol, &s->win, NULL, &ox0));
        tu_run();
        char what[128];
        snprintf(what, sizeof what, "im2col %s", s->name);
        nt_check(what, &ocol, rcol, 0, 0);
        snprintf(what, sizeof what, "col2im %s", s->name);
        nt_check(what, &ox, rx, 1e-5, 1e-5);
        nt_check(what, &ox0, rx0, 1e-5, 1e-5);
        free(x); free(col); free(bias); free(rcol); free(rx); free(rx0);
    }
}

static void test_swap01(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{1, 1, 1}, {2, 3, 4}, {3, 2, 5}, {4, 32, 196}, {64, 4, 49}, {5, 7, 1}, {1, 9, 8}};
    tu_seed(32);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int64_t A = shapes[k][0], B = shapes[k][1], P = shapes[k][2], n = A * B * P;
        double *x = nt_rand(n, -1, 1), *y = nt_alloc(n);
        vkn_ref_swap01(A, B, P, x, y);
        vkn_tensor tx = nt_tensor1(n, x), ty = nt_tensor1(n, NULL);
        tu_begin();
        tu_check_op(vkn_op_swap01(tu_cmd, &tx, A, B, P, &ty));
        tu_run();
        char what[64];
        snprintf(what, sizeof what, "swap01 %lldx%lldx%lld", (long long)A, (long long)B, (long long)P);
        nt_check(what, &ty, y, 0, 0);
        free(x); free(y);
    }
}

/* ---- conv2d ---- */

static void run_conv(const cshape *s, int with_bias)
{
    int N = s->N, Ci = s->Cin, H = s->H, W = s->W, Co = s->Cout, kh = s->win.kh, kw = s->win.kw, Ho, Wo;
    assert_true(vkn_window2d_out(&s->win, H, W, &Ho, &Wo));
    int64_t nx = (int64_t)N * Ci * H * W, nw = (int64_t)Co * Ci * kh * kw, ny = (int64_t)N * Co * Ho * Wo;
    double *x = nt_rand(nx, -1, 1), *w = nt_rand(nw, -0.5, 0.5), *b = nt_rand(Co, -1, 1), *g = nt_rand(ny, -1, 1);
    double *y = nt_alloc(ny), *dx = nt_alloc(nx), *dw = nt_alloc(nw), *db = nt_alloc(Co);
    vkn_ref_conv2d(&s->win, N, Ci, H, W, Co, x, w, with_bias ? b : NULL, y);
    vkn_ref_conv2d_backward(&s->win, N, Ci, H, W, Co, x, w, g, dx, dw, db);

    int64_t wsf = vkn_conv2d_workspace_size(N, Ci, H, W, Co, &s->win), wsb = vkn_conv2d_backward_workspace_size(N, Ci, H, W, Co, &s->win);
    assert_true(wsf > 0 && wsb > 0);
    int64_t nws = wsf > wsb ? wsf : wsb;
    vkn_tensor tx = nt_tensor4(N, Ci, H, W, x), tw = nt_tensor4(Co, Ci, kh, kw, w), tb = nt_tensor1(Co, b);
    vkn_tensor tg = nt_tensor4(N, Co, Ho, Wo, g), ty = nt_tensor4(N, Co, Ho, Wo, NULL), ws = nt_tensor1(nws, NULL);
    vkn_tensor tdx = nt_tensor4(N, Ci, H, W, NULL), tdw = nt_tensor4(Co, Ci, kh, kw, NULL), tdb = nt_tensor1(Co, NULL);
    nt_poison(&ty); nt_poison(&tdx); nt_poison(&tdw); nt_poison(&tdb); nt_poison(&ws);
    tu_begin();
    tu_check_op(vkn_op_conv2d(tu_cmd, &tx, &tw, with_bias ? &tb : NULL, &s->win, &ty, &ws));
    tu_check_op(vkn_op_conv2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, &tdx, &tdw, &tdb, &ws));
    tu_run();
    char what[160];
    int64_t K = (int64_t)Ci * kh * kw, L = (int64_t)N * Ho * Wo, Kb = (int64_t)Co * kh * kw;
    snprintf(what, sizeof what, "conv2d y [%s] bias=%d", s->name, with_bias);
    nt_check(what, &ty, y, 2e-6 * (double)(K > 16 ? K : 16), 1e-4);
    snprintf(what, sizeof what, "conv2d dx [%s]", s->name);
    nt_check(what, &tdx, dx, 2e-6 * (double)(Kb > 16 ? Kb : 16), 1e-4);
    snprintf(what, sizeof what, "conv2d dw [%s]", s->name);
    nt_check(what, &tdw, dw, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);
    snprintf(what, sizeof what, "conv2d db [%s]", s->name);
    nt_check(what, &tdb, db, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);

    /* gradients one at a time (NULL skips): same results */
    nt_poison(&tdx); nt_poison(&tdw); nt_poison(&tdb);
    tu_begin();
    tu_check_op(vkn_op_conv2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, &tdx, NULL, NULL, &ws));
    tu_check_op(vkn_op_conv2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, NULL, &tdw, NULL, &ws));
    tu_check_op(vkn_op_conv2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, NULL, NULL, &tdb, &ws));
    tu_run();
    snprintf(what, sizeof what, "conv2d dx alone [%s]", s->name);
    nt_check(what, &tdx, dx, 2e-6 * (double)(Kb > 16 ? Kb : 16), 1e-4);
    snprintf(what, sizeof what, "conv2d dw alone [%s]", s->name);
    nt_check(what, &tdw, dw, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);
    nt_check(what, &tdb, db, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);
    free(x); free(w); free(b); free(g); free(y); free(dx); free(dw); free(db);
}

static void test_conv2d(void **state)
{
    (void)state;
    tu_seed(33);
    for (size_t k = 0; k < sizeof conv_shapes / sizeof *conv_shapes; k++) run_conv(&conv_shapes[k], k != 4);
}

/* ---- conv_transpose2d ---- */

static void run_convt(const tshape *s, int with_bias)
{
    int N = s->N, Ci = s->Cin, H = s->H, W = s->W, Co = s->Cout, kh = s->win.kh, kw = s->win.kw, Ho, Wo;
    tdims(s, &Ho, &Wo);
    int64_t nx = (int64_t)N * Ci * H * W, nw = (int64_t)Ci * Co * kh * kw, ny = (int64_t)N * Co * Ho * Wo;
    double *x = nt_rand(nx, -1, 1), *w = nt_rand(nw, -0.5, 0.5), *b = nt_rand(Co, -1, 1), *g = nt_rand(ny, -1, 1);
    double *y = nt_alloc(ny), *dx = nt_alloc(nx), *dw = nt_alloc(nw), *db = nt_alloc(Co);
    vkn_ref_conv_transpose2d(&s->win, N, Ci, H, W, Co, Ho, Wo, x, w, with_bias ? b : NULL, y);
    vkn_ref_conv_transpose2d_backward(&s->win, N, Ci, H, W, Co, Ho, Wo, x, w, g, dx, dw, db);

    int64_t wsf = vkn_conv_transpose2d_workspace_size(N, Ci, H, W, Co, &s->win);
    int64_t wsb = vkn_conv_transpose2d_backward_workspace_size(N, Ci, H, W, Co, Ho, Wo, &s->win);
    assert_true(wsf > 0 && wsb > 0);
    int64_t nws = wsf > wsb ? wsf : wsb;
    vkn_tensor tx = nt_tensor4(N, Ci, H, W, x), tw = nt_tensor4(Ci, Co, kh, kw, w), tb = nt_tensor1(Co, b);
    vkn_tensor tg = nt_tensor4(N, Co, Ho, Wo, g), ty = nt_tensor4(N, Co, Ho, Wo, NULL), ws = nt_tensor1(nws, NULL);
    vkn_tensor tdx = nt_tensor4(N, Ci, H, W, NULL), tdw = nt_tensor4(Ci, Co, kh, kw, NULL), tdb = nt_tensor1(Co, NULL);
    nt_poison(&ty); nt_poison(&tdx); nt_poison(&tdw); nt_poison(&tdb); nt_poison(&ws);
    tu_begin();
    tu_check_op(vkn_op_conv_transpose2d(tu_cmd, &tx, &tw, with_bias ? &tb : NULL, &s->win, &ty, &ws));
    tu_check_op(vkn_op_conv_transpose2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, &tdx, &tdw, &tdb, &ws));
    tu_run();
    char what[160];
    int64_t K = (int64_t)Ci * kh * kw, L = (int64_t)N * Ho * Wo, Kb = (int64_t)Co * kh * kw;
    snprintf(what, sizeof what, "convT y [%s] bias=%d", s->name, with_bias);
    nt_check(what, &ty, y, 2e-6 * (double)(K > 16 ? K : 16), 1e-4);
    snprintf(what, sizeof what, "convT dx [%s]", s->name);
    nt_check(what, &tdx, dx, 2e-6 * (double)(Kb > 16 ? Kb : 16), 1e-4);
    snprintf(what, sizeof what, "convT dw [%s]", s->name);
    nt_check(what, &tdw, dw, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);
    snprintf(what, sizeof what, "convT db [%s]", s->name);
    nt_check(what, &tdb, db, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);

    nt_poison(&tdx); nt_poison(&tdw);
    tu_begin();
    tu_check_op(vkn_op_conv_transpose2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, &tdx, NULL, NULL, &ws));
    tu_check_op(vkn_op_conv_transpose2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, NULL, &tdw, NULL, &ws));
    tu_run();
    snprintf(what, sizeof what, "convT dx alone [%s]", s->name);
    nt_check(what, &tdx, dx, 2e-6 * (double)(Kb > 16 ? Kb : 16), 1e-4);
    snprintf(what, sizeof what, "convT dw alone [%s]", s->name);
    nt_check(what, &tdw, dw, 2e-6 * (double)(L > 16 ? L : 16), 1e-4);
    free(x); free(w); free(b); free(g); free(y); free(dx); free(dw); free(db);
}

static void test_conv_transpose2d(void **state)
{
    (void)state;
    tu_seed(34);
    for (size_t k = 0; k < sizeof convt_shapes / sizeof *convt_shapes; k++) run_convt(&convt_shapes[k], k != 5 && k != 7);
}

/* ---- split-K dW ---- */

/* The backward workspaces hold the dW GEMM's split-K partials after the other slices; the gradients of
 * a split dW come out bit-identical run after run (plain stores, a fixed summation order). */
static void test_split_k_dw(void **state)
{
    (void)state;
    tu_seed(36);
    for (size_t k = CONV_SPLIT_FIRST; k < sizeof conv_shapes / sizeof *conv_shapes; k++) {
        const cshape *s = &conv_shapes[k];
        int Ho, Wo;
        assert_true(vkn_window2d_out(&s->win, s->H, s->W, &Ho, &Wo));
        int64_t K = (int64_t)s->Cin * s->win.kh * s->win.kw, L = (int64_t)s->N * Ho * Wo;
        int64_t np = vkn_gemm_split_scratch_numel(s->Cout, K, L, 1);
        assert_true(np > 0);
        int64_t Kp = (K + 3) / 4 * 4;   /* the CPU path's padded K (col [Kp, L], padded W [Cout, Kp]) */
        int64_t base = (Kp * L + 63) / 64 * 64 + ((int64_t)s->Cout * L + 63) / 64 * 64;
        if (Kp != K) base += ((int64_t)s->Cout * Kp + 63) / 64 * 64;
        assert_int_equal(vkn_conv2d_backward_workspace_size(s->N, s->Cin, s->H, s->W, s->Cout, &s->win),
                         base + (np + 63) / 64 * 64);
    }
    for (size_t k = CONVT_SPLIT_FIRST; k < sizeof convt_shapes / sizeof *convt_shapes; k++) {
        const tshape *s = &convt_shapes[k];
        int Ho, Wo;
        tdims(s, &Ho, &Wo);
        int64_t Kt = (int64_t)s->Cout * s->win.kh * s->win.kw, L = (int64_t)s->N * s->H * s->W;
        int64_t np = vkn_gemm_split_scratch_numel(s->Cin, Kt, L, 1);
        assert_true(np > 0);
        int64_t base = (Kt * L + 63) / 64 * 64 + ((int64_t)s->Cin * L + 63) / 64 * 64;
        assert_int_equal(vkn_conv_transpose2d_backward_workspace_size(s->N, s->Cin, s->H, s->W, s->Cout, Ho, Wo, &s->win),
                         base + (np + 63) / 64 * 64);
    }

    const cshape *s = &conv_shapes[CONV_SPLIT_FIRST];
    int N = s->N, Ci = s->Cin, H = s->H, W = s->W, Co = s->Cout, kh = s->win.kh, kw = s->win.kw, Ho, Wo;
    assert_true(vkn_window2d_out(&s->win, H, W, &Ho, &Wo));
    int64_t nx = (int64_t)N * Ci * H * W, nw = (int64_t)Co * Ci * kh * kw, ny = (int64_t)N * Co * Ho * Wo;
    double *x = nt_rand(nx, -1, 1), *w = nt_rand(nw, -0.5, 0.5), *g = nt_rand(ny, -1, 1);
    vkn_tensor tx = nt_tensor4(N, Ci, H, W, x), tw = nt_tensor4(Co, Ci, kh, kw, w), tg = nt_tensor4(N, Co, Ho, Wo, g);
    vkn_tensor ws = nt_tensor1(vkn_conv2d_backward_workspace_size(N, Ci, H, W, Co, &s->win), NULL);
    vkn_tensor dw0 = nt_tensor4(Co, Ci, kh, kw, NULL), dw1 = nt_tensor4(Co, Ci, kh, kw, NULL);
    float *r0 = tu_alloc(nw), *r1 = tu_alloc(nw);
    for (int run = 0; run < 2; run++) {
        nt_poison(&ws);
        tu_begin();
        tu_check_op(vkn_op_conv2d_backward(tu_cmd, &tx, &tw, &tg, &s->win, NULL, run ? &dw1 : &dw0, NULL, &ws));
        tu_run();
    }
    tu_download(&dw0, r0);
    tu_download(&dw1, r1);
    assert_memory_equal(r0, r1, (size_t)nw * sizeof *r0);
    free(x); free(w); free(g); free(r0); free(r1);
}

/* ---- finite differences of the references ---- */

typedef struct fd_ctx {
    int transposed;
    vkn_window2d win;
    int N, Ci, H, W, Co, Ho, Wo;
    double *x, *w, *b, *g, *y;
} fd_ctx;

static double fd_loss(void *p)
{
    fd_ctx *c = p;
    if (c->transposed) vkn_ref_conv_transpose2d(&c->win, c->N, c->Ci, c->H, c->W, c->Co, c->Ho, c->Wo, c->x, c->w, c->b, c->y);
    else vkn_ref_conv2d(&c->win, c->N, c->Ci, c->H, c->W, c->Co, c->x, c->w, c->b, c->y);
    return nt_dot(c->g, c->y, (int64_t)c->N * c->Co * c->Ho * c->Wo);
}

static void fd_one(int transposed, int N, int Ci, int H, int W, int Co, int Ho, int Wo, vkn_window2d win)
{
    fd_ctx c = {transposed, win, N, Ci, H, W, Co, Ho, Wo};
    if (!transposed) assert_true(vkn_window2d_out(&win, H, W, &c.Ho, &c.Wo));
    int64_t nx = (int64_t)N * Ci * H * W, nw = (int64_t)Ci * Co * win.kh * win.kw, ny = (int64_t)N * Co * c.Ho * c.Wo;
    c.x = nt_rand(nx, -1, 1); c.w = nt_rand(nw, -1, 1); c.b = nt_rand(Co, -1, 1); c.g = nt_rand(ny, -1, 1);
    c.y = nt_alloc(ny);
    double *dx = nt_alloc(nx), *dw = nt_alloc(nw), *db = nt_alloc(Co);
    if (transposed) vkn_ref_conv_transpose2d_backward(&win, N, Ci, H, W, Co, c.Ho, c.Wo, c.x, c.w, c.g, dx, dw, db);
    else vkn_ref_conv2d_backward(&win, N, Ci, H, W, Co, c.x, c.w, c.g, dx, dw, db);
    const char *op = transposed ? "convT" : "conv2d";
    char what[64];
    snprintf(what, sizeof what, "%s ref dx (fd)", op);
    nt_fd_check(what, fd_loss, &c, c.x, nx, dx, 400, 1e-3, 1e-8);
    snprintf(what, sizeof what, "%s ref dw (fd)", op);
    nt_fd_check(what, fd_loss, &c, c.w, nw, dw, 400, 1e-3, 1e-8);
    snprintf(what, sizeof what, "%s ref db (fd)", op);
    nt_fd_check(what, fd_loss, &c, c.b, Co, db, 400, 1e-3, 1e-8);
    free(c.x); free(c.w); free(c.b); free(c.g); free(c.y); free(dx); free(dw); free(db);
}

static void test_reference_fd(void **state)
{
    (void)state;
    tu_seed(35);
    fd_one(0, 2, 3, 5, 7, 4, 0, 0, (vkn_window2d){3, 3, 2, 2, 1, 1});
    fd_one(0, 1, 2, 6, 6, 3, 0, 0, (vkn_window2d){4, 4, 2, 2, 1, 1});
    fd_one(0, 2, 2, 6, 5, 2, 0, 0, (vkn_window2d){2, 3, 1, 2, 0, 1});
    fd_one(1, 2, 3, 3, 4, 2, 5, 7, (vkn_window2d){3, 3, 2, 2, 1, 1});
    fd_one(1, 1, 2, 3, 3, 3, 6, 6, (vkn_window2d){4, 4, 2, 2, 1, 1});
    fd_one(1, 2, 2, 3, 3, 2, 6, 6, (vkn_window2d){3, 3, 2, 2, 1, 1});   /* output padding 1 */
    fd_one(1, 1, 4, 1, 1, 2, 5, 1, (vkn_window2d){5, 5, 1, 3, 0, 3});   /* only the output padding: Wo -1 -> 1 */
    fd_one(1, 2, 3, 2, 1, 2, 4, 2, (vkn_window2d){3, 2, 2, 3, 1, 1});   /* Wo 0 -> 2 */
}

static void test_errors(void **state)
{
    (void)state;
    vkn_window2d win = {3, 3, 1, 1, 0, 0};
    vkn_tensor x = nt_tensor4(1, 2, 5, 5, NULL), w = nt_tensor4(4, 3, 3, 3, NULL), y = nt_tensor4(1, 4, 3, 3, NULL);
    vkn_tensor w2 = nt_tensor4(4, 2, 3, 3, NULL), ws = nt_tensor1(16, NULL);
    tu_begin();
    assert_int_equal(vkn_op_conv2d(tu_cmd, &x, &w, NULL, &win, &y, &ws), VKN_ERR_SHAPE);   /* Cin 2 vs 3 */
    assert_non_null(strstr(vkn_status_detail(), "4x3x3x3"));
    assert_int_equal(vkn_op_conv2d(tu_cmd, &x, &w2, NULL, &win, &y, &ws), VKN_ERR_SHAPE);  /* workspace */
    assert_non_null(strstr(vkn_status_detail(), "workspace"));
    vkn_tensor y2 = nt_tensor4(1, 4, 4, 3, NULL);
    assert_int_equal(vkn_op_conv2d(tu_cmd, &x, &w2, NULL, &win, &y2, &ws), VKN_ERR_SHAPE); /* y's H */
    vkn_window2d big = {7, 7, 1, 1, 0, 0};
    assert_int_equal(vkn_conv2d_workspace_size(1, 2, 5, 5, 4, &big), 0);
    /* transposed: empty even with the largest output padding (stride - 1) -> 0; one that an output
     * padding rescues -> the same size as any other output size (no slice depends on it) */
    vkn_window2d never = {2, 2, 1, 1, 1, 1}, rescued = {5, 5, 1, 3, 0, 3};
    assert_int_equal(vkn_conv_transpose2d_workspace_size(1, 2, 1, 1, 2, &never), 0);
    /* col [Kt = 4*5*5, L = 1] + X' [Cin = 4, L], each rounded to 64, + the forward GEMM's partials */
    assert_int_equal(vkn_conv_transpose2d_workspace_size(1, 4, 1, 1, 4, &rescued),
                     128 + 64 + (vkn_gemm_split_scratch_numel(100, 1, 4, 1) + 63) / 64 * 64);
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_im2col_col2im), cmocka_unit_test(test_swap01),  cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv_transpose2d), cmocka_unit_test(test_split_k_dw), cmocka_unit_test(test_reference_fd),
        cmocka_unit_test(test_errors),
    };
    return TU_RUN(tests);
}
