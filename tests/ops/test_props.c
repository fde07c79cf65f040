/* Random-shape property test of the non-normalization ops against their plain-C references (issue 14):
 * many seeded cases of small and odd sizes per family, forward and backward, and central finite
 * differences of every reference backward. Families: unary (with NaN inputs) and activation
 * gradients, binary with random broadcasting, reductions over random axis sets, GEMM (transposes,
 * alpha/beta, bias, activation, batches, split-K lengths), conv2d and conv_transpose2d (strides,
 * paddings, output paddings; vknorm has no dilation), max/avg pooling, embedding and one-hot,
 * concat/split, the losses, the optimizers; and NaN propagation through relu, the GEMM epilogue,
 * max, max pooling and the hinge losses. The backward rules the graph composes from these ops
 * (binary with broadcasting: gradients summed over the broadcast axes; reductions; matmul; unary)
 * run in random small graphs whose device gradients are checked against central finite differences
 * of the reference-executed graph. The suite runs it with VKN_PATH=cpu and VKN_PATH=gpu, so
 * each kernel family (and each GEMM kernel) is covered.
 *
 * Reproduce a failure: every message names the seed and the case; VKN_PROPS_SEED=S reruns that
 * seed, VKN_PROPS_CASES=N scales the number of cases per family (default 1: CI size). */
#include "nn_testutil.h"
#include "../graph/graph_testutil.h"
#include "ops/ref.h"
#include "ops/ref_nn.h"
#include "ops/ref_train.h"
#include "vkn/loss.h"
#include "vkn/optim.h"

static uint64_t seed0 = 1;
static int scale_cases = 1;
static char where[160];   /* "seed S family F case C": prefix of every message */

static int ri(int lo, int hi) { return lo + (int)(tu_uniform() * (hi - lo + 1)); }   /* [lo, hi] */
static double rd(double lo, double hi) { return lo + (hi - lo) * tu_uniform(); }

static void begin_case(const char *family, int c)
{
    tu_seed(seed0 * 1000003u + (uint64_t)c * 7919u + (uint64_t)(unsigned char)family[0] * 131u + strlen(family));
    snprintf(where, sizeof where, "seed %llu %s case %d", (unsigned long long)seed0, family, c);
}

static int ncases(int n) { return n * scale_cases; }

static char *msg(const char *fmt, ...)
{
    static char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(buf, sizeof buf, "%s: ", where);
    vsnprintf(buf + k, sizeof buf - (size_t)k, fmt, ap);
    va_end(ap);
    return buf;
}

static void check_f(const char *what, const vkn_tensor *t, const float *ref, double atol, double rtol)
{
    float *got = tu_alloc(t->numel);
    tu_download(t, got);
    tu_assert_close(what, got, ref, t->numel, atol, rtol);
    free(got);
}

static float *frand(int64_t n, double lo, double hi)
{
    float *p = tu_alloc(n);
    tu_fill(p, n, lo, hi);
    return p;
}

static int64_t prod(int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

/* ---- unary, activation gradients ---- */

static void test_unary(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(40); c++) {
        begin_case("unary", c);
        vkn_unary op = (vkn_unary)ri(0, VKN_UNARY_COUNT_ - 1);
        int64_t n = ri(1, 3) == 1 ? ri(1, 9) : ri(10, 700);
        float alpha = (float)rd(-2, 2);
        float *x = op == VKN_UNARY_LOG ? frand(n, 1e-3, 40) : frand(n, op == VKN_UNARY_EXP ? -20 : -12, op == VKN_UNARY_EXP ? 20 : 12);
        if (op <= VKN_UNARY_SIGMOID && ri(0, 1)) x[ri(0, (int)n - 1)] = NAN;   /* activations keep a NaN */
        float *ref = tu_alloc(n);
        vkn_ref_unary(op, alpha, x, ref, n);
        vkn_tensor tx = tu_tensor(1, &n, x), ty = tu_tensor(1, &n, NULL);
        tu_begin();
        tu_check_op(vkn_op_unary(tu_cmd, op, alpha, &tx, &ty));
        tu_run();
        check_f(msg("%s n=%lld", vkn_unary_name(op), (long long)n), &ty, ref, 1e-6, 2e-6);
        free(x); free(ref);
    }
}

static double act_f(void *p)
{
    double *a = p;   /* {act, alpha, x} */
    return vkn_ref_act_d((vkn_act)a[0], a[1], a[2]);
}

static void test_act_grad(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(30); c++) {
        begin_case("act_grad", c);
        vkn_act act = (vkn_act)ri(VKN_ACT_RELU, VKN_ACT_COUNT_ - 1);
        int64_t n = ri(1, 300);
        double alpha = rd(0.01, 0.5);
        /* v is x for relu / leaky relu, y = f(x) for tanh / sigmoid (vkn_op_act_grad's contract) */
        double *x = nt_rand(n, -4, 4), *v = nt_alloc(n), *dy = nt_rand(n, -1, 1), *dx = nt_alloc(n);
        for (int64_t i = 0; i < n; i++) {
            if (fabs(x[i]) < 1e-3) x[i] = 0.5;   /* away from relu's kink for the finite differences */
            v[i] = act == VKN_ACT_TANH || act == VKN_ACT_SIGMOID ? (float)vkn_ref_act_d(act, alpha, x[i]) : x[i];
        }
        vkn_ref_act_grad(act, alpha, v, dy, dx, n);
        vkn_tensor tv = nt_tensor1(n, v), tg = nt_tensor1(n, dy), tdx = nt_tensor1(n, NULL);
        tu_begin();
        tu_check_op(vkn_op_act_grad(tu_cmd, act, (float)alpha, &tv, &tg, &tdx));
        tu_run();
        nt_check(msg("act_grad %d n=%lld", act, (long long)n), &tdx, dx, 1e-6, 1e-5);
        /* the reference gradient against d f / d x by central differences (f in double) */
        for (int k = 0; k < 5 && k < n; k++) {
            int64_t i = ri(0, (int)n - 1);
            double a[3] = {act, alpha, x[i]}, h = 1e-5;
            a[2] = x[i] + h;
            double fp = act_f(a);
            a[2] = x[i] - h;
            double fd = (fp - act_f(a)) / (2 * h) * dy[i];
            /* tanh / sigmoid: the gradient from y rounded to float, so a float-sized tolerance */
            if (!(fabs(fd - dx[i]) <= 1e-5 * (1 + fabs(dx[i]))))
                fail_msg("%s", msg("act_grad %d reference at x=%g: %.10g, finite difference %.10g", act, x[i], dx[i], fd));
        }
        free(x); free(v); free(dy); free(dx);
    }
}

