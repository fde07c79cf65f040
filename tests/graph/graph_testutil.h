/* Whole-graph gradient check shared by the graph tests. */
#ifndef VKN_GRAPH_TESTUTIL_H
#define VKN_GRAPH_TESTUTIL_H

#include "../common/testutil.h"
#include "vkn/graph.h"

/* d loss / d param[pi] by central differences (step h) of the reference-executed loss, into fd. */
static inline void gt_finite_diff(vkn_graph *g, vkn_params *p, int pi, vkn_val loss, double h, float *fd)
{
    int64_t n = vkn_params_value(p, pi)->numel;
    float *val = tu_alloc(n);
    tu_download(vkn_params_value(p, pi), val);
    for (int64_t i = 0; i < n; i++) {
        float keep = val[i], lp, lm;
        val[i] = keep + (float)h;
        assert_int_equal(vkn_graph_reference_set_param(g, pi, val), VKN_OK);
        assert_int_equal(vkn_graph_reference(g, loss, &lp), VKN_OK);
        val[i] = keep - (float)h;
        assert_int_equal(vkn_graph_reference_set_param(g, pi, val), VKN_OK);
        assert_int_equal(vkn_graph_reference(g, loss, &lm), VKN_OK);
        val[i] = keep;
        fd[i] = (float)(((double)lp - (double)lm) / (2 * h));
    }
    assert_int_equal(vkn_graph_reference_set_param(g, pi, val), VKN_OK);
    free(val);
}

/* Run g, then compare the device gradient of every trained parameter with central differences
 * (step h) of the reference-executed loss. */
static inline void gt_check_grads(vkn_graph *g, vkn_params *p, vkn_val loss, double h, double atol, double rtol)
{
    assert_int_equal(vkn_graph_run(g), VKN_OK);
    float dev_loss, ref_loss;
    assert_int_equal(vkn_graph_read(g, loss, &dev_loss), VKN_OK);
    assert_int_equal(vkn_graph_reference(g, loss, &ref_loss), VKN_OK);
    tu_assert_close("loss", &dev_loss, &ref_loss, 1, 1e-4, 1e-3);
    for (int pi = 0; pi < vkn_params_count(p); pi++) {
        const vkn_tensor *gt = vkn_params_grad(p, pi);
        if (!gt) continue;
        int64_t n = gt->numel;
        float *grad = tu_alloc(n), *fd = tu_alloc(n);
        tu_download(gt, grad);
        gt_finite_diff(g, p, pi, loss, h, fd);
        char what[128];
        snprintf(what, sizeof what, "d loss / d %s (device vs finite differences)", vkn_params_name(p, pi));
        tu_assert_close(what, grad, fd, n, atol, rtol);
        free(grad); free(fd);
    }
}

#endif
