#!/usr/bin/env bash
# The C ABI end to end: builds the library (debug, or release with `release`), compiles
# examples/segment.c against the static and the shared library and checks that its CSV equals
# `emunet segment`'s on the sample frame (8-bit and a 16-bit copy), then runs the example and
# tests/errors.c (every error path) and tests/stream.c (submit/poll) under AddressSanitizer with
# LeakSanitizer: 0 errors, 0 leaks.
# Usage: bindings/c/check.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-debug}
flag=$([ "$profile" = release ] && echo --release || true)
# The library and the CLI whose output its example must equal.
cargo build $flag -p emunet-c -p emunet-cli
lib=target/$profile
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import sys, numpy as np
from PIL import Image
work = sys.argv[1]
a = np.asarray(Image.open('tests/data/sample_frame.png'))
def pgm(path, arr, maxval):
    with open(path, 'wb') as f:
        f.write(b'P5\n%d %d\n%d\n' % (arr.shape[1], arr.shape[0], maxval))
        f.write(arr.astype('>u2' if maxval > 255 else 'u1').tobytes())
pgm(f'{work}/f8.pgm', a, 255)
deep = a.astype(np.uint16) * 257
pgm(f'{work}/f16.pgm', deep, 65535)
Image.fromarray(a).save(f'{work}/f8.png')
Image.fromarray(deep).save(f'{work}/f16.png')
PY
"$lib/emunet" segment --out "$work/cli" "$work/f8.png" "$work/f16.png" >/dev/null 2>&1
cflags="-O1 -g -Wall -Wextra -Ibindings/c/include"
static="-L$lib -l:libemunet.a -lpthread -ldl -lm"
shared="-L$lib -lemunet -Wl,-rpath,$PWD/$lib"
asan="-fsanitize=address -fno-omit-frame-pointer"
cc $cflags bindings/c/examples/segment.c $static -o "$work/segment_static"
cc $cflags bindings/c/examples/segment.c $shared -o "$work/segment_shared"
cc $cflags $asan bindings/c/examples/segment.c $static -o "$work/segment_asan"
cc $cflags $asan bindings/c/tests/errors.c $static -o "$work/errors_asan"
cc $cflags $asan bindings/c/tests/stream.c $static -o "$work/stream_asan"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
# The sanitized programs run with the Vulkan drivers preloaded (after the ASan runtime, which must
# come first). The loader unloads a driver when the instance is destroyed; LeakSanitizer then no
# longer scans the driver's globals and reports what they still hold as leaked from an "unknown
# module" (128 bytes in Mesa 22.3.6's LLVM here). Kept loaded, the driver's memory stays reachable,
# so a leak reported is one of ours.
drivers=$(python3 -c 'import glob, json
paths = glob.glob("/usr/share/vulkan/icd.d/*.json") + glob.glob("/etc/vulkan/icd.d/*.json")
print(" ".join(json.load(open(p))["ICD"]["library_path"] for p in paths))')
sanitized() { LD_PRELOAD="$(cc -print-file-name=libasan.so) $drivers" "$@"; }
for program in segment_static segment_shared segment_asan; do
  for depth in 8 16; do
    run=$([ "$program" = segment_asan ] && echo sanitized || true)
    $run "$work/$program" "$work/f$depth.pgm" > "$work/$program.$depth.csv" 2>"$work/$program.$depth.err" \
      || { cat "$work/$program.$depth.err"; exit 1; }
    cmp "$work/$program.$depth.csv" "$work/cli/f$depth.clusters.csv"
    echo "$program, $depth-bit PGM: $(($(wc -l < "$work/$program.$depth.csv") - 1)) clusters, CSV equals emunet segment's"
  done
done
sanitized "$work/errors_asan" "$work/f8.pgm" 2>&1 | grep -v XDG_RUNTIME_DIR | tail -n 1
sanitized "$work/stream_asan" "$work/f8.pgm" 2>&1 | grep -v XDG_RUNTIME_DIR | tail -n 1
echo "C ABI check: all cases agree, AddressSanitizer and LeakSanitizer clean"