/* ---- binary with broadcasting ---- */

static void test_binary(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(40); c++) {
        begin_case("binary", c);
        vkn_binary op = (vkn_binary)ri(0, VKN_BINARY_COUNT_ - 1);
        int ndy = ri(1, 4);
        int64_t sy[4], sa[4], sb[4];
        for (int i = 0; i < ndy; i++) sy[i] = ri(1, 2) == 1 ? 1 : ri(2, 7);
        /* a and b: trailing parts of y's shape (lower rank), each dimension kept or 1; together they cover y */
        int nda = ri(1, ndy), ndb = ndy;
        if (ri(0, 1)) { int t = nda; nda = ndb; ndb = t; }
        for (int i = 0; i < ndy; i++) {
            int ia = i - (ndy - nda), ib = i - (ndy - ndb);
            int which = ri(0, 2);   /* 0: both full, 1: a broadcasts, 2: b broadcasts */
            if (ia >= 0) sa[ia] = which == 1 ? 1 : sy[i];
            if (ib >= 0) sb[ib] = which == 2 ? 1 : sy[i];
            if (ia < 0 && ib >= 0) sb[ib] = sy[i];
            if (ib < 0 && ia >= 0) sa[ia] = sy[i];
        }
        int64_t na = prod(nda, sa), nb = prod(ndb, sb), ny = prod(ndy, sy);
        float *a = frand(na, -3, 3), *b = frand(nb, 0.5, 3), *ref = tu_alloc(ny);
        vkn_ref_binary(op, a, nda, sa, b, ndb, sb, ref);
        vkn_tensor ta = tu_tensor(nda, sa, a), tb = tu_tensor(ndb, sb, b), ty = tu_tensor(ndy, sy, NULL);
        tu_begin();
        tu_check_op(vkn_op_binary(tu_cmd, op, &ta, &tb, &ty));
        tu_run();
        check_f(msg("%s a %dD b %dD y %lld elements", vkn_binary_name(op), nda, ndb, (long long)ny), &ty, ref, 1e-6, 1e-6);
        free(a); free(b); free(ref);
    }
}

/* ---- reductions ---- */

static void test_reduce(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(40); c++) {
        begin_case("reduce", c);
        vkn_reduce op = (vkn_reduce)ri(0, VKN_REDUCE_COUNT_ - 1);
        int nd = ri(1, 4);
        int64_t s[4];
        for (int i = 0; i < nd; i++) s[i] = ri(1, 6);
        if (ri(0, 4) == 0) s[ri(0, nd - 1)] = ri(100, 700);   /* long reductions: chunked, two launches */
        uint32_t mask = (uint32_t)ri(1, (1 << nd) - 1);
        int64_t n = prod(nd, s), nout = 1;
        for (int i = 0; i < nd; i++) if (!((mask >> i) & 1)) nout *= s[i];
        double off = ri(0, 3) == 0 ? rd(-50, 50) : 0;   /* rows with a mean away from 0 */
        float *x = frand(n, off - 2, off + 2), *ref = tu_alloc(nout);
        vkn_ref_reduce(op, x, nd, s, mask, ref);
        vkn_tensor tx = tu_tensor(nd, s, x), ty = tu_tensor(1, &nout, NULL);
        tu_begin();
        tu_check_op(vkn_op_reduce(tu_cmd, op, &tx, mask, &ty));
        tu_run();
        double r = (double)n / (double)nout, maxabs = fabs(off) + 2;
        double atol = 1e-6 + (op == VKN_REDUCE_MAX ? 0 : 2e-7 * r * maxabs / (op == VKN_REDUCE_MEAN ? r : 1));
        check_f(msg("%s %dD mask 0x%x n=%lld", vkn_reduce_name(op), nd, mask, (long long)n), &ty, ref, atol, 1e-5);
        free(x); free(ref);
    }
}

/* ---- GEMM (the register-blocked kernel on the cpu path, the tiled one with split-K on the gpu path) ---- */

static void test_gemm(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(40); c++) {
        begin_case("gemm", c);
        int64_t nb = ri(1, 4) == 1 ? ri(2, 3) : 1;
        int64_t M = ri(1, 40), N = ri(1, 40), K = ri(0, 5) == 0 ? ri(200, 700) : ri(1, 40);
        int batch_b = ri(0, 1);
        vkn_gemm_opts o = {.trans_a = ri(0, 1), .trans_b = ri(0, 1), .alpha = ri(0, 1) ? 1.0f : (float)rd(-2, 2),
                           .beta = ri(0, 2) == 0 ? (float)rd(-1, 1) : 0.0f, .bias_kind = (vkn_bias)ri(0, 2),
                           .act = (vkn_act)ri(0, VKN_ACT_COUNT_ - 1), .act_alpha = (float)rd(0.01, 0.3)};
        int64_t na = nb * M * K, nbb = (batch_b ? nb : 1) * K * N, nc = nb * M * N, nbias = o.bias_kind == VKN_BIAS_ROW ? M : N;
        float *a = frand(na, -1, 1), *b = frand(nbb, -1, 1), *c0 = frand(nc, -1, 1), *bias = frand(nbias, -1, 1);
        float *ref = tu_alloc(nc);
        memcpy(ref, c0, (size_t)nc * sizeof *ref);
        for (int64_t z = 0; z < nb; z++)
            vkn_ref_gemm(1, M, N, K, a + z * M * K, b + (batch_b ? z * K * N : 0), ref + z * M * N, bias, &o);
        int64_t sa[3] = {nb, o.trans_a ? K : M, o.trans_a ? M : K}, sb[3] = {nb, o.trans_b ? N : K, o.trans_b ? K : N};
        int64_t sc[3] = {nb, M, N};
        vkn_tensor ta = nb > 1 ? tu_tensor(3, sa, a) : tu_tensor(2, sa + 1, a);
        vkn_tensor tb = batch_b && nb > 1 ? tu_tensor(3, sb, b) : tu_tensor(2, sb + 1, b);
        vkn_tensor tc = nb > 1 ? tu_tensor(3, sc, c0) : tu_tensor(2, sc + 1, c0), tbias = tu_tensor(1, &nbias, bias);
        vkn_gemm_opts oo = o;
        if (oo.bias_kind != VKN_BIAS_NONE) oo.bias = &tbias;
        tu_begin();
        tu_check_op(vkn_op_gemm(tu_cmd, &ta, &tb, &tc, &oo));
        tu_run();
        check_f(msg("gemm[%s] b=%lld M=%lld N=%lld K=%lld tA=%d tB=%d alpha=%g beta=%g bias=%d act=%d",
                    vkn_op_gemm_path(tu_ctx), (long long)nb, (long long)M, (long long)N, (long long)K, o.trans_a,
                    o.trans_b, o.alpha, o.beta, o.bias_kind, o.act),
                &tc, ref, 2e-5 * (double)(K > 16 ? K : 16) / 16.0, 1e-4);
        free(a); free(b); free(c0); free(bias); free(ref);
    }
}

