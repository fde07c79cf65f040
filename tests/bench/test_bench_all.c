/* A tiny `vkn-bench --quick` run of every suite (all) completes under the validation layer (the test
 * env sets VKN_VALIDATE=1; vkn-bench exits 1 on any validation message), reports every suite, and the
 * ops suite's JSON rows carry bytes (and FLOPs for the arithmetic ops) and a fraction of the probe's
 * roofline, so --roofline plots them and the slowest-kernels list ranks them.
 * argv[1]: the vkn-bench binary. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static const char *bench;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static void test_quick_all(void **state)
{
    (void)state;
    char out[256], err[256], svg[256], cmd[1024];
    int pid = (int)getpid();
    snprintf(out, sizeof out, "/tmp/vkn-bench-all-%d.json", pid);
    snprintf(err, sizeof err, "/tmp/vkn-bench-all-%d.err", pid);
    snprintf(svg, sizeof svg, "/tmp/vkn-bench-all-%d.svg", pid);
    snprintf(cmd, sizeof cmd, "%s --quick --min-time 0.01 --output json --roofline %s >%s 2>%s", bench, svg, out, err);
    int st = system(cmd);
    char *js = slurp(out), *log = slurp(err), *pic = slurp(svg);
    if (st != 0) fail_msg("vkn-bench --quick (all) failed (status %d):\n%s", st, log ? log : "(no stderr)");
    assert_non_null(js);
    assert_non_null(log);
    assert_non_null(pic);
    cJSON *doc = cJSON_Parse(js);
    if (!doc) fail_msg("not JSON: %.200s", js);
    const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "runs"), 0);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(run, "results"), *r;
    int per_suite[5] = {0}, ops_flops = 0;
    static const char *suites[5] = {"probe", "gemm", "ops", "norm", "train"};
    cJSON_ArrayForEach(r, res) {
        const char *suite = cJSON_GetObjectItemCaseSensitive(r, "suite")->valuestring;
        const char *test = cJSON_GetObjectItemCaseSensitive(r, "test")->valuestring;
        for (int i = 0; i < 5; i++) per_suite[i] += !strcmp(suite, suites[i]);
        if (strcmp(suite, "ops")) continue;
        double bytes = cJSON_GetObjectItemCaseSensitive(r, "bytes")->valuedouble;
        double flops = cJSON_GetObjectItemCaseSensitive(r, "flops")->valuedouble;
        double median = cJSON_GetObjectItemCaseSensitive(r, "median_us")->valuedouble;
        double ratio = cJSON_GetObjectItemCaseSensitive(r, "ratio")->valuedouble;
        const char *what = cJSON_GetObjectItemCaseSensitive(r, "ratio_what")->valuestring;
        if (!(bytes > 0)) fail_msg("ops test '%s' has no byte count", test);
        if (!(median > 0)) fail_msg("ops test '%s' has no time", test);
        if (!(ratio > 0) || (strcmp(what, "of copy") && strcmp(what, "of FMA peak")))
            fail_msg("ops test '%s' has no roofline fraction (%g %s)", test, ratio, what);
        /* the arithmetic ops carry FLOPs */
        if (starts(test, "conv2d") || starts(test, "convT2d") || starts(test, "linear") || starts(test, "unary") ||
            starts(test, "binary") || starts(test, "relu") || starts(test, "adam") || starts(test, "grad norm")) {
            if (!(flops > 0)) fail_msg("ops test '%s' has no FLOP count", test);
            ops_flops++;
        }
    }
    for (int i = 0; i < 5; i++)
        if (!per_suite[i]) fail_msg("suite '%s' is missing from the all run", suites[i]);
    assert_true(per_suite[2] >= 25);   /* every op family, at the cgan-small and DANN shapes */
    assert_true(ops_flops >= 10);
    /* the slowest-kernels list (on stderr when the report is JSON) and the roofline's points */
    assert_non_null(strstr(log, "slowest kernels"));
    int circles = 0;
    for (const char *p = pic; (p = strstr(p, "<circle")); p++) circles++;
    assert_true(circles >= 10);
    cJSON_Delete(doc);
    free(js); free(log); free(pic);
    remove(out); remove(err); remove(svg);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: test_bench_all VKN_BENCH\n"); return 2; }
    bench = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_quick_all)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
