/* gemm: C = A B at square sizes and at the GEMM shapes of the conditional GAN's training step
 * (batch 64; convolutions as im2col / col2im GEMMs), GFLOP/s and the fraction of the FMA probe. */
#include "bench.h"

#include <stdio.h>

typedef struct gemm_shape { const char *name; int64_t M, N, K; int ta, tb; } gemm_shape;

static const gemm_shape shapes[] = {
    {"square", 128, 128, 128, 0, 0},
    {"square", 256, 256, 256, 0, 0},
    {"square", 512, 512, 512, 0, 0},
    /* cgan-small, batch 64 (G: z+label 74 -> 64x7x7 -> 32x14x14 -> 1x28x28; D mirrors it) */
    {"G linear 74->3136", 64, 3136, 74, 0, 0},
    {"G convT 64->32 (W^T X)", 512, 3136, 64, 1, 0},
    {"G convT 32->1 (W^T X)", 16, 12544, 32, 1, 0},
    {"D conv 1->32 (W col)", 32, 12544, 16, 0, 0},
    {"D conv 32->64 (W col)", 64, 3136, 512, 0, 0},
    {"D conv 32->64 dW (dY col^T)", 64, 512, 3136, 0, 1},
    {"D linear 3136->1", 64, 1, 3136, 0, 0},
};

vkn_status bench_suite_gemm(bench_ctx *b)
{
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const gemm_shape *g = &shapes[s];
        if (b->opts.quick && g->M * g->N * g->K > (int64_t)256 * 256 * 256) continue;
        double flop = 2.0 * (double)g->M * g->N * g->K;
        /* enough independent GEMMs per submit (distinct outputs: no barriers) to hide submit cost */
        int inner = (int)(2e8 / flop);
        if (inner < 1) inner = 1;
        if (inner > 16) inner = 16;
        vkn_tensor a, bm, c[16];
        int64_t sa[2] = {g->ta ? g->K : g->M, g->ta ? g->M : g->K};
        int64_t sb[2] = {g->tb ? g->N : g->K, g->tb ? g->K : g->N};
        int64_t sc[2] = {g->M, g->N};
        VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 2, sa, &a));
        VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 2, sb, &bm));
        for (int i = 0; i < inner; i++) VKN_TRY(vkn_tensor_alloc(b->arena, VKN_F32, 2, sc, &c[i]));
        VKN_TRY(vkn_cmd_begin(b->cmd));
        VKN_TRY(vkn_op_fill(b->cmd, &a, 0.5f));
        VKN_TRY(vkn_op_fill(b->cmd, &bm, 0.25f));
        VKN_TRY(vkn_cmd_end(b->cmd));
        VKN_TRY(vkn_cmd_run(b->cmd));
        vkn_gemm_opts o = {.trans_a = g->ta, .trans_b = g->tb};
        VKN_TRY(vkn_cmd_begin(b->cmd));
        for (int i = 0; i < inner; i++) VKN_TRY(vkn_op_gemm(b->cmd, &a, &bm, &c[i], &o));
        VKN_TRY(vkn_cmd_end(b->cmd));
        char shape[48];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld%s%s", (long long)g->M, (long long)g->N, (long long)g->K,
                 g->ta ? " tA" : "", g->tb ? " tB" : "");
        char name[64];
        snprintf(name, sizeof name, "gemm %s [%s]", g->name, vkn_op_gemm_path(b->ctx));
        bench_result *r = bench_add(b, "gemm", name, shape);
        VKN_TRY(bench_time_cmd(b, inner, r));
        r->value = flop / (r->median_us * 1e3);
        r->flops = flop;
        r->bytes = 4.0 * (double)(g->M * g->K + g->K * g->N + g->M * g->N);
        snprintf(r->unit, sizeof r->unit, "GFLOP/s");
        if (b->fma_gflops > 0) {
            r->ratio = r->value / b->fma_gflops;
            snprintf(r->ratio_what, sizeof r->ratio_what, "of FMA peak");
        }
        vkn_arena_reset(b->arena);
    }
    return VKN_OK;
}
