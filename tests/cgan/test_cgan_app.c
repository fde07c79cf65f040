/* vkn-cgan end to end, headless (argv[1]: the executable): bad options exit 2 naming the valid
 * choices; a short run writes PNG grids, metric logs and a checkpoint; a stopped and resumed run
 * continues with exactly the losses of an uninterrupted one; Ctrl-C saves a checkpoint and exits
 * cleanly; compare mode writes both runs; a missing dataset names the package. Tiny settings
 * (batch 10, a classifier trained for 5 steps, cached in the test's own data folder) keep it fast.
 * Skipped without Fashion-MNIST (Debian dataset-fashion-mnist). */
#include "cgan_test.h"

#include <signal.h>
#include <time.h>

static const char *app;
static char env[512];

#define FAST "--headless --batch 10 --clf-steps 5 --eval-samples 100 --real-samples 200 --eval-every 2 --grid-every 2 --ckpt-every 2"

static void need_data(void)
{
    if (!ct_have_fashion()) {
        print_message("Fashion-MNIST not installed (Debian package dataset-fashion-mnist): skipped\n");
        skip();
    }
}

static void expect_bad(const char *args, const char *needle)
{
    char log[256];
    snprintf(log, sizeof log, "%s/bad.log", ct_tmp());
    int rc = ct_sh(log, "'%s' %s", app, args);
    char *t = ct_read(log, NULL);
    if (rc != 2 || !t || !strstr(t, needle)) {
        ct_print(log);
        fail_msg("vkn-cgan %s: exit %d (want 2), message should contain '%s'", args, rc, needle);
    }
    free(t);
}

static void test_bad_options(void **state)
{
    (void)state;
    expect_bad("--norm-g foo", "cbn, cn, cnx");
    expect_bad("--norm-d nope", "valid: none, bn");
    expect_bad("--bogus", "unknown option '--bogus'");
    expect_bad("--compare bn", "two normalization names");
    expect_bad("--compare bn,xyz", "unknown normalization 'xyz'");
    expect_bad("--loss mse", "valid: bce, hinge");
    expect_bad("--model huge", "valid: small, base");
    expect_bad("--data cifar", "valid: fashion, mnist");
    expect_bad("--steps -3", "--steps");
    expect_bad("--batch", "needs a value");
    expect_bad("--eval-samples 150", "multiple of 100");
    char log[256];
    snprintf(log, sizeof log, "%s/help.log", ct_tmp());
    assert_int_equal(ct_sh(log, "'%s' --help", app), 0);
    char *t = ct_read(log, NULL);
    assert_non_null(strstr(t, "--norm-g"));
    assert_non_null(strstr(t, "--compare"));
    free(t);
}

static int run(const char *out, const char *extra)
{
    char log[512];
    snprintf(log, sizeof log, "%s.log", out);
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' %s", env, app, out, extra);
    if (rc) ct_print(log);
    return rc;
}

/* rows "step,loss_d,loss_g,d_real,d_fake,ms_step": the text before the last comma, by step */
static int csv_rows(const char *path, char rows[][160], int max)
{
    char *t = ct_read(path, NULL);
    assert_non_null(t);
    int n = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "step", 4)) continue;
        char *comma = strrchr(line, ',');
        if (comma) *comma = 0;
        int step = atoi(line);
        if (step >= 1 && step <= max) snprintf(rows[step - 1], 160, "%s", line), n++;
    }
    free(t);
    return n;
}

