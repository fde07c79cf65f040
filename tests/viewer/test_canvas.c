/* Canvas primitives put their pixels where expected and nowhere else. */
#include "viewer_test.h"

#include <math.h>

#define BG 0x000000ffu
#define RED 0xff0000ffu

static vkn_canvas make(int w, int h)
{
    vkn_canvas c;
    assert_int_equal(vkn_canvas_init(&c, w, h), VKN_OK);
    vkn_canvas_clear(&c, BG);
    return c;
}

static int count_not(const vkn_canvas *c, vkn_color col)
{
    int n = 0;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) n += vkn_canvas_get(c, x, y) != col;
    return n;
}

static void test_fill_and_clip(void **s)
{
    (void)s;
    vkn_canvas c = make(20, 10);
    assert_int_equal(vkn_canvas_get(&c, 0, 0), BG);
    vkn_canvas_fill_rect(&c, (vkn_rect){2, 3, 4, 5}, RED);
    assert_int_equal(vkn_canvas_get(&c, 2, 3), RED);
    assert_int_equal(vkn_canvas_get(&c, 5, 7), RED);
    assert_int_equal(vkn_canvas_get(&c, 6, 7), BG);
    assert_int_equal(vkn_canvas_get(&c, 5, 8), BG);
    assert_int_equal(count_not(&c, BG), 20);
    /* bytes are R, G, B, A in memory (SDL_PIXELFORMAT_RGBA32) */
    const uint8_t *p = c.px + (3 * 20 + 2) * 4;
    assert_int_equal(p[0], 255);
    assert_int_equal(p[1], 0);
    assert_int_equal(p[3], 255);
    /* clipping, and rectangles partly off the canvas */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_set_clip(&c, (vkn_rect){10, 0, 5, 5});
    vkn_canvas_fill_rect(&c, (vkn_rect){-5, -5, 100, 100}, RED);
    assert_int_equal(count_not(&c, BG), 25);
    assert_int_equal(vkn_canvas_get(&c, 14, 4), RED);
    assert_int_equal(vkn_canvas_get(&c, 15, 4), BG);
    vkn_canvas_reset_clip(&c);
    /* outline */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_rect(&c, (vkn_rect){1, 1, 6, 6}, RED, 1);
    assert_int_equal(count_not(&c, BG), 20);
    assert_int_equal(vkn_canvas_get(&c, 3, 3), BG);
    /* half-transparent fill blends */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_fill_rect(&c, (vkn_rect){0, 0, 1, 1}, 0xff000080u);
    uint32_t r = vkn_canvas_get(&c, 0, 0) >> 24;
    assert_true(r >= 126 && r <= 130);
    /* out of range reads */
    assert_int_equal(vkn_canvas_get(&c, -1, 0), 0);
    assert_int_equal(vkn_canvas_get(&c, 20, 0), 0);
    assert_int_equal(vkn_canvas_resize(&c, 0, 5), VKN_ERR_ARG);
    vkn_canvas_free(&c);
}

static void test_lines(void **s)
{
    (void)s;
    vkn_canvas c = make(40, 40);
    /* a 1-pixel horizontal line through pixel centres of row 10 */
    vkn_canvas_line(&c, 5.5f, 10.5f, 30.5f, 10.5f, 1.f, RED);
    for (int x = 6; x <= 30; x++) assert_int_equal(vkn_canvas_get(&c, x, 10), RED);
    assert_int_equal(vkn_canvas_get(&c, 18, 8), BG);
    assert_int_equal(vkn_canvas_get(&c, 18, 12), BG);
    assert_int_equal(vkn_canvas_get(&c, 35, 10), BG);
    /* a diagonal: pixels on it lit, far ones not */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_line(&c, 0.5f, 0.5f, 39.5f, 39.5f, 2.f, RED);
    for (int i = 1; i < 39; i++) assert_true((vkn_canvas_get(&c, i, i) >> 24) > 200);
    assert_int_equal(vkn_canvas_get(&c, 30, 5), BG);
    assert_int_equal(vkn_canvas_get(&c, 5, 30), BG);
    /* anti-aliasing: some partially covered pixels next to the line */
    int partial = 0;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++) {
            uint32_t r = vkn_canvas_get(&c, x, y) >> 24;
            partial += r > 0 && r < 255;
        }
    assert_true(partial > 20);
    /* polyline: a V */
    vkn_canvas_clear(&c, BG);
    float pts[] = {2.5f, 2.5f, 20.5f, 35.5f, 37.5f, 2.5f};
    vkn_canvas_polyline(&c, pts, 3, 1.5f, RED);
    assert_true((vkn_canvas_get(&c, 20, 35) >> 24) > 200);
    assert_int_equal(vkn_canvas_get(&c, 20, 5), BG);
    /* vertical and non-finite */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_line(&c, 7.5f, 3.5f, 7.5f, 20.5f, 1.f, RED);
    assert_int_equal(vkn_canvas_get(&c, 7, 12), RED);
    assert_int_equal(vkn_canvas_get(&c, 9, 12), BG);
    vkn_canvas_line(&c, NAN, 0, 5, 5, 1.f, 0x00ff00ffu);
    assert_int_equal(count_not(&c, BG), count_not(&c, BG)); /* no crash; nothing green */
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++) assert_int_equal((vkn_canvas_get(&c, x, y) >> 16) & 255, 0);
    vkn_canvas_free(&c);
}

