/* Headless support: display detection, PNG screenshots of the canvas (stb_image_write from the Debian
 * package libstb-dev, compiled static to this file), the SIGINT flag and a monotonic clock. */
#include "viewer.h"
#include "vkn/io.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

bool vkn_display_available(void)
{
    const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    return (d && *d) || (w && *w);
}

vkn_status vkn_canvas_write_png(const vkn_canvas *c, const char *path)
{
    size_t n = (size_t)c->w * c->h;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb) return vkn_status_set(VKN_ERR_HOST_OOM, "png %s: out of memory", path);
    for (size_t i = 0; i < n; i++) memcpy(rgb + i * 3, c->px + i * 4, 3);
    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(rgb, c->w * 3, c->w, c->h, 3, &len);
    free(rgb);
    if (!png) return vkn_status_set(VKN_ERR_HOST_OOM, "png %s: encoding failed (out of memory)", path);
    vkn_status st = vkn_io_write_file(path, png, (size_t)len, "png");
    STBIW_FREE(png);
    return st;
}

/* SIGINT, SIGTERM and SIGHUP all ask for a clean stop (a checkpoint at the next step boundary): a
 * terminal's Ctrl-C, `kill`, a scheduler's preemption and a closed terminal lose no work. The first
 * one is remembered; a second one of any kind ends the process at once with its default action. */
static volatile sig_atomic_t stop_count, stop_signo;

static void on_stop_signal(int sig)
{
    if (++stop_count >= 2) { /* the second signal: do not wait for the app */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signo = sig;
    static const char msg[] = "\nvkn: signal received: stopping cleanly at the next step (a second signal stops at once)\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
}

void vkn_sigint_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* after a hangup the reader of a piped stderr may be gone: a failed write must not kill the run
     * before its checkpoint */
    signal(SIGPIPE, SIG_IGN);
}

bool vkn_sigint_pending(void) { return stop_count > 0; }

int vkn_stop_signal(void) { return stop_count > 0 ? (int)stop_signo : 0; }

const char *vkn_signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

double vkn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
