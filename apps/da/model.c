/* vkn-da's LeNet + DANN graphs (model.h). */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names and norm choices ---- */

static const char *const method_names[DA_METHOD_COUNT] = {"source", "dann", "noadapt"};

static const struct {
    const char *name, *what;
} norm_table[DA_NORM_COUNT] = {
    [DA_NORM_BN] = {"bn", "shared BN: source and target rows normalized together"},
    [DA_NORM_DSBN] = {"dsbn", "domain-specific BN: CN with 2 contexts, no prior scaling"},
    [DA_NORM_CN] = {"cn", "CN with the domain as context (prior scaling on)"},
    [DA_NORM_CNX] = {"cnx", "CN-X: learned per-domain mean / log-std"},
    [DA_NORM_ACN] = {"acn", "ACN: learned 3-component mixture, no ids"},
    [DA_NORM_NONE] = {"none", "no normalization"},
};

static const char *const tctx_names[DA_TCTX_COUNT] = {"own", "source", "batch"};

const char *da_method_name(da_method m) { return (unsigned)m < DA_METHOD_COUNT ? method_names[m] : "?"; }
const char *da_norm_name(da_norm n) { return (unsigned)n < DA_NORM_COUNT ? norm_table[n].name : "?"; }
const char *da_norm_describe(da_norm n) { return (unsigned)n < DA_NORM_COUNT ? norm_table[n].what : "?"; }
const char *da_tctx_name(da_tctx t) { return (unsigned)t < DA_TCTX_COUNT ? tctx_names[t] : "?"; }
int da_norm_uses_ctx(da_norm n) { return n == DA_NORM_DSBN || n == DA_NORM_CN || n == DA_NORM_CNX; }

int da_method_parse(const char *s)
{
    if (!strcasecmp(s, "source-only") || !strcasecmp(s, "src")) return DA_SOURCE_ONLY;
    if (!strcasecmp(s, "no-adapt") || !strcasecmp(s, "none")) return DA_NOADAPT;
    for (int i = 0; i < DA_METHOD_COUNT; i++)
        if (!strcasecmp(s, method_names[i])) return i;
    return -1;
}

int da_norm_parse(const char *s)
{
    if (!strcasecmp(s, "cn-x") || !strcasecmp(s, "cn_x")) return DA_NORM_CNX;
    for (int i = 0; i < DA_NORM_COUNT; i++)
        if (!strcasecmp(s, norm_table[i].name)) return i;
    return -1;
}

int da_tctx_parse(const char *s)
{
    for (int i = 0; i < DA_TCTX_COUNT; i++)
        if (!strcasecmp(s, tctx_names[i])) return i;
    return -1;
}

vkn_norm_opts da_norm_opts(da_norm n, int channels, vkn_norm_infer infer)
{
    vkn_norm_opts o;
    switch (n) {
    case DA_NORM_BN: o = vkn_norm_opts_default(VKN_NORM_BN, channels); break;
    case DA_NORM_DSBN:
        o = vkn_norm_opts_default(VKN_NORM_CN, channels);
        o.contexts = 2;
        o.cn_prior_scale = 0;
        break;
    case DA_NORM_CN:
        o = vkn_norm_opts_default(VKN_NORM_CN, channels);
        o.contexts = 2;
        break;
    case DA_NORM_CNX:
        o = vkn_norm_opts_default(VKN_NORM_CNX, channels);
        o.contexts = 2;
        break;
    case DA_NORM_ACN: o = vkn_norm_opts_default(VKN_NORM_ACN, channels); break;
    default: o = vkn_norm_opts_default(VKN_NORM_NONE, channels); break;
    }
    o.infer = infer;
    return o;
}

void da_setting_label(da_setting *s)
{
    if (da_norm_uses_ctx(s->norm) || s->tctx == DA_TCTX_BATCH)
        snprintf(s->label, sizeof s->label, "%s-%s@%s", da_method_name(s->method), da_norm_name(s->norm), da_tctx_name(s->tctx));
    else
        snprintf(s->label, sizeof s->label, "%s-%s", da_method_name(s->method), da_norm_name(s->norm));
}

/* ---- the network ---- */

