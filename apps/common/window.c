/* The view: an SDL2 window showing the canvas through a streaming texture, or a headless canvas.
 * Key presses become app actions through the binding table; closing the window or SIGINT becomes
 * VKN_ACTION_QUIT. Frames are paced to the configured rate. */
#include "viewer.h"

#include <SDL.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BINDINGS 64

typedef struct binding {
    int key, mods, action;
    char label[32];
} binding;

struct vkn_view {
    vkn_view_config cfg;
    vkn_canvas canvas;
    vkn_ui ui;
    bool headless, quit, quit_delivered;
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int tex_w, tex_h;
    binding binds[MAX_BINDINGS];
    int nbinds;
    int64_t frames;
    double next_frame, fps_t0;
    int64_t fps_frames0;
    float fps;
    /* frame statistics printed when a window closes: the bar is >= 30 frames/s while training */
    double open_t, last_present_end, worst_second_fps;
    int nsecond;              /* full one-second windows measured */
    float draw_ms[4096];      /* CPU time between two presents (drawing + app work), ring */
    int ndraw;
};

static void note(const vkn_view *v, const char *why)
{
    if (!v->cfg.quiet) fprintf(stderr, "vkn: %s: running headless (PNGs on request, progress on stderr)\n", why);
}

static bool open_window(vkn_view *v)
{
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1"); /* SIGINT is ours (vkn_sigint_install) */
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        char why[300];
        snprintf(why, sizeof why, "no display (SDL video: %s)", SDL_GetError());
        note(v, why);
        return false;
    }
    v->win = SDL_CreateWindow(v->cfg.title ? v->cfg.title : "vknorm", SDL_WINDOWPOS_CENTERED,
                              SDL_WINDOWPOS_CENTERED, v->canvas.w, v->canvas.h, SDL_WINDOW_RESIZABLE);
    if (v->win) {
        v->ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_ACCELERATED);
        if (!v->ren) v->ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_SOFTWARE);
    }
    if (!v->win || !v->ren) {
        char why[300];
        snprintf(why, sizeof why, "cannot open a window (SDL: %s)", SDL_GetError());
        note(v, why);
        if (v->win) SDL_DestroyWindow(v->win);
        v->win = NULL;
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return false;
    }
    SDL_SetWindowMinimumSize(v->win, 640, 400);
    return true;
}

