/* vkn-cgan's window panels on an offscreen canvas (no display needed), fed snapshots the way the
 * worker posts them (issue 19):
 *   - the sample grid is live: its label and pixels follow every snapshot, not only the history's
 *     pushes every 50 steps;
 *   - compare mode at 1280x800 and 1920x1080: the drawn grid labels do not overlap and stay inside
 *     their panel, the thumbnails are larger than the 28 px of a 1x zoom, and the G-norm tables say
 *     which rows they show instead of silently cutting the second run's off. */
#include "cgan_test.h"
#include "cgan_app.h"

#include <math.h>

static cg_options opts(int nruns, int w, int h)
{
    cg_options o;
    memset(&o, 0, sizeof o);
    o.data = "fashion";
    o.norm_g = VKN_NORM_CN, o.norm_d = VKN_NORM_BN;
    o.steps = 1000;
    o.batch = 64;
    o.nruns = nruns;
    o.run_norm_g[0] = nruns > 1 ? VKN_NORM_BN : VKN_NORM_CN;
    o.run_norm_g[1] = VKN_NORM_CN;
    o.width = w, o.height = h;
    o.show_class = -1, o.interp_a = o.interp_b = -1;
    snprintf(o.out, sizeof o.out, "%s/ui", ct_tmp());
    return o;
}

/* A snapshot at a step: grid images a function of the step, so a stale grid shows in the pixels. */
static void fill_snap(cg_snap *s, int nruns, int64_t step)
{
    memset(s, 0, sizeof *s);
    s->step = step, s->total = 1000, s->phase = CG_PHASE_TRAIN, s->nruns = nruns;
    for (int r = 0; r < nruns; r++) {
        cg_run_snap *rs = &s->run[r];
        snprintf(rs->norm, sizeof rs->norm, "%s", r ? "cn" : "bn");
        for (int i = 0; i < CG_GRID * CG_PIX; i++) rs->grid[i] = (float)((step * 37 + i) % 200) / 100.f - 1.f;
        rs->has_eval = true; /* the bar charts draw their class labels */
        for (int k = 0; k < CG_CLASSES; k++) rs->eval.acc_class[k] = 0.1f * k, rs->eval.share[k] = 0.1f;
        /* two norm layers with 8 slots each: 32 table rows in compare mode */
        rs->ndiag = 2;
        for (int l = 0; l < 2; l++) {
            rs->nslots[l] = CG_SLOT_ROWS;
            for (int j = 0; j < CG_SLOT_ROWS; j++) {
                static const char *names[CG_SLOT_ROWS] = {"gamma", "beta", "running_mean", "running_var", "ctx_mean", "ctx_var", "prior", "count"};
                snprintf(rs->slot_name[l][j], sizeof rs->slot_name[l][j], "%s", names[j]);
                for (int k = 0; k < 4; k++) rs->slot_stat[l][j][k] = -123.456f * (k + 1); /* wide values */
            }
        }
    }
}

static uint64_t canvas_hash(vkn_canvas *c)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < (size_t)c->w * c->h * 4; i++) h = (h ^ c->px[i]) * 1099511628211ULL;
    return h;
}

static void test_live_grid(void **state)
{
    (void)state;
    cg_options o = opts(1, 1280, 800);
    cg_ui *u;
    assert_int_equal(cg_ui_open_offscreen(&o, &u), VKN_OK);
    static cg_snap s;
    uint64_t prev = 0;
    /* steps 3, 4, ..., 9: all within the history's 50-step spacing */
    for (int64_t step = 3; step < 10; step++) {
        fill_snap(&s, 1, step);
        cg_ui_feed(u, &s, true);
        cg_ui_draw(u, &s);
        char want[64];
        snprintf(want, sizeof want, "step %lld", (long long)step);
        print_message("frame at step %lld: the grid says \"%s\"\n", (long long)step, cg_ui_grid_note(u));
        assert_non_null(strstr(cg_ui_grid_note(u), want));
        uint64_t h = canvas_hash(cg_ui_canvas(u));
        assert_true(h != prev); /* new pixels */
        prev = h;
    }
    assert_int_equal(cg_ui_history_count(u, 0), 1); /* only the first snapshot went to the history */
    if (getenv("VKN_UI_SHOT_DIR")) {
        char path[512];
        snprintf(path, sizeof path, "%s/single-1280x800.png", getenv("VKN_UI_SHOT_DIR"));
        vkn_canvas_write_png(cg_ui_canvas(u), path);
    }
    cg_ui_close(u);
}

