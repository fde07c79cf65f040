/* vkn_viewer: the live viewer shared by the demo apps (vkn-cgan, vkn-da).
 *
 * Everything is drawn by the CPU into one RGBA framebuffer (vkn_canvas), so a window, a headless run
 * and a screenshot show the same pixels. The window (SDL2) only uploads that framebuffer to a texture.
 *
 *   canvas.c          framebuffer: rects, anti-aliased lines and markers, clipping, image blits
 *   font.c            TrueType text (stb_truetype, DejaVu from Debian's fonts-dejavu-core), glyph cache
 *   widgets_*.c       panels, sample grid, line and bar charts, key-value and table panels, scatter plot,
 *                     snapshot history with a scrubber
 *   window.c          SDL2 window, key bindings -> app actions, quit on close / Ctrl-C, frame pacing
 *   headless.c        display detection, PNG screenshots
 *   progress.c        one-line terminal progress bar for headless runs
 *   mailbox.c         hand-off between a training thread and the UI thread
 *
 * Threads. Canvas, fonts, widgets and the window belong to the UI thread (the one that called
 * vkn_view_open). Training runs in a worker pthread and talks to the UI through a vkn_mailbox (latest
 * snapshot wins: grids, statistics) and vkn_queue (every item delivered in order: metric rows one way,
 * commands such as pause/step/save/quit the other way). See vkn-viewer-demo.c for the whole pattern.
 *
 * Colours are 0xRRGGBBAA. Failing calls return a vkn_status with a detail (vkn_status_detail()). */
#ifndef VKN_VIEWER_H
#define VKN_VIEWER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vkn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------ */
/* colours and theme                                                                                 */

typedef uint32_t vkn_color; /* 0xRRGGBBAA */
#define VKN_RGB(r, g, b) ((vkn_color)(((uint32_t)(r) << 24) | ((uint32_t)(g) << 16) | ((uint32_t)(b) << 8) | 0xffu))
#define VKN_RGBA(r, g, b, a) ((vkn_color)(((uint32_t)(r) << 24) | ((uint32_t)(g) << 16) | ((uint32_t)(b) << 8) | (uint32_t)(a)))
#define VKN_ALPHA(col, a) ((vkn_color)(((col) & 0xffffff00u) | ((uint32_t)(a) & 0xffu)))

/* The dark theme. */
#define VKN_COL_BG      0x15171cffu /* window background */
#define VKN_COL_PANEL   0x1e2129ffu /* panel background */
#define VKN_COL_BORDER  0x2d313cffu /* panel border, separators */
#define VKN_COL_GRID    0x2a2e38ffu /* chart grid lines */
#define VKN_COL_TEXT    0xe6e8edffu /* main text */
#define VKN_COL_DIM     0x8b91a0ffu /* labels, ticks */
#define VKN_COL_ACCENT  0x5aa9f5ffu /* highlights, the selection */
#define VKN_COL_GOOD    0x4cc38affu /* right prediction */
#define VKN_COL_BAD     0xef5b5bffu /* wrong prediction */
#define VKN_COL_WARN    0xf0b44cffu

/* Ten distinct colours for classes / series on the dark background (i wraps around). */
vkn_color vkn_palette(int i);

/* ------------------------------------------------------------------------------------------------ */
/* canvas.c: the RGBA framebuffer                                                                    */

typedef struct vkn_rect { int x, y, w, h; } vkn_rect;

/* A drawn text's box (tests check layouts with it: labels that do not overlap, text inside panels). */
typedef struct vkn_text_box {
    vkn_rect box;   /* the pen's extent: width x (ascent + descent) from the anchor */
    vkn_rect clip;  /* the clip in force when it was drawn */
    char text[40];  /* its start */
} vkn_text_box;

typedef struct vkn_canvas {
    int w, h;
    uint8_t *px;   /* w*h*4 bytes, rows top to bottom, bytes R,G,B,A (SDL_PIXELFORMAT_RGBA32) */
    vkn_rect clip; /* drawing is limited to this rectangle */
    vkn_text_box *text_log; /* when set (by a test): vkn_canvas_text records up to text_cap boxes */
    int text_n, text_cap;
} vkn_canvas;

