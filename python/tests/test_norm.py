"""Every normalization method on the device (vknorm.Norm, float32) against vknorm.torch (float64):
forward in training and inference, backward (dx and every learned slot's gradient) and the buffers
after the step, on chosen and random shapes: NCHW with odd sizes, 1x1 spatial, dense [N, C] with
C % 4 != 0, contexts absent from the batch (and one with a single sample), affine on and off; on
both kernel families (the device fixture). Bound: |dev - ref| <= atol + rtol |ref| with
atol = 1e-4 * max(1, max|ref|), rtol = 1e-3 (f32 device against f64; gradients summed over up to
a few hundred values). Large-mean inputs (|mean| = 300 sigma): atol 3e-3 * max|ref| (the device's
f32 centring loses log2(300) bits)."""
import numpy as np
import pytest
import torch

import vknorm
import vknorm.torch as vt

CTX_KINDS = ("cbn", "cn", "cnx")


def close(dev, ref, what, atol=1e-4, rtol=1e-3):
    ref = np.asarray(ref, dtype=np.float64)
    dev = np.asarray(dev, dtype=np.float64).reshape(ref.shape)
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    bound = atol * scale + rtol * np.abs(ref)
    err = np.abs(dev - ref)
    assert np.all(err <= bound), (f"{what}: max |dev-ref| {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}"
                                  f" (dev {dev.flat[err.argmax()]:.6g}, ref {ref.flat[err.argmax()]:.6g})")


def torch_twin(nm, opts):
    """The vknorm.torch module with the device layer's options and slot values, in float64."""
    m = vt.make(nm.kind, nm.channels, **opts).double()
    m.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in nm.state_dict().items()})
    return m


def run_case(device, kind, shape, opts, rng, ctx=None, train=True, mean=0.0, atol=1e-4):
    C = shape[1]
    nm = vknorm.Norm(kind, C, device=device, seed=int(rng.integers(1 << 30)), **opts)
    # move the slots off their constant initial values so every term is exercised
    sd = nm.state_dict()
    for name, learned, sh in nm.slot_info:
        if learned and kind != "afn":
            sd[name] = (sd[name] + 0.3 * rng.standard_normal(sh)).astype(np.float32)
    if "running_var" in sd:
        sd["running_var"] = (0.5 + rng.random(sd["running_var"].shape)).astype(np.float32)
        sd["running_mean"] = (0.3 * rng.standard_normal(sd["running_mean"].shape)).astype(np.float32)
    nm.load_state_dict(sd)
    m = torch_twin(nm, opts)
    m.train(train)

    x = (mean + rng.standard_normal(shape)).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    y = nm.forward(x, ctx, train=train)
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    args = (xt, torch.from_numpy(ctx)) if kind in CTX_KINDS else (xt,)
    kw = {}
    if kind == "afn" and train and opts.get("dropout", 0.3) > 0:
        kw["mask"] = torch.from_numpy(nm.afn_mask().astype(np.float64))
    yt = m(*args, **kw)
    tag = f"{kind} {shape} {opts} train={train}"
    close(y, yt.detach().numpy(), f"{tag}: y", atol)
    backward_ok = train or kind not in ("acn", "afn") or opts.get("infer") == "batch"
    if backward_ok:
        g = nm.backward(dy)
        yt.backward(torch.from_numpy(dy.astype(np.float64)))
        close(g["dx"], xt.grad.numpy(), f"{tag}: dx", atol)
        params = dict(m.named_parameters())
        for name, learned, _ in nm.slot_info:
            if learned:
                ref = params[name].grad
                ref = np.zeros(params[name].shape) if ref is None else ref.numpy()
                close(g["d" + name], ref, f"{tag}: d{name}", atol)
    after = nm.state_dict()
    for name, t in m.state_dict().items():
        close(after[name], t.numpy(), f"{tag}: slot {name} after the step", atol)
    return nm, m


