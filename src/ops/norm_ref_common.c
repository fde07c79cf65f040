/* Normalization options, kind names, slot layouts, seeded init, the shared (NB)/(WNB) closed forms,
 * and the forward/backward dispatch of the double-precision reference. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ops/norm_ref_impl.h"

/* ------------------------------------------------------------------------------------------------
 * Kinds and names
 * ---------------------------------------------------------------------------------------------- */
static const char *const kind_names[VKN_NORM_KIND_COUNT_] = {
    "none", "bn", "ln", "in", "gn", "cbn", "cn", "cnx", "acn", "mn", "bcn", "ubn", "afn",
};

const char *vkn_norm_kind_name(vkn_norm_kind kind)
{
    if ((int)kind < 0 || kind >= VKN_NORM_KIND_COUNT_) return "?";
    return kind_names[kind];
}

const char *vkn_norm_kind_list(void)
{
    return "none, bn, ln, in, gn, cbn, cn, cnx, acn, mn, bcn, ubn, afn";
}

vkn_status vkn_norm_kind_from_name(const char *name, vkn_norm_kind *kind)
{
    if (!name || !kind)
        return vkn_status_set(VKN_ERR_ARG, "norm: kind name is NULL (valid: %s)", vkn_norm_kind_list());
    for (int k = 0; k < VKN_NORM_KIND_COUNT_; k++) {
        if (strcasecmp(name, kind_names[k]) == 0) {
            *kind = (vkn_norm_kind)k;
            return VKN_OK;
        }
    }
    if (strcasecmp(name, "cn-x") == 0 || strcasecmp(name, "cn_x") == 0) {
        *kind = VKN_NORM_CNX;
        return VKN_OK;
    }
    return vkn_status_set(VKN_ERR_ARG, "norm: unknown normalization '%s' (valid: %s)", name,
                          vkn_norm_kind_list());
}

int vkn_norm_needs_ctx(vkn_norm_kind k)
{
    return k == VKN_NORM_CBN || k == VKN_NORM_CN || k == VKN_NORM_CNX;
}

/* ------------------------------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------------------------------- */
static int has_affine_option(vkn_norm_kind k)
{
    return k == VKN_NORM_BN || k == VKN_NORM_LN || k == VKN_NORM_IN || k == VKN_NORM_GN ||
           k == VKN_NORM_CN || k == VKN_NORM_MN || k == VKN_NORM_BCN || k == VKN_NORM_UBN;
}

static int default_groups(int C)
{
    int g = 1;
    for (int d = 1; d <= 32 && d <= C; d++)
        if (C % d == 0) g = d;
    return g;
}

vkn_norm_opts vkn_norm_opts_default(vkn_norm_kind kind, int channels)
{
    vkn_norm_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.channels = channels;
    o.affine = has_affine_option(kind) || kind == VKN_NORM_CBN;
    o.eps = VKN_NORM_EPS_DEFAULT;
    o.momentum = 0.1;
    o.infer = VKN_NORM_INFER_RUNNING;
    o.groups = channels > 0 ? default_groups(channels) : 1;
    o.contexts = 1;
    o.cn_priors = NULL;
    o.cn_prior_scale = 1;
    o.cnx_embedder = 0;
    o.components = 3;
    o.mn_var_floor = 1e-4;
    o.ubn_threshold = 0.9;
    o.ubn_batch_stats_above = 0;
    o.afn_dropout = 0.3;
    o.afn_hidden_std = 0;
    o.afn_hidden_rescale = 0;
    return o;
}

double vkn_norm_eps(const vkn_norm_opts *o)
{
    if (o->eps > 0) return o->eps;
    switch (o->kind) {
    case VKN_NORM_CN: case VKN_NORM_CNX: case VKN_NORM_ACN: return 1e-3;
    case VKN_NORM_AFN: return 1e-6;
    default: return 1e-5;
    }
}

int vkn_norm_afn_hidden_std(const vkn_norm_opts *o)
{
    if (o->afn_hidden_std > 0) return o->afn_hidden_std;
    return o->channels / 2 > 1 ? o->channels / 2 : 1;
}

