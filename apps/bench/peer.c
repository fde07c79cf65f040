/* --peer torch: the same BN/GN/LN forward+backward and cGAN training steps through PyTorch on the CPU,
 * run right after vknorm's own runs of each test (interleaved test by test, so both see the same machine
 * load), with the ratio vknorm / PyTorch in the report.
 *
 * The peer is apps/bench/peers/torch_peer.py under Debian's /usr/bin/python3 (--python to change), or
 * any command in VKN_BENCH_PEER_CMD (the tests use a stub). It times itself (warm-up excluded, median of
 * its runs), so its process start and torch import are outside the numbers, and prints one JSON line. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#define PEER_INSTALL_HINT                                                                                       \
    "install it with scripts/install-deps --peers (Debian's python3-torch, python3-numpy and "                  \
    "libopenblas0-pthread)"

typedef struct peer_out {
    double median_us, min_us, max_us;
    int runs, threads;
    char torch[32], blas[64], error[256];
} peer_out;

/* Append s to the command in single quotes (a path with spaces or quotes stays one word). */
static void append_quoted(char *cmd, size_t cap, const char *s)
{
    size_t n = strlen(cmd);
    if (n + 1 < cap) cmd[n++] = '\'';
    for (; *s && n + 5 < cap; s++) {
        if (*s == '\'') { memcpy(cmd + n, "'\\''", 4); n += 4; }
        else cmd[n++] = *s;
    }
    if (n + 1 < cap) cmd[n++] = '\'';
    cmd[n] = 0;
}

/* The command prefix: VKN_BENCH_PEER_CMD, else python + the script (source tree, then installed copy). */
static int peer_prefix(const bench_ctx *b, char *cmd, size_t cap, char *why, size_t whycap)
{
    const char *env = getenv("VKN_BENCH_PEER_CMD");
    if (env && *env) {
        snprintf(cmd, cap, "%s", env);
        return 1;
    }
    /* the script: $VKN_SOURCE_ROOT's, else beside the binary (the build directory holds a copy), else
     * the installed <prefix>/share/vknorm/peers (found from the binary's own folder first) */
    static char cand[3][1100];
    int nc = 0;
    const char *root = getenv("VKN_SOURCE_ROOT");
    if (root && *root) snprintf(cand[nc++], sizeof cand[0], "%s/apps/bench/peers/torch_peer.py", root);
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0, snprintf(cand[nc++], sizeof cand[0], "%s/torch_peer.py", exe);
    }
    const char *share = vkn_data_share_dir();
    if (share) snprintf(cand[nc++], sizeof cand[0], "%s/peers/torch_peer.py", share);
    const char *script = NULL;
    for (int i = 0; i < nc && !script; i++)
        if (access(cand[i], R_OK) == 0) script = cand[i];
    if (!script) {
        snprintf(why, whycap, "the peer script torch_peer.py is not found ($VKN_SOURCE_ROOT/apps/bench/peers, "
                 "beside vkn-bench, %.120s/peers)", share ? share : "<prefix>/share/vknorm");
        return 0;
    }
    const char *py = b->opts.python ? b->opts.python : "/usr/bin/python3";
    if (strchr(py, '/') && access(py, X_OK) != 0) {
        snprintf(why, whycap, "%s is not an executable python", py);
        return 0;
    }
    cmd[0] = 0;
    append_quoted(cmd, cap, py);
    snprintf(cmd + strlen(cmd), cap - strlen(cmd), " ");
    append_quoted(cmd, cap, script);
    return 1;
}

