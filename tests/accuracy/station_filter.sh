#!/usr/bin/env bash
# Frames a station has smoothed (issue 28; docs/accuracy.md, Smoothed frames): COUNT held-out
# simulated frames of PRESET (seed SEED, never used in training) rendered once and delivered
# through each station filter (`simulate --filter`, the truth unchanged), segmented by the shipped
# model and by the classical pipeline (FEDRA 6×6 at its default threshold), with the truth mask's
# own scores (eval's ceiling). Writes WORK/station_filter.md and prints it.
#
# Usage: tests/accuracy/station_filter.sh [EMUNET] [COUNT] [WORK] [PRESET] [FILTERS] [SEED]
#   EMUNET the binary (default target/release/emunet); COUNT frames (default 6); WORK a folder
#   (default: a temporary one); PRESET (default nominal); FILTERS (default
#   "none gaussian:0.8 median:3 box:3"); SEED (default 34001).
set -euo pipefail
cd "$(dirname "$0")/../.."
emunet=${1:-target/release/emunet}
count=${2:-6}
work=${3:-$(mktemp -d)}
preset=${4:-nominal}
filters=${5:-none gaussian:0.8 median:3 box:3}
seed=${6:-34001}
mkdir -p "$work"
for filter in $filters; do
  d="$work/$preset-${filter/:/-}"
  if [ ! -f "$d/grains.csv" ]; then
    extra=()
    [ "$filter" != none ] && extra=(--filter "$filter")
    "$emunet" simulate --out "$d" --count "$count" --seed "$seed" --preset "$preset" \
      "${extra[@]}" | tail -n 1
  fi
  "$emunet" segment --out "$d/model" "$d/images" > "$d/model.log" 2>&1
  tail -n 1 "$d/model.log"
  "$emunet" classic --out "$d/classic" "$d/images" | tail -n 1
  for run in model classic; do
    "$emunet" eval --pred "$d/$run" --truth "$d/masks" --grains "$d/grains.csv" \
      --json "$d/$run.eval.json" > /dev/null
  done
done
EVAL_SCORES_DIR=tests/accuracy python3 - "$work" "$preset" $filters <<'PY'
import os, re, sys
sys.path.insert(0, os.environ["EVAL_SCORES_DIR"])
from eval_scores import scores
work, preset, filters = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = ["| filter | method | pixel Jaccard | efficiency | purity | position RMS | clusters / frame | pieces of split clusters |",
        "|---|---|---|---|---|---|---|---|"]
for f in filters:
    d = os.path.join(work, f"{preset}-{f.replace(':', '-')}")
    for name, run in [("emunet", "model"), ("classical, T = 50", "classic")]:
        s = scores(os.path.join(d, f"{run}.eval.json"))
        pieces = ""
        if run == "model":
            # From segment's lines: "N clusters (M of them pieces of split clusters)".
            found = re.findall(r"(\d+) clusters \((\d+) of them pieces", open(os.path.join(d, "model.log")).read())
            total, split = (sum(int(x[i]) for x in found) for i in (0, 1))
            pieces = f"{split / max(total, 1):.1%}"
        rows.append(f"| {f} | {name} | {s['j']:.3f} | {s['eff']:.3f} | {s['pur']:.3f} | {s['rms']:.3f} px | {s['n']:,.0f} | {pieces} |")
    c = scores(os.path.join(d, "model.eval.json"))
    rows.append(f"| {f} | truth mask (ceiling) | 1 | {c['ceff']:.3f} | {c['cpur']:.3f} | | {c['cn']:,.0f} | |")
text = f"{preset}\n\n" + "\n".join(rows) + "\n"
open(os.path.join(work, "station_filter.md"), "w").write(text)
print(text)
PY
