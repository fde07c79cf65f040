#!/usr/bin/env python3
"""Cross-check vkn-op against PyTorch (not part of the meson suite: it needs torch).

    /usr/bin/python3 tests/op/torch_crosscheck.py [path/to/vkn-op]

For each case it draws inputs, writes them to a safetensors file, runs vkn-op on it, computes the
same forward and backward with torch in float64, and compares every output vkn-op wrote. The
safetensors files are read and written with a few lines of numpy below, so the `safetensors`
package is not needed (torch's own `safetensors.torch.save_file` writes the same files).

Cases: BatchNorm2d (train: y, dx, dgamma, dbeta, running statistics; eval with loaded running
statistics), LayerNorm/GroupNorm (vknorm's ln normalizes over (C, H, W) with a per-channel affine,
which is torch's group_norm with one group), conv2d, conv_transpose2d, gemm (linear), softmax_ce.
Exit status 0 when every comparison is within tolerance."""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}
NP = {"F32": np.float32, "I32": np.int32}


def st_save(path, tensors):
    """safetensors writer: 8-byte little-endian header length, JSON header, raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def st_load(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype=NP[info["dtype"]]).reshape(info["shape"])
    return out, meta


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


class Checker:
    def __init__(self, exe, tmp):
        self.exe, self.tmp, self.failures, self.checks = exe, tmp, 0, 0

    def run(self, op, inputs, *args):
        fin, fout = os.path.join(self.tmp, "in.safetensors"), os.path.join(self.tmp, "out.safetensors")
        st_save(fin, inputs)
        r = subprocess.run([self.exe, op, "--in", fin, "--out", fout, "--quiet", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"vkn-op {op} {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return st_load(fout)

    def close(self, case, name, got, ref, tol=1e-4):
        ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
        got = np.asarray(got, dtype=np.float64).reshape(ref.shape)
        err = np.max(np.abs(got - ref) / (tol + tol * np.abs(ref))) if ref.size else 0.0
        ok = err <= 1.0
        self.checks += 1
        self.failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {case:<28} {name:<14} max |diff| {np.max(np.abs(got - ref)):.2e}")


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VKN_OP", "build/apps/op/vkn-op")
    rng = np.random.default_rng(0)
    f32 = lambda *s, lo=-1.0, hi=1.0: rng.uniform(lo, hi, s).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        c = Checker(exe, tmp)

        # ---- BatchNorm2d, train: y, dx, dgamma, dbeta and the running statistics after the step
        N, C, H, W = 8, 5, 4, 3
        x, dy = f32(N, C, H, W, lo=-1, hi=3), f32(N, C, H, W)
        gamma, beta = f32(C, lo=0.5, hi=1.5), f32(C)
        rm, rv = f32(C), f32(C, lo=0.5, hi=1.5)
        out, meta = c.run("norm", {"x": x, "dy": dy, "gamma": gamma, "beta": beta, "running_mean": rm,
                                   "running_var": rv}, "--kind", "bn", "--train", "1", "--momentum", "0.1")
        xt, gt, bt = t64(x, True), t64(gamma, True), t64(beta, True)
        rmt, rvt = t64(rm), t64(rv)
        y = F.batch_norm(xt, rmt, rvt, gt, bt, training=True, momentum=0.1, eps=1e-5)
        y.backward(t64(dy))
        for name, ref in [("y", y), ("dx", xt.grad), ("dgamma", gt.grad), ("dbeta", bt.grad),
                          ("running_mean", rmt), ("running_var", rvt)]:
            c.close("bn train", name, out[name], ref)
        print(f"  (metadata: op={meta.get('op')} options='{meta.get('options')}' commit={meta.get('vknorm_commit')})")

        # ---- BatchNorm2d, eval with the loaded running statistics
        out, _ = c.run("norm", {"x": x, "dy": dy, "gamma": gamma, "beta": beta, "running_mean": rm,
                                "running_var": rv}, "--kind", "bn", "--train", "0")
        xt, gt, bt = t64(x, True), t64(gamma, True), t64(beta, True)
        y = F.batch_norm(xt, t64(rm), t64(rv), gt, bt, training=False, eps=1e-5)
        y.backward(t64(dy))
        for name, ref in [("y", y), ("dx", xt.grad), ("dgamma", gt.grad), ("dbeta", bt.grad)]:
            c.close("bn eval", name, out[name], ref)

        # ---- GroupNorm (gn, 5 channels... use 6 with 3 groups) and ln (= one group)
        x6, dy6 = f32(4, 6, 3, 3, lo=-2, hi=2), f32(4, 6, 3, 3)
        g6, b6 = f32(6, lo=0.5, hi=1.5), f32(6)
        for kind, groups, extra in [("gn", 3, ["--groups", "3"]), ("ln", 1, [])]:
            out, _ = c.run("norm", {"x": x6, "dy": dy6, "gamma": g6, "beta": b6}, "--kind", kind, *extra)
            xt, gt, bt = t64(x6, True), t64(g6, True), t64(b6, True)
            y = F.group_norm(xt, groups, gt, bt, eps=1e-5)
            y.backward(t64(dy6))
            for name, ref in [("y", y), ("dx", xt.grad), ("dgamma", gt.grad), ("dbeta", bt.grad)]:
                c.close(f"{kind} (group_norm {groups})", name, out[name], ref)

        # ---- conv2d and conv_transpose2d with bias, stride 2, padding 1
        x, w, b = f32(2, 3, 7, 6), f32(4, 3, 3, 3, lo=-0.5, hi=0.5), f32(4)
        yref = F.conv2d(t64(x), t64(w), t64(b), stride=2, padding=1)
        dy = f32(*yref.shape)
        out, _ = c.run("conv2d", {"x": x, "w": w, "b": b, "dy": dy}, "--stride", "2", "--pad", "1")
        xt, wt, bt = t64(x, True), t64(w, True), t64(b, True)
        y = F.conv2d(xt, wt, bt, stride=2, padding=1)
        y.backward(t64(dy))
        for name, ref in [("y", y), ("dx", xt.grad), ("dw", wt.grad), ("db", bt.grad)]:
            c.close("conv2d", name, out[name], ref)

        x, w, b = f32(2, 4, 4, 5), f32(4, 3, 4, 4, lo=-0.5, hi=0.5), f32(3)
        yref = F.conv_transpose2d(t64(x), t64(w), t64(b), stride=2, padding=1)
        dy = f32(*yref.shape)
        out, _ = c.run("conv_transpose2d", {"x": x, "w": w, "b": b, "dy": dy}, "--stride", "2", "--pad", "1")
        xt, wt, bt = t64(x, True), t64(w, True), t64(b, True)
        y = F.conv_transpose2d(xt, wt, bt, stride=2, padding=1)
        y.backward(t64(dy))
        for name, ref in [("y", y), ("dx", xt.grad), ("dw", wt.grad), ("db", bt.grad)]:
            c.close("conv_transpose2d", name, out[name], ref)

        # ---- gemm as torch's linear: y = leaky_relu(x W^T + b), W [out, in] -> --trans-b
        x, w, b = f32(6, 10), f32(7, 10), f32(7)
        dy = f32(6, 7)
        out, _ = c.run("gemm", {"a": x, "b": w, "bias": b, "dy": dy}, "--trans-b", "--act", "leaky_relu",
                       "--act-alpha", "0.2")
        xt, wt, bt = t64(x, True), t64(w, True), t64(b, True)
        y = F.leaky_relu(F.linear(xt, wt, bt), 0.2)
        y.backward(t64(dy))
        for name, ref in [("y", y), ("da", xt.grad), ("db", wt.grad), ("dbias", bt.grad)]:
            c.close("gemm (linear)", name, out[name], ref)

        # ---- softmax cross-entropy with label smoothing
        x, labels = f32(9, 5, lo=-3, hi=3), rng.integers(0, 5, 9).astype(np.int32)
        out, _ = c.run("softmax_ce", {"x": x, "labels": labels}, "--smoothing", "0.1")
        xt = t64(x, True)
        loss = F.cross_entropy(xt, torch.tensor(labels, dtype=torch.long), label_smoothing=0.1)
        loss.backward()
        c.close("softmax_ce", "loss", out["loss"], loss)
        c.close("softmax_ce", "dx", out["dx"], xt.grad)

        print(f"torch {torch.__version__}: {c.checks - c.failures}/{c.checks} comparisons within tolerance")
        return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
