/* Timing: device timestamps around the recorded stream where the device has them (the kernels'
 * time, without submit overhead), else the host monotonic clock around submit + wait; warm-up
 * excluded, repeated until a minimum time; median, min and max per run. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

vkn_status bench_time_cmd(bench_ctx *b, int inner, bench_result *r)
{
    enum { MAX_RUNS = 2000 };
    static double t[MAX_RUNS];
    for (int w = 0; w < 2; w++) VKN_TRY(vkn_cmd_run(b->cmd));   /* warm-up: pipelines, caches */
    int n = 0;
    double start = bench_now_us();
    while (n < MAX_RUNS && (n < b->opts.min_runs || bench_now_us() - start < b->opts.min_time_s * 1e6)) {
        double t0 = bench_now_us();
        VKN_TRY(vkn_cmd_run(b->cmd));
        double host = bench_now_us() - t0, dev = vkn_cmd_last_device_us(b->cmd);
        t[n++] = (b->device_timing && dev > 0 ? dev : host) / inner;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    r->runs = n;
    r->median_us = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    r->min_us = t[0];
    r->max_us = t[n - 1];
    return VKN_OK;
}

bench_result *bench_add(bench_ctx *b, const char *suite, const char *name, const char *shape)
{
    if (b->nresults == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 32;
        b->results = realloc(b->results, (size_t)b->cap * sizeof *b->results);
        if (!b->results) { fprintf(stderr, "vkn-bench: out of memory\n"); exit(1); }
    }
    bench_result *r = &b->results[b->nresults++];
    memset(r, 0, sizeof *r);
    snprintf(r->suite, sizeof r->suite, "%s", suite);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    return r;
}
