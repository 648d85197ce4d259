#!/usr/bin/env bash
# Call overhead of the C ABI and of the Python module against the Rust API for one 1280×1024
# frame with the shipped model, in one run (README, From Python). The C bench times the Rust API
# and emunet_segment_u8 in pairs in one process; the Python bench times Engine.segment against the
# Rust API time inside it. Needs a Vulkan driver; installs the module into target/bench-venv.
# Usage: benches/bindings.sh [pairs/calls, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-8}
EMUNET_BENCH_PAIRS=$n cargo bench -q -p emunet-c --bench overhead
[ -x target/bench-venv/bin/python ] || python3 -m venv target/bench-venv
target/bench-venv/bin/pip install -q ./bindings/python
target/bench-venv/bin/python bindings/python/bench.py "$n"
