/* The PNG grid writer produces a valid PNG: decoded with stb_image, it has the expected size and the
 * samples' pixels in the expected cells. */
#include "vkn/data.h"
#include "../common/filetest.h"
#include <unistd.h>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image.h>

static void test_grid(void **s)
{
    (void)s;
    vkn_dataset ds;
    assert_int_equal(vkn_data_alloc(&ds, "grid", 5, 3, 4, 6, 10), VKN_OK);
    for (int i = 0; i < 5; i++)
        for (int ch = 0; ch < 3; ch++) memset(ds.images + ((size_t)i * 3 + ch) * 24, 40 * i + 10 * ch, 24);
    char path[128];
    snprintf(path, sizeof path, "%s/grid.png", tmp_dir());
    /* samples 1..4 in 3 columns at scale 2: 2 rows of cells 12 wide, 8 high, 2-pixel borders */
    assert_int_equal(vkn_data_png_grid(&ds, path, 1, 4, 3, 2), VKN_OK);
    size_t n;
    uint8_t *file = read_bytes(path, &n);
    assert_memory_equal(file, "\x89PNG\r\n\x1a\n", 8);
    int w, h, comp;
    uint8_t *px = stbi_load_from_memory(file, (int)n, &w, &h, &comp, 3);
    assert_non_null(px);
    assert_int_equal(w, 3 * (12 + 2) + 2);
    assert_int_equal(h, 2 * (8 + 2) + 2);
    /* cell (row 1, col 0) holds sample 4: its pixel (5, 3) */
    const uint8_t *p = px + ((2 + 10 + 3) * w + 2 + 5) * 3;
    assert_int_equal(p[0], 160);
    assert_int_equal(p[1], 170);
    assert_int_equal(p[2], 180);
    p = px + ((2 + 1) * w + 2 + 14 + 1) * 3;  /* sample 2, first row, second cell */
    assert_int_equal(p[0], 80);
    stbi_image_free(px);
    free(file);
    /* written atomically under a name of its own: a fixed grid.png.tmp in the way (a folder here)
     * changes nothing */
    char fixed[160];
    snprintf(fixed, sizeof fixed, "%s.tmp", path);
    assert_int_equal(mkdir(fixed, 0755), 0);
    assert_int_equal(vkn_data_png_grid(&ds, path, 1, 4, 3, 2), VKN_OK);
    size_t n2;
    uint8_t *again = read_bytes(path, &n2);
    assert_int_equal(n2, n);
    free(again);
    rmdir(fixed);
    /* bad requests are refused, unwritable paths reported */
    assert_int_equal(vkn_data_png_grid(&ds, path, 3, 5, 3, 2), VKN_ERR_ARG);
    assert_int_equal(vkn_data_png_grid(&ds, "/nonexistent/dir/g.png", 0, 2, 2, 1), VKN_ERR_IO);
    detail_has("/nonexistent/dir/g.png", NULL);
    vkn_data_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_grid) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