int vkn_norm_afn_hidden_rescale(const vkn_norm_opts *o)
{
    if (o->afn_hidden_rescale > 0) return o->afn_hidden_rescale;
    return o->channels / 16 > 1 ? o->channels / 16 : 1;
}

static int is_01(int v) { return v == 0 || v == 1; }

/* Every count and every slot's element count (products taken in 64 bits) within
 * VKN_NORM_MAX_ELEMENTS, so that the slot arithmetic (int counts, K*C products) cannot overflow and
 * an absurd option is refused before anything is allocated. The device's own limits (buffer range,
 * loop limits) are checked by vkn_norm_create and the forward. */
typedef struct size_term { const char *what; int64_t a, b; } size_term;

static vkn_status check_sizes(const vkn_norm_opts *o, const char *nm)
{
    const int64_t lim = VKN_NORM_MAX_ELEMENTS;
    const vkn_norm_kind k = o->kind;
    size_term t[4] = {{"channels", o->channels, 1}};
    int n = 1;
    if (vkn_norm_needs_ctx(k))
        t[n++] = (size_term){k == VKN_NORM_CBN ? "contexts (classes) x channels" : "contexts x channels",
                             o->contexts, o->channels};
    if (k == VKN_NORM_ACN || k == VKN_NORM_MN) t[n++] = (size_term){"components x channels", o->components, o->channels};
    if (k == VKN_NORM_AFN) {
        t[n++] = (size_term){"hidden_std x channels", vkn_norm_afn_hidden_std(o), o->channels};
        t[n++] = (size_term){"hidden_rescale x channels", vkn_norm_afn_hidden_rescale(o), o->channels};
    }
    for (int i = 0; i < n; i++) {
        int64_t e = t[i].a * t[i].b;   /* factors < 2^31: exact in 64 bits */
        if (e > lim)
            return vkn_status_set(VKN_ERR_ARG,
                                  "norm(%s): %s = %lld x %lld = %lld elements in one parameter slot; at most %lld "
                                  "(2^24) are supported",
                                  nm, t[i].what, (long long)t[i].a, (long long)t[i].b, (long long)e, (long long)lim);
    }
    return VKN_OK;
}

