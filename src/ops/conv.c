/* Convolution building blocks (im2col, col2im, swap01) and the composite conv2d / conv_transpose2d
 * forward and backward, all through vkn_op_gemm; launchers and direct-loop references.
 *
 * Layouts: images NCHW; col [C*kh*kw, N*Ho*Wo] (row r = (c*kh + i)*kw + j, column q = (n*Ho + oh)*Wo + ow).
 * The GEMMs work on "CNHW" matrices [C, N*H*W] so their N dimension is the whole batch (long rows,
 * multiples of 4 for the vec4 path); swap01 converts to and from NCHW.
 *   conv2d:    col = im2col(x); Y' [Cout, L] = W [Cout, K] col + bias; y = swap01(Y')
 *   backward:  dY' = swap01(dy); db = rowsum(dY'); dW = dY' col^T; dcol = W^T dY'; dx = col2im(dcol)
 *   conv_transpose2d (W [Cin, Cout*kh*kw]): X' = swap01(x); col = W^T X'; y = col2im(col) + bias
 *   backward:  dcol = im2col(dy); dX' = W dcol; dx = swap01(dX'); dW = X' dcol^T; db = sum(dy over N,H,W)
 * The workspace is carved into slices aligned to 64 elements (256 bytes: any device's storage-buffer
 * and texel-buffer offset alignment). Its last slice holds the split-K partials of the op's GEMMs on the
 * GPU kernel path (gemm.c, split_plan): a C of few tiles with a long K, above all dW (Cout x Cin*kh*kw,
 * summed over all of L). One slot, sized for the op's largest, serves its GEMMs one after another (the
 * hazard tracker orders the reuse). The split depends on the shape alone, so the size functions, which
 * have no context, count the slot on every path; CPU-class devices leave it unused. */
#include "vkn/ops.h"
#include "ops/gemm_internal.h"
#include "ops/launch.h"
#include "ops/ref_nn.h"
#include "ops/window2d.h"

#include <stdlib.h>
#include <string.h>

#define WS_ALIGN 64

static int cpu_path(vkn_cmd *c) { return vkn_context_info(vkn_cmd_context(c))->path == VKN_PATH_CPU; }

typedef struct win_n { uint32_t kh, kw, sh, sw, ph, pw; } win_n;

static int win_norm(const vkn_window2d *w, win_n *o)
{
    if (!w || w->kh < 1 || w->kw < 1 || w->sh < 0 || w->sw < 0 || w->ph < 0 || w->pw < 0) return 0;
    *o = (win_n){(uint32_t)w->kh, (uint32_t)w->kw, (uint32_t)(w->sh ? w->sh : 1), (uint32_t)(w->sw ? w->sw : 1),
                 (uint32_t)w->ph, (uint32_t)w->pw};
    return 1;
}

int vkn_window2d_out(const vkn_window2d *win, int H, int W, int *Ho, int *Wo)
{
    win_n w;
    int ho = 0, wo = 0;
    if (win_norm(win, &w) && H >= 1 && W >= 1) {
        /* in 64 bits: H + 2 ph passes 2^31 for a padding of 2^30; a size past 2^31-1 does not fit */
        int64_t eh = (int64_t)H + 2 * (int64_t)w.ph - w.kh, ew = (int64_t)W + 2 * (int64_t)w.pw - w.kw;
        int64_t h = eh >= 0 ? eh / w.sh + 1 : 0, wd = ew >= 0 ? ew / w.sw + 1 : 0;
        if (h <= INT32_MAX && wd <= INT32_MAX) ho = (int)h, wo = (int)wd;
    }
    if (Ho) *Ho = ho;
    if (Wo) *Wo = wo;
    return ho > 0 && wo > 0;
}

