/* safetensors: byte-exact agreement with the reference writer's layout, bit-exact round trips of every
 * awkward value, atomic writes that leave the old file alone on failure, and every malformed file
 * refused with a message naming the file and the problem. */
#include "vkn/io.h"
#include "io/io_internal.h"
#include "io_test_util.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

/* ---- pinned bytes ------------------------------------------------------------------------------ */

/* What the reference writer (the Rust `safetensors` crate, used by candle and the Python package)
 * produces for a 2x2 F32 zero tensor "t": 57 header bytes padded with 7 spaces to 64 ('@'). */
static const char ref_single[] =
    "@\0\0\0\0\0\0\0"
    "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}       "
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/* ... and for "t" 2x2 and "u" 1x2 (both F32, so sorted by name): 120 ('x') header bytes. */
static const char ref_multi[] =
    "x\0\0\0\0\0\0\0"
    "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"u\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[16,24]}}      "
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/* A U8 file as the reference writes it, with its data bytes 1, 3. */
static const char ref_u8[] =
    "8\0\0\0\0\0\0\0"
    "{\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}   "
    "\x01\x03";

static void test_reference_layout(void **st)
{
    (void)st;
    float zeros[6] = { 0 };
    vkn_io_st_builder *b;
    uint8_t *buf;
    size_t len;

    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "t", VKN_IO_F32, 2, (int64_t[]){ 2, 2 }, zeros), VKN_OK);
    assert_int_equal(vkn_io_safetensors_serialize(b, &buf, &len), VKN_OK);
    assert_int_equal(len, sizeof ref_single - 1);
    assert_memory_equal(buf, ref_single, len);
    free(buf);
    /* the file writer produces the same bytes */
    char path[128];
    snprintf(path, sizeof path, "%s/single.safetensors", tmp_dir());
    assert_int_equal(vkn_io_safetensors_write(b, path), VKN_OK);
    buf = read_bytes(path, &len);
    assert_int_equal(len, sizeof ref_single - 1);
    assert_memory_equal(buf, ref_single, len);
    free(buf);
    vkn_io_safetensors_builder_destroy(b);

    /* added in the other order: the layout sorts them */
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "u", VKN_IO_F32, 2, (int64_t[]){ 1, 2 }, zeros), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "t", VKN_IO_F32, 2, (int64_t[]){ 2, 2 }, zeros), VKN_OK);
    assert_int_equal(vkn_io_safetensors_serialize(b, &buf, &len), VKN_OK);
    assert_int_equal(len, sizeof ref_multi - 1);
    assert_memory_equal(buf, ref_multi, len);
    free(buf);
    vkn_io_safetensors_builder_destroy(b);
}

static void test_reference_read(void **st)
{
    (void)st;
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_parse(ref_u8, sizeof ref_u8 - 1, "ref_u8", &f), VKN_OK);
    assert_int_equal(vkn_io_safetensors_count(f), 1);
    uint8_t x[2] = { 0 };
    assert_int_equal(vkn_io_safetensors_read(f, "x", VKN_IO_U8, 1, (int64_t[]){ 2 }, x), VKN_OK);
    assert_int_equal(x[0], 1);
    assert_int_equal(x[1], 3);
    vkn_io_safetensors_close(f);
    /* an unpadded header, as older writers made (60 bytes, '<') */
    static const char unpadded[] = "<\0\0\0\0\0\0\0"
                                   "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
                                   "\x01\0\0\0\x02\0\0\0\x03\0\0\0\xff\xff\xff\xff";
    assert_int_equal(vkn_io_safetensors_parse(unpadded, sizeof unpadded - 1, "unpadded", &f), VKN_OK);
    int32_t v[4];
    assert_int_equal(vkn_io_safetensors_read(f, "test", VKN_IO_I32, 2, (int64_t[]){ 2, 2 }, v), VKN_OK);
    assert_int_equal(v[0], 1);
    assert_int_equal(v[2], 3);
    assert_int_equal(v[3], -1);
    vkn_io_safetensors_close(f);
}

/* Mixed dtypes, a scalar and escaped metadata, every byte written out by hand: the F32 tensor first,
 * then I32, then U8 (descending dtype), "__metadata__" first, 225 header bytes + 7 spaces = 232. */
