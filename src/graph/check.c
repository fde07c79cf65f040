/* VKN_CHECK (DESIGN.md section 2): after a step, every op that has a C reference is run on the host
 * from the device's own values of that op's inputs and compared with the device's outputs; the
 * first op that diverges is named. Taking each op's inputs from the device (not from the reference
 * run of the ops before it) puts a fault on one op instead of smearing it along the chain, and
 * checks the backward ops with references (gemm, act_grad, add, reduce, ...) the same way.
 *
 * What the step needs afterwards, and where it comes from:
 *   activations   the planner gives every value its own memory when the check is on (plan.c), so
 *                 all survive the step; one download of the activation block;
 *   inputs        copied at submit, as the step reads them (small; the check then does not depend
 *                 on what the host writes before it waits);
 *   parameters    copied at submit: the optimizer updates them in place during the step, and norm
 *                 layers in training mode update their running statistics in place (an inference
 *                 norm reads them: the copy is what it read);
 *   gradients     of the store, downloaded after the step (the optimizer reads them, never writes);
 *   step scalars  copied at submit and put in place while the references run, so RNG ops (noise,
 *                 dropout) see the counter the device used.
 * Outputs a reference leaves undefined (workspaces) are found from the data and not compared.
 * Not checked: ops without a reference (conv/pool/embedding/norm backward, dropout backward,
 * gradient reversal backward, gradient norm, the optimizer); they are counted as skipped. Known
 * limit: a buffer updated in place by one op and read by a later op of the same step (a norm layer
 * applied twice that reads its running statistics in training mode) is compared against the value
 * from before the step. */
#include "graph/graph_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct graph_check {
    float *act;            /* host copy of the activation block */
    float **copy;          /* per root value: copy of an input, parameter or store gradient */
    float *scratch;        /* reference outputs of one op */
    float step[VKN_STEP_COUNT];
    int64_t steps;
    vkn_status last;
    char msg[1024];
};

static vkn_val root_of(const vkn_graph *g, vkn_val v)
{
    while (G(g, v)->alias != VKN_NONE) v = G(g, v)->alias;
    return v;
}

/* VKN_CHECK=1 or 2; any other non-empty value but "0" means 1 */
static int env_level(void)
{
    const char *v = getenv("VKN_CHECK");
    if (!v || !*v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end != v && *end == 0 && n >= 0 && n <= 2) return (int)n;
    int level = end != v && *end == 0 ? (n < 0 ? 0 : 2) : 1;
    fprintf(stderr, "vkn: VKN_CHECK=%s: expected 0, 1 or 2; using %d\n", v, level);
    return level;
}

static void env_float(const char *name, float *dst)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v) return;
    double x = strtod(v, &end);
    if (end != v && *end == 0 && x >= 0 && x <= 1e30) *dst = (float)x;   /* inf would pass every value */
    else fprintf(stderr, "vkn: %s=%s: expected a number in [0, 1e30]; keeping %g\n", name, v, (double)*dst);
}

void vkn_graph_set_check(vkn_graph *g, int level) { g->check = level < 0 ? 0 : level > 2 ? 2 : level; }

void vkn_graph_set_check_tolerance(vkn_graph *g, float atol, float rtol)
{
    g->check_atol = atol;
    g->check_rtol = rtol;
}

vkn_status vkn_graph_check_prepare(vkn_graph *g)
{
    int e = env_level();
    if (e > g->check) g->check = e;
    if (!g->check) return VKN_OK;
    env_float("VKN_CHECK_ATOL", &g->check_atol);
    env_float("VKN_CHECK_RTOL", &g->check_rtol);
    int64_t most = 1;   /* the largest sum of output sizes of one op */
    for (int i = 0; i < g->nops; i++) {
        int64_t n = 0;
        for (int k = 0; k < g->ops[i].nout; k++) n += G(g, g->ops[i].out[k])->numel;
        if (n > most) most = n;
    }
    struct graph_check *c = calloc(1, sizeof *c);
    if (c) c->copy = calloc((size_t)(g->nvals ? g->nvals : 1), sizeof *c->copy);
    if (c && c->copy) c->scratch = malloc((size_t)most * sizeof(float));
    if (!c || !c->copy || !c->scratch) {
        if (c) { free(c->copy); free(c); }
        return vkn_status_set(VKN_ERR_HOST_OOM, "graph %s: VKN_CHECK buffers", g->name);
    }
    g->chk = c;
    return VKN_OK;
}

void vkn_graph_check_destroy(vkn_graph *g)
{
    struct graph_check *c = g->chk;
    if (!c) return;
    for (int i = 0; i < g->nvals; i++) free(c->copy[i]);
    free(c->copy);
    free(c->act);
    free(c->scratch);
    free(c);
    g->chk = NULL;
}

