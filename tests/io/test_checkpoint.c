/* Checkpoints: a bit-exact round trip with step and metadata, and a load that reports every missing,
 * unexpected and mismatched tensor in one message without touching the caller's memory. */
#include "vkn/io.h"
#include "io_test_util.h"

static float w1[6] = { 1, 2, 3, 4, 5, -0.0f }, b1[3] = { 0.5f, -0.5f, 1e-40f };
static int32_t counts[2] = { 7, -7 };
static float scale = 3.25f;

static void entries(vkn_io_entry e[4], float *w, float *b, int32_t *c, float *s)
{
    e[0] = (vkn_io_entry){ "layer1.weight", VKN_IO_F32, 2, { 2, 3 }, w };
    e[1] = (vkn_io_entry){ "layer1.bias", VKN_IO_F32, 1, { 3 }, b };
    e[2] = (vkn_io_entry){ "bn.count", VKN_IO_I32, 1, { 2 }, c };
    e[3] = (vkn_io_entry){ "scale", VKN_IO_F32, 0, { 0 }, s };
}

static const char *save_one(void)
{
    static char path[160];
    snprintf(path, sizeof path, "%s/model.safetensors", tmp_dir());
    vkn_io_entry e[4];
    entries(e, w1, b1, counts, &scale);
    const char *extra[] = { "seed", "42", "norm", "cn", NULL };
    assert_int_equal(vkn_io_checkpoint_save(path, "cgan", 123, e, 4, extra), VKN_OK);
    return path;
}

static void test_round_trip(void **st)
{
    (void)st;
    const char *path = save_one();
    float w[6], b[3], s;
    int32_t c[2];
    vkn_io_entry e[4];
    entries(e, w, b, c, &s);
    int64_t step = -1;
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan", e, 4, 0, &step), VKN_OK);
    assert_int_equal(step, 123);
    assert_memory_equal(w, w1, sizeof w);
    assert_memory_equal(b, b1, sizeof b);
    assert_memory_equal(c, counts, sizeof c);
    assert_memory_equal(&s, &scale, sizeof s);
    /* it is a plain safetensors file with the tags */
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_OK);
    assert_string_equal(vkn_io_safetensors_meta_get(f, "format"), "vknorm-checkpoint");
    assert_string_equal(vkn_io_safetensors_meta_get(f, "model"), "cgan");
    assert_string_equal(vkn_io_safetensors_meta_get(f, "step"), "123");
    assert_string_equal(vkn_io_safetensors_meta_get(f, "norm"), "cn");
    vkn_io_safetensors_close(f);
    /* any model, part of the tensors */
    assert_int_equal(vkn_io_checkpoint_load(path, NULL, e, 2, VKN_IO_ALLOW_UNEXPECTED, NULL), VKN_OK);
}

static void test_reports_every_problem(void **st)
{
    (void)st;
    const char *path = save_one();
    float w[6], b[3], s, extra[4];
    int32_t c[2];
    for (int i = 0; i < 6; i++) w[i] = 99;
    vkn_io_entry e[4];
    entries(e, w, b, c, &s);
    e[0].shape[0] = 3, e[0].shape[1] = 2;   /* transposed */
    e[2].dtype = VKN_IO_F32;                 /* wrong dtype */
    e[3] = (vkn_io_entry){ "gamma", VKN_IO_F32, 1, { 4 }, extra };   /* missing; "scale" becomes unexpected */
    int64_t step = -1;
    assert_int_equal(vkn_io_checkpoint_load(path, "dann", e, 4, 0, &step), VKN_ERR_SHAPE);
    detail_has(path, "5 problems (1 missing, 1 unexpected, 2 mismatched tensors)", "model is \"cgan\", expected \"dann\"",
               "tensor 'layer1.weight': expected F32 [3, 2], found F32 [2, 3]",
               "tensor 'bn.count': expected F32 [2], found I32 [2]",
               "missing tensor 'gamma' (expected F32 [4])",
               "unexpected tensor 'scale' (F32 [])", NULL);
    assert_int_equal(step, -1);
    for (int i = 0; i < 6; i++) assert_true(w[i] == 99);   /* nothing loaded */
    /* unexpected allowed: the remaining problems still reported */
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan", e, 4, VKN_IO_ALLOW_UNEXPECTED, NULL), VKN_ERR_SHAPE);
    detail_has("3 problems", "'gamma'", NULL);
    /* many problems: the message stays within bounds and says how many */
    vkn_io_entry many[40];
    char names[40][48];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "a.rather.long.parameter.name.%d", i);
        many[i] = (vkn_io_entry){ names[i], VKN_IO_F32, 1, { 4 }, extra };
    }
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan", many, 40, 0, NULL), VKN_ERR_SHAPE);
    detail_has("44 problems (40 missing, 4 unexpected, 0 mismatched tensors)", "; ...", NULL);
    /* caller mistakes */
    many[1].name = many[0].name;
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan", many, 2, 0, NULL), VKN_ERR_ARG);
    detail_has("asked for twice", NULL);
}

static void test_not_a_checkpoint(void **st)
{
    (void)st;
    char path[160];
    snprintf(path, sizeof path, "%s/plain.safetensors", tmp_dir());
    vkn_io_st_builder *b;
    float x = 1;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "x", VKN_IO_F32, 0, NULL, &x), VKN_OK);
    assert_int_equal(vkn_io_safetensors_write(b, path), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
    vkn_io_entry e = { "x", VKN_IO_F32, 0, { 0 }, &x };
    assert_int_equal(vkn_io_checkpoint_load(path, NULL, &e, 1, 0, NULL), VKN_ERR_FORMAT);
    detail_has(path, "not a vknorm checkpoint", "\"format\" is missing", NULL);
    /* missing file */
    snprintf(path, sizeof path, "%s/none.safetensors", tmp_dir());
    assert_int_equal(vkn_io_checkpoint_load(path, NULL, &e, 1, 0, NULL), VKN_ERR_IO);
    detail_has(path, NULL);
    /* reserved metadata keys */
    const char *extra[] = { "step", "5", NULL };
    assert_int_equal(vkn_io_checkpoint_save(path, "m", 1, &e, 1, extra), VKN_ERR_ARG);
    detail_has("\"step\" is reserved", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reports_every_problem),
        cmocka_unit_test(test_not_a_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
