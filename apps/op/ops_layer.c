/* vkn-op: the layer ops (NCHW images): conv2d, conv_transpose2d, max / average pooling, embedding,
 * one_hot, concat; backward through vknorm's own backward ops when the file holds dy. */
#include "op.h"

#include <stdlib.h>
#include <string.h>

/* --name v or --name vh,vw into (*h, *w); defaults when absent */
static vkn_status pair_opt(op_ctx *oc, const char *name, int dh, int dw, int minv, int *h, int *w)
{
    int v[8];
    int n = arg_ints(oc->args, name, v, 8);
    if (!arg_given(oc->args, name)) { *h = dh; *w = dw; return VKN_OK; }
    if (n != 1 && n != 2) return oc_usage(oc, "%s: --%s takes one integer or two (h,w), got '%s'", oc->def->name, name,
                                          arg_str(oc->args, name, ""));
    *h = v[0];
    *w = n == 2 ? v[1] : v[0];
    if (*h < minv || *w < minv) return oc_usage(oc, "%s: --%s must be >= %d, got '%s'", oc->def->name, name, minv,
                                                arg_str(oc->args, name, ""));
    return VKN_OK;
}

static vkn_status window_out(op_ctx *oc, const vkn_tensor *x, const vkn_window2d *win, int *Ho, int *Wo)
{
    if (vkn_window2d_out(win, (int)x->shape[2], (int)x->shape[3], Ho, Wo) && *Ho > 0 && *Wo > 0) return VKN_OK;
    char s[128];
    return vkn_status_set(VKN_ERR_SHAPE, "%s: a %dx%d window (stride %d,%d, padding %d,%d) does not fit x %s from %s",
                          oc->def->name, win->kh, win->kw, win->sh, win->sw, win->ph, win->pw, oc_shape(x, s, sizeof s),
                          oc->in_path);
}

static vkn_status workspace(op_ctx *oc, int64_t n, vkn_tensor *t)
{
    if (n < 1) n = 1;
    return oc_temp(oc, VKN_F32, 1, &n, t);
}

/* x, w (+ optional b) of a convolution; w's dim wdim_in must equal Cin */
static vkn_status conv_inputs(op_ctx *oc, vkn_tensor *x, vkn_tensor *w, vkn_tensor *b, int *has_b, int transposed,
                              vkn_window2d *win)
{
    VKN_TRY(oc_input(oc, "x", VKN_F32, 4, 4, x));
    VKN_TRY(oc_input(oc, "w", VKN_F32, 4, 4, w));
    int in_dim = transposed ? 0 : 1, out_dim = transposed ? 1 : 0;
    if (w->shape[in_dim] != x->shape[1]) {
        char s1[128], s2[128];
        return vkn_status_set(VKN_ERR_SHAPE, "%s: tensor 'w' %s does not fit x %s in %s: w's dimension %d (%s) must be x's "
                              "channels %lld (w is %s)", oc->def->name, oc_shape(w, s1, sizeof s1), oc_shape(x, s2, sizeof s2),
                              oc->in_path, in_dim, "Cin", (long long)x->shape[1],
                              transposed ? "[Cin, Cout, kh, kw]" : "[Cout, Cin, kh, kw]");
    }
    memset(win, 0, sizeof *win);
    win->kh = (int)w->shape[2];
    win->kw = (int)w->shape[3];
    if (arg_given(oc->args, "kernel")) {
        int kh, kw;
        VKN_TRY(pair_opt(oc, "kernel", 0, 0, 1, &kh, &kw));
        if (kh != win->kh || kw != win->kw)
            return oc_usage(oc, "%s: --kernel %d,%d disagrees with w's %dx%d kernel", oc->def->name, kh, kw, win->kh, win->kw);
    }
    VKN_TRY(pair_opt(oc, "stride", 1, 1, 1, &win->sh, &win->sw));
    VKN_TRY(pair_opt(oc, "pad", 0, 0, 0, &win->ph, &win->pw));
    *has_b = oc_has(oc, "b");
    if (*has_b) {
        VKN_TRY(oc_input(oc, "b", VKN_F32, 1, 1, b));
        int64_t cout = w->shape[out_dim];
        VKN_TRY(oc_expect_shape(oc, "b", b, 1, &cout, "one bias per output channel"));
    }
    return VKN_OK;
}

