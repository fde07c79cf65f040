"""vknorm.torch.cgan_generator reproduces vkn-cgan's samples (vkn_cgan_generate, the call the app's
grids come from) within 1e-4 for every generator normalization, from checkpoints the library wrote
after training steps and from one the vkn-cgan app wrote; save_cgan_checkpoint writes a generator
back into a checkpoint the library loads (vkn_cgan_load) and vkn-cgan --resume continues."""
import os
import subprocess

import numpy as np
import pytest
import torch

import vknorm
import vknorm.torch as vt
from vknorm import io
from vknorm.cgan import CGAN

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = 20


@pytest.fixture(scope="module")
def dev():
    d = vknorm.Device(validate=True)
    yield d
    assert d.validation_messages == 0
    d.close()


def noise(seed=0, n=SAMPLES):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 64)).astype(np.float32), (np.arange(n) % 10).astype(np.int32)


def torch_samples(gen, z, y):
    with torch.no_grad():
        return gen(torch.from_numpy(z).double(), torch.from_numpy(y)).numpy()


@pytest.mark.parametrize("norm", ["cn", "bn", "cbn", "cnx", "acn", "mn", "bcn", "ubn", "afn", "gn", "ln", "in", "none"])
def test_generator_reproduces_device_samples(dev, tmp_path, norm):
    m = CGAN("cgan-small", norm, "bn", batch=8, samples=SAMPLES, device=dev)
    rng = np.random.default_rng(1)
    for _ in range(2):   # a few steps so that weights and running statistics are not the initial ones
        m.step(np.tanh(rng.standard_normal((8, 1, 28, 28))).astype(np.float32),
               rng.integers(0, 10, 8).astype(np.int32))
    path = str(tmp_path / "ckpt.safetensors")
    m.save(path)
    gen = vt.cgan_generator(path, torch.float64)
    z, y = noise()
    dev_img = m.generate(z, y)
    np.testing.assert_allclose(torch_samples(gen, z, y), dev_img, atol=1e-4, rtol=0)

    # back: an edited generator into a copy of the checkpoint, which the library loads and samples
    with torch.no_grad():
        gen.fc.bias.add_(0.05)
        gen.convT2.weight.mul_(1.5)
    out = str(tmp_path / "edited.safetensors")
    vt.save_cgan_checkpoint(gen, out, path)
    m2 = CGAN("cgan-small", norm, "bn", batch=8, samples=SAMPLES, device=dev)
    assert m2.load(out) == 2
    np.testing.assert_allclose(torch_samples(gen, z, y), m2.generate(z, y), atol=1e-4, rtol=0)
    assert not np.allclose(m2.generate(z, y), dev_img, atol=1e-3)
    m.close()
    m2.close()


def test_app_checkpoint(dev, tmp_path):
    """A checkpoint the vkn-cgan app wrote (a short headless run) and its samples."""
    build = os.path.abspath(os.environ.get("VKN_BUILD_DIR", os.path.join(root, "build")))
    app = os.path.join(build, "apps", "cgan", "vkn-cgan")
    if not os.path.exists(app):
        pytest.skip("no vkn-cgan in the build directory")
    out = tmp_path / "run"
    r = subprocess.run([app, "--headless", "--steps", "3", "--batch", "16", "--ckpt-every", "3", "--grid-every", "3",
                        "--eval-every", "100000", "--eval-samples", "100", "--real-samples", "100",
                        "--clf-steps", "5", "--norm-g", "cn", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = str(out / "ckpt.safetensors")
    t, meta = io.load(ckpt, with_metadata=True)
    assert meta["model"] == "cgan-small" and meta["norm_g/norm_d"] == "cn/bn"
    gen = vt.cgan_generator(ckpt, torch.float64)
    m = CGAN("cgan-small", "cn", "bn", samples=100, device=dev)
    assert m.load(ckpt) == 3
    z, y = noise(3, 100)
    np.testing.assert_allclose(torch_samples(gen, z, y), m.generate(z, y), atol=1e-4, rtol=0)
    m.close()

    # a generator edited in PyTorch, written back over the run's checkpoint: vkn-cgan --resume takes it
    with torch.no_grad():
        gen.fc.bias.add_(0.01)
    vt.save_cgan_checkpoint(gen, ckpt, ckpt)
    m = CGAN("cgan-small", "cn", "bn", samples=100, device=dev)
    assert m.load(ckpt) == 3
    np.testing.assert_allclose(torch_samples(gen, z, y), m.generate(z, y), atol=1e-4, rtol=0)
    m.close()
    r = subprocess.run([app, "--headless", "--resume", "--steps", "4", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "at step 3" in r.stdout + r.stderr
    assert io.load(ckpt, with_metadata=True)[1]["step"] == "4"


def test_safetensors_round_trip(tmp_path):
    p = str(tmp_path / "t.safetensors")
    d = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([3, -1], np.int32),
         "s": np.array(2.5, np.float64), "h": np.ones((2, 2), np.float16), "e": np.zeros((0, 3), np.float32)}
    io.save(p, d, {"format": "x", "step": 3})
    back, meta = io.load(p, with_metadata=True)
    assert meta == {"format": "x", "step": "3"}
    assert set(back) == set(d)
    for k in d:
        assert back[k].dtype == d[k].dtype and back[k].shape == d[k].shape
        np.testing.assert_array_equal(back[k], d[k])
    with open(p, "r+b") as f:   # a corrupt header: vknorm's reader says so
        f.seek(8)
        f.write(b"{{{{")
    with pytest.raises(vknorm.Error) as e:
        io.load(p)
    assert e.value.status == "VKN_ERR_FORMAT"
    with pytest.raises(vknorm.Error):
        io.load(str(tmp_path / "missing.safetensors"))
    with pytest.raises(vknorm.Error, match="object"):
        io.save(p, {"o": np.array([object()])})
