"""The Python graph API: a small network trained by replayed steps, its errors, and the Fashion-MNIST
classifier of examples/train_fashion.c trained from Python to the same losses and test accuracy as the
C program for the same seed (when the dataset and the built example are present)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import vknorm

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_mlp_trains_and_reads(device):
    p = vknorm.Params(device, seed=3)
    g = vknorm.Graph(p, "train")
    x = g.input("x", (32, 6))
    y = g.input("y", (32,), np.int32)
    h = g.relu(g.norm("n1", g.linear("fc1", x, 16), "cn", ctx=y, contexts=3))
    logits = g.keep(g.linear("fc2", h, 3))
    loss = g.softmax_ce(logits, y)
    g.backward(loss)
    g.adam(lr=1e-2)
    g.compile()
    assert {"fc1.weight", "fc1.bias", "n1.gamma", "n1.running_mean", "fc2.weight"} <= set(p.names())
    rng = np.random.default_rng(0)
    yb = rng.integers(0, 3, 32).astype(np.int32)
    xb = (rng.standard_normal((32, 6)) + yb[:, None]).astype(np.float32)
    losses = []
    for _ in range(30):
        g.step({"x": xb, "y": yb})
        losses.append(float(g.read(loss)[0]))
    assert losses[-1] < 0.5 * losses[0], losses
    assert g.read(logits).shape == (32, 3)
    # the loss the graph reports is the softmax cross-entropy of the logits it reports
    g.step({"x": xb, "y": yb})
    lg = g.read(logits).astype(np.float64)
    ce = -(lg - np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1, keepdims=True)) - lg.max(1, keepdims=True))
    assert abs(float(g.read(loss)[0]) - ce[np.arange(32), yb].mean()) < 1e-4
    assert g.report()["dispatches"] > 0
    w = p["fc1.weight"]
    p["fc1.weight"] = np.zeros_like(w)
    assert not p["fc1.weight"].any()
    p.close()


def test_graph_errors(device):
    p = vknorm.Params(device)
    bad = vknorm.Graph(p, "bad")
    with pytest.raises(vknorm.Error, match="NCHW"):
        bad.conv2d("c", bad.input("x", (4, 5)), 3, 3)     # vknorm's message; that graph is failed now
    with pytest.raises(vknorm.Error):
        bad.input("y", (4,))
    g = vknorm.Graph(p, "g")
    x = g.input("x", (4, 5))
    with pytest.raises(vknorm.Error, match="dtype"):
        g.input("z", (4,), np.float64)
    out = g.keep(g.linear("fc", x, 2))
    with pytest.raises(vknorm.Error, match="compile first"):
        g.step({"x": np.zeros((4, 5), np.float32)})
    g.compile()
    with pytest.raises(vknorm.Error, match="compiled"):
        g.linear("fc2", x, 2)
    with pytest.raises(vknorm.Error, match="shape"):
        g.step({"x": np.zeros((4, 6), np.float32)})
    with pytest.raises(vknorm.Error, match="float32"):
        g.step({"x": np.zeros((4, 5), np.float64)})
    with pytest.raises(vknorm.Error, match="no input"):
        g.step({"y": np.zeros((4, 5), np.float32)})
    g.step({"x": np.ones((4, 5), np.float32)})
    assert g.read(out).shape == (4, 2)
    p.close()
    with pytest.raises(vknorm.Error, match="closed"):
        g.step({"x": np.ones((4, 5), np.float32)})


def fashion_present():
    try:
        vknorm.FashionMNIST("test", batch=500).close()
        return True
    except vknorm.Error:
        return False


def test_python_graph_matches_c_example(tmp_path):
    build = os.path.abspath(os.environ.get("VKN_BUILD_DIR", os.path.join(root, "build")))
    exe = os.path.join(build, "examples", "train_fashion")
    if not os.path.exists(exe) or not fashion_present():
        pytest.skip("needs the built examples/train_fashion and Fashion-MNIST")
    steps = 100
    env = dict(os.environ, VKN_QUIET="1")
    c = subprocess.run([exe, "bn", str(steps)], capture_output=True, text=True, env=env, timeout=900)
    assert c.returncode == 0, c.stderr
    c_loss = float(re.search(rf"step\s+{steps}\s+loss ([0-9.]+)", c.stdout).group(1))
    c_acc = float(re.search(r"test accuracy ([0-9.]+)", c.stdout).group(1))
    sys.path.insert(0, os.path.join(root, "python", "examples"))
    import train_fashion
    d = vknorm.Device(quiet=True)
    losses, acc = train_fashion.main("bn", steps, device=d, log=lambda s: None)
    d.close()
    assert f"{losses[steps]:.4f}" == f"{c_loss:.4f}", (losses, c.stdout)
    assert f"{acc:.4f}" == f"{c_acc:.4f}"
