/* Optimizers against their references over several replays of one recording (lr and t from the step
 * tensor), the flat-span fast path (many tensors, one dispatch), clipping by global norm, the gradient
 * norm, the non-finite check, gradient reversal, and the host-side schedules. */
#include "../common/testutil.h"
#include "ops/ref_train.h"
#include "vkn/optim.h"

static vkn_tensor step_tensor(void)
{
    int64_t n = VKN_STEP_COUNT;
    float z[VKN_STEP_COUNT] = {0};
    return tu_tensor(1, &n, z);
}

static const int64_t one = 1;

static void run_optim(const vkn_optim_opts *o, int64_t n)
{
    float *p = tu_alloc(n), *g = tu_alloc(n), *m = tu_alloc(n), *v = tu_alloc(n), *got = tu_alloc(n);
    tu_fill(p, n, -1, 1);
    vkn_tensor st = step_tensor(), tp = tu_tensor(1, &n, p), tg = tu_tensor(1, &n, NULL);
    vkn_tensor tm = tu_tensor(1, &n, m), tv = tu_tensor(1, &n, v);
    tu_begin();
    tu_check_op(vkn_op_optim_step(tu_cmd, o, &st, &tp, &tg, &tm, &tv));
    assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
    int ns = vkn_optim_state_count(o);
    for (int step = 1; step <= 3; step++) {
        tu_fill(g, n, -2, 2);
        assert_int_equal(vkn_tensor_upload(&tg, g), VKN_OK);
        float lr = 0.01f / step;
        assert_int_equal(vkn_step_set(&st, VKN_STEP_T, (float)step), VKN_OK);
        assert_int_equal(vkn_step_set(&st, (int)o->lr_slot, lr), VKN_OK);
        if (vkn_cmd_run(tu_cmd) != VKN_OK) fail_msg("run: %s", vkn_status_detail());
        vkn_ref_optim_step(o, step, lr, 0, p, g, m, v, n);
        char what[96];
        snprintf(what, sizeof what, "%s mom=%g wd=%g n=%lld step %d param", vkn_optim_name(o->kind), o->momentum,
                 o->weight_decay, (long long)n, step);
        tu_download(&tp, got);
        tu_assert_close(what, got, p, n, 1e-6, 1e-5);
        if (ns >= 1) {
            tu_download(&tm, got);
            tu_assert_close("state 1", got, m, n, 1e-6, 1e-5);
        }
        if (ns >= 2) {
            tu_download(&tv, got);
            tu_assert_close("state 2", got, v, n, 1e-6, 1e-5);
        }
    }
    free(p); free(g); free(m); free(v); free(got);
}

static void test_optimizers(void **state)
{
    (void)state;
    tu_seed(21);
    const vkn_optim_opts opts[] = {
        {.kind = VKN_OPTIM_SGD, .lr_slot = VKN_STEP_LR0},
        {.kind = VKN_OPTIM_SGD, .lr_slot = VKN_STEP_LR0 + 1, .momentum = 0.9f},
        {.kind = VKN_OPTIM_SGD, .lr_slot = VKN_STEP_LR0 + 2, .momentum = 0.8f, .nesterov = 1, .weight_decay = 1e-2f,
         .grad_scale = 0.5f},
        {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0},
        {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0 + 3, .beta1 = 0.5f, .beta2 = 0.999f, .eps = 1e-8f,
         .weight_decay = 1e-3f},
        {.kind = VKN_OPTIM_ADAMW, .lr_slot = VKN_STEP_LR0 + 7, .weight_decay = 0.05f},
    };
    const int64_t sizes[] = {1, 3, 5, 64, 1001, 40003};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) run_optim(&opts[i], sizes[s]);
}