vkn_status vkn_canvas_init(vkn_canvas *c, int w, int h);
vkn_status vkn_canvas_resize(vkn_canvas *c, int w, int h); /* contents are cleared to VKN_COL_BG */
void vkn_canvas_free(vkn_canvas *c);

void vkn_canvas_clear(vkn_canvas *c, vkn_color col);
void vkn_canvas_set_clip(vkn_canvas *c, vkn_rect r); /* intersected with the canvas */
void vkn_canvas_reset_clip(vkn_canvas *c);
vkn_color vkn_canvas_get(const vkn_canvas *c, int x, int y); /* 0 outside */

/* Blend col into one pixel with extra coverage 0..1 (alpha of col times coverage). */
void vkn_canvas_blend(vkn_canvas *c, int x, int y, vkn_color col, float coverage);
void vkn_canvas_fill_rect(vkn_canvas *c, vkn_rect r, vkn_color col);
void vkn_canvas_rect(vkn_canvas *c, vkn_rect r, vkn_color col, int thickness); /* outline, inside r */
void vkn_canvas_round_rect(vkn_canvas *c, vkn_rect r, int radius, vkn_color col); /* filled, AA corners */
void vkn_canvas_hline(vkn_canvas *c, int x0, int x1, int y, vkn_color col);   /* [x0, x1] */
void vkn_canvas_vline(vkn_canvas *c, int x, int y0, int y1, vkn_color col);   /* [y0, y1] */
/* Anti-aliased line of the given width (pixel centres are at +0.5). */
void vkn_canvas_line(vkn_canvas *c, float x0, float y0, float x1, float y1, float width, vkn_color col);
void vkn_canvas_polyline(vkn_canvas *c, const float *xy, int n, float width, vkn_color col); /* n points */
void vkn_canvas_dashed_hline(vkn_canvas *c, int x0, int x1, int y, int dash, vkn_color col);

typedef enum vkn_marker {
    VKN_MARK_CIRCLE, VKN_MARK_RING, VKN_MARK_SQUARE, VKN_MARK_TRIANGLE, VKN_MARK_DIAMOND, VKN_MARK_CROSS
} vkn_marker;
/* A marker of radius r centred at (x, y); outline 0 means none. */
void vkn_canvas_marker(vkn_canvas *c, vkn_marker m, float x, float y, float r, vkn_color fill,
                       vkn_color outline);

/* Nearest-neighbour blit of an RGBA8 image (sw x sh, same byte order as the canvas) into dst. */
void vkn_canvas_blit_rgba(vkn_canvas *c, const uint8_t *src, int sw, int sh, vkn_rect dst);
/* Nearest-neighbour blit of one float image [C,H,W] in [-1, 1] (C = 1 grey or 3 RGB) into dst. */
void vkn_canvas_blit_float(vkn_canvas *c, const float *img, int ch, int h, int w, vkn_rect dst);

/* headless.c: the canvas as an RGB PNG (written atomically: vkn_io_write_file). */
vkn_status vkn_canvas_write_png(const vkn_canvas *c, const char *path);

/* ------------------------------------------------------------------------------------------------ */
/* font.c: TrueType text                                                                             */

typedef struct vkn_font vkn_font;

typedef enum vkn_font_face { VKN_FONT_SANS, VKN_FONT_BOLD, VKN_FONT_MONO } vkn_font_face;

/* Load a TTF file. vkn_font_load_face uses the DejaVu fonts of the Debian package fonts-dejavu-core
 * (VKN_FONT_DIR overrides the folder); a missing file is VKN_ERR_IO naming the package. */
vkn_status vkn_font_load(vkn_font **out, const char *path);
vkn_status vkn_font_load_face(vkn_font **out, vkn_font_face face);
void vkn_font_free(vkn_font *f);

typedef enum vkn_align {
    VKN_ALIGN_LEFT = 0, VKN_ALIGN_CENTER = 1, VKN_ALIGN_RIGHT = 2, /* horizontal, relative to x */
    VKN_ALIGN_TOP = 0, VKN_ALIGN_MIDDLE = 4, VKN_ALIGN_BOTTOM = 8  /* vertical, relative to y */
} vkn_align;

