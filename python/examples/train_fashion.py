"""Example 2: train the Fashion-MNIST CNN of examples/train_fashion.c through the Python graph API:
the same network, seed, data order and Adam, so the same losses as the C program.
    python3 train_fashion.py [NORM [STEPS]]     NORM: bn (default), none, ln, in, gn, cn, acn, ...
The model is built once as a graph, differentiated, given Adam, compiled (the step recorded), then
each step writes the batch into the graph's mapped inputs and replays the step: one submit."""
import sys
import time

import numpy as np

import vknorm

B, E = 64, 500


def net(g, x, ctx, kind):
    """[N,1,28,28] -> conv5 -> norm -> relu -> pool -> conv5 -> norm -> relu -> pool -> linear -> [N,10]"""
    h = g.conv2d("conv1", x, 16, 5, 1, 0)                                   # [N,16,24,24]
    h = g.maxpool2d(g.relu(g.norm("norm1", h, kind, ctx)), 2, 2)
    h = g.conv2d("conv2", h, 32, 5, 1, 0)                                   # [N,32,8,8]
    h = g.maxpool2d(g.relu(g.norm("norm2", h, kind, ctx)), 2, 2)
    return g.linear("fc", g.flatten(h), 10)                                 # [N,512] -> [N,10]


def main(kind="bn", steps=500, device=None, log=print):
    params = vknorm.Params(device, seed=1)
    needs_ctx = kind in ("cbn", "cn", "cnx")

    tg = vknorm.Graph(params, "train", train=True, trainable=True, init="he", seed=1)
    x, y = tg.input("images", (B, 1, 28, 28)), tg.input("labels", (B,), np.int32)
    ctx = tg.input("ctx", (B,), np.int32) if needs_ctx else None
    loss = tg.softmax_ce(net(tg, x, ctx, kind), y)
    tg.backward(loss)
    tg.adam(lr=1e-3)
    tg.compile()
    if needs_ctx:
        tg.input_array("ctx")[:] = 0          # one context (0), as the C example

    eg = vknorm.Graph(params, "test", train=False, trainable=False, init="he", seed=1)
    ex = eg.input("images", (E, 1, 28, 28))
    ectx = eg.input("ctx", (E,), np.int32) if needs_ctx else None
    pred = eg.keep(eg.argmax(net(eg, ex, ectx, kind)))
    eg.compile()
    if needs_ctx:
        eg.input_array("ctx")[:] = 0

    train = vknorm.FashionMNIST("train", batch=B, mode="shuffle", seed=1)
    images, labels = tg.input_array("images"), tg.input_array("labels")
    losses = {}
    t0 = time.perf_counter()
    for s in range(1, steps + 1):
        train.fill(images, labels)            # the batch straight into the mapped inputs
        tg.step(t=s)                          # Adam's t = s, lr 1e-3: one submit
        if s % 100 == 0 or s == steps:
            losses[s] = float(tg.read(loss)[0])
            log(f"step {s:4d}  loss {losses[s]:.4f}")
    ms = 1e3 * (time.perf_counter() - t0) / steps

    test = vknorm.FashionMNIST("test", batch=E, mode="sequential")
    eimages = eg.input_array("images")
    got_labels = np.empty(E, np.int32)
    right = 0
    for _ in range(test.n // E):
        test.fill(eimages, got_labels)
        eg.step()
        right += int((eg.read(pred) == got_labels).sum())
    acc = right / (test.n // E * E)
    log(f"norm {kind}: test accuracy {acc:.4f} ({test.n // E * E} test images, {steps} steps of {B}); "
        f"{ms:.1f} ms/step")
    params.close()
    return losses, acc


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bn", int(sys.argv[2]) if len(sys.argv) > 2 else 500)