/* ---- conv2d, conv_transpose2d ---- */

typedef struct conv_case {
    int transposed;
    vkn_window2d win;
    int N, Ci, H, W, Co, Ho, Wo;
    double *x, *w, *b, *g, *y;
} conv_case;

static double conv_loss(void *p)   /* sum g * conv(x, w, b): its gradients are the backward's outputs */
{
    conv_case *c = p;
    if (c->transposed) vkn_ref_conv_transpose2d(&c->win, c->N, c->Ci, c->H, c->W, c->Co, c->Ho, c->Wo, c->x, c->w, c->b, c->y);
    else vkn_ref_conv2d(&c->win, c->N, c->Ci, c->H, c->W, c->Co, c->x, c->w, c->b, c->y);
    return nt_dot(c->g, c->y, (int64_t)c->N * c->Co * c->Ho * c->Wo);
}

static void draw_conv(conv_case *c, int transposed)
{
    memset(c, 0, sizeof *c);
    c->transposed = transposed;
    for (;;) {
        c->N = ri(1, 3); c->Ci = ri(1, 5); c->Co = ri(1, 5);
        c->H = ri(1, 8); c->W = ri(1, 8);
        vkn_window2d w = {ri(1, 4), ri(1, 4), ri(1, 3), ri(1, 3), 0, 0};
        w.ph = ri(0, w.kh > 1 ? w.kh - 1 : 0);
        w.pw = ri(0, w.kw > 1 ? w.kw - 1 : 0);
        c->win = w;
        if (!transposed) {
            if (vkn_window2d_out(&w, c->H, c->W, &c->Ho, &c->Wo)) return;
            continue;
        }
        /* output padding below the stride; sometimes the default size is empty and only it makes one */
        int oph = ri(0, w.sh - 1), opw = ri(0, w.sw - 1);
        c->Ho = (c->H - 1) * w.sh - 2 * w.ph + w.kh + oph;
        c->Wo = (c->W - 1) * w.sw - 2 * w.pw + w.kw + opw;
        if (c->Ho >= 1 && c->Wo >= 1) return;
    }
}

static void test_conv(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(24); c++) {
        begin_case("conv", c);
        conv_case cc;
        int tr = c & 1;
        draw_conv(&cc, tr);
        if (tr && c % 4 == 1) {   /* the default width is empty (0 or -1): only the output padding makes one */
            cc.W = 1;
            cc.win.kw = ri(2, 4);
            cc.win.pw = (cc.win.kw + 1) / 2;
            int wo0 = cc.win.kw - 2 * cc.win.pw;
            cc.win.sw = wo0 < 0 ? 3 : ri(2, 3);
            cc.Wo = wo0 + ri(1 - wo0, cc.win.sw - 1);
        }
        int N = cc.N, Ci = cc.Ci, H = cc.H, W = cc.W, Co = cc.Co, Ho = cc.Ho, Wo = cc.Wo, kh = cc.win.kh, kw = cc.win.kw;
        int64_t nx = (int64_t)N * Ci * H * W, nw = (int64_t)Ci * Co * kh * kw, ny = (int64_t)N * Co * Ho * Wo;
        int bias = ri(0, 1);
        cc.x = nt_rand(nx, -1, 1); cc.w = nt_rand(nw, -0.5, 0.5); cc.b = bias ? nt_rand(Co, -1, 1) : NULL;
        cc.g = nt_rand(ny, -1, 1); cc.y = nt_alloc(ny);
        double *y = nt_alloc(ny), *dx = nt_alloc(nx), *dw = nt_alloc(nw), *db = nt_alloc(Co);
        if (tr) {
            vkn_ref_conv_transpose2d(&cc.win, N, Ci, H, W, Co, Ho, Wo, cc.x, cc.w, cc.b, y);
            vkn_ref_conv_transpose2d_backward(&cc.win, N, Ci, H, W, Co, Ho, Wo, cc.x, cc.w, cc.g, dx, dw, db);
        } else {
            vkn_ref_conv2d(&cc.win, N, Ci, H, W, Co, cc.x, cc.w, cc.b, y);
            vkn_ref_conv2d_backward(&cc.win, N, Ci, H, W, Co, cc.x, cc.w, cc.g, dx, dw, db);
        }
        int64_t wsf = tr ? vkn_conv_transpose2d_workspace_size(N, Ci, H, W, Co, &cc.win)
                         : vkn_conv2d_workspace_size(N, Ci, H, W, Co, &cc.win);
        int64_t wsb = tr ? vkn_conv_transpose2d_backward_workspace_size(N, Ci, H, W, Co, Ho, Wo, &cc.win)
                         : vkn_conv2d_backward_workspace_size(N, Ci, H, W, Co, &cc.win);
        char shape[200];
        snprintf(shape, sizeof shape, "%s x [%d,%d,%d,%d] Cout %d k %dx%d s %d,%d p %d,%d -> %dx%d bias %d",
                 tr ? "conv_transpose2d" : "conv2d", N, Ci, H, W, Co, kh, kw, cc.win.sh, cc.win.sw, cc.win.ph,
                 cc.win.pw, Ho, Wo, bias);
        if (!(wsf > 0 && wsb > 0)) fail_msg("%s", msg("%s: workspace sizes %lld, %lld", shape, (long long)wsf, (long long)wsb));
        int64_t nws = wsf > wsb ? wsf : wsb;
        vkn_tensor tx = nt_tensor4(N, Ci, H, W, cc.x), tg = nt_tensor4(N, Co, Ho, Wo, cc.g), tb = nt_tensor1(Co, cc.b);
        vkn_tensor tw = tr ? nt_tensor4(Ci, Co, kh, kw, cc.w) : nt_tensor4(Co, Ci, kh, kw, cc.w);
        vkn_tensor ty = nt_tensor4(N, Co, Ho, Wo, NULL), ws = nt_tensor1(nws, NULL);
        vkn_tensor tdx = nt_tensor4(N, Ci, H, W, NULL), tdw = nt_tensor1(nw, NULL), tdb = nt_tensor1(Co, NULL);
        nt_poison(&ws);
        tu_begin();
        if (tr) {
            tu_check_op(vkn_op_conv_transpose2d(tu_cmd, &tx, &tw, bias ? &tb : NULL, &cc.win, &ty, &ws));
            tu_check_op(vkn_op_conv_transpose2d_backward(tu_cmd, &tx, &tw, &tg, &cc.win, &tdx, &tdw, &tdb, &ws));
        } else {
            tu_check_op(vkn_op_conv2d(tu_cmd, &tx, &tw, bias ? &tb : NULL, &cc.win, &ty, &ws));
            tu_check_op(vkn_op_conv2d_backward(tu_cmd, &tx, &tw, &tg, &cc.win, &tdx, &tdw, &tdb, &ws));
        }
        tu_run();
        int64_t K = (int64_t)(tr ? Co : Ci) * kh * kw, L = (int64_t)N * Ho * Wo;
        double at = 2e-6 * (double)(K > 16 ? K : 16), atl = 2e-6 * (double)(L > 16 ? L : 16);
        nt_check(msg("%s: y", shape), &ty, y, at, 1e-4);
        nt_check(msg("%s: dx", shape), &tdx, dx, 2e-6 * (double)(Ci * kh * kw + Co * kh * kw), 1e-4);
        nt_check(msg("%s: dw", shape), &tdw, dw, atl, 1e-4);
        nt_check(msg("%s: db", shape), &tdb, db, atl, 1e-4);
        /* the reference backward against finite differences of the reference forward (linear: exact up to rounding) */
        nt_fd_check(msg("%s: reference dx (fd)", shape), conv_loss, &cc, cc.x, nx, dx, 6, 1e-3, 1e-8);
        nt_fd_check(msg("%s: reference dw (fd)", shape), conv_loss, &cc, cc.w, nw, dw, 6, 1e-3, 1e-8);
        if (bias) nt_fd_check(msg("%s: reference db (fd)", shape), conv_loss, &cc, cc.b, Co, db, 6, 1e-3, 1e-8);
        free(cc.x); free(cc.w); free(cc.b); free(cc.g); free(cc.y); free(y); free(dx); free(dw); free(db);
    }
}

