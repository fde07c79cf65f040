/* Batching: pixel conversion, channel replication, seeded shuffling, class-balanced batches,
 * contexts, sequential tails and domain-paired batches. */
#include "vkn/data.h"
#include "../common/filetest.h"

#include <math.h>

/* n samples of 1x2x2 whose pixels encode the index; label i % classes (or a given pattern) */
static void make_ds(vkn_dataset *ds, int n, int classes)
{
    assert_int_equal(vkn_data_alloc(ds, "tiny", n, 1, 2, 2, classes), VKN_OK);
    for (int i = 0; i < n; i++) {
        for (int p = 0; p < 4; p++) ds->images[i * 4 + p] = (uint8_t)(i % 256);
        ds->labels[i] = (uint8_t)(i % classes);
    }
}

static int sample_of(const float *img) { return (int)lroundf((img[0] + 1.0f) * 127.5f); }

static void test_conversion(void **s)
{
    (void)s;
    vkn_dataset ds;
    assert_int_equal(vkn_data_alloc(&ds, "px", 2, 1, 1, 3, 2), VKN_OK);
    uint8_t px[6] = { 0, 255, 51, 255, 0, 128 };
    memcpy(ds.images, px, 6);
    ds.labels[1] = 1;
    vkn_data_loader *ld;
    vkn_loader_opts o = { .batch = 2, .mode = VKN_BATCH_SEQUENTIAL, .channels = 3 };
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_OK);
    int32_t c, h, w;
    vkn_data_loader_shape(ld, &c, &h, &w);
    assert_int_equal(c, 3);
    float img[2 * 3 * 3];
    int32_t lab[2], ctx[2] = { 9, 9 };
    assert_int_equal(vkn_data_batch_fill(ld, img, lab, ctx), VKN_OK);
    assert_float_equal(img[0], -1.0f, 1e-6);
    assert_float_equal(img[1], 1.0f, 1e-6);
    assert_float_equal(img[2], 51 * 2.0f / 255 - 1, 1e-6);
    for (int ch = 1; ch < 3; ch++)  /* grey replicated into three channels */
        for (int k = 0; k < 3; k++) assert_float_equal(img[ch * 3 + k], img[k], 0);
    assert_float_equal(img[9 + 5], 128 * 2.0f / 255 - 1, 1e-6);
    assert_int_equal(lab[0], 0);
    assert_int_equal(lab[1], 1);
    assert_int_equal(ctx[0], 0);  /* no ctx in the dataset: 0 */
    vkn_data_loader_destroy(ld);
    vkn_data_free(&ds);
}

static void test_shuffle_epoch(void **s)
{
    (void)s;
    vkn_dataset ds;
    make_ds(&ds, 100, 10);
    vkn_loader_opts o = { .batch = 10, .mode = VKN_BATCH_SHUFFLE, .seed = 5 };
    vkn_data_loader *a, *b, *c;
    assert_int_equal(vkn_data_loader_create(&a, &ds, &o), VKN_OK);
    assert_int_equal(vkn_data_loader_create(&b, &ds, &o), VKN_OK);
    o.seed = 6;
    assert_int_equal(vkn_data_loader_create(&c, &ds, &o), VKN_OK);
    float ia[40], ib[40], ic[40];
    int seen[100] = {0}, same_ab = 1, same_ac = 1, in_order = 1, k = 0;
    for (int bt = 0; bt < 10; bt++) {
        vkn_data_batch_fill(a, ia, NULL, NULL);
        vkn_data_batch_fill(b, ib, NULL, NULL);
        vkn_data_batch_fill(c, ic, NULL, NULL);
        same_ab &= memcmp(ia, ib, sizeof ia) == 0;
        same_ac &= memcmp(ia, ic, sizeof ia) == 0;
        for (int j = 0; j < 10; j++, k++) {
            int i = sample_of(ia + 4 * j);
            seen[i]++;
            in_order &= i == k;
        }
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);  /* an epoch is a permutation */
    assert_true(same_ab);
    assert_false(same_ac);
    assert_false(in_order);
    assert_int_equal(vkn_data_loader_epoch(a), 0);
    /* reset replays the first batch */
    float first[40], again[40];
    vkn_data_loader_reset(b);
    vkn_data_loader_reset(a);
    vkn_data_batch_fill(a, first, NULL, NULL);
    vkn_data_batch_fill(b, again, NULL, NULL);
    assert_memory_equal(first, again, sizeof first);
    vkn_data_loader_destroy(a);
    vkn_data_loader_destroy(b);
    vkn_data_loader_destroy(c);
    vkn_data_free(&ds);
}

