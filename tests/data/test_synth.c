/* Synthetic digits and the textured domain: deterministic for a seed, different across seeds,
 * any count (sample i depends only on (seed, i)), and the textured blend is out = |T - d|. */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <unistd.h>

static size_t bytes(const vkn_dataset *ds) { return (size_t)ds->n * ds->c * ds->h * ds->w; }

static void skip_without_fonts(void)
{
    if (access("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", R_OK) != 0 && !getenv("VKN_FONT_DIR")) {
        print_message("fonts-dejavu-core not installed: skipping\n");
        skip();
    }
}

static void test_syndigits_seeded(void **s)
{
    (void)s;
    skip_without_fonts();
    vkn_dataset a, b, c, d;
    assert_int_equal(vkn_data_syndigits_make(&a, 40, 7), VKN_OK);
    assert_int_equal(vkn_data_syndigits_make(&b, 40, 7), VKN_OK);
    assert_int_equal(vkn_data_syndigits_make(&c, 40, 8), VKN_OK);
    assert_int_equal(vkn_data_syndigits_make(&d, 20, 7), VKN_OK);
    assert_int_equal(a.c, 3);
    assert_int_equal(a.h, 28);
    assert_int_equal(a.w, 28);
    assert_memory_equal(a.images, b.images, bytes(&a));
    assert_memory_not_equal(a.images, c.images, bytes(&a));
    assert_memory_equal(a.images, d.images, bytes(&d));  /* a prefix of a larger set */
    for (int i = 0; i < 40; i++) assert_int_equal(a.labels[i], i % 10);
    /* every image differs from the next one, and none is flat */
    for (int i = 0; i + 1 < 40; i++)
        assert_memory_not_equal(a.images + (size_t)i * 2352, a.images + (size_t)(i + 1) * 2352, 2352);
    double mean[3], sd[3];
    vkn_data_summary(&a, NULL, mean, sd);
    for (int k = 0; k < 3; k++) assert_true(sd[k] > 0.1);
    vkn_data_free(&a);
    vkn_data_free(&b);
    vkn_data_free(&c);
    vkn_data_free(&d);
}

static void test_syndigits_no_fonts(void **s)
{
    (void)s;
    setenv("VKN_FONT_DIR", "/nonexistent/fonts", 1);
    vkn_dataset a;
    assert_int_equal(vkn_data_syndigits_make(&a, 10, 1), VKN_ERR_IO);
    detail_has("/nonexistent/fonts", "fonts-dejavu-core", NULL);
    assert_null(a.images);
    unsetenv("VKN_FONT_DIR");
}

/* A source with digits all 0 (background) and all 255 (stroke) at alternate samples. */
static void make_flat_source(vkn_dataset *src, int n)
{
    assert_int_equal(vkn_data_alloc(src, "flat", n, 1, 28, 28, 10), VKN_OK);
    for (int i = 0; i < n; i++) {
        memset(src->images + (size_t)i * 784, i % 2 ? 255 : 0, 784);
        src->labels[i] = (uint8_t)(i % 10);
    }
}

static void test_textured_seeded(void **s)
{
    (void)s;
    vkn_dataset src, a, b, c;
    make_flat_source(&src, 30);
    assert_int_equal(vkn_data_textured_make(&a, &src, 3), VKN_OK);
    assert_int_equal(vkn_data_textured_make(&b, &src, 3), VKN_OK);
    assert_int_equal(vkn_data_textured_make(&c, &src, 4), VKN_OK);
    assert_int_equal(a.c, 3);
    assert_int_equal(a.n, 30);
    assert_memory_equal(a.labels, src.labels, 30);
    assert_memory_equal(a.images, b.images, bytes(&a));
    assert_memory_not_equal(a.images, c.images, bytes(&a));
    vkn_data_free(&a);
    vkn_data_free(&b);
    vkn_data_free(&c);
    vkn_data_free(&src);
}

/* out = |T - d|: for one texture T, a background digit (d = 0) gives T and a full stroke (d = 1)
 * gives 1 - T, so the two sum to 255 (+-1 for rounding) at every pixel. Sample i's texture depends
 * on (seed, i) only, so compare sample i of an all-0 source with sample i of an all-255 source. */
static void test_textured_blend(void **s)
{
    (void)s;
    vkn_dataset z, o, tz, to;
    make_flat_source(&z, 8);
    make_flat_source(&o, 8);
    memset(z.images, 0, 8 * 784);
    memset(o.images, 255, 8 * 784);
    assert_int_equal(vkn_data_textured_make(&tz, &z, 11), VKN_OK);
    assert_int_equal(vkn_data_textured_make(&to, &o, 11), VKN_OK);
    int textured = 0;
    for (size_t p = 0; p < bytes(&tz); p++) {
        int sum = tz.images[p] + to.images[p];
        assert_true(sum >= 254 && sum <= 256);
    }
    /* the textures are real patterns: each has a wide range of values */
    for (int i = 0; i < 8; i++) {
        int lo = 255, hi = 0;
        for (int p = 0; p < 3 * 784; p++) {
            int v = tz.images[(size_t)i * 3 * 784 + p];
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        textured += hi - lo > 60;
    }
    assert_true(textured >= 6);
    vkn_data_free(&z);
    vkn_data_free(&o);
    vkn_data_free(&tz);
    vkn_data_free(&to);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syndigits_seeded),
        cmocka_unit_test(test_syndigits_no_fonts),
        cmocka_unit_test(test_textured_seeded),
        cmocka_unit_test(test_textured_blend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
