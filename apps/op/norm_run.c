/* vkn-op norm --kind KIND: one normalization layer (vkn_norm) forward, and backward given dy.
 * Parameters and buffers come from tensors named like the layer's slots when the file has them,
 * else from the layer's default init (--seed). Writes y, every slot after the step (running
 * statistics updated when --train 1), and with dy: dx and d<slot> for every learned slot. */
#include "op.h"

#include <stdint.h>

#include <stdlib.h>
#include <string.h>

static vkn_status after_norm(op_ctx *oc)
{
    return vkn_norm_check_ids((vkn_norm *)oc->after_data);
}

static void cleanup_norm(op_ctx *oc)
{
    vkn_norm_destroy((vkn_norm *)oc->after_data);
    oc->after_data = NULL;
}

/* an int option: args_parse has refused values outside the option's range (which fits an int) */
static int int_opt(op_ctx *oc, const char *name, int def)
{
    return (int)arg_int(oc->args, name, def);
}

/* max id + 1 of the file's ctx (for a default --contexts) */
static vkn_status max_ctx(op_ctx *oc, int64_t n, int *out)
{
    int32_t *h = malloc(sizeof(int32_t) * (size_t)n);
    if (!h) return vkn_status_set(VKN_ERR_HOST_OOM, "norm: ctx");
    vkn_status s = vkn_io_safetensors_read(oc->in, "ctx", VKN_IO_I32, -1, NULL, h);
    int64_t m = 0;   /* 64 bits: an id of 2^31-1 must not wrap */
    for (int64_t i = 0; s == VKN_OK && i < n; i++) m = (int64_t)h[i] + 1 > m ? (int64_t)h[i] + 1 : m;
    free(h);
    VKN_TRY(s);
    if (m > INT32_MAX)
        return vkn_status_set(VKN_ERR_ARG, "norm: ctx holds the id %lld; --contexts (max id + 1) would be over 2^31-1",
                              (long long)(m - 1));
    *out = m < 1 ? 1 : (int)m;
    return VKN_OK;
}

static int is_slot(const vkn_norm_slot *sl, int ns, const char *name)
{
    for (int i = 0; i < ns; i++)
        if (!strcmp(sl[i].name, name)) return 1;
    return 0;
}

