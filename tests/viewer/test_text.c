/* Text is drawn with the Debian DejaVu fonts through stb_truetype: glyphs are non-empty, widths are
 * sensible, alignment anchors work, and a missing font names the package to install. */
#include "viewer_test.h"

#include <math.h>

#define BG 0x000000ffu

static int lit(const vkn_canvas *c, vkn_rect r)
{
    int n = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) n += vkn_canvas_get(c, x, y) != BG;
    return n;
}

static void test_glyphs(void **s)
{
    (void)s;
    vkn_font *f;
    assert_int_equal(vkn_font_load_face(&f, VKN_FONT_SANS), VKN_OK);
    vkn_canvas c;
    assert_int_equal(vkn_canvas_init(&c, 200, 40), VKN_OK);
    vkn_canvas_clear(&c, BG);
    float w = vkn_canvas_text(&c, f, 20.f, 10.f, 5.f, VKN_ALIGN_LEFT, 0xffffffffu, "Hello 123");
    assert_true(w > 60.f && w < 140.f);
    int n = lit(&c, (vkn_rect){0, 0, 200, 40});
    assert_true(n > 150);                                   /* real glyph coverage */
    assert_int_equal(lit(&c, (vkn_rect){0, 0, 9, 40}), 0);  /* nothing left of x */
    assert_int_equal(lit(&c, (vkn_rect){(int)(10 + w + 2), 0, 200 - (int)(10 + w + 2), 40}), 0);
    /* anti-aliased edges: intermediate grey values */
    int grey = 0;
    for (int i = 0; i < 200 * 40; i++) grey += c.px[i * 4] > 0 && c.px[i * 4] < 255;
    assert_true(grey > 20);
    /* wide letters are wider, and widths match what was drawn */
    assert_true(vkn_font_width(f, 20.f, "WWW") > vkn_font_width(f, 20.f, "iii"));
    assert_true(fabsf(vkn_font_width(f, 20.f, "Hello 123") - w) < 0.5f);
    assert_true(vkn_font_line_height(f, 20.f) > 20.f);
    assert_true(vkn_font_ascent(f, 20.f) > 14.f);
    /* right alignment ends at x; middle alignment centres capitals on y */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_text(&c, f, 20.f, 150.f, 20.f, VKN_ALIGN_RIGHT | VKN_ALIGN_MIDDLE, 0xffffffffu, "HH");
    assert_int_equal(lit(&c, (vkn_rect){152, 0, 48, 40}), 0);
    assert_true(lit(&c, (vkn_rect){100, 0, 50, 40}) > 40);
    int top = 40, bottom = 0;
    for (int y = 0; y < 40; y++)
        if (lit(&c, (vkn_rect){0, y, 200, 1})) top = y < top ? y : top, bottom = y;
    assert_true(abs((top + bottom) / 2 - 20) <= 1);
    /* UTF-8 (a Greek lambda, an arrow) and invalid bytes draw without crashing */
    vkn_canvas_clear(&c, BG);
    vkn_canvas_text(&c, f, 16.f, 5.f, 5.f, 0, 0xffffffffu, "\xce\xbb \xe2\x86\x92 \xff ok");
    assert_true(lit(&c, (vkn_rect){0, 0, 200, 40}) > 30);
    /* many sizes and characters: the glyph cache flushes and keeps working */
    for (int k = 0; k < 80; k++) vkn_canvas_text(&c, f, 8.f + k * 0.5f, 0, 0, 0, 0xffffffffu, "abcdefghijklmnopqrstuvwxyz0123456789");
    vkn_canvas_free(&c);
    /* synthetic glyph images */
    uint8_t g[28 * 28];
    vkn_font_render_gray(f, 24.f, "7", g, 28, 28);
    int on = 0;
    for (int i = 0; i < 28 * 28; i++) on += g[i] > 128;
    assert_true(on > 25 && on < 400);
    vkn_font_free(f);
}

static void test_faces_and_missing(void **s)
{
    (void)s;
    vkn_font *b, *m;
    assert_int_equal(vkn_font_load_face(&b, VKN_FONT_BOLD), VKN_OK);
    assert_int_equal(vkn_font_load_face(&m, VKN_FONT_MONO), VKN_OK);
    assert_true(fabsf(vkn_font_width(m, 12.f, "iii") - vkn_font_width(m, 12.f, "WWW")) < 0.01f); /* monospace */
    vkn_font_free(b);
    vkn_font_free(m);
    setenv("VKN_FONT_DIR", "/nonexistent-fonts", 1);
    vkn_font *f = (vkn_font *)1;
    assert_int_equal(vkn_font_load_face(&f, VKN_FONT_SANS), VKN_ERR_IO);
    assert_null(f);
    assert_non_null(strstr(vkn_status_detail(), "fonts-dejavu-core"));
    assert_non_null(strstr(vkn_status_detail(), "/nonexistent-fonts/DejaVuSans.ttf"));
    vkn_canvas c;
    vkn_ui ui;
    assert_int_equal(vkn_canvas_init(&c, 10, 10), VKN_OK);
    assert_int_equal(vkn_ui_init(&ui, &c), VKN_ERR_IO);
    unsetenv("VKN_FONT_DIR");
    vkn_canvas_free(&c);
    /* not a font */
    char path[128];
    snprintf(path, sizeof path, "%s/bad.ttf", vt_tmp_dir());
    FILE *fp = fopen(path, "wb");
    fputs("this is not a font", fp);
    fclose(fp);
    assert_int_equal(vkn_font_load(&f, path), VKN_ERR_FORMAT);
}

/* A truncated font (head -c 5000 DejaVuSans.ttf, which used to segfault) is a named error, through
 * the face lookup the apps use as well; a damaged one in VKN_FONT_DIR does not crash the window. */
static void test_truncated_font(void **s)
{
    (void)s;
    FILE *in = fopen("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "rb");
    if (!in) skip();
    static unsigned char buf[5000];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    assert_int_equal(n, sizeof buf);
    const char *dir = vt_tmp_dir();
    char path[160];
    snprintf(path, sizeof path, "%s/DejaVuSans.ttf", dir);
    FILE *fp = fopen(path, "wb");
    fwrite(buf, 1, n, fp);
    fclose(fp);
    vkn_font *f = (vkn_font *)1;
    assert_int_equal(vkn_font_load(&f, path), VKN_ERR_FORMAT);
    assert_null(f);
    assert_non_null(strstr(vkn_status_detail(), path));
    assert_non_null(strstr(vkn_status_detail(), "runs past the end of the 5000-byte file"));
    setenv("VKN_FONT_DIR", dir, 1);
    assert_int_equal(vkn_font_load_face(&f, VKN_FONT_SANS), VKN_ERR_FORMAT);
    vkn_canvas c;
    vkn_ui ui;
    assert_int_equal(vkn_canvas_init(&c, 10, 10), VKN_OK);
    assert_int_equal(vkn_ui_init(&ui, &c), VKN_ERR_FORMAT);
    vkn_canvas_free(&c);
    unsetenv("VKN_FONT_DIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glyphs),
        cmocka_unit_test(test_faces_and_missing),
        cmocka_unit_test(test_truncated_font),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
