"""Test setup: the package from this source tree and the library of a build directory, unless
VKN_PY_INSTALLED=1 (then the installed package and whatever library it finds).

    VKN_BUILD_DIR=build /usr/bin/python3 -m pytest python/tests       (default build dir: build)
    VKN_PATH=cpu|gpu  runs the device tests on that kernel family only (default: both)."""
import os
import sys

import pytest

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
if os.environ.get("VKN_PY_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(root, "python"))
    if "VKN_LIB" not in os.environ:
        build = os.path.abspath(os.environ.get("VKN_BUILD_DIR", os.path.join(root, "build")))
        so = os.path.join(build, "src", "libvknorm.so")
        if os.path.exists(so):
            os.environ["VKN_LIB"] = so

import vknorm  # noqa: E402

PATHS = [os.environ["VKN_PATH"]] if os.environ.get("VKN_PATH") in ("cpu", "gpu") else ["cpu", "gpu"]


@pytest.fixture(scope="session", params=PATHS)
def device(request):
    """One validated device per kernel family; no validation message may appear."""
    d = vknorm.Device(path=request.param, validate=True)
    yield d
    msgs = d.validation_messages
    d.close()
    assert msgs == 0, f"{msgs} Vulkan validation messages"


@pytest.fixture(autouse=True)
def _no_validation_messages(request):
    if "device" not in request.fixturenames:
        yield
        return
    d = request.getfixturevalue("device")
    before = d.validation_messages
    yield
    if not d.closed:
        assert d.validation_messages == before, "Vulkan validation messages in this test"
