#!/usr/bin/python3
"""PyTorch peer of vkn-bench: the same tests through PyTorch on the CPU, timed inside this process.

vkn-bench --peer torch runs this script once per test, interleaved with its own runs (the Python and
torch start-up are outside the timed region). Each subcommand prints ONE JSON line:
  {"test": ..., "median_us": ..., "min_us": ..., "max_us": ..., "runs": ..., "threads": ..., "torch": ...,
   "blas": ...}
Warm-up runs are excluded; the median is over the timed runs (at least --reps, and at least --min-time
seconds). Only the standard library and torch are used.

  torch_peer.py check                                   torch version, threads, BLAS library in use
  torch_peer.py norm --kind bn|gn|ln --shape 64x64x7x7 [--groups G] [--reps R]
  torch_peer.py train --model small|base [--reps R]
  torch_peer.py gemm --m M --n N --k K [--reps R]

Run it with Debian's python (/usr/bin/python3, packages python3-torch python3-numpy, installed by
scripts/install-deps --peers). Install libopenblas0-pthread as well: Debian's torch calls the system
BLAS (libblas.so.3), and with the reference BLAS instead of OpenBLAS its CPU path (linear layers,
transposed convolutions, GEMM) is several times slower. `check` reports which BLAS is loaded.
"""
import argparse
import json
import os
import sys
import time


def fail(msg, code=3):
    print(json.dumps({"error": msg}))
    sys.exit(code)


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
    fail("cannot import torch with %s (%s): install it with scripts/install-deps --peers "
         "(Debian's python3-torch; run with /usr/bin/python3)" % (sys.executable, e))


def blas_in_use():
    """Which BLAS serves torch's sgemm calls: the library mapped as libblas.so.3 (Debian's torch links the
    system BLAS through the libblas.so.3 alternative), read from /proc/self/maps after a matmul."""
    a = torch.ones(64, 64)
    (a @ a).sum().item()
    blas, other = [], []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6:
                    continue
                base = os.path.basename(parts[-1])
                if base.startswith("libblas.so"):
                    blas.append(parts[-1])
                elif "openblas" in base or "mkl" in base:
                    other.append(parts[-1])
    except OSError:
        return "unknown"
    if blas:
        p = blas[0]
        if "openblas" in p or "openblas" in os.path.realpath(p):
            return "openblas"
        return "reference (%s)" % p
    if any("mkl" in p for p in other):
        return "mkl"
    if other:
        return "openblas"
    return "none loaded"


def setup_threads(n):
    n = n or os.cpu_count() or 1
    torch.set_num_threads(n)
    return torch.get_num_threads()


def time_fn(fn, reps, min_time, warmup):
    for _ in range(warmup):
        fn()
    t = []
    start = time.perf_counter()
    while len(t) < reps or (time.perf_counter() - start < min_time and len(t) < 100000):
        t0 = time.perf_counter_ns()
        fn()
        t.append((time.perf_counter_ns() - t0) / 1000.0)
    t.sort()
    n = len(t)
    med = t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])
    return med, t[0], t[-1], n


def emit(test, med, lo, hi, runs, threads, **extra):
    d = {"test": test, "median_us": round(med, 3), "min_us": round(lo, 3), "max_us": round(hi, 3), "runs": runs,
         "threads": threads, "torch": torch.__version__, "blas": blas_in_use()}
    d.update(extra)
    print(json.dumps(d))
    sys.stdout.flush()


def default_groups(c):
    """vknorm's default group count (src/ops/norm_ref_common.c): the largest divisor of C up to 32."""
    g = 1
    for d in range(1, min(32, c) + 1):
        if c % d == 0:
            g = d
    return g


def parse_shape(s):
    try:
        dims = [int(v) for v in s.lower().split("x")]
    except ValueError:
        fail("bad --shape '%s' (want NxCxHxW or NxD)" % s, 2)
    if len(dims) not in (2, 4) or min(dims) < 1:
        fail("bad --shape '%s' (want NxCxHxW or NxD, all > 0)" % s, 2)
    return dims


# ---------------------------------------------------------------------------------------------- norm

