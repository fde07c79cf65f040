/* vkn-cgan end to end, headless (argv[1]: the executable): bad options exit 2 naming the valid
 * choices; a short run writes PNG grids, metric logs and a checkpoint; a stopped and resumed run
 * continues with exactly the losses of an uninterrupted one, taking its options from the checkpoint;
 * SIGINT, SIGTERM and SIGHUP save a checkpoint of the step reached and exit 128+N, and the run resumes;
 * a folder holding a run is refused without --resume or --overwrite; a changed option is refused on
 * --resume unless --override; the logs after a kill -9 and a resume hold every step once; a damaged
 * CSV header is an error at start; stale temporary files are removed; failing PNG and log writes cost
 * neither the run nor its checkpoint; compare mode writes both runs; a missing dataset names the
 * package. Tiny settings
 * (batch 10, a classifier trained for 5 steps, cached in the test's own data folder) keep it fast.
 * Skipped without Fashion-MNIST (Debian dataset-fashion-mnist). */
#include "cgan_test.h"
#include "../common/st_edit.h"

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
    /* overflowing values: refused with the range, not wrapped (sscanf's %d) */
    expect_bad("--size 99999999999x9999999999", "W in 640..8192, H in 480..8192");
    expect_bad("--size 4294968736x900", "W in 640..8192");
    expect_bad("--interpolate 4294967297,2", "two different classes A,B in 0..9");
    expect_bad("--steps 100000001", "0..100000000");
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
    char u[256], r[256], p[512], log[512];
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

    /* 3 steps, stop, resume to 6: the same losses as the uninterrupted run. The resume gives none of
     * the run's options (batch 10, the tiny classifier, ...): they come from the checkpoint. */
    assert_int_equal(run(r, "--steps 3"), 0);
    snprintf(log, sizeof log, "%s/resume.log", ct_tmp());
    if (ct_sh(log, "%s '%s' --headless --resume --out '%s' --steps 6", env, app, r)) {
        ct_print(log);
        fail_msg("resume with the run's options from its checkpoint failed");
    }
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
    snprintf(log, sizeof log, "%s/diverge.log", ct_tmp());
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 10 --resume --lr-g 1e30 --lr-d 1e30 --override lr-g "
                   "--override=--lr-d", env, app, r);
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

/* Start a run in the background (output to log), wait until its train.csv holds rows lines, send sig;
 * returns the wait status. */
static int run_and_signal(const char *out, const char *log, const char *extra, int rows, int sig, bool *started)
{
    char csv[300];
    snprintf(csv, sizeof csv, "%s/train.csv", out);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec env %s '%s' " FAST " --steps 100000 --out '%s' %s >'%s' 2>&1", env, app, out,
                 extra, log);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    *started = false;
    for (int i = 0; i < 1200 && !*started; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        char *t = ct_read(csv, NULL);
        if (t) {
            int lines = 0;
            for (char *c = t; *c; c++) lines += *c == '\n';
            *started = lines >= rows + 1;
        }
        free(t);
    }
    kill(pid, sig);
    int st;
    waitpid(pid, &st, 0);
    return st;
}

/* The steps of a train.csv in order ("1,2,3,"), and their count. */
static int csv_steps(const char *dir, char *buf, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/train.csv", dir);
    char *t = ct_read(p, NULL);
    assert_non_null(t);
    int rows = 0;
    size_t len = 0;
    buf[0] = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "step", 4)) continue;
        rows++;
        if (len < n) len += (size_t)snprintf(buf + len, n - len, "%d,", atoi(line));
    }
    free(t);
    return rows;
}

static void expect_steps(const char *dir, int n)
{
    char got[4096], want[4096];
    size_t len = 0;
    for (int i = 1; i <= n; i++) len += (size_t)snprintf(want + len, sizeof want - len, "%d,", i);
    int rows = csv_steps(dir, got, sizeof got);
    if (rows != n || strcmp(got, want)) fail_msg("%s/train.csv: steps %s, expected each of 1..%d once", dir, got, n);
}

