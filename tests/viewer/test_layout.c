/* The maths behind the widgets: grid layout and hit-testing, nice ticks and chart auto-scaling, tick
 * labels, rectangle cuts, the snapshot history, the progress line; and the worker/UI hand-off. */
#include "viewer_test.h"

#include <math.h>
#include <pthread.h>

static void test_grid_layout(void **s)
{
    (void)s;
    /* 10 columns of 28x28 in 640x300, no labels: scale min((64-6)/28, (75-6)/28) = 2 */
    vkn_rect r = {20, 10, 640, 300};
    vkn_grid_layout L = vkn_grid_compute_layout(r, 4, 10, 28, 28, false, false, false, 11.f);
    assert_int_equal(L.scale, 2);
    assert_int_equal(L.img_w, 56);
    assert_int_equal(L.cell_w, 62);
    assert_int_equal(L.cell_h, 62);
    /* centred: 10*62-6 = 614 wide, 4*62-6 = 242 high */
    assert_int_equal(L.x0, 20 + (640 - 614) / 2);
    assert_int_equal(L.y0, 10 + (300 - 242) / 2);
    /* hits: first cell, a gap, the last cell, outside */
    assert_int_equal(vkn_grid_hit(&L, 4, 10, L.x0, L.y0), 0);
    assert_int_equal(vkn_grid_hit(&L, 4, 10, L.x0 + 57, L.y0 + 3), -1);
    assert_int_equal(vkn_grid_hit(&L, 4, 10, L.x0 + 62 * 3 + 5, L.y0 + 62 + 5), 13);
    assert_int_equal(vkn_grid_hit(&L, 4, 10, L.x0 + 9 * 62 + 55, L.y0 + 3 * 62 + 55), 39);
    assert_int_equal(vkn_grid_hit(&L, 4, 10, L.x0 + 10 * 62 + 1, L.y0), -1);
    assert_int_equal(vkn_grid_hit(&L, 4, 10, L.x0 - 1, L.y0), -1);
    /* captions and labels take room; the grid still fits */
    L = vkn_grid_compute_layout(r, 4, 10, 28, 28, true, true, true, 11.f);
    assert_true(L.label_w > 0 && L.label_h > 0);
    assert_true(L.cell_h > L.img_h + 6);
    assert_true(L.x0 >= r.x + L.label_w);
    assert_true(L.y0 + 4 * L.cell_h - 6 <= r.y + r.h);
    assert_true(L.x0 + 10 * L.cell_w - 6 <= r.x + r.w);
    /* too small: scale stays 1 */
    L = vkn_grid_compute_layout((vkn_rect){0, 0, 50, 50}, 4, 10, 28, 28, false, false, false, 11.f);
    assert_int_equal(L.scale, 1);
    /* large room: integer zoom keeps growing */
    L = vkn_grid_compute_layout((vkn_rect){0, 0, 1000, 1000}, 2, 2, 28, 28, false, false, false, 11.f);
    assert_int_equal(L.scale, (500 - 6) / 28);
}

static void test_ticks(void **s)
{
    (void)s;
    double t[16], step, lo = 0.13, hi = 0.92;
    int n = vkn_nice_ticks(&lo, &hi, 6, t, &step);
    assert_true(n >= 2 && n <= 6);
    assert_true(lo <= 0.13 && hi >= 0.92);
    assert_true(fabs(step - 0.2) < 1e-12);
    assert_true(fabs(t[0]) < 1e-12 && fabs(t[n - 1] - 1.0) < 1e-12);
    lo = -3, hi = 1234;
    n = vkn_nice_ticks(&lo, &hi, 7, t, &step);
    assert_true(n <= 7 && lo <= -3 && hi >= 1234);
    assert_true(fabs(step - 500) < 1e-9 || fabs(step - 250) < 1e-9);
    for (int i = 1; i < n; i++) assert_true(fabs(t[i] - t[i - 1] - step) < 1e-9);
    lo = 5, hi = 5; /* degenerate */
    n = vkn_nice_ticks(&lo, &hi, 5, t, &step);
    assert_true(n >= 2 && hi > lo);
    char b[32];
    vkn_format_tick(2.5, 2.5, b, sizeof b), assert_string_equal(b, "2.5");
    vkn_format_tick(7.5, 2.5, b, sizeof b), assert_string_equal(b, "7.5");
    vkn_format_tick(10, 2.5, b, sizeof b), assert_string_equal(b, "10.0");
    vkn_format_tick(0.25, 0.05, b, sizeof b), assert_string_equal(b, "0.25");
    vkn_format_tick(20, 10, b, sizeof b), assert_string_equal(b, "20");
    vkn_format_tick(15000, 5000, b, sizeof b), assert_string_equal(b, "15k");
    vkn_format_tick(2500000, 500000, b, sizeof b), assert_string_equal(b, "2.5M");
    vkn_format_tick(1e-4, 1e-4, b, sizeof b), assert_string_equal(b, "1e-04");
    vkn_format_tick(1e-17, 0.1, b, sizeof b), assert_string_equal(b, "0");
}

