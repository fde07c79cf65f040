/* Random-shape property test of every normalization method on the device against the double
 * reference (src/ops/norm_ref*.c), on the kernel family VKN_PATH selects (the suite runs it for
 * both). Each case draws, from a seed that the failure message names:
 *   - the layout: dense [N, C], 1x1 spatial [N, C, 1, 1] or a small [N, C, H, W];
 *   - C in 1..13 (mostly C % 4 != 0), N small, gn's groups a random divisor of C;
 *   - affine on or off where the method has the option, random gamma, beta and running statistics
 *     (so a kernel that reads another channel's parameter is seen), cn's prior scaling, cnx's
 *     embedder, ubn's threshold on either side, the inference mode;
 *   - cbn, cn, cnx: 1..6 contexts, the batch's ids drawn from a random subset of them (contexts
 *     absent from the batch), a context with a single sample likely;
 *   - 1 or 2 training steps (forward, backward: dx and every learned slot's gradient, the running
 *     statistics after the step), then an inference step (forward; backward where the method
 *     defines one with fixed statistics).
 * The comparison and its tolerance are run_case's (norm_devcase.h). The reference backward is
 * itself checked against finite differences (test_norm_ref.c). 24 cases per method;
 * VKN_PROP_CASES=N runs N (a failure names its seed: the case is random_case(kind, seed)). */
#include "norm_devcase.h"

static int irand(int lo, int hi) { return lo + (int)(tu_uniform() * (hi - lo + 1)); }   /* [lo, hi] */

static void random_case(vkn_norm_kind kind, uint64_t seed)
{
    tu_seed(seed);
    static const int cs[] = {1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 4, 8, 12};
    const int mixk = kind == VKN_NORM_ACN || kind == VKN_NORM_MN;
    int C = cs[irand(0, mixk ? 12 : 9 + (tu_uniform() < 0.25 ? 3 : 0))];
    int layout = irand(0, 2), N, H = 1, W = 0;   /* 0 dense, 1 1x1 spatial, 2 small spatial */
    if (layout == 1) W = 1;
    if (layout == 2) { H = irand(1, 3); W = irand(2, 5); }
    /* a mixture's fit on a handful of values is not comparable with the double reference (see
     * test_norm_device.c): 24..64 values per channel */
    if (mixk) N = (irand(24, 64) + H * (W ? W : 1) - 1) / (H * (W ? W : 1));
    else N = irand(2, 10);
    if (N < 2) N = 2;
    dev_case dc = {.o = vkn_norm_opts_default(kind, C), .N = N, .H = H, .W = W, .steps = irand(1, 2), .rand_slots = 1};
    vkn_norm_opts *o = &dc.o;
    if (kind != VKN_NORM_CBN && kind != VKN_NORM_ACN && kind != VKN_NORM_CNX && kind != VKN_NORM_AFN &&
        kind != VKN_NORM_NONE)
        o->affine = tu_uniform() < 0.7;
    if (kind == VKN_NORM_GN) {
        int d[16], nd = 0;
        for (int g = 1; g <= C; g++)
            if (C % g == 0) d[nd++] = g;
        o->groups = d[irand(0, nd - 1)];
    }
    int32_t ids[256];
    if (vkn_norm_needs_ctx(kind)) {
        o->contexts = irand(1, 6);
        /* the batch uses a random non-empty subset of the contexts */
        int use[8], nu = 0;
        for (int k = 0; k < o->contexts; k++)
            if (tu_uniform() < 0.6) use[nu++] = k;
        if (!nu) use[nu++] = irand(0, o->contexts - 1);
        for (int n = 0; n < N; n++) ids[n] = use[irand(0, nu - 1)];
        dc.ids = ids;
    }
    if (kind == VKN_NORM_CN) o->cn_prior_scale = tu_uniform() < 0.5;
    if (kind == VKN_NORM_CNX) o->cnx_embedder = tu_uniform() < 0.5;
    if (mixk) o->components = irand(1, 3);
    if (kind == VKN_NORM_UBN) o->ubn_threshold = tu_uniform() < 0.5 ? 0.9 : -2, o->ubn_batch_stats_above = irand(0, 1);
    if (kind == VKN_NORM_AFN && tu_uniform() < 0.5) o->afn_dropout = 0;
    if (tu_uniform() < 0.3) o->momentum = 0.3;
    double r = tu_uniform();
    if (kind == VKN_NORM_ACN && r < 0.3) o->infer = VKN_NORM_INFER_LEARNED;
    else if (r < 0.6 && kind != VKN_NORM_CNX) o->infer = VKN_NORM_INFER_BATCH;
    /* afn: batch statistics need 2 values per channel, which N >= 2 gives */
    char what[96];
    snprintf(what, sizeof what, "seed %llu", (unsigned long long)seed);
    print_message("[ %s %s ] N=%d C=%d H=%d W=%d affine=%d K=%d G=%d steps=%d infer=%d\n", vkn_norm_kind_name(kind),
                  what, N, C, H, W, o->affine, vkn_norm_needs_ctx(kind) ? o->contexts : o->components, o->groups,
                  dc.steps, (int)o->infer);
    run_case(&dc);
}

/* cases per method; VKN_PROP_CASES overrides (a longer local run) */
static int ncases(void)
{
    const char *e = getenv("VKN_PROP_CASES");
    int n = e ? atoi(e) : 0;
    return n > 0 ? n : 24;
}

static void run_kind_random(vkn_norm_kind kind)
{
    int n = ncases();
    for (int i = 0; i < n; i++) random_case(kind, 1000u * (uint64_t)kind + (uint64_t)i);
}

#define T(name, kind) static void name(void **s) { (void)s; run_kind_random(kind); }
T(p_none, VKN_NORM_NONE)
T(p_bn, VKN_NORM_BN)
T(p_ln, VKN_NORM_LN)
T(p_in, VKN_NORM_IN)
T(p_gn, VKN_NORM_GN)
T(p_cbn, VKN_NORM_CBN)
T(p_cn, VKN_NORM_CN)
T(p_cnx, VKN_NORM_CNX)
T(p_acn, VKN_NORM_ACN)
T(p_mn, VKN_NORM_MN)
T(p_bcn, VKN_NORM_BCN)
T(p_ubn, VKN_NORM_UBN)
T(p_afn, VKN_NORM_AFN)

int main(void)
{
    /* every kind the library has: a new one must be added here */
    assert_int_equal(VKN_NORM_KIND_COUNT_, 13);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(p_none), cmocka_unit_test(p_bn),  cmocka_unit_test(p_ln),  cmocka_unit_test(p_in),
        cmocka_unit_test(p_gn),   cmocka_unit_test(p_cbn), cmocka_unit_test(p_cn),  cmocka_unit_test(p_cnx),
        cmocka_unit_test(p_acn),  cmocka_unit_test(p_mn),  cmocka_unit_test(p_bcn), cmocka_unit_test(p_ubn),
        cmocka_unit_test(p_afn),
    };
    return TU_RUN(tests);
}
