/* apps/common/runfolder.c and the stop signals of headless.c, without a device or a dataset (the app
 * tests in tests/cgan and tests/da run them end to end but skip without their datasets):
 *  - a folder holding a run is refused unless --resume or --overwrite (which removes only the run's
 *    files); empty files and symlinks are no evidence of a run;
 *  - temporary files: a dead writer's NAME.tmp-PID-N and an old fixed NAME.tmp of the run's own files are
 *    removed, a live writer's and foreign files are kept;
 *  - logs cut back to a step: later rows and torn rows dropped from the CSV and the JSONL, a damaged
 *    header refused with both headers named, nothing rewritten when nothing is dropped;
 *  - options: the resume command line takes the recorded options not given, a changed FIXED option is
 *    refused naming both values unless overridden, FREE changes are listed; run.json keeps its history;
 *  - SIGTERM and SIGHUP set the stop flag like SIGINT; a second signal ends the process. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runfolder.h"
#include "viewer.h"

static char dir[96], base[64];

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *get(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    char *t = calloc(1, 1 << 16);
    size_t n = fread(t, 1, (1 << 16) - 1, f);
    t[n] = 0;
    fclose(f);
    return t;
}

static bool has(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void fresh(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
}

static const char *const ckpt[] = {"ckpt.safetensors", "g-*/ckpt.safetensors", NULL};
static const char *const logs[] = {"train.csv", "train.jsonl", "g-*/train.csv", NULL};
static const char *const files[] = {"train.csv", "train.jsonl", "g-*/train.csv", "grid-[0-9]*.png", "run.json", NULL};

static vkn_run_folder folder(void) { return (vkn_run_folder){"vkn-test", dir, ckpt, files, logs}; }

