/* A headless view draws every widget into its canvas and writes it as a valid PNG; the demo program
 * runs headless and writes its frames (argv[1]: the vkn-viewer-demo executable). */
#include "viewer_test.h"

#include <unistd.h>

#include <math.h>
#include <sys/wait.h>

static const char *demo;

static int distinct_colours(const vkn_canvas *c, vkn_rect r)
{
    /* a 4096-bucket presence table of 4-bit-per-channel colours is enough to tell "drawn" from "blank" */
    static uint8_t seen[4096];
    memset(seen, 0, sizeof seen);
    int n = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) {
            const uint8_t *p = c->px + ((size_t)y * c->w + x) * 4;
            int k = (p[0] >> 4) << 8 | (p[1] >> 4) << 4 | (p[2] >> 4);
            n += !seen[k];
            seen[k] = 1;
        }
    return n;
}

static void test_widgets_png(void **s)
{
    (void)s;
    vkn_view *v;
    vkn_view_config cfg = {"test", 900, 600, true, 0, NULL, NULL, true};
    assert_int_equal(vkn_view_open(&v, &cfg), VKN_OK);
    assert_true(vkn_view_headless(v));
    assert_int_equal(vkn_view_bind(v, ' ', 0, 1, "pause"), VKN_OK);
    assert_int_equal(vkn_view_bind(v, 'Q', 0, 2, "quit"), VKN_OK);
    vkn_ui *ui = vkn_view_ui(v);
    vkn_canvas *c = vkn_view_canvas(v);
    assert_int_equal(c->w, 900);
    assert_true(vkn_view_poll(v));
    vkn_canvas_clear(c, VKN_COL_BG);
    vkn_rect all = {10, 10, 880, 580};
    vkn_rect left = vkn_rect_cut_left(&all, 430, 10);
    /* grid of 12 noise images, 3 channels, with borders and captions */
    static float imgs[12][3 * 16 * 16];
    for (int i = 0; i < 12; i++)
        for (int k = 0; k < 3 * 16 * 16; k++) imgs[i][k] = sinf((float)(i * 7 + k) * 0.37f);
    vkn_color borders[12];
    const char *caps[12];
    for (int i = 0; i < 12; i++) borders[i] = i % 3 ? VKN_COL_GOOD : VKN_COL_BAD, caps[i] = i % 3 ? "ok" : "3 \xe2\x86\x92 5";
    vkn_grid g = {&imgs[0][0], 12, 3, 16, 16, 3, 4, borders, caps, NULL, NULL, 5};
    vkn_rect gr = vkn_rect_cut_top(&left, 280, 10);
    vkn_rect gin = vkn_ui_panel(ui, gr, "Samples", "step 10");
    vkn_grid_layout L = vkn_ui_grid(ui, gin, &g);
    assert_true(L.scale >= 2);
    /* the first image's top-left pixel is the image's value, its border is red */
    vkn_color p0 = vkn_canvas_get(c, L.x0, L.y0);
    uint8_t want = (uint8_t)lrintf((imgs[0][0] + 1.f) * 127.5f);
    assert_true(abs((int)(p0 >> 24) - want) <= 1);
    assert_int_equal(vkn_canvas_get(c, L.x0 - 1, L.y0 + 3), VKN_COL_BAD);
    assert_int_equal(vkn_canvas_get(c, L.x0 + L.cell_w - 1, L.y0 + 3), VKN_COL_GOOD);
    /* key-value panel and table */
    vkn_kv kv = vkn_ui_kv_begin(ui, vkn_rect_cut_top(&left, 120, 10), "Run");
    vkn_ui_kv(&kv, 0, "step", "%d", 10);
    vkn_ui_kv_separator(&kv);
    vkn_ui_kv(&kv, VKN_COL_GOOD, "acc", "%.1f%%", 97.5);
    float vals[6] = {0.1f, 1.2f, NAN, -0.5f, 2.f, 3.f};
    const char *ch[3] = {"mean", "std", "w"}, *rh[2] = {"norm1", "norm2"};
    vkn_table t = {"Stats", 2, 3, ch, rh, vals, NULL, NULL};
    vkn_ui_table(ui, left, &t);
    /* charts, bars, scatter, history */
    vkn_chart chart;
    vkn_chart_init(&chart, "Loss", "step");
    int a = vkn_chart_add_series(&chart, "D", 0), b = vkn_chart_add_series(&chart, "G", 0);
    for (int i = 0; i < 3000; i++) {
        vkn_chart_push(&chart, a, (float)i, 1.f + expf(-i / 300.f) + 0.1f * sinf(i * 0.3f));
        vkn_chart_push(&chart, b, (float)i, 0.5f + 0.2f * cosf(i * 0.01f));
    }
    chart.smooth = 20;
    chart.log_y = true;
    vkn_ui_chart(ui, vkn_rect_cut_top(&all, 180, 10), &chart);
    vkn_chart_free(&chart);
    float hist[10] = {5, 10, 15, 8, 12, 10, 9, 11, 10, 10};
    vkn_bars bars = {0};
    bars.title = "Classes";
    bars.n = 10, bars.nseries = 1, bars.values[0] = hist, bars.ref_line = 10.f, bars.value_fmt = "%.0f";
    vkn_ui_bars(ui, vkn_rect_cut_top(&all, 150, 10), &bars);
    float xy[40];
    int cls[20], grp[20];
    for (int i = 0; i < 20; i++) xy[2 * i] = cosf(i * 0.3f), xy[2 * i + 1] = sinf(i * 0.7f), cls[i] = i % 10, grp[i] = i & 1;
    const char *gn[2] = {"source", "target"};
    vkn_scatter sc = {"PCA", 20, xy, cls, grp, 10, 2, NULL, gn, 0};
    vkn_rect sr = vkn_rect_cut_left(&all, 220, 10);
    vkn_ui_scatter(ui, sr, &sc);
    vkn_history h;
    vkn_history_init(&h, 4);
    vkn_history_push(&h, 0, &g);
    vkn_history_push(&h, 50, &g);
    vkn_ui_history_grid(ui, vkn_rect_cut_top(&all, all.h - 40, 4), &h, NULL, NULL);
    vkn_ui_scrubber(ui, all, &h);
    vkn_history_free(&h);
    vkn_view_draw_keybar(v, (vkn_rect){0, 580, 900, 20});
    assert_true(distinct_colours(c, (vkn_rect){0, 0, 900, 600}) > 200);
    vkn_view_present(v);
    assert_int_equal(vkn_view_frames(v), 1);

    char path[256];
    snprintf(path, sizeof path, "%s/widgets.png", vt_tmp_dir());
    assert_int_equal(vkn_view_screenshot(v, path), VKN_OK);
    vt_check_png(path, 900, 600);
    /* no fixed PATH.tmp shared by writers: one sitting there (here a folder, which a fixed name could
     * not be opened over) changes nothing, and each write leaves no temporary file */
    char fixed[300];
    snprintf(fixed, sizeof fixed, "%s.tmp", path);
    assert_int_equal(mkdir(fixed, 0755), 0);
    assert_int_equal(vkn_view_screenshot(v, path), VKN_OK);
    vt_check_png(path, 900, 600);
    rmdir(fixed);
    assert_int_equal(vkn_view_screenshot(v, "/nonexistent-dir/x.png"), VKN_ERR_IO);
    assert_non_null(strstr(vkn_status_detail(), "/nonexistent-dir/x.png"));
    vkn_view_request_quit(v);
    assert_false(vkn_view_poll(v));
    assert_true(vkn_view_quit_requested(v));
    vkn_view_close(v);
}

