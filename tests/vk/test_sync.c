/* Synchronization validation is on when asked for, and it sees what it must: a dispatch that reads
 * what the one before it wrote, and one that overwrites what that read, with the hazard tracker's
 * barriers suppressed (a test-only hook), are reported by the layer as SYNC- hazards and counted;
 * the same dispatches with the tracker's barriers are not. (Debian 12's layer, 1.3.239, reports no
 * write-after-write between two compute storage writes, so the hazards made here are RAW and WAR:
 * the kind a launcher's write mask that calls a written binding read would cause.)
 * Also VKN_VALIDATE's parsing ("sync", a comma list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vkn/vkn.h"
#include "vk/vk_internal.h"

typedef struct sync_fixture {
    vkn_context *ctx;
    vkn_arena *arena;
    vkn_cmd *cmd;
} sync_fixture;

static void open_sync(sync_fixture *f)
{
    vkn_context_opts o = {.validate = 2, .quiet = 1, .path = VKN_PATH_AUTO};
    vkn_status s = vkn_context_create(&o, &f->ctx);
    if (s != VKN_OK) fail_msg("context with synchronization validation: %s", vkn_status_detail());
    assert_int_equal(f->ctx->validation_level, 2);
    assert_int_equal(vkn_arena_create(f->ctx, 0, &f->arena), VKN_OK);
    assert_int_equal(vkn_cmd_create(f->ctx, &f->cmd), VKN_OK);
}

static void close_sync(sync_fixture *f)
{
    vkn_cmd_destroy(f->cmd);
    vkn_arena_destroy(f->arena);
    vkn_context_destroy(f->ctx);
}

/* a = 3; b = 2 a (read-after-write on a); a = 0 (write-after-read on a); twice, so the second
 * submit's first write follows the first submit's last accesses */
static void record_chain(sync_fixture *f, vkn_tensor *a, vkn_tensor *b)
{
    assert_int_equal(vkn_cmd_begin(f->cmd), VKN_OK);
    assert_int_equal(vkn_op_fill(f->cmd, a, 3.0f), VKN_OK);
    assert_int_equal(vkn_op_unary(f->cmd, VKN_UNARY_SCALE, 2.0f, a, b), VKN_OK);
    assert_int_equal(vkn_op_fill(f->cmd, a, 0.0f), VKN_OK);
    assert_int_equal(vkn_cmd_end(f->cmd), VKN_OK);
    assert_int_equal(vkn_cmd_run(f->cmd), VKN_OK);
    assert_int_equal(vkn_cmd_run(f->cmd), VKN_OK);
}

static void test_hazard_reported(void **state)
{
    (void)state;
    sync_fixture f;
    open_sync(&f);
    int64_t n = 4096;
    vkn_tensor a, b;
    assert_int_equal(vkn_tensor_alloc(f.arena, VKN_F32, 1, &n, &a), VKN_OK);
    assert_int_equal(vkn_tensor_alloc(f.arena, VKN_F32, 1, &n, &b), VKN_OK);
    fprintf(stderr, "test_sync: hazards are made on purpose; the layer's messages below are expected\n");
    vkn_cmd_test_skip_barriers(f.cmd, 1);
    record_chain(&f, &a, &b);
    assert_int_equal(vkn_cmd_get_stats(f.cmd).barriers, 0);
    /* at least the RAW on a (b = 2 a) and the WAR on a (a = 0 after the read) */
    if (f.ctx->sync_hazard_count < 2) fail_msg("%u SYNC- hazard(s) reported, expected >= 2", f.ctx->sync_hazard_count);
    assert_true(vkn_context_validation_count(f.ctx) >= f.ctx->sync_hazard_count);
    close_sync(&f);
}

static void test_tracker_orders_everything(void **state)
{
    (void)state;
    sync_fixture f;
    open_sync(&f);
    int64_t n = 1000;
    vkn_tensor a, b;
    assert_int_equal(vkn_tensor_alloc(f.arena, VKN_F32, 1, &n, &a), VKN_OK);
    assert_int_equal(vkn_tensor_alloc(f.arena, VKN_F32, 1, &n, &b), VKN_OK);
    record_chain(&f, &a, &b);
    assert_int_equal(vkn_cmd_get_stats(f.cmd).barriers, 2);
    float v[1000];
    assert_int_equal(vkn_tensor_download(&b, v), VKN_OK);
    assert_float_equal(v[999], 6.0f, 0.0f);
    assert_int_equal(vkn_context_validation_count(f.ctx), 0);
    close_sync(&f);
}

