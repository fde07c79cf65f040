/* vkn-bench internals: timing, results table, suites. */
#ifndef VKN_BENCH_H
#define VKN_BENCH_H

#include "vkn/vkn.h"

typedef struct bench_opts {
    double min_time_s;      /* repeat each test at least this long */
    int min_runs;
    int quick;              /* smaller sizes, fewer runs (tests, CI) */
} bench_opts;

typedef struct bench_result {
    char suite[16];
    char name[64];
    char shape[48];
    double median_us, min_us, max_us;
    int runs;
    double value;           /* GB/s, GFLOP/s or us, per unit */
    char unit[12];
    double ratio;           /* to the peer or the probe's roofline, 0 if none */
    char ratio_what[24];
} bench_result;

typedef struct bench_ctx {
    vkn_context *ctx;
    vkn_arena *arena;
    vkn_cmd *cmd;
    bench_opts opts;
    bench_result *results;
    int nresults, cap;
    double copy_gbs, fma_gflops;  /* the probe's roofline, for ratios */
} bench_ctx;

double bench_now_us(void);
/* Time the recorded stream b->cmd: warm-up, then repeats until min time; per-run us into r. */
vkn_status bench_time_cmd(bench_ctx *b, int inner, bench_result *r);
bench_result *bench_add(bench_ctx *b, const char *suite, const char *name, const char *shape);

vkn_status bench_suite_probe(bench_ctx *b);
vkn_status bench_suite_gemm(bench_ctx *b);

#endif