/* Without DISPLAY / WAYLAND_DISPLAY the view opens headless by itself. */
static void test_auto_headless(void **s)
{
    (void)s;
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    assert_false(vkn_display_available());
    vkn_view *v;
    vkn_view_config cfg = {0};
    cfg.quiet = true;
    assert_int_equal(vkn_view_open(&v, &cfg), VKN_OK);
    assert_true(vkn_view_headless(v));
    assert_int_equal(vkn_view_canvas(v)->w, 1280);
    assert_int_equal(vkn_view_canvas(v)->h, 800);
    vkn_view_close(v);
}

static void test_demo_headless(void **s)
{
    (void)s;
    if (!demo) skip();
    char out[256], cmd[1024];
    snprintf(out, sizeof out, "%s/frames", vt_tmp_dir());
    snprintf(cmd, sizeof cmd, "'%s' --headless --frames 3 --size 960x600 --out '%s' 2>/dev/null", demo, out);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/frame-%04d.png", out, i);
        vt_check_png(p, 960, 600);
    }
    snprintf(cmd, sizeof cmd, "'%s' --no-such-option 2>/dev/null", demo);
    rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

int main(int argc, char **argv)
{
    demo = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widgets_png),
        cmocka_unit_test(test_auto_headless),
        cmocka_unit_test(test_demo_headless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