vkn_status run_conv2d(op_ctx *oc)
{
    vkn_tensor x, w, b, y, ws;
    vkn_window2d win;
    int has_b, Ho, Wo;
    VKN_TRY(conv_inputs(oc, &x, &w, &b, &has_b, 0, &win));
    VKN_TRY(window_out(oc, &x, &win, &Ho, &Wo));
    int N = (int)x.shape[0], Cin = (int)x.shape[1], H = (int)x.shape[2], W = (int)x.shape[3], Cout = (int)w.shape[0];
    int64_t ys[4] = {N, Cout, Ho, Wo};
    VKN_TRY(oc_output(oc, "y", VKN_F32, 4, ys, &y));
    VKN_TRY(workspace(oc, vkn_conv2d_workspace_size(N, Cin, H, W, Cout, &win), &ws));
    VKN_TRY(vkn_op_conv2d(oc->cmd, &x, &w, has_b ? &b : NULL, &win, &y, &ws));
    if (!oc_has(oc, "dy")) return VKN_OK;
    vkn_tensor dy, dx, dw, db, ws2;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 4, 4, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, 4, ys, "the shape of y"));
    VKN_TRY(oc_output(oc, "dx", VKN_F32, 4, x.shape, &dx));
    VKN_TRY(oc_output(oc, "dw", VKN_F32, 4, w.shape, &dw));
    if (has_b) VKN_TRY(oc_output(oc, "db", VKN_F32, 1, b.shape, &db));
    VKN_TRY(workspace(oc, vkn_conv2d_backward_workspace_size(N, Cin, H, W, Cout, &win), &ws2));
    VKN_TRY(vkn_op_conv2d_backward(oc->cmd, &x, &w, &dy, &win, &dx, &dw, has_b ? &db : NULL, &ws2));
    oc->backward = 1;
    return VKN_OK;
}

vkn_status run_conv_transpose2d(op_ctx *oc)
{
    vkn_tensor x, w, b, y, ws;
    vkn_window2d win;
    int has_b, oph, opw;
    VKN_TRY(conv_inputs(oc, &x, &w, &b, &has_b, 1, &win));
    VKN_TRY(pair_opt(oc, "output-padding", 0, 0, 0, &oph, &opw));
    if (oph >= win.sh || opw >= win.sw)
        return oc_usage(oc, "conv_transpose2d: --output-padding %d,%d must be smaller than the stride %d,%d", oph, opw,
                        win.sh, win.sw);
    int N = (int)x.shape[0], Cin = (int)x.shape[1], H = (int)x.shape[2], W = (int)x.shape[3], Cout = (int)w.shape[1];
    int Ho = (H - 1) * win.sh - 2 * win.ph + win.kh + oph, Wo = (W - 1) * win.sw - 2 * win.pw + win.kw + opw;
    if (Ho < 1 || Wo < 1) {
        char s[128];
        return vkn_status_set(VKN_ERR_SHAPE, "conv_transpose2d: x %s with a %dx%d kernel, stride %d,%d, padding %d,%d "
                              "gives an empty %dx%d output", oc_shape(&x, s, sizeof s), win.kh, win.kw, win.sh, win.sw,
                              win.ph, win.pw, Ho, Wo);
    }
    int64_t ys[4] = {N, Cout, Ho, Wo};
    VKN_TRY(oc_output(oc, "y", VKN_F32, 4, ys, &y));
    VKN_TRY(workspace(oc, vkn_conv_transpose2d_workspace_size(N, Cin, H, W, Cout, &win), &ws));
    VKN_TRY(vkn_op_conv_transpose2d(oc->cmd, &x, &w, has_b ? &b : NULL, &win, &y, &ws));
    if (!oc_has(oc, "dy")) return VKN_OK;
    vkn_tensor dy, dx, dw, db, ws2;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 4, 4, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, 4, ys, "the shape of y"));
    VKN_TRY(oc_output(oc, "dx", VKN_F32, 4, x.shape, &dx));
    VKN_TRY(oc_output(oc, "dw", VKN_F32, 4, w.shape, &dw));
    if (has_b) VKN_TRY(oc_output(oc, "db", VKN_F32, 1, b.shape, &db));
    VKN_TRY(workspace(oc, vkn_conv_transpose2d_backward_workspace_size(N, Cin, H, W, Cout, Ho, Wo, &win), &ws2));
    VKN_TRY(vkn_op_conv_transpose2d_backward(oc->cmd, &x, &w, &dy, &win, &dx, &dw, has_b ? &db : NULL, &ws2));
    oc->backward = 1;
    return VKN_OK;
}