static vkn_val features(vkn_nn *nn, vkn_val x, vkn_val ctx, da_norm norm, vkn_norm_infer infer)
{
    vkn_norm_opts o1 = da_norm_opts(norm, 32, infer), o2 = da_norm_opts(norm, 48, infer);
    vkn_val h = vkn_nn_conv2d(nn, "f.conv1", x, 32, 5, 1, 0, 1);              /* [N,32,24,24] */
    h = vkn_nn_norm(nn, "f.norm1", h, ctx, &o1);
    h = vkn_nn_act(nn, VKN_ACT_RELU, 0, h);
    h = vkn_nn_maxpool2d(nn, h, 2, 2);                                        /* [N,32,12,12] */
    h = vkn_nn_conv2d(nn, "f.conv2", h, 48, 5, 1, 0, 1);                       /* [N,48,8,8] */
    h = vkn_nn_norm(nn, "f.norm2", h, ctx, &o2);
    h = vkn_nn_act(nn, VKN_ACT_RELU, 0, h);
    return vkn_nn_maxpool2d(nn, h, 2, 2);                                     /* [N,48,4,4] */
}

static vkn_val label_head(vkn_nn *nn, vkn_val f)
{
    vkn_val h = vkn_nn_act(nn, VKN_ACT_RELU, 0, vkn_nn_linear(nn, "c.fc1", f, 100, 1));
    h = vkn_nn_act(nn, VKN_ACT_RELU, 0, vkn_nn_linear(nn, "c.fc2", h, 100, 1));
    return vkn_nn_linear(nn, "c.fc3", h, DA_CLASSES, 1);
}

static vkn_val domain_head(vkn_nn *nn, vkn_val f)
{
    vkn_val r = vkn_nn_grad_reverse(nn, f);
    vkn_val h = vkn_nn_act(nn, VKN_ACT_RELU, 0, vkn_nn_linear(nn, "d.fc1", r, 100, 1));
    return vkn_nn_linear(nn, "d.fc2", h, 2, 1);
}

int da_model_train_rows(const da_model *m) { return m->cfg.set.method == DA_NOADAPT ? m->cfg.batch : 2 * m->cfg.batch; }

static vkn_status build_train(da_model *m)
{
    const int B = m->cfg.batch, N = da_model_train_rows(m);
    const int adapt = m->cfg.set.method != DA_NOADAPT;
    VKN_TRY(vkn_graph_create(m->p, "da-train", &m->tr));
    vkn_graph *g = m->tr;
    vkn_nn nn = {.g = g, .params = m->p, .train = 1, .trainable = 1, .init = VKN_INIT_HE, .seed = m->cfg.seed};
    int64_t xs[4] = {N, DA_IMG_C, DA_IMG_H, DA_IMG_W}, ns[1] = {N}, bs[1] = {B};
    m->tr_x = vkn_graph_input(g, "images", VKN_F32, 4, xs);
    m->tr_ctx = vkn_graph_input(g, "domain_ctx", VKN_I32, 1, ns);
    m->tr_dom = adapt ? vkn_graph_input(g, "domain_labels", VKN_I32, 1, ns) : VKN_NONE;
    m->tr_y = vkn_graph_input(g, "source_labels", VKN_I32, 1, bs);
    vkn_val f = vkn_nn_flatten(&nn, features(&nn, m->tr_x, m->tr_ctx, m->cfg.set.norm, VKN_NORM_INFER_RUNNING));
    vkn_val fs = f;
    if (adapt) vkn_nn_split(&nn, f, B, &fs, NULL);          /* source rows */
    vkn_val logits = label_head(&nn, fs);
    m->tr_lloss = vkn_nn_softmax_ce(&nn, logits, m->tr_y, 0.0f);
    m->tr_pred = vkn_nn_argmax(&nn, logits);
    m->tr_loss = m->tr_lloss, m->tr_dloss = m->tr_dpred = VKN_NONE;
    if (adapt) {
        vkn_val dlogits = domain_head(&nn, f);
        m->tr_dloss = vkn_nn_softmax_ce(&nn, dlogits, m->tr_dom, 0.0f);
        m->tr_loss = vkn_graph_binary(g, VKN_BINARY_ADD, m->tr_lloss, m->tr_dloss);
        m->tr_dpred = vkn_nn_argmax(&nn, dlogits);
    }
    vkn_val keep[] = {m->tr_loss, m->tr_lloss, m->tr_dloss, m->tr_pred, m->tr_dpred};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (keep[i] != VKN_NONE) vkn_graph_keep(g, keep[i]);
    VKN_TRY(vkn_graph_backward(g, m->tr_loss));
    vkn_optim_opts o = {.kind = m->cfg.optim == DA_OPTIM_SGD ? VKN_OPTIM_SGD : VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0,
                        .momentum = m->cfg.momentum, .weight_decay = m->cfg.weight_decay};
    VKN_TRY(vkn_nn_optimizer(&nn, &o, NULL));
    VKN_TRY(vkn_graph_compile(g));
    /* constant inputs: the domain of each row is its context id and its domain label */
    int32_t *ctx = vkn_graph_input_ptr(g, m->tr_ctx), *dom = adapt ? vkn_graph_input_ptr(g, m->tr_dom) : NULL;
    for (int i = 0; i < N; i++) {
        ctx[i] = i < B ? 0 : 1;
        if (dom) dom[i] = ctx[i];
    }
    return VKN_OK;
}