vkn_status vkn_norm_opts_check(const vkn_norm_opts *o)
{
    if (!o) return vkn_status_set(VKN_ERR_ARG, "norm: options are NULL");
    if ((int)o->kind < 0 || o->kind >= VKN_NORM_KIND_COUNT_)
        return vkn_status_set(VKN_ERR_ARG, "norm: unknown kind %d (valid: %s)", (int)o->kind,
                              vkn_norm_kind_list());
    const char *nm = vkn_norm_kind_name(o->kind);
    vkn_norm_kind k = o->kind;
    if (o->channels < 1)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): channels=%d, must be >= 1", nm, o->channels);
    if (!(o->eps >= 0) || isinf(o->eps))
        return vkn_status_set(VKN_ERR_ARG,
                              "norm(%s): eps=%g must be > 0 (or 0 for the method default %g)", nm,
                              o->eps, vkn_norm_eps(&(vkn_norm_opts){.kind = k}));
    if (!(o->momentum >= 0 && o->momentum <= 1))
        return vkn_status_set(VKN_ERR_ARG,
                              "norm(%s): momentum=%g must be in [0, 1] (PyTorch convention: weight of "
                              "the new batch value, default 0.1; Keras rho=0.99 is momentum=0.01)",
                              nm, o->momentum);
    if ((int)o->infer < 0 || o->infer > VKN_NORM_INFER_LEARNED)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): infer=%d is not running(0), batch(1) or learned(2)",
                              nm, (int)o->infer);
    if (o->infer == VKN_NORM_INFER_LEARNED && k != VKN_NORM_ACN)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm(%s): infer=learned exists only for acn (use running or batch)", nm);
    if (!is_01(o->affine))
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): affine=%d must be 0 or 1", nm, o->affine);
    if (k == VKN_NORM_CBN && !o->affine)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm(cbn): affine=0 removes the per-class gamma/beta that define cbn; "
                              "use bn with affine=0 instead");
    if ((k == VKN_NORM_ACN || k == VKN_NORM_CNX || k == VKN_NORM_AFN || k == VKN_NORM_NONE) && o->affine)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): has no affine option; set affine=0", nm);
    if (k == VKN_NORM_GN) {
        if (o->groups < 1)
            return vkn_status_set(VKN_ERR_ARG, "norm(gn): groups=%d, must be >= 1", o->groups);
        if (o->channels % o->groups != 0)
            return vkn_status_set(VKN_ERR_ARG, "norm(gn): groups=%d does not divide channels=%d",
                                  o->groups, o->channels);
    }
    if (vkn_norm_needs_ctx(k) && o->contexts < 1)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): %s=%d, must be >= 1", nm,
                              k == VKN_NORM_CBN ? "contexts (classes)" : "contexts", o->contexts);
    if (k == VKN_NORM_CN) {
        if (!is_01(o->cn_prior_scale))
            return vkn_status_set(VKN_ERR_ARG, "norm(cn): cn_prior_scale=%d must be 0 or 1",
                                  o->cn_prior_scale);
        if (o->cn_priors)
            for (int i = 0; i < o->contexts; i++)
                if (!(o->cn_priors[i] > 0) || isinf(o->cn_priors[i]))
                    return vkn_status_set(VKN_ERR_ARG,
                                          "norm(cn): prior[%d]=%g must be a finite value > 0", i,
                                          o->cn_priors[i]);
    }
    if (k == VKN_NORM_CNX && !is_01(o->cnx_embedder))
        return vkn_status_set(VKN_ERR_ARG, "norm(cnx): cnx_embedder=%d must be 0 (table) or 1 (CN-emb)",
                              o->cnx_embedder);
    if ((k == VKN_NORM_ACN || k == VKN_NORM_MN) && o->components < 1)
        return vkn_status_set(VKN_ERR_ARG, "norm(%s): components K=%d, must be >= 1", nm, o->components);
    if (k == VKN_NORM_MN && (!(o->mn_var_floor >= 0) || isinf(o->mn_var_floor)))
        return vkn_status_set(VKN_ERR_ARG, "norm(mn): mn_var_floor=%g must be finite and >= 0",
                              o->mn_var_floor);
    if (k == VKN_NORM_UBN) {
        if (isnan(o->ubn_threshold) || isinf(o->ubn_threshold))
            return vkn_status_set(VKN_ERR_ARG, "norm(ubn): threshold=%g must be finite (typical 0.5..0.9)",
                                  o->ubn_threshold);
        if (!is_01(o->ubn_batch_stats_above))
            return vkn_status_set(VKN_ERR_ARG, "norm(ubn): ubn_batch_stats_above=%d must be 0 or 1",
                                  o->ubn_batch_stats_above);
    }
    if (k == VKN_NORM_AFN) {
        if (!(o->afn_dropout >= 0 && o->afn_dropout < 1))
            return vkn_status_set(VKN_ERR_ARG, "norm(afn): dropout p=%g must be in [0, 1)", o->afn_dropout);
        if (o->afn_hidden_std < 0 || o->afn_hidden_rescale < 0)
            return vkn_status_set(VKN_ERR_ARG,
                                  "norm(afn): hidden widths (%d, %d) must be >= 0 (0 = default C/2, C/16)",
                                  o->afn_hidden_std, o->afn_hidden_rescale);
    }
    return check_sizes(o, nm);
}

/* ------------------------------------------------------------------------------------------------
 * Slots
 * ---------------------------------------------------------------------------------------------- */
typedef struct {
    vkn_norm_slot *s;
    int n;
} slot_list;

static void add(slot_list *l, const char *name, int learned, int d0, int d1, vkn_norm_init_rule init,
                double a, double b)
{
    vkn_norm_slot *s = &l->s[l->n++];
    s->name = name;
    s->learned = learned;
    s->rank = d1 > 0 ? 2 : 1;
    s->shape[0] = d0;
    s->shape[1] = d1 > 0 ? d1 : 1;
    s->count = d0 * (d1 > 0 ? d1 : 1);
    s->init = init;
    s->a = a;
    s->b = b;
}

#define LEARNED 1
#define BUFFER 0

static void add_affine(slot_list *l, int d0, int d1)
{
    add(l, "gamma", LEARNED, d0, d1, VKN_NORM_INIT_CONST, 1, 0);
    add(l, "beta", LEARNED, d0, d1, VKN_NORM_INIT_CONST, 0, 0);
}

