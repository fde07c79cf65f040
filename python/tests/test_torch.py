"""vknorm.torch against vknorm's C reference (vkn/norm_ref.h, float64 both: 1e-9), its state_dict
against the slots, and the classic methods against PyTorch's own functions."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vknorm
import vknorm.torch as vt
from vknorm.norm import reference

from test_norm import CTX_KINDS, KINDS, ctx_ids, opts_for

CASES = [(6, 5, 3, 3), (9, 7), (5, 3, 1, 1), (4, 6, 2, 5)]


@pytest.fixture(scope="module")
def dev():
    d = vknorm.Device(quiet=True)
    yield d
    d.close()


def twin_vs_reference(dev, kind, shape, opts, rng, train, ctx=None, mask=None):
    nm = vknorm.Norm(kind, shape[1], device=dev, seed=int(rng.integers(1 << 30)), **opts)
    state = {k: v.astype(np.float64) for k, v in nm.state_dict().items()}
    for name, learned, sh in nm.slot_info:
        if learned and kind != "afn":
            state[name] = state[name] + 0.3 * rng.standard_normal(sh)
    if "running_var" in state:
        state["running_var"] = 0.5 + rng.random(state["running_var"].shape)
    m = vt.make(kind, shape[1], **opts).double()
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    m.train(train)
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    bwd = train or kind not in ("acn", "afn") or opts.get("infer") == "batch"
    y0, g0, after0 = reference(nm, x, ctx, train, dy if bwd else None, state, afn_mask=mask)
    xt = torch.from_numpy(x).requires_grad_()
    kw = {"mask": torch.from_numpy(mask)} if mask is not None else {}
    yt = m(xt, torch.from_numpy(ctx), **kw) if kind in CTX_KINDS else m(xt, **kw)
    tag = f"{kind} {shape} {opts} train={train}"
    np.testing.assert_allclose(yt.detach().numpy(), y0, rtol=1e-9, atol=1e-9, err_msg=tag + " y")
    if bwd:
        yt.backward(torch.from_numpy(dy))
        np.testing.assert_allclose(xt.grad.numpy(), g0["dx"], rtol=1e-9, atol=1e-9, err_msg=tag + " dx")
        params = dict(m.named_parameters())
        for k, v in g0.items():
            if k != "dx":
                p = params[k[1:]]
                got = p.grad.numpy() if p.grad is not None else np.zeros(p.shape)
                np.testing.assert_allclose(got, v, rtol=1e-9, atol=1e-9, err_msg=f"{tag} {k}")
    sd = m.state_dict()
    for k, v in after0.items():
        np.testing.assert_allclose(sd[k].numpy(), v, rtol=1e-12, atol=1e-12, err_msg=f"{tag} slot {k}")


@pytest.mark.parametrize("kind", KINDS)
def test_against_c_reference(dev, kind):
    rng = np.random.default_rng(KINDS.index(kind))
    for shape in CASES:
        for affine in (1, 0):
            opts = opts_for(kind, shape[1], affine)
            ctx = ctx_ids(rng, shape[0], 4) if kind in CTX_KINDS else None
            for train in (True, False):
                twin_vs_reference(dev, kind, shape, opts, rng, train, ctx)


@pytest.mark.parametrize("kind,opts", [
    ("acn", {"infer": "batch"}), ("acn", {"infer": "learned"}), ("mn", {"infer": "batch", "components": 2}),
    ("cn", {"contexts": 3, "prior_scale": 0}), ("cnx", {"contexts": 3, "embedder": 1}),
    ("ubn", {"threshold": -1.0}), ("ubn", {"threshold": -1.0, "batch_stats_above": 1}),
    ("afn", {"hidden_std": 3, "hidden_rescale": 2, "dropout": 0.0}), ("bcn", {"infer": "batch"}),
])
def test_options_against_c_reference(dev, kind, opts):
    rng = np.random.default_rng(3)
    for shape in [(6, 5, 2, 3), (8, 6)]:
        ctx = ctx_ids(rng, shape[0], opts.get("contexts", 1)) if kind in CTX_KINDS else None
        for train in (True, False):
            twin_vs_reference(dev, kind, shape, opts, rng, train, ctx)


def test_afn_dropout_mask(dev):
    rng = np.random.default_rng(5)
    C = 6
    mask = (rng.random(2 * C) > 0.3).astype(np.float64)
    twin_vs_reference(dev, "afn", (5, C, 2, 2), {"dropout": 0.3}, rng, True, mask=mask)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_is_the_slots(dev, kind):
    for C in (1, 6, 9):
        for affine in (1, 0):
            opts = opts_for(kind, C, affine)
            nm = vknorm.Norm(kind, C, device=dev, **opts)
            sd = vt.make(kind, C, **opts).state_dict()
            assert list(sd) == nm.slot_names
            for name, _, sh in nm.slot_info:
                assert tuple(sd[name].shape) == sh, (kind, name)
            learned = {n for n, l, _ in nm.slot_info if l}
            assert {n for n, _ in vt.make(kind, C, **opts).named_parameters()} == learned


def test_classic_methods_match_pytorch():
    torch.manual_seed(0)
    x = torch.randn(6, 8, 3, 5, dtype=torch.float64)
    bn = vt.BN(8).double().train()
    ref = F.batch_norm(x, torch.zeros(8, dtype=torch.float64), torch.ones(8, dtype=torch.float64), training=True,
                       momentum=0.1, eps=1e-5)
    torch.testing.assert_close(bn(x), ref)
    torch.testing.assert_close(vt.GN(8, groups=4).double()(x), F.group_norm(x, 4, eps=1e-5))
    torch.testing.assert_close(vt.LN(8).double()(x), F.group_norm(x, 1, eps=1e-5))
    torch.testing.assert_close(vt.IN(8).double()(x), F.instance_norm(x, eps=1e-5))
    run = torch.nn.BatchNorm2d(8).double()
    run(x)
    torch.testing.assert_close(bn.running_var, run.running_var)
    torch.testing.assert_close(bn.running_mean, run.running_mean)


def test_gradcheck_new_methods():
    """Autograd of each module against finite differences (float64)."""
    torch.manual_seed(1)
    # not mn: its posteriors and weights are EM outputs held constant (as in vknorm), not the exact
    # derivative of its forward
    for kind in ("cn", "cnx", "acn", "bcn", "afn", "cbn", "ubn"):
        o = {"contexts": 3} if kind in CTX_KINDS else {}
        if kind == "afn":
            o["dropout"] = 0.0
        m = vt.make(kind, 5, **o).double().train()
        x = torch.randn(6, 5, 2, 2, dtype=torch.float64, requires_grad=True)
        ctx = torch.tensor([0, 1, 1, 2, 0, 2])

        def f(x):
            mm = copy.deepcopy(m)             # each call from the same buffers (running updates)
            return mm(x, ctx) if kind in CTX_KINDS else mm(x)
        assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5), kind
