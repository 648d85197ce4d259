"""Call overhead of the Python module against the Rust API on one frame (benches/bindings.sh
gives it a 1280x1024 simulated nominal one) with the shipped model: per call, the wall time of `Engine.segment` (frame copied in,
numpy arrays and cluster records out, GIL released and taken back) against `Result.elapsed`,
the time the same call spent in the Rust API (`Unet::segment` + the cluster list) inside it.

    python bindings/python/bench.py frame.png [calls]   (benches/bindings.sh runs it)
"""

import statistics
import sys
import time

import numpy as np

import emunet


def main() -> None:
    from PIL import Image

    frame = np.asarray(Image.open(sys.argv[1]))
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    eng = emunet.Engine()
    eng.segment(frame)  # plans the buffers and pipelines
    walls, cores = [], []
    for i in range(calls):
        start = time.perf_counter()
        r = eng.segment(frame)
        wall = time.perf_counter() - start
        walls.append(wall)
        cores.append(r.elapsed)
        print(f"call {i}: wall {wall * 1e3:.1f} ms, Rust API {r.elapsed * 1e3:.1f} ms",
              file=sys.stderr)
    over = [w - c for w, c in zip(walls, cores)]
    rel = [o / c for o, c in zip(over, cores)]
    h, w = frame.shape
    print(
        f"Python vs Rust API, one {w}x{h} frame on {eng.adapter}: wall {statistics.median(walls) * 1e3:.1f} ms, "
        f"Rust API {statistics.median(cores) * 1e3:.1f} ms (medians); overhead "
        f"{statistics.median(over) * 1e3:.2f} ms = {statistics.median(rel) * 100:+.3f} % "
        f"(median of {calls} calls, max {max(rel) * 100:+.3f} %)"
    )


if __name__ == "__main__":
    main()
