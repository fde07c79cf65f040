/* The terminal progress line of headless runs: on a TTY one line redrawn in place (carriage return,
 * erase to end of line), otherwise plain lines at an interval so logs stay readable. */
#include "viewer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void vkn_format_duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "?");
        return;
    }
    long t = lround(s);
    if (t < 60) snprintf(buf, n, "%lds", t);
    else if (t < 3600) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

void vkn_progress_init(vkn_progress *p, const char *label, int64_t total, FILE *out)
{
    memset(p, 0, sizeof *p);
    p->out = out ? out : stderr;
    p->total = total;
    p->interval = 10.0;
    const char *term = getenv("TERM");
    p->tty = isatty(fileno(p->out)) && !(term && strcmp(term, "dumb") == 0);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
}

static int term_width(const vkn_progress *p)
{
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
    return 100;
}

void vkn_progress_format(const vkn_progress *p, int64_t step, double ms, double now, const char *extra, int bar_w,
                         char *buf, size_t n)
{
    double elapsed = now - p->t_first;
    int64_t done = step - p->first_step;
    if (ms <= 0 && done > 0 && elapsed > 0) ms = elapsed * 1e3 / done;
    double frac = p->total > 0 ? (double)step / p->total : 0;
    if (frac > 1) frac = 1;
    size_t len = 0;
#define ADD(...) do { if (len < n) len += (size_t)snprintf(buf + len, n - len, __VA_ARGS__); } while (0)
    if (p->label[0]) ADD("%s ", p->label);
    if (bar_w > 0 && p->total > 0) {
        /* eighth blocks make the bar move smoothly: U+2588 full, U+2589..U+258F seven to one eighths */
        static const char *part[8] = {"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d", "\xe2\x96\x8c",
                                      "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89"};
        int eighths = (int)(frac * bar_w * 8), full = eighths / 8, rest = eighths % 8;
        ADD("\xe2\x94\x82");
        for (int i = 0; i < full; i++) ADD("\xe2\x96\x88");
        int used = full;
        if (full < bar_w) {
            ADD("%s", rest ? part[rest] : " ");
            used++;
        }
        for (int i = used; i < bar_w; i++) ADD(" ");
        ADD("\xe2\x94\x82 ");
    }
    if (p->total > 0) ADD("%3.0f%% %lld/%lld", frac * 100, (long long)step, (long long)p->total);
    else ADD("step %lld", (long long)step);
    if (ms > 0) ADD(" | %.1f ms/step", ms);
    if (extra && *extra) ADD(" | %s", extra);
    char d[32];
    if (p->total > 0 && step < p->total && ms > 0) {
        vkn_format_duration((p->total - step) * ms * 1e-3, d, sizeof d);
        ADD(" | ETA %s", d);
    } else if (p->total > 0 && step >= p->total) {
        vkn_format_duration(elapsed, d, sizeof d);
        ADD(" | done in %s", d);
    }
#undef ADD
}

static void draw(vkn_progress *p, int64_t step, double ms, const char *extra, bool final)
{
    double now = vkn_now();
    char line[1024];
    if (p->tty) {
        int bar_w = term_width(p) / 5;
        if (bar_w > 30) bar_w = 30;
        vkn_progress_format(p, step, ms, now, extra, bar_w, line, sizeof line);
        fprintf(p->out, "\r%s\033[K%s", line, final ? "\n" : "");
        p->open_line = !final;
    } else {
        vkn_progress_format(p, step, ms, now, extra, 0, line, sizeof line);
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->t_last_print = now;
}

static void start(vkn_progress *p, int64_t step)
{
    if (p->started) return;
    p->started = true;
    p->first_step = step;
    p->t_first = vkn_now();
    p->t_last_print = -1e9;
}

void vkn_progress_update(vkn_progress *p, int64_t step, double ms, const char *fmt, ...)
{
    start(p, step);
    double now = vkn_now();
    if (now - p->t_last_print < (p->tty ? 0.1 : p->interval)) return;
    char extra[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    draw(p, step, ms, extra, false);
}

void vkn_progress_log(vkn_progress *p, const char *fmt, ...)
{
    if (p->open_line) fprintf(p->out, "\r\033[K");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
    p->open_line = false;
    p->t_last_print = -1e9; /* redraw the bar at the next update */
}

void vkn_progress_finish(vkn_progress *p, int64_t step, const char *fmt, ...)
{
    start(p, step);
    char extra[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    draw(p, step, 0, extra, true);
}
