"""Every normalization method as a layer object on the device (vkn_norm)."""
import numpy as np

from ._core import Arena, Error, arg_error, as_input, check, default_device, download, upload
from ._ffi import ffi, lib

KINDS = ("none", "bn", "ln", "in", "gn", "cbn", "cn", "cnx", "acn", "mn", "bcn", "ubn", "afn")
_INFER = {"running": 0, "batch": 1, "learned": 2}


def make_opts(kind, channels, affine=None, eps=None, momentum=None, infer=None, groups=None,
              contexts=None, priors=None, prior_scale=None, embedder=None, components=None,
              var_floor=None, threshold=None, batch_stats_above=None, dropout=None, hidden_std=None,
              hidden_rescale=None):
    """A checked vkn_norm_opts (and the priors array it points to). The names are vkn-op norm's
    options (--prior-scale is prior_scale, ...); None keeps the method's default."""
    k = ffi.new("vkn_norm_kind *")
    check(lib.vkn_norm_kind_from_name(str(kind).encode(), k), "norm kind")
    if not isinstance(channels, (int, np.integer)) or channels < 1:
        raise arg_error(f"norm({kind}): channels={channels!r} must be an integer >= 1")
    o = ffi.new("vkn_norm_opts *", lib.vkn_norm_opts_default(k[0], int(channels)))
    keep = None
    if infer is not None:
        if infer not in _INFER:
            raise arg_error(f"norm({kind}): infer={infer!r} (valid: running, batch, learned)")
        o.infer = _INFER[infer]
    for field, v in (("affine", affine), ("groups", groups), ("contexts", contexts),
                     ("cn_prior_scale", prior_scale), ("cnx_embedder", embedder),
                     ("components", components), ("ubn_batch_stats_above", batch_stats_above),
                     ("afn_hidden_std", hidden_std), ("afn_hidden_rescale", hidden_rescale)):
        if v is not None:
            if isinstance(v, bool):
                v = int(v)
            if not isinstance(v, (int, np.integer)):
                raise arg_error(f"norm({kind}): {field}={v!r} must be an integer")
            setattr(o, field, int(v))
    for field, v in (("eps", eps), ("momentum", momentum), ("mn_var_floor", var_floor),
                     ("ubn_threshold", threshold), ("afn_dropout", dropout)):
        if v is not None:
            setattr(o, field, float(v))
    if priors is not None:
        p = np.ascontiguousarray(priors, dtype=np.float64).ravel()
        if p.size != o.contexts:
            raise arg_error(f"norm({kind}): {p.size} priors for contexts={o.contexts}")
        keep = ffi.new("double[]", p.tolist())
        o.cn_priors = keep
    check(lib.vkn_norm_opts_check(o), f"norm({kind})")
    return o, keep


def slot_table(o):
    """[(name, learned, shape)] of the method's slots, in their fixed order."""
    s = ffi.new("vkn_norm_slot[24]")
    n = ffi.new("int *")
    check(lib.vkn_norm_slots(o, s, n), "norm slots")
    return [(ffi.string(s[i].name).decode(), bool(s[i].learned),
             (s[i].shape[0],) if s[i].rank == 1 else (s[i].shape[0], s[i].shape[1])) for i in range(n[0])]


