/* Max and average pooling, forward and backward; launchers and references. The backward passes gather
 * (each input element sums over the windows that cover it, in a fixed order): no atomics. */
#include "vkn/ops.h"
#include "ops/launch.h"
#include "ops/ref_nn.h"
#include "ops/window2d.h"

#include <math.h>

#include <string.h>

typedef struct pool_pc { uint32_t n; float scale; uint32_t spec[5]; } pool_pc;   /* push: n, scale */

/* x [N,C,H,W] (the input side), y [N,C,Ho,Wo] (the pooled side). */
static vkn_status pool_check(const char *op, const vkn_tensor *x, const vkn_tensor *y, const vkn_window2d *win, pool_pc *pc)
{
    char bx[64], by[64];
    int Ho, Wo;
    if (!vkn_is_f32(x) || !vkn_is_f32(y) || x->ndim != 4 || y->ndim != 4)
        return vkn_status_set(VKN_ERR_ARG, "%s: tensors must be 4-D f32 (NCHW)", op);
    if (!win || win->kh < 1 || win->kw < 1 || win->sh < 0 || win->sw < 0 || win->ph < 0 || win->pw < 0 ||
        2 * win->ph > win->kh || 2 * win->pw > win->kw)
        return vkn_status_set(VKN_ERR_ARG, "%s: invalid window (padding must be at most half the kernel)", op);
    if (!vkn_window2d_out(win, (int)x->shape[2], (int)x->shape[3], &Ho, &Wo) || y->shape[0] != x->shape[0] ||
        y->shape[1] != x->shape[1] || y->shape[2] != Ho || y->shape[3] != Wo)
        return vkn_status_set(VKN_ERR_SHAPE, "%s: a %dx%d window over %s does not give %s", op, win->kh, win->kw,
                              vkn_tensor_shape_str(x, bx, sizeof bx), vkn_tensor_shape_str(y, by, sizeof by));
    *pc = (pool_pc){0, 1.0f / (float)(win->kh * win->kw)};
    return vkn_window_spec(op, 1, (uint32_t)x->shape[2], (uint32_t)x->shape[3], (uint32_t)win->kh, (uint32_t)win->kw,
                           (uint32_t)(win->sh ? win->sh : 1), (uint32_t)(win->sw ? win->sw : 1), (uint32_t)win->ph,
                           (uint32_t)win->pw, (uint32_t)Ho, (uint32_t)Wo, pc->spec);
}

static int idx_ok(const vkn_tensor *idx, const vkn_tensor *y)
{
    return idx && idx->buffer && idx->dtype == VKN_I32 && idx->numel == y->numel;
}

