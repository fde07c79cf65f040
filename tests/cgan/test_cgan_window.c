/* vkn-cgan in a real SDL window under a virtual X server (xvfb-run): a short run with --screenshot;
 * the screenshot has the window's size, many colours, and the sample grid is drawn and not blank.
 * argv[1]: the executable. Skipped without xvfb-run (Debian xvfb, xauth) or Fashion-MNIST. */
#include "cgan_test.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image.h>

static const char *app;

static bool have_xvfb(void)
{
    return system("command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1") == 0;
}

static void test_window(void **s)
{
    (void)s;
    if (!have_xvfb() || !ct_have_fashion()) {
        print_message("xvfb-run (Debian xvfb, xauth) or Fashion-MNIST missing: window test skipped\n");
        skip();
    }
    char shot[256], log[256];
    snprintf(shot, sizeof shot, "%s/window.png", ct_tmp());
    snprintf(log, sizeof log, "%s/window.log", ct_tmp());
    int rc = ct_sh(log,
                   "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 VKN_DATA_DIR='%s/data' "
                   "xvfb-run -a -s '-screen 0 1500x1000x24' '%s' --batch 10 --clf-steps 5 --eval-samples 100 "
                   "--real-samples 200 --eval-every 2 --steps 4 --size 1440x900 --out '%s/run' --screenshot '%s'",
                   ct_tmp(), app, ct_tmp(), shot);
    char *text = ct_read(log, NULL);
    bool headless = text && strstr(text, "headless");
    if (rc != 0 || headless) {
        ct_print(log);
        fail_msg("exit %d%s", rc, headless ? ", ran headless" : "");
    }
    free(text);
    int w = 0, h = 0, comp = 0;
    uint8_t *px = stbi_load(shot, &w, &h, &comp, 3);
    assert_non_null(px);
    assert_int_equal(w, 1440);
    assert_int_equal(h, 900);
    uint8_t *seen = calloc(1u << 21, 1);
    int distinct = 0;
    for (int i = 0; i < w * h; i++) {
        uint32_t k = (uint32_t)px[i * 3] << 16 | (uint32_t)px[i * 3 + 1] << 8 | px[i * 3 + 2];
        if (!(seen[k >> 3] & (1u << (k & 7)))) distinct++, seen[k >> 3] |= (uint8_t)(1u << (k & 7));
    }
    /* the sample grid (left, below the top bar): grey images, so many distinct grey levels there */
    int grey[256] = {0}, levels = 0, ngrey = 0;
    for (int y = 120; y < 560; y++)
        for (int x = 80; x < 760; x++) {
            const uint8_t *p = px + ((size_t)y * w + x) * 3;
            if (p[0] == p[1] && p[1] == p[2]) grey[p[0]]++, ngrey++;
        }
    for (int i = 0; i < 256; i++) levels += grey[i] > 20;
    print_message("window screenshot: %dx%d, %d distinct colours; sample grid: %d grey pixels, %d grey levels\n", w, h,
                  distinct, ngrey, levels);
    assert_true(distinct > 500);
    /* 7 rows x 10 classes of 56 x 56 images: most of the region is image pixels, in many levels (an
     * untrained generator gives low-contrast noise, still far from one flat colour) */
    assert_true(ngrey > 100000);
    assert_true(levels > 24);
    free(seen);
    stbi_image_free(px);
}

int main(int argc, char **argv)
{
    app = argc > 1 ? argv[1] : "vkn-cgan";
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_window)};
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed ? failed : (!have_xvfb() || !ct_have_fashion()) ? 77 : 0;
}
