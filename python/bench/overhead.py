"""Python overhead of the vknorm package, measured against the same work in C in one run (docs/PERF.md):
  1. a norm layer call, vknorm.Norm.forward (upload, record, run, download) vs overhead.c doing the
     same calls in a C loop, at vkn-bench's norm shapes;
  2. the Python graph step (train_fashion's network, bn, batch 64) vs the C step (overhead.c).
The C and Python runs alternate, REPEAT rounds; the minimum of the rounds is reported (on a
loaded machine the least disturbed round is the best estimate of the cost itself), the medians beside.
    python3 python/bench/overhead.py [BUILD_DIR] [REPEAT]     (from the source tree)"""
import os
import statistics
import subprocess
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build"))
repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
os.environ.setdefault("VKN_LIB", os.path.join(build, "src", "libvknorm.so"))
sys.path.insert(0, os.path.join(root, "python"))
import vknorm  # noqa: E402

exe = os.path.join(build, "python-overhead")
subprocess.run(["cc", "-O2", "-std=c11", os.path.join(here, "overhead.c"), "-I", os.path.join(root, "include"),
                "-I", os.path.join(build, "include"),
                "-L", os.path.join(build, "src"), "-Wl,-rpath," + os.path.join(build, "src"), "-lvknorm", "-o", exe],
               check=True)


def c_run(*args):
    return float(subprocess.run([exe, *map(str, args)], check=True, capture_output=True, text=True).stdout)


dev = vknorm.Device(validate=False, quiet=True)
print(dev.line)
print(f"load average {os.getloadavg()[0]:.1f}")
SHAPES = [("bn", 8, 4, 1, 1), ("cn", 8, 4, 1, 1), ("bn", 64, 64, 7, 7), ("cn", 64, 64, 7, 7), ("bn", 64, 3136, 1, 1), ("acn", 64, 64, 7, 7)]
ITERS = 200
print("\nnorm layer call (train forward: upload x, record, run, download y), us per call")
print(f"{'method':6} {'shape':>14} {'C':>9} {'Python':>9} {'overhead':>9}   (medians: C, Python)")
for kind, N, C, H, W in SHAPES:
    nm = vknorm.Norm(kind, C, device=dev, contexts=4)
    x = np.random.default_rng(0).standard_normal((N, C, H, W)).astype(np.float32)
    if H == W == 1:
        x = x.reshape(N, C)
    ctx = (np.arange(N) % 4).astype(np.int32) if nm.needs_ctx else None
    cs, ps = [], []
    for _ in range(repeat):
        cs.append(c_run("norm", kind, N, C, H, W, ITERS))
        for _ in range(3):
            nm.forward(x, ctx)
        t0 = time.perf_counter()
        for _ in range(ITERS):
            nm.forward(x, ctx)
        ps.append(1e6 * (time.perf_counter() - t0) / ITERS)
    c, p = min(cs), min(ps)
    print(f"{kind:6} {'x'.join(map(str, x.shape)):>14} {c:9.1f} {p:9.1f} {p - c:9.1f}   "
          f"({statistics.median(cs):.1f}, {statistics.median(ps):.1f})")
    nm.close()

print("\ngraph step (train_fashion network, bn, batch 64, Adam), ms per step")
STEPS = 40
cs, ps = [], []
params = vknorm.Params(dev, seed=1)
g = vknorm.Graph(params, "train")
x, y = g.input("images", (64, 1, 28, 28)), g.input("labels", (64,), np.int32)


def block(h, name, c):
    return g.maxpool2d(g.relu(g.norm(name, h, "bn")), 2, 2)


h = block(g.conv2d("conv1", x, 16, 5), "norm1", 16)
h = block(g.conv2d("conv2", h, 32, 5), "norm2", 32)
loss = g.softmax_ce(g.linear("fc", g.flatten(h), 10), y)
g.backward(loss)
g.adam(lr=1e-3)
g.compile()
img = ((np.arange(64 * 784) % 255) / 127.5 - 1).astype(np.float32).reshape(64, 1, 28, 28)
lab = (np.arange(64) % 10).astype(np.int32)
for _ in range(repeat):
    cs.append(c_run("graph", STEPS))
    for _ in range(2):
        g.step({"images": img, "labels": lab})
    t0 = time.perf_counter()
    for _ in range(STEPS):
        g.step({"images": img, "labels": lab})
    ps.append(1e3 * (time.perf_counter() - t0) / STEPS)
c, p = min(cs), min(ps)
print(f"C {c:.2f} ms/step, Python {p:.2f} ms/step: Python/C = {p / c:.3f}  (runs: C {cs}, Python {[round(v, 2) for v in ps]})")
print(f"load average {os.getloadavg()[0]:.1f}")
params.close()
dev.close()