/* Run the peer with args; parse the last JSON line of its output. 0 on success, else out->error says why. */
static int peer_run(const bench_ctx *b, const char *args, peer_out *out)
{
    memset(out, 0, sizeof *out);
    char cmd[2048];
    if (!peer_prefix(b, cmd, sizeof cmd, out->error, sizeof out->error)) return -1;
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s 2>&1", args);
    fflush(stdout);
    fflush(stderr);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(out->error, sizeof out->error, "cannot start '%s'", cmd);
        return -1;
    }
    char line[4096], json[4096] = "", last[256] = "";
    while (fgets(line, sizeof line, p)) {
        if (line[0] == '{') snprintf(json, sizeof json, "%s", line);
        else if (line[0] != '\n') {
            size_t k = strlen(line);
            if (k >= sizeof last) k = sizeof last - 1;
            memcpy(last, line, k);
            last[k] = 0;
        }
    }
    int st = pclose(p);
    size_t ll = strlen(last);
    while (ll && (last[ll - 1] == '\n' || last[ll - 1] == '\r')) last[--ll] = 0;
    cJSON *o = json[0] ? cJSON_Parse(json) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *med = cJSON_GetObjectItemCaseSensitive(o, "median_us");
    const cJSON *check = cJSON_GetObjectItemCaseSensitive(o, "test");
    int is_check = cJSON_IsString(check) && !strcmp(check->valuestring, "check");
    int rc = 0;
    if (cJSON_IsString(err)) {
        snprintf(out->error, sizeof out->error, "%s", err->valuestring);
        rc = -1;
    } else if (!o || (!is_check && !(cJSON_IsNumber(med) && med->valuedouble > 0))) {
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) == 127)
            snprintf(out->error, sizeof out->error, "cannot run '%s'%s%s", cmd, *last ? ": " : "", last);
        else
            snprintf(out->error, sizeof out->error, "no result line from the peer (exit status %d)%s%s",
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, *last ? ": " : "", last);
        rc = -1;
    } else {
        const cJSON *v;
        if (cJSON_IsNumber(med)) out->median_us = med->valuedouble;
        out->min_us = cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "min_us")) ? v->valuedouble : out->median_us;
        out->max_us = cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "max_us")) ? v->valuedouble : out->median_us;
        out->runs = cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "runs")) ? v->valueint : 0;
        out->threads = cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "threads")) ? v->valueint : 0;
        snprintf(out->torch, sizeof out->torch, "%s",
                 cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "torch")) ? v->valuestring : "?");
        snprintf(out->blas, sizeof out->blas, "%s",
                 cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "blas")) ? v->valuestring : "?");
    }
    cJSON_Delete(o);
    return rc;
}

/* Once per run: is the peer there, which torch and BLAS. Prints one line either way (to stderr, so the
 * md/csv/json report on stdout stays clean). */
static int peer_ready(bench_ctx *b)
{
    if (b->peer_state) return b->peer_state > 0;
    peer_out o;
    if (peer_run(b, "check", &o) != 0) {
        if (strstr(o.error, "install-deps"))   /* the peer said how already */
            fprintf(stderr, "vkn-bench: peer torch unavailable: %s; continuing without peer ratios\n", o.error);
        else
            fprintf(stderr, "vkn-bench: peer torch unavailable: %s\n  %s; continuing without peer ratios\n", o.error,
                    PEER_INSTALL_HINT);
        b->peer_state = -1;
        return 0;
    }
    fprintf(stderr, "peer: PyTorch %s on the CPU, %d threads, BLAS %s (runs after each vknorm test; ratio = vknorm "
            "time / PyTorch time, < 1 means vknorm is faster)\n", o.torch, o.threads, o.blas);
    if (strcmp(o.blas, "openblas") && strcmp(o.blas, "mkl") && strcmp(o.blas, "?"))
        fprintf(stderr, "peer: note: PyTorch is not using OpenBLAS; install libopenblas0-pthread (scripts/install-deps "
                "--peers): it makes PyTorch's CPU path several times faster, and the ratios are unfair without it\n");
    double load = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1) load = 0;
        fclose(la);
    }
    if (cores > 0 && load > 1.25 * (double)cores)
        fprintf(stderr, "peer: note: load average %.1f on %ld cores: other jobs are running, and PyTorch's OpenMP threads "
                "slow down far more than vknorm under contention; the ratios are not representative\n", load, cores);
    b->peer_state = 1;
    return 1;
}