/* Width in pixels of UTF-8 text at size px (em size); line height and ascent at that size. */
float vkn_font_width(vkn_font *f, float px, const char *text);
float vkn_font_line_height(vkn_font *f, float px);
float vkn_font_ascent(vkn_font *f, float px);
/* Draw UTF-8 text; (x, y) is the anchor chosen by align (a vkn_align combination). Returns the width. */
float vkn_canvas_text(vkn_canvas *c, vkn_font *f, float px, float x, float y, int align, vkn_color col,
                      const char *text);
/* Render text into an 8-bit coverage image (w x h, zeroed first), centred: used for synthetic glyphs. */
void vkn_font_render_gray(vkn_font *f, float px, const char *text, uint8_t *out, int w, int h);

/* ------------------------------------------------------------------------------------------------ */
/* widgets: the UI context                                                                           */

typedef struct vkn_input {
    int mouse_x, mouse_y;
    bool mouse_down;     /* left button held */
    bool mouse_pressed;  /* went down this frame */
    bool mouse_released; /* went up this frame */
    int wheel;           /* wheel steps this frame (+ up) */
} vkn_input;

/* What every widget draws with: the canvas, three faces, sizes, the frame's mouse input and the
 * widget that owns a mouse drag. Owned by a vkn_view, or set up alone with vkn_ui_init (headless). */
typedef struct vkn_ui {
    vkn_canvas *canvas;
    vkn_font *sans, *bold, *mono;
    float text_px;  /* body text (13) */
    float small_px; /* ticks, captions (11) */
    float title_px; /* panel titles (13, bold) */
    vkn_input in;
    const void *active; /* the widget being dragged, or NULL */
} vkn_ui;

vkn_status vkn_ui_init(vkn_ui *ui, vkn_canvas *canvas); /* loads the three DejaVu faces */
void vkn_ui_free(vkn_ui *ui);