vkn_status run_norm(op_ctx *oc)
{
    const op_args *A = oc->args;
    if (!arg_given(A, "kind")) return oc_usage(oc, "norm: give --kind KIND (one of: %s)", vkn_norm_kind_list());
    vkn_norm_kind kind;
    if (vkn_norm_kind_from_name(arg_str(A, "kind", ""), &kind) != VKN_OK) {
        oc->usage = 1;
        return VKN_ERR_ARG;
    }
    vkn_tensor x, ctx, y;
    VKN_TRY(oc_input(oc, "x", VKN_F32, 2, 4, &x));
    const int N = (int)x.shape[0], C = (int)x.shape[1];
    const int needs_ctx = vkn_norm_needs_ctx(kind);
    if (needs_ctx) {
        VKN_TRY(oc_input(oc, "ctx", VKN_I32, 1, 1, &ctx));
        int64_t n = N;
        VKN_TRY(oc_expect_shape(oc, "ctx", &ctx, 1, &n, "one context / class id per sample of x"));
    } else if (oc_has(oc, "ctx")) {
        oc_note(oc, "norm %s: tensor 'ctx' ignored (only cbn, cn, cnx read ids)", vkn_norm_kind_name(kind));
    }

    vkn_norm_opts o = vkn_norm_opts_default(kind, C);
    o.affine = arg_bool(A, "affine", o.affine);
    o.eps = arg_f(A, "eps", o.eps);
    o.momentum = arg_f(A, "momentum", o.momentum);
    if (arg_given(A, "infer")) o.infer = (vkn_norm_infer)arg_enum(A, "infer", 0);
    o.groups = int_opt(oc, "groups", o.groups);
    o.components = int_opt(oc, "components", o.components);
    o.cn_prior_scale = arg_bool(A, "prior-scale", o.cn_prior_scale);
    o.cnx_embedder = arg_bool(A, "embedder", o.cnx_embedder);
    o.mn_var_floor = arg_f(A, "var-floor", o.mn_var_floor);
    o.ubn_threshold = arg_f(A, "threshold", o.ubn_threshold);
    o.ubn_batch_stats_above = arg_bool(A, "batch-stats-above", o.ubn_batch_stats_above);
    o.afn_dropout = arg_f(A, "dropout", o.afn_dropout);
    o.afn_hidden_std = int_opt(oc, "hidden-std", o.afn_hidden_std);
    o.afn_hidden_rescale = int_opt(oc, "hidden-rescale", o.afn_hidden_rescale);
    if (arg_given(A, "contexts")) o.contexts = int_opt(oc, "contexts", o.contexts);
    else if (needs_ctx) VKN_TRY(max_ctx(oc, N, &o.contexts));
    if (vkn_norm_opts_check(&o) != VKN_OK) {
        oc->usage = 1;
        return VKN_ERR_ARG;   /* the detail names the method, the field, the value and the fix */
    }
    const int train = arg_bool(A, "train", 1);
    long long seed = arg_int(A, "seed", 1);

    vkn_norm *nm;
    VKN_TRY(vkn_norm_create(oc->ctx, oc->arena, &o, (uint64_t)seed, &nm));
    oc->after_data = nm;
    oc->after = after_norm;
    oc->cleanup = cleanup_norm;

    /* slots: the layer's init, overwritten by the file's tensors of the same names */
    vkn_norm_slot sl[VKN_NORM_MAX_SLOTS];
    int ns;
    VKN_TRY(vkn_norm_slots(&o, sl, &ns));
    int loaded = 0;
    for (int i = 0; i < ns; i++) loaded |= oc_has(oc, sl[i].name);
    if (loaded) {
        size_t nf = vkn_norm_state_floats(nm);
        float *all = malloc(sizeof(float) * (nf ? nf : 1));
        if (!all) return vkn_status_set(VKN_ERR_HOST_OOM, "norm: %zu floats of slots", nf);
        vkn_status s = vkn_norm_save(nm, all);
        size_t at = 0;
        for (int i = 0; s == VKN_OK && i < ns; at += (size_t)sl[i].count, i++) {
            const vkn_io_tensor_info *ti = vkn_io_safetensors_lookup(oc->in, sl[i].name);
            if (!ti) continue;
            int64_t shp[2] = {sl[i].shape[0], sl[i].shape[1]};
            char fs[128], es[128];
            vkn_io_shape_str(ti->ndim, ti->shape, fs, sizeof fs);
            vkn_io_shape_str(sl[i].rank, shp, es, sizeof es);
            if (ti->dtype != VKN_IO_F32)
                s = vkn_status_set(VKN_ERR_SHAPE, "norm %s: slot tensor '%s' in %s is %s %s, expected F32 %s",
                                   vkn_norm_kind_name(kind), sl[i].name, oc->in_path, vkn_io_dtype_name(ti->dtype), fs, es);
            else if (ti->numel != sl[i].count)
                s = vkn_status_set(VKN_ERR_SHAPE, "norm %s: slot tensor '%s' in %s has shape %s, expected %s (C = %d from x)",
                                   vkn_norm_kind_name(kind), sl[i].name, oc->in_path, fs, es, C);
            else
                s = vkn_io_safetensors_read(oc->in, sl[i].name, VKN_IO_F32, -1, NULL, all + at);
        }
        if (s == VKN_OK) s = vkn_norm_load(nm, all);
        free(all);
        VKN_TRY(s);
    }
    for (int i = 0; i < vkn_io_safetensors_count(oc->in); i++) {
        const char *nmn = vkn_io_safetensors_at(oc->in, i)->name;
        if (strcmp(nmn, "x") && strcmp(nmn, "ctx") && strcmp(nmn, "dy") && !is_slot(sl, ns, nmn))
            oc_note(oc, "norm %s: tensor '%s' ignored (not x, ctx, dy or a slot of this layer)", vkn_norm_kind_name(kind),
                    nmn);
    }

    VKN_TRY(oc_output(oc, "y", VKN_F32, x.ndim, x.shape, &y));
    VKN_TRY(vkn_norm_forward(oc->cmd, nm, &x, needs_ctx ? &ctx : NULL, &y, train));
    if (oc_has(oc, "dy")) {
        vkn_tensor dy, dx;
        VKN_TRY(oc_input(oc, "dy", VKN_F32, 2, 4, &dy));
        VKN_TRY(oc_expect_shape(oc, "dy", &dy, x.ndim, x.shape, "the shape of x"));
        VKN_TRY(oc_output(oc, "dx", VKN_F32, x.ndim, x.shape, &dx));
        VKN_TRY(vkn_norm_backward(oc->cmd, nm, &x, needs_ctx ? &ctx : NULL, &dy, &dx));
        for (int i = 0; i < ns; i++) {
            if (!sl[i].learned) continue;
            char name[96];
            int64_t shp[2] = {sl[i].shape[0], sl[i].shape[1]};
            snprintf(name, sizeof name, "d%s", sl[i].name);
            VKN_TRY(oc_output_tensor(oc, name, vkn_norm_grad_tensor(nm, i), sl[i].rank, shp));
        }
        oc->backward = 1;
    }
    for (int i = 0; i < ns; i++) {
        int64_t shp[2] = {sl[i].shape[0], sl[i].shape[1]};
        VKN_TRY(oc_output_tensor(oc, sl[i].name, vkn_norm_slot_tensor(nm, i), sl[i].rank, shp));
    }
    return VKN_OK;
}
