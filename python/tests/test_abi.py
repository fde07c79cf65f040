"""The cffi declarations (vknorm/_ffi.py) lay out every struct exactly as the C headers do."""
import os
import shutil
import subprocess

import pytest

from vknorm._ffi import STRUCTS, ffi

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_struct_layouts_match_headers(tmp_path):
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "vkn/norm_ref.h"', '#include "vkn/io.h"', '#include "vkn/models.h"', '#include "vkn/data.h"', "int main(void) {"]
    expect = []
    for s in STRUCTS:
        t = ffi.typeof(s)
        lines.append(f'printf("%zu\\n", sizeof({s}));')
        expect.append(ffi.sizeof(t))
        for f, _ in t.fields:
            lines.append(f'printf("%zu\\n", offsetof({s}, {f}));')
            expect.append(ffi.offsetof(t, f))
    lines.append("return 0; }")
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "abi"
    inc = os.path.join(root, "include")
    if os.path.isdir(os.path.join(inc, "vkn")) and os.environ.get("VKN_PY_INSTALLED") != "1":
        cflags = ["-I", inc]
    else:   # the installed headers, as an outside program finds them
        cflags = subprocess.run(["pkg-config", "--cflags", "vknorm"], check=True, capture_output=True,
                                text=True).stdout.split()
    subprocess.run(["cc", "-std=c11", *cflags, str(src), "-o", str(exe)], check=True)
    got = [int(v) for v in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()]
    assert got == expect


def test_enums_match_headers():
    from vknorm._ffi import lib
    assert lib.VKN_NORM_AFN == 12 and lib.VKN_NORM_KIND_COUNT_ == 13
    assert lib.VKN_ERR_MISMATCH == 14