static void add_running(slot_list *l, int d0, int d1)
{
    add(l, "running_mean", BUFFER, d0, d1, VKN_NORM_INIT_CONST, 0, 0);
    add(l, "running_var", BUFFER, d0, d1, VKN_NORM_INIT_CONST, 1, 0);
}

/* PyTorch nn.Linear default init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
static void add_linear(slot_list *l, const char *w, const char *b, int out, int in)
{
    double a = 1.0 / sqrt((double)in);
    add(l, w, LEARNED, out, in, VKN_NORM_INIT_UNIFORM, -a, a);
    add(l, b, LEARNED, out, 0, VKN_NORM_INIT_UNIFORM, -a, a);
}

vkn_status vkn_norm_slots(const vkn_norm_opts *o, vkn_norm_slot slots[VKN_NORM_MAX_SLOTS], int *count)
{
    VKN_TRY(vkn_norm_opts_check(o));
    if (!slots || !count) return vkn_status_set(VKN_ERR_ARG, "norm: slots/count output is NULL");
    slot_list l = {slots, 0};
    const int C = o->channels, K = o->contexts, KM = o->components;
    switch (o->kind) {
    case VKN_NORM_NONE: break;
    case VKN_NORM_BN:
    case VKN_NORM_UBN:
        if (o->affine) add_affine(&l, C, 0);
        add_running(&l, C, 0);
        break;
    case VKN_NORM_LN:
    case VKN_NORM_IN:
    case VKN_NORM_GN:
        if (o->affine) add_affine(&l, C, 0);
        break;
    case VKN_NORM_CBN:
        add_affine(&l, K, C);
        add_running(&l, C, 0);
        break;
    case VKN_NORM_CN:
        if (o->affine) add_affine(&l, K, C);
        add_running(&l, K, C);
        add(&l, "priors", BUFFER, K, 0, VKN_NORM_INIT_PRIORS, 0, 0);
        break;
    case VKN_NORM_CNX: {
        double a = sqrt(6.0 / (K + C)); /* Glorot-uniform on a K x C (or C x K) matrix */
        if (!o->cnx_embedder) {
            add(&l, "mu_table", LEARNED, K, C, VKN_NORM_INIT_UNIFORM, -a, a);
            add(&l, "logstd_table", LEARNED, K, C, VKN_NORM_INIT_UNIFORM, -a, a);
        } else {
            add(&l, "emb_mu_w", LEARNED, C, K, VKN_NORM_INIT_UNIFORM, -a, a);
            add(&l, "emb_mu_b", LEARNED, C, 0, VKN_NORM_INIT_CONST, 0, 0);
            add(&l, "emb_logstd_w", LEARNED, C, K, VKN_NORM_INIT_UNIFORM, -a, a);
            add(&l, "emb_logstd_b", LEARNED, C, 0, VKN_NORM_INIT_CONST, 0, 0);
        }
        break;
    }
    case VKN_NORM_ACN:
        add(&l, "means", LEARNED, KM, C, VKN_NORM_INIT_UNIFORM, -1, 1);
        add(&l, "raw_var", LEARNED, KM, C, VKN_NORM_INIT_UNIFORM, 0.001, 0.01);
        add(&l, "prior_logits", LEARNED, KM, 0, VKN_NORM_INIT_NORMALIZED_UNIFORM, 0.01, 0.99);
        add_running(&l, KM, C);
        break;
    case VKN_NORM_MN:
        if (o->affine) add_affine(&l, C, 0);
        add(&l, "gmm_mean", BUFFER, KM, C, VKN_NORM_INIT_LINSPACE, -1, 1);
        add(&l, "gmm_var", BUFFER, KM, C, VKN_NORM_INIT_CONST, 1, 0);
        add(&l, "gmm_weight", BUFFER, KM, C, VKN_NORM_INIT_CONST, 1.0 / KM, 0);
        add_running(&l, KM, C);
        break;
    case VKN_NORM_BCN:
        if (o->affine) add_affine(&l, C, 0);
        add(&l, "blend", LEARNED, C, 0, VKN_NORM_INIT_CONST, 1, 0);
        add_running(&l, C, 0);
        break;
    case VKN_NORM_AFN: {
        int hs = vkn_norm_afn_hidden_std(o), hr = vkn_norm_afn_hidden_rescale(o);
        add_linear(&l, "enc_std_w", "enc_std_b", hs, C);
        add_linear(&l, "dec_mu_w", "dec_mu_b", C, hs);
        add_linear(&l, "dec_sigma_w", "dec_sigma_b", C, hs);
        add_linear(&l, "enc_rescale_w", "enc_rescale_b", hr, C);
        add_linear(&l, "dec_beta_w", "dec_beta_b", C, hr);
        add_linear(&l, "dec_gamma_w", "dec_gamma_b", C, hr);
        add(&l, "gate_mu", LEARNED, 1, 0, VKN_NORM_INIT_CONST, -3, 0);
        add(&l, "gate_sigma", LEARNED, 1, 0, VKN_NORM_INIT_CONST, -3, 0);
        add(&l, "gate_beta", LEARNED, 1, 0, VKN_NORM_INIT_CONST, -5, 0);
        add(&l, "gate_gamma", LEARNED, 1, 0, VKN_NORM_INIT_CONST, -5, 0);
        add(&l, "beta", LEARNED, C, 0, VKN_NORM_INIT_CONST, 0, 0);
        add(&l, "gamma", LEARNED, C, 0, VKN_NORM_INIT_CONST, 1, 0);
        add_running(&l, C, 0);
        break;
    }
    default: break;
    }
    *count = l.n;
    return VKN_OK;
}

