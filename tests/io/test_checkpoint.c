/* Checkpoints: a bit-exact round trip with step and metadata, and a load that reports every missing,
 * unexpected and mismatched tensor in one message without touching the caller's memory. */
#include "vkn/io.h"
#include "io_test_util.h"

#include <math.h>
#include <zlib.h>

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

/* A checkpoint-like file with chosen metadata (key, value, ..., NULL) and one tensor "x" = [1, 2, 3, 4]. */
static const char *craft(const char *name, const char *const *meta)
{
    static char path[200];
    static const char *dir;
    if (!dir) dir = tmp_dir();
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    static const float x[4] = { 1, 2, 3, 4 };
    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    for (const char *const *kv = meta; *kv; kv += 2) assert_int_equal(vkn_io_safetensors_add_meta(b, kv[0], kv[1]), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "x", VKN_IO_F32, 1, (int64_t[]){ 4 }, x), VKN_OK);
    assert_int_equal(vkn_io_safetensors_write(b, path), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
    return path;
}

/* Every metadata field is checked for type and range: the step of 2^63-1 that made --resume replay
 * batches for ever and the -5 that resumed into "diverged", a version from the future, checksums of
 * the wrong form or of no tensor. */
static void test_metadata_validated(void **st)
{
    (void)st;
    float x[4];
    vkn_io_entry e = { "x", VKN_IO_F32, 1, { 4 }, x };
    static const struct { const char *key, *value, *msg; } bad[] = {
        { "step", "9223372036854775807", "\"step\" is \"9223372036854775807\": expected a whole number 0 .. 1000000000000" },
        { "step", "1000000000001", "\"step\" is \"1000000000001\"" },
        { "step", "-5", "\"step\" is \"-5\"" },
        { "step", "+5", "\"step\" is \"+5\"" },
        { "step", " 5", "\"step\" is \" 5\"" },
        { "step", "05", "\"step\" is \"05\"" },
        { "step", "5x", "\"step\" is \"5x\"" },
        { "step", "", "\"step\" is \"\"" },
        { "format_version", "3", "\"format_version\" is \"3\": this build reads versions 1 to 2" },
        { "format_version", "0", "\"format_version\" is \"0\"" },
        { "format_version", "two", "\"format_version\" is \"two\"" },
        { "model", "", "\"model\" is empty" },
        { "crc32:x", "1234567", "\"crc32:x\" is \"1234567\", not a CRC-32 of 8 hex digits" },
        { "crc32:x", "1234567g", "not a CRC-32" },
        { "crc32:y", "12345678", "\"crc32:y\" is the checksum of a tensor the file does not hold" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *meta[16] = { "format", "vknorm-checkpoint", "model", "m", "step", "7", NULL };
        int k = 6;
        int replaced = 0;
        for (int j = 0; j < k; j += 2)
            if (!strcmp(meta[j], bad[i].key)) meta[j + 1] = bad[i].value, replaced = 1;
        if (!replaced) meta[k++] = bad[i].key, meta[k++] = bad[i].value;
        meta[k] = NULL;
        const char *path = craft("meta", meta);
        int64_t step = -1;
        vkn_status s = vkn_io_checkpoint_load(path, NULL, &e, 1, 0, &step);
        if (s != VKN_ERR_FORMAT) fail_msg("%s = \"%s\": status %d, detail %s", bad[i].key, bad[i].value, s, vkn_status_detail());
        detail_has(path, bad[i].msg, NULL);
        assert_int_equal(step, -1);
        assert_int_equal(vkn_io_checkpoint_info(path, NULL, &step), VKN_ERR_FORMAT);
    }
    /* a missing step or model */
    const char *nostep[] = { "format", "vknorm-checkpoint", "model", "m", NULL };
    assert_int_equal(vkn_io_checkpoint_load(craft("nostep", nostep), NULL, &e, 1, 0, NULL), VKN_ERR_FORMAT);
    detail_has("\"step\" is missing", NULL);
    const char *nomodel[] = { "format", "vknorm-checkpoint", "step", "1", NULL };
    assert_int_equal(vkn_io_checkpoint_load(craft("nomodel", nomodel), NULL, &e, 1, 0, NULL), VKN_ERR_FORMAT);
    detail_has("\"model\" is missing", NULL);
    /* version 2 without a checksum for a tensor */
    const char *nocrc[] = { "format", "vknorm-checkpoint", "format_version", "2", "model", "m", "step", "1", NULL };
    assert_int_equal(vkn_io_checkpoint_load(craft("nocrc", nocrc), NULL, &e, 1, 0, NULL), VKN_ERR_FORMAT);
    detail_has("tensor 'x' has no checksum (metadata \"crc32:x\")", NULL);
    /* the largest valid step loads; the saver refuses what the loader would */
    const char *big[] = { "format", "vknorm-checkpoint", "model", "m", "step", "1000000000000", NULL };
    int64_t step = 0;
    assert_int_equal(vkn_io_checkpoint_load(craft("big", big), "m", &e, 1, 0, &step), VKN_OK);
    assert_true(step == VKN_IO_MAX_STEP);
    char path[200];
    snprintf(path, sizeof path, "%s/s.safetensors", tmp_dir());
    assert_int_equal(vkn_io_checkpoint_save(path, "m", -5, &e, 1, NULL), VKN_ERR_ARG);
    assert_int_equal(vkn_io_checkpoint_save(path, "m", INT64_MAX, &e, 1, NULL), VKN_ERR_ARG);
    const char *reserved[] = { "crc32:x", "00000000", NULL };
    assert_int_equal(vkn_io_checkpoint_save(path, "m", 1, &e, 1, reserved), VKN_ERR_ARG);
    detail_has("\"crc32:x\" is reserved", NULL);
}

/* The saver writes format 2 with one CRC-32 per tensor; a flipped byte anywhere in a tensor's data is
 * a named error, and the caller's memory is untouched. */
static void test_checksum_catches_a_flip(void **st)
{
    (void)st;
    const char *path = save_one();
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_OK);
    assert_string_equal(vkn_io_safetensors_meta_get(f, "format_version"), "2");
    const char *crc = vkn_io_safetensors_meta_get(f, "crc32:layer1.weight");
    assert_non_null(crc);
    /* zlib's CRC-32 of the six floats, computed here independently of the saver */
    uLong want = crc32(0, (const Bytef *)w1, sizeof w1);
    char hex[16];
    snprintf(hex, sizeof hex, "%08lx", want);
    assert_string_equal(crc, hex);
    int version = 0;
    int64_t step = 0;
    assert_int_equal(vkn_io_checkpoint_info(path, &version, &step), VKN_OK);
    assert_int_equal(version, 2);
    assert_int_equal(step, 123);
    const char *names[] = { "layer1.weight", "layer1.bias", "bn.count", "scale" };
    size_t len;
    uint8_t *good = read_bytes(path, &len);
    for (int t = 0; t < 4; t++) {
        vkn_io_tensor_info info;
        assert_int_equal(vkn_io_safetensors_find(f, names[t], &info), VKN_OK);
        uint64_t data_start = len - 6 * 4 - 3 * 4 - 2 * 4 - 4;
        for (uint64_t byte = 0; byte < info.nbytes; byte += 3) {
            uint8_t *bad = malloc(len);
            memcpy(bad, good, len);
            bad[data_start + info.offset + byte] ^= 0x10;
            write_bytes(path, bad, len);
            free(bad);
            float w[6], b[3], sc = 7;
            int32_t c[2];
            for (int i = 0; i < 6; i++) w[i] = 99;
            vkn_io_entry e[4];
            entries(e, w, b, c, &sc);
            assert_int_equal(vkn_io_checkpoint_load(path, "cgan", e, 4, 0, NULL), VKN_ERR_FORMAT);
            char want_msg[120];
            snprintf(want_msg, sizeof want_msg, "tensor '%s' does not match its checksum", names[t]);
            detail_has(path, want_msg, "the file is damaged", NULL);
            for (int i = 0; i < 6; i++) assert_true(w[i] == 99);   /* nothing loaded */
            assert_true(sc == 7);
        }
    }
    vkn_io_safetensors_close(f);
    write_bytes(path, good, len);
    free(good);
    float w[6], b[3], sc;
    int32_t c[2];
    vkn_io_entry e[4];
    entries(e, w, b, c, &sc);
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan", e, 4, 0, NULL), VKN_OK);
}

