#!/usr/bin/env bash
# Build the libFuzzer targets for the file parsers (datasets, safetensors, TrueType fonts) with clang (ASan + UBSan)
# and run each for a bounded time on its seed corpus in tests/fuzz/corpus/<target>/ (read-only: new
# inputs go to a temporary folder, so the repository's corpus only changes when someone adds seeds on
# purpose).
#   tests/fuzz/build-and-run.sh [SECONDS]      default 60 seconds per target
# Needs: clang and libclang-rt-14-dev (scripts/install-deps).
set -euo pipefail
secs=${1:-60}
case "$secs" in ''|*[!0-9]*) echo "build-and-run.sh: SECONDS must be a whole number, got '$secs'" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC_FUZZ:-clang}
command -v "$cc" >/dev/null || { echo "build-and-run.sh: $cc not found (install clang libclang-rt-14-dev: scripts/install-deps)" >&2; exit 1; }
out=$(mktemp -d /tmp/vkn-fuzz-XXXXXX)
trap 'rm -rf "$out"' EXIT
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/include" -I"$root/src" -I/usr/include/stb)
srcs=("$root/src/core/status.c" "$root/src/core/paths.c" "$root"/src/data/*.c "$root"/src/io/*.c)
status=0
for t in idx mnist_json safetensors font; do
  echo "fuzz: building $t"
  "$cc" "${flags[@]}" "${srcs[@]}" "$root/tests/fuzz/fuzz_$t.c" -lz -lcjson -lm -o "$out/fuzz_$t"
  mkdir -p "$out/corpus_$t"
  dict=(); [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  echo "fuzz: running $t for ${secs}s"
  if ! (cd "$out" && ./"fuzz_$t" "${dict[@]}" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "corpus_$t" "$root/tests/fuzz/corpus/$t" 2>"$out/$t.log"); then
    tail -60 "$out/$t.log" >&2
    crash=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -1 || true)
    if [ -n "$crash" ]; then
      mkdir -p "$root/runs/fuzz" && cp "$crash" "$root/runs/fuzz/"
      echo "fuzz: $t FAILED; reproducer saved as runs/fuzz/$(basename "$crash")" >&2
    else
      echo "fuzz: $t FAILED" >&2
    fi
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$out/$t.log" | tail -2 | sed "s/^/fuzz: $t: /"
  fi
done
exit $status