def cmd_norm(a, threads):
    shape = parse_shape(a.shape)
    n, c = shape[0], shape[1]
    g = a.groups or default_groups(c)
    if a.kind == "bn":
        m = nn.BatchNorm2d(c) if len(shape) == 4 else nn.BatchNorm1d(c)
    elif a.kind == "gn":
        if c % g:
            fail("--groups %d does not divide C = %d" % (g, c), 2)
        m = nn.GroupNorm(g, c)
    elif a.kind == "ln":
        # normalized over C (and H, W): one mean and variance per sample, as vknorm's ln
        m = nn.LayerNorm(shape[1:])
    else:
        fail("unknown --kind '%s' (bn, gn, ln)" % a.kind, 2)
    m.train()
    gen = torch.Generator().manual_seed(12345)
    x = (torch.rand(shape, generator=gen) * 4 - 2).requires_grad_(True)
    dy = torch.rand(shape, generator=gen) * 4 - 2
    wrt = [x] + [p for p in m.parameters()]

    def step():
        y = m(x)
        torch.autograd.grad(y, wrt, dy)   # dx, dgamma, dbeta: no accumulation into .grad

    med, lo, hi, runs = time_fn(step, a.reps, a.min_time, a.warmup)
    emit("%s fwd+bwd" % a.kind, med, lo, hi, runs, threads, shape=a.shape, groups=g if a.kind == "gn" else None)


# ---------------------------------------------------------------------------------------------- train

class Generator(nn.Module):
    """concat(z, onehot(y)) -> linear -> w1x7x7 -> BN -> ReLU -> convT(w1->w2, k4 s2 p1) -> BN -> ReLU
    -> convT(w2->C, k4 s2 p1) -> tanh (src/nn/cgan.c)"""

    def __init__(self, base, zdim=64, classes=10, channels=1):
        super().__init__()
        self.w1, self.w2 = (128, 64) if base else (64, 32)
        self.classes = classes
        self.fc = nn.Linear(zdim + classes, self.w1 * 49)
        self.norm1 = nn.BatchNorm2d(self.w1)
        self.convT1 = nn.ConvTranspose2d(self.w1, self.w2, 4, 2, 1)
        self.norm2 = nn.BatchNorm2d(self.w2)
        self.convT2 = nn.ConvTranspose2d(self.w2, channels, 4, 2, 1)

    def forward(self, z, y):
        h = self.fc(torch.cat([z, F.one_hot(y, self.classes).to(z.dtype)], 1))
        h = F.relu(self.norm1(h.view(-1, self.w1, 7, 7)))
        h = F.relu(self.norm2(self.convT1(h)))
        return torch.tanh(self.convT2(h))


class Discriminator(nn.Module):
    """conv(C->w1, k4 s2 p1) -> LeakyReLU(0.2) -> conv(w1->w2, k4 s2 p1) -> BN -> LeakyReLU(0.2) -> flatten
    -> linear(w2*49 -> 1) + <embedding(y), features> (projection discriminator, src/nn/cgan.c)"""

    def __init__(self, base, classes=10, channels=1):
        super().__init__()
        w1, w2 = (64, 128) if base else (32, 64)
        self.conv1 = nn.Conv2d(channels, w1, 4, 2, 1)
        self.conv2 = nn.Conv2d(w1, w2, 4, 2, 1)
        self.norm = nn.BatchNorm2d(w2)
        self.fc = nn.Linear(w2 * 49, 1)
        self.embed = nn.Embedding(classes, w2 * 49)

    def forward(self, x, y):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.norm(self.conv2(h)), 0.2)
        f = h.flatten(1)
        return self.fc(f) + (self.embed(y) * f).sum(1, keepdim=True)


def init_normal(m):
    """weights N(0, 0.02) (DCGAN), biases 0; BatchNorm keeps gamma 1, beta 0"""
    for mod in m.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            nn.init.normal_(mod.weight, 0.0, 0.02)
            if getattr(mod, "bias", None) is not None:
                nn.init.zeros_(mod.bias)


