/* TrueType fonts through src/data/ttf.c: every installed font the apps use validates; a font cut
 * short at any length (the `head -c 5000 DejaVuSans.ttf` that used to segfault vkn-data syndigits and
 * vkn-da --task syn-mnist) is refused with a message naming the file and the table; thousands of
 * damaged copies (bytes flipped at random, as a disk or a download does) are refused or draw without
 * fault (this test is what ASan/UBSan runs; tests/fuzz/fuzz_font.c searches further); syndigits with
 * only a damaged font names it. Skipped without fonts-dejavu-core. */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <unistd.h>

#define DEJAVU "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

static int have_dejavu(void) { return access(DEJAVU, R_OK) == 0; }

/* Everything the viewer and syndigits do with a font. */
static void exercise(const vkn_ttf *f)
{
    int n = vkn_ttf_glyph_count(f), a, d, g0 = -1;
    vkn_ttf_vmetrics(f, &a, &d, &g0);
    static const uint32_t cps[] = { '0', '7', 'H', 'g', 0xfffd, 0xffff, 0x10ffff };
    float em = vkn_ttf_scale_for_em(f, 14.f);
    int prev = -1;
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        int g = vkn_ttf_glyph(f, cps[i]), adv, lsb, w, h, xo, yo;
        assert_true(g >= 0 && g < n);
        vkn_ttf_hmetrics(f, g, &adv, &lsb);
        if (prev >= 0) (void)vkn_ttf_kern(f, prev, g);
        prev = g;
        uint8_t *bm = vkn_ttf_bitmap(f, em, g, &w, &h, &xo, &yo);
        if (bm) assert_true(w > 0 && h > 0 && w <= 4096 && h <= 4096);
        free(bm);
    }
}

static void test_installed_fonts_validate(void **s)
{
    (void)s;
    if (!have_dejavu()) skip();
    static const char *dirs[] = { "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation2",
                                  "/usr/share/fonts/truetype/freefont" };
    int ok = 0;
    for (int k = 0; k < 3; k++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "ls %s/*.ttf 2>/dev/null", dirs[k]);
        FILE *p = popen(cmd, "r");
        char path[512];
        while (p && fgets(path, sizeof path, p)) {
            path[strcspn(path, "\n")] = 0;
            vkn_ttf *f;
            if (vkn_ttf_open(path, &f) != VKN_OK) fail_msg("%s", vkn_status_detail());
            exercise(f);
            vkn_ttf_close(f);
            ok++;
        }
        if (p) pclose(p);
    }
    print_message("%d installed fonts validate\n", ok);
    assert_true(ok >= 1);
}

static void test_truncated_refused(void **s)
{
    (void)s;
    if (!have_dejavu()) skip();
    size_t n;
    uint8_t *font = read_bytes(DEJAVU, &n);
    /* every length up to 6000, then a stride through the rest */
    for (size_t len = 0; len < n; len += len < 6000 ? 1 : 997) {
        vkn_ttf *f;
        vkn_status st = vkn_ttf_open_mem(font, len, "DejaVuSans.ttf", &f);
        if (st == VKN_OK) fail_msg("the first %zu of %zu bytes were accepted", len, n);
        assert_int_equal(st, VKN_ERR_FORMAT);
        detail_has("font: DejaVuSans.ttf: ", NULL);
    }
    vkn_ttf *f;
    assert_int_equal(vkn_ttf_open_mem(font, 5000, "DejaVuSans.ttf", &f), VKN_ERR_FORMAT);
    detail_has("runs past the end of the 5000-byte file", NULL);
    free(font);
}

/* The UBSan report on a byte-flipped font: stb_truetype reads 32-bit fields as p[0] << 24 in an int
 * (ttULONG), undefined for a top byte >= 0x80; the first it reads are the table offsets in the
 * directory (stbtt__find_table, from stbtt_InitFont). Such a font is refused before stb reads it. */
static void test_offset_over_2g_refused(void **s)
{
    (void)s;
    if (!have_dejavu()) skip();
    size_t n;
    uint8_t *font = read_bytes(DEJAVU, &n);
    int tables = font[4] << 8 | font[5];
    for (int i = 0; i < tables; i++) {
        uint8_t *e = font + 12 + 16 * i;
        char tag[5] = { (char)e[0], (char)e[1], (char)e[2], (char)e[3], 0 };
        e[8] ^= 0x80;
        vkn_ttf *f;
        assert_int_equal(vkn_ttf_open_mem(font, n, "flipped.ttf", &f), VKN_ERR_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "table '%s' at bytes [", tag);
        detail_has("font: flipped.ttf: ", want, "runs past the end", NULL);
        e[8] ^= 0x80;
    }
    free(font);
}

/* splitmix64 */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void test_damaged_fonts(void **s)
{
    (void)s;
    if (!have_dejavu()) skip();
    size_t n;
    uint8_t *font = read_bytes(DEJAVU, &n);
    uint8_t *bad = malloc(n);
    uint64_t seed = 14;
    int accepted = 0, refused = 0;
    for (int t = 0; t < 400; t++) {
        memcpy(bad, font, n);
        /* a few bytes flipped, most in the first 64 KiB where the tables stb_truetype reads begin */
        int flips = 1 + (int)(rnd(&seed) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(rnd(&seed) % (t % 2 ? n : 65536));
            bad[at] ^= (uint8_t)(1u << (rnd(&seed) % 8)) | (t % 3 == 0 ? 0x80 : 0);
        }
        vkn_ttf *f;
        vkn_status st = vkn_ttf_open_mem(bad, n, "flipped", &f);
        if (st == VKN_OK) {
            exercise(f);
            vkn_ttf_close(f);
            accepted++;
        } else {
            assert_int_equal(st, VKN_ERR_FORMAT);
            detail_has("font: flipped: ", NULL);
            refused++;
        }
    }
    print_message("damaged copies: %d refused, %d still valid and drawn\n", refused, accepted);
    free(bad);
    free(font);
}

static void test_syndigits_names_a_bad_font(void **s)
{
    (void)s;
    if (!have_dejavu()) skip();
    const char *dir = tmp_dir();
    size_t n;
    uint8_t *font = read_bytes(DEJAVU, &n);
    char path[300];
    snprintf(path, sizeof path, "%s/DejaVuSans.ttf", dir);
    write_bytes(path, font, 5000);
    setenv("VKN_FONT_DIR", dir, 1);
    vkn_dataset ds;
    assert_int_equal(vkn_data_syndigits_make(&ds, 10, 1), VKN_ERR_IO);
    detail_has("no usable TrueType font", path, "runs past the end of the 5000-byte file", NULL);
    /* with a good font beside it, the damaged one is skipped and the digits drawn */
    snprintf(path, sizeof path, "%s/Good.ttf", dir);
    write_bytes(path, font, n);
    assert_int_equal(vkn_data_syndigits_make(&ds, 10, 1), VKN_OK);
    int64_t counts[10];
    vkn_data_summary(&ds, counts, NULL, NULL);
    for (int k = 0; k < 10; k++) assert_int_equal(counts[k], 1);
    vkn_data_free(&ds);
    unsetenv("VKN_FONT_DIR");
    free(font);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_installed_fonts_validate),
        cmocka_unit_test(test_truncated_refused),
        cmocka_unit_test(test_offset_over_2g_refused),
        cmocka_unit_test(test_damaged_fonts),
        cmocka_unit_test(test_syndigits_names_a_bad_font),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
