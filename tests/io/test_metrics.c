/* Metric logs: exact CSV and JSONL contents, missing columns, refused new keys, non-finite values,
 * quoting, and appending to an existing log. */
#include "vkn/io.h"
#include "io_test_util.h"

#include <math.h>

static void expect_file(const char *dir, const char *file, const char *want)
{
    char path[200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t n;
    char *got = (char *)read_bytes(path, &n);
    if (strcmp(got, want) != 0) fail_msg("%s:\n--- got ---\n%s--- want ---\n%s", file, got, want);
    free(got);
}

static void test_csv_jsonl(void **st)
{
    (void)st;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/runs/a", tmp_dir());   /* created on open */
    vkn_io_metrics *m;
    assert_int_equal(vkn_io_metrics_open(dir, "train", 0, &m), VKN_OK);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "step", 0 }, { "loss", 0.1 }, { "acc", NAN } }, 3),
                     VKN_OK);
    /* written and flushed at once */
    expect_file(dir, "train.csv", "step,loss,acc\n0,0.1,nan\n");
    expect_file(dir, "train.jsonl", "{\"step\":0,\"loss\":0.1,\"acc\":null}\n");
    /* another order, a column left out */
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "loss", 1.0 / 3.0 }, { "step", 100 } }, 2), VKN_OK);
    /* a new key is refused and nothing is written */
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "step", 1 }, { "lr", 1e-3 } }, 2), VKN_ERR_ARG);
    detail_has("train.csv", "\"lr\" is not a column", NULL);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "step", 1 }, { "step", 2 } }, 2), VKN_ERR_ARG);
    detail_has("given twice", NULL);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "a\nb", 1 } }, 1), VKN_ERR_ARG);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "step", 1e300 }, { "acc", -INFINITY }, { "loss", -2.5e-7 } }, 3),
                     VKN_OK);
    assert_int_equal(vkn_io_metrics_close(m), VKN_OK);
    expect_file(dir, "train.csv", "step,loss,acc\n0,0.1,nan\n100,0.3333333333333333,\n1e+300,-2.5e-07,-inf\n");
    expect_file(dir, "train.jsonl",
                "{\"step\":0,\"loss\":0.1,\"acc\":null}\n"
                "{\"loss\":0.3333333333333333,\"step\":100}\n"
                "{\"step\":1e+300,\"acc\":null,\"loss\":-2.5e-07}\n");

    /* append continues with the existing columns; a fresh open starts over */
    assert_int_equal(vkn_io_metrics_open(dir, "train", 1, &m), VKN_OK);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "acc", 0.5 }, { "step", 2 } }, 2), VKN_OK);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "new", 1 } }, 1), VKN_ERR_ARG);
    assert_int_equal(vkn_io_metrics_close(m), VKN_OK);
    expect_file(dir, "train.csv", "step,loss,acc\n0,0.1,nan\n100,0.3333333333333333,\n1e+300,-2.5e-07,-inf\n2,,0.5\n");
    assert_int_equal(vkn_io_metrics_open(dir, "train", 0, &m), VKN_OK);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "x", 1 } }, 1), VKN_OK);
    assert_int_equal(vkn_io_metrics_close(m), VKN_OK);
    expect_file(dir, "train.csv", "x\n1\n");
    expect_file(dir, "train.jsonl", "{\"x\":1}\n");
}

static void test_quoting_and_append_new(void **st)
{
    (void)st;
    const char *dir = tmp_dir();
    vkn_io_metrics *m;
    /* append to a log that does not exist yet behaves like a fresh one */
    assert_int_equal(vkn_io_metrics_open(dir, "q", 1, &m), VKN_OK);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "loss,d", 2 }, { "say \"hi\"", 3 } }, 2), VKN_OK);
    assert_int_equal(vkn_io_metrics_close(m), VKN_OK);
    expect_file(dir, "q.csv", "\"loss,d\",\"say \"\"hi\"\"\"\n2,3\n");
    expect_file(dir, "q.jsonl", "{\"loss,d\":2,\"say \\\"hi\\\"\":3}\n");
    /* the quoted header is read back on append */
    assert_int_equal(vkn_io_metrics_open(dir, "q", 1, &m), VKN_OK);
    assert_int_equal(vkn_io_metrics_write(m, (vkn_io_metric[]){ { "say \"hi\"", 4 } }, 1), VKN_OK);
    assert_int_equal(vkn_io_metrics_close(m), VKN_OK);
    expect_file(dir, "q.csv", "\"loss,d\",\"say \"\"hi\"\"\"\n2,3\n,4\n");
    /* bad arguments */
    assert_int_equal(vkn_io_metrics_open(dir, "a/b", 0, &m), VKN_ERR_ARG);
    assert_null(m);
    assert_int_equal(vkn_io_metrics_close(NULL), VKN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_jsonl),
        cmocka_unit_test(test_quoting_and_append_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
