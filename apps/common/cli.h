/* Command-line values shared by the windowed apps: a window size "WxH" parsed in 64 bits and checked
 * against its range (sscanf's %d overflows on 99999999999x9999999999, undefined behaviour). */
#ifndef VKN_APPS_CLI_H
#define VKN_APPS_CLI_H

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

/* 1 and *w, *h when v is WxH with w in [wmin, wmax] and h in [hmin, hmax], else 0 */
static inline int vkn_cli_size(const char *v, int wmin, int hmin, int wmax, int hmax, int *w, int *h)
{
    char *end;
    if (!isdigit((unsigned char)v[0])) return 0;
    errno = 0;
    long long a = strtoll(v, &end, 10);
    if (errno || *end != 'x' || !isdigit((unsigned char)end[1])) return 0;
    const char *p = end + 1;
    long long b = strtoll(p, &end, 10);
    if (errno || *end || a < wmin || a > wmax || b < hmin || b > hmax) return 0;
    *w = (int)a;
    *h = (int)b;
    return 1;
}

#endif