static void test_markers_round_rect(void **s)
{
    (void)s;
    vkn_canvas c = make(40, 40);
    vkn_marker kinds[] = {VKN_MARK_CIRCLE, VKN_MARK_SQUARE, VKN_MARK_TRIANGLE, VKN_MARK_DIAMOND, VKN_MARK_CROSS};
    for (int k = 0; k < 5; k++) {
        vkn_canvas_clear(&c, BG);
        vkn_canvas_marker(&c, kinds[k], 20.f, 20.f, 6.f, RED, 0);
        assert_int_equal(vkn_canvas_get(&c, 19, 19), RED); /* centre covered */
        assert_int_equal(vkn_canvas_get(&c, 2, 2), BG);
        int lit = count_not(&c, BG);
        assert_true(lit > 20 && lit < 250);
    }
    /* a ring leaves its centre empty */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_marker(&c, VKN_MARK_RING, 20.f, 20.f, 8.f, RED, 0);
    assert_int_equal(vkn_canvas_get(&c, 19, 19), BG);
    assert_true((vkn_canvas_get(&c, 19, 12) >> 24) > 100);
    /* outline colour at the rim, fill inside */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_marker(&c, VKN_MARK_SQUARE, 20.f, 20.f, 8.f, RED, 0x0000ffffu);
    assert_int_equal(vkn_canvas_get(&c, 19, 19), RED);
    assert_true((vkn_canvas_get(&c, 13, 19) >> 8 & 255) > 100);
    /* rounded rectangle: inside filled, the very corner not */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_round_rect(&c, (vkn_rect){5, 5, 20, 10}, 4, RED);
    assert_int_equal(vkn_canvas_get(&c, 15, 10), RED);
    assert_int_equal(vkn_canvas_get(&c, 5, 10), RED);
    assert_int_equal(vkn_canvas_get(&c, 5, 5), BG);
    assert_int_equal(vkn_canvas_get(&c, 25, 10), BG);
    vkn_canvas_free(&c);
}

static void test_blits(void **s)
{
    (void)s;
    vkn_canvas c = make(16, 16);
    /* a 2x2 grey image [-1, 0; 1, 0.5] scaled 3x */
    float img[4] = {-1.f, 0.f, 1.f, 0.5f};
    vkn_canvas_blit_float(&c, img, 1, 2, 2, (vkn_rect){1, 1, 6, 6});
    assert_int_equal(vkn_canvas_get(&c, 1, 1), 0x000000ffu);
    assert_int_equal(vkn_canvas_get(&c, 3, 3), 0x000000ffu);
    assert_int_equal(vkn_canvas_get(&c, 4, 1) >> 24, 128);
    assert_int_equal(vkn_canvas_get(&c, 1, 4), 0xffffffffu);
    assert_int_equal(vkn_canvas_get(&c, 6, 6) >> 24, 191);
    assert_int_equal(vkn_canvas_get(&c, 7, 7), BG);
    /* three channels: planes R, G, B; out-of-range values clamp */
    float rgb[3] = {1.f, -1.f, 7.f};
    vkn_canvas_blit_float(&c, rgb, 3, 1, 1, (vkn_rect){10, 10, 2, 2});
    assert_int_equal(vkn_canvas_get(&c, 11, 11), 0xff00ffffu);
    /* RGBA8 nearest */
    uint8_t px[8] = {10, 20, 30, 255, 200, 100, 50, 255};
    vkn_canvas_blit_rgba(&c, px, 2, 1, (vkn_rect){0, 14, 4, 2});
    assert_int_equal(vkn_canvas_get(&c, 1, 15), VKN_RGB(10, 20, 30));
    assert_int_equal(vkn_canvas_get(&c, 2, 14), VKN_RGB(200, 100, 50));
    vkn_canvas_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_and_clip),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_markers_round_rect),
        cmocka_unit_test(test_blits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