static vkn_status build_eval(da_model *m, int domain)
{
    const int E = m->cfg.eval_batch;
    VKN_TRY(vkn_graph_create(m->p, domain ? "da-eval-target" : "da-eval-source", &m->ev[domain]));
    vkn_graph *g = m->ev[domain];
    vkn_nn nn = {.g = g, .params = m->p, .train = 0, .trainable = 0, .init = VKN_INIT_HE, .seed = m->cfg.seed};
    int64_t xs[4] = {E, DA_IMG_C, DA_IMG_H, DA_IMG_W}, es[1] = {E};
    vkn_norm_infer infer = domain && m->cfg.set.tctx == DA_TCTX_BATCH ? VKN_NORM_INFER_BATCH : VKN_NORM_INFER_RUNNING;
    m->ev_x[domain] = vkn_graph_input(g, "images", VKN_F32, 4, xs);
    m->ev_ctx[domain] = vkn_graph_input(g, "domain_ctx", VKN_I32, 1, es);
    /* the pooled maps are kept and read as [E, 768] features (a flatten is an alias of them) */
    m->ev_feat[domain] = features(&nn, m->ev_x[domain], m->ev_ctx[domain], m->cfg.set.norm, infer);
    m->ev_pred[domain] = vkn_nn_argmax(&nn, label_head(&nn, vkn_nn_flatten(&nn, m->ev_feat[domain])));
    vkn_graph_keep(g, m->ev_feat[domain]);
    vkn_graph_keep(g, m->ev_pred[domain]);
    VKN_TRY(vkn_graph_compile(g));
    int32_t id = domain && m->cfg.set.tctx != DA_TCTX_SOURCE ? 1 : 0;
    int32_t *ctx = vkn_graph_input_ptr(g, m->ev_ctx[domain]);
    for (int i = 0; i < E; i++) ctx[i] = id;
    return VKN_OK;
}

vkn_status da_model_create(vkn_context *ctx, const da_model_cfg *cfg, da_model **out)
{
    *out = NULL;
    if (cfg->batch < 2 || cfg->eval_batch < 2)
        return vkn_status_set(VKN_ERR_ARG, "vkn-da: batch %d and eval batch %d must be >= 2", cfg->batch, cfg->eval_batch);
    da_model *m = calloc(1, sizeof *m);
    if (!m) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn-da: model");
    m->cfg = *cfg;
    m->ctx = ctx;
    snprintf(m->name, sizeof m->name, "vkn-da/lenet/%s/%s", da_method_name(cfg->set.method), da_norm_name(cfg->set.norm));
    vkn_status s = vkn_params_create(ctx, cfg->seed, &m->p);
    if (s == VKN_OK) s = build_train(m);
    if (s == VKN_OK) s = build_eval(m, 0);
    if (s == VKN_OK) s = build_eval(m, 1);
    if (s != VKN_OK) {
        char detail[768];
        snprintf(detail, sizeof detail, "%s", vkn_status_detail());
        if (s == VKN_ERR_UNSUPPORTED)
            vkn_status_set(s, "--norm %s (%s) is not available on this device yet: %s", da_norm_name(cfg->set.norm),
                           da_norm_describe(cfg->set.norm), detail);
        else
            vkn_status_set(s, "building the %s model: %s", cfg->set.label, detail);
        da_model_destroy(m);
        return s;
    }
    *out = m;
    return VKN_OK;
}

