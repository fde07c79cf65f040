/* vkn-op (apps/op) end to end: the test writes small input files with the io builder, runs the
 * program (path in VKN_OP), reads its output file and compares with the plain-C references
 * (src/ops/ref.h, ref_nn.h, ref_train.h, vkn/norm_ref.h): one representative op of each family,
 * forward and backward, and norm layers with loaded and default parameters. Then bad arguments,
 * missing / corrupt files and wrong tensors: exit code (2 usage, 1 runtime) and message; ids and labels
 * out of range (exit 1, nothing written), NaN through relu and the hinge loss, and a conv_transpose2d
 * whose output exists only through its output padding, on both kernel families. The
 * validation layer is on (VKN_VALIDATE=1): vkn-op exits 1 on any validation message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "vkn/vkn.h"
#include "vkn/io.h"
#include "ops/ref.h"
#include "ops/ref_nn.h"
#include "ops/ref_train.h"
#include "vkn/norm_ref.h"
#include "../io/io_test_util.h"

static const char *dir;        /* temporary folder of this run */
static char err_text[8192];    /* stderr of the last run */
static char out_text[8192];    /* stdout of the last run */

/* ---- helpers ---- */
static uint64_t rng = 12345;
static double uni(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static float *rnd(int64_t n, double lo, double hi)
{
    float *p = malloc(sizeof(float) * (size_t)n);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * uni());
    return p;
}
static double *to_d(const float *x, int64_t n)
{
    double *p = malloc(sizeof(double) * (size_t)(n ? n : 1));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = x[i];
    return p;
}

static const char *path_of(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

typedef struct tin {
    const char *name;
    vkn_io_dtype dt;
    int nd;
    int64_t shape[4];
    const void *data;
} tin;

static void write_in(const char *file, const tin *t, int n)
{
    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    for (int i = 0; i < n; i++)
        if (vkn_io_safetensors_add(b, t[i].name, t[i].dt, t[i].nd, t[i].shape, t[i].data) != VKN_OK)
            fail_msg("add %s: %s", t[i].name, vkn_status_detail());
    assert_int_equal(vkn_io_safetensors_write(b, path_of(file)), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
}

static void slurp(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* run vkn-op with the given arguments (a printf format; file names are under dir); returns the exit code */
static int run_op(const char *fmt, ...)
{
    const char *exe = getenv("VKN_OP");
    if (!exe) fail_msg("VKN_OP (the vkn-op program) is not set");
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >stdout.txt 2>stderr.txt", dir, exe, args);
    int st = system(cmd);
    slurp(path_of("stderr.txt"), err_text, sizeof err_text);
    slurp(path_of("stdout.txt"), out_text, sizeof out_text);
    if (st == -1 || !WIFEXITED(st)) fail_msg("vkn-op %s: did not exit normally (status %d): %s", args, st, err_text);
    return WEXITSTATUS(st);
}

static void run_ok(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = run_op("%s", args);
    if (rc != 0) fail_msg("vkn-op %s: exit %d: %s", args, rc, err_text);
}

static void expect_fail(int code, const char *needle1, const char *needle2, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = run_op("%s", args);
    if (rc != code) fail_msg("vkn-op %s: exit %d, expected %d (stderr: %s)", args, rc, code, err_text);
    if (needle1 && !strstr(err_text, needle1)) fail_msg("vkn-op %s: stderr lacks \"%s\": %s", args, needle1, err_text);
    if (needle2 && !strstr(err_text, needle2)) fail_msg("vkn-op %s: stderr lacks \"%s\": %s", args, needle2, err_text);
}

/* read output `name` of file (F32, expected shape) */
static float *read_out(const char *file, const char *name, int nd, const int64_t *shape)
{
    vkn_io_safetensors *f;
    if (vkn_io_safetensors_open(path_of(file), &f) != VKN_OK) fail_msg("open %s: %s", file, vkn_status_detail());
    const vkn_io_tensor_info *ti = vkn_io_safetensors_lookup(f, name);
    if (!ti) fail_msg("%s has no output '%s'", file, name);
    float *p = malloc(sizeof(float) * (size_t)(ti->numel ? ti->numel : 1));
    assert_non_null(p);
    if (vkn_io_safetensors_read(f, name, VKN_IO_F32, nd, shape, p) != VKN_OK)
        fail_msg("%s/%s: %s", file, name, vkn_status_detail());
    vkn_io_safetensors_close(f);
    return p;
}

static void close_f(const char *what, const float *got, const float *ref, int64_t n, double atol, double rtol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - ref[i]) <= atol + rtol * fabs(ref[i])))
            fail_msg("%s: element %lld: vkn-op %.9g, reference %.9g", what, (long long)i, got[i], ref[i]);
}
static void close_d(const char *what, const float *got, const double *ref, int64_t n, double atol, double rtol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - ref[i]) <= atol + rtol * fabs(ref[i])))
            fail_msg("%s: element %lld: vkn-op %.9g, reference %.9g", what, (long long)i, got[i], ref[i]);
}
static void check_out(const char *file, const char *name, int nd, const int64_t *shape, const float *ref, int64_t n,
                      double tol)
{
    float *g = read_out(file, name, nd, shape);
    char what[128];
    snprintf(what, sizeof what, "%s %s", file, name);
    close_f(what, g, ref, n, tol, tol);
    free(g);
}
static void check_out_d(const char *file, const char *name, int nd, const int64_t *shape, const double *ref, int64_t n,
                        double tol)
{
    float *g = read_out(file, name, nd, shape);
    char what[128];
    snprintf(what, sizeof what, "%s %s", file, name);
    close_d(what, g, ref, n, tol, tol);
    free(g);
}