/* ---- pooling ---- */

typedef struct pool_case {
    int max;
    vkn_window2d win;
    int planes, H, W, Ho, Wo;
    double *x, *g, *y;
} pool_case;

static double pool_loss(void *p)
{
    pool_case *c = p;
    if (c->max) vkn_ref_maxpool2d(&c->win, c->planes, c->H, c->W, c->x, c->y, NULL);
    else vkn_ref_avgpool2d(&c->win, c->planes, c->H, c->W, c->x, c->y);
    return nt_dot(c->g, c->y, (int64_t)c->planes * c->Ho * c->Wo);
}

static void test_pool(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(24); c++) {
        begin_case("pool", c);
        pool_case pc = {.max = c & 1};
        int N, C;
        do {
            N = ri(1, 3); C = ri(1, 4); pc.H = ri(1, 9); pc.W = ri(1, 9);
            pc.win = (vkn_window2d){ri(1, 4), ri(1, 4), ri(1, 3), ri(1, 3), 0, 0};
            pc.win.ph = ri(0, pc.win.kh / 2);
            pc.win.pw = ri(0, pc.win.kw / 2);
        } while (!vkn_window2d_out(&pc.win, pc.H, pc.W, &pc.Ho, &pc.Wo));
        pc.planes = N * C;
        int64_t nx = (int64_t)pc.planes * pc.H * pc.W, ny = (int64_t)pc.planes * pc.Ho * pc.Wo;
        pc.x = nt_rand(nx, -1, 1); pc.g = nt_rand(ny, -1, 1); pc.y = nt_alloc(ny);
        double *y = nt_alloc(ny), *dx = nt_alloc(nx);
        int32_t *idx = calloc((size_t)ny, sizeof *idx), *gidx = calloc((size_t)ny, sizeof *gidx);
        if (pc.max) {
            vkn_ref_maxpool2d(&pc.win, pc.planes, pc.H, pc.W, pc.x, y, idx);
            vkn_ref_maxpool2d_backward(&pc.win, pc.planes, pc.H, pc.W, pc.g, idx, dx);
        } else {
            vkn_ref_avgpool2d(&pc.win, pc.planes, pc.H, pc.W, pc.x, y);
            vkn_ref_avgpool2d_backward(&pc.win, pc.planes, pc.H, pc.W, pc.g, dx);
        }
        vkn_tensor tx = nt_tensor4(N, C, pc.H, pc.W, pc.x), tg = nt_tensor4(N, C, pc.Ho, pc.Wo, pc.g);
        vkn_tensor ty = nt_tensor4(N, C, pc.Ho, pc.Wo, NULL), tdx = nt_tensor4(N, C, pc.H, pc.W, NULL), ti;
        int64_t si[4] = {N, C, pc.Ho, pc.Wo};
        assert_int_equal(vkn_tensor_alloc(tu_arena, VKN_I32, 4, si, &ti), VKN_OK);
        tu_begin();
        if (pc.max) {
            tu_check_op(vkn_op_maxpool2d(tu_cmd, &tx, &pc.win, &ty, &ti));
            tu_check_op(vkn_op_maxpool2d_backward(tu_cmd, &tg, &ti, &pc.win, &tdx));
        } else {
            tu_check_op(vkn_op_avgpool2d(tu_cmd, &tx, &pc.win, &ty));
            tu_check_op(vkn_op_avgpool2d_backward(tu_cmd, &tg, &pc.win, &tdx));
        }
        tu_run();
        char shape[160];
        snprintf(shape, sizeof shape, "%s x [%d,%d,%d,%d] k %dx%d s %d,%d p %d,%d", pc.max ? "maxpool" : "avgpool", N, C,
                 pc.H, pc.W, pc.win.kh, pc.win.kw, pc.win.sh, pc.win.sw, pc.win.ph, pc.win.pw);
        nt_check(msg("%s: y", shape), &ty, y, 1e-6, 1e-6);
        nt_check(msg("%s: dx", shape), &tdx, dx, 1e-6, 1e-5);
        if (pc.max) {
            assert_int_equal(vkn_tensor_download(&ti, gidx), VKN_OK);
            for (int64_t i = 0; i < ny; i++)
                if (gidx[i] != idx[i]) fail_msg("%s", msg("%s: idx %lld: %d, reference %d", shape, (long long)i, gidx[i], idx[i]));
        }
        /* piecewise linear: a small step stays on one piece unless two values are within it (rare) */
        nt_fd_check(msg("%s: reference dx (fd)", shape), pool_loss, &pc, pc.x, nx, dx, 8, 1e-7, 1e-6);
        free(pc.x); free(pc.g); free(pc.y); free(y); free(dx); free(idx); free(gidx);
    }
}

/* ---- embedding, one-hot, concat/split ---- */