int vkn_norm_slot_index(const vkn_norm_opts *o, const char *name)
{
    vkn_norm_slot s[VKN_NORM_MAX_SLOTS];
    int n = 0;
    if (!name || vkn_norm_slots(o, s, &n) != VKN_OK) return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Slot memory and seeded init
 * ---------------------------------------------------------------------------------------------- */
void *nr_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

vkn_status vkn_norm_ref_slots_alloc(const vkn_norm_opts *o, double ***out)
{
    vkn_norm_slot s[VKN_NORM_MAX_SLOTS];
    int n;
    if (!out) return vkn_status_set(VKN_ERR_ARG, "norm_ref: slots output is NULL");
    VKN_TRY(vkn_norm_slots(o, s, &n));
    double **a = nr_calloc(VKN_NORM_MAX_SLOTS, sizeof *a);
    if (!a) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: slot table");
    for (int i = 0; i < n; i++) {
        a[i] = nr_calloc((size_t)s[i].count, sizeof(double));
        if (!a[i]) {
            for (int j = 0; j < i; j++) free(a[j]);
            free(a);
            return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: slot %s (%d doubles)", s[i].name, s[i].count);
        }
    }
    *out = a;
    return VKN_OK;
}

void vkn_norm_ref_slots_free(const vkn_norm_opts *o, double **slots)
{
    (void)o;
    if (!slots) return;
    for (int i = 0; i < VKN_NORM_MAX_SLOTS; i++) free(slots[i]);
    free(slots);
}

static uint64_t splitmix64(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *st) { return (double)(splitmix64(st) >> 11) * 0x1.0p-53; }

vkn_status vkn_norm_ref_init(const vkn_norm_opts *o, uint64_t seed, double *const *slots)
{
    vkn_norm_slot s[VKN_NORM_MAX_SLOTS];
    int n;
    VKN_TRY(vkn_norm_slots(o, s, &n));
    if (!slots) return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): slots are NULL", vkn_norm_kind_name(o->kind));
    for (int i = 0; i < n; i++) {
        double *v = slots[i];
        if (!v)
            return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): slot %d (%s) is NULL",
                                  vkn_norm_kind_name(o->kind), i, s[i].name);
        uint64_t st = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        switch (s[i].init) {
        case VKN_NORM_INIT_CONST:
            for (int j = 0; j < s[i].count; j++) v[j] = s[i].a;
            break;
        case VKN_NORM_INIT_UNIFORM:
            for (int j = 0; j < s[i].count; j++) v[j] = s[i].a + (s[i].b - s[i].a) * uniform01(&st);
            break;
        case VKN_NORM_INIT_PRIORS:
            for (int j = 0; j < s[i].count; j++) v[j] = o->cn_priors ? o->cn_priors[j] : 1.0 / s[i].count;
            break;
        case VKN_NORM_INIT_NORMALIZED_UNIFORM: {
            double sum = 0;
            for (int j = 0; j < s[i].count; j++) sum += v[j] = s[i].a + (s[i].b - s[i].a) * uniform01(&st);
            for (int j = 0; j < s[i].count; j++) v[j] /= sum;
            break;
        }
        case VKN_NORM_INIT_LINSPACE: {
            int K = s[i].shape[0], C = s[i].shape[1];
            for (int k = 0; k < K; k++) {
                double val = K > 1 ? s[i].a + (s[i].b - s[i].a) * k / (K - 1) : 0.5 * (s[i].a + s[i].b);
                for (int c = 0; c < C; c++) v[k * C + c] = val;
            }
            break;
        }
        }
    }
    return VKN_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Shared closed forms
 * ---------------------------------------------------------------------------------------------- */
