/* vkn-op: the losses. Each writes the scalar 'loss' (shape []) and 'dx', the gradient of that loss
 * w.r.t. its input (the loss is the end of the chain: no upstream gradient is read). */
#include "op.h"

static float loss_scale(op_ctx *oc)
{
    return (float)arg_f(oc->args, "scale", 1.0);
}

static vkn_status check_scale(op_ctx *oc)
{
    if (arg_given(oc->args, "scale") && arg_f(oc->args, "scale", 1) == 0.0)
        return oc_usage(oc, "%s: --scale 0 is not supported (vknorm reads scale 0 as 1)", oc->def->name);
    return VKN_OK;
}

vkn_status run_softmax_ce(op_ctx *oc)
{
    VKN_TRY(check_scale(oc));
    double eps = arg_f(oc->args, "smoothing", 0.0);
    if (eps < 0 || eps > 1) return oc_usage(oc, "softmax_ce: --smoothing must be in [0, 1], got %g", eps);
    vkn_tensor x, labels, loss, dx;
    VKN_TRY(oc_input(oc, "x", VKN_F32, 2, 2, &x));
    VKN_TRY(oc_input(oc, "labels", VKN_I32, 1, 1, &labels));
    VKN_TRY(oc_expect_shape(oc, "labels", &labels, 1, x.shape, "one label per row of x"));
    char why[160], s[128];
    snprintf(why, sizeof why, "the classes: columns of x %s", oc_shape(&x, s, sizeof s));
    VKN_TRY(oc_check_ids(oc, "labels", x.shape[1], why));
    int64_t one = 1;
    VKN_TRY(oc_output(oc, "loss", VKN_F32, 1, &one, &loss));
    oc_output_fshape(oc, &loss, 0, NULL);
    VKN_TRY(oc_output(oc, "dx", VKN_F32, 2, x.shape, &dx));
    vkn_loss_opts lo = {.scale = loss_scale(oc)};
    VKN_TRY(vkn_op_softmax_ce(oc->cmd, &x, &labels, (float)eps, &loss, &dx, &lo));
    if (oc_has(oc, "dy")) oc_note(oc, "%s: 'dy' ignored: dx is the gradient of the loss itself", oc->def->name);
    oc->backward = 1;
    return VKN_OK;
}

vkn_status run_loss(op_ctx *oc)
{
    VKN_TRY(check_scale(oc));
    vkn_loss_kind kind = (vkn_loss_kind)oc->def->code;
    int takes_target = kind == VKN_LOSS_BCE_LOGITS || kind == VKN_LOSS_MSE;
    vkn_tensor x, t, loss, dx;
    VKN_TRY(oc_input(oc, "x", VKN_F32, 1, 4, &x));
    vkn_loss_opts lo = {.scale = loss_scale(oc)};
    lo.target_value = (float)arg_f(oc->args, "target", kind == VKN_LOSS_BCE_LOGITS ? 1.0 : 0.0);
    if (takes_target && oc_has(oc, "t")) {
        VKN_TRY(oc_input(oc, "t", VKN_F32, 1, 4, &t));
        VKN_TRY(oc_expect_numel(oc, "t", &t, x.numel, "one target per element of x"));
        lo.target = &t;
        if (arg_given(oc->args, "target")) oc_note(oc, "%s: --target ignored: the file has targets 't'", oc->def->name);
    } else if (!takes_target && oc_has(oc, "t")) {
        oc_note(oc, "%s: tensor 't' ignored (this loss has no target)", oc->def->name);
    }
    int64_t one = 1;
    VKN_TRY(oc_output(oc, "loss", VKN_F32, 1, &one, &loss));
    oc_output_fshape(oc, &loss, 0, NULL);
    VKN_TRY(oc_output(oc, "dx", VKN_F32, x.ndim, x.shape, &dx));
    VKN_TRY(vkn_op_loss(oc->cmd, kind, &x, &loss, &dx, &lo));
    if (oc_has(oc, "dy")) oc_note(oc, "%s: 'dy' ignored: dx is the gradient of the loss itself", oc->def->name);
    oc->backward = 1;
    return VKN_OK;
}