static int setup(void **state)
{
    (void)state;
    dir = tmp_dir();
    return 0;
}

/* ---- families ---- */
static void t_unary(void **state)
{
    (void)state;
    const int64_t n = 37;
    float *x = rnd(n, -2, 2), *dy = rnd(n, -1, 1), y[37], dx[37];
    tin in[] = {{"x", VKN_IO_F32, 1, {n}, x}, {"dy", VKN_IO_F32, 1, {n}, dy}};
    write_in("unary.st", in, 2);
    run_ok("leaky_relu --in unary.st --out unary_out.st --alpha 0.2");
    vkn_ref_unary(VKN_UNARY_LEAKY_RELU, 0.2f, x, y, n);
    check_out("unary_out.st", "y", 1, &n, y, n, 1e-6);
    double *xd = to_d(x, n), *dyd = to_d(dy, n), dxd[37];
    vkn_ref_act_grad(VKN_ACT_LEAKY_RELU, 0.2, xd, dyd, dxd, n);
    for (int i = 0; i < n; i++) dx[i] = (float)dxd[i];
    check_out("unary_out.st", "dx", 1, &n, dx, n, 1e-6);
    /* sigmoid: no dy -> no dx */
    tin in2[] = {{"x", VKN_IO_F32, 1, {n}, x}};
    write_in("unary2.st", in2, 1);
    run_ok("sigmoid --in unary2.st --out unary2_out.st");
    vkn_ref_unary(VKN_UNARY_SIGMOID, 0, x, y, n);
    check_out("unary2_out.st", "y", 1, &n, y, n, 1e-5);
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path_of("unary2_out.st"), &f), VKN_OK);
    assert_null(vkn_io_safetensors_lookup(f, "dx"));
    assert_string_equal(vkn_io_safetensors_meta_get(f, "op"), "sigmoid");
    assert_string_equal(vkn_io_safetensors_meta_get(f, "backward"), "0");
    assert_non_null(vkn_io_safetensors_meta_get(f, "vknorm_commit"));
    assert_non_null(strstr(vkn_io_safetensors_meta_get(f, "device"), "Vulkan"));
    vkn_io_safetensors_close(f);
    free(x); free(dy); free(xd); free(dyd);
}

static void t_binary(void **state)
{
    (void)state;
    /* a [2,3,4] * b [3,1]: b broadcasts over axes 0 and 2 */
    int64_t sa[3] = {2, 3, 4}, sb[2] = {3, 1};
    float *a = rnd(24, -2, 2), *b = rnd(3, 0.5, 2), *dy = rnd(24, -1, 1);
    tin in[] = {{"a", VKN_IO_F32, 3, {2, 3, 4}, a}, {"b", VKN_IO_F32, 2, {3, 1}, b}, {"dy", VKN_IO_F32, 3, {2, 3, 4}, dy}};
    write_in("bin.st", in, 3);
    run_ok("div --in bin.st --out bin_out.st");
    float y[24], da[24], t[24], db[3];
    vkn_ref_binary(VKN_BINARY_DIV, a, 3, sa, b, 2, sb, y);
    check_out("bin_out.st", "y", 3, sa, y, 24, 1e-6);
    vkn_ref_binary(VKN_BINARY_DIV, dy, 3, sa, b, 2, sb, da);           /* da = dy / b */
    check_out("bin_out.st", "da", 3, sa, da, 24, 1e-6);
    for (int i = 0; i < 24; i++) t[i] = -dy[i] * y[i];                  /* db = sum -dy a / b^2 = sum -dy y / b */
    float t2[24];
    vkn_ref_binary(VKN_BINARY_DIV, t, 3, sa, b, 2, sb, t2);
    vkn_ref_reduce(VKN_REDUCE_SUM, t2, 3, sa, 5u, db);
    check_out("bin_out.st", "db", 2, sb, db, 3, 1e-5);
    free(a); free(b); free(dy);
}

static void t_reduce(void **state)
{
    (void)state;
    int64_t sx[3] = {3, 4, 5}, sy[1] = {4};
    float *x = rnd(60, -3, 3), *dy = rnd(4, -1, 1), y[4], dx[60];
    tin in[] = {{"x", VKN_IO_F32, 3, {3, 4, 5}, x}, {"dy", VKN_IO_F32, 1, {4}, dy}};
    write_in("red.st", in, 2);
    run_ok("mean --in red.st --out red_out.st --axes 0,-1");
    vkn_ref_reduce(VKN_REDUCE_MEAN, x, 3, sx, 5u, y);
    check_out("red_out.st", "y", 1, sy, y, 4, 1e-5);
    for (int i = 0; i < 60; i++) dx[i] = dy[(i / 5) % 4] / 15.0f;
    check_out("red_out.st", "dx", 3, sx, dx, 60, 1e-6);
    /* keepdims, max */
    int64_t sk[3] = {1, 4, 1};
    run_ok("max --in red.st --out red2_out.st --axes 0,2 --keepdims");
    vkn_ref_reduce(VKN_REDUCE_MAX, x, 3, sx, 5u, y);
    check_out("red2_out.st", "y", 3, sk, y, 4, 0);
    assert_non_null(strstr(err_text, "no backward"));
    free(x); free(dy);
}

