#!/usr/bin/env bash
# Call overhead of the C ABI and of the Python module against the Rust API for one 1280×1024
# simulated nominal frame with the shipped model, in one run (docs/speed.md, Bindings): each binding
# times its calls against the time the same call spent in the Rust API inside it
# (emunet_last_elapsed, Result.elapsed). Needs a Vulkan driver and a C compiler; installs the
# module into target/bench-venv.
# Usage: benches/bindings.sh [calls, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-8}
cargo build -q --release -p emunet -p emunet-c
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/emunet simulate --out "$work" --count 1 --seed 1 --preset nominal >/dev/null
[ -x target/bench-venv/bin/python ] || python3 -m venv target/bench-venv
target/bench-venv/bin/pip install -q ./bindings/python pillow
frame=$(ls "$work"/images/*.png)
target/bench-venv/bin/python -c '
import sys, numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1]))
open(sys.argv[2], "wb").write(b"P5\n%d %d\n255\n" % (a.shape[1], a.shape[0]) + a.tobytes())' "$frame" "$work/frame.pgm"
cc -O2 -Ibindings/c/include bindings/c/benches/overhead.c -Ltarget/release -l:libemunet.a \
  -lpthread -ldl -lm -o "$work/overhead"
"$work/overhead" "$work/frame.pgm" "$n"
target/bench-venv/bin/python bindings/python/bench.py "$frame" "$n"
