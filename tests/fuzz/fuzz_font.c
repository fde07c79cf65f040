/* libFuzzer target: TrueType fonts (src/data/ttf.c). A font is either refused with a message, or every
 * call the apps make on it (metrics, glyph lookup, boxes, kerning, bitmaps at the viewer's and the
 * synthetic digits' scales) runs without reading out of bounds, undefined behaviour (stb_truetype's
 * left shifts, float-to-int16 casts), unbounded recursion or assertion failures in stb_truetype. */
#include "vkn/data.h"

#include <stdlib.h>
#include <string.h>

static void draw(const vkn_ttf *f, float scale, int g)
{
    int w, h, xo, yo;
    uint8_t *bm = vkn_ttf_bitmap(f, scale, g, &w, &h, &xo, &yo);
    if (bm) {
        if (w <= 0 || h <= 0 || w > 4096 || h > 4096) abort();
        volatile uint8_t last = bm[(size_t)w * h - 1];   /* ASan: the bitmap really is w x h */
        (void)last;
    } else if (w || h) {
        abort();
    }
    free(bm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkn_ttf *f;
    if (vkn_ttf_open_mem(data, size, "fuzz", &f) != VKN_OK) {
        if (!*vkn_status_detail()) abort();   /* a refusal says why */
        return 0;
    }
    int n = vkn_ttf_glyph_count(f);
    int a, d, gap, adv, lsb, x0, y0, x1, y1;
    vkn_ttf_vmetrics(f, &a, &d, &gap);
    /* the codepoints the apps draw, the edges of Unicode, and a few taken from the input */
    uint32_t cps[24] = { '0', '5', '9', 'A', 'H', 'g', ' ', 0xfffd, 0xffff, 0x10ffff, 0x263a, 0x110000 };
    int ncp = 12;
    for (size_t i = 0; i + 3 < size && ncp < 24; i += size / 12 + 1)
        cps[ncp++] = ((uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2]) % 0x110000;
    float em = vkn_ttf_scale_for_em(f, 15.f);
    int prev = -1;
    for (int i = 0; i < ncp; i++) {
        int g = vkn_ttf_glyph(f, cps[i]);
        if (g < 0 || g >= n) abort();
        vkn_ttf_hmetrics(f, g, &adv, &lsb);
        if (prev >= 0) (void)vkn_ttf_kern(f, prev, g);
        prev = g;
        if (vkn_ttf_box(f, g, &x0, &y0, &x1, &y1) && y1 > y0 && i < 3) draw(f, 60.f / (float)(y1 - y0), g);   /* syndigits */
        draw(f, em, g);   /* the viewer */
    }
    /* glyph indices straight from the input, in range and not */
    for (int i = 0; i < 4; i++) {
        int g = i < 2 ? (i ? n - 1 : 0) : (int)(data[i] | data[size - i] << 8) - (i == 3 ? 40000 : 0);
        vkn_ttf_hmetrics(f, g, &adv, &lsb);
        (void)vkn_ttf_kern(f, g, prev);
        (void)vkn_ttf_box(f, g, &x0, &y0, &x1, &y1);
        draw(f, em, g);
    }
    vkn_ttf_close(f);
    return 0;
}
