#!/usr/bin/env bash
# Run the three examples (docs/EXAMPLES.md) from a fresh folder outside the source tree and check what
# they print: (1) CN forward/backward matches the reference, (2) a short Fashion-MNIST training reaches
# a test accuracy far above chance, (3) a checkpoint written by vkn-cgan becomes a PNG of samples.
#   run-examples.sh EXAMPLES_DIR VKN_CGAN [TRAIN_STEPS]
# The folder with the example binaries and the vkn-cgan to make a checkpoint with; TRAIN_STEPS (100)
# for example 2, whose test accuracy must exceed 0.6 (chance is 0.1).
set -uo pipefail
ex=$(cd "$1" && pwd) steps=${3:-100}
cgan=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
work=$(mktemp -d /tmp/vkn-examples-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
export VKN_QUIET=${VKN_QUIET:-1}
fail=0
say() { printf '%s\n' "$*"; }

if out=$("$ex/normalize_cn" 2>&1) && grep -q 'matches the reference' <<<"$out"; then
  say "ok: normalize_cn: $(tail -1 <<<"$out")"
else
  say "$out"; say "FAIL: normalize_cn"; fail=1
fi

if out=$("$ex/train_fashion" bn "$steps" 2>&1); then
  acc=$(sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' <<<"$out")
  if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }'; then
    say "ok: train_fashion: $(tail -1 <<<"$out")"
  else
    say "$out"; say "FAIL: train_fashion: test accuracy '${acc}' is not above 0.6"; fail=1
  fi
else
  say "$out"; say "FAIL: train_fashion"; fail=1
fi

if out=$("$cgan" --headless --steps 2 --out "$work/run" 2>&1) && [ -f "$work/run/ckpt.safetensors" ]; then
  if out=$("$ex/cgan_samples" "$work/run/ckpt.safetensors" "$work/samples.png" 0 3 7 2>&1) \
     && [ "$(head -c 8 "$work/samples.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    # IHDR: width and height (big-endian) at bytes 16..23: 8 columns x 3 rows of 28x28 scaled by 2
    dims=$(od -An -tu1 -j16 -N8 "$work/samples.png" | awk '{print $3*256+$4 "x" $7*256+$8}')
    say "ok: cgan_samples: $out; PNG $dims"
  else
    say "$out"; say "FAIL: cgan_samples"; fail=1
  fi
else
  say "$out"; say "FAIL: vkn-cgan --headless --steps 2 wrote no checkpoint"; fail=1
fi
exit $fail