void da_model_destroy(da_model *m)
{
    if (!m) return;
    for (int d = 0; d < 2; d++) vkn_graph_destroy(m->ev[d]);
    vkn_graph_destroy(m->tr);
    vkn_params_destroy(m->p);
    free(m);
}

float *da_model_train_images(da_model *m) { return vkn_graph_input_ptr(m->tr, m->tr_x); }
int32_t *da_model_train_labels(da_model *m) { return vkn_graph_input_ptr(m->tr, m->tr_y); }
float *da_model_eval_images(da_model *m, int domain) { return vkn_graph_input_ptr(m->ev[domain], m->ev_x[domain]); }

vkn_status da_model_train_step(da_model *m, int64_t step, float lr, float lambda, da_step_out *out)
{
    const int B = m->cfg.batch, N = da_model_train_rows(m);
    vkn_graph_set_step(m->tr, VKN_STEP_T, (float)(step + 1));
    vkn_graph_set_step(m->tr, VKN_STEP_LR0, lr);
    vkn_graph_set_step(m->tr, VKN_STEP_LAMBDA, lambda);
    VKN_TRY(vkn_graph_run(m->tr));
    if (!out) return VKN_OK;
    int32_t pred[1024], dpred[2048];
    if (B > 1024) return vkn_status_set(VKN_ERR_ARG, "vkn-da: batch %d > 1024", B);
    VKN_TRY(vkn_graph_read(m->tr, m->tr_loss, &out->loss));
    VKN_TRY(vkn_graph_read(m->tr, m->tr_lloss, &out->label_loss));
    VKN_TRY(vkn_graph_read(m->tr, m->tr_pred, (float *)pred));
    out->domain_loss = 0.0f, out->dom_acc = NAN;
    const int32_t *y = da_model_train_labels(m);
    int right = 0, dright = 0;
    for (int i = 0; i < B; i++) right += pred[i] == y[i];
    out->src_acc = (float)right / (float)B;
    if (m->tr_dloss == VKN_NONE) return VKN_OK;   /* noadapt: no domain head */
    VKN_TRY(vkn_graph_read(m->tr, m->tr_dloss, &out->domain_loss));
    VKN_TRY(vkn_graph_read(m->tr, m->tr_dpred, (float *)dpred));
    for (int i = 0; i < N; i++) dright += dpred[i] == (i < B ? 0 : 1);
    out->dom_acc = (float)dright / (float)N;
    return VKN_OK;
}

vkn_status da_model_eval(da_model *m, int domain, int32_t *pred, float *feat)
{
    VKN_TRY(vkn_graph_run(m->ev[domain]));
    if (pred) VKN_TRY(vkn_graph_read(m->ev[domain], m->ev_pred[domain], (float *)pred));
    if (feat) VKN_TRY(vkn_graph_read(m->ev[domain], m->ev_feat[domain], feat));
    return VKN_OK;
}

vkn_status da_model_save(const da_model *m, const char *path, int64_t step, const char *const *meta)
{
    return vkn_params_save(m->p, path, m->name, step, meta);
}

vkn_status da_model_load(da_model *m, const char *path, int64_t *step)
{
    return vkn_params_load(m->p, path, m->name, step);
}

float *da_model_dump(const da_model *m, int64_t *n)
{
    int64_t total = 0;
    int np = vkn_params_count(m->p);
    for (int i = 0; i < np; i++) total += vkn_params_value(m->p, i)->numel;
    float *all = malloc((size_t)(total ? total : 1) * sizeof *all);
    if (!all) return NULL;
    int64_t at = 0;
    for (int i = 0; i < np; i++) {
        const vkn_tensor *t = vkn_params_value(m->p, i);
        if (vkn_tensor_download(t, all + at) != VKN_OK) { free(all); return NULL; }
        at += t->numel;
    }
    *n = total;
    return all;
}
