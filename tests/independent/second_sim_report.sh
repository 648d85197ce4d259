#!/usr/bin/env bash
# Scores the shipped model and the classical pipeline on frames of the independent simulator
# (second_sim.py: Moffat (x) pillbox defocus optics, astigmatism, cos^4 + tilt illumination,
# Poisson shot noise, PRNU, row pattern, gamma), i.e. on optics and noise emunet was not trained on:
# COUNT frames of seed 79001 (77001–78002 were used to tune the blend split), 1280x1024, in WORK/sim (kept and reused when already there); then
# `emunet segment` (clusters split, the default), `emunet classic --threshold T` for T = 30..70, and
# `emunet eval` of each against the truth masks and grains.csv, with the truth mask's own object
# scores (eval's ceiling). Writes WORK/report.md and prints it.
#
# Usage: tests/independent/second_sim_report.sh [EMUNET] [COUNT] [WORK]
#   EMUNET  the binary (default target/release/emunet); COUNT frames (default 20);
#   WORK    a folder for frames and outputs (default: a temporary one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emunet=${1:-$root/target/release/emunet}
count=${2:-20}
work=${3:-$(mktemp -d)}
seed=79001
mkdir -p "$work"
sim="$work/sim"
nimg=$(find "$sim/images" -maxdepth 1 -name 'f*.png' 2>/dev/null | wc -l || true)
if [ -f "$sim/grains.csv" ] && [ "$nimg" -eq "$count" ]; then
  echo "second_sim: reusing $count frames in $sim"
else
  rm -rf "$sim/images" "$sim/masks" "$sim/grains.csv"
  python3 "$here/second_sim.py" --out "$sim" --count "$count" --seed "$seed" --width 1280 --height 1024
fi
runs=(model)
"$emunet" segment --out "$work/model" "$sim/images" | tail -n 1
for t in 30 40 50 60 70; do
  "$emunet" classic --threshold "$t" --out "$work/classic_$t" "$sim/images" | tail -n 1
  runs+=("classic_$t")
done
for run in "${runs[@]}"; do
  "$emunet" eval --pred "$work/$run" --truth "$sim/masks" --grains "$sim/grains.csv" \
    --json "$work/$run.eval.json" > /dev/null
done
EVAL_SCORES_DIR="$here/../accuracy" python3 - "$work" "$count" <<'PY'
import os, sys
sys.path.insert(0, os.environ["EVAL_SCORES_DIR"])
from eval_scores import scores
work, count = sys.argv[1], int(sys.argv[2])
model = scores(os.path.join(work, "model.eval.json"))
classic = {t: scores(os.path.join(work, f"classic_{t}.eval.json")) for t in (30, 40, 50, 60, 70)}
best_t = max(classic, key=lambda t: classic[t]["eff"] + classic[t]["pur"])
rows = [f"Independent simulator (second_sim.py), seed 79001, {count} frames of 1280x1024, "
        f"{model['g']:,.0f} detectable grains / frame",
        "",
        "| method | pixel Jaccard | efficiency | purity | position RMS | clusters / frame |",
        "|---|---|---|---|---|---|"]
runs = [("emunet (split)", model)] + [
    (f"classical, T = {t}" + (" (best)" if t == best_t else ""), classic[t]) for t in classic]
for name, s in runs:
    rows.append(f"| {name} | {s['j']:.3f} | {s['eff']:.3f} | {s['pur']:.3f} | {s['rms']:.3f} px "
                f"| {s['n']:,.0f} |")
c = model
rows.append(f"| truth mask (ceiling) | 1 | {c['ceff']:.3f} | {c['cpur']:.3f} | {c['crms']:.3f} px "
            f"| {c['cn']:,.0f} |")
text = "\n".join(rows) + "\n"
open(os.path.join(work, "report.md"), "w").write(text)
print(text)
PY
