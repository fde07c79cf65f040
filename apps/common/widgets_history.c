/* A history of grid snapshots (stored as 8-bit images) and a scrubber to look back through them.
 * When the history is full, every other snapshot of its older half is dropped, so it keeps covering
 * the whole run at a coarser spacing. */
#include "viewer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vkn_status vkn_history_init(vkn_history *h, int cap)
{
    memset(h, 0, sizeof *h);
    if (cap < 2) cap = 2;
    h->snaps = calloc((size_t)cap, sizeof *h->snaps);
    if (!h->snaps) return vkn_status_set(VKN_ERR_HOST_OOM, "history: out of memory");
    h->cap = cap;
    h->cursor = -1;
    return VKN_OK;
}

static void snap_free(vkn_snapshot *s)
{
    free(s->pixels);
    free(s->borders);
    memset(s, 0, sizeof *s);
}

void vkn_history_free(vkn_history *h)
{
    for (int i = 0; i < h->n; i++) snap_free(&h->snaps[i]);
    free(h->snaps);
    memset(h, 0, sizeof *h);
}

vkn_status vkn_history_push(vkn_history *h, int64_t step, const vkn_grid *g)
{
    if (!g->images || g->n <= 0 || (g->c != 1 && g->c != 3) || g->h <= 0 || g->w <= 0)
        return vkn_status_set(VKN_ERR_ARG, "history: a snapshot needs n >= 1 images of 1 or 3 channels");
    if (h->n == h->cap) {
        int half = h->n / 2, k = 0;
        for (int i = 0; i < h->n; i++) {
            if (i < half && (i & 1)) {
                snap_free(&h->snaps[i]);
                if (h->cursor == i) h->cursor = k > 0 ? k - 1 : 0;
                continue;
            }
            if (h->cursor == i) h->cursor = k;
            h->snaps[k++] = h->snaps[i];
        }
        for (int i = k; i < h->n; i++) memset(&h->snaps[i], 0, sizeof h->snaps[i]);
        h->n = k;
    }
    size_t count = (size_t)g->n * g->c * g->h * g->w;
    vkn_snapshot s = {step, g->n, g->c, g->h, g->w, g->rows, g->cols, malloc(count), NULL};
    if (!s.pixels) return vkn_status_set(VKN_ERR_HOST_OOM, "history: out of memory");
    for (size_t i = 0; i < count; i++) {
        float f = (g->images[i] + 1.f) * 127.5f;
        s.pixels[i] = !(f > 0.f) ? 0 : f >= 255.f ? 255 : (uint8_t)(f + 0.5f);
    }
    if (g->borders) {
        s.borders = malloc((size_t)g->n * sizeof *s.borders);
        if (!s.borders) {
            free(s.pixels);
            return vkn_status_set(VKN_ERR_HOST_OOM, "history: out of memory");
        }
        memcpy(s.borders, g->borders, (size_t)g->n * sizeof *s.borders);
    }
    h->snaps[h->n++] = s;
    return VKN_OK;
}

const vkn_snapshot *vkn_history_current(const vkn_history *h)
{
    if (h->n == 0) return NULL;
    return &h->snaps[h->cursor >= 0 && h->cursor < h->n ? h->cursor : h->n - 1];
}

void vkn_history_move(vkn_history *h, int delta)
{
    if (h->n == 0) return;
    int cur = h->cursor < 0 ? h->n - 1 : h->cursor;
    cur += delta;
    if (cur < 0) cur = 0;
    h->cursor = cur >= h->n - 1 ? -1 : cur; /* the newest snapshot is the live view */
}

void vkn_history_go_live(vkn_history *h) { h->cursor = -1; }

