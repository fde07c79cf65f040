/* Atomic writes (vkn_io_write_file, the one helper behind checkpoints, caches and PNGs): writers of the
 * same path at the same time each use their own temporary file, so the target is always one writer's
 * complete file and no temporary file is left; a failure at any point leaves the old file. */
#include "vkn/io.h"
#include "io_test_util.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

extern int vkn_io_fail_point;
enum { FAIL_NONE, FAIL_CREATE, FAIL_WRITE, FAIL_FSYNC, FAIL_RENAME };   /* as src/io/io_internal.h */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

#define LEN (256 * 1024)
typedef struct { const char *path; uint8_t fill; int rounds, failures; } writer;

static void *write_many(void *arg)
{
    writer *w = arg;
    uint8_t *buf = malloc(LEN);
    memset(buf, w->fill, LEN);
    for (int i = 0; i < w->rounds; i++)
        if (vkn_io_write_file(w->path, buf, LEN, "test") != VKN_OK) w->failures++;
    free(buf);
    return NULL;
}

/* The target is whole and from one writer. */
static void check_whole(const char *path)
{
    size_t n;
    uint8_t *p = read_bytes(path, &n);
    assert_int_equal(n, LEN);
    for (size_t i = 1; i < n; i++)
        if (p[i] != p[0]) fail_msg("%s mixes two writers' bytes at %zu", path, i);
    free(p);
}

static void test_concurrent_threads(void **st)
{
    (void)st;
    const char *dir = tmp_dir();
    char path[200];
    snprintf(path, sizeof path, "%s/cache.bin", dir);
    pthread_t t[4];
    writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (writer){ path, (uint8_t)(i + 1), 20, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    check_whole(path);
    assert_int_equal(count_entries(dir), 1);
}

/* Separate processes (two apps sharing the data folder's cache) the same. */
static void test_concurrent_processes(void **st)
{
    (void)st;
    const char *dir = tmp_dir();
    char path[200];
    snprintf(path, sizeof path, "%s/grid.png", dir);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            writer w = { path, (uint8_t)(0x40 + i), 20, 0 };
            write_many(&w);
            _exit(w.failures ? 1 : 0);
        }
    }
    for (int i = 0; i < 3; i++) {
        int status = 0;
        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    check_whole(path);
    assert_int_equal(count_entries(dir), 1);
}

static void test_failures_keep_the_old_file(void **st)
{
    (void)st;
    const char *dir = tmp_dir();
    char path[200];
    snprintf(path, sizeof path, "%s/a.png", dir);
    assert_int_equal(vkn_io_write_file(path, "old", 3, "png"), VKN_OK);
    static const struct { int point; const char *msg; } cases[] = {
        { FAIL_CREATE, "cannot create a temporary file" }, { FAIL_WRITE, "write failed" },
        { FAIL_FSYNC, "fsync failed" }, { FAIL_RENAME, "cannot rename" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkn_io_fail_point = cases[i].point;
        vkn_status s = vkn_io_write_file(path, "new!", 4, "png");
        vkn_io_fail_point = FAIL_NONE;
        assert_int_equal(s, VKN_ERR_IO);
        detail_has("png: ", path, cases[i].msg, NULL);
        size_t n;
        uint8_t *p = read_bytes(path, &n);
        assert_int_equal(n, 3);
        assert_memory_equal(p, "old", 3);
        free(p);
        assert_int_equal(count_entries(dir), 1);
    }
    /* the streaming form: fprintf into it, abort leaves nothing */
    vkn_io_atomic *a;
    assert_int_equal(vkn_io_atomic_open(path, "summary", &a), VKN_OK);
    fprintf(vkn_io_atomic_file(a), "{\"x\": %d}\n", 5);
    assert_int_equal(count_entries(dir), 2);
    vkn_io_atomic_abort(a);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(vkn_io_atomic_open(path, "summary", &a), VKN_OK);
    fprintf(vkn_io_atomic_file(a), "{\"x\": %d}\n", 5);
    assert_int_equal(vkn_io_atomic_commit(a), VKN_OK);
    size_t n;
    uint8_t *p = read_bytes(path, &n);
    assert_string_equal((char *)p, "{\"x\": 5}\n");
    free(p);
    /* a folder that does not exist */
    snprintf(path, sizeof path, "%s/no/such/x.bin", dir);
    assert_int_equal(vkn_io_write_file(path, "x", 1, "cache"), VKN_ERR_IO);
    detail_has("cache: ", path, "check the folder exists", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_threads),
        cmocka_unit_test(test_concurrent_processes),
        cmocka_unit_test(test_failures_keep_the_old_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
