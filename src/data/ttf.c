/* TrueType fonts: the one place vknorm talks to stb_truetype (the Debian package libstb-dev, compiled
 * static here). stb_truetype trusts the font completely: it is never told the buffer's length and
 * follows every offset, count and glyph index it finds. So a font is validated here first, against
 * exactly what stb_truetype reads for the calls below: the table directory, head, hhea, maxp, hmtx,
 * loca, every glyph in glyf (simple and compound: points, flags, coordinates, component depth and
 * cycles, the size of the transformed coordinates), the Unicode cmap subtable stb picks (its binary
 * search simulated for every codepoint), and the kerning it uses (GPOS pair adjustments, else kern).
 * Every 32-bit field stb reads with ttULONG must be below 2^31 (stb shifts a byte left by 24 into an
 * int: UBSan's "left shift" on a byte-flipped font). The wrapper then keeps glyph indices in range and
 * bitmaps bounded, which the validation cannot promise for every caller's input. */
#include "data/data_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STBTT_STATIC
#define STB_TRUETYPE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_truetype.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define MAX_FILE (64u << 20)       /* bytes: larger than any font we ship or read */
#define MAX_DEPTH 8                /* nesting of compound glyphs (stb recurses once per level) */
#define MAX_VERTICES (1 << 14)     /* of one glyph, components expanded: more than any real glyph */
#define MAX_COORD 32000.0          /* |coordinate| after a component's transform (stb casts it to int16) */
#define MAX_BITMAP 4096            /* pixels per side of one glyph bitmap */

struct vkn_ttf {
    uint8_t *data;
    size_t len;
    stbtt_fontinfo info;
    float *extent;   /* [numGlyphs] largest |coordinate| of each glyph's outline, font units */
};

/* ---------------------------------------------------------------------------------------------- */
/* validation                                                                                      */

