"""safetensors files (vknorm's checkpoints) to and from a dict of NumPy arrays, through vknorm's own
validated reader and atomic writer (src/io/safetensors.c)."""
import os

import numpy as np

from ._core import arg_error, check
from ._ffi import ffi, lib

_TO_NP = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
          "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "C64": np.complex64,
          "F64": np.float64, "I64": np.int64, "U64": np.uint64}
_CODE = {name: getattr(lib, "VKN_IO_" + name) for name in _TO_NP}
_FROM_CODE = {v: k for k, v in _CODE.items()}
_FROM_NP = {np.dtype(v): k for k, v in _TO_NP.items()}


def load(path, with_metadata=False):
    """{name: array} of every tensor in the file (dtype and shape as stored), and with
    with_metadata=True also the metadata dict ("format", "model", "step", ...)."""
    f = ffi.new("vkn_io_safetensors **")
    check(lib.vkn_io_safetensors_open(os.fsencode(path), f), "load")
    try:
        out = {}
        for i in range(lib.vkn_io_safetensors_count(f[0])):
            info = lib.vkn_io_safetensors_at(f[0], i)
            name = ffi.string(info.name).decode()
            code = int(info.dtype)
            if code not in _FROM_CODE:
                raise arg_error(f"load {path}: tensor {name!r} has a dtype NumPy lacks (BF16/F8)")
            shape = tuple(info.shape[j] for j in range(info.ndim))
            a = np.empty(shape, dtype=_TO_NP[_FROM_CODE[code]])
            check(lib.vkn_io_safetensors_read(f[0], info.name, info.dtype, info.ndim, info.shape,
                                              ffi.from_buffer(a) if a.size else ffi.NULL), "load")
            out[name] = a
        meta = {}
        k, v = ffi.new("const char **"), ffi.new("const char **")
        for i in range(lib.vkn_io_safetensors_meta_count(f[0])):
            lib.vkn_io_safetensors_meta_at(f[0], i, k, v)
            meta[ffi.string(k[0]).decode()] = ffi.string(v[0]).decode()
    finally:
        lib.vkn_io_safetensors_close(f[0])
    return (out, meta) if with_metadata else out


def save(path, tensors, metadata=None):
    """Write {name: array} (any NumPy dtype safetensors has; arrays are made C-contiguous) and string
    metadata, atomically (a temporary file renamed over path)."""
    b = ffi.new("vkn_io_st_builder **")
    check(lib.vkn_io_safetensors_builder_create(b), "save")
    keep = []
    try:
        for name, a in tensors.items():
            a = np.asarray(a)
            if not a.flags.c_contiguous:   # (np.ascontiguousarray would also turn a scalar into [1])
                a = np.ascontiguousarray(a)
            if a.dtype not in _FROM_NP:
                raise arg_error(f"save {path}: tensor {name!r} has dtype {a.dtype}, which safetensors lacks")
            shape = ffi.new("int64_t[]", list(a.shape) or [1])
            keep += [a, shape]
            check(lib.vkn_io_safetensors_add(b[0], str(name).encode(), _CODE[_FROM_NP[a.dtype]], a.ndim, shape,
                                             ffi.from_buffer(a) if a.size else ffi.NULL), f"save {name}")
        for k, v in (metadata or {}).items():
            check(lib.vkn_io_safetensors_add_meta(b[0], str(k).encode(), str(v).encode()), "save metadata")
        check(lib.vkn_io_safetensors_write(b[0], os.fsencode(path)), "save")
    finally:
        lib.vkn_io_safetensors_builder_destroy(b[0])
