/* vkn-bench: vendor-neutral performance of vknorm on any Vulkan device.
 * Every report starts with the device line and the build commit; times are medians of repeated
 * runs (device timestamps where the device has them, else the host clock around submit + wait;
 * warm-up excluded) with min/max and the run count. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkn_commit.h"
#include "vkn_app_version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vkn-bench [options]\n"
            "  --suite NAME       probe | gemm | ops | norm | train | all (default all; probe always runs: it is the roofline)\n"
            "  --quick            small sizes and few runs (smoke test)\n"
            "  --min-time S       repeat each test for at least S seconds (default 0.5)\n"
            "  --device D|all     Vulkan device index or name substring, or every device (default: VKN_DEVICE, else best)\n"
            "  --list-devices     print the Vulkan devices and exit\n"
            "  --output FMT       table | md | csv | json (default table; the report goes to stdout)\n"
            "  --compare FILE     print per-test ratios against an earlier --output json report\n"
            "  --roofline FILE    write an SVG roofline of the tests with FLOP and byte counts\n"
            "  --host-timing      time with the host clock even where device timestamps exist\n"
            "  --peer torch       also run the bn/gn/ln norm tests and the train steps through PyTorch on the CPU,\n"
            "                     interleaved with vknorm's runs, with the ratio vknorm/PyTorch (install the peer\n"
            "                     with scripts/install-deps --peers; libopenblas0-pthread makes PyTorch's CPU\n"
            "                     path several times faster and the peer uses it)\n"
            "  --python PATH      the peer's python (default /usr/bin/python3, Debian's, which has python3-torch)\n"
            "  --filter LIST      norm suite: only these methods and shapes, comma-separated (bn,cn,dense or\n"
            "                     acn,64x64x7x7): a test runs when its method and its shape are named (or none is)\n"
            "  -h, --help         this text\n"
            "Reading the numbers, comparing and submitting reports: docs/BENCH.md; results per device: docs/PERF.md.\n");
}

typedef struct run_opts {
    const char *suite, *compare, *roofline;
    bench_format fmt;
} run_opts;

static int run_device(const char *device, int index, int first, int last, const run_opts *ro, bench_opts opts)
{
    bench_ctx b = {.opts = opts, .device_index = index};
    vkn_context_opts co = {.device = device, .validate = -1, .quiet = 1};
    vkn_status s = vkn_context_create(&co, &b.ctx);
    if (s != VKN_OK) {
        fprintf(stderr, "vkn-bench: %s\n  %s\n", vkn_status_string(s), vkn_status_detail());
        return 1;
    }
    FILE *log = ro->fmt == BENCH_TABLE ? stdout : stderr;
    fprintf(log, "%s\nvknorm commit %s\n", vkn_context_describe(b.ctx), VKN_COMMIT);
    fflush(log);
    s = vkn_arena_create(b.ctx, 0, &b.arena);
    if (s == VKN_OK) s = vkn_cmd_create(b.ctx, &b.cmd);
    if (s == VKN_OK && !opts.host_timing) b.device_timing = vkn_cmd_enable_timing(b.cmd) == VKN_OK;
    fprintf(log, "timing: %s, median of >= %d runs and >= %.2f s per test\n",
            b.device_timing ? "device timestamps around each submit" : "host clock around submit + wait",
            opts.min_runs, opts.min_time_s);
    int all = !strcmp(ro->suite, "all");
    if (s == VKN_OK) s = bench_suite_probe(&b);
    if (s == VKN_OK && (all || !strcmp(ro->suite, "gemm"))) s = bench_suite_gemm(&b);
    if (s == VKN_OK && (all || !strcmp(ro->suite, "ops"))) s = bench_suite_ops(&b);
    if (s == VKN_OK && (all || !strcmp(ro->suite, "norm"))) s = bench_suite_norm(&b);
    if (s == VKN_OK && (all || !strcmp(ro->suite, "train"))) s = bench_suite_train(&b);
    if (s != VKN_OK) fprintf(stderr, "vkn-bench: %s\n  %s\n", vkn_status_string(s), vkn_status_detail());
    bench_print(stdout, &b, ro->fmt, VKN_COMMIT, first, last);
    bench_print_slowest(ro->fmt == BENCH_TABLE || ro->fmt == BENCH_MD ? stdout : stderr, &b, 15);
    int rc = s != VKN_OK;
    if (ro->compare && bench_compare(ro->fmt == BENCH_TABLE ? stdout : stderr, &b, ro->compare) < 0) rc = 1;
    if (ro->roofline) {
        vkn_status rs = bench_roofline_svg(&b, ro->roofline);
        if (rs != VKN_OK) { fprintf(stderr, "%s\n", vkn_status_detail()); rc = 1; }
    }
    uint32_t msgs = vkn_context_validation_count(b.ctx);
    if (msgs) { fprintf(stderr, "vkn-bench: %u validation message(s)\n", msgs); rc = 1; }
    vkn_cmd_destroy(b.cmd);
    vkn_arena_destroy(b.arena);
    vkn_context_destroy(b.ctx);
    free(b.results);
    return rc;
}

int main(int argc, char **argv)
{
    if (vkn_app_version(argc, argv, "vkn-bench")) return 0;
    const char *device = NULL;
    run_opts ro = {.suite = "all", .fmt = BENCH_TABLE};
    bench_opts opts = {.min_time_s = 0.5, .min_runs = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--suite") && more) ro.suite = argv[++i];
        else if (!strcmp(a, "--quick")) { opts.quick = 1; opts.min_time_s = 0.05; opts.min_runs = 3; }
        else if (!strcmp(a, "--min-time") && more) {
            char *end;
            const char *v = argv[++i];
            errno = 0;
            opts.min_time_s = strtod(v, &end);
            /* nan compares false with both bounds: test for the range, not against it */
            if (!*v || *end || errno || !(opts.min_time_s >= 0 && opts.min_time_s <= 600)) {
                fprintf(stderr, "vkn-bench: --min-time '%s' is not a number of seconds in [0, 600]\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "--output") && more) {
            const char *f = argv[++i];
            if (!strcmp(f, "table")) ro.fmt = BENCH_TABLE;
            else if (!strcmp(f, "md")) ro.fmt = BENCH_MD;
            else if (!strcmp(f, "csv")) ro.fmt = BENCH_CSV;
            else if (!strcmp(f, "json")) ro.fmt = BENCH_JSON;
            else { fprintf(stderr, "vkn-bench: unknown output format '%s' (valid: table, md, csv, json)\n", f); return 2; }
        } else if (!strcmp(a, "--compare") && more) ro.compare = argv[++i];
        else if (!strcmp(a, "--roofline") && more) ro.roofline = argv[++i];
        else if (!strcmp(a, "--host-timing")) opts.host_timing = 1;
        else if (!strcmp(a, "--peer") && more) {
            opts.peer = argv[++i];
            if (strcmp(opts.peer, "torch")) { fprintf(stderr, "vkn-bench: unknown peer '%s' (valid: torch)\n", opts.peer); return 2; }
        } else if (!strcmp(a, "--python") && more) opts.python = argv[++i];
        else if (!strcmp(a, "--filter") && more) opts.filter = argv[++i];
        else if (!strcmp(a, "--list-devices")) {
            char buf[4096];
            int n = vkn_context_list_devices(buf, sizeof buf);
            if (n < 0) { fprintf(stderr, "vkn-bench: %s\n", vkn_status_detail()); return 1; }
            fputs(buf, stdout);
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "vkn-bench: unknown option or missing value: '%s'\n", a); usage(stderr); return 2; }
    }
    if (strcmp(ro.suite, "all") && strcmp(ro.suite, "probe") && strcmp(ro.suite, "gemm") && strcmp(ro.suite, "norm") &&
        strcmp(ro.suite, "train") && strcmp(ro.suite, "ops")) {
        fprintf(stderr, "vkn-bench: unknown suite '%s' (valid: probe, gemm, ops, norm, train, all)\n", ro.suite);
        return 2;
    }
    /* the files named are checked before the benchmark runs, not after minutes of it */
    if (ro.compare && bench_compare_check(ro.compare) != 0) return 2;
    if (ro.roofline && bench_output_check("--roofline", ro.roofline) != 0) return 2;
    if (opts.filter && bench_norm_filter_check(opts.filter) != VKN_OK) {
        fprintf(stderr, "%s\n", vkn_status_detail());
        return 2;
    }
    if (device && !strcmp(device, "all")) {
        char buf[4096];
        int n = vkn_context_list_devices(buf, sizeof buf);
        if (n <= 0) { fprintf(stderr, "vkn-bench: no Vulkan device: %s\n", vkn_status_detail()); return 1; }
        int rc = 0;
        for (int d = 0; d < n; d++) {
            char idx[16];
            snprintf(idx, sizeof idx, "%d", d);
            rc |= run_device(idx, d, d == 0, d == n - 1, &ro, opts);
        }
        return rc;
    }
    return run_device(device, 0, 1, 1, &ro, opts);
}