static void test_prepare(void **s)
{
    (void)s;
    fresh();
    vkn_run_folder f = folder();
    vkn_run_cli plain = {0}, resume = {.resume = true}, over = {.overwrite = true}, both = {.resume = true, .overwrite = true};
    char note[300];
    /* empty, a symlink, an empty log and foreign files: no run */
    put("notes.txt", "mine");
    put("train.csv", "");
    char p[256];
    snprintf(p, sizeof p, "%s/train.jsonl", dir);
    assert_int_equal(symlink("/dev/null", p), 0);
    assert_int_equal(vkn_run_folder_prepare(&f, &plain, note, sizeof note), VKN_OK);
    /* a log in a compare subfolder is a run */
    snprintf(p, sizeof p, "%s/g-bn", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put("g-bn/train.csv", "step\n1\n");
    put("grid-000002.png", "png");
    assert_int_equal(vkn_run_folder_prepare(&f, &plain, note, sizeof note), VKN_ERR_ARG);
    const char *d = vkn_status_detail();
    assert_non_null(strstr(d, dir));
    assert_non_null(strstr(d, "g-bn/train.csv"));
    assert_non_null(strstr(d, "--resume"));
    assert_non_null(strstr(d, "--overwrite"));
    assert_int_equal(vkn_run_folder_prepare(&f, &both, note, sizeof note), VKN_ERR_ARG);
    assert_int_equal(vkn_run_folder_prepare(&f, &resume, note, sizeof note), VKN_OK);
    assert_true(has("g-bn/train.csv"));
    /* --overwrite removes the run's files, and only those */
    assert_int_equal(vkn_run_folder_prepare(&f, &over, note, sizeof note), VKN_OK);
    assert_non_null(strstr(note, "removed 3 file(s)"));
    assert_false(has("g-bn/train.csv"));
    assert_false(has("grid-000002.png"));
    assert_false(has("train.csv"));
    assert_true(has("notes.txt"));
    assert_true(has("train.jsonl"));   /* a symlink is not the run's file */
    assert_int_equal(vkn_run_folder_prepare(&f, &plain, note, sizeof note), VKN_OK);
}

static void test_temps(void **s)
{
    (void)s;
    fresh();
    vkn_run_folder f = folder();
    char live[64], note[300];
    snprintf(live, sizeof live, "ckpt.safetensors.tmp-%d-2", (int)getpid());
    put("ckpt.safetensors.tmp-999999999-0", "x");   /* beyond any pid_max: a dead writer */
    put(live, "x");
    put("run.json.tmp", "x");                        /* an old fixed name of one of the run's files */
    put("other.tmp", "x");                           /* not the run's */
    put("ckpt.safetensors.tmp-12x-0", "x");          /* not the writers' form */
    char p[256];
    snprintf(p, sizeof p, "%s/g-cn", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put("g-cn/ckpt.safetensors.tmp-999999998-5", "x");
    assert_int_equal(vkn_run_clean_temps(&f, note, sizeof note), VKN_OK);
    assert_non_null(strstr(note, "removed 3 temporary file(s)"));
    assert_false(has("ckpt.safetensors.tmp-999999999-0"));
    assert_false(has("g-cn/ckpt.safetensors.tmp-999999998-5"));
    assert_false(has("run.json.tmp"));
    assert_true(has(live));
    assert_true(has("other.tmp"));
    assert_true(has("ckpt.safetensors.tmp-12x-0"));
}

static const char *const cols[] = {"step", "a", "b"};

static void test_log_cut(void **s)
{
    (void)s;
    fresh();
    int dropped = -1;
    /* missing logs are fine */
    assert_int_equal(vkn_run_log_cut(dir, "train", cols, 3, 3, &dropped), VKN_OK);
    assert_int_equal(dropped, 0);
    put("train.csv", "step,a,b\n1,0.5,2\n2,0.25,3\n3,1,1\n4,2,2\n2,9\n5,1");
    put("train.jsonl", "{\"step\":1,\"a\":0.5}\n{\"step\":2,\"a\":0.25}\n{\"step\":3,\"a\":1}\n{\"a\":7}\n{\"step\":1,\"a\":");
    assert_int_equal(vkn_run_log_cut(dir, "train", cols, 3, 3, &dropped), VKN_OK);
    assert_int_equal(dropped, 4);   /* steps 3 and 4, the short row, the torn last row */
    char *t = get("train.csv");
    assert_string_equal(t, "step,a,b\n1,0.5,2\n2,0.25,3\n");
    free(t);
    t = get("train.jsonl");
    assert_string_equal(t, "{\"step\":1,\"a\":0.5}\n{\"step\":2,\"a\":0.25}\n");
    free(t);
    /* nothing to drop: left as it is */
    struct stat a, b;
    char p[256];
    snprintf(p, sizeof p, "%s/train.csv", dir);
    assert_int_equal(stat(p, &a), 0);
    assert_int_equal(vkn_run_log_cut(dir, "train", cols, 3, 10, &dropped), VKN_OK);
    assert_int_equal(stat(p, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    /* a damaged header: refused, naming the file and both headers, the file untouched */
    put("train.csv", "stXp,a,b\n1,0.5,2\n9,1,1\n");
    assert_int_equal(vkn_run_log_cut(dir, "train", cols, 3, 3, &dropped), VKN_ERR_FORMAT);
    const char *d = vkn_status_detail();
    assert_non_null(strstr(d, "train.csv: damaged header \"stXp,a,b\" (expected \"step,a,b\")"));
    t = get("train.csv");
    assert_string_equal(t, "stXp,a,b\n1,0.5,2\n9,1,1\n");
    free(t);
}

static void describe(vkn_runopts *l, const char *seed, const char *lr, const char *steps, const char *out)
{
    l->n = 0;
    vkn_runopts_add(l, "--seed", VKN_RUNOPT_FIXED, "%s", seed);
    vkn_runopts_add(l, "--lr", VKN_RUNOPT_FIXED, "%s", lr);
    vkn_runopts_add(l, "--compare", VKN_RUNOPT_FIXED, "%s", "");
    vkn_runopts_add(l, "--steps", VKN_RUNOPT_FREE, "%s", steps);
    vkn_runopts_add(l, "--out", VKN_RUNOPT_LOCAL, "%s", out);
}

static void test_options(void **s)
{
    (void)s;
    vkn_runopts rec, known, now;
    describe(&rec, "5", "0.001", "100", "runs/x");
    vkn_runopts_add(&rec, "--gone", VKN_RUNOPT_FIXED, "%s", "1");   /* an option this version lacks */
    describe(&known, "1", "0.001", "10", "runs/x");
    /* the command line gives --lr: the rest of the recorded options come first, then argv */
    vkn_run_cli c = {.resume = true};
    vkn_run_cli_given(&c, "--lr");
    vkn_run_cli_given(&c, "--resume");
    char *argv[] = {"app", "--resume", "--lr", "0.01", NULL};
    int argc2;
    char **argv2;
    assert_int_equal(vkn_run_resume_argv(&rec, &known, &c, 4, argv, &argc2, &argv2), VKN_OK);
    assert_int_equal(argc2, 6);
    assert_string_equal(argv2[1], "--seed=5");
    assert_string_equal(argv2[2], "--steps=100");
    assert_string_equal(argv2[3], "--resume");
    assert_null(argv2[6]);
    free(argv2);
    /* a changed FIXED option is refused naming both values */
    describe(&now, "5", "0.01", "200", "runs/x");
    vkn_run_change ch[4];
    int n;
    assert_int_equal(vkn_run_check("app", &rec, "runs/x/ckpt", &now, &c, ch, 4, &n), VKN_ERR_ARG);
    const char *d = vkn_status_detail();
    assert_non_null(strstr(d, "--lr is 0.001 in the run (runs/x/ckpt) but 0.01 here"));
    assert_non_null(strstr(d, "--override lr"));
    /* --override allows it; the FREE change is listed too */
    assert_true(vkn_run_cli_add_override(&c, "lr"));
    assert_int_equal(vkn_run_check("app", &rec, "runs/x/ckpt", &now, &c, ch, 4, &n), VKN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ch[0].name, "--lr");
    assert_true(ch[0].overridden);
    assert_string_equal(ch[1].name, "--steps");
    assert_false(ch[1].overridden);
    /* an override of something that is not a recorded option */
    vkn_run_cli bad = {.resume = true};
    assert_true(vkn_run_cli_add_override(&bad, "--out"));
    assert_int_equal(vkn_run_check("app", &rec, "x", &now, &bad, ch, 4, &n), VKN_ERR_ARG);
    /* "not set" is said so */
    describe(&now, "5", "0.001", "100", "runs/x");
    snprintf(now.v[2].value, sizeof now.v[2].value, "bn,cn");
    vkn_run_cli none = {.resume = true};
    assert_int_equal(vkn_run_check("app", &rec, "x", &now, &none, ch, 4, &n), VKN_ERR_ARG);
    assert_non_null(strstr(vkn_status_detail(), "--compare is (not set) in the run (x) but bn,cn here"));
    /* the checkpoint metadata: FIXED and FREE options only */
    vkn_run_meta m;
    vkn_run_meta_fill(&m, &rec);
    assert_string_equal(m.kv[0], "option:--seed");
    assert_string_equal(m.kv[1], "5");
    int k = 0;
    while (m.kv[k]) k++;
    assert_int_equal(k, 2 * 5);   /* --seed --lr --compare --steps --gone, not --out */
}

static void test_run_json(void **s)
{
    (void)s;
    fresh();
    vkn_runopts o;
    describe(&o, "5", "0.001", "100", "a \"quoted\" path");
    assert_int_equal(vkn_run_json_write(dir, "vkn-test", "abc1234", "dev 1", &o, false, 0, NULL, 0), VKN_OK);
    vkn_run_change ch = {"--lr", "0.001", "0.01", true};
    assert_int_equal(vkn_run_json_write(dir, "vkn-test", "def5678", "dev 2", &o, true, 40, &ch, 1), VKN_OK);
    assert_int_equal(vkn_run_json_write(dir, "vkn-test", "def5678", "dev 2", &o, true, 80, NULL, 0), VKN_OK);
    char *t = get("run.json");
    assert_non_null(strstr(t, "\"commit\": \"def5678\""));
    assert_non_null(strstr(t, "\"--out\": \"a \\\"quoted\\\" path\""));
    char *e1 = strstr(t, "{\"event\": \"start\", \"step\": 0");
    char *e2 = strstr(t, "{\"event\": \"resume\", \"step\": 40");
    char *e3 = strstr(t, "{\"event\": \"resume\", \"step\": 80");
    assert_true(e1 && e2 && e3 && e1 < e2 && e2 < e3);
    assert_non_null(strstr(e2, "\"overridden\": {\"--lr\": [\"0.001\", \"0.01\"]}"));
    free(t);
    assert_false(has("run.json.tmp"));
}

static void test_files_list(void **s)
{
    (void)s;
    fresh();
    vkn_run_folder f = folder();
    put("ckpt.safetensors", "x");
    put("grid-000002.png", "x");
    put("grid-000004.png", "x");
    put("train.csv", "");   /* empty: not listed */
    char buf[400];
    vkn_run_files_list(&f, buf, sizeof buf);
    assert_string_equal(buf, "ckpt.safetensors, 2 grid-*.png");
}

static void test_signals(void **s)
{
    (void)s;
    for (int k = 0; k < 2; k++) {
        int sig = k ? SIGHUP : SIGTERM;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            vkn_sigint_install();
            if (vkn_sigint_pending() || vkn_stop_signal()) _exit(10);
            raise(sig);   /* the first: a flag, the process goes on */
            if (!vkn_sigint_pending() || vkn_stop_signal() != sig) _exit(11);
            raise(SIGINT);   /* the second (of any kind): ends the process */
            _exit(12);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGINT)
            fail_msg("%s: exit %d, signal %d (want: the flag, then death by the second signal)", vkn_signal_name(sig),
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (base[0] && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/vkn-runfolder-XXXXXX");
    if (!mkdtemp(base)) return 1;
    snprintf(dir, sizeof dir, "%s/run", base);
    atexit(cleanup);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare), cmocka_unit_test(test_temps), cmocka_unit_test(test_log_cut),
        cmocka_unit_test(test_options), cmocka_unit_test(test_run_json), cmocka_unit_test(test_files_list),
        cmocka_unit_test(test_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