static void t_gemm(void **state)
{
    (void)state;
    /* y = tanh(0.5 a b^T + bias_row), a [5,7], b [6,7] (--trans-b), bias [5] per row */
    const int M = 5, N = 6, K = 7;
    float *a = rnd(M * K, -1, 1), *b = rnd(N * K, -1, 1), *bias = rnd(M, -1, 1), *dy = rnd(M * N, -1, 1);
    tin in[] = {{"a", VKN_IO_F32, 2, {M, K}, a}, {"b", VKN_IO_F32, 2, {N, K}, b}, {"bias", VKN_IO_F32, 1, {M}, bias},
                {"dy", VKN_IO_F32, 2, {M, N}, dy}};
    write_in("gemm.st", in, 4);
    run_ok("gemm --in gemm.st --out gemm_out.st --trans-b --alpha 0.5 --bias row --act tanh");
    float y[30], g[30], da[35], db[42], dbias[5];
    vkn_gemm_opts o = {.trans_b = 1, .alpha = 0.5f, .bias_kind = VKN_BIAS_ROW, .act = VKN_ACT_TANH};
    vkn_ref_gemm(1, M, N, K, a, b, y, bias, &o);
    int64_t sy[2] = {M, N}, sa[2] = {M, K}, sb[2] = {N, K}, sbias[1] = {M};
    check_out("gemm_out.st", "y", 2, sy, y, M * N, 1e-5);
    for (int i = 0; i < M * N; i++) g[i] = dy[i] * (1 - y[i] * y[i]);
    vkn_gemm_opts p = {.alpha = 0.5f};   /* da = 0.5 g b */
    vkn_ref_gemm(1, M, K, N, g, b, da, NULL, &p);
    check_out("gemm_out.st", "da", 2, sa, da, M * K, 1e-5);
    p.trans_a = 1;                       /* db = 0.5 g^T a */
    vkn_ref_gemm(1, N, K, M, g, a, db, NULL, &p);
    check_out("gemm_out.st", "db", 2, sb, db, N * K, 1e-5);
    int64_t sg[2] = {M, N};
    vkn_ref_reduce(VKN_REDUCE_SUM, g, 2, sg, 2u, dbias);
    check_out("gemm_out.st", "dbias", 1, sbias, dbias, M, 1e-5);
    free(a); free(b); free(bias); free(dy);
}

static void t_conv(void **state)
{
    (void)state;
    const int N = 2, Cin = 3, H = 7, W = 6, Cout = 4, kh = 3, kw = 3;
    vkn_window2d win = {.kh = kh, .kw = kw, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
    int Ho, Wo;
    vkn_window2d_out(&win, H, W, &Ho, &Wo);
    int64_t nx = N * Cin * H * W, nw = Cout * Cin * kh * kw, ny = (int64_t)N * Cout * Ho * Wo;
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5, 0.5), *b = rnd(Cout, -1, 1), *dy = rnd(ny, -1, 1);
    tin in[] = {{"x", VKN_IO_F32, 4, {N, Cin, H, W}, x}, {"w", VKN_IO_F32, 4, {Cout, Cin, kh, kw}, w},
                {"b", VKN_IO_F32, 1, {Cout}, b}, {"dy", VKN_IO_F32, 4, {N, Cout, Ho, Wo}, dy}};
    write_in("conv.st", in, 4);
    run_ok("conv2d --in conv.st --out conv_out.st --stride 2 --pad 1");
    double *xd = to_d(x, nx), *wd = to_d(w, nw), *bd = to_d(b, Cout), *dyd = to_d(dy, ny);
    double *y = malloc(sizeof(double) * ny), *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw), db[4];
    vkn_ref_conv2d(&win, N, Cin, H, W, Cout, xd, wd, bd, y);
    vkn_ref_conv2d_backward(&win, N, Cin, H, W, Cout, xd, wd, dyd, dx, dw, db);
    int64_t sy[4] = {N, Cout, Ho, Wo}, sx[4] = {N, Cin, H, W}, sw[4] = {Cout, Cin, kh, kw}, sb[1] = {Cout};
    check_out_d("conv_out.st", "y", 4, sy, y, ny, 1e-4);
    check_out_d("conv_out.st", "dx", 4, sx, dx, nx, 1e-4);
    check_out_d("conv_out.st", "dw", 4, sw, dw, nw, 1e-4);
    check_out_d("conv_out.st", "db", 1, sb, db, Cout, 1e-4);
    free(x); free(w); free(b); free(dy); free(xd); free(wd); free(bd); free(dyd); free(y); free(dx); free(dw);
}

static void t_conv_transpose(void **state)
{
    (void)state;
    const int N = 2, Cin = 3, H = 4, W = 5, Cout = 2, kh = 4, kw = 4;
    vkn_window2d win = {.kh = kh, .kw = kw, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
    int Ho = (H - 1) * 2 - 2 + kh, Wo = (W - 1) * 2 - 2 + kw;
    int64_t nx = N * Cin * H * W, nw = Cin * Cout * kh * kw, ny = (int64_t)N * Cout * Ho * Wo;
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5, 0.5), *dy = rnd(ny, -1, 1);
    tin in[] = {{"x", VKN_IO_F32, 4, {N, Cin, H, W}, x}, {"w", VKN_IO_F32, 4, {Cin, Cout, kh, kw}, w},
                {"dy", VKN_IO_F32, 4, {N, Cout, Ho, Wo}, dy}};
    write_in("convt.st", in, 3);
    run_ok("conv_transpose2d --in convt.st --out convt_out.st --stride 2 --pad 1 --kernel 4");
    double *xd = to_d(x, nx), *wd = to_d(w, nw), *dyd = to_d(dy, ny);
    double *y = malloc(sizeof(double) * ny), *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw);
    vkn_ref_conv_transpose2d(&win, N, Cin, H, W, Cout, Ho, Wo, xd, wd, NULL, y);
    vkn_ref_conv_transpose2d_backward(&win, N, Cin, H, W, Cout, Ho, Wo, xd, wd, dyd, dx, dw, NULL);
    int64_t sy[4] = {N, Cout, Ho, Wo}, sx[4] = {N, Cin, H, W}, sw[4] = {Cin, Cout, kh, kw};
    check_out_d("convt_out.st", "y", 4, sy, y, ny, 1e-4);
    check_out_d("convt_out.st", "dx", 4, sx, dx, nx, 1e-4);
    check_out_d("convt_out.st", "dw", 4, sw, dw, nw, 1e-4);
    free(x); free(w); free(dy); free(xd); free(wd); free(dyd); free(y); free(dx); free(dw);
}

