/* IDX reader: round trips (plain and gzip, 1 and 3 channels) and every malformed case refused with a
 * message that names the file and the problem, and leaves nothing half-loaded. */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <unistd.h>
#include <zlib.h>

/* A tiny dataset: 5 images of 1x4x3 (or 3x4x3) with distinct pixels. */
static void make_small(vkn_dataset *ds, int c)
{
    assert_int_equal(vkn_data_alloc(ds, "small", 5, c, 4, 3, 10), VKN_OK);
    for (int i = 0; i < 5 * c * 12; i++) ds->images[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < 5; i++) ds->labels[i] = (uint8_t)(9 - i);
}

static void round_trip(int c, int gz)
{
    const char *dir = tmp_dir();
    char ip[128], lp[128];
    snprintf(ip, sizeof ip, "%s/img%s", dir, gz ? ".gz" : "");
    snprintf(lp, sizeof lp, "%s/lab%s", dir, gz ? ".gz" : "");
    vkn_dataset a, b;
    make_small(&a, c);
    assert_int_equal(vkn_data_idx_write(&a, ip, lp, gz), VKN_OK);
    size_t n;
    uint8_t *raw = read_bytes(ip, &n);
    if (gz) assert_true(raw[0] == 0x1f && raw[1] == 0x8b);
    else assert_int_equal(n, 4 + 4 * (c == 1 ? 3 : 4) + 5 * c * 12);
    free(raw);
    assert_int_equal(vkn_data_idx_load(&b, ip, lp, 10), VKN_OK);
    assert_int_equal(b.n, 5);
    assert_int_equal(b.c, c);
    assert_int_equal(b.h, 4);
    assert_int_equal(b.w, 3);
    assert_memory_equal(a.images, b.images, 5 * c * 12);
    assert_memory_equal(a.labels, b.labels, 5);
    vkn_data_free(&a);
    vkn_data_free(&b);
    assert_null(b.images);
}

static void test_round_trip_plain(void **s) { (void)s; round_trip(1, 0); }
static void test_round_trip_gz(void **s) { (void)s; round_trip(1, 1); }
static void test_round_trip_rgb_gz(void **s) { (void)s; round_trip(3, 1); }

/* header bytes of an image file: magic 0x00000803 and three sizes */
static size_t image_header(uint8_t *p, uint32_t n, uint32_t h, uint32_t w)
{
    uint32_t v[4] = { 0x803, n, h, w };
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++) p[4 * i + b] = (uint8_t)(v[i] >> (24 - 8 * b));
    return 16;
}

static void expect_image_error(const uint8_t *buf, size_t len, const char *what)
{
    uint8_t *img = (uint8_t *)1;
    int32_t n = -1, c = -1, h = -1, w = -1;
    assert_int_equal(vkn_data_idx_parse_images(buf, len, "bad.idx", &img, &n, &c, &h, &w), VKN_ERR_FORMAT);
    assert_null(img);
    assert_int_equal(n, 0);
    detail_has("bad.idx", what, NULL);
}

static void test_wrong_magic(void **s)
{
    (void)s;
    uint8_t b[64] = { 'P', 'K', 3, 4 };
    expect_image_error(b, sizeof b, "magic");
    uint8_t t[64];
    image_header(t, 1, 2, 2);
    t[2] = 0x0D;  /* float data: not supported */
    expect_image_error(t, 16 + 16, "0x08");
    /* a label file passed as images */
    uint8_t l[12] = { 0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4 };
    expect_image_error(l, sizeof l, "dimensions");
}

static void test_truncated(void **s)
{
    (void)s;
    uint8_t b[16 + 40];
    image_header(b, 3, 4, 4);  /* claims 48 bytes, 40 present */
    expect_image_error(b, sizeof b, "truncated");
    expect_image_error(b, 10, "truncated");  /* inside the header */
    expect_image_error(b, 2, "truncated");
    expect_image_error(b, 0, "truncated");
}

static void test_trailing_bytes(void **s)
{
    (void)s;
    uint8_t b[16 + 20] = {0};
    image_header(b, 1, 4, 4);
    expect_image_error(b, sizeof b, "trailing");
}

static void test_dimension_overflow(void **s)
{
    (void)s;
    uint8_t b[16 + 784] = {0};
    image_header(b, 0x80000000u, 28, 28);  /* 2^31 images */
    expect_image_error(b, sizeof b, "2147483648 images");
    image_header(b, 0x7fffffffu, 28, 28);  /* fits int32, not the size limit */
    expect_image_error(b, sizeof b, "limit");
    image_header(b, 0x10000000u, 0xffffffffu, 0xffffffffu);
    expect_image_error(b, sizeof b, "4096");
    image_header(b, 0, 28, 28);
    expect_image_error(b, sizeof b, "0 images");
    image_header(b, 2000, 28, 28);  /* plausible but 1.5 MB short */
    expect_image_error(b, sizeof b, "truncated");
}