static bool overlap(vkn_rect a, vkn_rect b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static bool inside(vkn_rect a, vkn_rect r) { return a.x >= r.x && a.y >= r.y && a.x + a.w <= r.x + r.w && a.y + a.h <= r.y + r.h; }

static void compare_at(int w, int h)
{
    cg_options o = opts(2, w, h);
    cg_ui *u;
    assert_int_equal(cg_ui_open_offscreen(&o, &u), VKN_OK);
    static cg_snap s;
    fill_snap(&s, 2, 120);
    cg_ui_feed(u, &s, true);
    vkn_canvas *c = cg_ui_canvas(u);
    static vkn_text_box log[4096];
    c->text_log = log, c->text_cap = 4096, c->text_n = 0;
    cg_ui_draw(u, &s);
    c->text_log = NULL;
    if (getenv("VKN_UI_SHOT_DIR")) { /* to look at the layout */
        char path[512];
        snprintf(path, sizeof path, "%s/compare-%dx%d.png", getenv("VKN_UI_SHOT_DIR"), w, h);
        vkn_canvas_write_png(c, path);
    }
    const char *const *names = cg_class_names("fashion");
    /* the grid labels: class names (both runs) and the noise labels z1..z5 */
    int nl = 0, idx[64];
    for (int i = 0; i < c->text_n && nl < 64; i++) {
        bool label = !strncmp(log[i].text, "z", 1) && strlen(log[i].text) <= 3 && log[i].box.y < h / 2;
        for (int k = 0; k < CG_CLASSES; k++) label |= !strcmp(log[i].text, names[k]);
        if (label) idx[nl++] = i;
    }
    print_message("%dx%d compare mode: %d grid labels drawn\n", w, h, nl);
    assert_true(nl >= 2 * (CG_CLASSES + 5));
    for (int a = 0; a < nl; a++) {
        vkn_rect ra = log[idx[a]].box;
        assert_true(inside(ra, log[idx[a]].clip)); /* not cut by its panel */
        for (int b = a + 1; b < nl; b++)
            if (overlap(ra, log[idx[b]].box)) fail_msg("labels \"%s\" and \"%s\" overlap", log[idx[a]].text, log[idx[b]].text);
    }
    /* the thumbnails: class rows are one cell apart; a 1x zoom would be 28 + 6 */
    int y0 = -1, y1 = -1;
    for (int a = 0; a < nl; a++) {
        if (!strcmp(log[idx[a]].text, names[0]) && y0 < 0) y0 = log[idx[a]].box.y;
        if (!strcmp(log[idx[a]].text, names[1]) && y1 < 0) y1 = log[idx[a]].box.y;
    }
    print_message("  class row pitch %d px\n", y1 - y0);
    assert_true(y1 - y0 >= 40); /* 34 px images and more: a 1x zoom's 28 px was the issue */
    /* the bar charts' class labels (abbreviations) do not run together either */
    const char *const *ab = cg_class_abbrev("fashion");
    int nb = 0, bi[64];
    for (int i = 0; i < c->text_n && nb < 64; i++)
        for (int k = 0; k < CG_CLASSES; k++)
            if (!strcmp(log[i].text, ab[k])) bi[nb++] = i;
    assert_true(nb >= 2 * CG_CLASSES);
    for (int a = 0; a < nb; a++)
        for (int b = a + 1; b < nb; b++)
            if (overlap(log[bi[a]].box, log[bi[b]].box)) fail_msg("bar labels \"%s\" and \"%s\" overlap", log[bi[a]].text, log[bi[b]].text);
    /* the slot table's columns are all inside its panel (a narrow table is set smaller, not cut) */
    int heads = 0;
    for (int i = 0; i < c->text_n; i++)
        if (!strcmp(log[i].text, "mean") || !strcmp(log[i].text, "std") || !strcmp(log[i].text, "min") || !strcmp(log[i].text, "max")) {
            heads++;
            if (!inside(log[i].box, log[i].clip)) fail_msg("table column \"%s\" is cut by its panel", log[i].text);
        }
    assert_int_equal(heads, 4);
    /* 32 rows of slot statistics do not fit: the table says which it shows */
    bool said = false;
    for (int i = 0; i < c->text_n; i++) said |= !strncmp(log[i].text, "rows 1-", 7) && strstr(log[i].text, "of 32");
    assert_true(said);
    cg_ui_close(u);
}

static void test_compare_layout(void **state)
{
    (void)state;
    compare_at(1280, 800);
    compare_at(1920, 1080);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_live_grid), cmocka_unit_test(test_compare_layout)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
