"""The static training graph from Python: build a network from layers, attach a loss and an optimizer,
compile (memory planned, the whole step recorded once), then step(batch) replays the recorded step
with one submit. Python only writes the batch into the graph's host-mapped inputs and sets the
per-step scalars, so a step costs what the C step costs (docs/PERF.md)."""
import os

import numpy as np

from ._core import Error, arg_error, check, default_device, download, upload
from ._ffi import ffi, lib
from .norm import make_opts

_INIT = {"zeros": 0, "ones": 1, "const": 2, "normal": 3, "he": 4, "xavier": 5, "uniform": 6}
_ACT = {"relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}
_LOSS = {"bce_logits": 0, "hinge_real": 1, "hinge_fake": 2, "hinge_gen": 3, "mse": 4}
STEP_T, STEP_RNG, STEP_LR0 = 0, 1, 4


class Params:
    """A parameter store (vkn_params): every graph built over it shares its parameters, gradients,
    optimizer state and buffers; save/load write them all as one vknorm checkpoint."""

    def __init__(self, device=None, seed=1):
        self.device = device if device is not None else default_device()
        out = ffi.new("vkn_params **")
        check(lib.vkn_params_create(self.device._live("Params"), int(seed), out), "Params")
        self._p = out[0]
        self._graphs = []
        self.device._owned.add(self)

    def _release(self):
        for g in self._graphs:
            g._release()
        if self._p is not None:
            lib.vkn_params_destroy(self._p)
            self._p = None

    def close(self):
        self._release()

    def _live(self):
        self.device._live("Params")
        if self._p is None:
            raise arg_error("Params: closed")
        return self._p

    def names(self):
        p = self._live()
        return [ffi.string(lib.vkn_params_name(p, i)).decode() for i in range(lib.vkn_params_count(p))]

    def _index(self, name):
        i = lib.vkn_params_find(self._live(), name.encode())
        if i < 0:
            raise arg_error(f"Params: no tensor {name!r}")
        return i

    def __getitem__(self, name):
        t = lib.vkn_params_value(self._p, self._index(name))
        return download(t, tuple(t.shape[j] for j in range(t.ndim)))

    def __setitem__(self, name, value):
        t = lib.vkn_params_value(self._p, self._index(name))
        value = np.asarray(value, dtype=np.float32)
        if value.size != t.numel:
            raise Error("VKN_ERR_SHAPE", f"Params[{name!r}]: {value.shape}, the tensor has {t.numel} values",
                        "tensor shapes do not fit the operation")
        upload(t, np.ascontiguousarray(value))

    def grad(self, name):
        t = lib.vkn_params_grad(self._p, self._index(name))
        if t == ffi.NULL:
            raise arg_error(f"Params: {name!r} is a buffer (no gradient)")
        return download(t, tuple(t.shape[j] for j in range(t.ndim)))

    def numel(self, learned_only=True):
        return int(lib.vkn_params_numel(self._live(), int(learned_only)))

    def save(self, path, model="python", step=0):
        check(lib.vkn_params_save(self._live(), os.fsencode(path), model.encode(), int(step), ffi.NULL), "save")

    def load(self, path, model=None):
        s = ffi.new("int64_t *")
        check(lib.vkn_params_load(self._live(), os.fsencode(path), model.encode() if model else ffi.NULL, s), "load")
        return int(s[0])


class Val:
    """A value of a graph (its id, shape and dtype)."""
    __slots__ = ("g", "id", "shape")

    def __init__(self, g, vid):
        if vid < 0:
            g._fail()
        self.g, self.id = g, vid
        self.shape = tuple(int(lib.vkn_graph_dim(g._g, vid, a)) for a in range(lib.vkn_graph_ndim(g._g, vid)))

    def __repr__(self):
        return f"Val({self.id}, shape={self.shape})"


class Graph:
    """One training (or inference) graph over a Params store.

        g = vknorm.Graph(params, "train", train=True)
        x = g.input("images", (64, 1, 28, 28)); y = g.input("labels", (64,), np.int32)
        h = g.relu(g.norm("norm1", g.conv2d("conv1", x, 16, 5), "bn"))
        loss = g.softmax_ce(g.linear("fc", g.flatten(g.maxpool2d(h, 2)), 10), y)
        g.backward(loss); g.adam(lr=1e-3); g.compile()
        g.step({"images": xb, "labels": yb}); g.read(loss)

    train: norm layers use batch statistics (and update running ones); trainable: gradients of the
    parameters this graph touches; init: "he" | "normal" (init_scale) | "xavier" ...; seed: the RNG
    of noise, labels and dropout drawn on the device."""

    def __init__(self, params, name="graph", train=True, trainable=True, init="he", init_scale=0.0, seed=1):
        if init not in _INIT:
            raise arg_error(f"Graph: init={init!r} (valid: {', '.join(_INIT)})")
        self.params = params
        out = ffi.new("vkn_graph **")
        check(lib.vkn_graph_create(params._live(), name.encode(), out), "Graph")
        self._g = out[0]
        params._graphs.append(self)
        self._nn = ffi.new("vkn_nn *", {"g": self._g, "params": params._p, "train": int(train),
                                        "trainable": int(trainable), "init": _INIT[init],
                                        "init_scale": init_scale, "seed": int(seed)})
        self._keep = []
        self.inputs = {}
        self._lrs = []
        self.compiled = False
        self.t = 0

    # -- life --
    def _release(self):
        if self._g is not None:
            lib.vkn_graph_destroy(self._g)
            self._g = None

    def close(self):
        self._release()

    def _live(self):
        self.params._live()
        if self._g is None:
            raise arg_error("Graph: closed")
        return self._g

    def _fail(self):
        st = lib.vkn_graph_status(self._g)
        check(st if st != lib.VKN_OK else lib.VKN_ERR_ARG, "Graph")

    def _v(self, vid):
        return Val(self, vid)

    def _building(self, what):
        self._live()
        if self.compiled:
            raise arg_error(f"Graph.{what}: the graph is compiled; build another graph")

    # -- inputs --
    def input(self, name, shape, dtype=np.float32):
        """A value the host writes before each step (float32 or int32)."""
        self._building("input")
        dt = {np.dtype(np.float32): lib.VKN_F32, np.dtype(np.int32): lib.VKN_I32}.get(np.dtype(dtype))
        if dt is None:
            raise arg_error(f"Graph.input {name!r}: dtype {np.dtype(dtype)} (float32 or int32)")
        sh = ffi.new("int64_t[]", [int(s) for s in shape])
        v = self._v(lib.vkn_graph_input(self._g, name.encode(), dt, len(shape), sh))
        self.inputs[name] = (v, np.dtype(dtype))
        return v

    # -- layers (vkn_nn_*; parameters named "<name>.weight", "<name>.bias", norm slots "<name>.<slot>") --
    def linear(self, name, x, out, bias=True):
        self._building("linear")
        return self._v(lib.vkn_nn_linear(self._nn, name.encode(), x.id, int(out), int(bias)))

    def conv2d(self, name, x, out, k, stride=1, pad=0, bias=True):
        self._building("conv2d")
        return self._v(lib.vkn_nn_conv2d(self._nn, name.encode(), x.id, int(out), int(k), int(stride), int(pad),
                                         int(bias)))

    def conv_transpose2d(self, name, x, out, k, stride=1, pad=0, bias=True):
        self._building("conv_transpose2d")
        return self._v(lib.vkn_nn_conv_transpose2d(self._nn, name.encode(), x.id, int(out), int(k), int(stride),
                                                   int(pad), int(bias)))

    def act(self, kind, x, alpha=0.0):
        self._building("act")
        if kind not in _ACT:
            raise arg_error(f"Graph.act: {kind!r} (valid: {', '.join(_ACT)})")
        return self._v(lib.vkn_nn_act(self._nn, _ACT[kind], alpha, x.id))

    def relu(self, x):
        return self.act("relu", x)

    def maxpool2d(self, x, k, stride=None):
        self._building("maxpool2d")
        return self._v(lib.vkn_nn_maxpool2d(self._nn, x.id, int(k), int(k if stride is None else stride)))

    def avgpool2d(self, x, k, stride=None):
        self._building("avgpool2d")
        return self._v(lib.vkn_nn_avgpool2d(self._nn, x.id, int(k), int(k if stride is None else stride)))

    def flatten(self, x):
        self._building("flatten")
        return self._v(lib.vkn_nn_flatten(self._nn, x.id))

    def one_hot(self, ids, k):
        self._building("one_hot")
        return self._v(lib.vkn_nn_one_hot(self._nn, ids.id, int(k)))

    def concat(self, a, b):
        self._building("concat")
        return self._v(lib.vkn_nn_concat(self._nn, a.id, b.id))

    def embedding(self, name, ids, num, dim):
        self._building("embedding")
        return self._v(lib.vkn_nn_embedding(self._nn, name.encode(), ids.id, int(num), int(dim)))

    def dropout(self, x, p, stream=0):
        self._building("dropout")
        return self._v(lib.vkn_nn_dropout(self._nn, x.id, float(p), int(stream)))

    def norm(self, name, x, kind, ctx=None, **opts):
        """A normalization layer of any method, vknorm.Norm's options; ctx: an int32 Val for cbn, cn, cnx."""
        self._building("norm")
        o, keep = make_opts(kind, x.shape[1], **opts)
        self._keep.append(keep)
        return self._v(lib.vkn_nn_norm(self._nn, name.encode(), x.id, ctx.id if ctx is not None else -1, o))

    def binary(self, op, a, b):
        self._building("binary")
        ops = {"add": 0, "sub": 1, "mul": 2, "div": 3}
        return self._v(lib.vkn_graph_binary(self._g, ops[op], a.id, b.id))

    # -- losses and outputs --
    def softmax_ce(self, logits, labels, smoothing=0.0):
        self._building("softmax_ce")
        return self._v(lib.vkn_nn_softmax_ce(self._nn, logits.id, labels.id, float(smoothing)))

    def loss(self, kind, x, target=0.0):
        """bce_logits | hinge_real | hinge_fake | hinge_gen | mse against a constant target."""
        self._building("loss")
        if kind not in _LOSS:
            raise arg_error(f"Graph.loss: {kind!r} (valid: {', '.join(_LOSS)})")
        return self._v(lib.vkn_nn_loss(self._nn, _LOSS[kind], x.id, float(target)))

    def argmax(self, x):
        self._building("argmax")
        return self._v(lib.vkn_nn_argmax(self._nn, x.id))

    def keep(self, v):
        """Keep v's value after the step (to read it); losses and outputs you read must be kept."""
        self._building("keep")
        lib.vkn_graph_keep(self._g, v.id)
        return v

    # -- training --
    def backward(self, loss):
        self._building("backward")
        lib.vkn_graph_keep(self._g, loss.id)
        check(lib.vkn_graph_backward(self._g, loss.id), "Graph.backward")

    def _optim(self, kind, lr, prefix, **kw):
        self._building("optimizer")
        if len(self._lrs) >= 8:
            raise arg_error("Graph: at most 8 optimizers")
        o = ffi.new("vkn_optim_opts *", {"kind": kind, "lr_slot": STEP_LR0 + len(self._lrs), **kw})
        check(lib.vkn_nn_optimizer(self._nn, o, prefix.encode() if prefix else ffi.NULL), "Graph optimizer")
        self._lrs.append(float(lr))

    def adam(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, prefix=None, decoupled=False):
        """Adam (decoupled=True: AdamW) on the parameters named prefix* (None: all) this graph trains."""
        self._optim(lib.VKN_OPTIM_ADAMW if decoupled else lib.VKN_OPTIM_ADAM, lr, prefix, beta1=beta1, beta2=beta2,
                    eps=eps, weight_decay=weight_decay)

    def sgd(self, lr=1e-2, momentum=0.0, nesterov=False, weight_decay=0.0, prefix=None):
        self._optim(lib.VKN_OPTIM_SGD, lr, prefix, momentum=momentum, nesterov=int(nesterov), weight_decay=weight_decay)

    def set_lr(self, lr, i=0):
        self._lrs[i] = float(lr)

    def compile(self):
        """Plan memory and record the step once."""
        self._building("compile")
        check(lib.vkn_graph_compile(self._g), "Graph.compile")
        self.compiled = True
        return self

    # -- running --
    def input_array(self, name):
        """The input's host-mapped memory as a NumPy array (write a batch in place: no copy at all)."""
        if not self.compiled:
            raise arg_error("Graph.input_array: compile first")
        v, dt = self.inputs[name]
        n = int(np.prod(v.shape))
        buf = ffi.buffer(lib.vkn_graph_input_ptr(self._live(), v.id), n * dt.itemsize)
        return np.frombuffer(buf, dtype=dt).reshape(v.shape)

    def step(self, batch=None, t=None):
        """Replay the recorded step once: batch {input name: array} is copied into the mapped inputs
        (the one upload), then the step scalars (Adam's t = t or the next step number, the learning
        rates, the RNG counter) and one submit, waited for."""
        g = self._live()
        if not self.compiled:
            raise arg_error("Graph.step: compile first")
        for name, a in (batch or {}).items():
            if name not in self.inputs:
                raise arg_error(f"Graph.step: no input {name!r} (inputs: {', '.join(self.inputs)})")
            v, dt = self.inputs[name]
            if not isinstance(a, np.ndarray) or a.dtype != dt or a.shape != v.shape or not a.flags.c_contiguous:
                raise arg_error(f"Graph.step: input {name!r} must be a C-contiguous {dt.name} array of shape "
                                f"{v.shape}, got " + (f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__))
            ffi.memmove(lib.vkn_graph_input_ptr(g, v.id), ffi.from_buffer(a), a.nbytes)
        self.t = self.t + 1 if t is None else int(t)
        lib.vkn_graph_set_step(g, STEP_T, float(self.t))
        for i, lr in enumerate(self._lrs):
            lib.vkn_graph_set_step(g, STEP_LR0 + i, lr)
        check(lib.vkn_graph_run(g), "Graph.step")

    def read(self, v):
        """A kept value after the step, as an array of its shape (int32 values stay int32)."""
        g = self._live()
        t = lib.vkn_graph_tensor(g, v.id)
        dt = np.int32 if t != ffi.NULL and t.dtype == lib.VKN_I32 else np.float32
        out = np.empty(v.shape or (1,), dt)
        check(lib.vkn_graph_read(g, v.id, ffi.cast("float *", ffi.from_buffer(out))), "Graph.read")
        return out.reshape(v.shape) if v.shape else out

    def report(self):
        r = lib.vkn_graph_get_report(self._live())
        return {f: int(getattr(r, f)) for f, _ in ffi.typeof("vkn_graph_report").fields}


class FashionMNIST:
    """vknorm's Fashion-MNIST loader (the one the C examples and apps use): batches of [B, 1, 28, 28]
    float32 in [-1, 1] and int32 labels, in the same order as C for the same seed."""

    def __init__(self, split="train", batch=64, mode="shuffle", seed=1, data_dir=None):
        self._ds = ffi.new("vkn_dataset *")
        check(lib.vkn_data_fashion_load(self._ds, os.fsencode(data_dir) if data_dir else ffi.NULL,
                                        {"train": 0, "test": 1}[split]), "FashionMNIST")
        modes = {"sequential": 0, "shuffle": 1, "balanced": 2}
        o = ffi.new("vkn_loader_opts *", {"batch": int(batch), "mode": modes[mode], "seed": int(seed)})
        ld = ffi.new("vkn_data_loader **")
        check(lib.vkn_data_loader_create(ld, self._ds, o), "FashionMNIST loader")
        self._ld = ld[0]
        self.batch, self.n = int(batch), int(self._ds.n)

    def fill(self, images, labels=None):
        """Write the next batch into arrays (e.g. Graph.input_array views: no copy)."""
        check(lib.vkn_data_batch_fill(self._ld, ffi.from_buffer("float[]", images),
                                      ffi.from_buffer("int32_t[]", labels) if labels is not None else ffi.NULL,
                                      ffi.NULL), "FashionMNIST.fill")

    def next(self):
        x = np.empty((self.batch, 1, 28, 28), np.float32)
        y = np.empty(self.batch, np.int32)
        self.fill(x, y)
        return x, y

    def close(self):
        if self._ld is not None:
            lib.vkn_data_loader_destroy(self._ld)
            lib.vkn_data_free(self._ds)
            self._ld = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