vkn_status vkn_op_maxpool2d(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *y,
                            const vkn_tensor *idx)
{
    pool_pc pc;
    VKN_TRY(pool_check("maxpool2d", x, y, win, &pc));
    if (idx && !idx_ok(idx, y)) return vkn_status_set(VKN_ERR_SHAPE, "maxpool2d: idx must be an i32 tensor of y's size");
    pc.n = (uint32_t)y->numel;
    /* without idx, y stands in at binding 1 (never written: IDX is false) */
    vkn_dispatch d = {.shader = "pool/maxpool", .label = "maxpool", .nspec = 6,
                      .bind = {y, idx ? idx : y}, .nbind = 2, .write_mask = idx ? 3u : 1u, .texel = {x}, .ntexel = 1,
                      .push = &pc, .push_bytes = 8};
    memcpy(d.spec, pc.spec, sizeof pc.spec);
    d.spec[5] = idx != NULL;
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_maxpool2d_backward(vkn_cmd *c, const vkn_tensor *dy, const vkn_tensor *idx,
                                     const vkn_window2d *win, const vkn_tensor *dx)
{
    pool_pc pc;
    VKN_TRY(pool_check("maxpool2d_backward", dx, dy, win, &pc));
    if (!idx_ok(idx, dy)) return vkn_status_set(VKN_ERR_SHAPE, "maxpool2d_backward: idx must be an i32 tensor of dy's size");
    pc.n = (uint32_t)dx->numel;
    vkn_dispatch d = {.shader = "pool/maxpool_bwd", .label = "maxpool_bwd", .nspec = 5, .bind = {dx}, .nbind = 1,
                      .write_mask = 1, .texel = {dy, idx}, .ntexel = 2, .push = &pc, .push_bytes = 8};
    memcpy(d.spec, pc.spec, sizeof pc.spec);
    vkn_grid_1d(((uint64_t)pc.n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

static vkn_status avg(vkn_cmd *c, int bwd, const vkn_tensor *in, const vkn_tensor *out, pool_pc *pc)
{
    pc->n = (uint32_t)out->numel;
    vkn_dispatch d = {.shader = "pool/avgpool", .label = bwd ? "avgpool_bwd" : "avgpool", .nspec = 6,
                      .bind = {out}, .nbind = 1, .write_mask = 1, .texel = {in}, .ntexel = 1, .push = pc, .push_bytes = 8};
    memcpy(d.spec, pc->spec, sizeof pc->spec);
    d.spec[5] = (uint32_t)bwd;
    vkn_grid_1d(((uint64_t)pc->n + 3) / 4, 64, d.groups);
    return vkn_cmd_dispatch(c, &d);
}

vkn_status vkn_op_avgpool2d(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *y)
{
    pool_pc pc;
    VKN_TRY(pool_check("avgpool2d", x, y, win, &pc));
    return avg(c, 0, x, y, &pc);
}

vkn_status vkn_op_avgpool2d_backward(vkn_cmd *c, const vkn_tensor *dy, const vkn_window2d *win, const vkn_tensor *dx)
{
    pool_pc pc;
    VKN_TRY(pool_check("avgpool2d_backward", dx, dy, win, &pc));
    return avg(c, 1, dy, dx, &pc);
}

/* ---- references ---- */

typedef struct rwin { int kh, kw, sh, sw, ph, pw, Ho, Wo; } rwin;

static int rwin_of(const vkn_window2d *w, int H, int W, rwin *r)
{
    if (!vkn_window2d_out(w, H, W, &r->Ho, &r->Wo)) return 0;
    r->kh = w->kh; r->kw = w->kw; r->sh = w->sh ? w->sh : 1; r->sw = w->sw ? w->sw : 1; r->ph = w->ph; r->pw = w->pw;
    return 1;
}

void vkn_ref_maxpool2d(const vkn_window2d *win, int planes, int H, int W, const double *x, double *y, int32_t *idx)
{
    rwin r;
    if (!rwin_of(win, H, W, &r)) return;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < r.Ho; oh++)
            for (int ow = 0; ow < r.Wo; ow++) {
                double m = 0.0;
                int32_t arg = -1;
                for (int i = 0; i < r.kh; i++)
                    for (int j = 0; j < r.kw; j++) {
                        int h = oh * r.sh - r.ph + i, w = ow * r.sw - r.pw + j;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        double v = x[(pl * H + h) * W + w];
                        if (arg < 0 || v > m || isnan(v)) { m = v; arg = h * W + w; }
                    }
                int64_t o = (pl * r.Ho + oh) * r.Wo + ow;
                y[o] = m;
                if (idx) idx[o] = arg;
            }
}

void vkn_ref_maxpool2d_backward(const vkn_window2d *win, int planes, int H, int W, const double *dy,
                                const int32_t *idx, double *dx)
{
    rwin r;
    if (!rwin_of(win, H, W, &r)) return;
    memset(dx, 0, (size_t)planes * H * W * sizeof *dx);
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < (int64_t)r.Ho * r.Wo; o++) {
            int32_t a = idx[pl * r.Ho * r.Wo + o];
            if (a >= 0 && a < H * W) dx[pl * H * W + a] += dy[pl * r.Ho * r.Wo + o];
        }
}

void vkn_ref_avgpool2d(const vkn_window2d *win, int planes, int H, int W, const double *x, double *y)
{
    rwin r;
    if (!rwin_of(win, H, W, &r)) return;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < r.Ho; oh++)
            for (int ow = 0; ow < r.Wo; ow++) {
                double s = 0.0;
                for (int i = 0; i < r.kh; i++)
                    for (int j = 0; j < r.kw; j++) {
                        int h = oh * r.sh - r.ph + i, w = ow * r.sw - r.pw + j;
                        if (h >= 0 && h < H && w >= 0 && w < W) s += x[(pl * H + h) * W + w];
                    }
                y[(pl * r.Ho + oh) * r.Wo + ow] = s / (r.kh * r.kw);
            }
}

void vkn_ref_avgpool2d_backward(const vkn_window2d *win, int planes, int H, int W, const double *dy, double *dx)
{
    rwin r;
    if (!rwin_of(win, H, W, &r)) return;
    memset(dx, 0, (size_t)planes * H * W * sizeof *dx);
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < r.Ho; oh++)
            for (int ow = 0; ow < r.Wo; ow++) {
                double g = dy[(pl * r.Ho + oh) * r.Wo + ow] / (r.kh * r.kw);
                for (int i = 0; i < r.kh; i++)
                    for (int j = 0; j < r.kw; j++) {
                        int h = oh * r.sh - r.ph + i, w = ow * r.sw - r.pw + j;
                        if (h >= 0 && h < H && w >= 0 && w < W) dx[(pl * H + h) * W + w] += g;
                    }
            }
}