static void t_pool(void **state)
{
    (void)state;
    const int N = 2, C = 3, H = 5, W = 6;
    vkn_window2d win = {.kh = 2, .kw = 2, .sh = 2, .sw = 2};
    int Ho, Wo;
    vkn_window2d_out(&win, H, W, &Ho, &Wo);
    int64_t nx = N * C * H * W, ny = (int64_t)N * C * Ho * Wo;
    float *x = rnd(nx, -1, 1), *dy = rnd(ny, -1, 1);
    tin in[] = {{"x", VKN_IO_F32, 4, {N, C, H, W}, x}, {"dy", VKN_IO_F32, 4, {N, C, Ho, Wo}, dy}};
    write_in("pool.st", in, 2);
    run_ok("maxpool2d --in pool.st --out pool_out.st --kernel 2");
    double *xd = to_d(x, nx), *dyd = to_d(dy, ny), *y = malloc(sizeof(double) * ny), *dx = malloc(sizeof(double) * nx);
    int32_t *idx = malloc(sizeof(int32_t) * ny);
    vkn_ref_maxpool2d(&win, N * C, H, W, xd, y, idx);
    vkn_ref_maxpool2d_backward(&win, N * C, H, W, dyd, idx, dx);
    int64_t sy[4] = {N, C, Ho, Wo}, sx[4] = {N, C, H, W};
    check_out_d("pool_out.st", "y", 4, sy, y, ny, 0);
    check_out_d("pool_out.st", "dx", 4, sx, dx, nx, 1e-6);
    /* the argmax comes back as I32 */
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path_of("pool_out.st"), &f), VKN_OK);
    int32_t *gi = malloc(sizeof(int32_t) * ny);
    assert_int_equal(vkn_io_safetensors_read(f, "idx", VKN_IO_I32, 4, sy, gi), VKN_OK);
    assert_memory_equal(gi, idx, sizeof(int32_t) * ny);
    vkn_io_safetensors_close(f);
    free(x); free(dy); free(xd); free(dyd); free(y); free(dx); free(idx); free(gi);
}

static void t_embed_concat(void **state)
{
    (void)state;
    const int K = 5, D = 3, N = 4;
    float *w = rnd(K * D, -1, 1), *dy = rnd(N * D, -1, 1);
    int32_t ids[4] = {3, 0, 3, 4};
    tin in[] = {{"w", VKN_IO_F32, 2, {K, D}, w}, {"ids", VKN_IO_I32, 1, {N}, ids}, {"dy", VKN_IO_F32, 2, {N, D}, dy}};
    write_in("emb.st", in, 3);
    run_ok("embedding --in emb.st --out emb_out.st");
    double *wd = to_d(w, K * D), *dyd = to_d(dy, N * D), y[12], dw[15];
    vkn_ref_embedding(K, D, N, wd, ids, y);
    vkn_ref_embedding_backward(K, D, N, ids, dyd, dw);
    int64_t sy[2] = {N, D}, sw[2] = {K, D};
    check_out_d("emb_out.st", "y", 2, sy, y, N * D, 0);
    check_out_d("emb_out.st", "dw", 2, sw, dw, K * D, 1e-6);
    run_ok("one_hot --in emb.st --out oh_out.st");   /* K = max id + 1 = 5 */
    double oh[20];
    vkn_ref_one_hot(5, N, ids, oh);
    int64_t so[2] = {N, 5};
    check_out_d("oh_out.st", "y", 2, so, oh, 20, 0);

    /* concat along channels: [2,3,2,2] ++ [2,1,2,2] */
    float *a = rnd(24, -1, 1), *b = rnd(8, -1, 1), *cdy = rnd(32, -1, 1);
    tin in2[] = {{"a", VKN_IO_F32, 4, {2, 3, 2, 2}, a}, {"b", VKN_IO_F32, 4, {2, 1, 2, 2}, b},
                 {"dy", VKN_IO_F32, 4, {2, 4, 2, 2}, cdy}};
    write_in("cat.st", in2, 3);
    run_ok("concat --in cat.st --out cat_out.st");
    double *ad = to_d(a, 24), *bd = to_d(b, 8), *cdyd = to_d(cdy, 32), cy[32], da[24], db[8];
    vkn_ref_concat(2, 12, 4, ad, bd, cy);
    vkn_ref_split(2, 12, 4, cdyd, da, db);
    int64_t scy[4] = {2, 4, 2, 2}, sa[4] = {2, 3, 2, 2}, sb[4] = {2, 1, 2, 2};
    check_out_d("cat_out.st", "y", 4, scy, cy, 32, 0);
    check_out_d("cat_out.st", "da", 4, sa, da, 24, 0);
    check_out_d("cat_out.st", "db", 4, sb, db, 8, 0);
    free(w); free(dy); free(wd); free(dyd); free(a); free(b); free(cdy); free(ad); free(bd); free(cdyd);
}

/* ---- issue 14: ids out of range, NaN through relu, output padding deciding the size ---- */