void nr_seg_moments(int N, int C, int P, const double *x, const int *seg_nc, int nseg,
                    const double *w, double *wsum, double *mean, double *var)
{
    for (int s = 0; s < nseg; s++) wsum[s] = mean[s] = var[s] = 0;
    /* pass 1: weighted sums -> mean */
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int s = seg_nc[n * C + c];
            if (s < 0) continue;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, c, p, C, P);
                double wi = w ? w[i] : 1.0;
                wsum[s] += wi;
                mean[s] += wi * x[i];
            }
        }
    for (int s = 0; s < nseg; s++) mean[s] = wsum[s] > 0 ? mean[s] / wsum[s] : 0.0;
    /* pass 2: centred squares */
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int s = seg_nc[n * C + c];
            if (s < 0) continue;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, c, p, C, P);
                double d = x[i] - mean[s];
                var[s] += (w ? w[i] : 1.0) * d * d;
            }
        }
    for (int s = 0; s < nseg; s++) var[s] = wsum[s] > 0 ? var[s] / wsum[s] : 0.0;
}

vkn_status nr_seg_backward(int N, int C, int P, const double *x, const int *seg_nc, int nseg,
                     const double *w, const double *wsum, const double *mean, const double *rstd,
                     const unsigned char *fixed, const double *h, double *dx, double *H, double *G)
{
    double *sh = nr_calloc((size_t)nseg * 2, sizeof(double)), *shx = sh + nseg;
    if (!sh) return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: backward sums (%d segments)", nseg);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int s = seg_nc[n * C + c];
            if (s < 0) continue;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, c, p, C, P);
                sh[s] += h[i];
                shx[s] += h[i] * (x[i] - mean[s]) * rstd[s];
            }
        }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            int s = seg_nc[n * C + c];
            if (s < 0) continue;
            for (int p = 0; p < P; p++) {
                size_t i = NR_IDX(n, c, p, C, P);
                if (fixed && fixed[s]) {
                    dx[i] += rstd[s] * h[i];
                    continue;
                }
                double wi = (w ? w[i] : 1.0) / (wsum[s] > 0 ? wsum[s] : 1.0);
                double xh = (x[i] - mean[s]) * rstd[s];
                dx[i] += rstd[s] * (h[i] - wi * sh[s] - wi * xh * shx[s]);
            }
        }
    if (H) memcpy(H, sh, (size_t)nseg * sizeof(double));
    if (G) memcpy(G, shx, (size_t)nseg * sizeof(double));
    free(sh);
    return VKN_OK;
}

void nr_posterior(int K, double x, const double *lb, const double *m, const double *s, int st, double *tau)
{
    double mx = -INFINITY;
    for (int k = 0; k < K; k++) {
        double d = x - m[k * st];
        tau[k] = lb[k * st] - d * d / (2.0 * s[k * st]);
        if (tau[k] > mx) mx = tau[k];
    }
    double z = 0;
    for (int k = 0; k < K; k++) z += tau[k] = exp(tau[k] - mx);
    for (int k = 0; k < K; k++) tau[k] /= z;
}