/* SIGINT (Ctrl-C), SIGTERM (kill, a scheduler) and SIGHUP (a closed terminal) all stop at a step boundary
 * with a checkpoint of the step reached, exit 128+N, and the run resumes from there. */
static void stop_by(int sig, const char *name, const char *says)
{
    need_data();
    char out[256], log[300], ck[300], rlog[300];
    snprintf(out, sizeof out, "%s/sig-%s", ct_tmp(), name);
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", out);
    bool started;
    int st = run_and_signal(out, log, "--ckpt-every 0", 3, sig, &started);
    if (!started || !WIFEXITED(st) || WEXITSTATUS(st) != 128 + sig || !ct_exists(ck)) {
        ct_print(log);
        fail_msg("%s: started %d, exit status %d (want %d), checkpoint %d", name, started,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1, 128 + sig, ct_exists(ck));
    }
    char *t = ct_read(log, NULL);
    assert_non_null(strstr(t, says));
    assert_non_null(strstr(t, "--resume"));
    free(t);
    /* the checkpoint holds the last step logged (--ckpt-every 0: only the one written on the signal) */
    char steps[4096];
    int reached = csv_steps(out, steps, sizeof steps);
    snprintf(rlog, sizeof rlog, "%s-resume.log", out);
    if (ct_sh(rlog, "%s '%s' --headless --resume --out '%s' --steps %d", env, app, out, reached + 2)) {
        ct_print(rlog);
        fail_msg("%s: the resume failed", name);
    }
    t = ct_read(rlog, NULL);
    char at[64];
    snprintf(at, sizeof at, "at step %d", reached);
    if (!strstr(t, at)) {
        ct_print(rlog);
        fail_msg("%s: the run reached step %d but did not resume from it", name, reached);
    }
    free(t);
    expect_steps(out, reached + 2);
}

static void test_sigint(void **state) { (void)state; stop_by(SIGINT, "sigint", "Ctrl-C"); }
static void test_sigterm(void **state) { (void)state; stop_by(SIGTERM, "sigterm", "SIGTERM"); }
static void test_sighup(void **state) { (void)state; stop_by(SIGHUP, "sighup", "SIGHUP"); }

/* Item 7: a second run into the same folder is refused, the first run untouched; --overwrite replaces it. */
static void test_run_folder(void **state)
{
    (void)state;
    need_data();
    char out[256], p[512], log[512];
    snprintf(out, sizeof out, "%s/folder", ct_tmp());
    assert_int_equal(run(out, "--steps 2"), 0);
    snprintf(p, sizeof p, "%s/ckpt.safetensors", out);
    size_t n0, n1;
    char *before = ct_read(p, &n0);
    snprintf(log, sizeof log, "%s/folder-again.log", ct_tmp());
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 3", env, app, out);
    char *t = ct_read(log, NULL);
    if (rc != 2 || !strstr(t, out) || !strstr(t, "--resume") || !strstr(t, "--overwrite") || !strstr(t, "ckpt.safetensors")) {
        ct_print(log);
        fail_msg("a run into a folder holding one: exit %d (want 2), the message should name the folder, "
                 "what it holds, --resume and --overwrite", rc);
    }
    free(t);
    char *after = ct_read(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before), free(after);
    /* logs alone are a run too (killed before its first checkpoint) */
    char cmd[1200];
    snprintf(p, sizeof p, "%s/logs-only", ct_tmp());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && echo step > '%s/train.csv'", p, p);
    assert_int_equal(system(cmd), 0);
    snprintf(log, sizeof log, "%s/logs-only.log", ct_tmp());
    assert_int_equal(ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 1", env, app, p), 2);
    assert_int_equal(ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 1 --resume --overwrite", env, app, out), 2);
    /* --overwrite: a new run (its history starts afresh, the old grid of step 2 is gone) */
    assert_int_equal(run(out, "--steps 1 --overwrite"), 0);
    snprintf(p, sizeof p, "%s/grid-000002.png", out);
    assert_false(ct_exists(p));
    expect_steps(out, 1);
    snprintf(p, sizeof p, "%s/run.json", out);
    t = ct_read(p, NULL);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"event\": \"start\""));
    assert_null(strstr(t, "\"event\": \"resume\""));
    free(t);
}

