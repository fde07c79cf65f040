/* vkn-cgan sample (issue 19): images from a checkpoint (a cgan-small trained two steps here, CN in G,
 * in format 2 and rewritten as format 1) as safetensors, IDX and a PNG grid: shapes and labels, the
 * same bytes for the same seed and different ones for another, one class equal to that class's block
 * of all ten, truncation changing the noise, and named errors for bad options and bad files.
 * argv[1]: the executable. Needs no dataset. */
#include "cgan_test.h"

#include <math.h>

#include "vkn/vkn.h"

static const char *app;
static char ck2[256], ck1[256];

static int sample(const char *log, const char *args)
{
    return ct_sh(log, "'%s' sample %s", app, args);
}

/* format 1 as test_cgan_ckpt.c writes it: no format_version, no checksums, norm tensors flat */
static void to_format1(const char *src, const char *dst)
{
    vkn_io_safetensors *f;
    assert_int_equal(vkn_io_safetensors_open(src, &f), VKN_OK);
    vkn_io_st_builder *b;
    assert_int_equal(vkn_io_safetensors_builder_create(&b), VKN_OK);
    for (int i = 0; i < vkn_io_safetensors_meta_count(f); i++) {
        const char *k, *v;
        vkn_io_safetensors_meta_at(f, i, &k, &v);
        if (strcmp(k, "format_version") && strncmp(k, "crc32:", 6)) assert_int_equal(vkn_io_safetensors_add_meta(b, k, v), VKN_OK);
    }
    int n = vkn_io_safetensors_count(f);
    void **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const vkn_io_tensor_info *t = vkn_io_safetensors_at(f, i);
        bufs[i] = malloc(t->nbytes + 8);
        assert_int_equal(vkn_io_safetensors_read(f, t->name, t->dtype, -1, NULL, bufs[i]), VKN_OK);
        int64_t flat = t->numel;
        if (strstr(t->name, ".norm") && t->ndim == 2) assert_int_equal(vkn_io_safetensors_add(b, t->name, t->dtype, 1, &flat, bufs[i]), VKN_OK);
        else assert_int_equal(vkn_io_safetensors_add(b, t->name, t->dtype, t->ndim, t->shape, bufs[i]), VKN_OK);
    }
    assert_int_equal(vkn_io_safetensors_write(b, dst), VKN_OK);
    vkn_io_safetensors_builder_destroy(b);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    vkn_io_safetensors_close(f);
}

static int setup(void **state)
{
    (void)state;
    vkn_context *ctx;
    if (vkn_context_create(NULL, &ctx) != VKN_OK) return -1;
    vkn_cgan_config c = vkn_cgan_defaults();
    c.batch = 8, c.norm_g = VKN_NORM_CN, c.norm_d = VKN_NORM_BN, c.seed = 3;
    vkn_cgan *m;
    if (vkn_cgan_create(ctx, &c, &m) != VKN_OK) return -1;
    for (int s = 0; s < 2; s++) {
        float *x = vkn_cgan_real_images(m);
        int32_t *y = vkn_cgan_real_labels(m);
        for (int i = 0; i < 8 * 28 * 28; i++) x[i] = (float)((i * 7 + s * 13) % 200) / 100.f - 1.f;
        for (int i = 0; i < 8; i++) y[i] = (int32_t)((i + s) % 10);
        vkn_cgan_stats st;
        if (vkn_cgan_step(m, s, &st) != VKN_OK) return -1;
    }
    snprintf(ck2, sizeof ck2, "%s/ckpt.safetensors", ct_tmp());
    snprintf(ck1, sizeof ck1, "%s/ckpt-format1.safetensors", ct_tmp());
    const char *meta[] = {"option:data", "fashion", NULL};
    if (vkn_cgan_save_meta(m, ck2, 2, meta) != VKN_OK) return -1;
    vkn_cgan_destroy(m);
    vkn_context_destroy(ctx);
    to_format1(ck2, ck1);
    return 0;
}