typedef struct emb_case { int K, D, N; const int32_t *ids; double *table, *g, *y; } emb_case;

static double emb_loss(void *p)
{
    emb_case *c = p;
    vkn_ref_embedding(c->K, c->D, c->N, c->table, c->ids, c->y);
    return nt_dot(c->g, c->y, (int64_t)c->N * c->D);
}

static void test_embed(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(30); c++) {
        begin_case("embed", c);
        emb_case e = {ri(1, 9), ri(1, 9), ri(1, 24)};
        int32_t *ids = calloc((size_t)e.N, sizeof *ids);
        for (int i = 0; i < e.N; i++) ids[i] = ri(0, e.K - 1);   /* in range: vkn-op and graphs refuse the rest */
        e.ids = ids;
        e.table = nt_rand((int64_t)e.K * e.D, -1, 1); e.g = nt_rand((int64_t)e.N * e.D, -1, 1); e.y = nt_alloc((int64_t)e.N * e.D);
        double *y = nt_alloc((int64_t)e.N * e.D), *dt = nt_alloc((int64_t)e.K * e.D), *oh = nt_alloc((int64_t)e.N * e.K);
        vkn_ref_embedding(e.K, e.D, e.N, e.table, ids, y);
        vkn_ref_embedding_backward(e.K, e.D, e.N, ids, e.g, dt);
        vkn_ref_one_hot(e.K, e.N, ids, oh);
        int64_t st[2] = {e.K, e.D}, sy[2] = {e.N, e.D}, so[2] = {e.N, e.K};
        vkn_tensor tt = nt_tensor(2, st, e.table), ti = nt_ids(e.N, ids), tg = nt_tensor(2, sy, e.g);
        vkn_tensor ty = nt_tensor(2, sy, NULL), tdt = nt_tensor(2, st, NULL), to = nt_tensor(2, so, NULL);
        tu_begin();
        tu_check_op(vkn_op_embedding(tu_cmd, &tt, &ti, &ty));
        tu_check_op(vkn_op_embedding_backward(tu_cmd, &ti, &tg, &tdt));
        tu_check_op(vkn_op_one_hot(tu_cmd, &ti, &to));
        tu_run();
        nt_check(msg("embedding K=%d D=%d N=%d: y", e.K, e.D, e.N), &ty, y, 0, 0);
        nt_check(msg("embedding K=%d D=%d N=%d: dtable", e.K, e.D, e.N), &tdt, dt, 1e-6, 1e-6);
        nt_check(msg("one_hot K=%d N=%d", e.K, e.N), &to, oh, 0, 0);
        nt_fd_check(msg("embedding reference dtable (fd)"), emb_loss, &e, e.table, (int64_t)e.K * e.D, dt, 8, 1e-3, 1e-9);
        free(ids); free(e.table); free(e.g); free(e.y); free(y); free(dt); free(oh);
    }
}

static void test_concat(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(20); c++) {
        begin_case("concat", c);
        int64_t N = ri(1, 5), A = ri(1, 30), B = ri(1, 30);
        double *a = nt_rand(N * A, -1, 1), *b = nt_rand(N * B, -1, 1), *y = nt_alloc(N * (A + B));
        double *g = nt_rand(N * (A + B), -1, 1), *da = nt_alloc(N * A), *db = nt_alloc(N * B);
        vkn_ref_concat(N, A, B, a, b, y);
        vkn_ref_split(N, A, B, g, da, db);
        /* split is concat's adjoint: <concat(a, b), g> = <a, da> + <b, db> */
        double l = nt_dot(y, g, N * (A + B)), r = nt_dot(a, da, N * A) + nt_dot(b, db, N * B);
        if (!(fabs(l - r) <= 1e-12 * (1 + fabs(l)))) fail_msg("%s", msg("split is not concat's adjoint: %g vs %g", l, r));
        int64_t sa[2] = {N, A}, sb[2] = {N, B}, sy[2] = {N, A + B};
        vkn_tensor ta = nt_tensor(2, sa, a), tb = nt_tensor(2, sb, b), ty = nt_tensor(2, sy, NULL), tg = nt_tensor(2, sy, g);
        vkn_tensor tda = nt_tensor(2, sa, NULL), tdb = nt_tensor(2, sb, NULL);
        tu_begin();
        tu_check_op(vkn_op_concat(tu_cmd, &ta, &tb, &ty));
        tu_check_op(vkn_op_split(tu_cmd, &tg, &tda, &tdb));
        tu_run();
        nt_check(msg("concat N=%lld A=%lld B=%lld", (long long)N, (long long)A, (long long)B), &ty, y, 0, 0);
        nt_check(msg("split a"), &tda, da, 0, 0);
        nt_check(msg("split b"), &tdb, db, 0, 0);
        free(a); free(b); free(y); free(g); free(da); free(db);
    }
}

/* ---- losses ---- */

