/* Shared by the cmocka tests: one context per test program (validation on through VKN_VALIDATE=1,
 * and any validation message fails the program), seeded random data, and the tolerance check
 * |a - b| <= atol + rtol * |ref| that names the first element that fails. */
#ifndef VKN_TESTUTIL_H
#define VKN_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vkn/vkn.h"

static vkn_context *tu_ctx;
static vkn_arena *tu_arena;
static vkn_cmd *tu_cmd;

static int tu_setup(void **state)
{
    (void)state;
    vkn_status s = vkn_context_create(NULL, &tu_ctx);
    if (s != VKN_OK) {
        fprintf(stderr, "context: %s: %s\n", vkn_status_string(s), vkn_status_detail());
        return -1;
    }
    if (vkn_arena_create(tu_ctx, 0, &tu_arena) != VKN_OK) return -1;
    if (vkn_cmd_create(tu_ctx, &tu_cmd) != VKN_OK) return -1;
    return 0;
}

static int tu_validation_failed;   /* cmocka counts a failed group teardown in no test: TU_RUN adds it */

static int tu_teardown(void **state)
{
    (void)state;
    vkn_cmd_destroy(tu_cmd);
    vkn_arena_destroy(tu_arena);
    uint32_t msgs = vkn_context_validation_count(tu_ctx);
    vkn_context_destroy(tu_ctx);
    if (msgs) {
        fprintf(stderr, "FAIL: %u Vulkan validation message(s)\n", msgs);
        tu_validation_failed = 1;
        return -1;
    }
    return 0;
}

/* Run a cmocka group with the shared context; a validation message turns success into failure (the
 * exit status: cmocka's own result ignores a failed group teardown). */
static inline int tu_run_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int failed = _cmocka_run_group_tests(name, tests, n, tu_setup, tu_teardown);
    return failed ? failed : tu_validation_failed;
}
#define TU_RUN(tests) tu_run_group(#tests, tests, sizeof(tests) / sizeof((tests)[0]))

static uint64_t tu_rng = 0x9E3779B97F4A7C15ull;
static inline void tu_seed(uint64_t s) { tu_rng = s * 0x9E3779B97F4A7C15ull + 1; }
static inline double tu_uniform(void)   /* [0,1) */
{
    tu_rng ^= tu_rng << 13; tu_rng ^= tu_rng >> 7; tu_rng ^= tu_rng << 17;
    return (double)(tu_rng >> 11) * (1.0 / 9007199254740992.0);
}
static inline void tu_fill(float *x, int64_t n, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * tu_uniform());
}
static inline float *tu_alloc(int64_t n) { float *p = calloc((size_t)(n ? n : 1), sizeof(float)); assert_non_null(p); return p; }

/* Tensor with given data uploaded. */
static inline vkn_tensor tu_tensor(int ndim, const int64_t *shape, const float *data)
{
    vkn_tensor t;
    vkn_status s = vkn_tensor_alloc(tu_arena, VKN_F32, ndim, shape, &t);
    if (s != VKN_OK) fail_msg("alloc: %s", vkn_status_detail());
    if (data) assert_int_equal(vkn_tensor_upload(&t, data), VKN_OK);
    return t;
}

static inline void tu_begin(void) { assert_int_equal(vkn_cmd_begin(tu_cmd), VKN_OK); }
static inline void tu_run(void)
{
    assert_int_equal(vkn_cmd_end(tu_cmd), VKN_OK);
    vkn_status s = vkn_cmd_run(tu_cmd);
    if (s != VKN_OK) fail_msg("run: %s", vkn_status_detail());
}

static inline void tu_check_op(vkn_status s)
{
    if (s != VKN_OK) fail_msg("op failed: %s: %s", vkn_status_string(s), vkn_status_detail());
}

/* |got - ref| <= atol + rtol*|ref| everywhere (NaN only where ref is NaN) */
static inline void tu_assert_close(const char *what, const float *got, const float *ref, int64_t n, double atol, double rtol)
{
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        if ((isnan(r) && isnan(g)) || (isinf(r) && g == r)) continue;
        if (!(fabs(g - r) <= atol + rtol * fabs(r)))
            fail_msg("%s: element %lld: got %.9g, reference %.9g (atol %g, rtol %g)", what, (long long)i, g, r, atol, rtol);
    }
}

static inline void tu_download(const vkn_tensor *t, float *dst) { assert_int_equal(vkn_tensor_download(t, dst), VKN_OK); }

#endif