/* A NaN or infinity saved in a checkpoint (a diverged run, a bad cache) is refused on load, naming the
 * tensor and the element, unless the caller allows it. */
static void test_nonfinite_refused(void **st)
{
    (void)st;
    char path[200];
    snprintf(path, sizeof path, "%s/nan.safetensors", tmp_dir());
    float v[5] = { 1, 2, 3, 4, 5 }, got[5];
    double d[2] = { 1, 2 }, gotd[2];
    for (int k = 0; k < 3; k++) {
        v[3] = k == 0 ? NAN : k == 1 ? INFINITY : 4;
        d[1] = k == 2 ? -INFINITY : 2;
        vkn_io_entry e[2] = { { "feat.mean", VKN_IO_F32, 1, { 5 }, v }, { "acc", VKN_IO_F64, 1, { 2 }, d } };
        assert_int_equal(vkn_io_checkpoint_save(path, "clf", 1, e, 2, NULL), VKN_OK);
        vkn_io_entry l[2] = { { "feat.mean", VKN_IO_F32, 1, { 5 }, got }, { "acc", VKN_IO_F64, 1, { 2 }, gotd } };
        assert_int_equal(vkn_io_checkpoint_load(path, "clf", l, 2, 0, NULL), VKN_ERR_FORMAT);
        detail_has(path, k == 2 ? "tensor 'acc' holds an infinity at element 1" : k == 0 ? "tensor 'feat.mean' holds NaN at element 3"
                                                                                      : "tensor 'feat.mean' holds an infinity at element 3", NULL);
        assert_int_equal(vkn_io_checkpoint_load(path, "clf", l, 2, VKN_IO_ALLOW_NONFINITE, NULL), VKN_OK);
        assert_memory_equal(got, v, sizeof v);
    }
}