/* Item 9: run.json and the checkpoint hold the options; --resume refuses a changed one naming both
 * values; --override allows it and run.json's history records it. */
static void test_resume_options(void **state)
{
    (void)state;
    need_data();
    char out[256], p[512], log[512];
    snprintf(out, sizeof out, "%s/options", ct_tmp());
    assert_int_equal(run(out, "--steps 2 --seed 5"), 0);
    snprintf(p, sizeof p, "%s/run.json", out);
    char *t = ct_read(p, NULL);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"--seed\": \"5\""));
    assert_non_null(strstr(t, "\"--batch\": \"10\""));
    assert_non_null(strstr(t, "\"commit\": "));
    assert_non_null(strstr(t, "\"device\": \"vknorm device: "));
    free(t);
    snprintf(p, sizeof p, "%s/ckpt.safetensors", out);
    t = ct_read(p, NULL);
    assert_non_null(strstr(t + 8, "\"option:--seed\":\"5\""));
    free(t);
    static const struct { const char *args, *opt, *was, *now; } refused[] = {
        {"--seed 6", "--seed", "5", "6"},
        {"--batch 20", "--batch", "10", "20"},
        {"--lr-g 1e-3", "--lr-g", "0.000199999995", "0.00100000005"},
        {"--loss hinge", "--loss", "bce", "hinge"},
        {"--compare cn,bn", "--compare", "not set", "cn,bn"},
    };
    snprintf(log, sizeof log, "%s/options.log", ct_tmp());
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int rc = ct_sh(log, "%s '%s' --headless --resume --out '%s' --steps 3 %s", env, app, out, refused[i].args);
        t = ct_read(log, NULL);
        char want[200];
        snprintf(want, sizeof want, "--override %s", refused[i].opt + 2);
        if (rc != 2 || !strstr(t, refused[i].opt) || !strstr(t, refused[i].was) || !strstr(t, refused[i].now) ||
            !strstr(t, want)) {
            ct_print(log);
            fail_msg("--resume %s: exit %d (want 2), the message should name %s, %s, %s and '%s'", refused[i].args, rc,
                     refused[i].opt, refused[i].was, refused[i].now, want);
        }
        free(t);
    }
    assert_int_equal(ct_sh(log, "%s '%s' --headless --resume --out '%s' --override nosuch", env, app, out), 2);
    assert_int_equal(ct_sh(log, "%s '%s' --headless --out '%s' --override seed", env, app, out), 2);
    /* a deliberate change, and a free one */
    if (ct_sh(log, "%s '%s' --headless --resume --out '%s' --steps 3 --lr-g 1e-3 --override lr-g", env, app, out)) {
        ct_print(log);
        fail_msg("--override lr-g was refused");
    }
    snprintf(p, sizeof p, "%s/run.json", out);
    t = ct_read(p, NULL);
    if (!strstr(t, "\"event\": \"resume\"") || !strstr(t, "\"overridden\": {\"--lr-g\": [\"0.000199999995\", \"0.00100000005\"]}") ||
        !strstr(t, "\"changed\": {\"--steps\": [\"2\", \"3\"]}") || !strstr(t, "\"--lr-g\": \"0.00100000005\""))
        fail_msg("run.json does not record the resume's changes:\n%s", t);
    free(t);
    expect_steps(out, 3);
}

/* Item 10: after a kill -9 (rows logged past the last checkpoint, a torn row) the resume cuts the logs
 * back, so every step is logged once and the losses are those of an uninterrupted run; stale temporary
 * files of dead writers are removed, a live writer's kept; a damaged CSV header is an error at start. */