static int file_exists(const char *name)
{
    FILE *f = fopen(path_of(name), "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* An id or label outside its range is exit 1 naming the tensor, the element, its value and the range;
 * nothing is written (the kernels would give a zero row or a NaN loss). */
static void t_ids_range(void **state)
{
    (void)state;
    const int K = 5, D = 3, N = 4;
    float *w = rnd(K * D, -1, 1), *x = rnd(N * K, -1, 1);
    int32_t hi[4] = {3, 0, 5, 4}, neg[4] = {3, -1, 0, 7};
    tin a[] = {{"w", VKN_IO_F32, 2, {K, D}, w}, {"ids", VKN_IO_I32, 1, {N}, hi}};
    write_in("ids_hi.st", a, 2);
    expect_fail(1, "'ids'", "element 2 is 5, outside the valid range 0..4", "embedding --in ids_hi.st --out ids_o1.st");
    assert_false(file_exists("ids_o1.st"));
    tin b[] = {{"w", VKN_IO_F32, 2, {K, D}, w}, {"ids", VKN_IO_I32, 1, {N}, neg}};
    write_in("ids_neg.st", b, 2);
    expect_fail(1, "element 1 is -1, outside the valid range 0..4", "2 of 4 out of range",
                "embedding --in ids_neg.st --out ids_o2.st");
    /* one_hot: a negative id (K from max id + 1), and ids past --classes */
    expect_fail(1, "element 1 is -1, outside the valid range 0..7", NULL, "one_hot --in ids_neg.st --out ids_o3.st");
    expect_fail(1, "element 0 is 3, outside the valid range 0..2", "--classes",
                "one_hot --classes 3 --in ids_neg.st --out ids_o3.st");
    assert_false(file_exists("ids_o3.st"));
    /* softmax_ce: labels in 0..K-1 of x's K columns */
    tin c[] = {{"x", VKN_IO_F32, 2, {N, K}, x}, {"labels", VKN_IO_I32, 1, {N}, hi}};
    write_in("lab_hi.st", c, 2);
    expect_fail(1, "'labels'", "element 2 is 5, outside the valid range 0..4", "softmax_ce --in lab_hi.st --out lab_o.st");
    tin d[] = {{"x", VKN_IO_F32, 2, {N, K}, x}, {"labels", VKN_IO_I32, 1, {N}, neg}};
    write_in("lab_neg.st", d, 2);
    expect_fail(1, "element 1 is -1", "0..4", "softmax_ce --in lab_neg.st --out lab_o.st");
    assert_false(file_exists("lab_o.st"));
    /* the edges are fine: 0 and K-1 */
    int32_t edge[4] = {0, 4, 4, 0};
    tin e[] = {{"x", VKN_IO_F32, 2, {N, K}, x}, {"labels", VKN_IO_I32, 1, {N}, edge}};
    write_in("lab_edge.st", e, 2);
    run_ok("softmax_ce --in lab_edge.st --out lab_edge_o.st");
    free(w); free(x);
}

static void with_path(const char *path)
{
    if (path) setenv("VKN_PATH", path, 1);
    else unsetenv("VKN_PATH");
}

/* relu of NaN is NaN (PyTorch), its gradient dy (PyTorch's rule: 0 only where x <= 0); leaky_relu's
 * alpha dy; the hinge losses keep a NaN; both kernel families */
static void t_nan(void **state)
{
    (void)state;
    const int64_t n = 9;
    float x[9] = {NAN, -1, 2, NAN, 0, 3, -2, NAN, 1}, dy[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    tin in[] = {{"x", VKN_IO_F32, 1, {n}, x}, {"dy", VKN_IO_F32, 1, {n}, dy}};
    write_in("nan.st", in, 2);
    const char *paths[] = {"cpu", "gpu"};
    for (int p = 0; p < 2; p++) {
        with_path(paths[p]);
        run_ok("relu --in nan.st --out nan_relu.st");
        float *y = read_out("nan_relu.st", "y", 1, &n), *dx = read_out("nan_relu.st", "dx", 1, &n);
        for (int i = 0; i < n; i++) {
            if (isnan(x[i])) {
                if (!isnan(y[i]) || dx[i] != dy[i]) fail_msg("%s relu(NaN) element %d: y %g dx %g", paths[p], i, y[i], dx[i]);
            } else if (y[i] != (x[i] > 0 ? x[i] : 0) || dx[i] != (x[i] > 0 ? dy[i] : 0)) {
                fail_msg("%s relu element %d: y %g dx %g", paths[p], i, y[i], dx[i]);
            }
        }
        free(y); free(dx);
        run_ok("leaky_relu --alpha 0.25 --in nan.st --out nan_lrelu.st");
        y = read_out("nan_lrelu.st", "y", 1, &n);
        dx = read_out("nan_lrelu.st", "dx", 1, &n);
        if (!isnan(y[0]) || dx[0] != 0.25f * dy[0]) fail_msg("%s leaky_relu(NaN): y %g dx %g", paths[p], y[0], dx[0]);
        free(y); free(dx);
        run_ok("hinge_real --in nan.st --out nan_hinge.st");
        float *l = read_out("nan_hinge.st", "loss", 0, NULL);
        if (!isnan(l[0])) fail_msg("%s hinge_real with a NaN: loss %g", paths[p], l[0]);
        free(l);
    }
    with_path(NULL);
}

/* conv_transpose2d whose output exists only through the output padding (issue 14 item 5), both paths */
static void t_convt_output_padding(void **state)
{
    (void)state;
    const int N = 1, Cin = 4, H = 1, W = 1, Cout = 4, kh = 5, kw = 5, Ho = 5, Wo = 1;
    vkn_window2d win = {.kh = kh, .kw = kw, .sh = 1, .sw = 3, .ph = 0, .pw = 3};
    int64_t nx = N * Cin * H * W, nw = Cin * Cout * kh * kw, ny = (int64_t)N * Cout * Ho * Wo;
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5, 0.5), *b = rnd(Cout, -1, 1), *dy = rnd(ny, -1, 1);
    tin in[] = {{"x", VKN_IO_F32, 4, {N, Cin, H, W}, x}, {"w", VKN_IO_F32, 4, {Cin, Cout, kh, kw}, w},
                {"b", VKN_IO_F32, 1, {Cout}, b}, {"dy", VKN_IO_F32, 4, {N, Cout, Ho, Wo}, dy}};
    write_in("convt_op.st", in, 4);
    double *xd = to_d(x, nx), *wd = to_d(w, nw), *bd = to_d(b, Cout), *dyd = to_d(dy, ny);
    double *y = malloc(sizeof(double) * ny), *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw);
    double db[4];
    vkn_ref_conv_transpose2d(&win, N, Cin, H, W, Cout, Ho, Wo, xd, wd, bd, y);
    vkn_ref_conv_transpose2d_backward(&win, N, Cin, H, W, Cout, Ho, Wo, xd, wd, dyd, dx, dw, db);
    int64_t sy[4] = {N, Cout, Ho, Wo}, sx[4] = {N, Cin, H, W}, sw[4] = {Cin, Cout, kh, kw}, sb[1] = {Cout};
    const char *paths[] = {"cpu", "gpu"};
    for (int p = 0; p < 2; p++) {
        with_path(paths[p]);
        run_ok("conv_transpose2d --in convt_op.st --out convt_op_out.st --stride 1,3 --pad 0,3 --output-padding 0,2");
        check_out_d("convt_op_out.st", "y", 4, sy, y, ny, 1e-5);
        check_out_d("convt_op_out.st", "dx", 4, sx, dx, nx, 1e-5);
        check_out_d("convt_op_out.st", "dw", 4, sw, dw, nw, 1e-5);
        check_out_d("convt_op_out.st", "db", 1, sb, db, Cout, 1e-5);
    }
    with_path(NULL);
    free(x); free(w); free(b); free(dy); free(xd); free(wd); free(bd); free(dyd); free(y); free(dx); free(dw);
}

static void t_losses(void **state)
{
    (void)state;
    const int N = 6, K = 4;
    float *x = rnd(N * K, -3, 3), *t = rnd(N * K, 0, 1);
    int32_t labels[6] = {0, 3, 2, 1, 3, 0};
    tin in[] = {{"x", VKN_IO_F32, 2, {N, K}, x}, {"labels", VKN_IO_I32, 1, {N}, labels}, {"t", VKN_IO_F32, 2, {N, K}, t}};
    write_in("loss.st", in, 3);
    run_ok("softmax_ce --in loss.st --out ce_out.st --smoothing 0.1");
    float dx[24];
    float loss = (float)vkn_ref_softmax_ce(x, labels, N, K, 0.1, 1.0, dx);
    int64_t sx[2] = {N, K};
    check_out("ce_out.st", "loss", 0, NULL, &loss, 1, 1e-5);
    check_out("ce_out.st", "dx", 2, sx, dx, N * K, 1e-6);
    run_ok("bce --in loss.st --out bce_out.st --scale 2");
    loss = (float)vkn_ref_loss(VKN_LOSS_BCE_LOGITS, x, t, 0, N * K, 2.0, dx);
    check_out("bce_out.st", "loss", 0, NULL, &loss, 1, 1e-5);
    check_out("bce_out.st", "dx", 2, sx, dx, N * K, 1e-6);
    run_ok("hinge_fake --in loss.st --out hinge_out.st");
    loss = (float)vkn_ref_loss(VKN_LOSS_HINGE_FAKE, x, NULL, 0, N * K, 1.0, dx);
    check_out("hinge_out.st", "loss", 0, NULL, &loss, 1, 1e-5);
    check_out("hinge_out.st", "dx", 2, sx, dx, N * K, 1e-6);
    free(x); free(t);
}

/* ---- norm: forward + backward against the reference ---- */
static void norm_case(vkn_norm_opts o, int N, int H, int W, const int32_t *ids, int load, int train,
                      const char *extra_args)
{
    const int C = o.channels, P = H * W;
    const int64_t total = (int64_t)N * C * P;
    float *x = rnd(total, -1, 3), *dy = rnd(total, -1, 1);
    vkn_norm_slot sl[VKN_NORM_MAX_SLOTS];
    int ns;
    assert_int_equal(vkn_norm_slots(&o, sl, &ns), VKN_OK);
    double **rs, **rds;
    assert_int_equal(vkn_norm_ref_slots_alloc(&o, &rs), VKN_OK);
    assert_int_equal(vkn_norm_ref_slots_alloc(&o, &rds), VKN_OK);
    assert_int_equal(vkn_norm_ref_init(&o, 1, rs), VKN_OK);   /* vkn-op's default --seed 1 */
    tin in[4 + VKN_NORM_MAX_SLOTS];
    int nin = 0;
    in[nin++] = (tin){"x", VKN_IO_F32, 4, {N, C, H, W}, x};
    in[nin++] = (tin){"dy", VKN_IO_F32, 4, {N, C, H, W}, dy};
    if (ids) in[nin++] = (tin){"ctx", VKN_IO_I32, 1, {N}, ids};
    float *sf[VKN_NORM_MAX_SLOTS] = {0};
    if (load)   /* every slot from the file, with values unlike the defaults */
        for (int i = 0; i < ns; i++) {
            sf[i] = malloc(sizeof(float) * sl[i].count);
            for (int k = 0; k < sl[i].count; k++) {
                double v = !strcmp(sl[i].name, "running_var") || !strcmp(sl[i].name, "priors") ? 0.5 + uni()
                                                                                              : -1 + 2 * uni();
                sf[i][k] = (float)v;
                rs[i][k] = sf[i][k];
            }
            in[nin++] = (tin){sl[i].name, VKN_IO_F32, sl[i].rank, {sl[i].shape[0], sl[i].shape[1]}, sf[i]};
        }
    write_in("norm.st", in, nin);
    run_ok("norm --in norm.st --out norm_out.st --kind %s --train %d %s", vkn_norm_kind_name(o.kind), train,
           extra_args);

    double *xd = to_d(x, total), *gd = to_d(dy, total);
    double *y = malloc(sizeof(double) * total), *dx = malloc(sizeof(double) * total);
    double *dslots[VKN_NORM_MAX_SLOTS] = {0};
    for (int i = 0; i < ns; i++) dslots[i] = sl[i].learned ? rds[i] : NULL;
    vkn_norm_ref_cache cache = {0};
    assert_int_equal(vkn_norm_ref_forward(&o, N, P, xd, ids, NULL, rs, train, y, &cache), VKN_OK);
    assert_int_equal(vkn_norm_ref_backward(&o, &cache, xd, ids, rs, gd, dx, dslots), VKN_OK);
    int64_t sx[4] = {N, C, H, W};
    check_out_d("norm_out.st", "y", 4, sx, y, total, 5e-4);
    check_out_d("norm_out.st", "dx", 4, sx, dx, total, 5e-4);
    for (int i = 0; i < ns; i++) {
        int64_t sh[2] = {sl[i].shape[0], sl[i].shape[1]};
        check_out_d("norm_out.st", sl[i].name, sl[i].rank, sh, rs[i], sl[i].count, 5e-4);   /* after the step */
        if (!sl[i].learned) continue;
        char gname[64];
        snprintf(gname, sizeof gname, "d%s", sl[i].name);
        check_out_d("norm_out.st", gname, sl[i].rank, sh, rds[i], sl[i].count, 5e-4);
    }
    vkn_norm_ref_cache_free(&cache);
    for (int i = 0; i < ns; i++) free(sf[i]);
    vkn_norm_ref_slots_free(&o, rs);
    vkn_norm_ref_slots_free(&o, rds);
    free(x); free(dy); free(xd); free(gd); free(y); free(dx);
}

static void t_norm(void **state)
{
    (void)state;
    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_BN, 3);
    norm_case(o, 4, 3, 2, NULL, 1, 1, "");                        /* bn train, every slot loaded */
    norm_case(o, 4, 3, 2, NULL, 1, 0, "");                        /* bn inference with loaded running stats */
    o = vkn_norm_opts_default(VKN_NORM_GN, 4);
    o.groups = 2;
    o.eps = 1e-3;
    norm_case(o, 3, 2, 2, NULL, 0, 1, "--groups 2 --eps 1e-3");   /* gn, default init */
    o = vkn_norm_opts_default(VKN_NORM_CN, 3);
    o.contexts = 3;
    o.momentum = 0.3;
    int32_t ids[5] = {0, 2, 1, 2, 0};
    norm_case(o, 5, 2, 2, ids, 1, 1, "--contexts 3 --momentum 0.3");   /* cn with ids and loaded priors */
}