static void test_losses(void **state)
{
    (void)state;
    int64_t one = 1;
    for (int c = 0; c < ncases(30); c++) {
        begin_case("loss", c);
        vkn_loss_kind kind = (vkn_loss_kind)ri(0, VKN_LOSS_COUNT_ - 1);
        int64_t n = ri(0, 2) == 0 ? ri(257, 900) : ri(1, 60);   /* > 256: partials and a second launch */
        int has_t = (kind == VKN_LOSS_BCE_LOGITS || kind == VKN_LOSS_MSE) && ri(0, 1);
        float *x = frand(n, -3, 3), *t = frand(n, 0, 1), *dx = tu_alloc(n);
        float tval = (float)rd(0, 1), sc = ri(0, 1) ? 1.0f : (float)rd(0.2, 3);
        float loss = (float)vkn_ref_loss(kind, x, has_t ? t : NULL, tval, n, sc, dx);
        vkn_tensor tx = tu_tensor(1, &n, x), tt = tu_tensor(1, &n, t), tl = tu_tensor(1, &one, NULL), tdx = tu_tensor(1, &n, NULL);
        vkn_loss_opts o = {.target = has_t ? &tt : NULL, .target_value = tval, .scale = sc};
        tu_begin();
        tu_check_op(vkn_op_loss(tu_cmd, kind, &tx, &tl, &tdx, &o));
        tu_run();
        check_f(msg("%s n=%lld target %d scale %g: loss", vkn_loss_name(kind), (long long)n, has_t, sc), &tl, &loss, 1e-6, 1e-5);
        check_f(msg("%s n=%lld: dx", vkn_loss_name(kind), (long long)n), &tdx, dx, 1e-7, 1e-5);
        /* the reference gradient of one element against finite differences of its loss (double) */
        for (int k = 0; k < 4; k++) {
            int64_t i = ri(0, (int)n - 1);
            double xi = x[i], ti = has_t ? t[i] : tval, g, h = 1e-6;
            if (fabs(fabs(xi) - 1) < 1e-3) continue;   /* the hinge kinks */
            vkn_ref_loss1(kind, xi, ti, &g);
            double fd = (vkn_ref_loss1(kind, xi + h, ti, NULL) - vkn_ref_loss1(kind, xi - h, ti, NULL)) / (2 * h);
            if (!(fabs(fd - g) <= 1e-6 * (1 + fabs(g))))
                fail_msg("%s", msg("%s reference at x=%g t=%g: %.10g, finite difference %.10g", vkn_loss_name(kind), xi, ti, g, fd));
        }
        free(x); free(t); free(dx);
    }
    for (int c = 0; c < ncases(24); c++) {
        begin_case("softmax_ce", c);
        int64_t N = ri(0, 3) == 0 ? ri(257, 600) : ri(1, 40), K = ri(1, 12);
        float sm = ri(0, 1) ? 0.0f : (float)rd(0, 0.4), sc = ri(0, 1) ? 1.0f : (float)rd(0.2, 3);
        float *x = frand(N * K, -4, 4), *dx = tu_alloc(N * K);
        int32_t *lab = calloc((size_t)N, sizeof *lab);
        for (int64_t i = 0; i < N; i++) lab[i] = ri(0, (int)K - 1);
        float loss = (float)vkn_ref_softmax_ce(x, lab, N, K, sm, sc, dx);
        int64_t sx[2] = {N, K};
        vkn_tensor tx = tu_tensor(2, sx, x), tlab = nt_ids(N, lab), tl = tu_tensor(1, &one, NULL), tdx = tu_tensor(2, sx, NULL);
        vkn_loss_opts o = {.scale = sc};
        tu_begin();
        tu_check_op(vkn_op_softmax_ce(tu_cmd, &tx, &tlab, sm, &tl, &tdx, &o));
        tu_run();
        check_f(msg("softmax_ce N=%lld K=%lld smoothing %g scale %g: loss", (long long)N, (long long)K, sm, sc), &tl, &loss, 1e-5, 1e-5);
        check_f(msg("softmax_ce N=%lld K=%lld: dx", (long long)N, (long long)K), &tdx, dx, 1e-7, 1e-4);
        /* the reference gradient against finite differences of the reference loss; steps of 2^-10 keep
         * x + h exact in float */
        float *xp = tu_alloc(N * K);
        for (int k = 0; k < 4; k++) {
            int64_t i = ri(0, (int)(N * K) - 1);
            double h = 1.0 / 1024;
            memcpy(xp, x, (size_t)(N * K) * sizeof *xp);
            xp[i] = (float)(x[i] + h);
            double lp = vkn_ref_softmax_ce(xp, lab, N, K, sm, sc, NULL);
            xp[i] = (float)(x[i] - h);
            double fd = (lp - vkn_ref_softmax_ce(xp, lab, N, K, sm, sc, NULL)) / (2 * h);
            if (!(fabs(fd - dx[i]) <= 1e-5 * (1 + fabs(dx[i])) * sc))
                fail_msg("%s", msg("softmax_ce reference dx %lld: %.10g, finite difference %.10g", (long long)i, dx[i], fd));
        }
        free(xp); free(x); free(dx); free(lab);
    }
}

/* ---- optimizers ---- */

static void test_optim(void **state)
{
    (void)state;
    for (int c = 0; c < ncases(18); c++) {
        begin_case("optim", c);
        vkn_optim_opts o = {.kind = (vkn_optim_kind)ri(0, VKN_OPTIM_COUNT_ - 1), .lr_slot = VKN_STEP_LR0 + (uint32_t)ri(0, 7)};
        if (o.kind == VKN_OPTIM_SGD) { o.momentum = ri(0, 1) ? 0.0f : (float)rd(0.5, 0.95); o.nesterov = o.momentum > 0 && ri(0, 1); }
        else { o.beta1 = (float)rd(0.5, 0.95); o.beta2 = (float)rd(0.9, 0.999); o.eps = 1e-8f; }
        o.weight_decay = ri(0, 1) ? 0.0f : (float)rd(0, 0.1);
        o.grad_scale = ri(0, 1) ? 0.0f : (float)rd(0.25, 2);
        int64_t n = ri(1, 500), cnt = VKN_STEP_COUNT;
        float *p = frand(n, -1, 1), *g = tu_alloc(n), *m = tu_alloc(n), *v = tu_alloc(n), *z = tu_alloc(cnt);
        vkn_tensor st = tu_tensor(1, &cnt, z), tp = tu_tensor(1, &n, p), tg = tu_tensor(1, &n, NULL);
        vkn_tensor tm = tu_tensor(1, &n, m), tv = tu_tensor(1, &n, v);
        int ns = vkn_optim_state_count(&o);
        tu_begin();
        tu_check_op(vkn_op_optim_step(tu_cmd, &o, &st, &tp, &tg, ns >= 1 ? &tm : NULL, ns >= 2 ? &tv : NULL));
        assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
        for (int step = 1; step <= 3; step++) {
            tu_fill(g, n, -2, 2);
            assert_int_equal(vkn_tensor_upload(&tg, g), VKN_OK);
            float lr = (float)rd(1e-3, 0.1);
            assert_int_equal(vkn_step_set(&st, VKN_STEP_T, (float)step), VKN_OK);
            assert_int_equal(vkn_step_set(&st, (int)o.lr_slot, lr), VKN_OK);
            if (vkn_cmd_run(tu_cmd) != VKN_OK) fail_msg("run: %s", vkn_status_detail());
            vkn_ref_optim_step(&o, step, lr, 0, p, g, m, v, n);
            check_f(msg("%s n=%lld mom %g nesterov %d wd %g gscale %g step %d: param", vkn_optim_name(o.kind),
                        (long long)n, o.momentum, o.nesterov, o.weight_decay, o.grad_scale, step), &tp, p, 1e-6, 1e-5);
            if (ns >= 1) check_f(msg("%s step %d: state 1", vkn_optim_name(o.kind), step), &tm, m, 1e-6, 1e-5);
            if (ns >= 2) check_f(msg("%s step %d: state 2", vkn_optim_name(o.kind), step), &tv, v, 1e-6, 1e-5);
        }
        free(p); free(g); free(m); free(v); free(z);
    }
}

/* ---- backward rules in graphs: binary with broadcasting, unary, reduce, matmul ---- */