static void test_handmade_bytes(void **st)
{
    (void)st;
    static const char hdr[] =
        "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"tab\\there \\\"q\\\" \\u0001!\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[12,15]}}"
        "       ";
    static const uint8_t head[8] = { 232, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t data[15] = { 0x00, 0x00, 0x80, 0x3f,   /* 1.0f */
                                      0x00, 0x00, 0x00, 0xc0,   /* -2.0f */
                                      0xfe, 0xff, 0xff, 0xff,   /* -2 */
                                      7, 8, 9 };
    assert_int_equal(sizeof hdr - 1, 232);
    float a[2] = { 1.0f, -2.0f };
    int32_t s = -2;
    uint8_t u[3] = { 7, 8, 9 };
    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "b", VKN_IO_U8, 1, (int64_t[]){ 3 }, u), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "s", VKN_IO_I32, 0, NULL, &s), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "a", VKN_IO_F32, 1, (int64_t[]){ 2 }, a), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "format", "pt"), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "note", "tab\there \"q\" \x01!"), VKN_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(vkn_io_safetensors_serialize(b, &buf, &len), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
    assert_int_equal(len, 8 + 232 + 15);
    assert_memory_equal(buf, head, 8);
    if (memcmp(buf + 8, hdr, 232) != 0) fail_msg("header differs:\n got %.232s\nwant %s", (char *)buf + 8, hdr);
    assert_memory_equal(buf + 240, data, 15);

    /* and it reads back, metadata unescaped */
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_parse(buf, len, "handmade", &f), VKN_OK);
    assert_int_equal(vkn_io_safetensors_meta_count(f), 2);
    assert_string_equal(vkn_io_safetensors_meta_get(f, "note"), "tab\there \"q\" \x01!");
    assert_null(vkn_io_safetensors_meta_get(f, "nope"));
    const char *k, *v;
    vkn_io_safetensors_meta_at(f, 0, &k, &v);
    assert_string_equal(k, "format");
    assert_string_equal(v, "pt");
    /* listing in data order */
    assert_int_equal(vkn_io_safetensors_count(f), 3);
    assert_string_equal(vkn_io_safetensors_at(f, 0)->name, "a");
    assert_string_equal(vkn_io_safetensors_at(f, 1)->name, "s");
    assert_string_equal(vkn_io_safetensors_at(f, 2)->name, "b");
    assert_null(vkn_io_safetensors_at(f, 3));
    vkn_io_tensor_info info;
    assert_int_equal(vkn_io_safetensors_find(f, "s", &info), VKN_OK);
    assert_int_equal(info.ndim, 0);
    assert_int_equal(info.numel, 1);
    assert_int_equal(info.offset, 8);
    assert_int_equal(info.nbytes, 4);
    assert_int_equal(info.dtype, VKN_IO_I32);
    int32_t s2 = 0;
    assert_int_equal(vkn_io_safetensors_read(f, "s", VKN_IO_I32, 0, NULL, &s2), VKN_OK);
    assert_int_equal(s2, -2);
    vkn_io_safetensors_close(f);
    free(buf);
}

/* ---- round trip --------------------------------------------------------------------------------- */