/* The peer's row after result idx, and the ratio on result idx. */
static void peer_record(bench_ctx *b, int idx, const peer_out *o, double work, const char *unit, const char *pshape)
{
    char name[64], shape[48];
    snprintf(name, sizeof name, "%s", b->results[idx].name);
    /* "bn fwd+bwd [cpu, 4 disp]" -> "bn fwd+bwd (torch)": vknorm's dispatch counts are not the peer's */
    char *cut = strstr(name, " [");
    if (!cut) cut = strchr(name, ',');
    if (cut) *cut = 0;
    snprintf(name + strlen(name), sizeof name - strlen(name), " (torch)");
    snprintf(shape, sizeof shape, "%s", pshape ? pshape : b->results[idx].shape);
    bench_result *p = bench_add(b, "peer", name, shape);   /* may move b->results */
    bench_result *r = &b->results[idx];
    p->median_us = o->median_us;
    p->min_us = o->min_us;
    p->max_us = o->max_us;
    p->runs = o->runs;
    p->bytes = r->bytes;
    p->value = work / o->median_us;
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    r->ratio = r->median_us / o->median_us;
    snprintf(r->ratio_what, sizeof r->ratio_what, "x torch-cpu");
}

void bench_peer_norm(bench_ctx *b, int idx, vkn_norm_kind kind, int N, int C, int H, int W, int groups)
{
    if (kind != VKN_NORM_BN && kind != VKN_NORM_GN && kind != VKN_NORM_LN) return;
    if (!b->opts.peer || !peer_ready(b)) return;
    char args[256];
    int n = snprintf(args, sizeof args, "norm --kind %s --shape ", vkn_norm_kind_name(kind));
    if (W) n += snprintf(args + n, sizeof args - (size_t)n, "%dx%dx%dx%d", N, C, H, W);
    else n += snprintf(args + n, sizeof args - (size_t)n, "%dx%d", N, C);
    if (kind == VKN_NORM_GN) n += snprintf(args + n, sizeof args - (size_t)n, " --groups %d", groups);
    snprintf(args + n, sizeof args - (size_t)n, " --reps %d --min-time %g --warmup 3", b->opts.min_runs,
             b->opts.min_time_s);
    peer_out o;
    if (peer_run(b, args, &o) != 0) {
        fprintf(stderr, "vkn-bench: peer torch failed on '%s': %s (no ratio for this test)\n", args, o.error);
        return;
    }
    /* the same bytes as vknorm's row: GB/s comparable */
    peer_record(b, idx, &o, b->results[idx].bytes * 1e-3, "GB/s", NULL);
}

void bench_peer_train(bench_ctx *b, int idx, int base)
{
    if (!b->opts.peer || !peer_ready(b)) return;
    char args[256];
    /* as the train suite: at least 5 runs (2 quick) and 4 x the minimum time */
    snprintf(args, sizeof args, "train --model %s --reps %d --min-time %g --warmup 2", base ? "base" : "small",
             b->opts.quick ? 2 : 5, b->opts.min_time_s * 4);
    peer_out o;
    if (peer_run(b, args, &o) != 0) {
        fprintf(stderr, "vkn-bench: peer torch failed on '%s': %s (no ratio for this test)\n", args, o.error);
        return;
    }
    const bench_result *r = &b->results[idx];
    double batch = round(r->value * r->median_us * 1e-6);   /* samples/s x s/step */
    if (!(batch > 0)) batch = 64;
    fprintf(stderr, "%s (torch): %.1f ms/step, %d threads, BLAS %s; vknorm / torch = %.2f\n", base ? "cgan-base" : "cgan-small",
            o.median_us / 1000, o.threads, o.blas, r->median_us / o.median_us);
    char shape[48];
    snprintf(shape, sizeof shape, "batch %.0f, %d threads", batch, o.threads);
    peer_record(b, idx, &o, batch * 1e6, "samples/s", shape);
}