/* Parameters of odd sizes allocated one after another, updated through one span in one dispatch. */
static void test_flat_span(void **state)
{
    (void)state;
    tu_seed(22);
    enum { NT = 4 };
    const int64_t sizes[NT] = {7, 130, 1, 999};
    vkn_arena *ar;
    assert_int_equal(vkn_arena_create(tu_ctx, 0, &ar), VKN_OK);
    vkn_tensor tp[NT], tg[NT], tm[NT], tv[NT], sp, sg, sm, sv;
    vkn_tensor *groups[4] = {tp, tg, tm, tv}, *spans[4] = {&sp, &sg, &sm, &sv};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < NT; i++) assert_int_equal(vkn_tensor_alloc(ar, VKN_F32, 1, &sizes[i], &groups[k][i]), VKN_OK);
        assert_int_equal(vkn_optim_span(groups[k], NT, spans[k]), VKN_OK);
        /* the gaps (arena padding) must be finite: zero the whole span once */
        float *z = tu_alloc(spans[k]->numel);
        assert_int_equal(vkn_tensor_upload(spans[k], z), VKN_OK);
        free(z);
    }
    assert_true(sp.numel >= 7 + 130 + 1 + 999);
    float *p[NT], *g[NT], *m[NT], *v[NT];
    for (int i = 0; i < NT; i++) {
        p[i] = tu_alloc(sizes[i]); g[i] = tu_alloc(sizes[i]); m[i] = tu_alloc(sizes[i]); v[i] = tu_alloc(sizes[i]);
        tu_fill(p[i], sizes[i], -1, 1);
        assert_int_equal(vkn_tensor_upload(&tp[i], p[i]), VKN_OK);
    }
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAMW, .lr_slot = VKN_STEP_LR0, .weight_decay = 0.01f};
    vkn_tensor st = step_tensor();
    tu_begin();
    tu_check_op(vkn_op_optim_step(tu_cmd, &o, &st, &sp, &sg, &sm, &sv));
    assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
    assert_int_equal(vkn_cmd_get_stats(tu_cmd).dispatches, 1);
    for (int step = 1; step <= 2; step++) {
        for (int i = 0; i < NT; i++) {
            tu_fill(g[i], sizes[i], -1, 1);
            assert_int_equal(vkn_tensor_upload(&tg[i], g[i]), VKN_OK);
        }
        assert_int_equal(vkn_step_set(&st, VKN_STEP_T, (float)step), VKN_OK);
        assert_int_equal(vkn_step_set(&st, VKN_STEP_LR0, 1e-3f), VKN_OK);
        assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
        for (int i = 0; i < NT; i++) {
            vkn_ref_optim_step(&o, step, 1e-3f, 0, p[i], g[i], m[i], v[i], sizes[i]);
            float *got = tu_alloc(sizes[i]);
            tu_download(&tp[i], got);
            tu_assert_close("span param", got, p[i], sizes[i], 1e-6, 1e-5);
            tu_download(&tv[i], got);
            tu_assert_close("span v", got, v[i], sizes[i], 1e-6, 1e-5);
            free(got);
        }
    }
    for (int i = 0; i < NT; i++) { free(p[i]); free(g[i]); free(m[i]); free(v[i]); }
    /* spans must be ascending, in one buffer */
    vkn_tensor rev[2] = {tp[1], tp[0]}, out;
    assert_int_equal(vkn_optim_span(rev, 2, &out), VKN_ERR_ARG);
    vkn_arena_destroy(ar);
}

static void test_grad_norm_and_clip(void **state)
{
    (void)state;
    tu_seed(23);
    const int64_t sizes[3] = {1, 7, 100003};
    float *h[3];
    vkn_tensor t[3];
    const vkn_tensor *tl[3];
    double ss = 0;
    for (int i = 0; i < 3; i++) {
        h[i] = tu_alloc(sizes[i]);
        tu_fill(h[i], sizes[i], -1, 1);
        t[i] = tu_tensor(1, &sizes[i], h[i]);
        tl[i] = &t[i];
        ss += vkn_ref_sumsq(h[i], sizes[i]);
    }
    vkn_tensor norm = tu_tensor(1, &one, NULL), norm1 = tu_tensor(1, &one, NULL), st = step_tensor();
    int64_t n = sizes[1];
    float p[7], m[7] = {0}, v[7] = {0}, got[7];
    tu_fill(p, n, -1, 1);
    vkn_tensor tp = tu_tensor(1, &n, p), tm = tu_tensor(1, &n, m), tv = tu_tensor(1, &n, v);
    vkn_optim_opts o = {.kind = VKN_OPTIM_ADAM, .lr_slot = VKN_STEP_LR0, .clip_norm = &norm, .max_norm = 10.0f};
    assert_int_equal(vkn_step_set(&st, VKN_STEP_T, 1), VKN_OK);
    assert_int_equal(vkn_step_set(&st, VKN_STEP_LR0, 0.1f), VKN_OK);
    tu_begin();
    tu_check_op(vkn_op_grad_norm(tu_cmd, tl, 3, &norm));
    tu_check_op(vkn_op_grad_norm(tu_cmd, tl, 1, &norm1));
    tu_check_op(vkn_op_optim_step(tu_cmd, &o, &st, &tp, &t[1], &tm, &tv));
    tu_run();
    float gn, gn1, rn = (float)sqrt(ss), rn1 = fabsf(h[0][0]);
    tu_download(&norm, &gn);
    tu_download(&norm1, &gn1);
    tu_assert_close("grad norm", &gn, &rn, 1, 1e-6, 1e-5);
    tu_assert_close("grad norm 1", &gn1, &rn1, 1, 0, 1e-6);
    /* norm ~ 183 > 10: the gradient is scaled by 10 / norm (Adam's first step is ~sign(g), so check m) */
    vkn_ref_optim_step(&o, 1, 0.1f, gn, p, h[1], m, v, n);
    tu_download(&tm, got);
    tu_assert_close("clipped m", got, m, n, 1e-7, 1e-5);
    tu_download(&tp, got);
    tu_assert_close("clipped p", got, p, n, 1e-6, 1e-5);
    for (int i = 0; i < 3; i++) free(h[i]);
}