bool vkn_ui_scrubber(vkn_ui *ui, vkn_rect r, vkn_history *h)
{
    vkn_canvas *c = ui->canvas;
    float spx = ui->small_px;
    int old = h->cursor;
    /* layout: "step 0" | track | "LIVE" badge */
    int badge_w = (int)ceilf(vkn_font_width(ui->bold, spx, "LIVE")) + 14;
    vkn_rect badge = {r.x + r.w - badge_w, r.y + (r.h - 18) / 2, badge_w, 18};
    vkn_rect track = {r.x + 8, r.y, r.w - badge_w - 22, r.h};
    int ty = r.y + r.h / 2;
    bool live = h->cursor < 0;
    vkn_canvas_round_rect(c, badge, 4, live ? VKN_COL_GOOD : VKN_COL_BORDER);
    vkn_canvas_text(c, ui->bold, spx, badge.x + badge.w * 0.5f, badge.y + badge.h * 0.5f,
                    VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, live ? 0x0e1a12ffu : VKN_COL_DIM, "LIVE");
    vkn_canvas_round_rect(c, (vkn_rect){track.x, ty - 2, track.w, 4}, 2, VKN_COL_BORDER);
    if (h->n == 0 || track.w < 4) return false;

    int64_t s0 = h->snaps[0].step, s1 = h->snaps[h->n - 1].step;
    double span = s1 > s0 ? (double)(s1 - s0) : 1.0;
#define SX(i) (track.x + (float)((h->snaps[i].step - s0) / span) * (track.w - 1) + 0.5f)
    /* input: press on the track or the badge; drag while held */
    const vkn_input *in = &ui->in;
    if (in->mouse_pressed && vkn_rect_contains(badge, in->mouse_x, in->mouse_y)) h->cursor = -1;
    else if (in->mouse_pressed && vkn_rect_contains(vkn_rect_inset(track, -6), in->mouse_x, in->mouse_y)) ui->active = h;
    if (ui->active == h) {
        if (in->mouse_down || in->mouse_pressed) {
            int best = 0;
            float bd = 1e30f;
            for (int i = 0; i < h->n; i++) {
                float d = fabsf(SX(i) - in->mouse_x);
                if (d < bd) bd = d, best = i;
            }
            h->cursor = (best == h->n - 1 && in->mouse_x > track.x + track.w - 3) ? -1 : best;
        }
        if (!in->mouse_down) ui->active = NULL;
    }
    int cur = h->cursor < 0 ? h->n - 1 : h->cursor;
    /* filled part up to the cursor, a tick per snapshot, the knob */
    float kx = SX(cur);
    vkn_canvas_round_rect(c, (vkn_rect){track.x, ty - 2, (int)(kx - track.x) + 1, 4}, 2, VKN_ALPHA(VKN_COL_ACCENT, 0x90));
    int last_tick = -100;
    for (int i = 0; i < h->n; i++) {
        int x = (int)SX(i);
        if (x - last_tick < 3) continue;
        vkn_canvas_vline(c, x, ty + 5, ty + 8, VKN_COL_DIM);
        last_tick = x;
    }
    vkn_canvas_marker(c, VKN_MARK_CIRCLE, kx, (float)ty + 0.5f, 6.f, VKN_COL_ACCENT, 0xffffffffu);
    char buf[48];
    snprintf(buf, sizeof buf, "%lld", (long long)s0);
    vkn_canvas_text(c, ui->sans, spx, (float)track.x, (float)(ty - 9), VKN_ALIGN_BOTTOM, VKN_COL_DIM, buf);
    snprintf(buf, sizeof buf, "%lld", (long long)s1);
    vkn_canvas_text(c, ui->sans, spx, (float)(track.x + track.w), (float)(ty - 9), VKN_ALIGN_RIGHT | VKN_ALIGN_BOTTOM, VKN_COL_DIM, buf);
    if (!live) {
        snprintf(buf, sizeof buf, "step %lld", (long long)h->snaps[cur].step);
        vkn_canvas_text(c, ui->bold, spx, kx, (float)(ty - 9), VKN_ALIGN_CENTER | VKN_ALIGN_BOTTOM, VKN_COL_ACCENT, buf);
    }
#undef SX
    return h->cursor != old;
}

vkn_grid_layout vkn_ui_history_grid(vkn_ui *ui, vkn_rect r, const vkn_history *h, const char *const *col_labels,
                                    const char *const *row_labels)
{
    vkn_grid_layout L = {0};
    const vkn_snapshot *s = vkn_history_current(h);
    if (!s) {
        vkn_canvas_text(ui->canvas, ui->sans, ui->text_px, r.x + r.w * 0.5f, r.y + r.h * 0.5f,
                        VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_DIM, "no snapshot yet");
        return L;
    }
    size_t count = (size_t)s->n * s->c * s->h * s->w;
    float *img = malloc(count * sizeof *img);
    if (!img) return L;
    for (size_t i = 0; i < count; i++) img[i] = s->pixels[i] * (2.f / 255.f) - 1.f;
    vkn_grid g = {img, s->n, s->c, s->h, s->w, s->rows, s->cols, s->borders, NULL, col_labels, row_labels, -1, true};
    L = vkn_ui_grid(ui, r, &g);
    free(img);
    return L;
}