static int64_t ws_round(int64_t n) { return (n + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN; }

/* A 2-D [n0, n1] slice of the workspace at *off (elements), advancing *off. */
static vkn_status ws_take(const vkn_tensor *ws, int64_t *off, int64_t n0, int64_t n1, vkn_tensor *out)
{
    int64_t need = n0 * n1;
    if (*off + need > ws->numel)
        return vkn_status_set(VKN_ERR_SHAPE, "conv: workspace of %lld elements is too small (need at least %lld)",
                              (long long)ws->numel, (long long)(*off + need));
    *out = *ws;
    out->ndim = 2;
    out->shape[0] = n0;
    out->shape[1] = n1;
    out->shape[2] = out->shape[3] = 0;
    out->numel = need;
    out->offset = ws->offset + (uint64_t)*off * 4;
    out->bytes = (uint64_t)need * 4;
    out->host = ws->host ? (char *)ws->host + *off * 4 : NULL;
    *off += ws_round(need);
    return VKN_OK;
}

/* The split-K partials slot of np elements at *off on the GPU path (*part = slot); NULL where the
 * GEMMs do not split (np 0, or the CPU path, whose kernel never splits). */
static vkn_status ws_partials(vkn_cmd *c, const vkn_tensor *ws, int64_t *off, int64_t np, vkn_tensor *slot,
                              const vkn_tensor **part)
{
    *part = NULL;
    if (np <= 0 || cpu_path(c)) return VKN_OK;
    VKN_TRY(ws_take(ws, off, 1, np, slot));
    *part = slot;
    return VKN_OK;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static vkn_status view2(const vkn_tensor *t, int64_t n0, int64_t n1, vkn_tensor *out)
{
    int64_t s[2] = {n0, n1};
    return vkn_tensor_reshape(t, 2, s, out);
}

/* ---- building blocks (no shape checks beyond sizes: the public wrappers check) ---- */

/* rows >= C*kh*kw: the rows past C*kh*kw are zero (K padded for the GEMM); 0 means C*kh*kw */
static vkn_status rec_im2col(vkn_cmd *c, const vkn_tensor *x, const win_n *w, uint32_t N, uint32_t C, uint32_t H,
                             uint32_t W, uint32_t Ho, uint32_t Wo, uint32_t rows, const vkn_tensor *col)
{
    uint32_t L = N * Ho * Wo;
    if (!rows) rows = C * w->kh * w->kw;
    struct { uint32_t L, L4, rows; } pc = {L, (L + 3) / 4, rows};
    vkn_dispatch d = {.shader = "conv/im2col", .label = "im2col", .nspec = 5, .bind = {col}, .nbind = 1, .write_mask = 1,
                      .texel = {x}, .ntexel = 1, .push = &pc, .push_bytes = sizeof pc};
    VKN_TRY(vkn_window_spec("im2col", C, H, W, w->kh, w->kw, w->sh, w->sw, w->ph, w->pw, Ho, Wo, d.spec));
    /* x (then z): blocks of 256 q along a row; y: the row */
    uint64_t gx = ((uint64_t)pc.L4 + 63) / 64;
    if (gx == 0) gx = 1;
    d.groups[0] = (uint32_t)(gx < 65535 ? gx : 65535);
    d.groups[1] = rows;
    d.groups[2] = (uint32_t)((gx + d.groups[0] - 1) / d.groups[0]);
    if (rows > 65535) return vkn_status_set(VKN_ERR_SHAPE, "im2col: %u rows exceed the launch grid", rows);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status rec_col2im(vkn_cmd *c, const vkn_tensor *col, const win_n *w, uint32_t N, uint32_t C, uint32_t H,
                             uint32_t W, uint32_t Ho, uint32_t Wo, const vkn_tensor *bias, const vkn_tensor *x)
{
    struct { uint32_t L, n; } pc = {N * Ho * Wo, N * C * H * W};
    vkn_dispatch d = {.shader = "conv/col2im", .label = "col2im", .nspec = 6,
                      .bind = {x}, .nbind = 1, .write_mask = 1, .texel = {col, bias ? bias : col}, .ntexel = 2,
                      .push = &pc, .push_bytes = sizeof pc};
    VKN_TRY(vkn_window_spec("col2im", C, H, W, w->kh, w->kw, w->sh, w->sw, w->ph, w->pw, Ho, Wo, d.spec));
    d.spec[5] = bias != NULL;
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

/* out [M, wo] = in [M, wi] with columns past wi zero (or cropped when wo < wi) */
static vkn_status rec_pad_cols(vkn_cmd *c, const vkn_tensor *in, uint32_t M, uint32_t wi, uint32_t wo, const vkn_tensor *out)
{
    struct { uint32_t n; } pc = {M * wo};
    vkn_dispatch d = {.shader = "conv/pad_cols", .label = "pad_cols", .spec = {wi, wo}, .nspec = 2, .bind = {out},
                      .nbind = 1, .write_mask = 1, .texel = {in}, .ntexel = 1, .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status rec_swap01(vkn_cmd *c, const vkn_tensor *x, uint32_t A, uint32_t B, uint32_t P, const vkn_tensor *y)
{
    struct { uint32_t n; } pc = {A * B * P};
    vkn_dispatch d = {.shader = "conv/swap01", .label = "swap01", .spec = {P % 4 == 0, A, B, P}, .nspec = 4, .bind = {y},
                      .nbind = 1, .write_mask = 1, .texel = {x, x}, .ntexel = 2, .texel_vec4_mask = 1,
                      .push = &pc, .push_bytes = sizeof pc};
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

/* ---- public building blocks ---- */

static int is4(const vkn_tensor *t) { return vkn_is_f32(t) && t->ndim == 4; }

vkn_status vkn_op_im2col(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *col)
{
    char bx[64], bc[64];
    win_n w;
    int Ho, Wo;
    if (!is4(x) || !vkn_is_f32(col) || !win_norm(win, &w)) return vkn_status_set(VKN_ERR_ARG, "im2col: x must be 4-D f32, col f32, window valid");
    if (!vkn_window2d_out(win, (int)x->shape[2], (int)x->shape[3], &Ho, &Wo))
        return vkn_status_set(VKN_ERR_SHAPE, "im2col: window %dx%d does not fit x %s", win->kh, win->kw, vkn_tensor_shape_str(x, bx, sizeof bx));
    int64_t rows = x->shape[1] * w.kh * w.kw, L = x->shape[0] * Ho * Wo;
    if (col->ndim != 2 || col->shape[0] != rows || col->shape[1] != L)
        return vkn_status_set(VKN_ERR_SHAPE, "im2col: x %s gives col %lldx%lld, not %s", vkn_tensor_shape_str(x, bx, sizeof bx),
                              (long long)rows, (long long)L, vkn_tensor_shape_str(col, bc, sizeof bc));
    return rec_im2col(c, x, &w, (uint32_t)x->shape[0], (uint32_t)x->shape[1], (uint32_t)x->shape[2], (uint32_t)x->shape[3],
                      (uint32_t)Ho, (uint32_t)Wo, 0, col);
}

vkn_status vkn_op_col2im(vkn_cmd *c, const vkn_tensor *col, const vkn_window2d *win, const vkn_tensor *bias,
                         const vkn_tensor *x)
{
    char bx[64], bc[64];
    win_n w;
    int Ho, Wo;
    if (!is4(x) || !vkn_is_f32(col) || !win_norm(win, &w) || (bias && !vkn_is_f32(bias)))
        return vkn_status_set(VKN_ERR_ARG, "col2im: x must be 4-D f32, col (and bias) f32, window valid");
    if (!vkn_window2d_out(win, (int)x->shape[2], (int)x->shape[3], &Ho, &Wo))
        return vkn_status_set(VKN_ERR_SHAPE, "col2im: window %dx%d does not fit x %s", win->kh, win->kw, vkn_tensor_shape_str(x, bx, sizeof bx));
    int64_t rows = x->shape[1] * w.kh * w.kw, L = x->shape[0] * Ho * Wo;
    if (col->ndim != 2 || col->shape[0] != rows || col->shape[1] != L)
        return vkn_status_set(VKN_ERR_SHAPE, "col2im: x %s needs col %lldx%lld, not %s", vkn_tensor_shape_str(x, bx, sizeof bx),
                              (long long)rows, (long long)L, vkn_tensor_shape_str(col, bc, sizeof bc));
    if (bias && bias->numel != x->shape[1]) return vkn_status_set(VKN_ERR_SHAPE, "col2im: bias needs %lld elements", (long long)x->shape[1]);
    return rec_col2im(c, col, &w, (uint32_t)x->shape[0], (uint32_t)x->shape[1], (uint32_t)x->shape[2], (uint32_t)x->shape[3],
                      (uint32_t)Ho, (uint32_t)Wo, bias, x);
}

vkn_status vkn_op_swap01(vkn_cmd *c, const vkn_tensor *x, int64_t A, int64_t B, int64_t P, const vkn_tensor *y)
{
    if (!vkn_is_f32(x) || !vkn_is_f32(y)) return vkn_status_set(VKN_ERR_ARG, "swap01: x and y must be f32 tensors");
    if (A < 1 || B < 1 || P < 1 || x->numel != A * B * P || y->numel != x->numel || x->numel >= (1ll << 32))
        return vkn_status_set(VKN_ERR_SHAPE, "swap01: %lldx%lldx%lld does not match x (%lld) and y (%lld elements)",
                              (long long)A, (long long)B, (long long)P, (long long)x->numel, (long long)y->numel);
    return rec_swap01(c, x, (uint32_t)A, (uint32_t)B, (uint32_t)P, y);
}

/* ---- conv2d ---- */

typedef struct conv_dims {
    win_n w;
    int64_t N, Cin, H, W, Cout, Ho, Wo, K, L;
    int64_t Kp;    /* K, or K rounded up to 4 when padding (see pad_k) */
} conv_dims;

/* On CPU-class devices the GEMM's fast path needs K % 4 == 0: a K like 75 (3 channels, 5x5) is padded
 * with zero rows of col and zero columns of a padded copy of W. GPU-class kernels need no padding. */
static int pad_k(vkn_cmd *c, const conv_dims *d)
{
    return d->K % 4 != 0 && vkn_context_info(vkn_cmd_context(c))->path == VKN_PATH_CPU;
}

static int conv_dims_of(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win, conv_dims *d)
{
    int Ho, Wo;
    if (N < 1 || Cin < 1 || Cout < 1 || !win_norm(win, &d->w) || !vkn_window2d_out(win, H, W, &Ho, &Wo)) return 0;
    d->N = N; d->Cin = Cin; d->H = H; d->W = W; d->Cout = Cout; d->Ho = Ho; d->Wo = Wo;
    d->L = (int64_t)N * Ho * Wo;
    /* K and L <= 2^31 keep every workspace product (K L, Cout L, ...) far inside 64 bits; a tensor
     * that large is refused anyway */
    if (__builtin_mul_overflow((int64_t)Cin * d->w.kh, (int64_t)d->w.kw, &d->K) || d->K > (1ll << 31) || d->L > (1ll << 31))
        return 0;
    d->Kp = (d->K + 3) / 4 * 4;
    return 1;
}

/* col [Kp, L] (reused as dcol in the backward) + Y' (dY') [Cout, L] + padded W (dW) [Cout, Kp] */
static int64_t conv_ws_base(const conv_dims *d)
{
    return ws_round(d->Kp * d->L) + ws_round(d->Cout * d->L) + (d->Kp != d->K ? ws_round(d->Cout * d->Kp) : 0);
}

/* Split-K partials of the GEMMs (M x N, reduction K) on the GPU path, where K is not padded:
 * forward Y' = W col (Cout x L, K); backward dW = dY' col^T (Cout x K, L) and dcol = W^T dY' (K x L, Cout). */
static int64_t conv_fwd_partials(const conv_dims *d) { return vkn_gemm_split_scratch_numel(d->Cout, d->L, d->K, 1); }
static int64_t conv_bwd_partials(const conv_dims *d)
{
    return max64(vkn_gemm_split_scratch_numel(d->Cout, d->K, d->L, 1), vkn_gemm_split_scratch_numel(d->K, d->L, d->Cout, 1));
}

int64_t vkn_conv2d_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win)
{
    conv_dims d;
    if (!conv_dims_of(N, Cin, H, W, Cout, win, &d)) return 0;
    return conv_ws_base(&d) + ws_round(conv_fwd_partials(&d));
}

int64_t vkn_conv2d_backward_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win)
{
    conv_dims d;
    if (!conv_dims_of(N, Cin, H, W, Cout, win, &d)) return 0;
    return conv_ws_base(&d) + ws_round(conv_bwd_partials(&d));
}

/* Check x [N,Cin,H,W] and w (conv: [Cout,Cin,kh,kw]; transposed: [Cin,Cout,kh,kw]); fills d. */
static vkn_status conv_check(const char *op, const vkn_tensor *x, const vkn_tensor *w, const vkn_window2d *win,
                             int transposed, const vkn_tensor *ws)
{
    char bx[64], bw[64];
    win_n wn;
    if (!is4(x) || !is4(w)) return vkn_status_set(VKN_ERR_ARG, "%s: x and w must be 4-D f32 tensors", op);
    if (!win_norm(win, &wn)) return vkn_status_set(VKN_ERR_ARG, "%s: invalid window", op);
    if (!vkn_is_f32(ws)) return vkn_status_set(VKN_ERR_ARG, "%s: workspace must be an f32 tensor", op);
    int64_t cin = transposed ? w->shape[0] : w->shape[1];
    if (cin != x->shape[1] || w->shape[2] != wn.kh || w->shape[3] != wn.kw)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: w %s does not fit x %s with a %dx%d kernel", op,
                              vkn_tensor_shape_str(w, bw, sizeof bw), vkn_tensor_shape_str(x, bx, sizeof bx), win->kh, win->kw);
    return VKN_OK;
}

static vkn_status check_nchw(const char *op, const char *name, const vkn_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w)
{
    char b[64];
    if (!is4(t) || t->shape[0] != n || t->shape[1] != c || t->shape[2] != h || t->shape[3] != w)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: %s is %s, expected %lldx%lldx%lldx%lld (4-D f32)", op, name,
                              t ? vkn_tensor_shape_str(t, b, sizeof b) : "missing", (long long)n, (long long)c, (long long)h, (long long)w);
    return VKN_OK;
}

static vkn_status check_vec(const char *op, const char *name, const vkn_tensor *t, int64_t n)
{
    if (!vkn_is_f32(t) || t->numel != n)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: %s must be an f32 tensor of %lld elements", op, name, (long long)n);
    return VKN_OK;
}

vkn_status vkn_op_conv2d(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *bias,
                         const vkn_window2d *win, const vkn_tensor *y, const vkn_tensor *ws)
{
    conv_dims d;
    VKN_TRY(conv_check("conv2d", x, w, win, 0, ws));
    if (!conv_dims_of((int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)w->shape[0], win, &d))
        return vkn_status_set(VKN_ERR_SHAPE, "conv2d: the window does not fit the input");
    VKN_TRY(check_nchw("conv2d", "y", y, d.N, d.Cout, d.Ho, d.Wo));
    if (bias) VKN_TRY(check_vec("conv2d", "bias", bias, d.Cout));
    int pad = pad_k(c, &d);
    int64_t K = pad ? d.Kp : d.K, off = 0;
    vkn_tensor col, ycn, wv, slot;
    const vkn_tensor *part;
    VKN_TRY(ws_take(ws, &off, K, d.L, &col));
    VKN_TRY(ws_take(ws, &off, d.Cout, d.L, &ycn));
    if (pad) {
        VKN_TRY(ws_take(ws, &off, d.Cout, K, &wv));
        VKN_TRY(rec_pad_cols(c, w, (uint32_t)d.Cout, (uint32_t)d.K, (uint32_t)K, &wv));
    } else {
        VKN_TRY(view2(w, d.Cout, d.K, &wv));
    }
    VKN_TRY(rec_im2col(c, x, &d.w, (uint32_t)d.N, (uint32_t)d.Cin, (uint32_t)d.H, (uint32_t)d.W, (uint32_t)d.Ho, (uint32_t)d.Wo,
                       (uint32_t)K, &col));
    vkn_gemm_opts o = {.bias_kind = bias ? VKN_BIAS_ROW : VKN_BIAS_NONE, .bias = bias};
    if (cpu_path(c)) {   /* the GEMM writes y (NCHW) directly */
        vkn_tensor yv;
        VKN_TRY(view2(y, d.Cout, d.L, &yv));
        return vkn_op_gemm_nchw_out(c, &wv, &col, &yv, &o, d.Ho * d.Wo);
    }
    VKN_TRY(ws_partials(c, ws, &off, conv_fwd_partials(&d), &slot, &part));
    VKN_TRY(vkn_op_gemm_ws(c, &wv, &col, &ycn, &o, part));
    return rec_swap01(c, &ycn, (uint32_t)d.Cout, (uint32_t)d.N, (uint32_t)(d.Ho * d.Wo), y);
}

vkn_status vkn_op_conv2d_backward(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *dy,
                                  const vkn_window2d *win, const vkn_tensor *dx, const vkn_tensor *dw,
                                  const vkn_tensor *db, const vkn_tensor *ws)
{
    conv_dims d;
    VKN_TRY(conv_check("conv2d_backward", x, w, win, 0, ws));
    if (!conv_dims_of((int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)w->shape[0], win, &d))
        return vkn_status_set(VKN_ERR_SHAPE, "conv2d_backward: the window does not fit the input");
    VKN_TRY(check_nchw("conv2d_backward", "dy", dy, d.N, d.Cout, d.Ho, d.Wo));
    if (dx) VKN_TRY(check_nchw("conv2d_backward", "dx", dx, d.N, d.Cin, d.H, d.W));
    if (dw) VKN_TRY(check_vec("conv2d_backward", "dw", dw, d.Cout * d.K));
    if (db) VKN_TRY(check_vec("conv2d_backward", "db", db, d.Cout));
    if (!dx && !dw && !db) return VKN_OK;
    int pad = pad_k(c, &d);
    int64_t K = pad ? d.Kp : d.K, off = 0;
    vkn_tensor col, dycn, wv, wpad, slot;
    const vkn_tensor *part = NULL;
    VKN_TRY(ws_take(ws, &off, K, d.L, &col));
    VKN_TRY(ws_take(ws, &off, d.Cout, d.L, &dycn));
    if (pad) VKN_TRY(ws_take(ws, &off, d.Cout, K, &wpad));   /* dW padded, then W padded */
    if (dw || dx) VKN_TRY(ws_partials(c, ws, &off, conv_bwd_partials(&d), &slot, &part));
    VKN_TRY(rec_swap01(c, dy, (uint32_t)d.N, (uint32_t)d.Cout, (uint32_t)(d.Ho * d.Wo), &dycn));
    if (db) VKN_TRY(vkn_op_reduce(c, VKN_REDUCE_SUM, &dycn, 2u, db));
    if (dw) {
        vkn_tensor dwv;
        if (pad) dwv = wpad;
        else VKN_TRY(view2(dw, d.Cout, d.K, &dwv));
        VKN_TRY(rec_im2col(c, x, &d.w, (uint32_t)d.N, (uint32_t)d.Cin, (uint32_t)d.H, (uint32_t)d.W, (uint32_t)d.Ho, (uint32_t)d.Wo,
                           (uint32_t)K, &col));
        vkn_gemm_opts o = {.trans_b = 1};
        VKN_TRY(vkn_op_gemm_ws(c, &dycn, &col, &dwv, &o, part));
        if (pad) VKN_TRY(rec_pad_cols(c, &wpad, (uint32_t)d.Cout, (uint32_t)K, (uint32_t)d.K, dw));
    }
    if (dx) {
        if (pad) {
            wv = wpad;
            VKN_TRY(rec_pad_cols(c, w, (uint32_t)d.Cout, (uint32_t)d.K, (uint32_t)K, &wv));
        } else {
            VKN_TRY(view2(w, d.Cout, d.K, &wv));
        }
        vkn_gemm_opts o = {.trans_a = 1};
        VKN_TRY(vkn_op_gemm_ws(c, &wv, &dycn, &col, &o, part));   /* dcol [K, L] overwrites col (the tracker orders it) */
        VKN_TRY(rec_col2im(c, &col, &d.w, (uint32_t)d.N, (uint32_t)d.Cin, (uint32_t)d.H, (uint32_t)d.W, (uint32_t)d.Ho, (uint32_t)d.Wo, NULL, dx));
    }
    return VKN_OK;
}

/* ---- conv_transpose2d: the adjoint geometry; x plays the conv's output, y the conv's input ---- */

typedef struct convt_dims {
    win_n w;
    int64_t N, Cin, H, W, Cout, Ho, Wo, Kt, L;
} convt_dims;

static int convt_dims_of(int N, int Cin, int H, int W, int Cout, int Ho, int Wo, const vkn_window2d *win, convt_dims *d)
{
    int h, w;
    if (N < 1 || Cin < 1 || Cout < 1 || H < 1 || W < 1 || !win_norm(win, &d->w) || !vkn_window2d_out(win, Ho, Wo, &h, &w) ||
        h != H || w != W)
        return 0;
    d->N = N; d->Cin = Cin; d->H = H; d->W = W; d->Cout = Cout; d->Ho = Ho; d->Wo = Wo;
    d->L = (int64_t)N * H * W;
    if (__builtin_mul_overflow((int64_t)Cout * d->w.kh, (int64_t)d->w.kw, &d->Kt) || d->Kt > (1ll << 31) ||
        d->L > (1ll << 31))
        return 0;   /* as conv_dims_of */
    return 1;
}

/* Ho = (H-1) sh - 2 ph + kh without an output padding (may be < 1); 0 for an invalid window */
static int convt_default_out_raw(int H, int W, const vkn_window2d *win, int *Ho, int *Wo)
{
    win_n w;
    if (!win_norm(win, &w) || H < 1 || W < 1) return 0;
    /* 64 bits: (H - 1) sh may pass 2^31; a size outside int is no valid window */
    int64_t ho = (int64_t)(H - 1) * w.sh - 2 * (int64_t)w.ph + w.kh, wo = (int64_t)(W - 1) * w.sw - 2 * (int64_t)w.pw + w.kw;
    if (ho > INT32_MAX || wo > INT32_MAX || ho < INT32_MIN || wo < INT32_MIN) return 0;
    *Ho = (int)ho;
    *Wo = (int)wo;
    return 1;
}

/* col (dcol) [Cout*kh*kw, L] + X' (dX') [Cin, L]: an output padding does not change it */
static int64_t convt_ws_base(const convt_dims *d) { return ws_round(d->Kt * d->L) + ws_round(d->Cin * d->L); }

/* Split-K partials of the GEMMs (M x N, reduction K) on the GPU path: forward col = W^T X' (Kt x L, Cin);
 * backward dW = X' dcol^T (Cin x Kt, L) and dX' = W dcol (Cin x L, Kt). */
static int64_t convt_fwd_partials(const convt_dims *d) { return vkn_gemm_split_scratch_numel(d->Kt, d->L, d->Cin, 1); }
static int64_t convt_bwd_partials(const convt_dims *d)
{
    return max64(vkn_gemm_split_scratch_numel(d->Cin, d->Kt, d->L, 1), vkn_gemm_split_scratch_numel(d->Cin, d->L, d->Kt, 1));
}

int64_t vkn_conv_transpose2d_backward_workspace_size(int N, int Cin, int H, int W, int Cout, int Ho, int Wo,
                                                     const vkn_window2d *win)
{
    convt_dims d;
    if (!convt_dims_of(N, Cin, H, W, Cout, Ho, Wo, win, &d)) return 0;
    return convt_ws_base(&d) + ws_round(convt_bwd_partials(&d));
}

int64_t vkn_conv_transpose2d_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win)
{
    int Ho, Wo;
    convt_dims d;
    /* No slice depends on Ho, Wo, so any valid output size will do. The default one may be empty
     * (x [1,4,1,1], 5x5 kernel, stride 3, padding 3: Wo = -1) where an output padding below the
     * stride makes a valid op (Wo = 1 with output padding 2): take the smallest such size. */
    if (!win || !convt_default_out_raw(H, W, win, &Ho, &Wo)) return 0;
    int sh = win->sh > 0 ? win->sh : 1, sw = win->sw > 0 ? win->sw : 1;
    if (Ho < 1 && Ho + sh - 1 >= 1) Ho = 1;
    if (Wo < 1 && Wo + sw - 1 >= 1) Wo = 1;
    if (!convt_dims_of(N, Cin, H, W, Cout, Ho, Wo, win, &d)) return 0;
    return convt_ws_base(&d) + ws_round(convt_fwd_partials(&d));
}

vkn_status vkn_op_conv_transpose2d(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *bias,
                                   const vkn_window2d *win, const vkn_tensor *y, const vkn_tensor *ws)
{
    convt_dims d;
    char by[64];
    VKN_TRY(conv_check("conv_transpose2d", x, w, win, 1, ws));
    if (!is4(y) || y->shape[0] != x->shape[0] || y->shape[1] != w->shape[1] ||
        !convt_dims_of((int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)w->shape[1],
                       (int)y->shape[2], (int)y->shape[3], win, &d))
        return vkn_status_set(VKN_ERR_SHAPE, "conv_transpose2d: y %s does not fit x and w (Ho = (H-1)*sh - 2*ph + kh)",
                              y ? vkn_tensor_shape_str(y, by, sizeof by) : "missing");
    if (bias) VKN_TRY(check_vec("conv_transpose2d", "bias", bias, d.Cout));
    int64_t off = 0;
    vkn_tensor col, xcn, wv, slot;
    const vkn_tensor *part;
    VKN_TRY(ws_take(ws, &off, d.Kt, d.L, &col));
    VKN_TRY(ws_take(ws, &off, d.Cin, d.L, &xcn));
    VKN_TRY(ws_partials(c, ws, &off, convt_fwd_partials(&d), &slot, &part));
    VKN_TRY(view2(w, d.Cin, d.Kt, &wv));
    VKN_TRY(rec_swap01(c, x, (uint32_t)d.N, (uint32_t)d.Cin, (uint32_t)(d.H * d.W), &xcn));
    vkn_gemm_opts o = {.trans_a = 1};
    VKN_TRY(vkn_op_gemm_ws(c, &wv, &xcn, &col, &o, part));
    return rec_col2im(c, &col, &d.w, (uint32_t)d.N, (uint32_t)d.Cout, (uint32_t)d.Ho, (uint32_t)d.Wo, (uint32_t)d.H,
                      (uint32_t)d.W, bias, y);
}

vkn_status vkn_op_conv_transpose2d_backward(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w,
                                            const vkn_tensor *dy, const vkn_window2d *win, const vkn_tensor *dx,
                                            const vkn_tensor *dw, const vkn_tensor *db, const vkn_tensor *ws)
{
    convt_dims d;
    char by[64];
    VKN_TRY(conv_check("conv_transpose2d_backward", x, w, win, 1, ws));
    if (!is4(dy) || dy->shape[0] != x->shape[0] || dy->shape[1] != w->shape[1] ||
        !convt_dims_of((int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)w->shape[1],
                       (int)dy->shape[2], (int)dy->shape[3], win, &d))
        return vkn_status_set(VKN_ERR_SHAPE, "conv_transpose2d_backward: dy %s does not fit x and w",
                              dy ? vkn_tensor_shape_str(dy, by, sizeof by) : "missing");
    if (dx) VKN_TRY(check_nchw("conv_transpose2d_backward", "dx", dx, d.N, d.Cin, d.H, d.W));
    if (dw) VKN_TRY(check_vec("conv_transpose2d_backward", "dw", dw, d.Cin * d.Kt));
    if (db) VKN_TRY(check_vec("conv_transpose2d_backward", "db", db, d.Cout));
    if (db) {
        vkn_tensor dy3;
        int64_t s3[3] = {d.N, d.Cout, d.Ho * d.Wo};
        VKN_TRY(vkn_tensor_reshape(dy, 3, s3, &dy3));
        VKN_TRY(vkn_op_reduce(c, VKN_REDUCE_SUM, &dy3, 5u, db));
    }
    if (!dx && !dw) return VKN_OK;
    int64_t off = 0;
    vkn_tensor dcol, xcn, wv, slot;
    const vkn_tensor *part;
    VKN_TRY(ws_take(ws, &off, d.Kt, d.L, &dcol));
    VKN_TRY(ws_take(ws, &off, d.Cin, d.L, &xcn));
    VKN_TRY(ws_partials(c, ws, &off, convt_bwd_partials(&d), &slot, &part));
    VKN_TRY(view2(w, d.Cin, d.Kt, &wv));
    VKN_TRY(rec_im2col(c, dy, &d.w, (uint32_t)d.N, (uint32_t)d.Cout, (uint32_t)d.Ho, (uint32_t)d.Wo, (uint32_t)d.H,
                       (uint32_t)d.W, 0, &dcol));
    if (dw) {
        vkn_tensor dwv;
        VKN_TRY(view2(dw, d.Cin, d.Kt, &dwv));
        VKN_TRY(rec_swap01(c, x, (uint32_t)d.N, (uint32_t)d.Cin, (uint32_t)(d.H * d.W), &xcn));
        vkn_gemm_opts o = {.trans_b = 1};
        VKN_TRY(vkn_op_gemm_ws(c, &xcn, &dcol, &dwv, &o, part));
    }
    if (dx) {
        if (cpu_path(c)) {   /* the GEMM writes dx (NCHW) directly */
            vkn_tensor dxv;
            VKN_TRY(view2(dx, d.Cin, d.L, &dxv));
            VKN_TRY(vkn_op_gemm_nchw_out(c, &wv, &dcol, &dxv, NULL, d.H * d.W));
        } else {
            VKN_TRY(vkn_op_gemm_ws(c, &wv, &dcol, &xcn, NULL, part));   /* dX' overwrites X' (the tracker orders it) */
            VKN_TRY(rec_swap01(c, &xcn, (uint32_t)d.Cin, (uint32_t)d.N, (uint32_t)(d.H * d.W), dx));
        }
    }
    return VKN_OK;
}

/* ---- references (double, direct loops) ---- */

void vkn_ref_im2col(const vkn_window2d *win, int N, int C, int H, int W, const double *x, double *col)
{
    win_n w;
    int Ho, Wo;
    if (!win_norm(win, &w) || !vkn_window2d_out(win, H, W, &Ho, &Wo)) return;
    int64_t L = (int64_t)N * Ho * Wo;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < (int)w.kh; i++)
            for (int j = 0; j < (int)w.kw; j++) {
                double *row = col + (((int64_t)c * w.kh + i) * w.kw + j) * L;
                for (int n = 0; n < N; n++)
                    for (int oh = 0; oh < Ho; oh++)
                        for (int ow = 0; ow < Wo; ow++) {
                            int h = oh * (int)w.sh - (int)w.ph + i, ww = ow * (int)w.sw - (int)w.pw + j;
                            int in = h >= 0 && h < H && ww >= 0 && ww < W;
                            row[((int64_t)n * Ho + oh) * Wo + ow] = in ? x[(((int64_t)n * C + c) * H + h) * W + ww] : 0.0;
                        }
            }
}

void vkn_ref_col2im(const vkn_window2d *win, int N, int C, int H, int W, const double *col, const double *bias, double *x)
{
    win_n w;
    int Ho, Wo;
    if (!win_norm(win, &w) || !vkn_window2d_out(win, H, W, &Ho, &Wo)) return;
    int64_t L = (int64_t)N * Ho * Wo;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int64_t k = 0; k < (int64_t)H * W; k++) x[((int64_t)n * C + c) * H * W + k] = bias ? bias[c] : 0.0;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < (int)w.kh; i++)
            for (int j = 0; j < (int)w.kw; j++) {
                const double *row = col + (((int64_t)c * w.kh + i) * w.kw + j) * L;
                for (int n = 0; n < N; n++)
                    for (int oh = 0; oh < Ho; oh++)
                        for (int ow = 0; ow < Wo; ow++) {
                            int h = oh * (int)w.sh - (int)w.ph + i, ww = ow * (int)w.sw - (int)w.pw + j;
                            if (h >= 0 && h < H && ww >= 0 && ww < W)
                                x[(((int64_t)n * C + c) * H + h) * W + ww] += row[((int64_t)n * Ho + oh) * Wo + ow];
                        }
            }
}