static void test_chart_range(void **s)
{
    (void)s;
    vkn_chart ch;
    vkn_chart_init(&ch, "loss", "step");
    double xl, xh, yl, yh;
    assert_false(vkn_chart_range(&ch, &xl, &xh, &yl, &yh)); /* no data: [0,1] fallback */
    assert_true(xl == 0 && xh == 1);
    int a = vkn_chart_add_series(&ch, "a", 0), b = vkn_chart_add_series(&ch, "b", 0x123456ffu);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_not_equal(ch.series[0].color, 0u); /* palette default */
    for (int i = 0; i <= 100; i++) {
        assert_int_equal(vkn_chart_push(&ch, a, (float)i, (float)i * 0.01f + 0.5f), VKN_OK);
        vkn_chart_push(&ch, b, (float)(i + 50), 2.0f);
    }
    vkn_chart_push(&ch, a, 1e3f, NAN); /* skipped */
    assert_int_equal(ch.series[0].n, 101);
    assert_int_equal(vkn_chart_push(&ch, 7, 0, 0), VKN_ERR_ARG);
    assert_true(vkn_chart_range(&ch, &xl, &xh, &yl, &yh));
    assert_true(xl == 0 && xh == 150);
    assert_true(fabs(yl - 0.5) < 1e-6 && fabs(yh - 2.0) < 1e-6);
    ch.series[1].hidden = true; /* hidden series do not count */
    vkn_chart_range(&ch, &xl, &xh, &yl, &yh);
    assert_true(xh == 100 && fabs(yh - 1.5) < 1e-6);
    ch.series[1].hidden = false;
    ch.fixed_y = true, ch.y_min = 0, ch.y_max = 1;
    vkn_chart_range(&ch, &xl, &xh, &yl, &yh);
    assert_true(yl == 0 && yh == 1);
    ch.fixed_y = false;
    /* smoothing narrows a noisy series' range */
    vkn_chart_clear(&ch);
    for (int i = 0; i < 200; i++) vkn_chart_push(&ch, a, (float)i, (i & 1) ? 2.f : 0.f);
    vkn_chart_range(&ch, &xl, &xh, &yl, &yh);
    assert_true(yl == 0 && yh == 2);
    ch.smooth = 10;
    vkn_chart_range(&ch, &xl, &xh, &yl, &yh);
    assert_true(yl >= 0 && yh <= 2.0 && yh - yl < 2.0); /* first points average less; the rest ~1 */
    /* log-y skips values <= 0 */
    ch.smooth = 0;
    ch.log_y = true;
    vkn_chart_clear(&ch);
    vkn_chart_push(&ch, a, 0, 0.f), vkn_chart_push(&ch, a, 1, 0.01f), vkn_chart_push(&ch, a, 2, 10.f);
    vkn_chart_range(&ch, &xl, &xh, &yl, &yh);
    assert_true(fabs(yl - 0.01) < 1e-6 && fabs(yh - 10) < 1e-6 && xl == 1);
    /* max_points: old points are thinned, the range still spans the run */
    vkn_chart_clear(&ch);
    ch.log_y = false;
    ch.max_points = 64;
    for (int i = 0; i < 1000; i++) vkn_chart_push(&ch, a, (float)i, 1.f);
    assert_true(ch.series[0].n <= 64);
    vkn_chart_range(&ch, &xl, &xh, &yl, &yh);
    assert_true(xl == 0 && xh == 999);
    vkn_chart_free(&ch);
}

