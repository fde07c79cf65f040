"""Example 3: load a vkn-cgan checkpoint in PyTorch (no Vulkan needed) and sample from it: one row
per class, the same noise in every row, written as a PNG grid.
    python3 cgan_samples.py CHECKPOINT OUT.png [PER_CLASS]
    (a checkpoint: vkn-cgan --headless --steps 300 writes runs/cgan-fashion-gcn-dbn-s1/ckpt.safetensors)"""
import struct
import sys
import zlib

import numpy as np
import torch

import vknorm.torch as vt


def write_png(path, gray):
    """8-bit grayscale PNG from a [H, W] uint8 array (zlib only)."""
    h, w = gray.shape
    raw = b"".join(b"\0" + gray[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(ckpt, out, per_class=8, seed=42):
    gen = vt.cgan_generator(ckpt)                       # eval mode: running statistics, as the app samples
    print(f"{ckpt}: {gen.model}, generator norm {gen.norm}, step {gen.meta.get('step')}")
    torch.manual_seed(seed)
    z = torch.randn(per_class, gen.zdim).repeat(gen.classes, 1)        # the same noise in every row
    labels = torch.arange(gen.classes).repeat_interleave(per_class)
    with torch.no_grad():
        img = gen(z, labels)                            # [classes * per_class, 1, 28, 28] in [-1, 1]
    u8 = ((img[:, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    grid = u8.reshape(gen.classes, per_class, 28, 28).transpose(0, 2, 1, 3).reshape(gen.classes * 28, per_class * 28)
    write_png(out, grid)
    print(f"{out}: {gen.classes} rows (classes) x {per_class} samples")
    return img


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 8)