class Norm:
    """One normalization layer on a Device.

        nm = vknorm.Norm("cn", channels=8, contexts=3)
        y = nm.forward(x, ctx)            # x float32 [N, C] or [N, C, H, W] (C-contiguous), ctx int32 [N]
        g = nm.backward(dy)               # {"dx": ..., "dgamma": ..., "dbeta": ...}
        nm["gamma"] = np.ones((3, 8), np.float32); nm.state_dict()

    Options (same names and meaning as `vkn-op norm`): affine, eps, momentum, infer
    ("running" | "batch" | "learned"), groups, contexts, priors, prior_scale, embedder, components,
    var_floor, threshold, batch_stats_above, dropout, hidden_std, hidden_rescale, seed."""

    def __init__(self, kind, channels, device=None, seed=1, **opts):
        self.device = device if device is not None else default_device()
        ctx = self.device._live("Norm")
        self._o, self._keep = make_opts(kind, channels, **opts)
        self.kind = ffi.string(lib.vkn_norm_kind_name(self._o.kind)).decode()
        self.channels = int(channels)
        self._needs_ctx = bool(lib.vkn_norm_needs_ctx(self._o.kind))
        self.slot_info = slot_table(self._o)
        self._index = {name: i for i, (name, _, _) in enumerate(self.slot_info)}
        self._nm = None
        self._arena = Arena(ctx)      # slots, gradients, workspaces
        self._io = None
        out = ffi.new("vkn_norm **")
        try:
            check(lib.vkn_norm_create(ctx, self._arena.ptr, self._o, int(seed), out), f"Norm({self.kind})")
            self._nm = out[0]
            self._io = Arena(ctx)     # each call's inputs and outputs, reset per forward
            cm = ffi.new("vkn_cmd **")
            check(lib.vkn_cmd_create(ctx, cm), "Norm")
            self._cmd = cm[0]
        except Error:
            self._release()
            raise
        self._last = None
        self.device._owned.add(self)

    # -- life --
    def _release(self):
        if getattr(self, "_cmd", None) is not None:
            lib.vkn_cmd_destroy(self._cmd)
            self._cmd = None
        if self._nm is not None:
            lib.vkn_norm_destroy(self._nm)
            self._nm = None
        for a in (self._io, self._arena):
            if a is not None:
                a.destroy()
        self._last = None

    def close(self):
        self._release()

    def __del__(self):
        try:
            if not self.device.closed:
                self._release()
        except Exception:
            pass

    def _live(self, who):
        self.device._live(f"Norm({self.kind}).{who}")
        if self._nm is None:
            raise arg_error(f"Norm({self.kind}).{who}: the layer is closed")

    @property
    def needs_ctx(self):
        return self._needs_ctx

    @property
    def eps(self):
        return float(lib.vkn_norm_eps(self._o))

    @property
    def options(self):
        """The resolved vkn_norm_opts fields as a dict."""
        d = {f: getattr(self._o, f) for f, _ in ffi.typeof("vkn_norm_opts").fields if f != "cn_priors"}
        d["kind"] = self.kind
        return d

    # -- compute --
    def _run(self, record):
        check(lib.vkn_cmd_begin(self._cmd), "record")
        try:
            record()
        finally:
            st = lib.vkn_cmd_end(self._cmd)
        check(st, "record")
        check(lib.vkn_cmd_run(self._cmd), "run")

    def forward(self, x, ctx=None, train=True, out=None):
        """y = norm(x). x: float32 [N, C, ...] (C = channels), C-contiguous. ctx: int32 [N] context or
        class ids for cbn, cn, cnx (ignored otherwise). train=True: batch statistics, buffers
        updated; False: the `infer` option's statistics. out: a float32 array of x's shape to
        download y into (reused across calls: no new allocation)."""
        self._live("forward")
        as_input(x, f"Norm({self.kind}).forward: x", np.float32, ndim=(2, 3, 4))
        if out is not None:
            as_input(out, f"Norm({self.kind}).forward: out", np.float32)
            if out.shape != x.shape:
                raise Error("VKN_ERR_SHAPE", f"Norm({self.kind}).forward: out has shape {out.shape}, x {x.shape}",
                            "tensor shapes do not fit the operation")
        N = x.shape[0]
        if x.shape[1] != self.channels:
            raise Error("VKN_ERR_SHAPE", f"Norm({self.kind}).forward: x has shape {x.shape}, dimension 1 "
                        f"must be channels={self.channels}", "tensor shapes do not fit the operation")
        if x.size == 0:
            raise Error("VKN_ERR_SHAPE", f"Norm({self.kind}).forward: x of shape {x.shape} is empty",
                        "tensor shapes do not fit the operation")
        if self.needs_ctx:
            if ctx is None:
                raise arg_error(f"Norm({self.kind}).forward: ctx (int32 [{N}] ids) is required")
            as_input(ctx, f"Norm({self.kind}).forward: ctx", np.int32, ndim=(1,))
            if ctx.shape[0] != N:
                raise Error("VKN_ERR_SHAPE", f"Norm({self.kind}).forward: ctx has {ctx.shape[0]} ids for "
                            f"N={N} samples", "tensor shapes do not fit the operation")
            K = self._o.contexts
            if ctx.min() < 0 or ctx.max() >= K:      # (the sample is searched for only on failure)
                bad = np.nonzero((ctx < 0) | (ctx >= K))[0]
                i = int(bad[0])
                raise arg_error(f"Norm({self.kind}).forward: ctx[{i}]={int(ctx[i])} is outside 0..{K - 1} "
                                f"(contexts={K})")
        lib.vkn_arena_reset(self._io.ptr)
        self._last = None
        tx = self._io.tensor(lib.VKN_F32, x.shape)
        ty = self._io.tensor(lib.VKN_F32, x.shape)
        tc = ffi.NULL
        if self.needs_ctx:
            tc = self._io.tensor(lib.VKN_I32, (N,))
            upload(tc, ctx)
        upload(tx, x)
        self._run(lambda: check(lib.vkn_norm_forward(self._cmd, self._nm, tx, tc, ty, int(bool(train))),
                                f"Norm({self.kind}).forward"))
        if self.needs_ctx:
            check(lib.vkn_norm_check_ids(self._nm), f"Norm({self.kind}).forward")
        self._last = (tx, tc, x.shape)
        return download(ty, x.shape, out=out)

    __call__ = forward

    def backward(self, dy):
        """Gradients of the last forward: {"dx": dL/dx, "d<slot>": ... for every learned slot}."""
        self._live("backward")
        if self._last is None:
            raise arg_error(f"Norm({self.kind}).backward: no forward to differentiate (call forward first)")
        tx, tc, shape = self._last
        as_input(dy, f"Norm({self.kind}).backward: dy", np.float32)
        if dy.shape != shape:
            raise Error("VKN_ERR_SHAPE", f"Norm({self.kind}).backward: dy has shape {dy.shape}, the "
                        f"forward's x {shape}", "tensor shapes do not fit the operation")
        tdy = self._io.tensor(lib.VKN_F32, shape)
        tdx = self._io.tensor(lib.VKN_F32, shape)
        upload(tdy, dy)
        self._run(lambda: check(lib.vkn_norm_backward(self._cmd, self._nm, tx, tc, tdy, tdx),
                                f"Norm({self.kind}).backward"))
        out = {"dx": download(tdx, shape)}
        for i, (name, learned, sh) in enumerate(self.slot_info):
            if learned:
                out["d" + name] = download(lib.vkn_norm_grad_tensor(self._nm, i), sh)
        return out

    def afn_mask(self):
        """afn: the 2*C dropout keep flags (0/1) the last training forward drew on the device (first
        the mask on mu_B, then the one on sigma_B), for vknorm.torch.AFN.forward(mask=...)."""
        self._live("afn_mask")
        t = lib.vkn_norm_debug_tensor(self._nm, b"afn_mask")
        if t == ffi.NULL:
            raise arg_error(f"Norm({self.kind}).afn_mask: no afn forward has run")
        return download(t, (int(t.numel),))

    # -- slots --
    @property
    def slot_names(self):
        return [s[0] for s in self.slot_info]

    def _slot(self, name, who):
        self._live(who)
        if name not in self._index:
            raise arg_error(f"Norm({self.kind}): no slot {name!r} (slots: {', '.join(self.slot_names)})")
        i = self._index[name]
        return i, self.slot_info[i]

    def __getitem__(self, name):
        i, (_, _, sh) = self._slot(name, "slot")
        return download(lib.vkn_norm_slot_tensor(self._nm, i), sh)

    def __setitem__(self, name, value):
        i, (_, _, sh) = self._slot(name, "slot")
        as_input(value, f"Norm({self.kind})[{name!r}]", np.float32)
        if value.shape != sh and value.shape != (int(np.prod(sh)),):
            raise Error("VKN_ERR_SHAPE", f"Norm({self.kind})[{name!r}]: shape {value.shape}, the slot is "
                        f"{sh}", "tensor shapes do not fit the operation")
        upload(lib.vkn_norm_slot_tensor(self._nm, i), value)

    def state_dict(self):
        """Every slot (parameters and buffers) by name, as float32 arrays of the slot's shape."""
        return {name: self[name] for name in self.slot_names}

    def load_state_dict(self, d, strict=True):
        """Write slots from a dict of arrays (any float dtype is converted; shapes must match)."""
        if strict:
            missing = [n for n in self.slot_names if n not in d]
            extra = [n for n in d if n not in self._index]
            if missing or extra:
                raise arg_error(f"Norm({self.kind}).load_state_dict: missing {missing}, unexpected {extra}")
        for name, v in d.items():
            if name in self._index:
                self[name] = np.ascontiguousarray(np.asarray(v, dtype=np.float32))

    def __repr__(self):
        return f"Norm({self.kind!r}, channels={self.channels})"


