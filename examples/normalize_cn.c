/* Example 1: normalize your own NCHW tensor with context normalization (CN) on the Vulkan device,
 * forward and backward, and compare with vknorm's plain-C double-precision reference.
 *
 * CN normalizes each (context, channel) pair with the statistics of the samples of that context:
 *   y[n,c,p] = gamma[k,c] * (x[n,c,p] - mean[k,c]) / sqrt(var[k,c] + eps) / sqrt(prior[k]) + beta[k,c]
 * with k = ctx[n] (docs/NORMS.md). Build: cc normalize_cn.c $(pkg-config --cflags --libs vknorm) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vkn/vkn.h>
#include <vkn/norm_ref.h>

enum { N = 12, C = 6, H = 5, W = 7, K = 3, P = H * W, NUMEL = N * C * P };

#define TRY(x) do { if ((x) != VKN_OK) { fprintf(stderr, "%s: %s\n", #x, vkn_status_detail()); return 1; } } while (0)

/* The largest |device - reference| / (atol + rtol |reference|): <= 1 means within tolerance. */
static double worst(const char *what, const float *dev, const double *ref, int n)
{
    double w = 0, e = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(dev[i] - ref[i]);
        w = fmax(w, d / (1e-4 + 1e-4 * fabs(ref[i])));
        e = fmax(e, d);
    }
    printf("%-7s max |device - reference| = %.3g  (%.2f of the tolerance)\n", what, e, w);
    return w;
}

int main(void)
{
    /* your data: any float tensor [N, C, H, W], one context id per sample, and dL/dy */
    static float x[NUMEL], dy[NUMEL], y[NUMEL], dx[NUMEL], dgamma[K * C];
    static double xd[NUMEL], dyd[NUMEL], yr[NUMEL], dxr[NUMEL];
    int32_t ctx[N];
    uint32_t s = 12345;
    for (int i = 0; i < NUMEL; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = 3.0f + 2.0f * (float)(s >> 8) / 16777216.0f;          /* a mean far from 0 */
        dy[i] = (float)((s >> 4) % 1000) / 500.0f - 1.0f;
        xd[i] = x[i], dyd[i] = dy[i];
    }
    for (int n = 0; n < N; n++) ctx[n] = n % K;

    vkn_norm_opts o = vkn_norm_opts_default(VKN_NORM_CN, C);
    o.contexts = K;
    const uint64_t seed = 7;   /* the device layer and the reference initialize their slots alike */

    /* device: tensors in an arena, the layer, one recorded stream with the forward and the backward */
    vkn_context *dev;
    vkn_arena *arena;
    vkn_cmd *cmd;
    vkn_norm *cn;
    TRY(vkn_context_create(NULL, &dev));
    TRY(vkn_arena_create(dev, 0, &arena));
    TRY(vkn_cmd_create(dev, &cmd));
    vkn_tensor tx, ty, tdy, tdx, tctx;
    const int64_t shape[4] = {N, C, H, W}, nshape[1] = {N};
    TRY(vkn_tensor_alloc(arena, VKN_F32, 4, shape, &tx));
    TRY(vkn_tensor_alloc(arena, VKN_F32, 4, shape, &ty));
    TRY(vkn_tensor_alloc(arena, VKN_F32, 4, shape, &tdy));
    TRY(vkn_tensor_alloc(arena, VKN_F32, 4, shape, &tdx));
    TRY(vkn_tensor_alloc(arena, VKN_I32, 1, nshape, &tctx));
    TRY(vkn_tensor_upload(&tx, x));
    TRY(vkn_tensor_upload(&tdy, dy));
    TRY(vkn_tensor_upload(&tctx, ctx));
    TRY(vkn_norm_create(dev, arena, &o, seed, &cn));
    TRY(vkn_cmd_begin(cmd));
    TRY(vkn_norm_forward(cmd, cn, &tx, &tctx, &ty, 1));   /* train: batch statistics */
    TRY(vkn_norm_backward(cmd, cn, &tx, &tctx, &tdy, &tdx));
    TRY(vkn_cmd_end(cmd));
    TRY(vkn_cmd_run(cmd));
    TRY(vkn_norm_check_ids(cn));
    const int gi = vkn_norm_slot_index(&o, "gamma");   /* [K, C] per-context scales */
    TRY(vkn_tensor_download(&ty, y));
    TRY(vkn_tensor_download(&tdx, dx));
    TRY(vkn_tensor_download(vkn_norm_grad_tensor(cn, gi), dgamma));

    /* reference: the same method in double precision */
    double **slots, *dslots[VKN_NORM_MAX_SLOTS] = {0}, dgamma_ref[K * C];
    vkn_norm_ref_cache cache = {0};
    TRY(vkn_norm_ref_slots_alloc(&o, &slots));
    TRY(vkn_norm_ref_init(&o, seed, slots));
    dslots[gi] = dgamma_ref;
    TRY(vkn_norm_ref_forward(&o, N, P, xd, ctx, NULL, slots, 1, yr, &cache));
    TRY(vkn_norm_ref_backward(&o, &cache, xd, ctx, slots, dyd, dxr, dslots));

    double w = worst("y", y, yr, NUMEL);
    w = fmax(w, worst("dx", dx, dxr, NUMEL));
    w = fmax(w, worst("dgamma", dgamma, dgamma_ref, K * C));
    printf("cn on [%d, %d, %d, %d] with %d contexts on %s: %s\n", N, C, H, W, K, vkn_context_info(dev)->name,
           w <= 1 ? "matches the reference" : "DIFFERS from the reference");

    vkn_norm_ref_cache_free(&cache);
    vkn_norm_ref_slots_free(&o, slots);
    vkn_norm_destroy(cn);
    vkn_cmd_destroy(cmd);
    vkn_arena_destroy(arena);
    vkn_context_destroy(dev);
    return w <= 1 ? 0 : 1;
}