static void test_check_finite(void **state)
{
    (void)state;
    const int64_t sizes[3] = {5, 1, 70001};
    float *h[3];
    vkn_tensor t[3];
    const vkn_tensor *tl[3];
    for (int i = 0; i < 3; i++) {
        h[i] = tu_alloc(sizes[i]);
        tu_fill(h[i], sizes[i], -1e30, 1e30);
        t[i] = tu_tensor(1, &sizes[i], h[i]);
        tl[i] = &t[i];
    }
    vkn_tensor flag = tu_tensor(1, &one, NULL);
    tu_begin();
    tu_check_op(vkn_op_check_finite(tu_cmd, tl, 3, &flag));
    assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const int64_t where[4][2] = {{0, 4}, {1, 0}, {2, 70000}, {2, 12345}};
    float f;
    assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
    tu_download(&flag, &f);
    assert_true(f == 0.0f);
    for (int w = 0; w < 4; w++)
        for (int b = 0; b < 3; b++) {
            int ti = (int)where[w][0];
            float keep = h[ti][where[w][1]];
            h[ti][where[w][1]] = bad[b];
            assert_int_equal(vkn_tensor_upload(&t[ti], h[ti]), VKN_OK);
            assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
            tu_download(&flag, &f);
            if (f != 1.0f) fail_msg("check_finite: %g at tensor %d element %lld gave flag %g", bad[b], ti, (long long)where[w][1], f);
            assert_int_equal(vkn_ref_any_nonfinite(h[ti], sizes[ti]), 1);
            h[ti][where[w][1]] = keep;
            assert_int_equal(vkn_tensor_upload(&t[ti], h[ti]), VKN_OK);
        }
    assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
    tu_download(&flag, &f);
    assert_true(f == 0.0f);
    for (int i = 0; i < 3; i++) free(h[i]);
}

static void test_grad_reverse(void **state)
{
    (void)state;
    tu_seed(24);
    int64_t n = 1003;
    float *dy = tu_alloc(n), *got = tu_alloc(n), *ref = tu_alloc(n);
    tu_fill(dy, n, -1, 1);
    vkn_tensor tdy = tu_tensor(1, &n, dy), tdx = tu_tensor(1, &n, NULL), st = step_tensor();
    tu_begin();
    tu_check_op(vkn_op_grad_reverse(tu_cmd, &st, &tdy, &tdx));
    tu_check_op(vkn_op_scale_by_step(tu_cmd, &st, VKN_STEP_USER, 2.0f, &tdy, &tdy));   /* in place */
    assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
    double lam = vkn_grl_lambda(0.3);
    assert_int_equal(vkn_step_set(&st, VKN_STEP_LAMBDA, (float)lam), VKN_OK);
    assert_int_equal(vkn_step_set(&st, VKN_STEP_USER, 0.25f), VKN_OK);
    assert_int_equal(vkn_cmd_run(tu_cmd), VKN_OK);
    tu_download(&tdx, got);
    for (int64_t i = 0; i < n; i++) ref[i] = (float)(-(float)lam * (double)dy[i]);
    tu_assert_close("grad reverse", got, ref, n, 0, 1e-6);
    tu_download(&tdy, got);
    for (int64_t i = 0; i < n; i++) ref[i] = 0.5f * dy[i];
    tu_assert_close("scale by step in place", got, ref, n, 0, 1e-6);
    free(dy); free(got); free(ref);
}

static void test_schedules(void **state)
{
    (void)state;
    assert_true(vkn_lr_constant(0.1) == 0.1);
    assert_true(fabs(vkn_lr_dann(0.01, 0) - 0.01) < 1e-15);
    assert_true(fabs(vkn_lr_dann(0.01, 1) - 0.01 / pow(11, 0.75)) < 1e-15);
    assert_true(fabs(vkn_grl_lambda(0)) < 1e-15);
    assert_true(fabs(vkn_grl_lambda(1) - (2 / (1 + exp(-10.0)) - 1)) < 1e-15);
    assert_true(fabs(vkn_lr_cosine(1, 0, 0, 10, 110) - 0.1) < 1e-12);     /* warmup */
    assert_true(fabs(vkn_lr_cosine(1, 0, 9, 10, 110) - 1.0) < 1e-12);
    assert_true(fabs(vkn_lr_cosine(1, 0, 10, 10, 110) - 1.0) < 1e-12);
    assert_true(fabs(vkn_lr_cosine(1, 0, 60, 10, 110) - 0.5) < 1e-12);
    assert_true(fabs(vkn_lr_cosine(1, 0.1, 110, 10, 110) - 0.1) < 1e-12);
    assert_true(fabs(vkn_lr_cosine(1, 0, 5, 0, 10) - 0.5) < 1e-12);      /* no warmup */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimizers), cmocka_unit_test(test_flat_span), cmocka_unit_test(test_grad_norm_and_clip),
        cmocka_unit_test(test_check_finite), cmocka_unit_test(test_grad_reverse), cmocka_unit_test(test_schedules),
    };
    return TU_RUN(tests);
}