def reference(nm, x, ctx=None, train=True, dy=None, state=None, afn_mask=None):
    """vknorm's plain-C double-precision reference (vkn/norm_ref.h) of layer nm's method on the host:
    returns (y, grads, slots_after) with grads as Norm.backward's ({} without dy). The slots start from
    `state` (a dict like nm.state_dict(); default: the layer's current slots)."""
    o = nm._o
    state = nm.state_dict() if state is None else state
    x64 = np.ascontiguousarray(x, dtype=np.float64)
    N, P = x64.shape[0], int(np.prod(x64.shape[2:])) if x64.ndim > 2 else 1
    pp = ffi.new("double ***")
    check(lib.vkn_norm_ref_slots_alloc(o, pp), "reference")
    slots = pp[0]
    cache = ffi.new("vkn_norm_ref_cache *")
    try:
        for i, (name, _, sh) in enumerate(nm.slot_info):
            v = np.ascontiguousarray(state[name], dtype=np.float64).ravel()
            ffi.memmove(slots[i], ffi.from_buffer(v), v.nbytes)
        c32 = ffi.NULL
        if nm.needs_ctx:
            ids = np.ascontiguousarray(ctx, dtype=np.int32)
            c32 = ffi.from_buffer("int32_t[]", ids)
        mask = ffi.NULL
        if afn_mask is not None:
            mk = np.ascontiguousarray(afn_mask, dtype=np.float64)
            mask = ffi.from_buffer("double[]", mk)
        y = np.empty_like(x64)
        check(lib.vkn_norm_ref_forward(o, N, P, ffi.from_buffer("double[]", x64), c32, mask, slots,
                                       int(bool(train)), ffi.from_buffer("double[]", y), cache), "reference")
        grads = {}
        if dy is not None:
            g64 = np.ascontiguousarray(dy, dtype=np.float64)
            dx = np.empty_like(x64)
            ds = ffi.new("double *[24]")
            keep = []
            for i, (name, learned, sh) in enumerate(nm.slot_info):
                if learned:
                    a = np.zeros(sh)
                    keep.append((name, a))
                    ds[i] = ffi.from_buffer("double[]", a)
            check(lib.vkn_norm_ref_backward(o, cache, ffi.from_buffer("double[]", x64), c32, slots,
                                            ffi.from_buffer("double[]", g64), ffi.from_buffer("double[]", dx),
                                            ds), "reference")
            grads = {"dx": dx, **{"d" + n: a for n, a in keep}}
        after = {}
        for i, (name, _, sh) in enumerate(nm.slot_info):
            a = np.empty(sh)
            ffi.memmove(ffi.from_buffer(a), slots[i], a.nbytes)
            after[name] = a
        return y, grads, after
    finally:
        lib.vkn_norm_ref_cache_free(cache)
        lib.vkn_norm_ref_slots_free(o, slots)
