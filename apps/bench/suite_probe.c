/* probe: the device's copy bandwidth, FMA peak, dispatch latency and submit-and-wait latency:
 * the roofline every other number is read against. */
#include "bench.h"

#include <stdio.h>

static vkn_status probe_copy(bench_ctx *b)
{
    int64_t n = b->opts.quick ? (1 << 20) : (8 << 20);    /* floats: 4 or 32 MiB each way */
    vkn_tensor x, y;
    VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 1, &n, &x));
    VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 1, &n, &y));
    VKN_TRY(vkn_cmd_begin(b->cmd));
    VKN_TRY(vkn_op_fill(b->cmd, &x, 1.0f));
    VKN_TRY(vkn_cmd_end(b->cmd));
    VKN_TRY(vkn_cmd_run(b->cmd));
    VKN_TRY(vkn_cmd_begin(b->cmd));
    VKN_TRY(vkn_op_copy(b->cmd, &x, &y));
    VKN_TRY(vkn_cmd_end(b->cmd));
    char shape[48];
    snprintf(shape, sizeof shape, "%lld MiB", (long long)(n * 4 >> 20));
    bench_result *r = bench_add(b, "probe", "copy bandwidth", shape);
    VKN_TRY(bench_time_cmd(b, 1, r));
    r->value = 2.0 * (double)n * 4 / (r->median_us * 1e3);
    r->bytes = 2.0 * (double)n * 4;
    snprintf(r->unit, sizeof r->unit, "GB/s");
    b->copy_gbs = r->value;
    return VKN_OK;
}

static vkn_status probe_fma(bench_ctx *b)
{
    const uint32_t iters = 512, groups = b->opts.quick ? 256 : 1024;
    int64_t n = (int64_t)groups * 64;
    vkn_tensor y;
    VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 1, &n, &y));
    struct { float a, b; } pc = {0.999f, 0.001f};
    vkn_dispatch d = {.shader = "bench/fma", .label = "fma", .spec = {iters}, .nspec = 1, .bind = {&y}, .nbind = 1,
                      .write_mask = 1, .push = &pc, .push_bytes = sizeof pc, .groups = {groups, 1, 1}};
    VKN_TRY(vkn_cmd_begin(b->cmd));
    VKN_TRY(vkn_cmd_dispatch(b->cmd, &d));
    VKN_TRY(vkn_cmd_end(b->cmd));
    char shape[48];
    snprintf(shape, sizeof shape, "%u inv x %u", groups * 64, iters);
    bench_result *r = bench_add(b, "probe", "fma peak", shape);
    VKN_TRY(bench_time_cmd(b, 1, r));
    r->value = (double)n * iters * 8 * 4 * 2 / (r->median_us * 1e3);
    r->flops = (double)n * iters * 8 * 4 * 2;
    snprintf(r->unit, sizeof r->unit, "GFLOP/s");
    b->fma_gflops = r->value;
    return VKN_OK;
}

static vkn_status probe_latency(bench_ctx *b)
{
    enum { K = 200 };
    static vkn_tensor t[K];
    int64_t one = 64;
    for (int i = 0; i < K; i++) VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 1, &one, &t[i]));
    /* submit-and-wait of one tiny dispatch */
    VKN_TRY(vkn_cmd_begin(b->cmd));
    VKN_TRY(vkn_op_fill(b->cmd, &t[0], 0.0f));
    VKN_TRY(vkn_cmd_end(b->cmd));
    bench_result *rs = bench_add(b, "probe", "submit+wait latency", "1 dispatch");
    VKN_TRY(bench_time_cmd(b, 1, rs));
    rs->value = rs->median_us;
    snprintf(rs->unit, sizeof rs->unit, "us");
    /* K independent tiny dispatches in one submit: the per-dispatch cost */
    VKN_TRY(vkn_cmd_begin(b->cmd));
    for (int i = 0; i < K; i++) VKN_TRY(vkn_op_fill(b->cmd, &t[i], (float)i));
    VKN_TRY(vkn_cmd_end(b->cmd));
    bench_result *rd = bench_add(b, "probe", "dispatch latency", "200 in 1 submit");
    VKN_TRY(bench_time_cmd(b, 1, rd));
    double per = (rd->median_us - rs->median_us) / (K - 1);
    rd->median_us = per;
    rd->min_us = rd->max_us = 0;
    rd->value = per;
    snprintf(rd->unit, sizeof rd->unit, "us");
    return VKN_OK;
}

vkn_status bench_suite_probe(bench_ctx *b)
{
    VKN_TRY(probe_copy(b));
    VKN_TRY(probe_fma(b));
    VKN_TRY(probe_latency(b));
    vkn_arena_reset(b->arena);
    return VKN_OK;
}
