/* vkn-bench's report formats: the JSON report satisfies docs/bench-schema.json (required keys and
 * types, checked here with cJSON), the CSV columns are stable, --compare computes this/baseline
 * ratios, and bad devices, formats and baselines give clear errors. argv[1]: the vkn-bench binary,
 * argv[2]: the schema file. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

static const char *bench, *schema_path;
static char err_path[64];   /* vkn-bench's stderr: per process (other checkouts may run this test at once) */

static char *run(const char *args, int *rc)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "VKN_QUIET=1 %s %s 2>%s", bench, args, err_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t k; (k = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
        n += k;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    *rc = WEXITSTATUS(st);
    return buf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

/* Check obj has every key of schema node's "required" with the declared JSON type. */
static void check_object(const cJSON *obj, const cJSON *node, const char *where)
{
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(node, "required");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(node, "properties");
    const cJSON *k;
    cJSON_ArrayForEach(k, req) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, k->valuestring);
        if (!v) fail_msg("%s: missing key '%s'", where, k->valuestring);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(props, k->valuestring);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (!cJSON_IsString(type)) continue;
        const char *t = type->valuestring;
        int ok = !strcmp(t, "string") ? cJSON_IsString(v) : !strcmp(t, "number") || !strcmp(t, "integer") ? cJSON_IsNumber(v)
                 : !strcmp(t, "boolean") ? cJSON_IsBool(v) : !strcmp(t, "array") ? cJSON_IsArray(v)
                 : !strcmp(t, "object") ? cJSON_IsObject(v) : 1;
        if (!ok) fail_msg("%s: key '%s' is not a %s", where, k->valuestring, t);
    }
}

static void test_json_schema(void **state)
{
    (void)state;
    int rc;
    char *out = run("--quick --suite probe --output json", &rc);
    assert_int_equal(rc, 0);
    cJSON *doc = cJSON_Parse(out);
    if (!doc) fail_msg("vkn-bench --output json is not JSON: %.200s", out);
    char *st = slurp(schema_path);
    cJSON *schema = cJSON_Parse(st);
    assert_non_null(schema);
    check_object(doc, schema, "report");
    const cJSON *runs_node = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(schema, "properties"), "runs");
    const cJSON *run_node = cJSON_GetObjectItemCaseSensitive(runs_node, "items");
    const cJSON *run_props = cJSON_GetObjectItemCaseSensitive(run_node, "properties");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "runs")) {
        check_object(r, run_node, "run");
        check_object(cJSON_GetObjectItemCaseSensitive(r, "device"), cJSON_GetObjectItemCaseSensitive(run_props, "device"), "device");
        const cJSON *res_node = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run_props, "results"), "items");
        const cJSON *res;
        int n = 0;
        cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(r, "results")) {
            check_object(res, res_node, "result");
            assert_true(cJSON_GetObjectItemCaseSensitive(res, "median_us")->valuedouble > 0);
            n++;
        }
        assert_int_equal(n, 4);   /* the probe suite: copy, FMA, submit, dispatch */
    }
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "schema")->valuestring, "vknorm-bench/1");
    cJSON_Delete(schema);
    cJSON_Delete(doc);
    free(st);
    free(out);
}

static void test_csv_columns(void **state)
{
    (void)state;
    int rc;
    char *out = run("--quick --suite probe --output csv", &rc);
    assert_int_equal(rc, 0);
    const char *want = "device,suite,test,shape,median_us,min_us,max_us,runs,value,unit,ratio,ratio_what,timing\n";
    assert_memory_equal(out, want, strlen(want));
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 5);
    free(out);
}

static void test_compare(void **state)
{
    (void)state;
    /* a baseline whose copy test took exactly 1000 us: the printed ratio must be this/1000 */
    const char *path = "/tmp/vkn-bench-test-baseline.json";
    int rc;
    char *js = run("--quick --suite probe --output json", &rc);
    assert_int_equal(rc, 0);
    cJSON *doc = cJSON_Parse(js);
    cJSON *res = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "runs"), 0), "results");
    cJSON *first = cJSON_GetArrayItem(res, 0);
    cJSON_ReplaceItemInObject(first, "median_us", cJSON_CreateNumber(1000.0));
    char *txt = cJSON_Print(doc);
    FILE *f = fopen(path, "w");
    fputs(txt, f);
    fclose(f);
    char args[256];
    snprintf(args, sizeof args, "--quick --suite probe --compare %s", path);
    char *out = run(args, &rc);
    assert_int_equal(rc, 0);
    char *line = strstr(out, "| probe  | copy bandwidth");
    line = line ? strstr(line + 1, "| probe  | copy bandwidth") : NULL;   /* the comparison table's row */
    assert_non_null(line);
    double base, now, ratio;
    char shape[64];
    assert_int_equal(sscanf(line, "| probe  | copy bandwidth | %63[^|]| %lf | %lf | %lf |", shape, &base, &now, &ratio), 4);
    assert_float_equal(base, 1000.0, 1e-6);
    assert_float_equal(ratio, now / 1000.0, 2e-3);
    free(out); free(txt); free(js);
    cJSON_Delete(doc);
}

