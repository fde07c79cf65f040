/* vkn-bench --peer without PyTorch: a stub peer (VKN_BENCH_PEER_CMD) prints known JSON lines, and the
 * report must carry its rows (suite "peer", "<test> (torch)") and the ratios vknorm median / peer median
 * on exactly the bn/gn/ln norm tests and the train steps. A missing peer prints how to install it and
 * is not an error; without --peer nothing changes. argv[1]: the vkn-bench binary. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static const char *bench;
static char dir[64], stub[128], errpath[128];

#define NORM_US 250.0
#define TRAIN_US 50000.0

static char *slurp_stream(FILE *p)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t k; (k = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
        n += k;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    return buf;
}

static char *run(const char *peer_cmd, const char *args, int *rc)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "VKN_QUIET=1 VKN_BENCH_PEER_CMD='%s' %s %s 2>%s", peer_cmd, bench, args, errpath);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = slurp_stream(p);
    int st = pclose(p);
    *rc = WEXITSTATUS(st);
    return out;
}

static char *read_err(void)
{
    FILE *f = fopen(errpath, "rb");
    assert_non_null(f);
    char *s = slurp_stream(f);
    fclose(f);
    return s;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const cJSON *results_of(const cJSON *root)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    assert_true(cJSON_IsArray(runs));
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(runs, 0), "results");
    assert_true(cJSON_IsArray(res));
    return res;
}

static double absd(double x) { return x < 0 ? -x : x; }
static int close_to(double a, double b) { return absd(a - b) <= 1e-6 * absd(b) + 1e-9; }

static void train_with_stub(void **state)
{
    (void)state;
    int rc;
    char *out = run(stub, "--suite train --quick --peer torch --output json", &rc);
    assert_int_equal(rc, 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    const cJSON *r, *train = NULL, *peer = NULL;
    int npeer = 0;
    cJSON_ArrayForEach(r, results_of(root)) {
        if (!strcmp(str(r, "suite"), "train")) train = r;
        if (!strcmp(str(r, "suite"), "peer")) { peer = r; npeer++; }
    }
    assert_non_null(train);
    assert_non_null(peer);
    assert_int_equal(npeer, 1);
    assert_string_equal(str(peer, "test"), "cgan-small step (D + G) (torch)");
    assert_true(close_to(num(peer, "median_us"), TRAIN_US));
    assert_int_equal((int)num(peer, "runs"), 5);
    assert_true(close_to(num(peer, "value"), 64 / (TRAIN_US * 1e-6)));   /* samples/s */
    assert_string_equal(str(train, "ratio_what"), "x torch-cpu");
    assert_true(close_to(num(train, "ratio"), num(train, "median_us") / TRAIN_US));
    char *err = read_err();
    assert_non_null(strstr(err, "peer: PyTorch stub"));
    free(err);
    cJSON_Delete(root);
    free(out);
}

static void norm_with_stub(void **state)
{
    (void)state;
    int rc;
    char *out = run(stub, "--suite norm --quick --peer torch --output json", &rc);
    assert_int_equal(rc, 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    const cJSON *res = results_of(root), *r;
    int with_peer = 0, npeer = 0, i = 0, n = cJSON_GetArraySize(res);
    cJSON_ArrayForEach(r, res) {
        const char *suite = str(r, "suite"), *test = str(r, "test");
        if (!strcmp(suite, "peer")) npeer++;
        if (strcmp(suite, "norm")) { i++; continue; }
        int peered = !strncmp(test, "bn ", 3) || !strncmp(test, "gn ", 3) || !strncmp(test, "ln ", 3);
        if (peered) {
            with_peer++;
            assert_string_equal(str(r, "ratio_what"), "x torch-cpu");
            assert_true(close_to(num(r, "ratio"), num(r, "median_us") / NORM_US));
            /* the peer's row follows, same shape, same bytes */
            assert_true(i + 1 < n);
            const cJSON *p = cJSON_GetArrayItem(res, i + 1);
            assert_string_equal(str(p, "suite"), "peer");
            char want[80];
            snprintf(want, sizeof want, "%.2s fwd+bwd (torch)", test);
            assert_string_equal(str(p, "test"), want);
            assert_string_equal(str(p, "shape"), str(r, "shape"));
            assert_true(close_to(num(p, "median_us"), NORM_US));
            assert_true(close_to(num(p, "value"), num(r, "bytes") / (NORM_US * 1e3)));
        } else {
            assert_true(strcmp(str(r, "ratio_what"), "x torch-cpu") != 0);
        }
        i++;
    }
    assert_int_equal(with_peer, 6);   /* bn, gn, ln at the two quick shapes */
    assert_int_equal(npeer, 6);
    cJSON_Delete(root);
    free(out);
}

static void missing_peer_is_not_an_error(void **state)
{
    (void)state;
    int rc;
    char *out = run("/nonexistent/vkn-peer", "--suite train --quick --peer torch --output json", &rc);
    assert_int_equal(rc, 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    const cJSON *r;
    cJSON_ArrayForEach(r, results_of(root)) {
        assert_string_not_equal(str(r, "suite"), "peer");
        assert_true(num(r, "ratio") == 0 || strcmp(str(r, "ratio_what"), "x torch-cpu"));
    }
    char *err = read_err();
    assert_non_null(strstr(err, "scripts/install-deps --peers"));
    free(err);
    cJSON_Delete(root);
    free(out);
}

static void off_by_default(void **state)
{
    (void)state;
    int rc;
    char *out = run(stub, "--suite train --quick --output csv", &rc);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, ",peer,"));
    assert_null(strstr(out, "torch"));
    free(out);
    out = run(stub, "--suite train --quick --peer jax", &rc);
    assert_int_equal(rc, 2);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_peer VKN_BENCH\n");
        return 2;
    }
    bench = argv[1];
    snprintf(dir, sizeof dir, "/tmp/vkn-peer-test-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(stub, sizeof stub, "%s/peer.sh", dir);
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    FILE *f = fopen(stub, "w");
    if (!f) { perror(stub); return 1; }
    fprintf(f, "#!/bin/sh\n"
               "case \"$1\" in\n"
               "check) echo '{\"test\": \"check\", \"torch\": \"stub\", \"threads\": 2, \"blas\": \"openblas\"}' ;;\n"
               "norm) echo 'a line that is not JSON'; echo '{\"test\": \"norm\", \"median_us\": %g, \"min_us\": 200, "
               "\"max_us\": 300, \"runs\": 7, \"threads\": 2, \"torch\": \"stub\", \"blas\": \"openblas\"}' ;;\n"
               "train) echo '{\"test\": \"train\", \"median_us\": %g, \"min_us\": 40000, \"max_us\": 60000, "
               "\"runs\": 5, \"threads\": 2, \"torch\": \"stub\", \"blas\": \"openblas\"}' ;;\n"
               "*) exit 2 ;;\n"
               "esac\n", NORM_US, TRAIN_US);
    fclose(f);
    chmod(stub, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_with_stub),
        cmocka_unit_test(norm_with_stub),
        cmocka_unit_test(missing_peer_is_not_an_error),
        cmocka_unit_test(off_by_default),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(stub);
    unlink(errpath);
    rmdir(dir);
    return rc;
}
