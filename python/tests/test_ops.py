"""vknorm.ops on the device against torch.nn.functional (float64) on odd shapes, both kernel
families; bound 1e-4 max(1, max|ref|) + 1e-3 |ref|."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vknorm
from vknorm import ops

from test_norm import close


def t(a):
    return torch.from_numpy(a.astype(np.float64))


def test_elementwise_and_reduce(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 7)).astype(np.float32)
    close(ops.unary("relu", x, device=device), F.relu(t(x)), "relu")
    close(ops.unary("leaky_relu", x, 0.2, device=device), F.leaky_relu(t(x), 0.2), "leaky_relu")
    close(ops.unary("tanh", x, device=device), torch.tanh(t(x)), "tanh")
    close(ops.unary("sigmoid", x, device=device), torch.sigmoid(t(x)), "sigmoid")
    close(ops.unary("exp", x, device=device), torch.exp(t(x)), "exp")
    close(ops.unary("scale", x, 2.5, device=device), 2.5 * t(x), "scale")
    b = rng.standard_normal((5, 1)).astype(np.float32) + 3
    for op, f in (("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)):
        close(ops.binary(op, x, b, device=device), f(t(x), t(b)), op)
    close(ops.reduce("sum", x, (0, 2), device=device), t(x).sum((0, 2)), "sum")
    close(ops.reduce("mean", x, 1, device=device), t(x).mean(1), "mean")
    close(ops.reduce("max", x, 2, device=device), t(x).amax(2), "max")


def test_gemm(device):
    rng = np.random.default_rng(1)
    for M, K, N in ((7, 13, 5), (1, 3, 9), (33, 65, 17)):
        a = rng.standard_normal((M, K)).astype(np.float32)
        b = rng.standard_normal((K, N)).astype(np.float32)
        bias = rng.standard_normal(N).astype(np.float32)
        close(ops.gemm(a, b, device=device), t(a) @ t(b), f"gemm {M}x{K}x{N}")
        close(ops.gemm(np.ascontiguousarray(a.T), b, trans_a=True, bias=bias, act="relu", device=device),
              F.relu(t(a) @ t(b) + t(bias)), "gemm trans_a bias relu")
        close(ops.gemm(a, np.ascontiguousarray(b.T), trans_b=True, device=device), t(a) @ t(b), "gemm trans_b")


def test_conv_and_pool(device):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 11, 9)).astype(np.float32)
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    close(ops.conv2d(x, w, b, stride=2, padding=1, device=device), F.conv2d(t(x), t(w), t(b), 2, 1), "conv2d")
    wt = rng.standard_normal((5, 4, 4, 4)).astype(np.float32)
    bt = rng.standard_normal(4).astype(np.float32)
    close(ops.conv_transpose2d(x, wt, bt, stride=2, padding=1, device=device),
          F.conv_transpose2d(t(x), t(wt), t(bt), 2, 1), "conv_transpose2d")
    close(ops.maxpool2d(x, 2, device=device), F.max_pool2d(t(x), 2), "maxpool2d")
    close(ops.avgpool2d(x, 3, 2, 1, device=device), F.avg_pool2d(t(x), 3, 2, 1), "avgpool2d")


def test_op_errors(device):
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(vknorm.Error, match="do not broadcast"):
        ops.binary("add", x, np.zeros((5,), np.float32), device=device)
    with pytest.raises(vknorm.Error, match="dtype"):
        ops.unary("relu", x.astype(np.float64), device=device)
    with pytest.raises(vknorm.Error, match="op="):
        ops.unary("gelu", x, device=device)
    with pytest.raises(vknorm.Error):
        ops.gemm(np.zeros((3, 4), np.float32), np.zeros((5, 2), np.float32), device=device)
    with pytest.raises(vknorm.Error, match="does not fit"):
        ops.maxpool2d(x, 5, device=device)
    with pytest.raises(vknorm.Error):
        ops.conv2d(x, np.zeros((2, 4, 3, 3), np.float32), device=device)
