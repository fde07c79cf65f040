"""vkn-cgan's model from Python: the device model (vkn_cgan: train steps, generate, save, load) for
tests and tools. vknorm.torch.cgan_generator is its generator in PyTorch."""
import os

import numpy as np

from ._core import arg_error, as_input, check, default_device
from ._ffi import ffi, lib


class CGAN:
    """vkn_cgan on a Device: model "cgan-small" | "cgan-base", norm_g / norm_d method names,
    samples = the generate batch. step(real, labels) trains one D+G step on a real batch
    ([batch, C, 28, 28] in [-1, 1], int32 labels)."""

    def __init__(self, model="cgan-small", norm_g="cn", norm_d="bn", batch=64, samples=100, seed=1, device=None):
        if model not in ("cgan-small", "cgan-base"):
            raise arg_error(f"CGAN: model={model!r} (valid: cgan-small, cgan-base)")
        self.device = device if device is not None else default_device()
        c = ffi.new("vkn_cgan_config *", lib.vkn_cgan_defaults())
        c.base = int(model == "cgan-base")
        k = ffi.new("vkn_norm_kind *")
        check(lib.vkn_norm_kind_from_name(norm_g.encode(), k), "CGAN norm_g")
        c.norm_g = k[0]
        check(lib.vkn_norm_kind_from_name(norm_d.encode(), k), "CGAN norm_d")
        c.norm_d = k[0]
        c.batch, c.samples, c.seed = int(batch), int(samples), int(seed)
        self.config = c
        out = ffi.new("vkn_cgan **")
        check(lib.vkn_cgan_create(self.device._live("CGAN"), c, out), "CGAN")
        self._m = out[0]
        self.device._owned.add(self)
        self._step = 0

    def _release(self):
        if self._m is not None:
            lib.vkn_cgan_destroy(self._m)
            self._m = None

    def close(self):
        self._release()

    def _live(self):
        self.device._live("CGAN")
        if self._m is None:
            raise arg_error("CGAN: closed")

    def step(self, real, labels):
        self._live()
        c = self.config
        as_input(real, "CGAN.step: real", np.float32)
        as_input(labels, "CGAN.step: labels", np.int32)
        if real.shape != (c.batch, c.channels, 28, 28) or labels.shape != (c.batch,):
            raise arg_error(f"CGAN.step: real {real.shape}, labels {labels.shape}; expected "
                            f"({c.batch}, {c.channels}, 28, 28) and ({c.batch},)")
        ffi.memmove(lib.vkn_cgan_real_images(self._m), ffi.from_buffer(real), real.nbytes)
        ffi.memmove(lib.vkn_cgan_real_labels(self._m), ffi.from_buffer(labels), labels.nbytes)
        st = ffi.new("vkn_cgan_stats *")
        check(lib.vkn_cgan_step(self._m, self._step, st), "CGAN.step")
        self._step += 1
        return {"loss_d": st.loss_d, "loss_g": st.loss_g, "d_real": st.d_real, "d_fake": st.d_fake}

    def generate(self, z, labels):
        """Images [samples, C, 28, 28] for z float32 [samples, zdim], labels int32 [samples]
        (inference: running statistics), as vkn-cgan draws its grids."""
        self._live()
        c = self.config
        as_input(z, "CGAN.generate: z", np.float32)
        as_input(labels, "CGAN.generate: labels", np.int32)
        if z.shape != (c.samples, c.zdim) or labels.shape != (c.samples,):
            raise arg_error(f"CGAN.generate: z {z.shape}, labels {labels.shape}; expected ({c.samples}, {c.zdim}) "
                            f"and ({c.samples},)")
        out = np.empty((c.samples, c.channels, 28, 28), np.float32)
        check(lib.vkn_cgan_generate(self._m, ffi.from_buffer("float[]", z), ffi.from_buffer("int32_t[]", labels),
                                    ffi.from_buffer("float[]", out)),
              "CGAN.generate")
        return out

    def save(self, path, step=None):
        self._live()
        check(lib.vkn_cgan_save(self._m, os.fsencode(path), self._step if step is None else int(step)), "CGAN.save")

    def load(self, path):
        """Load a checkpoint (vkn-cgan's own check: model, every tensor, dtypes, shapes); returns its step."""
        self._live()
        s = ffi.new("int64_t *")
        check(lib.vkn_cgan_load(self._m, os.fsencode(path), s), "CGAN.load")
        self._step = int(s[0])
        return self._step