static void test_logs_after_kill(void **state)
{
    (void)state;
    need_data();
    char u[256], out[256], log[300], p[512], cmd[2000];
    snprintf(u, sizeof u, "%s/kill-uninterrupted", ct_tmp());
    snprintf(out, sizeof out, "%s/kill", ct_tmp());
    snprintf(log, sizeof log, "%s.log", out);
    assert_int_equal(run(u, "--steps 12"), 0);
    bool started;
    int st = run_and_signal(out, log, "--ckpt-every 4", 6, SIGKILL, &started);
    assert_true(started && WIFSIGNALED(st));
    /* a torn row in each log, and temporary files: one of a dead writer, one of this (live) process */
    snprintf(cmd, sizeof cmd, "printf '99,0.5' >> '%s/train.csv' && printf '{\"step\":99,' >> '%s/train.jsonl' && "
             "head -c 1000 /dev/zero > '%s/ckpt.safetensors.tmp-999999999-0' && "
             "head -c 1000 /dev/zero > '%s/ckpt.safetensors.tmp-%d-3'", out, out, out, out, (int)getpid());
    assert_int_equal(system(cmd), 0);
    snprintf(log, sizeof log, "%s-resume.log", out);
    if (ct_sh(log, "%s '%s' --headless --resume --out '%s' --steps 12", env, app, out)) {
        ct_print(log);
        fail_msg("resume after kill -9 failed");
    }
    char *t = ct_read(log, NULL);
    assert_non_null(strstr(t, "removed 1 temporary file"));
    free(t);
    snprintf(p, sizeof p, "%s/ckpt.safetensors.tmp-999999999-0", out);
    assert_false(ct_exists(p));
    snprintf(p, sizeof p, "%s/ckpt.safetensors.tmp-%d-3", out, (int)getpid());
    assert_true(ct_exists(p));
    expect_steps(out, 12);
    char a[12][160], b[12][160];
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    snprintf(p, sizeof p, "%s/train.csv", u);
    csv_rows(p, a, 12);
    snprintf(p, sizeof p, "%s/train.csv", out);
    csv_rows(p, b, 12);
    for (int i = 0; i < 12; i++)
        if (strcmp(a[i], b[i])) fail_msg("step %d: uninterrupted '%s', killed and resumed '%s'", i + 1, a[i], b[i]);
    snprintf(p, sizeof p, "%s/train.jsonl", out);
    t = ct_read(p, NULL);
    int lines = 0;
    for (char *c = t; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 12);
    assert_null(strstr(t, "\"step\":99"));
    free(t);
    /* a damaged header: an error at start that names the file, nothing changed */
    snprintf(cmd, sizeof cmd, "sed -i '1s/loss_d/lXss_d/' '%s/train.csv'", out);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/train.csv", out);
    size_t n0, n1;
    char *before = ct_read(p, &n0);
    int rc = ct_sh(log, "%s '%s' --headless --resume --out '%s' --steps 14", env, app, out);
    t = ct_read(log, NULL);
    if (rc != 1 || !strstr(t, "train.csv: damaged header") || !strstr(t, "lXss_d")) {
        ct_print(log);
        fail_msg("damaged header: exit %d (want 1), the message should name train.csv and its header", rc);
    }
    free(t);
    char *after = ct_read(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before), free(after);
}

/* Item 11: PNG grids that cannot be written (a folder in the way) and a log on a full disk (/dev/full)
 * are reported; the run finishes with its checkpoint, and the summary lists only files that exist. */
static void test_side_outputs(void **state)
{
    (void)state;
    need_data();
    char out[256], log[300], p[512], cmd[1200];
    snprintf(out, sizeof out, "%s/side", ct_tmp());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/grid-000002.png' '%s/grid-final.png' && ln -s /dev/full '%s/train.jsonl'", out,
             out, out);
    assert_int_equal(system(cmd), 0);
    snprintf(log, sizeof log, "%s.log", out);
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 4", env, app, out);
    char *t = ct_read(log, NULL);
    snprintf(p, sizeof p, "%s/ckpt.safetensors", out);
    if (rc != 0 || !ct_exists(p) || !strstr(t, "warning: ") || !strstr(t, "grid-000002.png") ||
        !strstr(t, "No space left on device") ||
        !strstr(t, "side output(s) could not be written")) {
        ct_print(log);
        fail_msg("failing side outputs: exit %d (want 0), checkpoint %d, the PNG and the log failures reported", rc,
                 ct_exists(p));
    }
    char *files = strstr(t, "files: ");
    assert_non_null(files);
    *strchr(files, '\n') = 0;
    if (strstr(files, "grid-final.png") || strstr(files, "train.jsonl") || !strstr(files, "ckpt.safetensors") ||
        !strstr(files, "grid-000004.png"))
        fail_msg("the summary should list the files written, and only those: %s", files);
    free(t);
    /* the checkpoint is the final one */
    rc = ct_sh(log, "%s '%s' --headless --resume --out '%s' --steps 4", env, app, out);
    t = ct_read(log, NULL);
    if (rc || !strstr(t, "already at step 4")) {
        ct_print(log);
        fail_msg("the checkpoint is not at step 4");
    }
    free(t);
}