vkn_status vkn_view_open(vkn_view **out, const vkn_view_config *cfg)
{
    *out = NULL;
    vkn_view *v = calloc(1, sizeof *v);
    if (!v) return vkn_status_set(VKN_ERR_HOST_OOM, "view: out of memory");
    v->cfg = *cfg;
    if (v->cfg.fps <= 0) v->cfg.fps = 30;
    int w = cfg->width > 0 ? cfg->width : 1280, h = cfg->height > 0 ? cfg->height : 800;
    vkn_status st = vkn_canvas_init(&v->canvas, w, h);
    if (st == VKN_OK) st = vkn_ui_init(&v->ui, &v->canvas);
    if (st != VKN_OK) {
        vkn_canvas_free(&v->canvas);
        free(v);
        return st;
    }
    vkn_sigint_install();
    if (cfg->headless) v->headless = true;
    else if (!vkn_display_available()) {
        note(v, "no display (DISPLAY and WAYLAND_DISPLAY are unset)");
        v->headless = true;
    } else v->headless = !open_window(v);
    v->next_frame = v->fps_t0 = v->open_t = v->last_present_end = vkn_now();
    v->worst_second_fps = 1e30;
    *out = v;
    return VKN_OK;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void vkn_view_close(vkn_view *v)
{
    if (!v) return;
    if (!v->headless && v->frames > 0) {
        double secs = vkn_now() - v->open_t;
        int n = v->ndraw < (int)(sizeof v->draw_ms / sizeof v->draw_ms[0]) ? v->ndraw
                                                                         : (int)(sizeof v->draw_ms / sizeof v->draw_ms[0]);
        qsort(v->draw_ms, (size_t)n, sizeof v->draw_ms[0], cmp_float);
        fprintf(stderr, "vkn: window: %lld frames in %.1f s (%.1f frames/s", (long long)v->frames, secs,
                (double)v->frames / secs);
        if (v->nsecond > 0) fprintf(stderr, "; slowest full second %.1f", v->worst_second_fps);
        if (n > 0) fprintf(stderr, "; drawing %.1f ms/frame median, %.1f at the 95th percentile", v->draw_ms[n / 2],
                           v->draw_ms[(int)(0.95 * (n - 1))]);
        fprintf(stderr, ")\n");
    }
    if (v->tex) SDL_DestroyTexture(v->tex);
    if (v->ren) SDL_DestroyRenderer(v->ren);
    if (v->win) {
        SDL_DestroyWindow(v->win);
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        SDL_Quit();
    }
    vkn_ui_free(&v->ui);
    vkn_canvas_free(&v->canvas);
    free(v);
}

bool vkn_view_headless(const vkn_view *v) { return v->headless; }
vkn_ui *vkn_view_ui(vkn_view *v) { return &v->ui; }
vkn_canvas *vkn_view_canvas(vkn_view *v) { return &v->canvas; }
int64_t vkn_view_frames(const vkn_view *v) { return v->frames; }
float vkn_view_fps(const vkn_view *v) { return v->fps; }

vkn_status vkn_view_bind(vkn_view *v, int key, int mods, int action, const char *label)
{
    if (key >= 'A' && key <= 'Z') key += 'a' - 'A';
    binding *b = NULL;
    for (int i = 0; i < v->nbinds; i++)
        if (v->binds[i].key == key && v->binds[i].mods == mods) b = &v->binds[i];
    if (!b) {
        if (v->nbinds == MAX_BINDINGS)
            return vkn_status_set(VKN_ERR_ARG, "view: more than %d key bindings", MAX_BINDINGS);
        b = &v->binds[v->nbinds++];
    }
    b->key = key, b->mods = mods, b->action = action;
    snprintf(b->label, sizeof b->label, "%s", label ? label : "");
    return VKN_OK;
}

void vkn_view_request_quit(vkn_view *v) { v->quit = true; }
bool vkn_view_quit_requested(const vkn_view *v) { return v->quit || vkn_sigint_pending(); }

static int map_key(SDL_Keycode k)
{
    switch (k) {
    case SDLK_ESCAPE: return VKN_KEY_ESCAPE;
    case SDLK_RETURN: case SDLK_KP_ENTER: return VKN_KEY_ENTER;
    case SDLK_TAB: return VKN_KEY_TAB;
    case SDLK_BACKSPACE: return VKN_KEY_BACKSPACE;
    case SDLK_LEFT: return VKN_KEY_LEFT;
    case SDLK_RIGHT: return VKN_KEY_RIGHT;
    case SDLK_UP: return VKN_KEY_UP;
    case SDLK_DOWN: return VKN_KEY_DOWN;
    case SDLK_HOME: return VKN_KEY_HOME;
    case SDLK_END: return VKN_KEY_END;
    case SDLK_PAGEUP: return VKN_KEY_PAGEUP;
    case SDLK_PAGEDOWN: return VKN_KEY_PAGEDOWN;
    default: break;
    }
    if (k >= SDLK_F1 && k <= SDLK_F12) return VKN_KEY_F1 + (int)(k - SDLK_F1);
    if (k >= SDLK_KP_1 && k <= SDLK_KP_9) return '1' + (int)(k - SDLK_KP_1);
    if (k == SDLK_KP_0) return '0';
    if (k > 0 && k < 128) return (int)k; /* SDL keycodes of printable keys are their characters */
    return 0;
}

static void deliver(vkn_view *v, int action, int key, int mods)
{
    if (v->cfg.on_action) v->cfg.on_action(v->cfg.user, action, key, mods);
}

static void resize(vkn_view *v, int w, int h)
{
    if (w == v->canvas.w && h == v->canvas.h) return;
    if (vkn_canvas_resize(&v->canvas, w, h) != VKN_OK) return; /* keep the old size */
}

bool vkn_view_poll(vkn_view *v)
{
    vkn_input *in = &v->ui.in;
    in->mouse_pressed = in->mouse_released = false;
    in->wheel = 0;
    if (vkn_sigint_pending()) v->quit = true;
    if (!v->headless) {
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            switch (e.type) {
            case SDL_QUIT: v->quit = true; break;
            case SDL_WINDOWEVENT:
                if (e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) resize(v, e.window.data1, e.window.data2);
                break;
            case SDL_KEYDOWN: {
                int key = map_key(e.key.keysym.sym);
                int m = e.key.keysym.mod, mods = ((m & KMOD_SHIFT) ? VKN_MOD_SHIFT : 0) |
                                                 ((m & KMOD_CTRL) ? VKN_MOD_CTRL : 0) | ((m & KMOD_ALT) ? VKN_MOD_ALT : 0);
                if (!key) break;
                for (int i = 0; i < v->nbinds; i++)
                    if (v->binds[i].key == key && v->binds[i].mods == mods) {
                        deliver(v, v->binds[i].action, key, mods);
                        break;
                    }
                break;
            }
            case SDL_MOUSEMOTION: in->mouse_x = e.motion.x, in->mouse_y = e.motion.y; break;
            case SDL_MOUSEBUTTONDOWN:
                if (e.button.button == SDL_BUTTON_LEFT) {
                    in->mouse_down = in->mouse_pressed = true;
                    in->mouse_x = e.button.x, in->mouse_y = e.button.y;
                }
                break;
            case SDL_MOUSEBUTTONUP:
                if (e.button.button == SDL_BUTTON_LEFT) {
                    in->mouse_down = false;
                    in->mouse_released = true;
                    in->mouse_x = e.button.x, in->mouse_y = e.button.y;
                }
                break;
            case SDL_MOUSEWHEEL: in->wheel += e.wheel.y; break;
            default: break;
            }
        }
    }
    if (v->quit && !v->quit_delivered) {
        v->quit_delivered = true;
        deliver(v, VKN_ACTION_QUIT, 0, 0);
    }
    return !v->quit;
}