typedef struct check {
    const uint8_t *d;
    size_t len;
    const char *what;
    vkn_status s;                  /* first error */
    int ng;                        /* numGlyphs */
    uint32_t glyf, glyf_len, loca;
    int loca_long;
    uint8_t *state;                /* per glyph: 0 unseen, 1 in progress, 2 done */
    float *extent;                 /* per glyph: largest |coordinate| of its vertices */
    int32_t *nvert;                /* per glyph: vertices, components expanded */
} check;

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static int16_t s16(const uint8_t *p) { return (int16_t)u16(p); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int fail(check *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int fail(check *c, const char *fmt, ...)
{
    if (c->s != VKN_OK) return -1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->s = vkn_status_set(VKN_ERR_FORMAT, "font: %s: %s (a damaged or truncated TrueType file?)", c->what, msg);
    return -1;
}

/* [off, off + n) inside a table of len bytes (64-bit sums: no wrap-around). */
static int fits(uint64_t off, uint64_t n, uint64_t len) { return off <= len && n <= len - off; }

typedef struct table { uint32_t off, len; } table;

/* The first directory entry with this tag, as stb__find_table does; all entries were checked. */
static table find(const check *c, uint32_t start, const char *tag)
{
    table t = { 0, 0 };
    int n = u16(c->d + start + 4);
    for (int i = 0; i < n; i++) {
        const uint8_t *e = c->d + start + 12 + 16 * i;
        if (!memcmp(e, tag, 4)) {
            t.off = u32(e + 8), t.len = u32(e + 12);
            return t;
        }
    }
    return t;
}

/* One glyph's outline (stbtt__GetGlyphShapeTT): every byte it reads inside the glyph's loca range, the
 * vertex count and coordinate extent (components expanded), no cycles, bounded depth. */
static int check_glyph(check *c, int g, int depth)
{
    if (c->state[g] == 2) return 0;
    if (c->state[g] == 1) return fail(c, "glyph %d is a component of itself", g);
    if (depth > MAX_DEPTH) return fail(c, "glyph %d: compound glyphs nested deeper than %d", g, MAX_DEPTH);
    c->state[g] = 1;
    const uint8_t *L = c->d + c->loca;
    uint32_t a = c->loca_long ? u32(L + 4 * g) : 2u * u16(L + 2 * g);
    uint32_t b = c->loca_long ? u32(L + 4 * g + 4) : 2u * u16(L + 2 * g + 2);
    float extent = 0;
    int64_t nv = 0;
    if (a != b) {   /* stb treats an empty range as an empty glyph and reads nothing */
        uint32_t len = b - a;
        const uint8_t *p = c->d + c->glyf + a;
        if (len < 10) return fail(c, "glyph %d: %u bytes, shorter than a glyph header", g, len);
        if (s16(p + 2) > s16(p + 6) || s16(p + 4) > s16(p + 8))
            return fail(c, "glyph %d: its bounding box is inverted", g);
        int nc = s16(p);
        if (nc > 0) {
            uint64_t at = 10 + 2u * (uint64_t)nc;
            if (!fits(at, 2, len)) return fail(c, "glyph %d: %d contour ends run past its %u bytes", g, nc, len);
            int prev = -1;
            for (int j = 0; j < nc; j++) {
                int e = u16(p + 10 + 2 * j);
                if (e <= prev) return fail(c, "glyph %d: contour ends are not increasing", g);
                prev = e;
            }
            int n = prev + 1;
            at += 2 + (uint64_t)u16(p + at);   /* instructions */
            if (at > len) return fail(c, "glyph %d: its instructions run past its %u bytes", g, len);
            uint8_t *flags = malloc((size_t)n);
            if (!flags) return fail(c, "out of memory");
            uint8_t f = 0;
            int repeat = 0, i = 0;
            for (; i < n; i++) {   /* flags, with stb's repeat rule */
                if (repeat == 0) {
                    if (at >= len) break;
                    f = p[at++];
                    if (f & 8) {
                        if (at >= len) break;
                        repeat = p[at++];
                    }
                } else {
                    --repeat;
                }
                flags[i] = f;
            }
            if (i < n) fail(c, "glyph %d: its point flags run past its %u bytes", g, len);
            for (int axis = 0; axis < 2 && c->s == VKN_OK; axis++) {
                uint8_t shortbit = axis ? 4 : 2, samebit = axis ? 32 : 16;
                int32_t v = 0;   /* stb accumulates in 32 bits and stores the point as int16 */
                for (i = 0; i < n; i++) {
                    if (flags[i] & shortbit) {
                        if (at >= len) break;
                        int d = p[at++];
                        v += (flags[i] & samebit) ? d : -d;
                    } else if (!(flags[i] & samebit)) {
                        if (!fits(at, 2, len)) break;
                        v += s16(p + at);
                        at += 2;
                    }
                    float x = fabsf((float)(int16_t)v);
                    if (x > extent) extent = x;
                }
                if (i < n) fail(c, "glyph %d: its %s coordinates run past its %u bytes", g, axis ? "y" : "x", len);
            }
            /* stb looks one point ahead of a contour that starts off the curve: not past the last point */
            int last_start = nc > 1 ? u16(p + 10 + 2 * (nc - 2)) + 1 : 0;
            if (c->s == VKN_OK && last_start == n - 1 && !(flags[n - 1] & 1))
                fail(c, "glyph %d: its last contour is a single off-curve point", g);
            free(flags);
            if (c->s != VKN_OK) return -1;
            nv = (int64_t)n + 2 * nc;
        } else if (nc < 0) {
            uint32_t at = 10;
            for (int more = 1; more;) {
                if (!fits(at, 4, len)) return fail(c, "glyph %d: a component runs past its %u bytes", g, len);
                uint16_t fl = u16(p + at);
                int gi = u16(p + at + 2);
                at += 4;
                if (!(fl & 2))   /* stb asserts: point-matched components are not implemented */
                    return fail(c, "glyph %d: a component placed by matching points (not supported)", g);
                float m[6] = { 1, 0, 0, 1, 0, 0 };
                uint32_t need = (fl & 1) ? 4 : 2;
                need += (fl & 8) ? 2 : (fl & 64) ? 4 : (fl & 128) ? 8 : 0;
                if (!fits(at, need, len)) return fail(c, "glyph %d: a component runs past its %u bytes", g, len);
                if (fl & 1) m[4] = s16(p + at), m[5] = s16(p + at + 2), at += 4;
                else m[4] = (int8_t)p[at], m[5] = (int8_t)p[at + 1], at += 2;
                if (fl & 8) m[0] = m[3] = s16(p + at) / 16384.0f, at += 2;
                else if (fl & 64) m[0] = s16(p + at) / 16384.0f, m[3] = s16(p + at + 2) / 16384.0f, at += 4;
                else if (fl & 128) {
                    m[0] = s16(p + at) / 16384.0f, m[1] = s16(p + at + 2) / 16384.0f;
                    m[2] = s16(p + at + 4) / 16384.0f, m[3] = s16(p + at + 6) / 16384.0f, at += 8;
                }
                more = fl & 32;
                if (gi >= c->ng) continue;   /* stb draws nothing for it */
                if (check_glyph(c, gi, depth + 1) != 0) return -1;
                /* stb: x' = |row 0| (m0 x + m2 y + m4), y' = |row 1| (m1 x + m3 y + m5), cast to int16 */
                double e = c->extent[gi];
                double sx = sqrt((double)m[0] * m[0] + (double)m[1] * m[1]);
                double sy = sqrt((double)m[2] * m[2] + (double)m[3] * m[3]);
                double X = sx * ((fabs(m[0]) + fabs(m[2])) * e + fabs(m[4]));
                double Y = sy * ((fabs(m[1]) + fabs(m[3])) * e + fabs(m[5]));
                if (X > MAX_COORD || Y > MAX_COORD)
                    return fail(c, "glyph %d: component %d transformed out of the 16-bit coordinate range", g, gi);
                if (X > extent) extent = (float)X;
                if (Y > extent) extent = (float)Y;
                nv += c->nvert[gi];
                if (nv > MAX_VERTICES) return fail(c, "glyph %d: more than %d points with its components", g, MAX_VERTICES);
            }
        }
    }
    c->extent[g] = extent;
    c->nvert[g] = (int32_t)nv;
    c->state[g] = 2;
    return 0;
}

/* The cmap subtable stb picked (index_map, relative to the file), read as stb_FindGlyphIndex does. */
static int check_cmap_subtable(check *c, uint32_t sub, uint32_t end)
{
    const uint8_t *p = c->d + sub;
    uint32_t room = end - sub;
    if (room < 4) return fail(c, "cmap subtable runs past the cmap table");
    int format = u16(p);
    if (format == 0) {
        uint32_t bytes = u16(p + 2);
        if (bytes > 6 && bytes > room) return fail(c, "cmap format 0: %u bytes run past the cmap table", bytes);
    } else if (format == 6) {
        if (room < 10 || !fits(10, 2u * u16(p + 8), room)) return fail(c, "cmap format 6 runs past the cmap table");
    } else if (format == 4) {
        if (room < 14) return fail(c, "cmap format 4 header runs past the cmap table");
        uint32_t seg = u16(p + 6) >> 1;
        if (seg == 0) return fail(c, "cmap format 4 has no segments");
        if (!fits(14, 8u * seg + 2, room)) return fail(c, "cmap format 4: %u segments run past the cmap table", seg);
        /* stb's binary search trusts searchRange, entrySelector and rangeShift: simulate it for every
         * codepoint and check every position it reads */
        uint32_t range0 = u16(p + 8) >> 1, sel0 = u16(p + 10), shift = u16(p + 12) >> 1;
        const uint32_t endc = 14;   /* relative to the subtable */
        if (shift >= seg) return fail(c, "cmap format 4: rangeShift %u outside its %u segments", shift, seg);
        for (uint32_t cp = 0; cp <= 0xffff; cp++) {
            int64_t search = endc;
            if (cp >= u16(p + search + 2 * shift)) search += 2 * shift;
            search -= 2;
            uint32_t range = range0;
            for (uint32_t sel = sel0; sel; sel--) {
                range >>= 1;
                int64_t at = search + 2 * (int64_t)range;
                if (at < endc || at + 2 > endc + 2 * (int64_t)seg)
                    return fail(c, "cmap format 4: its search fields (searchRange %u, entrySelector %u) lead outside "
                                "the segments", range0 * 2, sel0);
                if (cp > u16(p + at)) search = at;
            }
            search += 2;
            int64_t item = (search - endc) >> 1;
            if (search < endc || item >= seg)
                return fail(c, "cmap format 4: its search fields lead outside the segments");
            uint32_t start = u16(p + 14 + 2 * seg + 2 + 2 * item), last = u16(p + endc + 2 * item);
            if (cp < start || cp > last) continue;
            uint32_t ro_at = 14 + 6 * seg + 2 + 2 * (uint32_t)item, ro = u16(p + ro_at);
            if (ro && !fits((uint64_t)ro_at + ro + 2 * (cp - start), 2, room))
                return fail(c, "cmap format 4: segment %lld maps U+%04X outside the cmap table", (long long)item, cp);
        }
    } else if (format == 12 || format == 13) {
        if (room < 16 || p[12] >= 0x80) return fail(c, "cmap format %d header runs past the cmap table", format);
        uint32_t ng = u32(p + 12);
        if (!fits(16, 12ull * ng, room)) return fail(c, "cmap format %d: %u groups run past the cmap table", format, ng);
        for (uint32_t i = 0; i < ng; i++)
            for (int k = 0; k < 3; k++)
                if (p[16 + 12 * i + 4 * k] >= 0x80) return fail(c, "cmap format %d: group %u holds a value over 2^31", format, i);
    } else {
        return fail(c, "cmap format %d is not supported (0, 4, 6, 12 and 13 are)", format);
    }
    return 0;
}

/* A coverage table (OpenType common): its largest coverage index, or -1 when it covers nothing. */
static int coverage(check *c, uint32_t at, uint32_t end, int64_t *max_index)
{
    *max_index = -1;
    if (!fits(at, 4, end)) return fail(c, "GPOS: a coverage table runs past the table");
    const uint8_t *p = c->d + at;
    int fmt = u16(p), n = u16(p + 2);
    if (fmt == 1) {
        if (!fits(at + 4, 2u * n, end)) return fail(c, "GPOS: a coverage table's %d glyphs run past the table", n);
        *max_index = n - 1;
    } else if (fmt == 2) {
        if (!fits(at + 4, 6u * n, end)) return fail(c, "GPOS: a coverage table's %d ranges run past the table", n);
        for (int i = 0; i < n; i++) {
            const uint8_t *r = p + 4 + 6 * i;
            if (u16(r) <= u16(r + 2) && (int64_t)u16(r + 4) + u16(r + 2) - u16(r) > *max_index)
                *max_index = (int64_t)u16(r + 4) + u16(r + 2) - u16(r);
        }
    }   /* other formats: stb finds nothing in them */
    return 0;
}

static int class_def(check *c, uint32_t at, uint32_t end)
{
    if (!fits(at, 2, end)) return fail(c, "GPOS: a class definition runs past the table");
    const uint8_t *p = c->d + at;
    int fmt = u16(p);
    if (fmt == 1 && (!fits(at, 6, end) || !fits(at + 6, 2u * u16(p + 4), end)))
        return fail(c, "GPOS: a class definition (format 1) runs past the table");
    if (fmt == 2 && (!fits(at, 4, end) || !fits(at + 4, 6u * u16(p + 2), end)))
        return fail(c, "GPOS: a class definition (format 2) runs past the table");
    return 0;
}

/* GPOS as stbtt__GetGlyphGPOSInfoAdvance reads it: pair adjustments (lookup type 2). */
static int check_gpos(check *c, table t)
{
    uint32_t end = t.off + t.len;
    if (t.len < 4) return fail(c, "GPOS: %u bytes, shorter than its header", t.len);
    const uint8_t *g = c->d + t.off;
    if (u16(g) != 1 || u16(g + 2) != 0) return 0;   /* stb reads nothing else of other versions */
    if (t.len < 10) return fail(c, "GPOS: %u bytes, shorter than its header", t.len);
    uint32_t list = t.off + u16(g + 8);
    if (!fits(list, 2, end) || !fits(list + 2, 2u * u16(c->d + list), end))
        return fail(c, "GPOS: the lookup list runs past the table");
    int nl = u16(c->d + list);
    for (int i = 0; i < nl; i++) {
        uint32_t lk = list + u16(c->d + list + 2 + 2 * i);
        if (!fits(lk, 6, end)) return fail(c, "GPOS: lookup %d runs past the table", i);
        if (u16(c->d + lk) != 2) continue;
        int ns = u16(c->d + lk + 4);
        if (!fits(lk + 6, 2u * ns, end)) return fail(c, "GPOS: lookup %d's subtables run past the table", i);
        for (int k = 0; k < ns; k++) {
            uint32_t st = lk + u16(c->d + lk + 6 + 2 * k);
            if (!fits(st, 8, end)) return fail(c, "GPOS: lookup %d subtable %d runs past the table", i, k);
            const uint8_t *s = c->d + st;
            int64_t maxci;
            if (coverage(c, st + u16(s + 2), end, &maxci) != 0) return -1;
            int fmt = u16(s);
            if (u16(s + 4) != 4 || u16(s + 6) != 0 || (fmt != 1 && fmt != 2)) continue;   /* stb skips these */
            if (fmt == 1) {
                if (!fits(st, 10, end)) return fail(c, "GPOS: lookup %d subtable %d runs past the table", i, k);
                int nsets = u16(s + 8);
                if (maxci >= nsets)
                    return fail(c, "GPOS: lookup %d subtable %d covers %lld glyphs but has %d pair sets", i, k,
                                (long long)maxci + 1, nsets);
                if (!fits(st + 10, 2u * nsets, end)) return fail(c, "GPOS: lookup %d subtable %d runs past the table", i, k);
                for (int j = 0; j < nsets; j++) {
                    uint32_t ps = st + u16(s + 10 + 2 * j);
                    if (!fits(ps, 2, end) || !fits(ps + 2, 4u * u16(c->d + ps), end))
                        return fail(c, "GPOS: lookup %d subtable %d pair set %d runs past the table", i, k, j);
                }
            } else {
                if (!fits(st, 16, end)) return fail(c, "GPOS: lookup %d subtable %d runs past the table", i, k);
                if (class_def(c, st + u16(s + 8), end) || class_def(c, st + u16(s + 10), end)) return -1;
                if (!fits(st + 16, 2ull * u16(s + 12) * u16(s + 14), end))
                    return fail(c, "GPOS: lookup %d subtable %d's class records run past the table", i, k);
            }
        }
    }
    return 0;
}

/* kern as stbtt__GetGlyphKernInfoAdvance reads it (the first subtable, horizontal format 0). */
static int check_kern(check *c, table t)
{
    const uint8_t *k = c->d + t.off;
    if (t.len < 4) return fail(c, "kern: %u bytes, shorter than its header", t.len);
    if (u16(k + 2) < 1) return 0;
    if (t.len < 10) return fail(c, "kern: %u bytes, shorter than its first subtable", t.len);
    if (u16(k + 8) != 1) return 0;
    if (t.len < 12) return fail(c, "kern: %u bytes, shorter than its first subtable", t.len);
    uint32_t n = u16(k + 10);
    if (!fits(18, 6u * n, t.len)) return fail(c, "kern: %u pairs run past the table", n);
    for (uint32_t i = 0; i < n; i++)
        if (k[18 + 6 * i] >= 0x80) return fail(c, "kern: pair %u names glyph %u (at most 32767)", i, u16(k + 18 + 6 * i));
    return 0;
}

/* The whole check; *start: the font's offset in the file (for stbtt_InitFont); *extent: each glyph's
 * largest |coordinate| (malloc'ed, on success). */
static vkn_status validate(const uint8_t *d, size_t len, const char *what, uint32_t *start_out, float **extent_out)
{
#define REFUSE(...) do { fail(&c, __VA_ARGS__); return c.s; } while (0)
    check c = { .d = d, .len = len, .what = what, .s = VKN_OK };
    if (len > MAX_FILE) {
        REFUSE("%zu bytes, over the %u-byte limit", len, MAX_FILE);
    }
    if (len < 12) {
        REFUSE("%zu bytes, shorter than a font header", len);
    }
    uint32_t start = 0;
    if (!memcmp(d, "ttcf", 4)) {   /* a collection: its first font */
        if (len < 16 || (u32(d + 4) != 0x00010000 && u32(d + 4) != 0x00020000) || u32(d + 8) < 1) {
            REFUSE("not a TrueType collection header");
        }
        start = u32(d + 12);
        if (!fits(start, 12, len)) {
            REFUSE("the collection's first font at byte %u is past the end", start);
        }
    }
    const uint8_t *h = d + start;
    if (!(!memcmp(h, "\0\1\0\0", 4) || !memcmp(h, "true", 4) || !memcmp(h, "1\0\0\0", 4) || !memcmp(h, "typ1", 4))) {
        if (!memcmp(h, "OTTO", 4)) fail(&c, "an OpenType font with CFF outlines (only TrueType outlines are supported)");
        else fail(&c, "not a TrueType font (it starts with bytes %02x %02x %02x %02x)", h[0], h[1], h[2], h[3]);
        return c.s;
    }
    int nt = u16(h + 4);
    if (!fits(start + 12, 16u * nt, len)) {
        REFUSE("its table directory (%d tables) runs past the end of the %zu-byte file", nt, len);
    }
    for (int i = 0; i < nt; i++) {
        const uint8_t *e = h + 12 + 16 * i;
        uint32_t off = u32(e + 8), n = u32(e + 12);
        if (off >= 0x80000000u || !fits(off, n, len)) {
            REFUSE("table '%c%c%c%c' at bytes [%u, %llu) runs past the end of the %zu-byte file", e[0] >= 32 && e[0] < 127 ? e[0] : '?',
                 e[1] >= 32 && e[1] < 127 ? e[1] : '?', e[2] >= 32 && e[2] < 127 ? e[2] : '?',
                 e[3] >= 32 && e[3] < 127 ? e[3] : '?', off, (unsigned long long)off + n, len);
        }
    }
    static const char *required[] = { "cmap", "head", "hhea", "hmtx", "maxp", "loca", "glyf" };
    table t[7];
    for (int i = 0; i < 7; i++) {
        t[i] = find(&c, start, required[i]);
        if (!t[i].off) {
            REFUSE("no '%s' table%s", required[i], i == 6 ? " (only TrueType outlines are supported)" : "");
        }
    }
    table cmap = t[0], head = t[1], hhea = t[2], hmtx = t[3], maxp = t[4], loca = t[5], glyf = t[6];
    if (head.len < 54) REFUSE("head: %u bytes, shorter than 54", head.len);
    int upem = u16(d + head.off + 18), locfmt = u16(d + head.off + 50);
    if (upem < 16 || upem > 16384) REFUSE("head: %d units per em (16 .. 16384)", upem);
    if (locfmt > 1) REFUSE("head: index-to-location format %d (0 or 1)", locfmt);
    if (maxp.len < 6) REFUSE("maxp: %u bytes, shorter than 6", maxp.len);
    c.ng = u16(d + maxp.off + 4);
    if (c.ng < 1) REFUSE("maxp: no glyphs");
    if (hhea.len < 36) REFUSE("hhea: %u bytes, shorter than 36", hhea.len);
    int nlong = u16(d + hhea.off + 34);
    if (nlong < 1) REFUSE("hhea: no horizontal metrics");
    uint64_t need = 4u * (uint64_t)(nlong < c.ng ? nlong : c.ng) + (nlong < c.ng ? 2u * (uint64_t)(c.ng - nlong) : 0);
    if (hmtx.len < need) REFUSE("hmtx: %u bytes for %d glyphs (%llu needed)", hmtx.len, c.ng, (unsigned long long)need);
    c.loca = loca.off, c.loca_long = locfmt == 1, c.glyf = glyf.off, c.glyf_len = glyf.len;
    if ((uint64_t)loca.len < (uint64_t)(c.ng + 1) * (locfmt ? 4 : 2))
        REFUSE("loca: %u bytes for %d glyphs", loca.len, c.ng);
    for (int g = 0; g <= c.ng; g++) {
        uint32_t o = locfmt ? u32(d + loca.off + 4 * g) : 2u * u16(d + loca.off + 2 * g);
        uint32_t prev = g == 0 ? 0 : locfmt ? u32(d + loca.off + 4 * g - 4) : 2u * u16(d + loca.off + 2 * g - 2);
        if (o > glyf.len) REFUSE("loca: glyph %d at byte %u is past the %u-byte glyf table", g, o, glyf.len);
        if (o < prev) REFUSE("loca: glyph %d starts before glyph %d", g, g - 1);
    }
    /* the Unicode subtable stb picks: the last MS Unicode (BMP or full) or Unicode-platform record */
    if (cmap.len < 4 || !fits(4, 8u * u16(d + cmap.off + 2), cmap.len)) REFUSE("cmap: its encoding records run past the table");
    uint32_t sub = 0;
    for (int i = 0, n = u16(d + cmap.off + 2); i < n; i++) {
        const uint8_t *r = d + cmap.off + 4 + 8 * i;
        int plat = u16(r), enc = u16(r + 2);
        if (plat == 0 || (plat == 3 && (enc == 1 || enc == 10))) {
            if (r[4] >= 0x80 || u32(r + 4) >= cmap.len) REFUSE("cmap: encoding record %d points past the table", i);
            sub = cmap.off + u32(r + 4);
        }
    }
    if (!sub) REFUSE("cmap: no Unicode encoding");
    if (check_cmap_subtable(&c, sub, cmap.off + cmap.len) != 0) return c.s;
    table gpos = find(&c, start, "GPOS"), kern = find(&c, start, "kern");
    if (gpos.off ? check_gpos(&c, gpos) : kern.off ? check_kern(&c, kern) : 0) return c.s;
    c.state = calloc((size_t)c.ng, 1);
    c.extent = calloc((size_t)c.ng, sizeof *c.extent);
    c.nvert = calloc((size_t)c.ng, sizeof *c.nvert);
    if (!c.state || !c.extent || !c.nvert) fail(&c, "out of memory");
    for (int g = 0; g < c.ng && c.s == VKN_OK; g++) check_glyph(&c, g, 0);
    free(c.state), free(c.nvert);
    if (c.s != VKN_OK) {
        free(c.extent);
        return c.s;
    }
    *start_out = start;
    *extent_out = c.extent;
    return VKN_OK;
#undef REFUSE
}

/* ---------------------------------------------------------------------------------------------- */
/* the wrapper                                                                                     */

vkn_status vkn_ttf_open_mem(const void *buf, size_t len, const char *what, vkn_ttf **out)
{
    *out = NULL;
    if (!what) what = "<memory>";
    uint32_t start = 0;
    float *extent = NULL;
    VKN_TRY(validate(buf, len, what, &start, &extent));
    vkn_ttf *f = calloc(1, sizeof *f);
    if (f) f->data = malloc(len), f->extent = extent;
    if (!f || !f->data) {
        if (f) free(f->data);
        free(f);
        free(extent);
        return vkn_status_set(VKN_ERR_HOST_OOM, "font: %s: out of memory", what);
    }
    memcpy(f->data, buf, len);
    f->len = len;
    if (!stbtt_InitFont(&f->info, f->data, (int)start)) {
        vkn_ttf_close(f);
        return vkn_status_set(VKN_ERR_FORMAT, "font: %s: stb_truetype cannot use it", what);
    }
    *out = f;
    return VKN_OK;
}

vkn_status vkn_ttf_open(const char *path, vkn_ttf **out)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    VKN_TRY(vkn_data_read_file(path, MAX_FILE, "font", "check the font file, or point VKN_FONT_DIR at another folder",
                               &buf, &len));
    vkn_status s = vkn_ttf_open_mem(buf, len, path, out);
    free(buf);
    return s;
}

void vkn_ttf_close(vkn_ttf *f)
{
    if (!f) return;
    free(f->data);
    free(f->extent);
    free(f);
}

/* Every glyph index a caller passes or the cmap returns is kept in [0, numGlyphs): stb trusts it. */
static int clamp_glyph(const vkn_ttf *f, int g) { return g >= 0 && g < f->info.numGlyphs ? g : 0; }

int vkn_ttf_glyph_count(const vkn_ttf *f) { return f->info.numGlyphs; }

int vkn_ttf_glyph(const vkn_ttf *f, uint32_t codepoint)
{
    if (codepoint > 0x10ffff) return 0;
    return clamp_glyph(f, stbtt_FindGlyphIndex(&f->info, (int)codepoint));
}

void vkn_ttf_vmetrics(const vkn_ttf *f, int *ascent, int *descent, int *line_gap)
{
    stbtt_GetFontVMetrics(&f->info, ascent, descent, line_gap);
}

void vkn_ttf_hmetrics(const vkn_ttf *f, int glyph, int *advance, int *lsb)
{
    stbtt_GetGlyphHMetrics(&f->info, clamp_glyph(f, glyph), advance, lsb);
}

int vkn_ttf_kern(const vkn_ttf *f, int glyph1, int glyph2)
{
    glyph1 = clamp_glyph(f, glyph1), glyph2 = clamp_glyph(f, glyph2);
    if (!f->info.gpos && glyph1 >= 0x8000) return 0;   /* stb's kern lookup shifts glyph1 left by 16 in an int */
    return stbtt_GetGlyphKernAdvance(&f->info, glyph1, glyph2);
}

int vkn_ttf_box(const vkn_ttf *f, int glyph, int *x0, int *y0, int *x1, int *y1)
{
    int a = 0, b = 0, c = 0, d = 0;
    int ok = stbtt_GetGlyphBox(&f->info, clamp_glyph(f, glyph), &a, &b, &c, &d);
    if (x0) *x0 = a;
    if (y0) *y0 = b;
    if (x1) *x1 = c;
    if (y1) *y1 = d;
    return ok;
}

float vkn_ttf_scale_for_em(const vkn_ttf *f, float px) { return stbtt_ScaleForMappingEmToPixels(&f->info, px); }

uint8_t *vkn_ttf_bitmap(const vkn_ttf *f, float scale, int glyph, int *w, int *h, int *xoff, int *yoff)
{
    *w = *h = *xoff = *yoff = 0;
    if (!(scale > 0 && scale <= 1000)) return NULL;
    glyph = clamp_glyph(f, glyph);
    /* the outline, not only the box its header claims, within reach of the bitmap: the rasterizer's
     * work grows with the outline's size in pixels */
    if (f->extent[glyph] * scale > 4 * MAX_BITMAP) return NULL;
    int x0, y0, x1, y1;
    stbtt_GetGlyphBitmapBox(&f->info, glyph, scale, scale, &x0, &y0, &x1, &y1);
    *xoff = x0, *yoff = y0;
    if (x1 - x0 <= 0 || y1 - y0 <= 0 || x1 - x0 > MAX_BITMAP || y1 - y0 > MAX_BITMAP) return NULL;
    uint8_t *bm = stbtt_GetGlyphBitmap(&f->info, scale, scale, glyph, w, h, xoff, yoff);
    if (!bm) *w = *h = 0;
    return bm;
}