static void test_rects(void **s)
{
    (void)s;
    vkn_rect r = {0, 0, 100, 50};
    vkn_rect t = vkn_rect_cut_top(&r, 10, 5);
    assert_true(t.y == 0 && t.h == 10 && r.y == 15 && r.h == 35);
    vkn_rect b = vkn_rect_cut_bottom(&r, 5, 0);
    assert_true(b.y == 45 && b.h == 5 && r.h == 30);
    vkn_rect l = vkn_rect_cut_left(&r, 30, 2);
    assert_true(l.w == 30 && r.x == 32 && r.w == 68);
    vkn_rect rr = vkn_rect_cut_right(&r, 200, 0); /* more than there is: clamped */
    assert_true(rr.w == 68 && r.w == 0);
    vkn_rect in = vkn_rect_inset((vkn_rect){0, 0, 10, 10}, 3);
    assert_true(in.x == 3 && in.w == 4);
    assert_true(vkn_rect_contains(in, 3, 6) && !vkn_rect_contains(in, 7, 3));
}

static void test_history(void **s)
{
    (void)s;
    vkn_history h;
    assert_int_equal(vkn_history_init(&h, 8), VKN_OK);
    assert_null(vkn_history_current(&h));
    float img[2 * 4] = {-1, 1, 0, 0, 1, 1, -1, -1};
    vkn_grid g = {img, 2, 1, 2, 2, 1, 2, NULL, NULL, NULL, NULL, -1};
    for (int i = 0; i < 8; i++) assert_int_equal(vkn_history_push(&h, i * 100, &g), VKN_OK);
    assert_int_equal(h.n, 8);
    assert_int_equal(vkn_history_current(&h)->step, 700); /* live */
    assert_int_equal(vkn_history_current(&h)->pixels[0], 0);
    assert_int_equal(vkn_history_current(&h)->pixels[1], 255);
    vkn_history_move(&h, -3);
    assert_int_equal(vkn_history_current(&h)->step, 400);
    vkn_history_move(&h, -100);
    assert_int_equal(vkn_history_current(&h)->step, 0);
    vkn_history_move(&h, 7); /* past the newest: live again */
    assert_int_equal(h.cursor, -1);
    vkn_history_move(&h, -1);
    assert_int_equal(vkn_history_current(&h)->step, 600);
    /* full: the older half is thinned, the newest kept, the viewed one followed */
    assert_int_equal(vkn_history_push(&h, 800, &g), VKN_OK);
    assert_true(h.n < 8 + 1 && h.n >= 6);
    assert_int_equal(h.snaps[0].step, 0);
    assert_int_equal(h.snaps[h.n - 1].step, 800);
    assert_int_equal(vkn_history_current(&h)->step, 600);
    for (int i = 1; i < h.n; i++) assert_true(h.snaps[i].step > h.snaps[i - 1].step);
    vkn_history_go_live(&h);
    assert_int_equal(vkn_history_current(&h)->step, 800);
    g.c = 2;
    assert_int_equal(vkn_history_push(&h, 900, &g), VKN_ERR_ARG);
    vkn_history_free(&h);
}

static void test_progress(void **s)
{
    (void)s;
    char b[512], d[32];
    vkn_format_duration(12.4, d, sizeof d), assert_string_equal(d, "12s");
    vkn_format_duration(245, d, sizeof d), assert_string_equal(d, "4m05s");
    vkn_format_duration(3720, d, sizeof d), assert_string_equal(d, "1h02m");
    vkn_progress p;
    FILE *f = tmpfile();
    vkn_progress_init(&p, "cgan", 1000, f);
    assert_false(p.tty);
    p.started = true, p.first_step = 0, p.t_first = 100.0;
    /* 250 steps in 50 s: 200 ms/step measured, 750 left: 150 s */
    vkn_progress_format(&p, 250, 0, 150.0, "D 0.69 G 1.2", 0, b, sizeof b);
    assert_non_null(strstr(b, "cgan"));
    assert_non_null(strstr(b, "25%"));
    assert_non_null(strstr(b, "250/1000"));
    assert_non_null(strstr(b, "200.0 ms/step"));
    assert_non_null(strstr(b, "D 0.69 G 1.2"));
    assert_non_null(strstr(b, "ETA 2m30s"));
    vkn_progress_format(&p, 500, 100, 150.0, NULL, 20, b, sizeof b); /* given ms/step wins; a bar */
    assert_non_null(strstr(b, "ETA 50s"));
    assert_non_null(strstr(b, "\xe2\x96\x88"));
    vkn_progress_format(&p, 1000, 0, 160.0, NULL, 0, b, sizeof b);
    assert_non_null(strstr(b, "done in 1m00s"));
    /* not a TTY: plain lines, throttled, and the final line always */
    p = (vkn_progress){0};
    vkn_progress_init(&p, "t", 10, f);
    for (int i = 0; i <= 10; i++) vkn_progress_update(&p, i, 1.0, "x %d", i);
    vkn_progress_log(&p, "a message");
    vkn_progress_finish(&p, 10, "final");
    fflush(f);
    long len = ftell(f);
    rewind(f);
    char *all = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(all, 1, (size_t)len, f), (size_t)len);
    assert_null(strchr(all, '\r'));
    assert_null(strstr(all, "\033["));
    assert_non_null(strstr(all, "a message\n"));
    assert_non_null(strstr(all, "final"));
    int lines = 0;
    for (char *c = all; *c; c++) lines += *c == '\n';
    assert_true(lines <= 8); /* not one line per update */
    free(all);
    fclose(f);
}