/* images [n, 28, 28] F32 and labels [n] I32 of a sample file */
static float *read_st(const char *path, int n, int32_t *labels)
{
    vkn_io_safetensors *f;
    if (vkn_io_safetensors_open(path, &f) != VKN_OK) fail_msg("%s", vkn_status_detail());
    int64_t ish[3] = {n, 28, 28}, lsh[1] = {n};
    float *img = malloc(sizeof(float) * (size_t)n * 784);
    if (vkn_io_safetensors_read(f, "images", VKN_IO_F32, 3, ish, img) != VKN_OK) fail_msg("%s", vkn_status_detail());
    if (vkn_io_safetensors_read(f, "labels", VKN_IO_I32, 1, lsh, labels) != VKN_OK) fail_msg("%s", vkn_status_detail());
    vkn_io_safetensors_close(f);
    return img;
}

static void run_ok(const char *args)
{
    char log[300];
    snprintf(log, sizeof log, "%s/sample.log", ct_tmp());
    if (sample(log, args) != 0) {
        ct_print(log);
        fail_msg("vkn-cgan sample %s failed", args);
    }
}

static void test_safetensors_and_determinism(void **state)
{
    (void)state;
    char args[1024], a[300], b[300], d[300], one[300], f1[300];
    snprintf(a, sizeof a, "%s/a.safetensors", ct_tmp());
    snprintf(b, sizeof b, "%s/b.safetensors", ct_tmp());
    snprintf(d, sizeof d, "%s/d.safetensors", ct_tmp());
    snprintf(one, sizeof one, "%s/one.safetensors", ct_tmp());
    snprintf(f1, sizeof f1, "%s/f1.safetensors", ct_tmp());
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 13 --seed 5 --out '%s'", ck2, a), run_ok(args);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 13 --seed 5 --out '%s'", ck2, b), run_ok(args);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 13 --seed 6 --out '%s'", ck2, d), run_ok(args);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 13 --seed 5 --class Coat --out '%s'", ck2, one), run_ok(args);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 13 --seed 5 --out '%s'", ck1, f1), run_ok(args);
    size_t na = 0, nb = 0, nd = 0;
    char *ba = ct_read(a, &na), *bb = ct_read(b, &nb), *bd = ct_read(d, &nd);
    assert_true(na == nb && !memcmp(ba, bb, na)); /* same seed: same bytes */
    assert_true(na == nd && memcmp(ba, bd, na));  /* another seed: other images */
    free(ba), free(bb), free(bd);
    enum { N = 130 };
    int32_t la[N], l1[13], lf[N];
    float *ia = read_st(a, N, la), *i1 = read_st(one, 13, l1), *fa = read_st(f1, N, lf);
    /* class order: class k's 13 samples at 13k .. 13k + 12; images in [-1, 1] (tanh), not constant */
    double lo = 1, hi = -1;
    for (int i = 0; i < N; i++) assert_int_equal(la[i], i / 13);
    for (int i = 0; i < N * 784; i++) lo = fmin(lo, ia[i]), hi = fmax(hi, ia[i]);
    assert_true(lo >= -1 && hi <= 1 && hi - lo > 0.1);
    /* --class Coat (4) is class 4's block of all ten */
    for (int i = 0; i < 13; i++) assert_int_equal(l1[i], 4);
    for (int i = 0; i < 13 * 784; i++) assert_true(fabsf(i1[i] - ia[4 * 13 * 784 + i]) <= 1e-6f);
    /* a format 1 checkpoint gives the same images */
    assert_memory_equal(fa, ia, sizeof(float) * N * 784);
    assert_memory_equal(lf, la, sizeof la);
    free(ia), free(i1), free(fa);
}

