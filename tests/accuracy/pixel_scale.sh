#!/usr/bin/env bash
# Frames of other pixel sizes (docs/accuracy.md, Other pixel sizes): COUNT held-out simulated
# frames of PRESET at each pixel size (seeds 32001… by default, never used in training), segmented by the
# shipped model as they are (no --pixel-um) and resampled to its scale (--pixel-um), against
# the classical pipeline (FEDRA 6×6 at its default threshold) and the truth mask's own scores
# (eval's ceiling). The matching radius is 0.45 µm at every pixel size (1.5 px at 0.30 µm).
# Writes WORK/pixel_scale.md and prints it.
#
# Usage: tests/accuracy/pixel_scale.sh [EMUNET] [COUNT] [WORK] [PRESET] [SIZES] [SEED]
#   EMUNET the binary (default target/release/emunet); COUNT frames per size (default 6);
#   WORK a folder (default: a temporary one); PRESET (default nominal); SIZES the pixel sizes
#   in µm (default "0.2 0.25 0.3 0.35 0.4"); SEED the seed before the first size's (default
#   32000: the sizes get 32001, 32002, …).
set -euo pipefail
cd "$(dirname "$0")/../.."
emunet=${1:-target/release/emunet}
count=${2:-6}
work=${3:-$(mktemp -d)}
preset=${4:-nominal}
sizes=${5:-0.2 0.25 0.3 0.35 0.4}
mkdir -p "$work"
seed=${6:-32000}
for um in $sizes; do
  seed=$((seed + 1))
  d="$work/$preset-$um"
  if [ ! -f "$d/grains.csv" ]; then
    "$emunet" simulate --out "$d" --count "$count" --seed "$seed" --preset "$preset" \
      --pixel-um "$um" | tail -n 1
  fi
  radius=$(python3 -c "print(0.45 / $um)")
  "$emunet" segment --out "$d/as_is" "$d/images" 2>&1 | tail -n 1
  "$emunet" segment --pixel-um "$um" --out "$d/scaled" "$d/images" 2>&1 | tail -n 1
  "$emunet" classic --out "$d/classic" "$d/images" | tail -n 1
  for run in as_is scaled classic; do
    "$emunet" eval --pred "$d/$run" --truth "$d/masks" --grains "$d/grains.csv" --radius "$radius" \
      --json "$d/$run.eval.json" > /dev/null
  done
done
EVAL_SCORES_DIR=tests/accuracy python3 - "$work" "$preset" $sizes <<'PY'
import os, sys
sys.path.insert(0, os.environ["EVAL_SCORES_DIR"])
from eval_scores import scores
work, preset, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = ["| pixel (µm) | method | pixel Jaccard | efficiency | purity | position RMS | clusters / frame |",
        "|---|---|---|---|---|---|---|"]
for um in sizes:
    d = os.path.join(work, f"{preset}-{um}")
    runs = [("emunet, frames as they are", "as_is"), (f"emunet, --pixel-um {um}", "scaled"),
            ("classical, T = 50", "classic")]
    for name, run in runs:
        s = scores(os.path.join(d, f"{run}.eval.json"))
        rms_um = s["rms"] * float(um)
        rows.append(f"| {um} | {name} | {s['j']:.3f} | {s['eff']:.3f} | {s['pur']:.3f} | {s['rms']:.3f} px ({rms_um:.3f} µm) | {s['n']:,.0f} |")
    c = scores(os.path.join(d, "scaled.eval.json"))
    rows.append(f"| {um} | truth mask (ceiling) | 1 | {c['ceff']:.3f} | {c['cpur']:.3f} | | {c['cn']:,.0f} |")
text = f"{preset}, radius 0.45 µm\n\n" + "\n".join(rows) + "\n"
open(os.path.join(work, "pixel_scale.md"), "w").write(text)
print(text)
PY
