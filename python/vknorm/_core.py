"""Errors, devices and device tensors: the parts every layer shares."""
import weakref

import numpy as np

from ._ffi import ffi, lib


class Error(Exception):
    """A vknorm failure. `status` is the vkn_status name ("VKN_ERR_SHAPE", ...), `detail` vknorm's
    specific message (vkn_status_detail), str() both with the short meaning."""

    def __init__(self, status, detail, meaning=""):
        self.status = status
        self.detail = detail
        self.meaning = meaning
        super().__init__(f"{detail} [{status}: {meaning}]" if meaning else detail)


_STATUS_NAMES = {}


def _status_name(code):
    if not _STATUS_NAMES:
        for name in dir(lib):
            if name.startswith("VKN_ERR_") or name == "VKN_OK":
                _STATUS_NAMES[getattr(lib, name)] = name
    return _STATUS_NAMES.get(code, f"vkn_status {code}")


def check(code, what=""):
    """Raise Error for a vkn_status other than VKN_OK, with vknorm's detail text."""
    if code == lib.VKN_OK:
        return
    detail = ffi.string(lib.vkn_status_detail()).decode(errors="replace")
    meaning = ffi.string(lib.vkn_status_string(code)).decode(errors="replace")
    lib.vkn_status_clear()
    if not detail:
        detail = what or meaning
    elif what:
        detail = f"{what}: {detail}"
    raise Error(_status_name(code), detail, meaning)


def arg_error(msg):
    return Error("VKN_ERR_ARG", msg, "a bad argument or option value")


def version():
    """The version of the libvknorm the package runs with."""
    return ffi.string(lib.vkn_version()).decode()


def list_devices():
    """Every Vulkan device as (index, line) pairs, the lines of `vkn-bench --list-devices`."""
    buf = ffi.new("char[]", 1 << 16)
    n = lib.vkn_context_list_devices(buf, len(buf))
    if n < 0:
        check(-n if n != 0 else lib.VKN_ERR_NO_DEVICE, "list devices")
    text = ffi.string(buf).decode(errors="replace")
    return [line for line in text.splitlines() if line.strip()]


_PATHS = {"auto": 0, None: 0, "cpu": 1, "gpu": 2}


class Device:
    """A vknorm context on one Vulkan device.

    device: an index or a name substring (as VKN_DEVICE); None: VKN_DEVICE, else automatic.
    path: "cpu" | "gpu" kernel family, None/"auto": VKN_PATH, else by device type.
    validate: None follows VKN_VALIDATE; quiet: None follows VKN_QUIET (default quiet here).
    Use as a context manager or call close(); layers made on a closed device raise Error."""

    def __init__(self, device=None, path=None, validate=None, quiet=True):
        if path not in _PATHS:
            raise arg_error(f"Device: path={path!r} (valid: 'cpu', 'gpu', 'auto')")
        self._keep = []
        o = ffi.new("vkn_context_opts *")
        if device is not None:
            dev = ffi.new("char[]", str(device).encode())
            self._keep.append(dev)
            o.device = dev
        o.validate = -1 if validate is None else int(bool(validate))
        o.quiet = -1 if quiet is None else int(bool(quiet))
        o.path = _PATHS[path]
        out = ffi.new("vkn_context **")
        check(lib.vkn_context_create(o, out), "Device")
        self._ctx = out[0]
        self._owned = weakref.WeakSet()

    # -- life --
    def close(self):
        """Free every layer made on this device, then the device. Idempotent."""
        if self._ctx is None:
            return
        for obj in list(self._owned):
            obj._release()
        lib.vkn_context_destroy(self._ctx)
        self._ctx = None

    @property
    def closed(self):
        return self._ctx is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _live(self, who):
        if self._ctx is None:
            raise Error("VKN_ERR_ARG", f"{who}: the device is closed", "a bad argument or option value")
        return self._ctx

    # -- facts --
    @property
    def line(self):
        """The device line every vknorm program prints at start."""
        return ffi.string(lib.vkn_context_describe(self._live("Device.line"))).decode(errors="replace")

    @property
    def info(self):
        """The capabilities as a dict (name, driver, type, subgroup_size, ..., path)."""
        i = lib.vkn_context_info(self._live("Device.info"))
        d = {}
        for f, _ in ffi.typeof("vkn_device_info").fields:
            v = getattr(i, f)
            if f in ("name", "driver", "type"):
                v = ffi.string(v).decode(errors="replace")
            elif f == "max_workgroup_count":
                v = tuple(v)
            elif f == "path":
                v = {0: "auto", 1: "cpu", 2: "gpu"}[int(v)]
            d[f] = v
        return d

    @property
    def validation_messages(self):
        """Validation-layer messages counted since the device opened (0 when validation is off)."""
        return int(lib.vkn_context_validation_count(self._live("Device")))

    def __repr__(self):
        return "Device(closed)" if self.closed else f"Device({self.info['name']!r}, path={self.info['path']})"


_default = None


def default_device():
    """The device used where none is given: opened at first use (VKN_DEVICE / VKN_PATH apply)."""
    global _default
    if _default is None or _default.closed:
        _default = Device()
    return _default


def as_input(a, what, dtype=np.float32, ndim=None):
    """Check a NumPy input without copying it: the dtype, C-contiguity and rank are the caller's
    job (a silent astype/ascontiguousarray would be a hidden copy)."""
    if not isinstance(a, np.ndarray):
        raise arg_error(f"{what}: expected a numpy.ndarray of {np.dtype(dtype).name}, got {type(a).__name__}")
    if a.dtype != dtype:
        raise arg_error(f"{what}: dtype {a.dtype} (expected {np.dtype(dtype).name}; convert with "
                        f".astype(np.{np.dtype(dtype).name}))")
    if not a.flags.c_contiguous:
        raise arg_error(f"{what}: the array is not C-contiguous (shape {a.shape}, strides {a.strides}); "
                        "pass np.ascontiguousarray(a)")
    if ndim is not None and a.ndim not in ndim:
        raise arg_error(f"{what}: rank {a.ndim} (shape {a.shape}); expected rank {' or '.join(map(str, ndim))}")
    return a


class Arena:
    """A device arena that is reset before each call's inputs and outputs are carved from it."""

    def __init__(self, ctx):
        out = ffi.new("vkn_arena **")
        check(lib.vkn_arena_create(ctx, 0, out), "arena")
        self.ptr = out[0]

    def tensor(self, dtype, shape):
        t = ffi.new("vkn_tensor *")
        sh = ffi.new("int64_t[]", [int(s) for s in shape])
        check(lib.vkn_tensor_alloc(self.ptr, dtype, len(shape), sh, t), "tensor")
        return t

    def destroy(self):
        if self.ptr is not None:
            lib.vkn_arena_destroy(self.ptr)
            self.ptr = None


def upload(t, a):
    check(lib.vkn_tensor_upload(t, ffi.from_buffer(a)), "upload")


def download(t, shape, dtype=np.float32, out=None):
    if out is None:
        out = np.empty(shape, dtype=dtype)
    check(lib.vkn_tensor_download(t, ffi.from_buffer(out)), "download")
    return out
