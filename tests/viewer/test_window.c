/* The demo in a real SDL window under a virtual X server (xvfb-run): its screenshot is the right
 * size and not blank. argv[1]: the vkn-viewer-demo executable. Skipped without xvfb-run. */
#include "viewer_test.h"

#include <sys/wait.h>
#include <unistd.h>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image.h>

static const char *demo;

static bool have_xvfb(void)
{
    return system("command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1") == 0;
}

static void test_window_screenshot(void **s)
{
    (void)s;
    if (!demo || !have_xvfb()) {
        print_message("xvfb-run (Debian packages xvfb, xauth) not found: window test skipped\n");
        skip();
    }
    char shot[256], log[256], cmd[1400];
    snprintf(shot, sizeof shot, "%s/window.png", vt_tmp_dir());
    snprintf(log, sizeof log, "%s/window.log", vt_tmp_dir());
    /* -a: a free display number; the demo must open a window there (stderr must not say headless).
     * Under ASan, leak checks are off for the demo only: libX11/libdbus keep allocations SDL cannot free. */
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "
             "xvfb-run -a -s '-screen 0 1400x900x24' '%s' --screenshot '%s' --frames 45 >'%s' 2>&1", demo, shot, log);
    int rc = system(cmd);
    size_t n = 0;
    uint8_t *text = vt_read(log, &n);
    if (text) {
        text[n] = 0;
        if (n) print_message("%s", (char *)text);
    }
    bool said_headless = text && strstr((char *)text, "headless");
    free(text);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    assert_false(said_headless);
    vt_check_png(shot, 1280, 800);
    int w = 0, h = 0, comp = 0;
    uint8_t *px = stbi_load(shot, &w, &h, &comp, 3);
    assert_non_null(px);
    /* count distinct colours (exact RGB, via a bitmap over 2^24) */
    uint8_t *seen = calloc(1u << 21, 1);
    assert_non_null(seen);
    int distinct = 0;
    for (int i = 0; i < w * h; i++) {
        uint32_t k = (uint32_t)px[i * 3] << 16 | (uint32_t)px[i * 3 + 1] << 8 | px[i * 3 + 2];
        if (!(seen[k >> 3] & (1u << (k & 7)))) distinct++, seen[k >> 3] |= (uint8_t)(1u << (k & 7));
    }
    print_message("window screenshot: %dx%d, %d distinct colours\n", w, h, distinct);
    assert_true(distinct > 500);
    free(seen);
    stbi_image_free(px);
}

int main(int argc, char **argv)
{
    demo = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_window_screenshot)};
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed ? failed : (!demo || !have_xvfb()) ? 77 : 0; /* 77: meson reports SKIP */
}