static float *copy_of(vkn_graph *g, vkn_val v)
{
    struct graph_check *c = g->chk;
    if (!c->copy[v]) c->copy[v] = malloc((size_t)G(g, v)->numel * sizeof(float));
    return c->copy[v];
}

vkn_status vkn_graph_check_before_submit(vkn_graph *g)
{
    struct graph_check *c = g->chk;
    for (vkn_val v = 0; v < g->nvals; v++) {
        gval *x = G(g, v);
        if (x->alias != VKN_NONE || (x->kind != VAL_INPUT && x->kind != VAL_PARAM)) continue;
        float *dst = copy_of(g, v);
        if (!dst) return vkn_status_set(VKN_ERR_HOST_OOM, "graph %s: VKN_CHECK snapshot", g->name);
        if (x->kind == VAL_INPUT) memcpy(dst, x->t.host, (size_t)x->numel * 4);
        else VKN_TRY(vkn_tensor_download(&x->t, dst));
    }
    memcpy(c->step, g->step.host, sizeof c->step);
    return VKN_OK;
}

/* The step's value of v on the host (after the downloads of vkn_graph_check_after_wait). */
static float *dev_of(vkn_graph *g, vkn_val v)
{
    vkn_val r = root_of(g, v);
    return G(g, r)->kind == VAL_ACT ? g->chk->act + G(g, r)->offset / 4 : g->chk->copy[r];
}

typedef struct { int64_t bad, first; float dev, ref; double max_diff; } cmp_result;

static cmp_result compare(const gval *x, const float *dev, const float *ref, double atol, double rtol)
{
    cmp_result r = {0, -1, 0, 0, 0};
    for (int64_t i = 0; i < x->numel; i++) {
        int ok;
        if (x->dtype == VKN_I32) {   /* labels, indices: exact */
            int32_t a, b;
            memcpy(&a, dev + i, 4);
            memcpy(&b, ref + i, 4);
            ok = a == b;
        } else {
            double d = dev[i], e = ref[i], diff = fabs(d - e);
            /* where the reference is not finite (an input was, or it left the float range) there is
             * no right value to hold the device to: past an Inf, NaN or Inf or 0 depends on the order
             * of a sum or how a kernel selects. Non-finite values are the NaN guard's to report. A
             * non-finite device value where the reference is finite is a divergence. */
            ok = !isfinite(e) || diff <= atol + rtol * fabs(e);
            if (ok && diff > r.max_diff && isfinite(diff)) r.max_diff = diff;
        }
        if (!ok && r.bad++ == 0) {
            r.first = i;
            r.dev = dev[i];
            r.ref = ref[i];
        }
    }
    return r;
}

/* Reference outputs start as this NaN pattern: an output still all of it afterwards is one the
 * reference does not define (a kernel's workspace, such as conv's im2col buffer) and is not compared.
 * Found from the data, so op types need no flag for their workspaces. */
#define UNSET_BITS 0x7FA5A5A5u

static int unset(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, 4);
        if (b != UNSET_BITS) return 0;
    }
    return 1;
}

/* op i's reference from the device's inputs, against the device's outputs. Returns the status of the
 * reference; *skipped when it has none (or defines none of the outputs). */
static vkn_status check_op(vkn_graph *g, int i, int *skipped, int *bad_out, cmp_result *bad, double *max_diff)
{
    const vkn_gop *op = &g->ops[i];
    *skipped = 0;
    *bad_out = -1;
    if (!op->type->reference || !op->nout) { *skipped = 1; return VKN_OK; }
    float *in[VKN_GOP_MAX_IN], *out[VKN_GOP_MAX_OUT];
    int64_t off = 0;
    for (int k = 0; k < op->nin; k++) in[k] = dev_of(g, op->in[k]);
    for (int k = 0; k < op->nout; k++) {
        out[k] = g->chk->scratch + off;
        off += G(g, op->out[k])->numel;
    }
    uint32_t bits = UNSET_BITS;
    for (int64_t j = 0; j < off; j++) memcpy(g->chk->scratch + j, &bits, 4);
    vkn_status s = op->type->reference(g, op, in, out);
    if (s == VKN_ERR_UNSUPPORTED) { *skipped = 1; return VKN_OK; }   /* a case the reference does not cover */
    if (s != VKN_OK) return s;
    int compared = 0;
    for (int k = 0; k < op->nout; k++) {
        const gval *x = G(g, op->out[k]);
        if (unset(out[k], x->numel)) continue;
        compared++;
        cmp_result r = compare(x, dev_of(g, op->out[k]), out[k], g->check_atol, g->check_rtol);
        if (r.max_diff > *max_diff) *max_diff = r.max_diff;
        if (r.bad && *bad_out < 0) { *bad_out = k; *bad = r; }
    }
    *skipped = !compared;
    return VKN_OK;
}