static void test_errors(void **state)
{
    (void)state;
    int rc;
    char *out = run("--device 99 --quick", &rc);
    assert_int_equal(rc, 1);
    char *err = slurp(err_path);
    assert_non_null(strstr(err, "matches no device"));
    free(err); free(out);
    /* the files of --compare and --roofline are checked before the benchmark runs: exit 2, no report */
    out = run("--quick --suite probe --compare /nonexistent/base.json", &rc);
    assert_int_equal(rc, 2);
    assert_string_equal(out, "");
    err = slurp(err_path);
    assert_non_null(strstr(err, "cannot open baseline '/nonexistent/base.json'"));
    free(err); free(out);
    FILE *f = fopen("/tmp/vkn-bench-test-bad.json", "w");
    fputs("{\"schema\": \"something-else\"}", f);
    fclose(f);
    out = run("--quick --suite probe --compare /tmp/vkn-bench-test-bad.json", &rc);
    assert_int_equal(rc, 2);
    assert_string_equal(out, "");
    err = slurp(err_path);
    assert_non_null(strstr(err, "not a vkn-bench JSON report"));
    free(err); free(out);
    out = run("--quick --suite probe --compare /tmp", &rc);
    assert_int_equal(rc, 2);
    free(out);
    out = run("--quick --suite probe --roofline /nonexistent/roof.svg", &rc);
    assert_int_equal(rc, 2);
    assert_string_equal(out, "");
    err = slurp(err_path);
    assert_non_null(strstr(err, "--roofline /nonexistent/roof.svg: the folder /nonexistent does not exist"));
    free(err); free(out);
    out = run("--quick --suite probe --roofline /tmp", &rc);
    assert_int_equal(rc, 2);
    err = slurp(err_path);
    assert_non_null(strstr(err, "--roofline /tmp: not a regular file"));
    free(err); free(out);
    /* --min-time: a number of seconds in [0, 600]; nan compares false both ways and was once taken */
    static const char *const bad_times[] = {"nan", "NAN", "inf", "-inf", "-1", "600.5", "1e999", "", "0.5s", "0x"};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "--quick --suite probe --min-time '%s'", bad_times[i]);
        out = run(args, &rc);
        if (rc != 2) fail_msg("--min-time '%s': exit %d, expected 2", bad_times[i], rc);
        assert_string_equal(out, "");
        err = slurp(err_path);
        char want[128];
        snprintf(want, sizeof want, "--min-time '%s' is not a number of seconds in [0, 600]", bad_times[i]);
        if (!strstr(err, want)) fail_msg("--min-time '%s': stderr lacks \"%s\": %s", bad_times[i], want, err);
        free(err); free(out);
    }
    /* vkn-bench has no --size (the windowed apps do): an unknown option, not a huge allocation */
    out = run("--size 99999999999x9999999999", &rc);
    assert_int_equal(rc, 2);
    err = slurp(err_path);
    assert_non_null(strstr(err, "unknown option or missing value: '--size'"));
    free(err); free(out);
    out = run("--output xml", &rc);
    assert_int_equal(rc, 2);
    free(out);
    out = run("--suite nope", &rc);
    assert_int_equal(rc, 2);
    free(out);
    out = run("--suite norm --filter bn,nope", &rc);   /* refused before any device work */
    assert_int_equal(rc, 2);
    err = slurp(err_path);
    assert_non_null(strstr(err, "'nope' names no method"));
    free(err); free(out);
}

/* --filter: only the named methods at the named shapes */
static void test_filter(void **state)
{
    (void)state;
    int rc;
    char *out = run("--quick --suite norm --filter cn,dense --output csv", &rc);
    assert_int_equal(rc, 0);
    int rows = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        if (!strstr(l, ",norm,")) continue;
        rows++;
        assert_non_null(strstr(l, "cn fwd+bwd"));
        assert_null(strstr(l, "cbn"));
        assert_non_null(strstr(l, "dense"));
    }
    assert_int_equal(rows, 1);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: test_bench VKN_BENCH SCHEMA\n"); return 2; }
    bench = argv[1];
    schema_path = argv[2];
    snprintf(err_path, sizeof err_path, "/tmp/vkn-bench-test-%d.err", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_schema), cmocka_unit_test(test_csv_columns),
        cmocka_unit_test(test_compare), cmocka_unit_test(test_errors), cmocka_unit_test(test_filter),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(err_path);
    return rc;
}