static void test_graph_backward(void **state)
{
    (void)state;
    static const vkn_unary acts[] = {VKN_UNARY_TANH, VKN_UNARY_SIGMOID, VKN_UNARY_SCALE};
    for (int c = 0; c < ncases(8); c++) {
        begin_case("graph_backward", c);
        vkn_params *p;
        vkn_graph *g;
        assert_int_equal(vkn_params_create(tu_ctx, (uint64_t)c + 1, &p), VKN_OK);
        assert_int_equal(vkn_graph_create(p, "props", &g), VKN_OK);
        vkn_val y;
        char what[160];
        if (c & 1) {   /* matmul: op(A) [M,K] op(B) [K,N] with random transposes */
            int M = ri(1, 6), N = ri(1, 6), K = ri(1, 7), ta = ri(0, 1), tb = ri(0, 1);
            int64_t sa[2] = {ta ? K : M, ta ? M : K}, sb[2] = {tb ? N : K, tb ? K : N};
            int pa = vkn_params_add(p, "a", 2, sa, VKN_INIT_UNIFORM, 1.0f, 0, 0);
            int pb = vkn_params_add(p, "b", 2, sb, VKN_INIT_UNIFORM, 1.0f, 0, 0);
            y = vkn_graph_matmul(g, vkn_graph_param(g, pa, 1), vkn_graph_param(g, pb, 1), ta, tb);
            snprintf(what, sizeof what, "matmul M=%d N=%d K=%d tA=%d tB=%d", M, N, K, ta, tb);
        } else {       /* a (op) b, both broadcasting into y's shape; div by exp(b) stays well conditioned */
            vkn_binary op = (vkn_binary)ri(0, VKN_BINARY_COUNT_ - 1);
            int nd = ri(1, 4);
            int64_t sy[4], sa[4], sb[4];
            for (int i = 0; i < nd; i++) {
                sy[i] = ri(1, 4);
                int which = ri(0, 2);
                sa[i] = which == 1 ? 1 : sy[i];
                sb[i] = which == 2 ? 1 : sy[i];
            }
            int ndb = ri(1, nd);   /* b of lower rank: its trailing dimensions */
            int pa = vkn_params_add(p, "a", nd, sa, VKN_INIT_UNIFORM, 1.0f, 0, 0);
            int pb = vkn_params_add(p, "b", ndb, sb + (nd - ndb), VKN_INIT_UNIFORM, 1.0f, 0, 0);
            vkn_val b = vkn_graph_param(g, pb, 1);
            if (op == VKN_BINARY_DIV) b = vkn_graph_unary(g, VKN_UNARY_EXP, 0, b);
            y = vkn_graph_binary(g, op, vkn_graph_param(g, pa, 1), b);
            snprintf(what, sizeof what, "%s a %dD b %dD", vkn_binary_name(op), nd, ndb);
        }
        vkn_unary act = acts[ri(0, 2)];
        y = vkn_graph_unary(g, act, 0.75f, y);
        int nd = vkn_graph_ndim(g, y);
        vkn_reduce rop = ri(0, 1) ? VKN_REDUCE_SUM : VKN_REDUCE_MEAN;
        vkn_val r = vkn_graph_reduce(g, rop, y, (uint32_t)ri(1, (1 << nd) - 1));
        int64_t ts[4];
        for (int i = 0; i < vkn_graph_ndim(g, r); i++) ts[i] = vkn_graph_dim(g, r, i);
        vkn_val t = vkn_graph_input(g, "t", VKN_F32, vkn_graph_ndim(g, r), ts);
        vkn_val loss = vkn_graph_mse(g, r, t);
        vkn_graph_keep(g, loss);
        assert_int_equal(vkn_graph_backward(g, loss), VKN_OK);
        vkn_status st = vkn_graph_compile(g);
        if (st != VKN_OK) fail_msg("%s", msg("%s: compile: %s", what, vkn_status_detail()));
        tu_fill(vkn_graph_input_ptr(g, t), vkn_graph_numel(g, t), -1, 1);
        /* the device gradient of every parameter against central differences of the reference-executed loss */
        assert_int_equal(vkn_graph_run(g), VKN_OK);
        float dev_loss, ref_loss;
        assert_int_equal(vkn_graph_read(g, loss, &dev_loss), VKN_OK);
        assert_int_equal(vkn_graph_reference(g, loss, &ref_loss), VKN_OK);
        tu_assert_close(msg("%s, %s, %s: loss", what, vkn_unary_name(act), vkn_reduce_name(rop)), &dev_loss, &ref_loss,
                        1, 1e-4, 1e-3);
        for (int pi = 0; pi < vkn_params_count(p); pi++) {
            int64_t n = vkn_params_grad(p, pi)->numel;
            float *grad = tu_alloc(n), *fd = tu_alloc(n);
            tu_download(vkn_params_grad(p, pi), grad);
            gt_finite_diff(g, p, pi, loss, 1e-2, fd);
            tu_assert_close(msg("%s, %s, %s: d loss / d %s (device vs finite differences)", what, vkn_unary_name(act),
                                vkn_reduce_name(rop), vkn_params_name(p, pi)), grad, fd, n, 2e-3, 2e-2);
            free(grad);
            free(fd);
        }
        vkn_graph_destroy(g);
        vkn_params_destroy(p);
    }
}

/* ---- NaN propagation (issue 14 item 4): a NaN must reach the NaN guard ---- */

