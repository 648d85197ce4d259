#!/usr/bin/env bash
# The accuracy report of docs/accuracy.md: on COUNT held-out simulated frames of each preset
# (seeds 31001–31004, never used in training or validation), the shipped model (clusters split at
# separate grains, and not split) against the classical pipeline (FEDRA 6×6 at its default
# threshold 50 and at the best of 30…70 for that preset), and the model on flat-fielded frames
# (`emunet flatfield` of the same frames), with the truth mask's own scores (eval's ceiling).
# Writes WORK/report.md and prints it.
#
# Usage: tests/accuracy/report.sh [EMUNET] [COUNT] [WORK] [WEIGHTS]
#   EMUNET  the binary (default target/release/emunet); COUNT frames per preset (default 20);
#   WORK    a folder for frames and outputs (default: a temporary one);
#   WEIGHTS a weights file (default: the shipped model built into EMUNET).
# With the examples built (`cargo build --release --examples`), the truth mask through the same
# cluster builder (examples/truth_clusters) and the oracle's pixel Jaccard (examples/oracle_ceiling)
# on the same frames are added.
set -euo pipefail
cd "$(dirname "$0")/../.."
emunet=${1:-target/release/emunet}
count=${2:-20}
work=${3:-$(mktemp -d)}
weights=${4:-}
wargs=()
[ -n "$weights" ] && wargs=(--weights "$weights")
mkdir -p "$work"
seed=31000
for preset in easy nominal hard mixed; do
  seed=$((seed + 1))
  d="$work/$preset"
  if [ ! -f "$d/grains.csv" ]; then
    "$emunet" simulate --out "$d" --count "$count" --seed "$seed" --preset "$preset" | tail -n 1
  fi
  "$emunet" segment "${wargs[@]}" --out "$d/model" "$d/images" | tail -n 1
  "$emunet" segment "${wargs[@]}" --no-split --out "$d/model_nosplit" "$d/images" | tail -n 1
  # A flat-field from the same frames (one run: one camera), then the model on corrected frames.
  "$emunet" flatfield --out "$d/flat.safetensors" "$d/images" | tail -n 1
  "$emunet" segment "${wargs[@]}" --flatfield "$d/flat.safetensors" --out "$d/model_flat" "$d/images" | tail -n 1
  for t in 30 40 50 60 70; do
    "$emunet" classic --threshold "$t" --out "$d/classic_$t" "$d/images" | tail -n 1
  done
  for run in model model_nosplit model_flat classic_30 classic_40 classic_50 classic_60 classic_70; do
    "$emunet" eval --pred "$d/$run" --truth "$d/masks" --grains "$d/grains.csv" \
      --json "$d/$run.eval.json" > /dev/null
  done
  examples=target/release/examples
  if [ -x "$examples/truth_clusters" ] && [ -x "$examples/oracle_ceiling" ]; then
    "$examples/truth_clusters" "$preset" "$count" "$seed" > "$d/truth_clusters.txt"
    "$examples/oracle_ceiling" "$preset" "$count" "$seed" > "$d/oracle.txt"
  fi
done
EVAL_SCORES_DIR=tests/accuracy python3 - "$work" <<'PY'
import os, sys
sys.path.insert(0, os.environ["EVAL_SCORES_DIR"])
from eval_scores import scores
work = sys.argv[1]
notes = []
rows = ["| preset | method | pixel Jaccard | efficiency | purity | position RMS | clusters / frame |",
        "|---|---|---|---|---|---|---|"]
for preset in ["easy", "nominal", "hard", "mixed"]:
    d = os.path.join(work, preset)
    classic = {t: scores(os.path.join(d, f"classic_{t}.eval.json")) for t in (30, 40, 50, 60, 70)}
    best_t = max(classic, key=lambda t: classic[t]["eff"] + classic[t]["pur"])
    runs = [("emunet (split)", scores(os.path.join(d, "model.eval.json"))),
            ("emunet (--no-split)", scores(os.path.join(d, "model_nosplit.eval.json"))),
            ("emunet (split, --flatfield)", scores(os.path.join(d, "model_flat.eval.json"))),
            ("classical, T = 50", classic[50]),
            (f"classical, best T = {best_t}", classic[best_t])]
    for name, s in runs:
        rows.append(f"| {preset} | {name} | {s['j']:.3f} | {s['eff']:.3f} | {s['pur']:.3f} | {s['rms']:.3f} px | {s['n']:,.0f} |")
    c = runs[0][1]
    rows.append(f"| {preset} | truth mask (ceiling) | 1 | {c['ceff']:.3f} | {c['cpur']:.3f} | | |")
    tc = os.path.join(d, "truth_clusters.txt")
    if os.path.exists(tc):
        line = [l for l in open(tc) if "sub-pixel, split" in l][0].split()
        eff, pur, rms = (float(line[line.index(k) + 1]) for k in ("efficiency", "purity", "RMS"))
        rows.append(f"| {preset} | truth mask, split + sub-pixel | 1 | {eff:.3f} | {pur:.3f} | {rms:.3f} px | |")
        oracle = float(open(os.path.join(d, "oracle.txt")).read().split()[-1])
        notes.append(f"{preset}: emunet {runs[0][1]['j']:.3f} / oracle {oracle:.3f} = {runs[0][1]['j'] / oracle:.2f}")
text = "\n".join(rows) + "\n"
if notes:
    text += "\nPixel Jaccard against the oracle ceiling: " + "; ".join(notes) + ".\n"
open(os.path.join(work, "report.md"), "w").write(text)
print(text)
PY