static vkn_status pool_window(op_ctx *oc, vkn_window2d *win)
{
    memset(win, 0, sizeof *win);
    if (!arg_given(oc->args, "kernel")) return oc_usage(oc, "%s: give the window with --kernel k (or kh,kw)", oc->def->name);
    VKN_TRY(pair_opt(oc, "kernel", 0, 0, 1, &win->kh, &win->kw));
    VKN_TRY(pair_opt(oc, "stride", win->kh, win->kw, 1, &win->sh, &win->sw));
    VKN_TRY(pair_opt(oc, "pad", 0, 0, 0, &win->ph, &win->pw));
    if (win->ph * 2 > win->kh || win->pw * 2 > win->kw)
        return oc_usage(oc, "%s: --pad %d,%d must be at most half the kernel %d,%d", oc->def->name, win->ph, win->pw,
                        win->kh, win->kw);
    return VKN_OK;
}

static vkn_status run_pool(op_ctx *oc, int is_max)
{
    vkn_window2d win;
    VKN_TRY(pool_window(oc, &win));
    vkn_tensor x, y, idx;
    int Ho, Wo;
    VKN_TRY(oc_input(oc, "x", VKN_F32, 4, 4, &x));
    VKN_TRY(window_out(oc, &x, &win, &Ho, &Wo));
    int64_t ys[4] = {x.shape[0], x.shape[1], Ho, Wo};
    VKN_TRY(oc_output(oc, "y", VKN_F32, 4, ys, &y));
    if (is_max) {
        VKN_TRY(oc_output(oc, "idx", VKN_I32, 4, ys, &idx));
        VKN_TRY(vkn_op_maxpool2d(oc->cmd, &x, &win, &y, &idx));
    } else {
        VKN_TRY(vkn_op_avgpool2d(oc->cmd, &x, &win, &y));
    }
    if (!oc_has(oc, "dy")) return VKN_OK;
    vkn_tensor dy, dx;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 4, 4, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, 4, ys, "the shape of y"));
    VKN_TRY(oc_output(oc, "dx", VKN_F32, 4, x.shape, &dx));
    if (is_max) VKN_TRY(vkn_op_maxpool2d_backward(oc->cmd, &dy, &idx, &win, &dx));
    else VKN_TRY(vkn_op_avgpool2d_backward(oc->cmd, &dy, &win, &dx));
    oc->backward = 1;
    return VKN_OK;
}

vkn_status run_maxpool2d(op_ctx *oc) { return run_pool(oc, 1); }
vkn_status run_avgpool2d(op_ctx *oc) { return run_pool(oc, 0); }

vkn_status run_embedding(op_ctx *oc)
{
    vkn_tensor w, ids, y;
    VKN_TRY(oc_input(oc, "w", VKN_F32, 2, 2, &w));
    VKN_TRY(oc_input(oc, "ids", VKN_I32, 1, 1, &ids));
    char why[160], s[128];
    snprintf(why, sizeof why, "the rows of w %s", oc_shape(&w, s, sizeof s));
    VKN_TRY(oc_check_ids(oc, "ids", w.shape[0], why));
    int64_t ys[2] = {ids.shape[0], w.shape[1]};
    VKN_TRY(oc_output(oc, "y", VKN_F32, 2, ys, &y));
    VKN_TRY(vkn_op_embedding(oc->cmd, &w, &ids, &y));
    if (!oc_has(oc, "dy")) return VKN_OK;
    vkn_tensor dy, dw;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 2, 2, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, 2, ys, "the shape of y: [len(ids), D]"));
    VKN_TRY(oc_output(oc, "dw", VKN_F32, 2, w.shape, &dw));
    VKN_TRY(vkn_op_embedding_backward(oc->cmd, &ids, &dy, &dw));
    oc->backward = 1;
    return VKN_OK;
}

