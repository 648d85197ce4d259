"""Plate scale: the cluster tables read by pyarrow and uproot equal the CSV value for value;
`emunet.dask.segment_files` on a 2-worker LocalCluster equals the CLI's table (a single-process
run) and the in-process path; a worker killed mid-run loses and duplicates nothing; bad frames are reported, not fatal;
re-runs skip complete parts.

Needs `pip install ./bindings/python[dask,root] pytest` and the CLI (see test_emunet.py). A GPU
adapter is required (Mesa's lavapipe will do).
"""

import glob
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import uproot

import emunet.dask

from test_emunet import cli

# The CSV contract's columns, and the tables' columns before them.
CSV_COLUMNS = "id,x,y,area,volume,cog_x,cog_y,peak,peak_x,peak_y,x0,y0,x1,y1,mxx,mxy,myy".split(",")
TABLE_COLUMNS = ["frame", "name", "view", "plane"] + CSV_COLUMNS


def simulate(folder: Path, count: int, seed: int, *extra) -> list:
    subprocess.run(
        [cli(), "simulate", "--out", str(folder), "--count", str(count), "--seed", str(seed),
         "--width", "64", "--height", "64", *extra],
        check=True, capture_output=True,
    )
    return sorted(glob.glob(str(folder / "images" / "*.png")))


def csv_table(folder: Path, paths: list) -> pd.DataFrame:
    """The clusters CSV files of `emunet segment` for `paths`, as one table like the others."""
    parts = []
    for index, path in enumerate(paths):
        stem = Path(path).stem
        csv = folder / f"{stem}.clusters.csv"
        if not csv.exists():
            continue
        t = pd.read_csv(csv)
        view, _, plane = stem.rpartition("_z")
        if not view or not plane.isdigit():
            view, plane = "", "-1"
        t.insert(0, "plane", int(plane))
        t.insert(0, "view", view)
        t.insert(0, "name", stem)
        t.insert(0, "frame", index)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def assert_same_values(a: pd.DataFrame, b: pd.DataFrame):
    assert list(a.columns) == TABLE_COLUMNS and list(b.columns) == TABLE_COLUMNS
    assert len(a) == len(b) and len(a) > 0
    for column in TABLE_COLUMNS:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if x.dtype.kind in "fiu":
            np.testing.assert_array_equal(x.astype(np.float64), y.astype(np.float64), err_msg=column)
        else:
            assert [str(v) for v in x] == [str(v) for v in y], column


def test_parquet_and_root_tables_equal_the_csv(tmp_path):
    paths = simulate(tmp_path / "sim", 3, 5, "--frames-per-view", "2")
    for fmt in ("csv", "parquet", "root"):
        subprocess.run(
            [cli(), "segment", "--out", str(tmp_path / fmt), "--format", fmt,
             str(tmp_path / "sim" / "images")],
            check=True, capture_output=True,
        )
    want = csv_table(tmp_path / "csv", paths)
    assert set(want["view"]) == {"v0000", "v0001", "v0002"} and set(want["plane"]) == {0, 1}
    parquet = pq.read_table(tmp_path / "parquet" / "clusters.parquet").to_pandas()
    assert_same_values(parquet, want)
    tree = uproot.open(tmp_path / "root" / "clusters.root")["clusters"]
    assert tree.num_entries == len(want)
    assert [b for b in tree.keys()] == TABLE_COLUMNS
    arrays = tree.arrays(library="np")
    root = pd.DataFrame({c: arrays[c] for c in TABLE_COLUMNS})
    assert_same_values(root, want)


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    """200 simulated frames (and two unreadable ones) in the CLI's folder order, and the CLI's
    table of them."""
    folder = tmp_path_factory.mktemp("plate")
    simulate(folder / "sim", 200, 31)
    images = folder / "sim" / "images"
    (images / "f00050_truncated.png").write_bytes((images / "f00050.png").read_bytes()[:100])
    (images / "f00120_empty.png").write_bytes(b"")
    paths = sorted(glob.glob(str(images / "*.png")))
    assert len(paths) == 202
    done = subprocess.run(
        [cli(), "segment", "--out", str(folder / "cli"), "--format", "parquet",
         "--clusters-only", str(images)],
        capture_output=True, text=True,
    )
    assert done.returncode == 1 and "f00050_truncated.png" in done.stderr, done.stderr
    table = pq.read_table(folder / "cli" / "clusters.parquet").to_pandas()
    return folder, paths, table


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as c, Client(c) as client:
        yield client