/* printf-style text with the sans face at text_px (use vkn_canvas_text for other faces/sizes). */
float vkn_ui_text(vkn_ui *ui, float x, float y, int align, vkn_color col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Layout helpers: split r, cutting `size` pixels (plus gap) off one side; the rest stays in *r. */
vkn_rect vkn_rect_cut_top(vkn_rect *r, int size, int gap);
vkn_rect vkn_rect_cut_bottom(vkn_rect *r, int size, int gap);
vkn_rect vkn_rect_cut_left(vkn_rect *r, int size, int gap);
vkn_rect vkn_rect_cut_right(vkn_rect *r, int size, int gap);
vkn_rect vkn_rect_inset(vkn_rect r, int d);
bool vkn_rect_contains(vkn_rect r, int x, int y);

/* A panel: background, border, an optional title (and right-aligned note); returns the content rect. */
vkn_rect vkn_ui_panel(vkn_ui *ui, vkn_rect r, const char *title, const char *note);

/* ---- widgets_grid.c: sample grid -------------------------------------------------------------- */

typedef struct vkn_grid {
    const float *images;          /* [n, c, h, w] in [-1, 1] */
    int n, c, h, w;               /* c is 1 or 3 */
    int rows, cols;               /* cell i is at (i / cols, i % cols); rows*cols may exceed n */
    const vkn_color *borders;     /* n border colours (0 = none), or NULL */
    const char *const *captions;  /* n captions under the cells (NULL entries allowed), or NULL */
    const char *const *col_labels;/* cols labels above the columns, or NULL */
    const char *const *row_labels;/* rows labels left of the rows, or NULL */
    int highlight;                /* index of a cell drawn with an accent frame, or -1 */
    bool fill;                    /* zoom by a non-integer factor to fill r (thumbnails in small panels) */
} vkn_grid;

typedef struct vkn_grid_layout {
    int scale;          /* integer zoom of each image (>= 1 when it fits) */
    int cell_w, cell_h; /* cell pitch in pixels (image + padding + caption) */
    int x0, y0;         /* top-left of cell (0, 0)'s image */
    int img_w, img_h;   /* image size on screen = w*scale, h*scale */
    int label_w, label_h; /* room kept for row labels (left) and column labels (top) */
} vkn_grid_layout;

/* Largest integer scale that fits the grid in r (at least 1), centred. */
vkn_grid_layout vkn_grid_compute_layout(vkn_rect r, int rows, int cols, int h, int w, bool captions,
                                        bool col_labels, bool row_labels, float caption_px);
/* The cell under (x, y) or -1 (for clicks: pick a class column). */
int vkn_grid_hit(const vkn_grid_layout *L, int rows, int cols, int x, int y);
/* Draws the grid in r; returns its layout. */
vkn_grid_layout vkn_ui_grid(vkn_ui *ui, vkn_rect r, const vkn_grid *g);

/* ---- widgets_chart.c: line charts ------------------------------------------------------------- */

#define VKN_CHART_MAX_SERIES 8

typedef struct vkn_series {
    char name[32];
    vkn_color color;
    float *x, *y;
    int n, cap;
    bool hidden;
} vkn_series;

typedef struct vkn_chart {
    char title[64];
    char x_label[32];
    vkn_series series[VKN_CHART_MAX_SERIES];
    int nseries;
    bool log_y;       /* logarithmic y axis (values <= 0 are skipped) */
    int smooth;       /* moving-average window in points (0/1: off); raw curve drawn faint behind */
    bool fixed_y;     /* use y_min, y_max instead of auto-scaling (e.g. accuracy 0..1) */
    double y_min, y_max;
    int max_points;   /* per series; when reached, every other old point is dropped (0: 1<<20) */
} vkn_chart;

void vkn_chart_init(vkn_chart *ch, const char *title, const char *x_label);
void vkn_chart_free(vkn_chart *ch);
int vkn_chart_add_series(vkn_chart *ch, const char *name, vkn_color color); /* index, or -1 when full */
vkn_status vkn_chart_push(vkn_chart *ch, int series, float x, float y);    /* non-finite y is skipped */
void vkn_chart_clear(vkn_chart *ch);                                        /* keeps the series */

/* Auto-scaling: the visible data range (smoothed when smooth > 1) padded to nice tick values.
 * Returns false when there is no data; then x and y fall back to [0, 1]. */
bool vkn_chart_range(const vkn_chart *ch, double *x_lo, double *x_hi, double *y_lo, double *y_hi);
/* Nice ticks ("1, 2, 5 x 10^k") covering [lo, hi]: widens lo/hi to multiples of the step and writes at
 * most max_ticks values; returns the count (and *step). */
int vkn_nice_ticks(double *lo, double *hi, int max_ticks, double *ticks, double *step);
/* A compact tick label: 1200 -> "1.2k", 0.0005 -> "5e-4", 0.25 -> "0.25". */
void vkn_format_tick(double v, double step, char *buf, size_t n);

void vkn_ui_chart(vkn_ui *ui, vkn_rect r, const vkn_chart *ch);

/* ---- widgets_bars.c: bar chart / histogram ---------------------------------------------------- */

#define VKN_BARS_MAX_SERIES 4

typedef struct vkn_bars {
    const char *title;
    int n;                                  /* number of categories */
    int nseries;                            /* grouped bars per category (1 .. 4) */
    const float *values[VKN_BARS_MAX_SERIES];
    const char *series_names[VKN_BARS_MAX_SERIES]; /* legend, or NULL */
    vkn_color colors[VKN_BARS_MAX_SERIES];  /* 0: palette */
    const vkn_color *bar_colors;            /* per-category colours for a single series, or NULL */
    const char *const *labels;              /* n category labels, or NULL (0 .. n-1) */
    float y_max;                            /* 0: auto */
    const char *value_fmt;                  /* value labels above bars (e.g. "%.0f%%"), or NULL */
    float ref_line;                         /* dashed reference line (e.g. uniform share), <= 0: none */
} vkn_bars;

void vkn_ui_bars(vkn_ui *ui, vkn_rect r, const vkn_bars *b);

/* ---- widgets_panel.c: key-value panel and statistics table ------------------------------------ */

typedef struct vkn_kv {
    vkn_ui *ui;
    vkn_rect r;   /* content rect */
    int y;        /* next line */
    int key_w;    /* key column width */
} vkn_kv;

/* vkn_kv p = vkn_ui_kv_begin(ui, r, "Training"); vkn_ui_kv(&p, 0, "step", "%d", step); ... */
vkn_kv vkn_ui_kv_begin(vkn_ui *ui, vkn_rect r, const char *title);
void vkn_ui_kv(vkn_kv *p, vkn_color value_color /* 0: text */, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void vkn_ui_kv_separator(vkn_kv *p);

typedef struct vkn_table {
    const char *title;
    int rows, cols;
    const char *const *col_headers; /* cols, or NULL */
    const char *const *row_headers; /* rows, or NULL */
    const float *values;            /* rows * cols, row-major; NaN prints "-" */
    const char *fmt;                /* "%.3f" when NULL */
    const vkn_color *colors;        /* rows * cols text colours (0 = default), or NULL */
    int *scroll;                    /* first row shown, kept by the caller (the wheel over the table
                                     * moves it; clamped here), or NULL: the rows that fit from the top */
} vkn_table;

void vkn_ui_table(vkn_ui *ui, vkn_rect r, const vkn_table *t);

/* ---- widgets_scatter.c: 2-D scatter (e.g. PCA of features) ------------------------------------ */

typedef struct vkn_scatter {
    const char *title;
    int n;
    const float *xy;                /* n (x, y) pairs */
    const int *cls;                 /* n class ids -> palette colour, or NULL */
    const int *group;               /* n group ids (e.g. domain) -> marker, or NULL */
    int nclasses, ngroups;
    const char *const *class_names; /* legend, or NULL */
    const char *const *group_names; /* legend, or NULL */
    float radius;                   /* marker radius, 0: 3 */
} vkn_scatter;

/* Group g is drawn with vkn_scatter_marker(g): filled circle, ring, triangle, square, ... */
vkn_marker vkn_scatter_marker(int group);
void vkn_ui_scatter(vkn_ui *ui, vkn_rect r, const vkn_scatter *s);

/* ---- widgets_history.c: snapshots of grids with a scrubber ------------------------------------ */

typedef struct vkn_snapshot {
    int64_t step;
    int n, c, h, w, rows, cols;
    uint8_t *pixels;      /* n*c*h*w, images mapped from [-1, 1] to 0..255 */
    vkn_color *borders;   /* n, or NULL */
} vkn_snapshot;

typedef struct vkn_history {
    vkn_snapshot *snaps;
    int n, cap;
    int cursor;     /* shown snapshot, or -1: follow the latest ("live") */
} vkn_history;

/* cap snapshots at most; when full, every other one of the older half is dropped so the history
 * keeps spanning the whole run. */
vkn_status vkn_history_init(vkn_history *h, int cap);
void vkn_history_free(vkn_history *h);
vkn_status vkn_history_push(vkn_history *h, int64_t step, const vkn_grid *g);
const vkn_snapshot *vkn_history_current(const vkn_history *h); /* cursor's (or latest), NULL if empty */
void vkn_history_move(vkn_history *h, int delta);               /* arrows; moving past the end = live */
void vkn_history_go_live(vkn_history *h);
/* Timeline with a tick per snapshot; click/drag to scrub. Returns true when the cursor changed. */
bool vkn_ui_scrubber(vkn_ui *ui, vkn_rect r, vkn_history *h);
/* Draw the current snapshot as a grid (borders kept), titled with its step. */
vkn_grid_layout vkn_ui_history_grid(vkn_ui *ui, vkn_rect r, const vkn_history *h,
                                    const char *const *col_labels, const char *const *row_labels);

/* ------------------------------------------------------------------------------------------------ */
/* window.c: the view (a window, or a headless canvas)                                                */

typedef struct vkn_view vkn_view;

/* Keys: printable ASCII keys are their lower-case character ('a', '0', ' '); others below. */
enum {
    VKN_KEY_ESCAPE = 0x100, VKN_KEY_ENTER, VKN_KEY_TAB, VKN_KEY_BACKSPACE,
    VKN_KEY_LEFT, VKN_KEY_RIGHT, VKN_KEY_UP, VKN_KEY_DOWN,
    VKN_KEY_HOME, VKN_KEY_END, VKN_KEY_PAGEUP, VKN_KEY_PAGEDOWN,
    VKN_KEY_F1, VKN_KEY_F2, VKN_KEY_F3, VKN_KEY_F4, VKN_KEY_F5, VKN_KEY_F6,
    VKN_KEY_F7, VKN_KEY_F8, VKN_KEY_F9, VKN_KEY_F10, VKN_KEY_F11, VKN_KEY_F12
};
enum { VKN_MOD_SHIFT = 1, VKN_MOD_CTRL = 2, VKN_MOD_ALT = 4 };

/* Action ids are the app's (>= 0). VKN_ACTION_QUIT is delivered when the window is closed or SIGINT
 * (Ctrl-C) arrives; the app should checkpoint and exit. A second Ctrl-C ends the process at once. */
#define VKN_ACTION_QUIT (-1)

/* Called on the UI thread from vkn_view_poll for each bound key press (and auto-repeat) and for quit. */
typedef void (*vkn_action_fn)(void *user, int action, int key, int mods);

typedef struct vkn_view_config {
    const char *title;   /* window title */
    int width, height;   /* canvas size (0: 1280 x 800) */
    bool headless;       /* force headless (no window even when a display exists) */
    int fps;             /* frame cap in vkn_view_present (0: 30; drawing a full 1280x800 frame costs
                          * ~10 ms of CPU, so keep it modest while training shares the cores) */
    vkn_action_fn on_action;
    void *user;
    bool quiet;          /* do not print the "no display: headless" note (the frame statistics a window
                          * prints when it closes are always printed) */
} vkn_view_config;

/* Opens a window, or a headless view when forced, when DISPLAY and WAYLAND_DISPLAY are both unset, or
 * when SDL's video cannot start (the reason is printed once). Installs the SIGINT handler. */
vkn_status vkn_view_open(vkn_view **out, const vkn_view_config *cfg);
void vkn_view_close(vkn_view *v);

bool vkn_view_headless(const vkn_view *v);
vkn_ui *vkn_view_ui(vkn_view *v);
vkn_canvas *vkn_view_canvas(vkn_view *v);

/* Bind key (+ exact modifiers) to an action; `label` appears in the key bar ("pause"). Rebinding a
 * key replaces it. Up to 64 bindings. */
vkn_status vkn_view_bind(vkn_view *v, int key, int mods, int action, const char *label);
/* Processes pending events: input state, resizes (the canvas follows the window), bound keys
 * (callbacks). Returns false once a quit was requested (close, SIGINT, or vkn_view_request_quit). */
bool vkn_view_poll(vkn_view *v);
void vkn_view_request_quit(vkn_view *v);
bool vkn_view_quit_requested(const vkn_view *v);
/* Shows the canvas (window) and waits for the next frame slot; headless: returns at once. */
void vkn_view_present(vkn_view *v);
/* The current canvas as PNG (both modes). */
vkn_status vkn_view_screenshot(vkn_view *v, const char *path);
/* A one-line key bar from the bindings ("space pause   n step   s save PNG ..."). */
void vkn_view_draw_keybar(vkn_view *v, vkn_rect r);
/* Frames presented, and the measured presentation rate over the last second. */
int64_t vkn_view_frames(const vkn_view *v);
float vkn_view_fps(const vkn_view *v);

/* headless.c */
/* True when a display server is advertised (DISPLAY or WAYLAND_DISPLAY set). */
bool vkn_display_available(void);

/* SIGINT, SIGTERM and SIGHUP -> a flag: stop cleanly (installed by vkn_view_open; call it first thing in
 * apps that train, so a signal during setup is not lost). The second such signal restores the default
 * action and re-raises it. SIGPIPE is ignored. */
void vkn_sigint_install(void);
bool vkn_sigint_pending(void);
/* The first stop signal received (SIGINT, SIGTERM, SIGHUP), 0 when none: apps exit with 128 + it after
 * their checkpoint, as a shell reports a process ended by that signal. */
int vkn_stop_signal(void);
const char *vkn_signal_name(int sig);   /* "SIGTERM" */

/* Seconds from a monotonic clock. */
double vkn_now(void);

/* ------------------------------------------------------------------------------------------------ */
/* progress.c: the terminal progress line                                                             */

typedef struct vkn_progress {
    FILE *out;
    int64_t total;       /* steps in the run */
    int64_t first_step;  /* step at the first update (resume-aware ETA) */
    double t_first;      /* time of the first update */
    double t_last_print;
    double interval;     /* seconds between lines when not a TTY (default 10) */
    bool tty;
    bool started, open_line; /* a bar is on the current TTY line */
    char label[32];
} vkn_progress;

/* out NULL: stderr. Line mode is chosen when out is not a TTY (or TERM=dumb). */
void vkn_progress_init(vkn_progress *p, const char *label, int64_t total, FILE *out);
/* Refresh with the step reached, ms per step (<= 0: measured) and free text (losses, metrics).
 * Throttled: at most 10 redraws a second on a TTY, one line per interval otherwise. */
void vkn_progress_update(vkn_progress *p, int64_t step, double ms_per_step, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Print a message on its own line (the bar is redrawn below it on the next update). */
void vkn_progress_log(vkn_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Final line (always printed) and newline. */
void vkn_progress_finish(vkn_progress *p, int64_t step, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The line itself, for tests and logs: bar only when bar_w > 0. */
void vkn_progress_format(const vkn_progress *p, int64_t step, double ms_per_step, double now,
                         const char *extra, int bar_w, char *buf, size_t n);
/* "4m05s", "1h02m", "12s". */
void vkn_format_duration(double seconds, char *buf, size_t n);

/* ------------------------------------------------------------------------------------------------ */
/* mailbox.c: worker <-> UI                                                                          */

/* Latest-wins triple buffer of fixed-size snapshots. The worker fills vkn_mailbox_back() and calls
 * vkn_mailbox_post(); the UI calls vkn_mailbox_take(), which returns the newest posted snapshot (or
 * NULL before the first post) without blocking the worker. Neither side copies: the three slots
 * rotate. A slot handed to one side is never touched by the other until handed back. The back slot
 * holds stale contents (an older snapshot): the worker rewrites every field it posts. */
typedef struct vkn_mailbox vkn_mailbox;
vkn_status vkn_mailbox_create(vkn_mailbox **out, size_t slot_bytes);
void vkn_mailbox_destroy(vkn_mailbox *mb);
void *vkn_mailbox_back(vkn_mailbox *mb);                   /* worker */
void vkn_mailbox_post(vkn_mailbox *mb);                    /* worker */
const void *vkn_mailbox_take(vkn_mailbox *mb, bool *fresh); /* UI: fresh = new since last take */
/* UI: wait up to timeout_ms for a post newer than the last take (headless rendering). */
bool vkn_mailbox_wait(vkn_mailbox *mb, int timeout_ms);

/* A bounded FIFO of fixed-size items (metric rows worker -> UI, commands UI -> worker). push never
 * blocks: when full the oldest item is dropped (counted). pop waits up to timeout_ms (0: poll, <0:
 * forever); close wakes every waiter. */
typedef struct vkn_queue vkn_queue;
vkn_status vkn_queue_create(vkn_queue **out, size_t item_bytes, int capacity);
void vkn_queue_destroy(vkn_queue *q);
void vkn_queue_push(vkn_queue *q, const void *item);
bool vkn_queue_pop(vkn_queue *q, void *item, int timeout_ms);
int vkn_queue_count(vkn_queue *q);
int64_t vkn_queue_dropped(vkn_queue *q);
void vkn_queue_close(vkn_queue *q);
bool vkn_queue_closed(vkn_queue *q);

#ifdef __cplusplus
}
#endif
#endif