def cmd_train(a, threads):
    if a.model not in ("small", "base"):
        fail("unknown --model '%s' (small, base)" % a.model, 2)
    base = a.model == "base"
    batch, zdim, classes = 64, 64, 10
    torch.manual_seed(1)
    G, D = Generator(base, zdim, classes), Discriminator(base, classes)
    init_normal(G)
    init_normal(D)
    G.train()
    D.train()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    bce = nn.BCEWithLogitsLoss()   # non-saturating: D: real -> 1, fake -> 0; G: fake -> 1
    real = torch.rand(batch, 1, 28, 28) * 2 - 1         # the work per step does not depend on the data
    real_y = torch.arange(batch) % classes
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    d_params = list(D.parameters())

    def step():
        # discriminator update on a real and a fake batch (the fake one without G's gradients)
        z = torch.randn(batch, zdim)
        yf = torch.randint(0, classes, (batch,))
        with torch.no_grad():
            fake = G(z, yf)
        loss_d = bce(D(real, real_y), ones) + bce(D(fake, yf), zeros)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator update through D (D's parameter gradients are not computed)
        z = torch.randn(batch, zdim)
        yf = torch.randint(0, classes, (batch,))
        for p in d_params:
            p.requires_grad_(False)
        loss_g = bce(D(G(z, yf), yf), ones)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)
        return loss_d, loss_g

    med, lo, hi, runs = time_fn(step, a.reps, a.min_time, a.warmup)
    ld, lg = step()
    emit("cgan-%s step (D + G)" % a.model, med, lo, hi, runs, threads, batch=batch,
         loss_d=round(ld.item(), 4), loss_g=round(lg.item(), 4))


# ---------------------------------------------------------------------------------------------- gemm

def cmd_gemm(a, threads):
    if min(a.m, a.n, a.k) < 1:
        fail("--m, --n, --k must be > 0", 2)
    A, B = torch.rand(a.m, a.k), torch.rand(a.k, a.n)
    C = torch.empty(a.m, a.n)
    med, lo, hi, runs = time_fn(lambda: torch.mm(A, B, out=C), a.reps, a.min_time, a.warmup)
    emit("gemm %dx%dx%d" % (a.m, a.n, a.k), med, lo, hi, runs, threads,
         gflops=round(2.0 * a.m * a.n * a.k / (med * 1e3), 3))


def main():
    p = argparse.ArgumentParser(description="PyTorch CPU peer of vkn-bench (prints one JSON line)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: the machine's cores)")
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--reps", type=int, default=20, help="timed runs at least (default 20)")
    common.add_argument("--min-time", type=float, default=0.0, help="and at least this many seconds")
    common.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    common.add_argument("--threads", type=int, default=argparse.SUPPRESS)
    sub.add_parser("check", parents=[common], help="torch version, threads and BLAS")
    pn = sub.add_parser("norm", parents=[common], help="forward + backward of one normalization layer")
    pn.add_argument("--kind", required=True, choices=["bn", "gn", "ln"])
    pn.add_argument("--shape", required=True, help="NxCxHxW or NxD (dense)")
    pn.add_argument("--groups", type=int, default=0, help="gn groups (default: vknorm's, largest divisor <= 32)")
    pt = sub.add_parser("train", parents=[common], help="one cGAN training step (D then G)")
    pt.add_argument("--model", required=True, choices=["small", "base"])
    pg = sub.add_parser("gemm", parents=[common], help="C = A B, fp32")
    pg.add_argument("--m", type=int, required=True)
    pg.add_argument("--n", type=int, required=True)
    pg.add_argument("--k", type=int, required=True)
    a = p.parse_args()
    if a.reps < 1:
        fail("--reps must be >= 1", 2)
    threads = setup_threads(a.threads)
    blas = blas_in_use()
    if blas not in ("openblas", "mkl"):
        print("torch_peer.py: note: torch's BLAS is %s; install libopenblas0-pthread (scripts/install-deps --peers): "
              "it makes PyTorch's CPU path several times faster (about 4x on the cgan-small step, 30x on GEMM)"
              % blas, file=sys.stderr)
    if a.cmd == "check":
        print(json.dumps({"test": "check", "torch": torch.__version__, "threads": threads, "blas": blas_in_use(),
                          "python": sys.executable}))
    elif a.cmd == "norm":
        cmd_norm(a, threads)
    elif a.cmd == "train":
        cmd_train(a, threads)
    else:
        cmd_gemm(a, threads)


if __name__ == "__main__":
    main()