void vkn_ref_swap01(int64_t A, int64_t B, int64_t P, const double *x, double *y)
{
    for (int64_t a = 0; a < A; a++)
        for (int64_t b = 0; b < B; b++) memcpy(y + (b * A + a) * P, x + (a * B + b) * P, (size_t)P * sizeof *x);
}

void vkn_ref_conv2d(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, const double *x,
                    const double *wt, const double *bias, double *y)
{
    win_n w;
    int Ho, Wo;
    if (!win_norm(win, &w) || !vkn_window2d_out(win, H, W, &Ho, &Wo)) return;
    int kh = (int)w.kh, kw = (int)w.kw;
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Cout; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double s = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int h = oh * (int)w.sh - (int)w.ph + i, ww = ow * (int)w.sw - (int)w.pw + j;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                s += x[(((int64_t)n * Cin + ci) * H + h) * W + ww] * wt[(((int64_t)co * Cin + ci) * kh + i) * kw + j];
                            }
                    y[(((int64_t)n * Cout + co) * Ho + oh) * Wo + ow] = s;
                }
}

void vkn_ref_conv2d_backward(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, const double *x,
                             const double *wt, const double *dy, double *dx, double *dw, double *db)
{
    win_n w;
    int Ho, Wo;
    if (!win_norm(win, &w) || !vkn_window2d_out(win, H, W, &Ho, &Wo)) return;
    int kh = (int)w.kh, kw = (int)w.kw;
    if (dx) memset(dx, 0, (size_t)N * Cin * H * W * sizeof *dx);
    if (dw) memset(dw, 0, (size_t)Cout * Cin * kh * kw * sizeof *dw);
    if (db) memset(db, 0, (size_t)Cout * sizeof *db);
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Cout; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double g = dy[(((int64_t)n * Cout + co) * Ho + oh) * Wo + ow];
                    if (db) db[co] += g;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int h = oh * (int)w.sh - (int)w.ph + i, ww = ow * (int)w.sw - (int)w.pw + j;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                int64_t xi = (((int64_t)n * Cin + ci) * H + h) * W + ww;
                                int64_t wi = (((int64_t)co * Cin + ci) * kh + i) * kw + j;
                                if (dw) dw[wi] += g * x[xi];
                                if (dx) dx[xi] += g * wt[wi];
                            }
                }
}

