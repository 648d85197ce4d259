#!/usr/bin/env bash
# Cross-checks `emunet segment` against the independent numpy implementation (unet_numpy.py) on
# frames whose sides are not multiples of 2^D, and on a full 1280×1024 frame through UNet(4,16):
# probabilities within 1e-4, masks identical (up to pixels within 1e-4 of the threshold), with f32
# activations (f16 storage, `segment`'s default, is held to its own bound in tests/fused.rs); and
# `emunet classic` against scipy.ndimage (classic_scipy.py) on simulated frames, with the
# labelling on the host and on the GPU.
# Usage: tests/independent/check.sh [path/to/emunet]   (default: target/debug/emunet)
set -euo pipefail
cd "$(dirname "$0")/../.."
emunet=${1:-target/debug/emunet}
py="python3 tests/independent/unet_numpy.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$py --self-test | tail -n 1
# depth channels width height bits seed normalization
while read -r d c w h bits seed norm; do
  name="unet${d}_${c}_${w}x${h}_${bits}bit_${norm}"
  "$emunet" init --depth "$d" --channels "$c" --seed "$seed" --normalization "$norm" \
      --out "$work/$name.safetensors" >/dev/null
  $py --make-frame "$work/$name.png" --width "$w" --height "$h" --bits "$bits" --seed "$seed" >/dev/null
  "$emunet" segment --precision f32 --weights "$work/$name.safetensors" --out "$work/out" "$work/$name.png" 2>/dev/null | sed -n 1p
  $py --weights "$work/$name.safetensors" --frame "$work/$name.png" \
      --prob "$work/out/$name.prob.npy" --mask "$work/out/$name.mask.png"
done <<'CASES'
2 8 130 70 8 1 zscore
2 8 130 70 8 1 median
2 8 37 29 16 2 zscore
2 8 37 29 16 2 median
3 16 130 70 8 3 median
3 16 1001 203 8 4 zscore
4 16 1280 1024 8 5 median
CASES
# The shipped emulsion-like sample frame.
"$emunet" init --depth 3 --channels 8 --seed 6 --out "$work/unet6.safetensors" >/dev/null
"$emunet" segment --precision f32 --weights "$work/unet6.safetensors" --out "$work/out" tests/data/sample_frame.png 2>/dev/null | sed -n 1p
$py --weights "$work/unet6.safetensors" --frame tests/data/sample_frame.png \
    --prob "$work/out/sample_frame.prob.npy" --mask "$work/out/sample_frame.mask.png"
# The classical pipeline (GPU filter and threshold; labelling on the host, then on the GPU) against
# scipy.ndimage on simulated nominal frames: same clusters, centroids within 0.01 px.
python3 tests/independent/classic_scipy.py --self-test | tail -n 1
"$emunet" simulate --out "$work/sim" --count 3 --seed 11 --width 640 --height 512 >/dev/null
for labelling in host gpu; do
  "$emunet" classic --labelling "$labelling" --out "$work/classic-$labelling" "$work/sim/images" 2>/dev/null | tail -n 1
  python3 tests/independent/classic_scipy.py --dir "$work/classic-$labelling" --frames-dir "$work/sim/images" | tail -n 1
done
echo "independent check: all cases agree"