def ctx_ids(rng, N, K, absent=True):
    """ids with context K-1 absent (K >= 2) and context 0 given to a single sample where N allows."""
    pool = list(range(1, K - 1)) if absent and K > 2 else list(range(K))
    ids = rng.choice(pool, size=N).astype(np.int32)
    if N >= 3 and K >= 3:
        ids[ids == 0] = 1
        ids[N // 2] = 0
    return ids


CHOSEN = [(5, 7, 3, 5), (6, 5, 1, 1), (9, 6), (4, 3, 1, 7), (7, 1, 2, 3)]


def opts_for(kind, C, affine):
    o = {}
    if kind in ("bn", "ln", "in", "gn", "cn", "mn", "bcn", "ubn"):
        o["affine"] = affine
    if kind == "gn":
        o["groups"] = [g for g in range(1, C + 1) if C % g == 0][-1 if C < 4 else 1]
    if kind in CTX_KINDS:
        o["contexts"] = 4
    if kind == "cn":
        o["priors"] = [0.1, 0.2, 0.3, 0.4]
    if kind in ("acn", "mn"):
        o["components"] = 2 if C % 2 else 3
    if kind == "afn":
        o["dropout"] = 0.0
    return o


KINDS = ["bn", "ln", "in", "gn", "cbn", "cn", "cnx", "acn", "mn", "bcn", "ubn", "afn"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("affine", [1, 0])
def test_chosen_shapes(device, kind, affine):
    if not affine and kind not in ("bn", "ln", "in", "gn", "cn", "mn", "bcn", "ubn"):
        pytest.skip("no affine option")
    rng = np.random.default_rng(hash((kind, affine)) & 0xFFFF)
    for shape in CHOSEN:
        opts = opts_for(kind, shape[1], affine)
        ctx = ctx_ids(rng, shape[0], 4) if kind in CTX_KINDS else None
        nm, m = run_case(device, kind, shape, opts, rng, ctx, train=True)
        # then inference with the updated buffers
        x = rng.standard_normal(shape).astype(np.float32)
        m.eval()
        y = nm.forward(x, ctx, train=False)
        xt = torch.from_numpy(x.astype(np.float64))
        yt = m(xt, torch.from_numpy(ctx)) if kind in CTX_KINDS else m(xt)
        close(y, yt.detach().numpy(), f"{kind} {shape} {opts} eval: y")


@pytest.mark.parametrize("kind", KINDS)
def test_random_shapes(device, kind):
    rng = np.random.default_rng(1000 + KINDS.index(kind))
    for _ in range(4):
        if rng.random() < 0.3:
            shape = (int(rng.integers(2, 10)), int(rng.integers(1, 12)))
        else:
            shape = tuple(int(v) for v in (rng.integers(2, 7), rng.integers(1, 10), rng.integers(1, 6),
                                           rng.integers(1, 6)))
        affine = int(rng.integers(0, 2))
        opts = opts_for(kind, shape[1], affine)
        ctx = ctx_ids(rng, shape[0], 4, absent=bool(rng.integers(0, 2))) if kind in CTX_KINDS else None
        run_case(device, kind, shape, opts, rng, ctx, train=bool(rng.integers(0, 2)) or kind in ("acn", "afn"))


@pytest.mark.parametrize("kind,opts", [
    ("acn", {"components": 3, "infer": "batch"}), ("acn", {"components": 2, "infer": "learned"}),
    ("mn", {"components": 2, "infer": "batch"}), ("bn", {"infer": "batch"}),
    ("cn", {"contexts": 3, "prior_scale": 0}), ("cnx", {"contexts": 3, "embedder": 1}),
    ("ubn", {"threshold": -1.0}), ("ubn", {"threshold": -1.0, "batch_stats_above": 1}),
    ("afn", {"dropout": 0.3}), ("afn", {"dropout": 0.0, "hidden_std": 3, "hidden_rescale": 2}),
    ("bcn", {"eps": 1e-3, "momentum": 0.3}),
])
def test_options(device, kind, opts):
    rng = np.random.default_rng(7)
    for shape in [(6, 5, 3, 3), (8, 7)]:
        ctx = ctx_ids(rng, shape[0], opts.get("contexts", 1)) if kind in CTX_KINDS else None
        for train in (True, False):
            run_case(device, kind, shape, opts, rng, ctx, train=train)


@pytest.mark.parametrize("kind", ["bn", "ln", "gn", "cbn", "cn", "bcn", "ubn", "mn", "afn"])
def test_large_mean(device, kind):
    """Rows with mean 300 and unit spread: a looser bound (see the module docstring)."""
    rng = np.random.default_rng(11)
    shape = (8, 6, 3, 3)
    opts = opts_for(kind, 6, 1)
    if kind == "mn":
        opts["components"] = 1
    ctx = ctx_ids(rng, 8, 4) if kind in CTX_KINDS else None
    run_case(device, kind, shape, opts, rng, ctx, train=True, mean=300.0, atol=3e-3)