static void expect_resume_fails(const char *dir, const char *needle)
{
    char log[512];
    snprintf(log, sizeof log, "%s/damaged.log", ct_tmp());
    time_t t0 = time(NULL);
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 4 --resume", env, app, dir);
    char *t = ct_read(log, NULL);
    if (rc != 1 || !t || !strstr(t, needle)) {
        ct_print(log);
        fail_msg("resume of a damaged checkpoint: exit %d (want 1), message should contain '%s'", rc, needle);
    }
    assert_true(time(NULL) - t0 < 120);   /* refused, not replaying batches */
    free(t);
}

/* A damaged checkpoint is refused by name before any batch is replayed (a step of 2^63-1 used to hang
 * --resume, -5 to resume into "diverged", a flipped float to resume silently); a damaged classifier
 * cache is rebuilt with a notice. */
static void test_damaged_files(void **state)
{
    (void)state;
    need_data();
    char out[256], ck[512], good[512];
    snprintf(out, sizeof out, "%s/damaged", ct_tmp());
    assert_int_equal(run(out, "--steps 2"), 0);
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", out);
    snprintf(good, sizeof good, "%s/ckpt.good", ct_tmp());
    size_t n = 0;
    char *orig = ct_read(ck, &n);
    assert_non_null(orig);
    FILE *f;
    static const struct { const char *step, *msg; } bad[] = {
        { "9223372036854775807", "\"step\" is \"9223372036854775807\"" },
        { "-5", "\"step\" is \"-5\"" },
        { "5", "is at step 5, past the run's --steps 4" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        st_set_meta(ck, "step", bad[i].step);
        expect_resume_fails(out, bad[i].msg);
        f = fopen(ck, "wb"), fwrite(orig, 1, n, f), fclose(f);
    }
    orig[n - 3] ^= 0x40;   /* a float of the last tensor */
    f = fopen(ck, "wb"), fwrite(orig, 1, n, f), fclose(f);
    expect_resume_fails(out, "does not match its checksum");
    free(orig);
    /* the classifier cache: a flipped byte is noticed and the classifier retrained */
    char cache[512];
    snprintf(cache, sizeof cache, "%s/data/cache/cgan-classifier-v1-fashion-5.safetensors", ct_tmp());
    char *c = ct_read(cache, &n);
    assert_non_null(c);
    c[n - 5] ^= 0x01;
    f = fopen(cache, "wb"), fwrite(c, 1, n, f), fclose(f);
    free(c);
    char log[512];
    snprintf(log, sizeof log, "%s/cache.log", ct_tmp());
    snprintf(out, sizeof out, "%s/damaged-cache", ct_tmp());
    int rc = ct_sh(log, "%s '%s' " FAST " --out '%s' --steps 1", env, app, out);
    char *t = ct_read(log, NULL);
    if (rc != 0 || !strstr(t, "classifier cache is unusable, rebuilding it") || !strstr(t, "does not match its checksum")) {
        ct_print(log);
        fail_msg("damaged classifier cache: exit %d, want 0 and a notice", rc);
    }
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
        cmocka_unit_test(test_sigint),
        cmocka_unit_test(test_sigterm),
        cmocka_unit_test(test_sighup),
        cmocka_unit_test(test_run_folder),
        cmocka_unit_test(test_resume_options),
        cmocka_unit_test(test_logs_after_kill),
        cmocka_unit_test(test_side_outputs),
        cmocka_unit_test(test_compare_and_missing_data),
        cmocka_unit_test(test_damaged_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