/* Format 1 (before format_version: no checksums, norm slots stored flat) still loads, the flat slot
 * into its [K, C] entry; a flat tensor of another size, or a flat tensor in a format 2 file, does not. */
static void test_format1_loads(void **st)
{
    (void)st;
    char path[200];
    snprintf(path, sizeof path, "%s/v1.safetensors", tmp_dir());
    float gamma[6] = { 1, 2, 3, 4, 5, 6 }, w[4] = { -1, -2, -3, -4 };
    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "format", "vknorm-checkpoint"), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "model", "cgan-small"), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "step", "40"), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "g.bn1.gamma", VKN_IO_F32, 1, (int64_t[]){ 6 }, gamma), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "g.fc.weight", VKN_IO_F32, 2, (int64_t[]){ 2, 2 }, w), VKN_OK);
    assert_int_equal(vkn_io_safetensors_write(b, path), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
    float g2[6] = { 0 }, w2[4] = { 0 };
    vkn_io_entry e[2] = { { "g.bn1.gamma", VKN_IO_F32, 2, { 3, 2 }, g2 }, { "g.fc.weight", VKN_IO_F32, 2, { 2, 2 }, w2 } };
    int64_t step = 0;
    int version = 0;
    assert_int_equal(vkn_io_checkpoint_info(path, &version, NULL), VKN_OK);
    assert_int_equal(version, 1);
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan-small", e, 2, 0, &step), VKN_OK);
    assert_int_equal(step, 40);
    assert_memory_equal(g2, gamma, sizeof gamma);
    assert_memory_equal(w2, w, sizeof w);
    e[0].shape[0] = 2, e[0].shape[1] = 2;
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan-small", e, 2, 0, NULL), VKN_ERR_SHAPE);
    detail_has("tensor 'g.bn1.gamma': expected F32 [2, 2], found F32 [6]", NULL);
    /* a format 2 file holds the real shapes: a flat one there is a mismatch */
    vkn_io_entry flat = { "g.bn1.gamma", VKN_IO_F32, 1, { 6 }, gamma };
    assert_int_equal(vkn_io_checkpoint_save(path, "cgan-small", 1, &flat, 1, NULL), VKN_OK);
    e[0].shape[0] = 3;
    assert_int_equal(vkn_io_checkpoint_load(path, "cgan-small", e, 1, 0, NULL), VKN_ERR_SHAPE);
    detail_has("expected F32 [3, 2], found F32 [6]", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reports_every_problem),
        cmocka_unit_test(test_not_a_checkpoint),
        cmocka_unit_test(test_metadata_validated),
        cmocka_unit_test(test_checksum_catches_a_flip),
        cmocka_unit_test(test_nonfinite_refused),
        cmocka_unit_test(test_format1_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
