"""Plate-scale segmentation on a Dask cluster: the frame list is cut into tasks, each task
segments its frames on its worker's engine and writes one cluster table (a *part*).

    from dask.distributed import Client, LocalCluster
    import emunet.dask
    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    summary = emunet.dask.segment_files(sorted(paths), "out", client=client)
    clusters = emunet.dask.read_clusters("out")          # one pandas DataFrame

Each worker process builds one engine (one GPU device) the first time it runs a task and
reuses it for every later task. A part is written atomically (a temporary file, then a rename)
and then its summary ``part-NNNNN.json``; a part whose summary is there is complete. So the
call is idempotent: a re-run skips complete parts, and a task that Dask runs again after a
worker died rewrites the same part under the same name, leaving no duplicate. Frames that
cannot be read or segmented are listed in the summary; they do not fail the job.

The table's ``frame`` column is each frame's index in ``paths``: pass the frames in the order
``emunet segment`` would take them (a folder's frames sorted by name) and the parts together
equal its ``--format parquet`` table row for row.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _emunet

__all__ = ["segment_files", "read_clusters", "part_name"]

# Per worker process: the engines built so far, by (weights, precision, pixel_um).
_ENGINES: Dict[Tuple[Optional[str], str, Optional[float]], Any] = {}


def _engine(weights: Optional[str], precision: str, pixel_um: Optional[float] = None):
    key = (weights, precision, pixel_um)
    if key not in _ENGINES:
        _ENGINES[key] = _emunet.Engine(weights, precision, "f32", pixel_um)
    return _ENGINES[key]


def part_name(index: int, format: str = "parquet") -> str:
    """The file name of part ``index``."""
    return f"part-{index:05d}.{format}"


def _write_json_atomically(path: str, value) -> None:
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _run_part(
    index: int,
    frames: List[Tuple[int, str]],
    out: str,
    weights: Optional[str],
    precision: str,
    format: str,
    pixel_um: Optional[float] = None,
) -> Dict[str, Any]:
    """One task: segment the part's frames, write its table, then its summary."""
    summary_path = os.path.join(out, f"part-{index:05d}.json")
    if os.path.exists(summary_path):
        # Done by an earlier run (or an earlier try of this task).
        with open(summary_path) as f:
            done = json.load(f)
        done["skipped"] = True
        return done
    table = os.path.join(out, part_name(index, format))
    try:
        result = _engine(weights, precision, pixel_um).segment_part(frames, table, format)
    except _emunet.DeviceLostError:
        # The engine is unusable: the task's retry builds a new one.
        _ENGINES.pop((weights, precision, pixel_um), None)
        raise
    summary = {
        "part": index,
        "file": os.path.basename(table),
        "first_frame": frames[0][0] if frames else None,
        "frames": result["frames"],
        "done": result["done"],
        "clusters": result["clusters"],
        "failed": len(result["failed"]),
        "failures": [f"{path}: {why}" for path, why in result["failed"]],
        "seconds": result["seconds"],
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    _write_json_atomically(summary_path, summary)
    summary["skipped"] = False
    return summary


def _job_manifest(
    paths: Sequence[str], frames_per_task: int, format: str, weights, precision, pixel_um=None
):
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()
    manifest = {
        "frames": len(paths),
        "paths_sha256": digest,
        "frames_per_task": frames_per_task,
        "format": format,
        "weights": weights,
        "precision": precision,
    }
    # Only when given, so that the folders of jobs run without it still resume.
    if pixel_um is not None:
        manifest["pixel_um"] = pixel_um
    return manifest


def segment_files(
    paths: Sequence["os.PathLike[str] | str"],
    out: "os.PathLike[str] | str",
    client=None,
    weights: Optional["os.PathLike[str] | str"] = None,
    frames_per_task: int = 64,
    format: str = "parquet",
    precision: str = "auto",
    retries: int = 2,
    pixel_um: Optional[float] = None,
):
    """Segments every frame of ``paths`` on a Dask cluster; returns a pandas DataFrame, one row
    per part: ``part``, ``file``, ``first_frame``, ``frames``, ``done``, ``clusters``,
    ``failed`` (count), ``failures`` (["path: reason"]), ``seconds``, ``worker``, ``skipped``
    (complete before this call).

    ``client``: a ``dask.distributed.Client``; None takes the current one, or without one runs
    the tasks in this process (Dask's synchronous scheduler). ``weights``: a weights file on a
    path every worker can read (None: the shipped model). ``format``: "parquet" or "root".
    ``pixel_um``: the frames' pixel size in µm, when it differs from the model's (see
    :class:`emunet.Engine`).
    ``out`` must be a folder every worker can write (a shared file system on a multi-node
    cluster). A second call with the same ``out`` must give the same ``paths``,
    ``frames_per_task``, ``format``, ``weights``, ``precision`` and ``pixel_um`` (checked): it then only does
    the parts not complete.
    """
    import dask
    import pandas as pd

    if format not in ("parquet", "root"):
        raise ValueError(f'format {format!r}: expected "parquet" or "root"')
    if frames_per_task < 1:
        raise ValueError("frames_per_task must be at least 1")
    paths = [os.fspath(p) for p in paths]
    out = os.fspath(out)
    weights = os.path.abspath(os.fspath(weights)) if weights is not None else None
    os.makedirs(out, exist_ok=True)
    manifest = _job_manifest(paths, frames_per_task, format, weights, precision, pixel_um)
    manifest_path = os.path.join(out, "job.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            before = json.load(f)
        if before != manifest:
            keys = set(manifest) | set(before)  # a key one job has and the other lacks differs too
            changed = sorted(k for k in keys if before.get(k) != manifest.get(k))
            raise ValueError(
                f"{out} holds the parts of another job (it differs in {', '.join(changed)}): "
                "use another folder, or the same arguments to finish that job"
            )
    else:
        _write_json_atomically(manifest_path, manifest)
    indexed = list(enumerate(paths))
    parts = [
        (k, indexed[start : start + frames_per_task])
        for k, start in enumerate(range(0, len(indexed), frames_per_task))
    ]
    if client is None:
        try:
            from dask.distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            client = None
    if client is not None:
        futures = [
            client.submit(
                _run_part,
                k,
                frames,
                out,
                weights,
                precision,
                format,
                pixel_um,
                retries=retries,
                pure=False,
            )
            for k, frames in parts
        ]
        results = client.gather(futures)
    else:
        tasks = [
            dask.delayed(_run_part, pure=False)(
                k, frames, out, weights, precision, format, pixel_um
            )
            for k, frames in parts
        ]
        results = list(dask.compute(*tasks, scheduler="synchronous"))
    columns = [
        "part", "file", "first_frame", "frames", "done", "clusters",
        "failed", "failures", "seconds", "worker", "skipped",
    ]
    return pd.DataFrame(results, columns=columns)


def read_clusters(out: "os.PathLike[str] | str"):
    """Every complete part's clusters in ``out`` as one pandas DataFrame, in frame order (the
    columns of the cluster table: docs/guide.md, Plate scale)."""
    import pandas as pd

    out = os.fspath(out)
    with open(os.path.join(out, "job.json")) as f:
        format = json.load(f)["format"]
    tables = []
    for name in sorted(os.listdir(out)):
        if not (name.startswith("part-") and name.endswith(".json")):
            continue
        with open(os.path.join(out, name)) as f:
            table = os.path.join(out, json.load(f)["file"])
        if format == "parquet":
            tables.append(pd.read_parquet(table))
        else:
            import uproot

            arrays = uproot.open(table)["clusters"].arrays(library="np")
            tables.append(pd.DataFrame({k: arrays[k] for k in arrays}))
    if not tables:
        return pd.DataFrame()
    frame = pd.concat(tables, ignore_index=True)
    return frame.sort_values(["frame", "id"], kind="stable").reset_index(drop=True)