static void test_round_trip_bits(void **st)
{
    (void)st;
    static const uint32_t fbits[] = {
        0x7fc00000u, 0x7fc00001u, 0xffc12345u, 0x7f800001u,   /* quiet NaNs with payloads, a signalling NaN */
        0x80000000u, 0x00000000u, 0x00000001u, 0x807fffffu,   /* -0, +0, denormals */
        0x7f800000u, 0xff800000u, 0x3f800000u, 0x7f7fffffu,   /* +-inf, 1, FLT_MAX */
    };
    float f32[12];
    memcpy(f32, fbits, sizeof f32);
    int32_t i32[5] = { INT32_MIN, -1, 0, 1, INT32_MAX };
    uint8_t u8[256];
    for (int i = 0; i < 256; i++) u8[i] = (uint8_t)i;
    float scalar = -0.0f;
    uint64_t u64[2] = { UINT64_MAX, 0x0123456789abcdefull };
    char path[128];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmp_dir());

    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "f32", VKN_IO_F32, 2, (int64_t[]){ 3, 4 }, f32), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "i32", VKN_IO_I32, 1, (int64_t[]){ 5 }, i32), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "u8", VKN_IO_U8, 3, (int64_t[]){ 4, 8, 8 }, u8), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "scalar", VKN_IO_F32, 0, NULL, &scalar), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "empty", VKN_IO_F32, 1, (int64_t[]){ 0 }, NULL), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "empty2", VKN_IO_I32, 2, (int64_t[]){ 3, 0 }, NULL), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "wide", VKN_IO_U64, 1, (int64_t[]){ 2 }, u64), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "k", "v1"), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "k", "v2"), VKN_OK);   /* last value wins */
    assert_int_equal(vkn_io_safetensors_write(b, path), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);

    size_t len;
    uint8_t *raw = read_bytes(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | raw[i];
    assert_int_equal(n % 8, 0);   /* the data starts 8-byte aligned */
    free(raw);

    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_OK);
    assert_string_equal(vkn_io_safetensors_path(f), path);
    assert_int_equal(vkn_io_safetensors_count(f), 7);
    assert_string_equal(vkn_io_safetensors_meta_get(f, "k"), "v2");
    uint32_t fb[12];
    int32_t ib[5];
    uint8_t ub[256];
    uint32_t sb = 1;
    uint64_t wb[2];
    assert_int_equal(vkn_io_safetensors_read(f, "f32", VKN_IO_F32, 2, (int64_t[]){ 3, 4 }, fb), VKN_OK);
    assert_memory_equal(fb, fbits, sizeof fb);
    assert_int_equal(vkn_io_safetensors_read(f, "i32", VKN_IO_I32, 1, (int64_t[]){ 5 }, ib), VKN_OK);
    assert_memory_equal(ib, i32, sizeof ib);
    assert_int_equal(vkn_io_safetensors_read(f, "u8", VKN_IO_U8, -1, NULL, ub), VKN_OK);
    assert_memory_equal(ub, u8, sizeof ub);
    assert_int_equal(vkn_io_safetensors_read(f, "scalar", VKN_IO_F32, 0, NULL, &sb), VKN_OK);
    assert_int_equal(sb, 0x80000000u);
    assert_int_equal(vkn_io_safetensors_read(f, "wide", VKN_IO_U64, 1, (int64_t[]){ 2 }, wb), VKN_OK);
    assert_memory_equal(wb, u64, sizeof wb);
    vkn_io_tensor_info info;
    assert_int_equal(vkn_io_safetensors_find(f, "empty2", &info), VKN_OK);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.shape[1], 0);
    assert_int_equal(info.numel, 0);
    assert_int_equal(info.nbytes, 0);
    assert_int_equal(vkn_io_safetensors_read(f, "empty", VKN_IO_F32, 1, (int64_t[]){ 0 }, NULL), VKN_OK);

    /* mismatches name the file, the tensor and both shapes */
    assert_int_equal(vkn_io_safetensors_read(f, "f32", VKN_IO_F32, 2, (int64_t[]){ 4, 3 }, fb), VKN_ERR_SHAPE);
    detail_has(path, "'f32'", "expected F32 [4, 3]", "found F32 [3, 4]", NULL);
    assert_int_equal(vkn_io_safetensors_read(f, "i32", VKN_IO_F32, 1, (int64_t[]){ 5 }, ib), VKN_ERR_SHAPE);
    detail_has("'i32'", "expected F32 [5]", "found I32 [5]", NULL);
    assert_int_equal(vkn_io_safetensors_read(f, "nope", VKN_IO_F32, 1, (int64_t[]){ 5 }, ib), VKN_ERR_FORMAT);
    detail_has(path, "no tensor named 'nope'", NULL);
    assert_null(vkn_io_safetensors_lookup(f, "nope"));
    assert_non_null(vkn_io_safetensors_lookup(f, "wide"));
    vkn_io_safetensors_close(f);
}