double nr_softplus(double u) { return u > 0 ? u + log1p(exp(-u)) : log1p(exp(u)); }

double nr_sigmoid(double u) { return u >= 0 ? 1.0 / (1.0 + exp(-u)) : exp(u) / (1.0 + exp(u)); }

vkn_status nr_cache_segs(vkn_norm_ref_cache *c, int nseg)
{
    c->nseg = nseg;
    c->mean = nr_calloc((size_t)nseg, sizeof(double));
    c->var = nr_calloc((size_t)nseg, sizeof(double));
    c->rstd = nr_calloc((size_t)nseg, sizeof(double));
    c->wsum = nr_calloc((size_t)nseg, sizeof(double));
    c->fixed = nr_calloc((size_t)nseg, 1);
    if (!c->mean || !c->var || !c->rstd || !c->wsum || !c->fixed)
        return vkn_status_set(VKN_ERR_HOST_OOM, "norm_ref: cache (%d segments)", nseg);
    return VKN_OK;
}

void vkn_norm_ref_cache_free(vkn_norm_ref_cache *c)
{
    if (!c) return;
    free(c->mean); free(c->var); free(c->rstd); free(c->wsum); free(c->fixed);
    free(c->mean2); free(c->var2); free(c->rstd2);
    free(c->tau); free(c->lam); free(c->aux);
    memset(c, 0, sizeof *c);
}

double vkn_norm_ref_ubn_similarity(int N, int C, int P, const double *x)
{
    /* s = mean over pairs n != m of cos(x_n, x_m) = (||sum u||^2 - N') / (N'(N'-1)), O(N C P). */
    size_t D = (size_t)C * P;
    double *sum = nr_calloc(D, sizeof(double));
    if (!sum) return 0;
    int nn = 0;
    for (int n = 0; n < N; n++) {
        const double *xn = x + (size_t)n * D;
        double sq = 0;
        for (size_t j = 0; j < D; j++) sq += xn[j] * xn[j];
        if (!(sq > 0)) continue;
        double inv = 1.0 / sqrt(sq);
        for (size_t j = 0; j < D; j++) sum[j] += xn[j] * inv;
        nn++;
    }
    double s = 0;
    if (nn >= 2) {
        double sq = 0;
        for (size_t j = 0; j < D; j++) sq += sum[j] * sum[j];
        s = (sq - nn) / ((double)nn * (nn - 1));
    }
    free(sum);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * Dispatch
 * ---------------------------------------------------------------------------------------------- */
static vkn_status check_slots(const vkn_norm_opts *o, double *const *slots)
{
    vkn_norm_slot s[VKN_NORM_MAX_SLOTS];
    int n;
    VKN_TRY(vkn_norm_slots(o, s, &n));
    if (n > 0 && !slots)
        return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): slots are NULL", vkn_norm_kind_name(o->kind));
    for (int i = 0; i < n; i++)
        if (!slots[i])
            return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): slot %d (%s) is NULL",
                                  vkn_norm_kind_name(o->kind), i, s[i].name);
    return VKN_OK;
}

static vkn_status check_ctx(const vkn_norm_opts *o, int N, const int32_t *ctx)
{
    if (!vkn_norm_needs_ctx(o->kind)) return VKN_OK;
    const char *nm = vkn_norm_kind_name(o->kind);
    if (!ctx)
        return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): needs %s ids (int32[N]), got NULL", nm,
                              o->kind == VKN_NORM_CBN ? "class" : "context");
    for (int n = 0; n < N; n++)
        if (ctx[n] < 0 || ctx[n] >= o->contexts)
            return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): sample %d has id %d, outside 0..%d", nm, n,
                                  (int)ctx[n], o->contexts - 1);
    return VKN_OK;
}