static void test_balanced(void **s)
{
    (void)s;
    /* unbalanced data: class k has 3 + 5k samples */
    vkn_dataset ds;
    int n = 0;
    for (int k = 0; k < 4; k++) n += 3 + 5 * k;
    assert_int_equal(vkn_data_alloc(&ds, "skewed", n, 1, 2, 2, 4), VKN_OK);
    for (int k = 0, i = 0; k < 4; k++)
        for (int j = 0; j < 3 + 5 * k; j++, i++) ds.labels[i] = (uint8_t)k, memset(ds.images + 4 * i, i, 4);
    vkn_loader_opts o = { .batch = 12, .mode = VKN_BATCH_BALANCED, .seed = 1, .ctx_mode = VKN_CTX_LABEL };
    vkn_data_loader *ld;
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_OK);
    float img[12 * 4];
    int32_t lab[12], ctx[12];
    int used[64] = {0};
    for (int bt = 0; bt < 20; bt++) {
        assert_int_equal(vkn_data_batch_fill(ld, img, lab, ctx), VKN_OK);
        int cnt[4] = {0};
        for (int j = 0; j < 12; j++) {
            cnt[lab[j]]++;
            assert_int_equal(ctx[j], lab[j]);
            int i = sample_of(img + 4 * j);
            assert_int_equal(ds.labels[i], lab[j]);  /* image and label stay together */
            used[i]++;
        }
        for (int k = 0; k < 4; k++) assert_int_equal(cnt[k], 3);
    }
    for (int i = 0; i < n; i++) assert_true(used[i] > 0);  /* every sample of every class is drawn */
    vkn_data_loader_destroy(ld);
    /* a batch that is not a multiple of the classes is refused */
    o.batch = 10;
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_ERR_ARG);
    detail_has("multiple", NULL);
    /* a class without samples is refused */
    ds.labels[0] = ds.labels[1] = ds.labels[2] = 1;
    o.batch = 12;
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_ERR_ARG);
    detail_has("class 0", NULL);
    vkn_data_free(&ds);
}

static void test_sequential_tail_and_ctx(void **s)
{
    (void)s;
    vkn_dataset ds;
    make_ds(&ds, 10, 2);
    assert_int_equal(vkn_data_set_context(&ds, 4), VKN_OK);
    vkn_loader_opts o = { .batch = 4, .mode = VKN_BATCH_SEQUENTIAL };
    vkn_data_loader *ld;
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_OK);
    assert_int_equal(vkn_data_loader_batches_per_epoch(ld), 3);
    float img[16];
    int32_t ctx[4];
    int expect_first[4] = { 0, 4, 8, 0 }, expect_valid[4] = { 4, 4, 2, 4 };
    for (int bt = 0; bt < 4; bt++) {
        vkn_data_batch_fill(ld, img, NULL, ctx);
        assert_int_equal(sample_of(img), expect_first[bt]);
        assert_int_equal(vkn_data_loader_last_valid(ld), expect_valid[bt]);
        assert_int_equal(ctx[0], 4);
    }
    assert_int_equal(vkn_data_loader_epoch(ld), 1);
    vkn_data_loader_destroy(ld);
    vkn_data_free(&ds);
}

static void test_pair(void **s)
{
    (void)s;
    vkn_dataset src, tgt;
    make_ds(&src, 20, 10);
    assert_int_equal(vkn_data_alloc(&tgt, "rgb", 20, 3, 2, 2, 10), VKN_OK);
    vkn_loader_opts o = { .batch = 5, .mode = VKN_BATCH_SHUFFLE, .seed = 2 };
    vkn_data_loader *ls, *lt;
    assert_int_equal(vkn_data_loader_create(&ls, &src, &o), VKN_OK);
    assert_int_equal(vkn_data_loader_create(&lt, &tgt, &o), VKN_OK);
    float si[5 * 12], ti[5 * 12];
    int32_t sl[5], tl[5];
    assert_int_equal(vkn_data_pair_fill(ls, lt, si, sl, ti, tl), VKN_ERR_SHAPE);
    detail_has("channels = 3", NULL);
    vkn_data_loader_destroy(ls);
    o.channels = 3;
    assert_int_equal(vkn_data_loader_create(&ls, &src, &o), VKN_OK);
    assert_int_equal(vkn_data_pair_fill(ls, lt, si, sl, ti, tl), VKN_OK);
    for (int j = 0; j < 5; j++) assert_int_equal(sl[j], sample_of(si + 12 * j) % 10);
    vkn_data_loader_destroy(ls);
    vkn_data_loader_destroy(lt);
    vkn_data_free(&src);
    vkn_data_free(&tgt);
}

/* batch sizes: bounded (pos + batch, n + batch in int32), and the batch's values in 64 bits */
static void test_batch_bounds(void **s)
{
    (void)s;
    vkn_dataset ds;
    assert_int_equal(vkn_data_alloc(&ds, "one", 1, 1, 128, 128, 2), VKN_OK);
    vkn_data_loader *ld;
    vkn_loader_opts o = { .batch = (1 << 20) + 1, .mode = VKN_BATCH_SEQUENTIAL };
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_ERR_ARG);
    detail_has("batch 1048577 must be in 1..2^20", NULL);
    o.batch = 0x7fffffff;
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_ERR_ARG);
    o.batch = 1 << 20;   /* 2^20 x 3 x 128 x 128 = 3 x 2^34 values */
    o.channels = 3;
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_ERR_ARG);
    detail_has("a batch of 1048576 images of 3x128x128 is 51539607552 values, over 2^34", NULL);
    o.channels = 1;      /* 2^34 exactly: allowed (the loader only keeps the indices) */
    assert_int_equal(vkn_data_loader_create(&ld, &ds, &o), VKN_OK);
    vkn_data_loader_destroy(ld);
    vkn_data_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversion),
        cmocka_unit_test(test_shuffle_epoch),
        cmocka_unit_test(test_balanced),
        cmocka_unit_test(test_sequential_tail_and_ctx),
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_batch_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