static void test_builder_errors(void **st)
{
    (void)st;
    vkn_io_st_builder *b;
    float x = 1;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "x", VKN_IO_F32, 0, NULL, &x), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b, "x", VKN_IO_F32, 0, NULL, &x), VKN_ERR_ARG);
    detail_has("'x' added twice", NULL);
    assert_int_equal(vkn_io_safetensors_add(b, "__metadata__", VKN_IO_F32, 0, NULL, &x), VKN_ERR_ARG);
    assert_int_equal(vkn_io_safetensors_add(b, "", VKN_IO_F32, 0, NULL, &x), VKN_ERR_ARG);
    assert_int_equal(vkn_io_safetensors_add(b, "bad\xff", VKN_IO_F32, 0, NULL, &x), VKN_ERR_ARG);
    detail_has("UTF-8", NULL);
    assert_int_equal(vkn_io_safetensors_add(b, "y", VKN_IO_F32, 1, (int64_t[]){ -1 }, &x), VKN_ERR_ARG);
    detail_has("'y'", "bad shape [-1]", NULL);
    assert_int_equal(vkn_io_safetensors_add(b, "z", VKN_IO_F32, 1, (int64_t[]){ 2 }, NULL), VKN_ERR_ARG);
    assert_int_equal(vkn_io_safetensors_add(b, "w", (vkn_io_dtype)99, 1, (int64_t[]){ 2 }, &x), VKN_ERR_ARG);
    assert_int_equal(vkn_io_safetensors_add_meta(b, "k", NULL), VKN_ERR_ARG);
    vkn_io_safetensors_builder_destroy(b);
}

/* ---- atomic writes ------------------------------------------------------------------------------ */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_atomic_write(void **st)
{
    (void)st;
    const char *dir = tmp_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    float v1[4] = { 1, 2, 3, 4 }, v2[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
    vkn_io_st_builder *b1, *b2;
    assert_int_equal(vkn_io_safetensors_builder_create(&b1), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b1, "w", VKN_IO_F32, 1, (int64_t[]){ 4 }, v1), VKN_OK);
    assert_int_equal(vkn_io_safetensors_write(b1, path), VKN_OK);
    size_t n1;
    uint8_t *old = read_bytes(path, &n1);
    assert_int_equal(vkn_io_safetensors_builder_create(&b2), VKN_OK);
    assert_int_equal(vkn_io_safetensors_add(b2, "w", VKN_IO_F32, 1, (int64_t[]){ 8 }, v2), VKN_OK);

    static const struct { int point; const char *msg; } cases[] = {
        { VKN_IO_FAIL_CREATE, "cannot create a temporary file" },
        { VKN_IO_FAIL_WRITE, "write failed" },
        { VKN_IO_FAIL_FSYNC, "fsync failed" },
        { VKN_IO_FAIL_RENAME, "cannot rename" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkn_io_fail_point = cases[i].point;
        vkn_status s = vkn_io_safetensors_write(b2, path);
        vkn_io_fail_point = VKN_IO_FAIL_NONE;
        assert_int_equal(s, VKN_ERR_IO);
        detail_has(path, cases[i].msg, NULL);
        size_t n;
        uint8_t *now = read_bytes(path, &n);
        assert_int_equal(n, n1);
        assert_memory_equal(now, old, n1);
        free(now);
        assert_int_equal(count_entries(dir), 1);   /* no temporary file left behind */
    }
    /* a real failure: the target is a folder, so the rename fails after the data was written */
    char sub[160];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(vkn_io_safetensors_write(b2, sub), VKN_ERR_IO);
    detail_has(sub, "cannot rename", NULL);
    assert_int_equal(count_entries(dir), 2);
    /* a folder that does not exist */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/x.safetensors", dir);
    assert_int_equal(vkn_io_safetensors_write(b2, missing), VKN_ERR_IO);
    detail_has(missing, "No such file or directory", NULL);

    /* and the successful overwrite replaces it whole */
    assert_int_equal(vkn_io_safetensors_write(b2, path), VKN_OK);
    assert_int_equal(count_entries(dir), 2);
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_OK);
    float got[8];
    assert_int_equal(vkn_io_safetensors_read(f, "w", VKN_IO_F32, 1, (int64_t[]){ 8 }, got), VKN_OK);
    assert_memory_equal(got, v2, sizeof got);
    vkn_io_safetensors_close(f);
    free(old);
    vkn_io_safetensors_builder_destroy(b1);
    vkn_io_safetensors_builder_destroy(b2);
}

/* ---- malformed files ---------------------------------------------------------------------------- */

