/* Fashion-MNIST from Debian's dataset-fashion-mnist, read in full (skipped when not installed). */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <math.h>
#include <unistd.h>

#define DIR "/usr/share/datasets/fashion-mnist"

static void check_split(vkn_split split, int32_t n, int32_t per_class, const uint8_t *first10, double mean)
{
    if (access(DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        print_message("dataset-fashion-mnist is not installed: skipping\n");
        skip();
    }
    vkn_dataset ds;
    assert_int_equal(vkn_data_fashion_load(&ds, DIR, split), VKN_OK);
    assert_int_equal(ds.n, n);
    assert_int_equal(ds.c, 1);
    assert_int_equal(ds.h, 28);
    assert_int_equal(ds.w, 28);
    assert_int_equal(ds.num_classes, 10);
    int64_t cnt[10];
    double m, sd;
    vkn_data_summary(&ds, cnt, &m, &sd);
    for (int k = 0; k < 10; k++) assert_int_equal(cnt[k], per_class);
    assert_memory_equal(ds.labels, first10, 10);
    assert_true(fabs(m - mean) < 1e-3);
    vkn_data_free(&ds);
}

static void test_train(void **s)
{
    (void)s;
    static const uint8_t first[10] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 };
    check_split(VKN_SPLIT_TRAIN, 60000, 6000, first, 0.2860);
}

static void test_test(void **s)
{
    (void)s;
    static const uint8_t first[10] = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 };
    check_split(VKN_SPLIT_TEST, 10000, 1000, first, 0.2868);
}

static void test_missing(void **s)
{
    (void)s;
    vkn_dataset ds;
    assert_int_equal(vkn_data_fashion_load(&ds, "/nonexistent/fashion", VKN_SPLIT_TRAIN), VKN_ERR_IO);
    detail_has("/nonexistent/fashion/train-images-idx3-ubyte", "dataset-fashion-mnist", NULL);
    assert_null(ds.images);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train),
        cmocka_unit_test(test_test),
        cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
