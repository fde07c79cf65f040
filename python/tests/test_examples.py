"""python/examples run (example 2, the Fashion-MNIST graph, is run by test_graph.py)."""
import os
import subprocess
import sys

import numpy as np

from vknorm.cgan import CGAN

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ex = os.path.join(root, "python", "examples")


def run(*args, cwd=None):
    env = dict(os.environ)
    if os.environ.get("VKN_PY_INSTALLED") != "1":
        env["PYTHONPATH"] = os.path.join(root, "python") + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_normalize_cn_example():
    out = run(os.path.join(ex, "normalize_cn.py"))
    line = [l for l in out.splitlines() if l.startswith("device vs PyTorch")][0]
    assert all(float(v) < 1e-4 for v in line.replace("|", " ").split()[4::2]), line


def test_cgan_samples_example(tmp_path, device):
    m = CGAN("cgan-small", "cbn", "bn", batch=8, samples=10, device=device)
    rng = np.random.default_rng(0)
    m.step(np.tanh(rng.standard_normal((8, 1, 28, 28))).astype(np.float32), rng.integers(0, 10, 8).astype(np.int32))
    ckpt = str(tmp_path / "c.safetensors")
    m.save(ckpt)
    m.close()
    png = tmp_path / "grid.png"
    out = run(os.path.join(ex, "cgan_samples.py"), ckpt, str(png), "4")
    assert "cgan-small, generator norm cbn" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 4 * 28


def test_package_without_torch():
    """vknorm and its device modules import where torch is absent; only vknorm.torch needs it."""
    out = run("-c", "import sys; sys.modules['torch'] = None\n"
              "import vknorm, vknorm.io, vknorm.ops, vknorm.graph, vknorm.cgan, vknorm.norm\n"
              "try:\n    import vknorm.torch\nexcept ImportError:\n    print('no torch: ok')\n")
    assert "no torch: ok" in out
