#!/bin/bash
# benches/gpu.sh — one run on a lent GPU machine: `emunet bench --json` for the shipped UNet(2,16)
# and a UNet(3,16), and the PyTorch peer (benches/peers/torch_gpu.py) on the same GPU, models
# and frame size, gathered into one table.
#
# Prepare here (the GPU machine has no Rust toolchain and no network):
#   cargo build --release && mkdir -p .gpu && cp target/release/emunet .gpu/ \
#     && cp benches/peers/torch_gpu.py benches/peers/torch_unet.py .gpu/
#   (.gpu/ is git-ignored; bring the Vulkan loaders in .gl/ as the device README shows)
# Run there, carrying .gpu and .gl:   bash benches/gpu.sh "$OUT"
# Writes OUT/emunet_2x16.json, OUT/emunet_3x16.json, OUT/torch.jsonl and OUT/gpu_table.md.
set -uo pipefail
OUT=${1:-gpu-out}
mkdir -p "$OUT"
EMUNET=${EMUNET:-.gpu/emunet}
FRAMES=${FRAMES:-50}
if ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
"$EMUNET" info | tee "$OUT/info.txt"
"$EMUNET" bench --frames "$FRAMES" --json "$OUT/emunet_2x16.json" | tee "$OUT/emunet_2x16.txt"
"$EMUNET" init --depth 3 --channels 16 --out "$OUT/unet_3x16.safetensors" >/dev/null
"$EMUNET" bench --weights "$OUT/unet_3x16.safetensors" --frames "$FRAMES" \
  --json "$OUT/emunet_3x16.json" | tee "$OUT/emunet_3x16.txt"
rm -f "$OUT/unet_3x16.safetensors"
if [ -f .gpu/torch_gpu.py ]; then
  python3 .gpu/torch_gpu.py --configs 2x16,3x16 --size 1024x1280 --batch 1,16 \
    > "$OUT/torch.jsonl" 2> "$OUT/torch.err" || echo "torch peer failed: see $OUT/torch.err"
fi
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
rows = ["| GPU | model | engine | latency (ms, steady) | frames/s |", "|---|---|---|---|---|"]
for cfg in ("2x16", "3x16"):
    path = os.path.join(out, f"emunet_{cfg}.json")
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    for run in r["runs"]:
        if run["skipped"]:
            continue
        rows.append(f"| {r['adapter']} | UNet({cfg.replace('x', ',')}) | emunet {run['engine']} "
                    f"{run['precision']}, batch 1 | {run['steady_ms_mean']:.3f} | {run['frames_per_second']:.2f} |")
torch = os.path.join(out, "torch.jsonl")
if os.path.exists(torch):
    for line in open(torch):
        try:
            t = json.loads(line)
        except ValueError:
            continue
        if "variant" not in t:  # the training-step lines
            continue
        rows.append(f"| {t['device']} | UNet({t['D']},{t['C']}) | PyTorch {t['variant']}, batch {t['batch']} "
                    f"| {t['ms_per_frame']:.3f} per frame | {t['frames_per_s']:.0f} |")
open(os.path.join(out, "gpu_table.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
