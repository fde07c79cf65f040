/* vkn-bench internals: timing, results table, suites. */
#ifndef VKN_BENCH_H
#define VKN_BENCH_H

#include <stdio.h>
#include "vkn/vkn.h"

typedef struct bench_opts {
    double min_time_s;      /* repeat each test at least this long */
    int min_runs;
    int quick;              /* smaller sizes, fewer runs (tests, CI) */
    int host_timing;        /* time with the host clock even where device timestamps exist */
    const char *peer;       /* "torch": run the PyTorch peer beside the norm and train tests (NULL: off) */
    const char *python;     /* the peer's interpreter (NULL: /usr/bin/python3, Debian's, which has torch) */
    const char *filter;     /* norm suite: comma-separated method names and shapes to run (NULL: all) */
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
    double flops, bytes;    /* per run (0 if not meaningful): for the roofline */
} bench_result;

typedef struct bench_ctx {
    vkn_context *ctx;
    vkn_arena *arena;
    vkn_cmd *cmd;
    bench_opts opts;
    bench_result *results;
    int nresults, cap;
    double copy_gbs, fma_gflops;  /* the probe's roofline, for ratios */
    int device_timing;            /* medians are device time (timestamps) rather than host time */
    int device_index;             /* which device of the machine */
    int peer_state;               /* peer.c: 0 not checked yet, 1 available, -1 unavailable */
} bench_ctx;

double bench_now_us(void);
/* Time the recorded stream b->cmd: warm-up, then repeats until min time; per-run us into r. */
vkn_status bench_time_cmd(bench_ctx *b, int inner, bench_result *r);
bench_result *bench_add(bench_ctx *b, const char *suite, const char *name, const char *shape);

/* report.c: output formats, comparison with a saved report, the roofline chart */
typedef enum bench_format { BENCH_TABLE = 0, BENCH_MD, BENCH_CSV, BENCH_JSON } bench_format;
void bench_print(FILE *f, const bench_ctx *b, bench_format fmt, const char *commit, int first, int last);
/* Print per-test ratios (this run / baseline) for the tests both have; returns the number matched,
 * or -1 with a message when the baseline cannot be read. */
int bench_compare(FILE *f, const bench_ctx *b, const char *baseline_path);
/* Before any device work: the baseline is a readable vkn-bench JSON report (0), or -1 with the reason
 * printed; an output file (opt names the option) can be written: it is a writable regular file, or
 * absent in a writable folder. */
int bench_compare_check(const char *baseline_path);
int bench_output_check(const char *opt, const char *path);
/* An SVG roofline of every result with flops and bytes, against the probe's roofs. */
vkn_status bench_roofline_svg(const bench_ctx *b, const char *path);

/* peer.c: the PyTorch peer (apps/bench/peers/torch_peer.py, or the command in VKN_BENCH_PEER_CMD), run
 * right after vknorm's own runs of the same test. Each adds a row (suite "peer", test "<name> (torch)")
 * after result idx and sets that result's ratio = vknorm median / peer median ("x torch-cpu"). When the
 * peer is missing they print how to install it once and do nothing: never an error. */
void bench_peer_norm(bench_ctx *b, int idx, vkn_norm_kind kind, int N, int C, int H, int W, int groups);
void bench_peer_train(bench_ctx *b, int idx, int base);

vkn_status bench_suite_probe(bench_ctx *b);
vkn_status bench_suite_gemm(bench_ctx *b);
vkn_status bench_suite_norm(bench_ctx *b);
/* --filter's terms checked before any device work (VKN_ERR_ARG naming the term) */
vkn_status bench_norm_filter_check(const char *filter);
vkn_status bench_suite_train(bench_ctx *b);
/* suite_ops.c: every op forward and backward at the demo's shapes; and the tests with the lowest
 * fractions of the probe's roofline, of any suite (the terminal report's last table) */
vkn_status bench_suite_ops(bench_ctx *b);
void bench_print_slowest(FILE *f, const bench_ctx *b, int count);

#endif
