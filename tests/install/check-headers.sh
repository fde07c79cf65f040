#!/usr/bin/env bash
# The public headers as a contract (issue 15):
#   1. each header in include/vkn compiles alone, as C11 and as C++11, with warnings as errors;
#   2. a C++ program taking the address of every function the headers declare links against the
#      shared library (the declarations have C linkage, and every one is defined and exported) and
#      finds vkn_version() equal to VKN_VERSION_STRING;
#   3. the shared library exports exactly those functions (nm -D --defined-only).
#   check-headers.sh SRC_INCLUDE BUILD_INCLUDE LIBVKNORM_SO EXPORTS_PY
set -euo pipefail
src_inc=$1 build_inc=$2 lib=$3 exports=$4
cc=${CC:-cc} cxx=${CXX:-c++}
tmp=$(mktemp -d /tmp/vkn-headers-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
headers=$( (cd "$src_inc" && ls vkn/*.h; cd "$build_inc" && ls vkn/*.h) | sort -u)
[ -n "$headers" ] || { echo "no headers found under $src_inc/vkn"; exit 1; }
for h in $headers; do
  printf '#include "%s"\n' "$h" >"$tmp/one.c"
  if ! "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$src_inc" -I"$build_inc" "$tmp/one.c"; then
    echo "FAIL: $h does not compile alone as C11"; fail=1
  fi
  cp "$tmp/one.c" "$tmp/one.cpp"
  if ! "$cxx" -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$src_inc" -I"$build_inc" "$tmp/one.cpp"; then
    echo "FAIL: $h does not compile alone as C++11"; fail=1
  fi
done
echo "compiled alone as C11 and C++11: $(echo $headers | wc -w) headers"

files=()
for h in $headers; do
  if [ -f "$src_inc/$h" ]; then files+=("$src_inc/$h"); else files+=("$build_inc/$h"); fi
done
python3 "$exports" list "${files[@]}" | sort -u >"$tmp/declared.txt"
{
  for h in $headers; do printf '#include "%s"\n' "$h"; done
  echo 'typedef void (*any_fn)(void);'
  echo 'static const any_fn all[] = {'
  sed 's/.*/    (any_fn)\&&,/' "$tmp/declared.txt"
  echo '};'
  echo '#include <cstring>'
  echo 'int main() { int n = 0; for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++) n += all[i] != 0;'
  echo '  if (std::strcmp(vkn_version(), VKN_VERSION_STRING) != 0) return 2;  /* the library is the headers version */'
  echo '  return n == (int)(sizeof all / sizeof all[0]) ? 0 : 1; }'
} >"$tmp/all.cpp"
# shellcheck disable=SC2086
if "$cxx" -std=c++11 ${VKN_LINK_FLAGS:-} -I"$src_inc" -I"$build_inc" "$tmp/all.cpp" "$lib" -o "$tmp/all" 2>"$tmp/link.log" \
   && LD_LIBRARY_PATH="$(dirname "$lib")" "$tmp/all"; then
  echo "C++ program linked with every declared function: $(wc -l <"$tmp/declared.txt")"
else
  head -30 "$tmp/link.log"; echo "FAIL: a C++ program using every declared function does not link/run"; fail=1
fi

nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$tmp/exported.txt"
if diff "$tmp/declared.txt" "$tmp/exported.txt" >"$tmp/diff.txt"; then
  echo "exported dynamic symbols: exactly the $(wc -l <"$tmp/exported.txt") declared vkn_* functions"
else
  echo "FAIL: exported symbols differ from the headers' declarations (< declared only, > exported only):"
  head -40 "$tmp/diff.txt"; fail=1
fi
exit $fail