/* ---- mailbox and queue under two threads ---- */

typedef struct snap { int64_t step; int64_t check[64]; } snap;
typedef struct ctx { vkn_mailbox *mb; vkn_queue *q; int n; } ctx;

static void *producer(void *arg)
{
    ctx *c = arg;
    for (int i = 1; i <= c->n; i++) {
        snap *s = vkn_mailbox_back(c->mb);
        s->step = i;
        for (int k = 0; k < 64; k++) s->check[k] = i * 31 + k;
        vkn_mailbox_post(c->mb);
        int64_t v = i;
        vkn_queue_push(c->q, &v);
    }
    vkn_queue_close(c->q);
    return NULL;
}

static void test_mailbox(void **s)
{
    (void)s;
    ctx c = {NULL, NULL, 20000};
    assert_int_equal(vkn_mailbox_create(&c.mb, sizeof(snap)), VKN_OK);
    assert_int_equal(vkn_queue_create(&c.q, sizeof(int64_t), 1 << 16), VKN_OK);
    bool fresh = true;
    assert_null(vkn_mailbox_take(c.mb, &fresh));
    assert_false(fresh);
    assert_false(vkn_mailbox_wait(c.mb, 1));
    pthread_t th;
    pthread_create(&th, NULL, producer, &c);
    int64_t last = 0, expect = 1;
    for (;;) {
        const snap *sn = vkn_mailbox_take(c.mb, &fresh);
        if (sn) { /* every snapshot seen is whole and never older than the previous one */
            assert_true(sn->step >= last);
            for (int k = 0; k < 64; k++) assert_int_equal(sn->check[k], sn->step * 31 + k);
            last = sn->step;
        }
        int64_t v;
        while (vkn_queue_pop(c.q, &v, 0)) assert_int_equal(v, expect++); /* every item, in order */
        if (vkn_queue_closed(c.q) && vkn_queue_count(c.q) == 0) break;
    }
    pthread_join(th, NULL);
    assert_int_equal(expect, c.n + 1);
    const snap *sn = vkn_mailbox_take(c.mb, NULL);
    assert_int_equal(sn->step, c.n); /* the newest wins */
    assert_int_equal(vkn_queue_dropped(c.q), 0);
    /* a full queue drops its oldest item; pop with a timeout returns false when empty */
    vkn_queue *q;
    assert_int_equal(vkn_queue_create(&q, sizeof(int), 3), VKN_OK);
    for (int i = 0; i < 5; i++) vkn_queue_push(q, &i);
    assert_int_equal(vkn_queue_dropped(q), 2);
    int v;
    assert_true(vkn_queue_pop(q, &v, 0));
    assert_int_equal(v, 2);
    assert_true(vkn_queue_pop(q, &v, 0) && vkn_queue_pop(q, &v, 0));
    assert_int_equal(v, 4);
    assert_false(vkn_queue_pop(q, &v, 20));
    vkn_queue_destroy(q);
    assert_int_equal(vkn_queue_create(&q, 0, 3), VKN_ERR_ARG);
    vkn_queue_destroy(c.q);
    vkn_mailbox_destroy(c.mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_layout), cmocka_unit_test(test_ticks),   cmocka_unit_test(test_chart_range),
        cmocka_unit_test(test_rects),       cmocka_unit_test(test_history), cmocka_unit_test(test_progress),
        cmocka_unit_test(test_mailbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
