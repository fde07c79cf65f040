/* Activation backward and axpy against their references on odd sizes (vec4 body + scalar tail), the
 * reference backward against finite differences of the reference forward, and shape errors. */
#include "nn_testutil.h"
#include "ops/ref_nn.h"

static const vkn_act acts[] = {VKN_ACT_RELU, VKN_ACT_LEAKY_RELU, VKN_ACT_TANH, VKN_ACT_SIGMOID};
static const char *act_names[] = {"", "relu", "leaky_relu", "tanh", "sigmoid"};

/* the forward's value the backward takes: x for relu/leaky, y for tanh/sigmoid */
static void act_v(vkn_act act, double alpha, const double *x, double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = act == VKN_ACT_TANH || act == VKN_ACT_SIGMOID ? (float)vkn_ref_act_d(act, alpha, x[i]) : x[i];
}

static void test_act_grad_device(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 3, 4, 7, 64, 257, 1001, 4096 + 5};
    tu_seed(21);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            double alpha = 0.2;
            double *x = nt_rand(n, -3, 3), *g = nt_rand(n, -1, 1), *v = nt_alloc(n), *ref = nt_alloc(n);
            act_v(acts[a], alpha, x, v, n);
            vkn_ref_act_grad(acts[a], alpha, v, g, ref, n);
            vkn_tensor tv = nt_tensor1(n, v), tg = nt_tensor1(n, g), tdx = nt_tensor1(n, NULL);
            nt_poison(&tdx);
            tu_begin();
            tu_check_op(vkn_op_act_grad(tu_cmd, acts[a], (float)alpha, &tv, &tg, &tdx));
            tu_check_op(vkn_op_act_grad(tu_cmd, acts[a], (float)alpha, &tv, &tg, &tg));   /* in place */
            tu_run();
            char what[96];
            snprintf(what, sizeof what, "%s_grad n=%lld", act_names[acts[a]], (long long)n);
            nt_check(what, &tdx, ref, 1e-7, 1e-6);
            snprintf(what, sizeof what, "%s_grad in place n=%lld", act_names[acts[a]], (long long)n);
            nt_check(what, &tg, ref, 1e-7, 1e-6);
            free(x); free(g); free(v); free(ref);
        }
}

typedef struct act_ctx { vkn_act act; double alpha; double *x, *g, *y; int64_t n; } act_ctx;

static double act_loss(void *p)
{
    act_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) c->y[i] = vkn_ref_act_d(c->act, c->alpha, c->x[i]);
    return nt_dot(c->g, c->y, c->n);
}

static void test_act_grad_fd(void **state)
{
    (void)state;
    tu_seed(22);
    int64_t n = 200;
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        act_ctx c = {acts[a], 0.1, nt_rand(n, -3, 3), nt_rand(n, -1, 1), nt_alloc(n), n};
        double *v = nt_alloc(n), *dx = nt_alloc(n);
        for (int64_t i = 0; i < n; i++) {
            if (fabs(c.x[i]) < 1e-3) c.x[i] = 0.5;   /* away from the kink */
            v[i] = acts[a] == VKN_ACT_TANH || acts[a] == VKN_ACT_SIGMOID ? vkn_ref_act_d(acts[a], c.alpha, c.x[i]) : c.x[i];
        }
        vkn_ref_act_grad(acts[a], c.alpha, v, c.g, dx, n);
        nt_fd_check(act_names[acts[a]], act_loss, &c, c.x, n, dx, n, 1e-6, 1e-7);
        free(c.x); free(c.g); free(c.y); free(v); free(dx);
    }
}

static void test_axpy(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 2, 5, 8, 129, 10007};
    tu_seed(23);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        double *x = nt_rand(n, -1, 1), *y = nt_rand(n, -1, 1);
        vkn_tensor tx = nt_tensor1(n, x), ty = nt_tensor1(n, y);
        tu_begin();
        tu_check_op(vkn_op_axpy(tu_cmd, 0.75f, &tx, &ty));
        tu_check_op(vkn_op_axpy(tu_cmd, -2.0f, &tx, &ty));   /* read-after-write on y: ordered */
        tu_run();
        vkn_ref_axpy((float)0.75, x, y, n);
        vkn_ref_axpy(-2.0, x, y, n);
        char what[64];
        snprintf(what, sizeof what, "axpy n=%lld", (long long)n);
        nt_check(what, &ty, y, 1e-6, 1e-6);
        free(x); free(y);
    }
}

static void test_errors(void **state)
{
    (void)state;
    vkn_tensor a = nt_tensor1(5, NULL), b = nt_tensor1(6, NULL);
    tu_begin();
    assert_int_equal(vkn_op_act_grad(tu_cmd, VKN_ACT_RELU, 0, &a, &b, &a), VKN_ERR_SHAPE);
    assert_int_equal(vkn_op_act_grad(tu_cmd, VKN_ACT_NONE, 0, &a, &a, &a), VKN_ERR_ARG);
    assert_int_equal(vkn_op_axpy(tu_cmd, 1, &a, &b), VKN_ERR_SHAPE);
    assert_non_null(strstr(vkn_status_detail(), "6"));
    tu_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_act_grad_device), cmocka_unit_test(test_act_grad_fd),
        cmocka_unit_test(test_axpy), cmocka_unit_test(test_errors),
    };
    return TU_RUN(tests);
}