/* gzip a buffer in memory */
static uint8_t *gzip(const uint8_t *p, size_t n, size_t *out_n)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n) + 32;
    uint8_t *o = malloc(cap);
    z.next_in = (Bytef *)p, z.avail_in = (uInt)n, z.next_out = o, z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return o;
}

static void test_gzip_corrupt(void **s)
{
    (void)s;
    uint8_t b[16 + 3 * 784];
    image_header(b, 3, 28, 28);
    for (size_t i = 16; i < sizeof b; i++) b[i] = (uint8_t)((i * 31) ^ (i >> 3));
    size_t n;
    uint8_t *g = gzip(b, sizeof b, &n);
    /* the intact stream reads back */
    uint8_t *img;
    int32_t N, C, H, W;
    assert_int_equal(vkn_data_idx_parse_images(g, n, "ok.gz", &img, &N, &C, &H, &W), VKN_OK);
    assert_int_equal(N, 3);
    assert_memory_equal(img, b + 16, 3 * 784);
    free(img);
    /* cut short */
    expect_image_error(g, n / 2, "gzip");
    expect_image_error(g, n - 4, "gzip");  /* only the length trailer missing */
    /* a flipped byte in the deflate data, and one in the CRC trailer */
    g[n / 2] ^= 0x55;
    expect_image_error(g, n, "gzip");
    g[n / 2] ^= 0x55;
    g[n - 6] ^= 0x01;
    expect_image_error(g, n, "gzip");
    g[n - 6] ^= 0x01;
    /* garbage after the stream */
    uint8_t *g2 = malloc(n + 5);
    memcpy(g2, g, n);
    memset(g2 + n, 'x', 5);
    expect_image_error(g2, n + 5, "trailing");
    free(g2);
    free(g);
}

static void test_labels(void **s)
{
    (void)s;
    uint8_t l[8 + 4] = { 0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4 };
    uint8_t *lab;
    int32_t n;
    assert_int_equal(vkn_data_idx_parse_labels(l, sizeof l, "l.idx", 10, &lab, &n), VKN_OK);
    assert_int_equal(n, 4);
    assert_int_equal(lab[3], 4);
    free(lab);
    l[11] = 10;  /* out of range for 10 classes */
    assert_int_equal(vkn_data_idx_parse_labels(l, sizeof l, "l.idx", 10, &lab, &n), VKN_ERR_FORMAT);
    assert_null(lab);
    detail_has("l.idx", "out of range", "sample 3", NULL);
    assert_int_equal(vkn_data_idx_parse_labels(l, sizeof l - 1, "l.idx", 10, &lab, &n), VKN_ERR_FORMAT);
    detail_has("truncated", NULL);
    /* an image file passed as labels */
    uint8_t b[16 + 4] = {0};
    image_header(b, 1, 2, 2);
    assert_int_equal(vkn_data_idx_parse_labels(b, sizeof b, "img.idx", 10, &lab, &n), VKN_ERR_FORMAT);
    detail_has("img.idx", "dimensions", NULL);
}

static void test_load_errors(void **s)
{
    (void)s;
    const char *dir = tmp_dir();
    char ip[128], lp[128], lp2[128];
    snprintf(ip, sizeof ip, "%s/img", dir);
    snprintf(lp, sizeof lp, "%s/lab", dir);
    snprintf(lp2, sizeof lp2, "%s/lab2", dir);
    vkn_dataset a, b;
    make_small(&a, 1);
    assert_int_equal(vkn_data_idx_write(&a, ip, lp, 0), VKN_OK);
    /* a label file with 4 labels instead of 5 */
    uint8_t l[8 + 4] = { 0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4 };
    write_bytes(lp2, l, sizeof l);
    memset(&b, 0x5a, sizeof b);
    assert_int_equal(vkn_data_idx_load(&b, ip, lp2, 10), VKN_ERR_FORMAT);
    detail_has("5 images", "4 labels", NULL);
    assert_null(b.images);
    assert_int_equal(b.n, 0);
    /* missing file */
    assert_int_equal(vkn_data_idx_load(&b, "/nonexistent/x-idx3-ubyte.gz", lp, 10), VKN_ERR_IO);
    detail_has("/nonexistent/x-idx3-ubyte.gz", "dataset-fashion-mnist", NULL);
    /* labels out of range for fewer classes */
    assert_int_equal(vkn_data_idx_load(&b, ip, lp, 5), VKN_ERR_FORMAT);
    detail_has(lp, "out of range", NULL);
    /* a folder instead of a file */
    assert_int_equal(vkn_data_idx_load(&b, dir, lp, 10), VKN_ERR_IO);
    vkn_data_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_plain),
        cmocka_unit_test(test_round_trip_gz),
        cmocka_unit_test(test_round_trip_rgb_gz),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_dimension_overflow),
        cmocka_unit_test(test_gzip_corrupt),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
