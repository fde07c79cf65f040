/* vkn-bench: vendor-neutral performance of vknorm on any Vulkan device.
 *   vkn-bench [--suite probe|gemm|all] [--quick] [--min-time S] [--device N|NAME]
 * Every report starts with the device line and the build commit; times are medians of repeated
 * runs (host clock around submit + wait, warm-up excluded) with min/max and the run count. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VKN_COMMIT
#define VKN_COMMIT "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vkn-bench [options]\n"
            "  --suite NAME     probe | gemm | all (default all)\n"
            "  --quick          small sizes and few runs (smoke test)\n"
            "  --min-time S     repeat each test for at least S seconds (default 0.5)\n"
            "  --device D       Vulkan device index or name substring (default: VKN_DEVICE, else best)\n"
            "  --list-devices   print the Vulkan devices and exit\n"
            "  -h, --help       this text\n");
}

static void print_table(const bench_ctx *b)
{
    printf("\n| %-6s | %-36s | %-22s | %10s | %10s | %10s | %5s | %12s | %-16s |\n", "suite", "test", "shape",
           "median us", "min us", "max us", "runs", "value", "ratio");
    printf("|--------|--------------------------------------|------------------------|-----------:|-----------:|"
           "-----------:|------:|-------------:|------------------|\n");
    for (int i = 0; i < b->nresults; i++) {
        const bench_result *r = &b->results[i];
        char ratio[40] = "";
        if (r->ratio > 0) snprintf(ratio, sizeof ratio, "%.2f %s", r->ratio, r->ratio_what);
        printf("| %-6s | %-36s | %-22s | %10.1f | %10.1f | %10.1f | %5d | %7.2f %-4s | %-16s |\n", r->suite, r->name,
               r->shape, r->median_us, r->min_us, r->max_us, r->runs, r->value, r->unit, ratio);
    }
}

int main(int argc, char **argv)
{
    const char *suite = "all", *device = NULL;
    bench_ctx b = {.opts = {.min_time_s = 0.5, .min_runs = 5}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--suite") && i + 1 < argc) suite = argv[++i];
        else if (!strcmp(a, "--quick")) { b.opts.quick = 1; b.opts.min_time_s = 0.05; b.opts.min_runs = 3; }
        else if (!strcmp(a, "--min-time") && i + 1 < argc) {
            char *end;
            b.opts.min_time_s = strtod(argv[++i], &end);
            if (*end || b.opts.min_time_s < 0 || b.opts.min_time_s > 600) {
                fprintf(stderr, "vkn-bench: --min-time '%s' is not a number of seconds in [0, 600]\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(a, "--list-devices")) {
            char buf[4096];
            int n = vkn_context_list_devices(buf, sizeof buf);
            if (n < 0) { fprintf(stderr, "vkn-bench: %s\n", vkn_status_detail()); return 1; }
            fputs(buf, stdout);
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "vkn-bench: unknown option '%s'\n", a); usage(stderr); return 2; }
    }
    int all = !strcmp(suite, "all");
    if (!all && strcmp(suite, "probe") && strcmp(suite, "gemm")) {
        fprintf(stderr, "vkn-bench: unknown suite '%s' (valid: probe, gemm, all)\n", suite);
        return 2;
    }
    vkn_context_opts co = {.device = device, .validate = -1, .quiet = 1};
    vkn_status s = vkn_context_create(&co, &b.ctx);
    if (s != VKN_OK) {
        fprintf(stderr, "vkn-bench: %s\n  %s\n", vkn_status_string(s), vkn_status_detail());
        return 1;
    }
    printf("%s\nvknorm commit %s | timing: host clock, submit+wait, median of >= %d runs and >= %.2f s per test\n",
           vkn_context_describe(b.ctx), VKN_COMMIT, b.opts.min_runs, b.opts.min_time_s);
    fflush(stdout);
    s = vkn_arena_create(b.ctx, 0, &b.arena);
    if (s == VKN_OK) s = vkn_cmd_create(b.ctx, &b.cmd);
    if (s == VKN_OK) s = bench_suite_probe(&b);   /* always: the roofline for ratios */
    if (s == VKN_OK && (all || !strcmp(suite, "gemm"))) s = bench_suite_gemm(&b);
    if (s != VKN_OK) fprintf(stderr, "vkn-bench: %s\n  %s\n", vkn_status_string(s), vkn_status_detail());
    print_table(&b);
    uint32_t msgs = vkn_context_validation_count(b.ctx);
    vkn_cmd_destroy(b.cmd);
    vkn_arena_destroy(b.arena);
    vkn_context_destroy(b.ctx);
    free(b.results);
    if (msgs) fprintf(stderr, "vkn-bench: %u validation message(s)\n", msgs);
    return s != VKN_OK || msgs ? 1 : 0;
}
