#!/usr/bin/env bash
# `pip install ./python` as a user does it, from a configured and built meson build directory:
# libvknorm installed (meson install --destdir into a staging folder, found through its vknorm.pc),
# a venv that sees Debian's numpy/cffi/torch (--system-site-packages; no PyPI: --no-build-isolation
# --no-index), then the installed package's own tests and the examples from outside the source tree.
#   python/tests/check-pip-install.sh BUILD_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: check-pip-install.sh BUILD_DIR}" && pwd)
work=$(mktemp -d /tmp/vkn-pip-XXXXXX)
trap 'rm -rf "$work"' EXIT
meson install -C "$build" --destdir "$work/stage" --quiet >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
pc=$(find "$work/stage" -name vknorm.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$work/stage
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-index "$src/python"
mkdir -p "$work/python" && cp -r "$src/python/tests" "$work/python/tests"
cp -r "$src/python/examples" "$work/python/examples"
cd "$work"
"$work/venv/bin/python" -c "import vknorm, sys; assert vknorm.lib_path.startswith('$work/stage'), vknorm.lib_path; print('installed vknorm', vknorm.version(), 'uses', vknorm.lib_path)"
VKN_PY_INSTALLED=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$work/python/tests/test_abi.py" "$work/python/tests/test_errors.py" \
  "$work/python/tests/test_examples.py"