/* The tracker takes the writable bindings from the shader's SPIR-V, not from the launcher alone: a
 * fill recorded with a write mask of 0 (wrong: it writes binding 0), then a copy that reads what it
 * wrote, still gets its barrier, and the layer sees no hazard. */
static void test_wrong_mask_is_tracked(void **state)
{
    (void)state;
    sync_fixture f;
    open_sync(&f);
    int64_t n = 256;
    vkn_tensor a, b;
    assert_int_equal(vkn_tensor_alloc(f.arena, VKN_F32, 1, &n, &a), VKN_OK);
    assert_int_equal(vkn_tensor_alloc(f.arena, VKN_F32, 1, &n, &b), VKN_OK);
    struct { uint32_t n; float value; } pc = {(uint32_t)n, 5.0f};
    vkn_dispatch d = {.shader = "elementwise/fill", .label = "fill with a wrong mask", .bind = {&a}, .nbind = 1,
                      .write_mask = 0, .push = &pc, .push_bytes = sizeof pc, .groups = {4, 1, 1}};
    assert_int_equal(vkn_cmd_begin(f.cmd), VKN_OK);
    assert_int_equal(vkn_cmd_dispatch(f.cmd, &d), VKN_OK);
    assert_int_equal(vkn_op_copy(f.cmd, &a, &b), VKN_OK);
    assert_int_equal(vkn_cmd_end(f.cmd), VKN_OK);
    assert_int_equal(vkn_cmd_run(f.cmd), VKN_OK);
    assert_int_equal(vkn_cmd_get_stats(f.cmd).barriers, 1);
    float v[256];
    assert_int_equal(vkn_tensor_download(&b, v), VKN_OK);
    assert_float_equal(v[255], 5.0f, 0.0f);
    assert_int_equal(vkn_context_validation_count(f.ctx), 0);
    close_sync(&f);
}

/* The SPIR-V reading: writeonly and read-write storage buffers are writable, readonly ones and texel
 * views (bindings 8..) are not. */
static void test_writable_bindings(void **state)
{
    (void)state;
    static const struct { const char *shader; uint32_t mask; } cases[] = {
        {"elementwise/fill", 0x1},        /* writeonly Y (and Y4) at 0 */
        {"elementwise/copy", 0x1},        /* reads through texel views only */
        {"norm/mix_finalize", 0xf9},      /* 0 writeonly, 1 and 2 readonly, 3..7 read-write */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t m = 0;
        assert_int_equal(vkn_pipeline_writable(cases[i].shader, &m), VKN_OK);
        if (m != cases[i].mask) fail_msg("%s: writable bindings 0x%x, expected 0x%x", cases[i].shader, m, cases[i].mask);
    }
    uint32_t m;
    assert_int_equal(vkn_pipeline_writable("no/such", &m), VKN_ERR_ARG);
}

static void test_env_levels(void **state)
{
    (void)state;
    static const struct { const char *env; int level; } cases[] = {
        {"sync", 2}, {"sync,1", 2}, {"1,sync", 2}, {"1", 1}, {"yes", 1}, {"0", 0}, {"", 0},
    };
    const char *old = getenv("VKN_VALIDATE");
    char *keep = old ? strdup(old) : NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("VKN_VALIDATE", cases[i].env, 1);
        vkn_context_opts o = {.validate = -1, .quiet = 1, .path = VKN_PATH_AUTO};
        vkn_context *ctx;
        assert_int_equal(vkn_context_create(&o, &ctx), VKN_OK);
        if (ctx->validation_level != cases[i].level)
            fail_msg("VKN_VALIDATE='%s': level %d, expected %d", cases[i].env, ctx->validation_level, cases[i].level);
        assert_int_equal(vkn_context_validation_count(ctx), 0);
        vkn_context_destroy(ctx);
    }
    if (keep) setenv("VKN_VALIDATE", keep, 1);
    else unsetenv("VKN_VALIDATE");
    free(keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hazard_reported),
        cmocka_unit_test(test_tracker_orders_everything),
        cmocka_unit_test(test_wrong_mask_is_tracked),
        cmocka_unit_test(test_writable_bindings),
        cmocka_unit_test(test_env_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