def failures(summary: pd.DataFrame) -> list:
    return sorted(os.path.basename(f.split(":")[0]) for fs in summary["failures"] for f in fs)


def test_local_cluster_equals_single_process_and_cli(plate, cluster):
    folder, paths, cli_table = plate
    # The single-process run is the CLI's (the in-process path: test_root_parts_equal_...).
    two = emunet.dask.segment_files(paths, folder / "two", client=cluster, frames_per_task=16)
    assert len(two) == 13 and two["frames"].sum() == 202
    assert two["done"].sum() == 200 and two["failed"].sum() == 2
    assert failures(two) == ["f00050_truncated.png", "f00120_empty.png"]
    assert len(set(two["worker"])) == 2, "both workers took tasks"
    b = emunet.dask.read_clusters(folder / "two")
    assert_same_values(b, cli_table)
    # As the README compares them.
    pd.testing.assert_frame_equal(b, pd.read_parquet(folder / "cli" / "clusters.parquet"))
    per_part = cli_table.groupby(cli_table["frame"] // 16).size()
    assert list(per_part) == list(two["clusters"])
    # A re-run does nothing: every part is complete.
    again = emunet.dask.segment_files(paths, folder / "two", client=cluster, frames_per_task=16)
    assert again["skipped"].all() and list(again["clusters"]) == list(two["clusters"])
    # Another job in the same folder is refused.
    with pytest.raises(ValueError, match="frames_per_task"):
        emunet.dask.segment_files(paths, folder / "two", client=cluster, frames_per_task=8)


def test_killed_worker_loses_and_duplicates_nothing(plate, cluster):
    folder, paths, cli_table = plate
    out = folder / "killed"
    result = {}

    def run():
        result["summary"] = emunet.dask.segment_files(paths, out, client=cluster, frames_per_task=4)

    worker = threading.Thread(target=run)
    worker.start()
    # Kill a worker process once a few parts are done (its nanny starts a new one).
    deadline = time.time() + 120
    while len(glob.glob(str(out / "part-*.json"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    pids = cluster.run(os.getpid)
    assert len(pids) == 2
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    killed_while = len(glob.glob(str(out / "part-*.json")))
    worker.join(timeout=300)
    assert not worker.is_alive()
    assert killed_while < 51, "the kill came before the job ended"
    summary = result["summary"]
    assert len(summary) == 51 and summary["done"].sum() == 200
    assert failures(summary) == ["f00050_truncated.png", "f00120_empty.png"]
    # Every frame in exactly one part, once.
    frames = []
    for name in sorted(glob.glob(str(out / "part-*.parquet"))):
        frames.extend(sorted(set(pq.read_table(name, columns=["frame"])["frame"].to_pylist())))
    assert len(frames) == len(set(frames)) == 200
    assert_same_values(emunet.dask.read_clusters(out), cli_table)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="format"):
        emunet.dask.segment_files([], tmp_path, format="csv")
    with pytest.raises(ValueError, match="frames_per_task"):
        emunet.dask.segment_files([], tmp_path, frames_per_task=0)


def test_root_parts_equal_parquet_parts(plate):
    folder, paths, _ = plate
    kw = dict(client=None, frames_per_task=7)
    emunet.dask.segment_files(paths[:30], folder / "root", format="root", **kw)
    emunet.dask.segment_files(paths[:30], folder / "parquet30", **kw)
    assert sorted(os.listdir(folder / "root"))[:2] == ["job.json", "part-00000.json"]
    assert_same_values(
        emunet.dask.read_clusters(folder / "root"), emunet.dask.read_clusters(folder / "parquet30")
    )


def test_pixel_size_reaches_every_part_and_belongs_to_the_job(tmp_path):
    paths = simulate(tmp_path / "sim", 6, 77, "--pixel-um", "0.22")
    subprocess.run(
        [cli(), "segment", "--pixel-um", "0.22", "--format", "parquet",
         "--out", str(tmp_path / "cli"), *paths],
        check=True, capture_output=True,
    )
    emunet.dask.segment_files(paths, tmp_path / "parts", client=None, frames_per_task=4,
                              pixel_um=0.22)
    pd.testing.assert_frame_equal(
        emunet.dask.read_clusters(tmp_path / "parts"),
        pd.read_parquet(tmp_path / "cli" / "clusters.parquet"),
    )
    # The same folder with another pixel size (here: none) is another job.
    with pytest.raises(ValueError, match="pixel_um"):
        emunet.dask.segment_files(paths, tmp_path / "parts", client=None, frames_per_task=4)