/* ---- errors ---- */
static void t_errors(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6};
    int32_t ids[2] = {0, 1};
    tin in[] = {{"x", VKN_IO_F32, 2, {2, 3}, x}, {"ids", VKN_IO_I32, 1, {2}, ids}};
    write_in("e.st", in, 2);

    assert_int_equal(run_op("--help"), 0);
    assert_non_null(strstr(out_text, "conv_transpose2d"));
    assert_int_equal(run_op("norm --help --kind gn"), 0);
    assert_non_null(strstr(out_text, "gamma"));
    /* usage errors: exit 2 */
    expect_fail(2, "unknown op 'frobnicate'", "leaky_relu", "frobnicate --in e.st --out o.st");
    expect_fail(2, "give an op", NULL, "--in e.st --out o.st");
    expect_fail(2, "unknown option --alpha", "takes no options", "relu --in e.st --out o.st --alpha 2");
    expect_fail(2, "unknown option --nope", NULL, "relu --in e.st --out o.st --nope 1");
    expect_fail(2, "--trans-a", "--act", "gemm --in e.st --out o.st --axes 0");
    expect_fail(2, "--alpha needs a finite number", "abc", "leaky_relu --in e.st --out o.st --alpha abc");
    expect_fail(2, "--act: unknown value 'gelu'", "relu|leaky_relu", "gemm --in e.st --out o.st --act gelu");
    expect_fail(2, "unknown normalization 'bogus'", "bn", "norm --kind bogus --in e.st --out o.st");
    expect_fail(2, "--in FILE", NULL, "relu --out o.st");
    expect_fail(2, "--out FILE", NULL, "relu --in e.st");
    expect_fail(2, "--alpha needs a value", NULL, "leaky_relu --in e.st --out o.st --alpha");
    expect_fail(2, "axis 5", NULL, "sum --in e.st --out o.st --axes 5");
    expect_fail(2, "--kernel", NULL, "maxpool2d --in e.st --out o.st");
    expect_fail(2, "groups", NULL, "norm --kind gn --groups 2 --in e.st --out o.st");   /* 2 does not divide C = 3 */
    /* integer options: refused outside their range with the option, the range and the value; never
     * clamped (--contexts 2^40 became 2^30 without a word) nor wrapped */
    expect_fail(2, "--contexts needs an integer in 1 .. 2^31-1", "got '1099511627776'",
                "norm --kind cn --contexts 1099511627776 --in e.st --out o.st");
    expect_fail(2, "--groups needs an integer in 1 .. 2^31-1", "got '99999999999999999999'",
                "norm --kind gn --groups 99999999999999999999 --in e.st --out o.st");
    expect_fail(2, "--components needs an integer in 1 .. 2^31-1", "got '0'",
                "norm --kind mn --components 0 --in e.st --out o.st");
    expect_fail(2, "--hidden-std needs an integer in 0 .. 2^31-1", "got '-1'",
                "norm --kind afn --hidden-std -1 --in e.st --out o.st");
    expect_fail(2, "--seed needs an integer in 0 .. 2^63-1", "got '-5'", "norm --kind bn --seed -5 --in e.st --out o.st");
    expect_fail(2, "--classes needs an integer in 1 .. 2^24", "got '16777217'", "one_hot --classes 16777217 --in e.st --out o.st");
    expect_fail(2, "--stride needs at most 8 integers in -2^30 .. 2^30", "4294967297",
                "maxpool2d --kernel 2 --stride 4294967297 --in e.st --out o.st");

    /* runtime errors: exit 1, the previous output untouched */
    run_ok("relu --in e.st --out keep.st");
    size_t n0, n1;
    uint8_t *before = read_bytes(path_of("keep.st"), &n0);
    expect_fail(1, "no tensor 'a'", "e.st", "add --in e.st --out keep.st");
    expect_fail(1, "no tensor 'a'", "the file has: x, ids", "gemm --in e.st --out keep.st");
    expect_fail(1, "missing.st", "cannot open", "relu --in missing.st --out keep.st");
    uint8_t *after = read_bytes(path_of("keep.st"), &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);

    /* wrong dtype: ids given as F32 */
    tin bad[] = {{"w", VKN_IO_F32, 2, {3, 2}, x}, {"ids", VKN_IO_F32, 1, {2}, x}};
    write_in("bad.st", bad, 2);
    expect_fail(1, "'ids'", "is F32 [2], expected I32", "embedding --in bad.st --out o.st");
    /* wrong shape: dy of another shape, names both */
    float dy[4] = {0};
    tin bs[] = {{"x", VKN_IO_F32, 2, {2, 3}, x}, {"dy", VKN_IO_F32, 2, {2, 2}, dy}};
    write_in("bs.st", bs, 2);
    expect_fail(1, "[2, 2]", "[2, 3]", "tanh --in bs.st --out o.st");
    /* a gemm whose operands do not multiply */
    tin gm[] = {{"a", VKN_IO_F32, 2, {2, 3}, x}, {"b", VKN_IO_F32, 2, {2, 3}, x}};
    write_in("gm.st", gm, 2);
    expect_fail(1, "do not multiply", "[2, 3]", "gemm --in gm.st --out o.st");
    /* a slot of the wrong size */
    float g5[5] = {1, 1, 1, 1, 1};
    tin ns[] = {{"x", VKN_IO_F32, 2, {2, 3}, x}, {"gamma", VKN_IO_F32, 1, {5}, g5}};
    write_in("ns.st", ns, 2);
    expect_fail(1, "'gamma'", "expected [3]", "norm --kind bn --in ns.st --out o.st");
    /* cn without ctx */
    expect_fail(1, "no tensor 'ctx'", NULL, "norm --kind cn --in ns.st --out o.st");

    /* corrupt files: the reader's message comes through */
    size_t len;
    uint8_t *good = read_bytes(path_of("e.st"), &len);
    write_bytes(path_of("trunc.st"), good, len - 5);
    expect_fail(1, "trunc.st", NULL, "relu --in trunc.st --out o.st");
    uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'n', 'o', 'p', 'e'};
    write_bytes(path_of("junk.st"), junk, sizeof junk);
    expect_fail(1, "junk.st", NULL, "relu --in junk.st --out o.st");
    /* a tensor name with a NUL byte: "xAAAAAA" becomes "x\u0000" in the header (same length); it must
     * not read as tensor "x" */
    {
        tin nul[] = {{"xAAAAAA", VKN_IO_F32, 2, {2, 3}, x}};
        write_in("nul.st", nul, 1);
        size_t nl;
        uint8_t *raw = read_bytes(path_of("nul.st"), &nl);
        char *at = strstr((char *)raw + 8, "AAAAAA");
        assert_non_null(at);
        memcpy(at, "\\u0000", 6);
        write_bytes(path_of("nul.st"), raw, nl);
        free(raw);
        expect_fail(1, "nul.st", "holds a NUL byte", "relu --in nul.st --out o.st");
    }
    memcpy(good + 8, "[\"x", 3);   /* header JSON no longer an object */
    write_bytes(path_of("json.st"), good, len);
    expect_fail(1, "json.st", NULL, "relu --in json.st --out o.st");
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_unary),  cmocka_unit_test(t_binary),         cmocka_unit_test(t_reduce),
        cmocka_unit_test(t_gemm),   cmocka_unit_test(t_conv),           cmocka_unit_test(t_conv_transpose),
        cmocka_unit_test(t_pool),   cmocka_unit_test(t_embed_concat),   cmocka_unit_test(t_losses),
        cmocka_unit_test(t_norm),   cmocka_unit_test(t_errors),         cmocka_unit_test(t_ids_range),
        cmocka_unit_test(t_nan),    cmocka_unit_test(t_convt_output_padding),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