static void test_nan(void **state)
{
    (void)state;
    begin_case("nan", 0);
    int64_t n = 11, one = 1;
    float x[11] = {NAN, -1, 2, -0.5f, NAN, 3, 0, -7, NAN, 1, -2}, dy[11];
    for (int i = 0; i < 11; i++) dy[i] = (float)(i + 1);
    vkn_tensor tx = tu_tensor(1, &n, x), tdy = tu_tensor(1, &n, dy);
    vkn_tensor ty[4], tdx[2], tl[2], tdl[2];
    for (int i = 0; i < 4; i++) ty[i] = tu_tensor(1, &n, NULL);
    for (int i = 0; i < 2; i++) { tdx[i] = tu_tensor(1, &n, NULL); tl[i] = tu_tensor(1, &one, NULL); tdl[i] = tu_tensor(1, &n, NULL); }
    /* GEMM with a fused relu: a NaN in row 1 of A makes row 1 of C NaN, on this path's kernel */
    int64_t sa[2] = {3, 5}, sb[2] = {5, 6}, sc[2] = {3, 6};
    float *a = frand(15, -1, 1), *b = frand(30, -1, 1), c0[18] = {0}, cref[18] = {0};
    a[5 + 2] = NAN;
    vkn_tensor ta = tu_tensor(2, sa, a), tb = tu_tensor(2, sb, b), tc = tu_tensor(2, sc, c0);
    vkn_gemm_opts go = {.act = VKN_ACT_RELU};
    /* max reduce and max pooling over windows holding a NaN */
    int64_t s4[4] = {1, 1, 3, 4};
    float px[12] = {1, 2, NAN, 4, 5, 6, 7, 8, NAN, -1, -2, -3};
    vkn_window2d win = {2, 2, 2, 2, 0, 0};
    vkn_tensor tp = tu_tensor(4, s4, px), tpy = tu_tensor(4, (int64_t[]){1, 1, 1, 2}, NULL), tmax = tu_tensor(1, &one, NULL);
    tu_begin();
    tu_check_op(vkn_op_unary(tu_cmd, VKN_UNARY_RELU, 0, &tx, &ty[0]));
    tu_check_op(vkn_op_unary(tu_cmd, VKN_UNARY_LEAKY_RELU, 0.1f, &tx, &ty[1]));
    tu_check_op(vkn_op_unary(tu_cmd, VKN_UNARY_TANH, 0, &tx, &ty[2]));
    tu_check_op(vkn_op_unary(tu_cmd, VKN_UNARY_SIGMOID, 0, &tx, &ty[3]));
    tu_check_op(vkn_op_act_grad(tu_cmd, VKN_ACT_RELU, 0, &tx, &tdy, &tdx[0]));
    tu_check_op(vkn_op_act_grad(tu_cmd, VKN_ACT_LEAKY_RELU, 0.1f, &tx, &tdy, &tdx[1]));
    tu_check_op(vkn_op_loss(tu_cmd, VKN_LOSS_HINGE_REAL, &tx, &tl[0], &tdl[0], NULL));
    tu_check_op(vkn_op_loss(tu_cmd, VKN_LOSS_HINGE_FAKE, &tx, &tl[1], &tdl[1], NULL));
    tu_check_op(vkn_op_gemm(tu_cmd, &ta, &tb, &tc, &go));
    tu_check_op(vkn_op_reduce(tu_cmd, VKN_REDUCE_MAX, &tp, 15u, &tmax));
    tu_check_op(vkn_op_maxpool2d(tu_cmd, &tp, &win, &tpy, NULL));
    tu_run();
    static const vkn_unary un[4] = {VKN_UNARY_RELU, VKN_UNARY_LEAKY_RELU, VKN_UNARY_TANH, VKN_UNARY_SIGMOID};
    float ref[11];
    for (int k = 0; k < 4; k++) {
        vkn_ref_unary(un[k], 0.1f, x, ref, n);
        for (int i = 0; i < 11; i++)
            if (isnan(x[i]) && !isnan(ref[i])) fail_msg("%s", msg("reference %s(NaN) is %g", vkn_unary_name(un[k]), ref[i]));
        check_f(msg("%s with NaN", vkn_unary_name(un[k])), &ty[k], ref, 1e-6, 2e-6);
    }
    /* gradients as PyTorch: relu passes dy where x is NaN (0 only where x <= 0), leaky relu alpha dy */
    double xd[11], dyd[11], dxd[11];
    for (int i = 0; i < 11; i++) { xd[i] = x[i]; dyd[i] = dy[i]; }
    for (int k = 0; k < 2; k++) {
        vkn_act act = k ? VKN_ACT_LEAKY_RELU : VKN_ACT_RELU;
        vkn_ref_act_grad(act, 0.1, xd, dyd, dxd, n);
        nt_check(msg("%s grad with NaN", k ? "leaky_relu" : "relu"), &tdx[k], dxd, 1e-6, 1e-6);
        if (!(dxd[0] == (k ? 0.1 : 1.0) * dyd[0])) fail_msg("%s", msg("reference grad at NaN: %g", dxd[0]));
    }
    for (int k = 0; k < 2; k++) {
        vkn_loss_kind kind = k ? VKN_LOSS_HINGE_FAKE : VKN_LOSS_HINGE_REAL;
        float dl[11], l = (float)vkn_ref_loss(kind, x, NULL, 0, n, 1.0, dl);
        if (!isnan(l)) fail_msg("%s", msg("reference %s with a NaN: loss %g", vkn_loss_name(kind), l));
        check_f(msg("%s with NaN: loss", vkn_loss_name(kind)), &tl[k], &l, 0, 0);
        check_f(msg("%s with NaN: dx", vkn_loss_name(kind)), &tdl[k], dl, 1e-7, 1e-6);
    }
    vkn_ref_gemm(1, 3, 6, 5, a, b, cref, NULL, &go);
    for (int j = 0; j < 6; j++)
        if (!isnan(cref[6 + j])) fail_msg("%s", msg("reference gemm relu row with a NaN: %g", cref[6 + j]));
    check_f(msg("gemm[%s] relu with a NaN", vkn_op_gemm_path(tu_ctx)), &tc, cref, 1e-5, 1e-4);
    float mref, pref[2];
    vkn_ref_reduce(VKN_REDUCE_MAX, px, 4, s4, 15u, &mref);
    if (!isnan(mref)) fail_msg("%s", msg("reference max with a NaN: %g", mref));
    check_f(msg("max with a NaN"), &tmax, &mref, 0, 0);
    double pxd[12], pyd[2];
    for (int i = 0; i < 12; i++) pxd[i] = px[i];
    vkn_ref_maxpool2d(&win, 1, 3, 4, pxd, pyd, NULL);
    for (int i = 0; i < 2; i++) pref[i] = (float)pyd[i];
    /* window 0 holds {1, 2, 5, 6}, window 1 {NaN, 4, 7, 8} */
    if (pref[0] != 6.0f || !isnan(pref[1])) fail_msg("%s", msg("reference maxpool with a NaN: %g %g", pref[0], pref[1]));
    check_f(msg("maxpool with a NaN"), &tpy, pref, 0, 0);
    free(a); free(b);
}

int main(void)
{
    const char *s = getenv("VKN_PROPS_SEED"), *n = getenv("VKN_PROPS_CASES");
    if (s && *s) seed0 = strtoull(s, NULL, 10);
    if (n && atoi(n) > 0) scale_cases = atoi(n);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),  cmocka_unit_test(test_act_grad), cmocka_unit_test(test_binary),
        cmocka_unit_test(test_reduce), cmocka_unit_test(test_gemm),     cmocka_unit_test(test_conv),
        cmocka_unit_test(test_pool),   cmocka_unit_test(test_embed),    cmocka_unit_test(test_concat),
        cmocka_unit_test(test_losses), cmocka_unit_test(test_optim),    cmocka_unit_test(test_graph_backward),
        cmocka_unit_test(test_nan),
    };
    return TU_RUN(tests);
}