static void test_smoke_and_resume(void **state)
{
    (void)state;
    need_data();
    char u[256], r[256], p[512];
    snprintf(u, sizeof u, "%s/uninterrupted", ct_tmp());
    snprintf(r, sizeof r, "%s/resumed", ct_tmp());
    assert_int_equal(run(u, "--steps 6"), 0);
    const char *files[] = {"ckpt.safetensors", "grid-000002.png", "grid-000006.png", "grid-final.png", "train.csv",
                           "train.jsonl", "metrics.csv", "metrics.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", u, files[i]);
        if (!ct_exists(p)) fail_msg("missing %s", p);
    }
    snprintf(p, sizeof p, "%s/grid-final.png", u);
    char *png = ct_read(p, NULL);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    snprintf(p, sizeof p, "%s/metrics.csv", u);
    char *m = ct_read(p, NULL);
    assert_non_null(strstr(m, "step,cond_acc,frechet,max_share,acc_0"));
    assert_non_null(strstr(m, "\n6,"));
    free(m);

    /* 3 steps, stop, resume to 6: the same losses as the uninterrupted run */
    assert_int_equal(run(r, "--steps 3"), 0);
    assert_int_equal(run(r, "--steps 6 --resume"), 0);
    char a[6][160], b[6][160];
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    snprintf(p, sizeof p, "%s/train.csv", u);
    assert_int_equal(csv_rows(p, a, 6), 6);
    snprintf(p, sizeof p, "%s/train.csv", r);
    assert_int_equal(csv_rows(p, b, 6), 6);
    for (int i = 0; i < 6; i++)
        if (strcmp(a[i], b[i])) fail_msg("step %d: uninterrupted '%s', resumed '%s'", i + 1, a[i], b[i]);
    /* a divergence (absurd learning rates after the resume) stops with a message and keeps the last good
     * checkpoint as it was */
    size_t n0 = 0, n1 = 0;
    snprintf(p, sizeof p, "%s/ckpt.safetensors", r);
    char *before = ct_read(p, &n0);
    char log[512];
    snprintf(log, sizeof log, "%s/diverge.log", ct_tmp());
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 10 --resume --lr-g 1e30 --lr-d 1e30", env, app, r);
    char *t = ct_read(log, NULL);
    if (rc != 1 || !strstr(t, "not finite") || !strstr(t, "last good checkpoint")) {
        ct_print(log);
        fail_msg("divergence: exit %d (want 1), message should say 'not finite' and name the last good checkpoint", rc);
    }
    char *after = ct_read(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(t), free(before), free(after);
    /* resuming a folder without a checkpoint says so */
    snprintf(p, sizeof p, "%s/empty", ct_tmp());
    assert_int_equal(ct_sh("/dev/null", "%s '%s' " FAST " --out '%s' --steps 2 --resume", env, app, p), 1);
}

static void test_ctrl_c(void **state)
{
    (void)state;
    need_data();
    char out[256], log[300], csv[300], ck[300];
    snprintf(out, sizeof out, "%s/sigint", ct_tmp());
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(csv, sizeof csv, "%s/train.csv", out);
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", out);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec env %s '%s' " FAST " --ckpt-every 0 --steps 100000 --out '%s' >'%s' 2>&1", env, app, out, log);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* wait for a few training steps, then Ctrl-C */
    bool started = false;
    for (int i = 0; i < 1200 && !started; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        char *t = ct_read(csv, NULL);
        if (t) {
            int lines = 0;
            for (char *c = t; *c; c++) lines += *c == '\n';
            started = lines >= 4;
        }
        free(t);
    }
    kill(pid, SIGINT);
    int st;
    waitpid(pid, &st, 0);
    if (!started || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !ct_exists(ck)) {
        ct_print(log);
        fail_msg("Ctrl-C: started %d, exit status %d, checkpoint %d", started, WIFEXITED(st) ? WEXITSTATUS(st) : -1, ct_exists(ck));
    }
    char *t = ct_read(log, NULL);
    assert_non_null(strstr(t, "Ctrl-C"));
    assert_non_null(strstr(t, "--resume"));
    free(t);
}

static void test_compare_and_missing_data(void **state)
{
    (void)state;
    need_data();
    char out[256], p[512];
    snprintf(out, sizeof out, "%s/compare", ct_tmp());
    assert_int_equal(run(out, "--steps 2 --compare bn,cn"), 0);
    const char *runs[] = {"g-bn", "g-cn"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s/grid-final.png", out, runs[i]);
        if (!ct_exists(p)) fail_msg("missing %s", p);
        snprintf(p, sizeof p, "%s/%s/ckpt.safetensors", out, runs[i]);
        if (!ct_exists(p)) fail_msg("missing %s", p);
    }
    char log[256];
    snprintf(log, sizeof log, "%s/missing.log", ct_tmp());
    int rc = ct_sh(log, "VKN_FASHION_DIR=/nonexistent '%s' --headless --steps 1 --out '%s/missing'", app, ct_tmp());
    char *t = ct_read(log, NULL);
    if (rc != 1 || !strstr(t, "dataset-fashion-mnist")) {
        ct_print(log);
        fail_msg("missing data: exit %d, the message should name dataset-fashion-mnist", rc);
    }
    free(t);
}

int main(int argc, char **argv)
{
    app = argc > 1 ? argv[1] : "vkn-cgan";
    snprintf(env, sizeof env, "VKN_DATA_DIR='%s/data'", ct_tmp());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_smoke_and_resume),
        cmocka_unit_test(test_ctrl_c),
        cmocka_unit_test(test_compare_and_missing_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
