"""Frames/s of `emunet segment --format parquet --clusters-only` and of
`emunet.dask.segment_files` (in the calling process, and on a LocalCluster of 1 and 2 worker
processes) on the same folder of frames; every engine is built inside its timed run, as in a
job. Usage (README, Plate scale):

    python bindings/python/bench_dask.py target/release/emunet FRAMES_DIR WORK_DIR
"""

import glob
import os
import shutil
import subprocess
import sys
import time

from dask.distributed import Client, LocalCluster

import emunet.dask


def fresh(folder: str) -> str:
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def main():
    cli, images, work = sys.argv[1:4]
    paths = sorted(glob.glob(os.path.join(images, "*.png")))
    n = len(paths)
    seconds = {}

    start = time.time()
    subprocess.run(
        [cli, "segment", "--out", fresh(f"{work}/cli"), "--format", "parquet",
         "--clusters-only", images],
        check=True, capture_output=True,
    )
    seconds["CLI"] = time.time() - start

    start = time.time()
    emunet.dask.segment_files(paths, fresh(f"{work}/in-process"), client=None, frames_per_task=4)
    seconds["dask, in process"] = time.time() - start

    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as c, \
                Client(c) as client:
            start = time.time()
            s = emunet.dask.segment_files(
                paths, fresh(f"{work}/workers-{workers}"), client=client, frames_per_task=4
            )
            seconds[f"dask, {workers} worker(s)"] = time.time() - start
            assert s["done"].sum() == n

    for what, t in seconds.items():
        print(f"{what:20s} {n} frames in {t:6.1f} s: {n / t:5.3f} frames/s, {1e3 * t / n:6.0f} "
              f"ms/frame ({100 * (t / seconds['CLI'] - 1):+.1f} % against the CLI)")


if __name__ == "__main__":
    main()
