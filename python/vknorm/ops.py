"""vknorm's element-wise, reduction, GEMM, convolution and pooling ops on NumPy arrays (float32,
C-contiguous): each call uploads its inputs, records the op, runs it and downloads the result.
For many ops in a row, build a Graph instead (one submit per step)."""
import numpy as np

from ._core import Arena, Error, arg_error, as_input, check, default_device, download, upload
from ._ffi import ffi, lib

_UNARY = {"relu": 0, "leaky_relu": 1, "tanh": 2, "sigmoid": 3, "exp": 4, "log": 5, "scale": 6}
_BINARY = {"add": 0, "sub": 1, "mul": 2, "div": 3}
_REDUCE = {"sum": 0, "mean": 1, "max": 2}
_ACT = {None: 0, "none": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}


class _Runner:
    """A device's scratch arena and command stream for one-off ops."""

    def __init__(self, device):
        ctx = device._live("ops")
        self.device = device
        self.arena = Arena(ctx)
        cm = ffi.new("vkn_cmd **")
        check(lib.vkn_cmd_create(ctx, cm), "ops")
        self.cmd = cm[0]
        device._owned.add(self)

    def _release(self):
        if self.cmd is not None:
            lib.vkn_cmd_destroy(self.cmd)
            self.cmd = None
        self.arena.destroy()

    def run(self, inputs, outputs, record, scratch=0):
        """inputs: arrays; outputs: (shape, dtype) pairs; record(in_tensors, out_tensors) returns a status.
        scratch > 0: a workspace of that many floats, neither uploaded nor downloaded, appended to the
        input tensors."""
        self.device._live("ops")
        lib.vkn_arena_reset(self.arena.ptr)
        tin = []
        for a in inputs:
            t = self.arena.tensor(lib.VKN_I32 if a.dtype == np.int32 else lib.VKN_F32, a.shape or (1,))
            upload(t, a)
            tin.append(t)
        if scratch:
            tin.append(self.arena.tensor(lib.VKN_F32, (int(scratch),)))
        tout = [self.arena.tensor(lib.VKN_I32 if dt == np.int32 else lib.VKN_F32, sh or (1,)) for sh, dt in outputs]
        check(lib.vkn_cmd_begin(self.cmd), "ops")
        try:
            st = record(tin, tout)
        finally:
            end = lib.vkn_cmd_end(self.cmd)
        check(st, "op")
        check(end, "ops")
        check(lib.vkn_cmd_run(self.cmd), "ops")
        return [download(t, sh, dt) for t, (sh, dt) in zip(tout, outputs)]


_runners = {}


def _runner(device):
    device = device if device is not None else default_device()
    r = _runners.get(id(device))
    if r is None or r.device is not device or r.cmd is None:
        r = _runners[id(device)] = _Runner(device)
    return r


def _f32(a, what, ndim=None):
    return as_input(a, what, np.float32, ndim)


def unary(op, x, alpha=0.0, device=None):
    """y = f(x): op relu | leaky_relu (alpha = slope) | tanh | sigmoid | exp | log | scale (alpha * x)."""
    if op not in _UNARY:
        raise arg_error(f"unary: op={op!r} (valid: {', '.join(_UNARY)})")
    _f32(x, "unary: x")
    return _runner(device).run([x], [(x.shape, np.float32)],
                               lambda i, o: lib.vkn_op_unary(_runner(device).cmd, _UNARY[op], alpha, i[0], o[0]))[0]


def binary(op, a, b, device=None):
    """y = a (op) b with NumPy broadcasting; op add | sub | mul | div."""
    if op not in _BINARY:
        raise arg_error(f"binary: op={op!r} (valid: {', '.join(_BINARY)})")
    _f32(a, "binary: a")
    _f32(b, "binary: b")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise Error("VKN_ERR_SHAPE", f"binary: shapes {a.shape} and {b.shape} do not broadcast",
                    "tensor shapes do not fit the operation") from None
    r = _runner(device)
    return r.run([a, b], [(shape, np.float32)], lambda i, o: lib.vkn_op_binary(r.cmd, _BINARY[op], i[0], i[1], o[0]))[0]


def reduce(op, x, axes, device=None):
    """sum | mean | max of x over the given axes (the kept axes remain, squeezed)."""
    if op not in _REDUCE:
        raise arg_error(f"reduce: op={op!r} (valid: {', '.join(_REDUCE)})")
    _f32(x, "reduce: x")
    axes = [axes] if isinstance(axes, int) else list(axes)
    if any(not -x.ndim <= a < x.ndim for a in axes):
        raise arg_error(f"reduce: axes {axes} for rank {x.ndim}")
    mask = sum(1 << (a % x.ndim) for a in set(axes))
    shape = tuple(d for i, d in enumerate(x.shape) if not mask >> i & 1)
    r = _runner(device)
    return r.run([x], [(shape, np.float32)], lambda i, o: lib.vkn_op_reduce(r.cmd, _REDUCE[op], i[0], mask, o[0]))[0]


