/* vkn-data's options (program path in VKN_DATA_EXE) on a 20-sample IDX dataset: a --start past the
 * end, a --count or --n beyond the samples and values that overflow are refused with exit 2 and a
 * message naming the option, the value and the valid range (never moved or clamped without a
 * word); the default count still shrinks to the samples left. */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <sys/wait.h>

static const char *dir, *exe;
static char spec[1024];         /* idx:IMAGES,LABELS */
static char err_text[4096], out_text[4096];

static void slurp(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* vkn-data SPEC ARGS: its exit status; stdout and stderr in out_text, err_text */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && '%s' %s %s >out.txt 2>err.txt", dir, exe, spec, args);
    int st = system(cmd);
    char p[600];
    snprintf(p, sizeof p, "%s/out.txt", dir);
    slurp(p, out_text, sizeof out_text);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    slurp(p, err_text, sizeof err_text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect(int code, const char *args, const char *needle1, const char *needle2)
{
    int rc = run(args);
    if (rc != code) fail_msg("vkn-data %s: exit %d, expected %d\nstdout: %s\nstderr: %s", args, rc, code, out_text, err_text);
    const char *text = code ? err_text : out_text;
    if (needle1 && !strstr(text, needle1)) fail_msg("vkn-data %s: output lacks \"%s\":\n%s", args, needle1, text);
    if (needle2 && !strstr(text, needle2)) fail_msg("vkn-data %s: output lacks \"%s\":\n%s", args, needle2, text);
}

static int setup(void **state)
{
    (void)state;
    exe = getenv("VKN_DATA_EXE");
    if (!exe) return -1;
    dir = tmp_dir();
    vkn_dataset ds;
    if (vkn_data_alloc(&ds, "tiny", 20, 1, 4, 4, 10) != VKN_OK) return -1;
    for (int i = 0; i < 20; i++) {
        ds.labels[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 16; k++) ds.images[i * 16 + k] = (uint8_t)(i * 12 + k);
    }
    char im[300], lb[300];
    snprintf(im, sizeof im, "%s/im.idx", dir);
    snprintf(lb, sizeof lb, "%s/lb.idx", dir);
    vkn_status s = vkn_data_idx_write(&ds, im, lb, 0);
    vkn_data_free(&ds);
    snprintf(spec, sizeof spec, "idx:%s,%s", im, lb);
    return s == VKN_OK ? 0 : -1;
}

static void test_grid_range(void **state)
{
    (void)state;
    expect(0, "--png g.png", "samples 0 .. 19", NULL);                   /* default count 100 shrinks to 20 */
    expect(0, "--png g.png --start 15", "samples 15 .. 19", NULL);
    expect(0, "--png g.png --start 5 --count 15", "samples 5 .. 19", NULL);
    expect(2, "--png g.png --start 20", "--start 20 is past the end", "valid: 0 .. 19");
    expect(2, "--png g.png --start 2147483647", "--start 2147483647 is past the end", "valid: 0 .. 19");
    expect(2, "--png g.png --start 10 --count 11", "--count 11 from --start 10 runs past the end", "valid: 1 .. 10");
}

static void test_values(void **state)
{
    (void)state;
    expect(0, "--n 20", "20 images", NULL);
    expect(0, "--n 7", "7 images", NULL);
    expect(2, "--n 21", "--n 21 is more than the 20 samples", "valid: 1 .. 20");
    /* out of range and overflowing values: refused, named with the range, not clamped */
    expect(2, "--start 99999999999999999999", "--start needs an integer in 0 .. 2147483647", "99999999999999999999");
    expect(2, "--start -1", "--start needs an integer in 0 .. 2147483647", NULL);
    expect(2, "--seed 9223372036854775808", "--seed needs an integer in 0 .. 2147483647", NULL);
    expect(2, "--count 0", "--count needs an integer in 1 .. 10000", NULL);
    expect(2, "--scale 17", "--scale needs an integer in 1 .. 16", NULL);
    expect(2, "--cols 1x", "--cols needs an integer in 1 .. 1000", "'1x'");
    expect(2, "--n ''", "--n needs an integer in 1 .. 2000000", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_range),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