vkn_status vkn_norm_ref_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                                const int32_t *ctx, const double *afn_mask, double *const *slots,
                                int train, double *y, vkn_norm_ref_cache *cache)
{
    VKN_TRY(vkn_norm_opts_check(o));
    const char *nm = vkn_norm_kind_name(o->kind);
    if (N < 1 || P < 1)
        return vkn_status_set(VKN_ERR_SHAPE, "norm_ref(%s): N=%d, P=%d must be >= 1", nm, N, P);
    if (!x || !y) return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): x or y is NULL", nm);
    VKN_TRY(check_slots(o, slots));
    VKN_TRY(check_ctx(o, N, ctx));
    vkn_norm_ref_cache local = {0};
    vkn_norm_ref_cache *c = cache ? cache : &local;
    vkn_norm_ref_cache_free(c);
    c->kind = o->kind;
    c->N = N;
    c->C = o->channels;
    c->P = P;
    c->train = train ? 1 : 0;
    vkn_status st = VKN_OK;
    switch (o->kind) {
    case VKN_NORM_NONE:
        memcpy(y, x, (size_t)N * o->channels * P * sizeof(double));
        break;
    case VKN_NORM_BN: case VKN_NORM_LN: case VKN_NORM_IN: case VKN_NORM_GN:
    case VKN_NORM_CBN: case VKN_NORM_UBN:
        st = nr_basic_forward(o, N, P, x, ctx, slots, c->train, y, c);
        break;
    case VKN_NORM_CN: case VKN_NORM_CNX:
        st = nr_context_forward(o, N, P, x, ctx, slots, c->train, y, c);
        break;
    case VKN_NORM_ACN: case VKN_NORM_MN:
        st = nr_mixture_forward(o, N, P, x, slots, c->train, y, c);
        break;
    case VKN_NORM_BCN: case VKN_NORM_AFN:
        st = nr_fused_forward(o, N, P, x, afn_mask, slots, c->train, y, c);
        break;
    default: st = vkn_status_set(VKN_ERR_ARG, "norm_ref: unknown kind %d", (int)o->kind);
    }
    if (st != VKN_OK || c == &local) vkn_norm_ref_cache_free(c);
    return st;
}

vkn_status vkn_norm_ref_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *c,
                                 const double *x, const int32_t *ctx, double *const *slots,
                                 const double *g, double *dx, double *const *dslots)
{
    VKN_TRY(vkn_norm_opts_check(o));
    const char *nm = vkn_norm_kind_name(o->kind);
    if (!c || c->N < 1 || c->kind != o->kind || c->C != o->channels)
        return vkn_status_set(VKN_ERR_ARG,
                              "norm_ref(%s): backward needs the cache of a forward with the same options",
                              nm);
    if (!x || !g || !dx) return vkn_status_set(VKN_ERR_ARG, "norm_ref(%s): x, g or dx is NULL", nm);
    VKN_TRY(check_slots(o, slots));
    VKN_TRY(check_ctx(o, c->N, ctx));
    vkn_norm_slot s[VKN_NORM_MAX_SLOTS];
    int ns;
    VKN_TRY(vkn_norm_slots(o, s, &ns));
    if (dslots)
        for (int i = 0; i < ns; i++) {
            if (!s[i].learned && dslots[i])
                return vkn_status_set(VKN_ERR_ARG,
                                      "norm_ref(%s): dslots[%d] (%s) must be NULL: it is a buffer", nm,
                                      i, s[i].name);
            if (dslots[i]) memset(dslots[i], 0, (size_t)s[i].count * sizeof(double));
        }
    size_t total = (size_t)c->N * c->C * c->P;
    memset(dx, 0, total * sizeof(double));
    switch (o->kind) {
    case VKN_NORM_NONE:
        memcpy(dx, g, total * sizeof(double));
        return VKN_OK;
    case VKN_NORM_BN: case VKN_NORM_LN: case VKN_NORM_IN: case VKN_NORM_GN:
    case VKN_NORM_CBN: case VKN_NORM_UBN:
        return nr_basic_backward(o, c, x, ctx, slots, g, dx, dslots);
    case VKN_NORM_CN: case VKN_NORM_CNX:
        return nr_context_backward(o, c, x, ctx, slots, g, dx, dslots);
    case VKN_NORM_ACN: case VKN_NORM_MN:
        return nr_mixture_backward(o, c, x, slots, g, dx, dslots);
    case VKN_NORM_BCN: case VKN_NORM_AFN:
        return nr_fused_backward(o, c, x, slots, g, dx, dslots);
    default: return vkn_status_set(VKN_ERR_ARG, "norm_ref: unknown kind %d", (int)o->kind);
    }
}