vkn_status run_one_hot(op_ctx *oc)
{
    vkn_tensor ids, y;
    VKN_TRY(oc_input(oc, "ids", VKN_I32, 1, 1, &ids));
    long long K = arg_int(oc->args, "classes", 0);
    if (arg_given(oc->args, "classes") && (K < 1 || K > (1ll << 24)))
        return oc_usage(oc, "one_hot: --classes must be in 1 .. 2^24, got %lld", K);
    if (!arg_given(oc->args, "classes")) {   /* max id + 1, from the file */
        int32_t *h = malloc(sizeof(int32_t) * (size_t)ids.numel);
        if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "one_hot: ids");
        vkn_status s = vkn_io_safetensors_read(oc->in, "ids", VKN_IO_I32, -1, NULL, h);
        for (int64_t i = 0; s == VKN_OK && i < ids.numel; i++) K = (long long)h[i] + 1 > K ? (long long)h[i] + 1 : K;
        free(h);
        VKN_TRY(s);
        if (K < 1) K = 1;   /* every id negative: the check below names the first */
        if (K > (1ll << 24)) return oc_usage(oc, "one_hot: the largest id is %lld; classes (max id + 1) must be <= 2^24", K - 1);
    }
    VKN_TRY(oc_check_ids(oc, "ids", K, arg_given(oc->args, "classes") ? "--classes" : "--classes not given: max id + 1"));
    int64_t ys[2] = {ids.shape[0], K};
    VKN_TRY(oc_output(oc, "y", VKN_F32, 2, ys, &y));
    VKN_TRY(vkn_op_one_hot(oc->cmd, &ids, &y));
    if (oc_has(oc, "dy")) oc_note(oc, "one_hot: no gradient (integer input); 'dy' ignored");
    return VKN_OK;
}

vkn_status run_concat(op_ctx *oc)
{
    vkn_tensor a, b, y;
    VKN_TRY(oc_input(oc, "a", VKN_F32, 1, 4, &a));
    VKN_TRY(oc_input(oc, "b", VKN_F32, 1, 4, &b));
    char s1[128], s2[128];
    if (a.shape[0] != b.shape[0])
        return vkn_status_set(VKN_ERR_SHAPE, "concat: 'a' %s and 'b' %s in %s differ in dimension 0 (the batch)",
                              oc_shape(&a, s1, sizeof s1), oc_shape(&b, s2, sizeof s2), oc->in_path);
    /* along axis 1 when the other dimensions agree, else of the flattened rows */
    int same = a.ndim == b.ndim && a.ndim >= 2;
    for (int i = 2; same && i < a.ndim; i++) same = a.shape[i] == b.shape[i];
    int64_t ys[VKN_MAX_DIMS];
    int nd;
    if (same) {
        nd = a.ndim;
        memcpy(ys, a.shape, sizeof ys);
        ys[1] = a.shape[1] + b.shape[1];
    } else {
        nd = 2;
        ys[0] = a.shape[0];
        ys[1] = a.numel / a.shape[0] + b.numel / b.shape[0];
        oc_shape(&a, s1, sizeof s1);
        oc_shape(&b, s2, sizeof s2);
        oc_note(oc, "concat: a %s and b %s differ beyond axis 1; y holds their flattened rows", s1, s2);
    }
    VKN_TRY(oc_output(oc, "y", VKN_F32, nd, ys, &y));
    VKN_TRY(vkn_op_concat(oc->cmd, &a, &b, &y));
    if (!oc_has(oc, "dy")) return VKN_OK;
    vkn_tensor dy, da, db;
    VKN_TRY(oc_input(oc, "dy", VKN_F32, 1, 4, &dy));
    VKN_TRY(oc_expect_shape(oc, "dy", &dy, nd, ys, "the shape of y"));
    VKN_TRY(oc_output(oc, "da", VKN_F32, a.ndim, a.shape, &da));
    VKN_TRY(oc_output(oc, "db", VKN_F32, b.ndim, b.shape, &db));
    VKN_TRY(vkn_op_split(oc->cmd, &dy, &da, &db));
    oc->backward = 1;
    return VKN_OK;
}
