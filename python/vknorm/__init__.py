"""vknorm from Python: vknorm's Vulkan kernels on NumPy arrays (docs/PYTHON.md).

    import vknorm
    print(vknorm.list_devices())
    dev = vknorm.Device(path="gpu")
    nm = vknorm.Norm("cn", 8, device=dev, contexts=3)

vknorm.torch (PyTorch modules of every method) is imported on its own, only where torch is present.
"""
from ._core import Device, Error, default_device, list_devices, version
from ._ffi import lib_path
from .norm import KINDS, Norm
from .graph import FashionMNIST, Graph, Params

__all__ = ["Device", "Error", "Norm", "Graph", "Params", "FashionMNIST", "KINDS", "default_device", "list_devices", "version", "lib_path"]
__version__ = "0.1.0"
