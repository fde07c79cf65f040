"""Example 1: Context Normalization on your own arrays, forward and backward on the Vulkan device,
checked against the PyTorch module vknorm.torch.CN (float64) loaded with the layer's slots.
    python3 normalize_cn.py"""
import numpy as np
import torch

import vknorm
import vknorm.torch as vt

rng = np.random.default_rng(0)
N, C, H, W, K = 12, 6, 5, 5, 3
x = (rng.standard_normal((N, C, H, W)) * 2 + 1).astype(np.float32)   # any float32 NCHW (or [N, C]) array
ctx = rng.integers(0, K, N).astype(np.int32)                          # a context id per sample
dy = rng.standard_normal(x.shape).astype(np.float32)                  # dL/dy from whatever follows

with vknorm.Device() as dev:
    print(dev.line)
    cn = vknorm.Norm("cn", C, device=dev, contexts=K, priors=[0.5, 0.3, 0.2])
    start = cn.state_dict()                           # gamma, beta [K,C]; running stats [K,C]; priors [K]
    y = cn.forward(x, ctx, train=True)                # per-(context, channel) statistics, / sqrt(prior)
    g = cn.backward(dy)                               # {"dx", "dgamma", "dbeta"}
    print("y", y.shape, "per-context mean of y*sqrt(prior), channel 0:",
          [round(float((y[ctx == k, 0] * np.sqrt([0.5, 0.3, 0.2][k])).mean()), 6) for k in range(K)])
    print("gradients:", {k: v.shape for k, v in g.items()})
    print("running_mean after one step (context 0):", cn["running_mean"][0].round(4))

    m = vt.CN(C, contexts=K, priors=[0.5, 0.3, 0.2]).double()
    m.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in start.items()})
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    yt = m(xt, torch.from_numpy(ctx))
    yt.backward(torch.from_numpy(dy.astype(np.float64)))
    print("device vs PyTorch: |y| %.2e  |dx| %.2e  |dgamma| %.2e  |running_var| %.2e" % (
        np.abs(y - yt.detach().numpy()).max(), np.abs(g["dx"] - xt.grad.numpy()).max(),
        np.abs(g["dgamma"] - m.gamma.grad.numpy()).max(),
        np.abs(cn["running_var"] - m.running_var.numpy()).max()))
    y_eval = cn.forward(x, ctx, train=False)          # inference: the running statistics
    m.eval()
    print("inference vs PyTorch: %.2e" % np.abs(y_eval - m(torch.from_numpy(x.astype(np.float64)),
                                                          torch.from_numpy(ctx)).detach().numpy()).max())