void vkn_ref_conv_transpose2d(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, int Ho, int Wo,
                              const double *x, const double *wt, const double *bias, double *y)
{
    win_n w;
    if (!win_norm(win, &w)) return;
    int kh = (int)w.kh, kw = (int)w.kw;
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Cout; co++)
            for (int64_t k = 0; k < (int64_t)Ho * Wo; k++) y[((int64_t)n * Cout + co) * Ho * Wo + k] = bias ? bias[co] : 0.0;
    for (int n = 0; n < N; n++)
        for (int ci = 0; ci < Cin; ci++)
            for (int h = 0; h < H; h++)
                for (int ww = 0; ww < W; ww++) {
                    double xv = x[(((int64_t)n * Cin + ci) * H + h) * W + ww];
                    for (int co = 0; co < Cout; co++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int oh = h * (int)w.sh - (int)w.ph + i, ow = ww * (int)w.sw - (int)w.pw + j;
                                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                                y[(((int64_t)n * Cout + co) * Ho + oh) * Wo + ow] += xv * wt[(((int64_t)ci * Cout + co) * kh + i) * kw + j];
                            }
                }
}

void vkn_ref_conv_transpose2d_backward(const vkn_window2d *win, int N, int Cin, int H, int W, int Cout, int Ho,
                                       int Wo, const double *x, const double *wt, const double *dy, double *dx,
                                       double *dw, double *db)
{
    win_n w;
    if (!win_norm(win, &w)) return;
    int kh = (int)w.kh, kw = (int)w.kw;
    if (dx) memset(dx, 0, (size_t)N * Cin * H * W * sizeof *dx);
    if (dw) memset(dw, 0, (size_t)Cin * Cout * kh * kw * sizeof *dw);
    if (db) {
        memset(db, 0, (size_t)Cout * sizeof *db);
        for (int n = 0; n < N; n++)
            for (int co = 0; co < Cout; co++)
                for (int64_t k = 0; k < (int64_t)Ho * Wo; k++) db[co] += dy[((int64_t)n * Cout + co) * Ho * Wo + k];
    }
    for (int n = 0; n < N; n++)
        for (int ci = 0; ci < Cin; ci++)
            for (int h = 0; h < H; h++)
                for (int ww = 0; ww < W; ww++) {
                    int64_t xi = (((int64_t)n * Cin + ci) * H + h) * W + ww;
                    double s = 0.0;
                    for (int co = 0; co < Cout; co++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int oh = h * (int)w.sh - (int)w.ph + i, ow = ww * (int)w.sw - (int)w.pw + j;
                                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                                double g = dy[(((int64_t)n * Cout + co) * Ho + oh) * Wo + ow];
                                int64_t wi = (((int64_t)ci * Cout + co) * kh + i) * kw + j;
                                s += g * wt[wi];
                                if (dw) dw[wi] += g * x[xi];
                            }
                    if (dx) dx[xi] = s;
                }
}