vkn_status vkn_graph_check_after_wait(vkn_graph *g)
{
    struct graph_check *c = g->chk;
    c->last = VKN_OK;
    c->msg[0] = 0;
    c->steps++;
    if (!c->act && !(c->act = malloc((size_t)g->act_block.bytes)))
        return vkn_status_set(VKN_ERR_HOST_OOM, "graph %s: VKN_CHECK activations", g->name);
    VKN_TRY(vkn_tensor_download(&g->act_block, c->act));
    for (vkn_val v = 0; v < g->nvals; v++) {
        gval *x = G(g, v);
        if (x->alias != VKN_NONE || x->kind != VAL_PARAM_GRAD) continue;
        float *dst = copy_of(g, v);
        if (!dst) return vkn_status_set(VKN_ERR_HOST_OOM, "graph %s: VKN_CHECK gradients", g->name);
        VKN_TRY(vkn_tensor_download(&x->t, dst));
    }
    /* the references of RNG ops read the step scalars: those of this step, not what the host has
     * written since the submit */
    void *step_host = g->step.host;
    g->step.host = c->step;
    uint32_t checked = 0, skipped = 0;
    int first = -1, first_out = -1, later = 0, max_op = -1;
    cmp_result first_r = {0, -1, 0, 0, 0};
    double max_diff = 0;
    char skipped_types[160] = "";
    vkn_status s = VKN_OK;
    for (int i = 0; i < g->nops && s == VKN_OK; i++) {
        int skip, bad_out;
        cmp_result r = {0, -1, 0, 0, 0};
        double before = max_diff;
        s = check_op(g, i, &skip, &bad_out, &r, &max_diff);
        if (s != VKN_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", vkn_status_detail());
            s = vkn_status_set(s, "graph %s: VKN_CHECK: the reference of op %d (%s) failed: %s", g->name, i,
                               g->ops[i].label, why);
            break;
        }
        if (skip) {
            skipped++;
            const char *t = g->ops[i].type->name;
            if (!strstr(skipped_types, t) && strlen(skipped_types) + strlen(t) + 3 < sizeof skipped_types)
                snprintf(skipped_types + strlen(skipped_types), sizeof skipped_types - strlen(skipped_types), "%s%s",
                         *skipped_types ? ", " : "", t);
            continue;
        }
        checked++;
        if (max_diff > before) max_op = i;
        if (bad_out < 0) continue;
        if (first < 0) { first = i; first_out = bad_out; first_r = r; }
        else later++;
    }
    g->step.host = step_host;
    if (s != VKN_OK) return s;
    g->report.checked_ops = checked;
    g->report.unchecked_ops = skipped;
    if (first >= 0) {
        const vkn_gop *op = &g->ops[first];
        const gval *x = G(g, op->out[first_out]);
        char dv[40], rv[40];
        if (x->dtype == VKN_I32) {
            int32_t a, b;
            memcpy(&a, &first_r.dev, 4);
            memcpy(&b, &first_r.ref, 4);
            snprintf(dv, sizeof dv, "%d", a);
            snprintf(rv, sizeof rv, "%d", b);
        } else {
            snprintf(dv, sizeof dv, "%.9g", first_r.dev);
            snprintf(rv, sizeof rv, "%.9g", first_r.ref);
        }
        snprintf(c->msg, sizeof c->msg,
                 "graph %s: VKN_CHECK step %lld: op %d (%s, %s%s) diverges from its reference: output %d (%s) "
                 "element %lld is %s on the device, %s in the reference (atol %g, rtol %g); %lld of %lld elements "
                 "differ; %d later op(s) diverge too",
                 g->name, (long long)c->steps, first, op->label, op->type->name,
                 first >= g->nforward ? ", backward pass" : "", first_out, x->name, (long long)first_r.first, dv, rv,
                 g->check_atol, g->check_rtol, (long long)first_r.bad, (long long)x->numel, later);
        c->last = VKN_ERR_MISMATCH;
        return vkn_status_set(VKN_ERR_MISMATCH, "%s", c->msg);
    }
    if (g->check >= 2)
        fprintf(stderr, "vknorm check: graph %s step %lld: %u ops match their reference (largest |diff| %.3g%s%s), "
                "%u skipped%s%s%s\n", g->name, (long long)c->steps, checked, max_diff, max_op >= 0 ? " in " : "",
                max_op >= 0 ? g->ops[max_op].label : "", skipped, *skipped_types ? " (no reference: " : "",
                skipped_types, *skipped_types ? ")" : "");
    return VKN_OK;
}

vkn_status vkn_graph_check_result(const vkn_graph *g)
{
    if (!g->chk || g->chk->last == VKN_OK) return VKN_OK;
    return vkn_status_set(g->chk->last, "%s", g->chk->msg);   /* the detail may have been overwritten since */
}