static void sleep_until(double t)
{
    double d = t - vkn_now();
    if (d <= 0) return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

void vkn_view_present(vkn_view *v)
{
    double t_draw = vkn_now() - v->last_present_end;
    v->draw_ms[v->ndraw++ % (int)(sizeof v->draw_ms / sizeof v->draw_ms[0])] = (float)(t_draw * 1e3);
    if (!v->headless) {
        if (!v->tex || v->tex_w != v->canvas.w || v->tex_h != v->canvas.h) {
            if (v->tex) SDL_DestroyTexture(v->tex);
            v->tex = SDL_CreateTexture(v->ren, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STREAMING, v->canvas.w,
                                       v->canvas.h);
            v->tex_w = v->canvas.w, v->tex_h = v->canvas.h;
        }
        if (v->tex) {
            SDL_UpdateTexture(v->tex, NULL, v->canvas.px, v->canvas.w * 4);
            SDL_RenderClear(v->ren);
            SDL_RenderCopy(v->ren, v->tex, NULL, NULL);
        }
        SDL_RenderPresent(v->ren);
        double period = 1.0 / v->cfg.fps;
        v->next_frame += period;
        double now = vkn_now();
        if (v->next_frame < now - period) v->next_frame = now; /* fell behind: do not try to catch up */
        else sleep_until(v->next_frame);
    }
    v->frames++;
    double now = vkn_now();
    v->last_present_end = now;
    if (now - v->fps_t0 >= 1.0) {
        v->fps = (float)((v->frames - v->fps_frames0) / (now - v->fps_t0));
        /* the first second includes window creation and the first snapshot: not counted */
        if (v->fps_t0 > v->open_t + 0.5 && v->fps < v->worst_second_fps) v->worst_second_fps = v->fps;
        if (v->fps_t0 > v->open_t + 0.5) v->nsecond++;
        v->fps_t0 = now;
        v->fps_frames0 = v->frames;
    }
}

vkn_status vkn_view_screenshot(vkn_view *v, const char *path) { return vkn_canvas_write_png(&v->canvas, path); }

static void key_name(int key, char *buf, size_t n)
{
    static const char *special[] = {"esc", "enter", "tab", "bksp", "\xe2\x86\x90", "\xe2\x86\x92", "\xe2\x86\x91",
                                    "\xe2\x86\x93", "home", "end", "pgup", "pgdn"};
    if (key == ' ') snprintf(buf, n, "space");
    else if (key >= VKN_KEY_ESCAPE && key <= VKN_KEY_PAGEDOWN) snprintf(buf, n, "%s", special[key - VKN_KEY_ESCAPE]);
    else if (key >= VKN_KEY_F1 && key <= VKN_KEY_F12) snprintf(buf, n, "F%d", key - VKN_KEY_F1 + 1);
    else if (key > 32 && key < 127) snprintf(buf, n, "%c", key >= 'a' && key <= 'z' ? key - 32 : key);
    else snprintf(buf, n, "?");
}

void vkn_view_draw_keybar(vkn_view *v, vkn_rect r)
{
    vkn_ui *ui = &v->ui;
    vkn_canvas *c = ui->canvas;
    float px = ui->small_px, x = (float)r.x, cy = r.y + r.h * 0.5f;
    vkn_canvas_set_clip(c, r);
    for (int i = 0; i < v->nbinds; i++) {
        const binding *b = &v->binds[i];
        if (!b->label[0]) continue;
        /* consecutive bindings with the same label collapse into one entry ("0-9 pick class") */
        int j = i;
        while (j + 1 < v->nbinds && strcmp(v->binds[j + 1].label, b->label) == 0) j++;
        char k[32], k2[16];
        key_name(b->key, k, sizeof k);
        if (j > i) {
            key_name(v->binds[j].key, k2, sizeof k2);
            size_t len = strlen(k);
            snprintf(k + len, sizeof k - len, j == i + 1 ? " %s" : "\xe2\x80\x93%s", k2);
        }
        if (b->mods & VKN_MOD_CTRL) {
            char t[32];
            snprintf(t, sizeof t, "ctrl+%s", k);
            memcpy(k, t, sizeof k);
        }
        float kw = vkn_font_width(ui->mono, px, k) + 10;
        vkn_canvas_round_rect(c, (vkn_rect){(int)x, (int)(cy - 9), (int)kw, 18}, 4, VKN_COL_BORDER);
        vkn_canvas_text(c, ui->mono, px, x + kw * 0.5f, cy, VKN_ALIGN_CENTER | VKN_ALIGN_MIDDLE, VKN_COL_TEXT, k);
        x += kw + 6;
        x += vkn_canvas_text(c, ui->sans, px, x, cy, VKN_ALIGN_MIDDLE, VKN_COL_DIM, b->label) + 16;
        i = j;
    }
    vkn_canvas_reset_clip(c);
}
