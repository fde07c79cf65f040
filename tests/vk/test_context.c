/* Device choice and errors: a bad VKN_DEVICE and a machine with no driver give the right status and a
 * message naming the problem; the capability line names the device. */
#include "../common/testutil.h"
#include <string.h>

static void test_describe(void **state)
{
    (void)state;
    const char *d = vkn_context_describe(tu_ctx);
    const vkn_device_info *in = vkn_context_info(tu_ctx);
    assert_non_null(strstr(d, in->name));
    assert_non_null(strstr(d, "subgroup"));
    assert_true(in->subgroup_size >= 1);
    assert_true(in->max_storage_range >= (1u << 27) || in->max_storage_range >= (1u << 20));
}

static void test_bad_device_name(void **state)
{
    (void)state;
    vkn_context *c = NULL;
    vkn_context_opts o = {.device = "no-such-gpu-xyz", .validate = 0, .quiet = 1};
    vkn_status s = vkn_context_create(&o, &c);
    assert_int_equal(s, VKN_ERR_BAD_DEVICE);
    assert_null(c);
    assert_non_null(strstr(vkn_status_detail(), "no-such-gpu-xyz"));
    assert_non_null(strstr(vkn_status_detail(), "devices:"));
}

static void test_bad_device_index(void **state)
{
    (void)state;
    vkn_context *c = NULL;
    vkn_context_opts o = {.device = "17", .validate = 0, .quiet = 1};
    assert_int_equal(vkn_context_create(&o, &c), VKN_ERR_BAD_DEVICE);
    assert_null(c);
}

static void test_env_device_by_index(void **state)
{
    (void)state;
    setenv("VKN_DEVICE", "0", 1);
    vkn_context *c = NULL;
    vkn_context_opts o = {.device = NULL, .validate = 0, .quiet = 1};
    vkn_status s = vkn_context_create(&o, &c);
    unsetenv("VKN_DEVICE");
    assert_int_equal(s, VKN_OK);
    vkn_context_destroy(c);
}

static void test_no_driver(void **state)
{
    (void)state;
    /* point the loader at a driver manifest that does not exist: the machine then has no device */
    const char *vars[] = {"VK_DRIVER_FILES", "VK_ICD_FILENAMES"};
    char *old[2];
    for (int i = 0; i < 2; i++) {
        old[i] = getenv(vars[i]) ? strdup(getenv(vars[i])) : NULL;
        setenv(vars[i], "/nonexistent/vknorm_icd.json", 1);
    }
    vkn_context *c = NULL;
    vkn_context_opts o = {.device = NULL, .validate = 0, .quiet = 1};
    vkn_status s = vkn_context_create(&o, &c);
    for (int i = 0; i < 2; i++) {
        if (old[i]) setenv(vars[i], old[i], 1); else unsetenv(vars[i]);
        free(old[i]);
    }
    assert_int_equal(s, VKN_ERR_NO_DEVICE);
    assert_null(c);
    assert_true(strlen(vkn_status_detail()) > 10);
    assert_non_null(strstr(vkn_status_string(s), "mesa-vulkan-drivers"));
}

static void test_validation_counts(void **state)
{
    (void)state;
    /* a dispatch past maxComputeWorkGroupCount is invalid: the messenger must see and count it (in a
     * dimension whose limit is below 2^32 - 1: NVIDIA allows 2^31 - 1 groups in x, lavapipe does not) */
    vkn_context *c = NULL;
    vkn_context_opts o = {.device = NULL, .validate = 1, .quiet = 1};
    assert_int_equal(vkn_context_create(&o, &c), VKN_OK);
    vkn_arena *a;
    vkn_cmd *cmd;
    assert_int_equal(vkn_arena_create(c, 0, &a), VKN_OK);
    assert_int_equal(vkn_cmd_create(c, &cmd), VKN_OK);
    vkn_tensor t;
    assert_int_equal(vkn_tensor_alloc_nd(a, VKN_F32, &t, 1, (int64_t)4), VKN_OK);
    struct { uint32_t n; float v; } pc = {4, 1.0f};
    vkn_dispatch d = {.shader = "elementwise/fill", .bind = {&t}, .nbind = 1, .write_mask = 1, .push = &pc,
                      .push_bytes = sizeof pc, .groups = {1, 1, 1}};
    const uint32_t *most = vkn_context_info(c)->max_workgroup_count;
    int dim = most[0] < UINT32_MAX ? 0 : most[1] < UINT32_MAX ? 1 : 2;
    assert_true(most[dim] < UINT32_MAX);
    d.groups[dim] = most[dim] + 1;
    fprintf(stderr, "(the next validation error is expected)\n");
    assert_int_equal(vkn_cmd_begin(cmd), VKN_OK);
    assert_int_equal(vkn_cmd_dispatch(cmd, &d), VKN_OK);
    assert_int_equal(vkn_cmd_end(cmd), VKN_OK);   /* never submitted */
    assert_true(vkn_context_validation_count(c) >= 1);
    vkn_cmd_destroy(cmd);
    vkn_arena_destroy(a);
    vkn_context_destroy(c);
}

static void test_validated_beside_plain(void **state)
{
    /* a validated context outlives plain instances made after it (a plain context, the device list, a
     * failed create): each reloads volk's global entry points, where the debug-utils destroy is NULL
     * for an instance without the extension; destroying the validated one must not use that */
    (void)state;
    vkn_context *v = NULL, *p = NULL, *bad = NULL;
    vkn_context_opts ov = {.validate = 1, .quiet = 1}, op = {.validate = 0, .quiet = 1};
    vkn_context_opts ob = {.device = "no-such-gpu-xyz", .validate = 0, .quiet = 1};
    assert_int_equal(vkn_context_create(&ov, &v), VKN_OK);
    assert_int_equal(vkn_context_create(&op, &p), VKN_OK);
    vkn_context_destroy(p);
    char buf[1024];
    assert_true(vkn_context_list_devices(buf, sizeof buf) >= 1);
    assert_int_equal(vkn_context_create(&ob, &bad), VKN_ERR_BAD_DEVICE);
    assert_int_equal(vkn_context_validation_count(v), 0);
    vkn_context_destroy(v);
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s < VKN_ERR_COUNT_; s++) assert_true(strlen(vkn_status_string((vkn_status)s)) > 1);
    assert_int_equal(vkn_status_set(VKN_ERR_SHAPE, "x %d", 3), VKN_ERR_SHAPE);
    assert_string_equal(vkn_status_detail(), "x 3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),         cmocka_unit_test(test_bad_device_name),
        cmocka_unit_test(test_bad_device_index), cmocka_unit_test(test_env_device_by_index),
        cmocka_unit_test(test_no_driver),        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_validation_counts), cmocka_unit_test(test_validated_beside_plain),
    };
    return TU_RUN(tests);
}