static void test_idx_png_truncation(void **state)
{
    (void)state;
    char args[1024], idx[300], lab[300], png[300], t[300], u[300];
    snprintf(idx, sizeof idx, "%s/s.idx", ct_tmp());
    snprintf(lab, sizeof lab, "%s/s-labels.idx1-ubyte", ct_tmp());
    snprintf(png, sizeof png, "%s/grid.png", ct_tmp());
    snprintf(t, sizeof t, "%s/t.safetensors", ct_tmp());
    snprintf(u, sizeof u, "%s/u.safetensors", ct_tmp());
    snprintf(args, sizeof args, "--ckpt '%s' --class 2 --per-class 7 --out '%s'", ck2, idx), run_ok(args);
    size_t n = 0, nl = 0;
    uint8_t *b = (uint8_t *)ct_read(idx, &n), *l = (uint8_t *)ct_read(lab, &nl);
    assert_non_null(b);
    assert_non_null(l);
    assert_int_equal(n, 16 + 7 * 784);
    static const uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, 7, 0, 0, 0, 28, 0, 0, 0, 28};
    assert_memory_equal(b, hdr, 16);
    assert_int_equal(nl, 8 + 7);
    static const uint8_t lhdr[8] = {0, 0, 8, 1, 0, 0, 0, 7};
    assert_memory_equal(l, lhdr, 8);
    for (int i = 0; i < 7; i++) assert_int_equal(l[8 + i], 2);
    free(b), free(l);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 4 --out '%s'", ck2, png), run_ok(args);
    b = (uint8_t *)ct_read(png, &n);
    assert_non_null(b);
    assert_true(n > 1000 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8));
    free(b);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 2 --out '%s'", ck2, t), run_ok(args);
    snprintf(args, sizeof args, "--ckpt '%s' --per-class 2 --truncation 0.5 --out '%s'", ck2, u), run_ok(args);
    int32_t lt[20], lu[20];
    float *it = read_st(t, 20, lt), *iu = read_st(u, 20, lu);
    assert_true(memcmp(it, iu, sizeof(float) * 20 * 784) != 0);
    free(it), free(iu);
}

static void test_bad_input(void **state)
{
    (void)state;
    char log[300], args[1024], out[300], notck[300];
    snprintf(log, sizeof log, "%s/bad.log", ct_tmp());
    snprintf(out, sizeof out, "%s/x.safetensors", ct_tmp());
    snprintf(notck, sizeof notck, "%s/a.safetensors", ct_tmp()); /* a samples file, not a checkpoint */
    struct { const char *args; int rc; const char *says; } cases[] = {
        {"--out X.png", 2, "--ckpt PATH is required"},
        {"--ckpt C", 2, "--out FILE is required"},
        {"--ckpt C --out x.jpg", 2, "no known extension"},
        {"--ckpt C --out O --per-class 0", 2, "--per-class: '0'"},
        {"--ckpt C --out O --per-class 12x", 2, "--per-class: '12x'"},
        {"--ckpt C --out O --class 10", 2, "--class: '10'"},
        {"--ckpt C --out O --class Hat", 2, "--class: 'Hat'"},
        {"--ckpt C --out O --truncation -1", 2, "--truncation: '-1'"},
        {"--ckpt C --out O --seed -3", 2, "--seed: '-3'"},
        {"--ckpt C --out O --frobnicate 1", 2, "unknown option '--frobnicate'"},
        {"--ckpt C --out O --seed", 2, "--seed needs a value"},
        {"--ckpt /nonexistent/ckpt.safetensors --out O", 1, "/nonexistent/ckpt.safetensors"},
        {"--ckpt N --out O", 1, "not a vkn-cgan checkpoint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char a[600];
        snprintf(a, sizeof a, "%s", cases[i].args);
        /* C, N, O: the checkpoint, a non-checkpoint, the output */
        char full[1200] = "";
        for (char *tok = strtok(a, " "); tok; tok = strtok(NULL, " ")) {
            const char *w = !strcmp(tok, "C") ? ck2 : !strcmp(tok, "N") ? notck : !strcmp(tok, "O") ? out : tok;
            strcat(full, "'"), strcat(full, w), strcat(full, "' ");
        }
        snprintf(args, sizeof args, "%s", full);
        int rc = sample(log, args);
        char *text = ct_read(log, NULL);
        bool said = text && strstr(text, cases[i].says);
        if (rc != cases[i].rc || !said) {
            ct_print(log);
            fail_msg("'%s': exit %d (expected %d), message %s \"%s\"", cases[i].args, rc, cases[i].rc, said ? "has" : "lacks",
                     cases[i].says);
        }
        free(text);
    }
    assert_false(ct_exists(out)); /* nothing written on an error */
}

int main(int argc, char **argv)
{
    app = argc > 1 ? argv[1] : "vkn-cgan";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_and_determinism),
        cmocka_unit_test(test_idx_png_truncation),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