def gemm(a, b, trans_a=False, trans_b=False, bias=None, act=None, act_alpha=0.0, alpha=1.0, device=None):
    """act(alpha op(A) op(B) + bias): A, B 2-D (or 3-D batches), bias [N] per column."""
    _f32(a, "gemm: a", (2, 3))
    _f32(b, "gemm: b", (2, 3))
    if act not in _ACT:
        raise arg_error(f"gemm: act={act!r} (valid: relu, leaky_relu, tanh, sigmoid)")
    M = a.shape[-1] if trans_a else a.shape[-2]
    N = b.shape[-2] if trans_b else b.shape[-1]
    shape = a.shape[:-2] + (M, N)
    ins = [a, b] + ([_f32(bias, "gemm: bias", (1,))] if bias is not None else [])
    r = _runner(device)

    def rec(i, o):
        opts = ffi.new("vkn_gemm_opts *", {"trans_a": int(trans_a), "trans_b": int(trans_b), "alpha": alpha,
                                           "act": _ACT[act], "act_alpha": act_alpha})
        if bias is not None:
            opts.bias_kind, opts.bias = lib.VKN_BIAS_COL, i[2]
        return lib.vkn_op_gemm(r.cmd, i[0], i[1], o[0], opts)
    return r.run(ins, [(shape, np.float32)], rec)[0]


def _win(k, stride, pad):
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = (stride, stride) if isinstance(stride, int) else tuple(stride)
    p = (pad, pad) if isinstance(pad, int) else tuple(pad)
    return ffi.new("vkn_window2d *", {"kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "ph": p[0], "pw": p[1]})


def _out_hw(win, H, W, what):
    ho, wo = ffi.new("int *"), ffi.new("int *")
    if not lib.vkn_window2d_out(win, H, W, ho, wo):
        raise Error("VKN_ERR_SHAPE", f"{what}: the window does not fit a {H}x{W} input",
                    "tensor shapes do not fit the operation")
    return ho[0], wo[0]


def conv2d(x, w, bias=None, stride=1, padding=0, device=None):
    """PyTorch's conv2d: x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout]."""
    _f32(x, "conv2d: x", (4,))
    _f32(w, "conv2d: w", (4,))
    N, Cin, H, W = x.shape
    if w.shape[1] != Cin:
        raise Error("VKN_ERR_SHAPE", f"conv2d: w {w.shape} for x {x.shape}", "tensor shapes do not fit the operation")
    win = _win(w.shape[2:], stride, padding)
    Ho, Wo = _out_hw(win, H, W, "conv2d")
    ws = max(1, lib.vkn_conv2d_workspace_size(N, Cin, H, W, w.shape[0], win))
    ins = [x, w] + ([_f32(bias, "conv2d: bias", (1,))] if bias is not None else [])
    r = _runner(device)
    return r.run(ins, [((N, w.shape[0], Ho, Wo), np.float32)],
                 lambda i, o: lib.vkn_op_conv2d(r.cmd, i[0], i[1], i[2] if bias is not None else ffi.NULL, win,
                                                o[0], i[-1]), scratch=ws)[0]


def conv_transpose2d(x, w, bias=None, stride=1, padding=0, device=None):
    """PyTorch's conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout, kh, kw], bias [Cout]."""
    _f32(x, "conv_transpose2d: x", (4,))
    _f32(w, "conv_transpose2d: w", (4,))
    N, Cin, H, W = x.shape
    if w.shape[0] != Cin:
        raise Error("VKN_ERR_SHAPE", f"conv_transpose2d: w {w.shape} for x {x.shape}",
                    "tensor shapes do not fit the operation")
    win = _win(w.shape[2:], stride, padding)
    Ho = (H - 1) * win.sh - 2 * win.ph + win.kh
    Wo = (W - 1) * win.sw - 2 * win.pw + win.kw
    if Ho < 1 or Wo < 1:
        raise Error("VKN_ERR_SHAPE", "conv_transpose2d: no output", "tensor shapes do not fit the operation")
    ws = max(1, lib.vkn_conv_transpose2d_workspace_size(N, Cin, H, W, w.shape[1], win))
    ins = [x, w] + ([_f32(bias, "conv_transpose2d: bias", (1,))] if bias is not None else [])
    r = _runner(device)
    return r.run(ins, [((N, w.shape[1], Ho, Wo), np.float32)],
                 lambda i, o: lib.vkn_op_conv_transpose2d(r.cmd, i[0], i[1], i[2] if bias is not None else ffi.NULL,
                                                          win, o[0], i[-1]), scratch=ws)[0]


def maxpool2d(x, k, stride=None, padding=0, device=None):
    _f32(x, "maxpool2d: x", (4,))
    win = _win(k, k if stride is None else stride, padding)
    Ho, Wo = _out_hw(win, x.shape[2], x.shape[3], "maxpool2d")
    r = _runner(device)
    return r.run([x], [((x.shape[0], x.shape[1], Ho, Wo), np.float32)],
                 lambda i, o: lib.vkn_op_maxpool2d(r.cmd, i[0], win, o[0], ffi.NULL))[0]


def avgpool2d(x, k, stride=None, padding=0, device=None):
    """Average pooling, divisor kh*kw (PyTorch's count_include_pad=True)."""
    _f32(x, "avgpool2d: x", (4,))
    win = _win(k, k if stride is None else stride, padding)
    Ho, Wo = _out_hw(win, x.shape[2], x.shape[3], "avgpool2d")
    r = _runner(device)
    return r.run([x], [((x.shape[0], x.shape[1], Ho, Wo), np.float32)],
                 lambda i, o: lib.vkn_op_avgpool2d(r.cmd, i[0], win, o[0]))[0]