/* le64(len(header)) + header + data_len zero bytes; header_len_override >= 0 replaces the length. */
static uint8_t *make_file(const char *header, size_t data_len, int64_t header_len_override, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    uint8_t *p = calloc(1, *len);
    assert_non_null(p);
    uint64_t n = header_len_override >= 0 ? (uint64_t)header_len_override : h;
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(n >> (8 * i));
    memcpy(p + 8, header, h);
    return p;
}

static void expect_bad(const uint8_t *buf, size_t len, const char *s1, const char *s2)
{
    vkn_io_safetensors *f = (vkn_io_safetensors *)1;
    vkn_status s = vkn_io_safetensors_parse(buf, len, "bad.safetensors", &f);
    if (s != VKN_ERR_FORMAT) fail_msg("expected VKN_ERR_FORMAT for '%s', got %d: %s", s1, s, vkn_status_detail());
    assert_null(f);
    detail_has("bad.safetensors", s1, s2, NULL);
}

static void bad_header(const char *header, size_t data_len, const char *s1, const char *s2)
{
    size_t len;
    uint8_t *p = make_file(header, data_len, -1, &len);
    expect_bad(p, len, s1, s2);
    free(p);
}

#define T(name, dtype, shape, off) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" off "}"

static void test_malformed(void **st)
{
    (void)st;
    size_t len;
    uint8_t *p;
    /* too short, truncated header, absurd lengths */
    expect_bad((const uint8_t *)"\x10\0\0\0", 4, "4 bytes", "shorter than the 8-byte");
    p = make_file("{\"a\":1}", 0, 100, &len);
    expect_bad(p, len, "header length 100 runs past the end", NULL);
    free(p);
    p = make_file("{}", 0, 0, &len);
    p[7] = 0x80;   /* 2^63 */
    expect_bad(p, len, "header length 9223372036854775808", "over the 100000000-byte limit");
    free(p);
    p = make_file("{}", 0, 100000001, &len);
    expect_bad(p, len, "over the 100000000-byte limit", NULL);
    free(p);
    p = make_file("{}", 0, -1, &len);
    p[0] = p[1] = p[2] = p[3] = p[4] = p[5] = p[6] = p[7] = 0xff;   /* 2^64 - 1 */
    expect_bad(p, len, "over the 100000000-byte limit", NULL);
    free(p);

    /* not JSON, not an object, trailing text, bad text */
    bad_header("{\"a\": {\"dtype\": \"F32\", ", 0, "not well-formed JSON", NULL);
    bad_header("[1, 2]", 0, "does not start with '{'", NULL);
    bad_header("", 0, "does not start with '{'", NULL);
    bad_header("{} {}", 0, "text after the JSON header", NULL);
    bad_header("{\"a\xff\":1}", 0, "not valid UTF-8", NULL);
    {
        char h[] = "{\"ab\":1}";
        h[3] = 0;   /* a NUL inside the header */
        p = make_file("{\"ab\":1}", 0, -1, &len);
        memcpy(p + 8, h, sizeof h - 1);
        expect_bad(p, len, "not valid UTF-8", NULL);
        free(p);
    }

    /* a NUL byte escaped into a name or a metadata text: refused, not cut short to "a" */
    bad_header("{" T("a\\u0000b", "F32", "[2]", "[0,8]") "}", 8, "holds a NUL byte", "\\u0000 at byte 3");
    bad_header("{\"__metadata__\":{\"k\":\"v\\u0000w\"}}", 0, "holds a NUL byte", NULL);

    /* entries */
    bad_header("{" T("a", "F33", "[2]", "[0,8]") "}", 8, "tensor 'a'", "unknown dtype \"F33\"");
    bad_header("{\"a\":{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "dtype is not a string");
    bad_header("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "missing \"dtype\"");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "'a'", "missing \"shape\"");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'a'", "missing \"data_offsets\"");
    bad_header("{\"a\":[1]}", 8, "'a'", "not a JSON object");
    bad_header("{" T("a", "F32", "[-2]", "[0,8]") "}", 8, "'a'", "shape entry 0 is not a non-negative integer");
    bad_header("{" T("a", "F32", "[2.5]", "[0,8]") "}", 8, "'a'", "shape entry 0");
    bad_header("{" T("a", "F32", "2", "[0,8]") "}", 8, "'a'", "shape is not an array");
    bad_header("{" T("a", "F32", "[2]", "[0]") "}", 8, "'a'", "data_offsets is not an array");
    bad_header("{" T("a", "F32", "[2]", "[0,8,9]") "}", 8, "'a'", "data_offsets is not an array");
    bad_header("{" T("a", "F32", "[2]", "[0,-8]") "}", 8, "'a'", "not non-negative integers");
    bad_header("{" T("a", "F32", "[2]", "[8,0]") "}", 8, "'a'", "end before they begin");
    bad_header("{" T("a", "F32", "[3]", "[0,8]") "}", 8, "'a'", "F32 [3] needs 12 bytes but data_offsets [0, 8] hold 8");
    bad_header("{" T("a", "F32", "[4294967296,4294967296,4]", "[0,8]") "}", 8, "'a'", "overflows 64 bits");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'",
               "field \"dtype\" given twice");

    /* offsets against the data section and each other */
    bad_header("{" T("a", "F32", "[2]", "[0,8]") "}", 4, "'a'", "run past the 4-byte data section");
    bad_header("{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[4,12]") "}", 12, "'b'", "overlaps tensor 'a'");
    bad_header("{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[0,8]") "}", 8, "overlaps tensor", NULL);
    bad_header("{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[1]", "[12,16]") "}", 16, "gap of 4 unused bytes",
               "'b'");
    bad_header("{" T("a", "F32", "[2]", "[4,12]") "}", 12, "gap of 4", "'a'");
    bad_header("{" T("a", "F32", "[2]", "[0,8]") "}", 9, "cover 8 bytes but the data section holds 9", NULL);
    bad_header("{}", 3, "cover 0 bytes but the data section holds 3", NULL);

    /* duplicate names, metadata */
    bad_header("{" T("a", "F32", "[1]", "[0,4]") "," T("a", "F32", "[1]", "[4,8]") "}", 8, "\"a\" appears twice", NULL);
    bad_header("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__", "\"k\" is not a string");
    bad_header("{\"__metadata__\":[1]}", 0, "__metadata__ is not an object", NULL);
    bad_header("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "key \"k\" given twice", NULL);
    bad_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice", NULL);

    /* what is fine: empty files, null metadata, any order, whitespace and unknown fields */
    vkn_io_safetensors *f;
    const char *ok[] = {
        "{}",
        "{\"__metadata__\":null}        ",
        "{" T("b", "F32", "[1]", "[4,8]") ",\n " T("a", "U8", "[2,2]", "[0,4]") "}\n\t ",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":true}}",
        "{" T("a\\\\u0000\\\"", "F32", "[2]", "[0,8]") "}",   /* a backslash, then text "u0000", then a quote */
    };
    const size_t ok_data[] = { 0, 0, 8, 8, 8 };
    for (int i = 0; i < 5; i++) {
        p = make_file(ok[i], ok_data[i], -1, &len);
        if (vkn_io_safetensors_parse(p, len, "ok", &f) != VKN_OK) fail_msg("refused %s: %s", ok[i], vkn_status_detail());
        vkn_io_safetensors_close(f);
        free(p);
    }
}

static void test_open_errors(void **st)
{
    (void)st;
    const char *dir = tmp_dir();
    char path[160];
    vkn_io_safetensors *f = (vkn_io_safetensors *)1;
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_ERR_IO);
    assert_null(f);
    detail_has(path, "cannot open", "No such file", NULL);
    assert_int_equal(vkn_io_safetensors_open(dir, &f), VKN_ERR_IO);
    detail_has("not a regular file", NULL);
    /* a truncated file on disk: cut the last byte of a good one */
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    write_bytes(path, ref_single, sizeof ref_single - 2);
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_ERR_FORMAT);
    detail_has(path, "'t'", "run past the 15-byte data section (truncated file?)", NULL);
    write_bytes(path, ref_single, 30);
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_ERR_FORMAT);
    detail_has(path, "header length 64 runs past the end of the 30-byte file", NULL);
    write_bytes(path, ref_single, 5);
    assert_int_equal(vkn_io_safetensors_open(path, &f), VKN_ERR_FORMAT);
    detail_has(path, "5 bytes", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_layout),
        cmocka_unit_test(test_reference_read),
        cmocka_unit_test(test_handmade_bytes),
        cmocka_unit_test(test_round_trip_bits),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
