#!/usr/bin/env python3
"""Independent numpy/scipy reference of emunet's classical station pipeline.

Written from the pipeline contract only (no code shared with the Rust/WGSL
engine). scipy.ndimage does the filtering and labelling. The script
cross-checks the clusters CSV (and optionally the mask) that
`emunet classic` writes.

Pipeline (float64):
  equalise  p' = p * gain; gain = 220/median if median*255/max >= 64, else 255/max
            (median = the floor((N-1)/2)-th smallest pixel, 0-based)
  filter    r(x,y) = sum_{u,v} k(u,v) p'(x+u, y+v), with taps outside the frame
            clamped to the nearest edge pixel
  threshold r > T, at least B px from every edge
  label     8- (or 4-) connected components, ordered by first pixel in raster order
  measure   area, centroid, cog weighted by r-T, volume, bbox; shift -0.5 for fedra6x6
  cuts      min_area <= area <= max_area, ids renumbered from 0

Usage:
  python3 classic_scipy.py --frame F.png --clusters F.clusters.csv [--mask F.mask.png]
      [--kernel fedra6x6|laplace3x3|ring5x5|hat5x5] [--threshold 30] [--border 4]
      [--min-area 2] [--max-area 64] [--connectivity 8|4] [--tolerance 0.01]
  python3 classic_scipy.py --dir OUT_DIR --frames-dir IMAGES_DIR [same options]
  python3 classic_scipy.py --self-test

Exit status: 0 = everything agrees, 1 = a disagreement, 2 = bad input.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import deque  # noqa: E402

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from frames import InputError, read_gray  # noqa: E402

TIE_TOL = 1e-3          # |r - T| <= this: a mask mismatch there is a tolerated rounding tie
VOLUME_REL_TOL = 1e-3   # relative volume tolerance
VOLUME_ABS_TOL = 1e-4   # plus this much absolute slack (the CSV prints 4 decimals)
CSV_COLUMNS = ["id", "x", "y", "area", "volume", "cog_x", "cog_y", "peak", "peak_x", "peak_y",
               "x0", "y0", "x1", "y1", "mxx", "mxy", "myy"]
MAX_REPORTED = 5        # how many differences to print


# ---------------------------------------------------------------------------
# Kernels: (weights[v_index, u_index], min offset, scale, centroid shift)
# Row index = y offset v, column index = x offset u; offsets run from min_off.
# ---------------------------------------------------------------------------

def _ring_kernel(n, ring, inner):
    k = np.full((n, n), float(inner))
    k[0, :] = k[-1, :] = k[:, 0] = k[:, -1] = ring
    return k


def make_kernel(name):
    """Return (weights float64 n x n, min_offset, scale, shift)."""
    if name == "fedra6x6":
        return _ring_kernel(6, 4.0, -5.0), -3, 1.0 / 12.0, -0.5
    if name == "laplace3x3":
        k = np.ones((3, 3))
        k[1, 1] = -8.0
        return k, -1, 1.0, 0.0
    if name == "ring5x5":
        k = _ring_kernel(5, 4.0, -7.0)
        k[2, 2] = -8.0
        return k, -2, 1.0, 0.0
    if name == "hat5x5":
        k = np.ones((5, 5))
        k[1:4, 1:4] = np.array([[-1.0, -2.0, -1.0],
                                [-2.0, -4.0, -2.0],
                                [-1.0, -2.0, -1.0]])
        return k, -2, 1.0, 0.0
    raise InputError(f"unknown kernel {name!r}")


KERNELS = ["fedra6x6", "laplace3x3", "ring5x5", "hat5x5"]


# ---------------------------------------------------------------------------
# Frame reading
# ---------------------------------------------------------------------------

def load_frame(path):
    """8/16-bit grayscale PNG or TIFF -> (pixel values float64 HxW, max_value)."""
    a, bits = read_gray(path)
    return a, 255.0 if bits == 8 else 65535.0


def load_mask(path, shape):
    from PIL import Image
    try:
        im = Image.open(path)
        im.load()
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{path}: cannot read mask: {e}") from e
    a = np.array(im)
    if a.ndim != 2:
        raise InputError(f"{path}: mask must be single-channel, got shape {a.shape}")
    if a.shape != shape:
        raise InputError(f"{path}: mask is {a.shape[1]}x{a.shape[0]}, "
                         f"frame is {shape[1]}x{shape[0]}")
    bad = np.setdiff1d(np.unique(a), [0, 255])
    if bad.size:
        raise InputError(f"{path}: mask has values other than 0/255 (e.g. {bad[:5].tolist()})")
    return a > 0


# ---------------------------------------------------------------------------
# Pipeline stages
# ---------------------------------------------------------------------------

def median_value(p):
    flat = np.asarray(p, dtype=np.float64).ravel()
    k = (flat.size - 1) // 2
    return float(np.partition(flat, k)[k])


def gain_for(median, max_value):
    if median * 255.0 / max_value >= 64.0:
        return 220.0 / median
    return 255.0 / max_value


def equalise(p, max_value):
    med = median_value(p)
    g = gain_for(med, max_value)
    return p * g, med, g


def correlate_offsets(img, weights, min_off):
    """r[y, x] = sum_{v,u} weights[v-min_off, u-min_off] * img[clamp(y+v), clamp(x+u)].

    scipy's correlate centres the kernel at index n//2 + origin and reads
    input[i + j - centre] for tap j, so tap j = 0 (offset min_off) needs
    centre = -min_off, i.e. origin = -min_off - n//2. Checked in the self-test
    against brute-force loops.
    """
    n_y, n_x = weights.shape
    origin = (-min_off - n_y // 2, -min_off - n_x // 2)
    return ndimage.correlate(np.asarray(img, dtype=np.float64), weights,
                             mode="nearest", origin=origin)


def filter_response(pe, kernel):
    weights, min_off, scale, _ = make_kernel(kernel)
    return correlate_offsets(pe, weights * scale, min_off)


def threshold_mask(r, t, border):
    h, w = r.shape
    on = r > t
    inside = np.zeros_like(on)
    if w > 2 * border and h > 2 * border:
        inside[border:h - border, border:w - border] = True
    return on & inside


def label_raster(on, connectivity):
    """Connected components numbered 1..n by first pixel in raster order."""
    structure = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    lab, n = ndimage.label(on, structure=structure)
    if n == 0:
        return lab, 0
    # Enforce raster order of first pixel (scipy already does this; the self-test checks it).
    flat = lab.ravel()
    idx = np.flatnonzero(flat)
    first = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, flat[idx], idx)
    order = np.argsort(first[1:], kind="stable") + 1     # old labels in raster order
    remap = np.zeros(n + 1, dtype=lab.dtype)
    remap[order] = np.arange(1, n + 1, dtype=lab.dtype)
    return remap[lab], n


def run_pipeline(p, max_value, kernel="fedra6x6", threshold=30.0, border=4,
                 min_area=2, max_area=64, connectivity=8):
    """Returns a dict with r, the kept clusters (list of dicts, in order) and the kept mask."""
    pe, med, g = equalise(p, max_value)
    r = filter_response(pe, kernel)
    shift = make_kernel(kernel)[3]
    on = threshold_mask(r, threshold, border)
    lab, n = label_raster(on, connectivity)
    clusters = []
    kept_mask = np.zeros(on.shape, bool)
    if n:
        ys, xs = np.nonzero(lab)
        ls = lab[ys, xs]
        wts = r[ys, xs] - threshold
        cx, cy = xs + 0.5, ys + 0.5
        area = np.bincount(ls, minlength=n + 1)
        sx = np.bincount(ls, cx, n + 1)
        sy = np.bincount(ls, cy, n + 1)
        vol = np.bincount(ls, wts, n + 1)
        wx = np.bincount(ls, wts * cx, n + 1)
        wy = np.bincount(ls, wts * cy, n + 1)
        slices = ndimage.find_objects(lab)
        keep = np.zeros(n + 1, bool)
        for lbl in range(1, n + 1):
            a = int(area[lbl])
            if not (min_area <= a <= max_area):
                continue
            keep[lbl] = True
            sl_y, sl_x = slices[lbl - 1]
            clusters.append({
                "id": len(clusters), "area": a,
                "x": sx[lbl] / a + shift, "y": sy[lbl] / a + shift,
                "cog_x": wx[lbl] / vol[lbl] + shift, "cog_y": wy[lbl] / vol[lbl] + shift,
                "volume": float(vol[lbl]),
                "x0": sl_x.start, "y0": sl_y.start, "x1": sl_x.stop, "y1": sl_y.stop,
            })
        kept_mask = keep[lab]
    return {"r": r, "median": med, "gain": g, "clusters": clusters, "mask": kept_mask,
            "on": on, "labels": lab}


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

def read_clusters_csv(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise InputError(f"{path}: {e}") from e
    if not rows:
        raise InputError(f"{path}: empty file (no header)")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: header lacks columns {missing}")
    col = {c: header.index(c) for c in CSV_COLUMNS}
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not v.strip() for v in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}:{lineno}: {len(row)} fields, header has {len(header)}")
        try:
            rec = {c: float(row[col[c]]) for c in ("x", "y", "volume", "cog_x", "cog_y")}
            for c in ("id", "area", "x0", "y0", "x1", "y1"):
                rec[c] = int(row[col[c]])
        except ValueError as e:
            raise InputError(f"{path}:{lineno}: {e}") from e
        out.append(rec)
    return out


def _near_tie(r, t, c):
    """Tie pixels (|r-T| <= TIE_TOL) in the cluster's bbox grown by 1 px."""
    h, w = r.shape
    y0, y1 = max(c["y0"] - 1, 0), min(c["y1"] + 1, h)
    x0, x1 = max(c["x0"] - 1, 0), min(c["x1"] + 1, w)
    if y1 <= y0 or x1 <= x0:
        return 0
    return int(np.count_nonzero(np.abs(r[y0:y1, x0:x1] - t) <= TIE_TOL))


def compare(frame_path, csv_path, mask_path, opts, out=print):
    """Checks one frame; returns (ok, n_tool, n_ref)."""
    p, max_value = load_frame(frame_path)
    got = read_clusters_csv(csv_path)
    res = run_pipeline(p, max_value, opts.kernel, opts.threshold, opts.border,
                       opts.min_area, opts.max_area, opts.connectivity)
    ref, r, t = res["clusters"], res["r"], opts.threshold
    tol = opts.tolerance
    diffs = []
    if len(got) != len(ref):
        diffs.append(f"cluster count: tool {len(got)}, reference {len(ref)}")
    max_dc = max_dg = max_dv = 0.0
    for i, (g, c) in enumerate(zip(got, ref)):
        why = []
        if g["id"] != i:
            why.append(f"id {g['id']} (expected {i})")
        if g["area"] != c["area"]:
            why.append(f"area {g['area']} vs {c['area']}")
        bb_g = (g["x0"], g["y0"], g["x1"], g["y1"])
        bb_c = (c["x0"], c["y0"], c["x1"], c["y1"])
        if bb_g != bb_c:
            why.append(f"bbox {bb_g} vs {bb_c}")
        dc = max(abs(g["x"] - c["x"]), abs(g["y"] - c["y"]))
        dg = max(abs(g["cog_x"] - c["cog_x"]), abs(g["cog_y"] - c["cog_y"]))
        dv = abs(g["volume"] - c["volume"])
        dv_rel = dv / max(abs(c["volume"]), 1e-300)
        if not why:   # only accumulate maxima over rows that describe the same cluster
            max_dc, max_dg, max_dv = max(max_dc, dc), max(max_dg, dg), max(max_dv, dv_rel)
        if dc > tol:
            why.append(f"centroid ({g['x']:.4f},{g['y']:.4f}) vs ({c['x']:.4f},{c['y']:.4f})")
        if dg > tol:
            why.append(f"cog ({g['cog_x']:.4f},{g['cog_y']:.4f}) vs "
                       f"({c['cog_x']:.4f},{c['cog_y']:.4f})")
        if dv > VOLUME_REL_TOL * abs(c["volume"]) + VOLUME_ABS_TOL:
            why.append(f"volume {g['volume']:.4f} vs {c['volume']:.4f}")
        if why:
            ties = _near_tie(r, t, c)
            note = f" [{ties} tie px near it]" if ties else ""
            diffs.append(f"row {i}: " + "; ".join(why) + note)
    mask_txt = "mask not checked"
    if mask_path is not None:
        m = load_mask(mask_path, res["mask"].shape)
        mism = m != res["mask"]
        n_mis = int(np.count_nonzero(mism))
        tie_px = mism & (np.abs(r - t) <= TIE_TOL)
        n_ties = int(np.count_nonzero(tie_px))
        mask_txt = f"mask mismatches {n_mis} ({n_ties} ties)"
        bad = mism & ~tie_px
        if bad.any():
            ys, xs = np.nonzero(bad)
            ex = ", ".join(f"({x},{y}) tool={int(m[y, x])} ref={int(res['mask'][y, x])} "
                           f"r={r[y, x]:.4f}" for y, x in zip(ys[:MAX_REPORTED], xs[:MAX_REPORTED]))
            diffs.append(f"mask: {int(bad.sum())} non-tie pixels differ, e.g. {ex}")
    ok = not diffs
    name = os.path.basename(frame_path)
    out(f"classic_scipy: {name} {opts.kernel} T={t:g} clusters {len(got)}/{len(ref)} "
        f"max|dcentroid|={max_dc:.1e} max|dcog|={max_dg:.1e} max|dvol|/vol={max_dv:.1e} "
        f"{mask_txt}" + ("" if ok else "  FAIL"))
    if not ok:
        inside = threshold_mask(np.full_like(r, np.inf), t, opts.border)
        n_ties_frame = int(np.count_nonzero((np.abs(r - t) <= TIE_TOL) & inside))
        out(f"  FAIL: {len(diffs)} difference(s); frame median {res['median']:g}, gain "
            f"{res['gain']:.6g}, {n_ties_frame} tie pixel(s) (|r-T|<={TIE_TOL:g}) inside the border")
        for d in diffs[:MAX_REPORTED]:
            out("  " + d)
        if len(diffs) > MAX_REPORTED:
            out(f"  ... {len(diffs) - MAX_REPORTED} more")
    return ok, len(got), len(ref)


def find_frame(images_dir, stem):
    for ext in (".png", ".tif", ".tiff", ".PNG", ".TIF", ".TIFF"):
        cand = os.path.join(images_dir, stem + ext)
        if os.path.isfile(cand):
            return cand
    return None


def compare_dir(out_dir, images_dir, opts, out=print):
    suffix = ".clusters.csv"
    try:
        names = sorted(n for n in os.listdir(out_dir) if n.endswith(suffix))
    except OSError as e:
        raise InputError(f"{out_dir}: {e}") from e
    if not names:
        raise InputError(f"{out_dir}: no *{suffix} files")
    n_ok = n_bad = n_err = tot_got = tot_ref = 0
    for n in names:
        stem = n[:-len(suffix)]
        frame = find_frame(images_dir, stem)
        if frame is None:
            out(f"classic_scipy: {stem}: no {stem}.png/.tif/.tiff in {images_dir}  ERROR")
            n_err += 1
            continue
        mask = os.path.join(out_dir, stem + ".mask.png")
        try:
            ok, ng, nr = compare(frame, os.path.join(out_dir, n),
                                 mask if os.path.isfile(mask) else None, opts, out)
        except InputError as e:
            out(f"classic_scipy: {stem}: {e}  ERROR")
            n_err += 1
            continue
        tot_got += ng
        tot_ref += nr
        n_ok += ok
        n_bad += not ok
    out(f"classic_scipy: total {len(names)} frames, {n_ok} agree, {n_bad} disagree, "
        f"{n_err} unreadable; clusters {tot_got}/{tot_ref}")
    if n_bad:
        return 1
    return 2 if n_err else 0


# ---------------------------------------------------------------------------
# Self-test (brute-force loop versions, written separately)
# ---------------------------------------------------------------------------

def _bf_kernel(name):
    """Kernels written out tap by tap from the contract, as {(u, v): weight}, scale."""
    taps = {}
    if name == "fedra6x6":
        for v in range(-3, 3):
            for u in range(-3, 3):
                taps[(u, v)] = -5.0 if (-2 <= u <= 1 and -2 <= v <= 1) else 4.0
        return taps, 1.0 / 12.0
    if name == "laplace3x3":
        for v in range(-1, 2):
            for u in range(-1, 2):
                taps[(u, v)] = -8.0 if (u, v) == (0, 0) else 1.0
        return taps, 1.0
    if name == "ring5x5":
        for v in range(-2, 3):
            for u in range(-2, 3):
                if (u, v) == (0, 0):
                    taps[(u, v)] = -8.0
                elif max(abs(u), abs(v)) == 1:
                    taps[(u, v)] = -7.0
                else:
                    taps[(u, v)] = 4.0
        return taps, 1.0
    if name == "hat5x5":
        for v in range(-2, 3):
            for u in range(-2, 3):
                if max(abs(u), abs(v)) == 2:
                    taps[(u, v)] = 1.0
                elif (u, v) == (0, 0):
                    taps[(u, v)] = -4.0
                elif abs(u) + abs(v) == 1:
                    taps[(u, v)] = -2.0
                else:
                    taps[(u, v)] = -1.0
        return taps, 1.0
    raise ValueError(name)


def _bf_filter_taps(pe, taps, scale):
    h, w = pe.shape
    r = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            s = 0.0
            for (u, v), k in taps.items():
                s += k * pe[min(max(y + v, 0), h - 1), min(max(x + u, 0), w - 1)]
            r[y, x] = s * scale
    return r


def _bf_label(on, connectivity):
    """BFS labelling, numbering components as their first pixel is met in raster order."""
    h, w = on.shape
    lab = np.zeros((h, w), int)
    nbrs = [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)]
    if connectivity == 4:
        nbrs = [(0, -1), (-1, 0), (1, 0), (0, 1)]
    n = 0
    for y in range(h):
        for x in range(w):
            if on[y, x] and not lab[y, x]:
                n += 1
                lab[y, x] = n
                q = deque([(x, y)])
                while q:
                    cx, cy = q.popleft()
                    for dx, dy in nbrs:
                        nx, ny = cx + dx, cy + dy
                        if 0 <= nx < w and 0 <= ny < h and on[ny, nx] and not lab[ny, nx]:
                            lab[ny, nx] = n
                            q.append((nx, ny))
    return lab, n


def _bf_pipeline(p, max_value, kernel, t, border, min_area, max_area, connectivity):
    vals = sorted(p.ravel().tolist())
    med = vals[(len(vals) - 1) // 2]
    gain = 220.0 / med if med * 255.0 / max_value >= 64.0 else 255.0 / max_value
    pe = p * gain
    taps, scale = _bf_kernel(kernel)
    r = _bf_filter_taps(pe, taps, scale)
    h, w = r.shape
    on = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            on[y, x] = r[y, x] > t and x >= border and y >= border and x + border < w and y + border < h
    lab, n = _bf_label(on, connectivity)
    shift = -0.5 if kernel == "fedra6x6" else 0.0
    out = []
    mask = np.zeros((h, w), bool)
    for lbl in range(1, n + 1):
        pix = [(x, y) for y in range(h) for x in range(w) if lab[y, x] == lbl]
        a = len(pix)
        if not (min_area <= a <= max_area):
            continue
        ws = [r[y, x] - t for x, y in pix]
        vol = sum(ws)
        out.append({
            "id": len(out), "area": a,
            "x": sum(x + 0.5 for x, _ in pix) / a + shift,
            "y": sum(y + 0.5 for _, y in pix) / a + shift,
            "cog_x": sum(wt * (x + 0.5) for wt, (x, _) in zip(ws, pix)) / vol + shift,
            "cog_y": sum(wt * (y + 0.5) for wt, (_, y) in zip(ws, pix)) / vol + shift,
            "volume": vol,
            "x0": min(x for x, _ in pix), "y0": min(y for _, y in pix),
            "x1": max(x for x, _ in pix) + 1, "y1": max(y for _, y in pix) + 1,
        })
        for x, y in pix:
            mask[y, x] = True
    return r, out, mask


def _write_csv(path, clusters):
    with open(path, "w") as f:
        f.write(",".join(CSV_COLUMNS) + "\n")
        for c in clusters:
            f.write(f"{c['id']},{c['x']:.4f},{c['y']:.4f},{c['area']},{c['volume']:.4f},"
                    f"{c['cog_x']:.4f},{c['cog_y']:.4f},0.0000,0.0000,0.0000,"
                    f"{c['x0']},{c['y0']},{c['x1']},{c['y1']},0.0000,0.0000,0.0000\n")


def _save_png(path, a, bits):
    from PIL import Image
    if bits == 8:
        Image.fromarray(a.astype(np.uint8), mode="L").save(path)
    else:
        Image.fromarray(a.astype(np.uint16)).save(path)


def _grain_frame(rng, w, h, bits, n_grains, bg, dark):
    """Background `bg` with noise and dark Gaussian grains of depth `dark` (in 8-bit units)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w), float(bg)) + rng.normal(0, 4, (h, w))
    for _ in range(n_grains):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        s = rng.uniform(0.8, 2.0)
        img -= dark * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    img = np.clip(np.round(img), 0, 255)
    if bits == 16:
        img = np.clip(np.round(img * 257 + rng.integers(0, 257, (h, w))), 0, 65535)
    return img


def self_test():
    rng = np.random.default_rng(12345)
    checks = []

    def ok(name, cond, detail=""):
        checks.append((name, bool(cond)))
        print(f"  {'ok  ' if cond else 'FAIL'} {name}" + (f"  ({detail})" if detail else ""))

    print("classic_scipy self-test")

    # 1. Kernel tables equal the contract written tap by tap; each kernel sums to zero.
    for name in KERNELS:
        weights, min_off, scale, _ = make_kernel(name)
        taps, bscale = _bf_kernel(name)
        n = weights.shape[0]
        same = scale == bscale and len(taps) == n * n and all(
            weights[v - min_off, u - min_off] == k for (u, v), k in taps.items())
        ok(f"kernel table {name} ({n}x{n}, offsets {min_off}..{min_off + n - 1}, sum 0)",
           same and weights.sum() == 0.0)

    # 2. Single-tap orientation and origin: tap (u,v) must read p'(x+u, y+v), edges clamped.
    img = rng.normal(size=(9, 11))
    worst = 0.0
    for n, min_off in ((6, -3), (3, -1), (5, -2)):
        for v in range(min_off, min_off + n):
            for u in range(min_off, min_off + n):
                k = np.zeros((n, n))
                k[v - min_off, u - min_off] = 1.0
                r = correlate_offsets(img, k, min_off)
                yy = np.clip(np.arange(9)[:, None] + v, 0, 8)
                xx = np.clip(np.arange(11)[None, :] + u, 0, 10)
                worst = max(worst, float(np.abs(r - img[yy, xx]).max()))
    k = np.zeros((6, 6))
    k[0, 0] = 1.0
    r = correlate_offsets(img, k, -3)
    ok("single taps: tap (u,v) reads p'(clamp(x+u), clamp(y+v)) for all 6x6/5x5/3x3 taps",
       worst == 0.0 and r[5, 7] == img[2, 4] and r[0, 0] == img[0, 0] and r[1, 8] == img[0, 5],
       "tap (-3,-3): r(7,5)=p'(4,2), r(0,0)=p'(0,0) clamped")

    # 3. Whole filter vs brute-force loops: all kernels, small odd/even/tiny frames, 8 and 16 bit.
    worst = 0.0
    for bits in (8, 16):
        mx = 255 if bits == 8 else 65535
        for (h, w) in ((1, 1), (2, 3), (5, 4), (7, 9), (13, 11)):
            p = rng.integers(0, mx + 1, (h, w)).astype(np.float64)
            pe, _, _ = equalise(p, float(mx))
            for name in KERNELS:
                taps, scale = _bf_kernel(name)
                r = filter_response(pe, name)
                ref = _bf_filter_taps(pe, taps, scale)
                worst = max(worst, float(np.abs(r - ref).max() / max(1.0, np.abs(ref).max())))
    ok("filter == brute-force loops (4 kernels, 8/16-bit, frames 1x1..13x11, edge clamp)",
       worst < 1e-12, f"max rel diff {worst:.1e}")

    # 4. Median rule and gain.
    good = True
    for n in (1, 2, 3, 4, 10, 11, 100, 101):
        v = rng.integers(0, 50, n).astype(float)
        good &= median_value(v) == sorted(v.tolist())[(n - 1) // 2]
    good &= median_value(np.array([4.0, 1.0, 3.0, 2.0])) == 2.0     # lower median for even N
    good &= median_value(np.array([[7.0, 1.0], [5.0, 3.0], [9.0, 2.0]])) == 3.0
    ok("median = floor((N-1)/2)-th smallest (even N takes the lower one)", good)
    g_ok = (gain_for(63.0, 255.0) == 1.0 and gain_for(64.0, 255.0) == 220.0 / 64.0
            and gain_for(200.0, 255.0) == 1.1
            and gain_for(16448.0, 65535.0) == 220.0 / 16448.0        # 16448*255/65535 = 64 exactly
            and gain_for(16447.0, 65535.0) == 255.0 / 65535.0)
    ok("gain: 220/median if median*255/max >= 64 else 255/max (8 and 16 bit, at the edge)", g_ok)

    # 5. Labelling order: scipy's own numbering and ours vs BFS in raster order.
    scipy_raster = ours_ok = True
    for trial in range(60):
        h, w = rng.integers(1, 25, 2)
        on = rng.random((h, w)) < rng.uniform(0.1, 0.6)
        for conn in (8, 4):
            ref, nref = _bf_label(on, conn)
            st = np.ones((3, 3), bool) if conn == 8 else ndimage.generate_binary_structure(2, 1)
            raw, nraw = ndimage.label(on, structure=st)
            scipy_raster &= nraw == nref and np.array_equal(raw, ref)
            lab, n = label_raster(on, conn)
            ours_ok &= n == nref and np.array_equal(lab, ref)
    ok("scipy.ndimage.label numbers components in raster order of first pixel", scipy_raster)
    ok("label_raster == BFS raster-order labelling (8- and 4-connected, 60 random masks)", ours_ok)
    diag = np.array([[1, 0], [0, 1]], bool)
    ok("diagonal pair: 1 component 8-connected, 2 components 4-connected",
       label_raster(diag, 8)[1] == 1 and label_raster(diag, 4)[1] == 2)

    # 6. Hand-made case: 30x30 of 200, 4x4 block of 100 at x,y in 10..13.
    p = np.full((30, 30), 200.0)
    p[10:14, 10:14] = 100.0
    res = run_pipeline(p, 255.0)
    r12 = res["r"][12, 12]
    cl = res["clusters"]
    ok("hand-made: median 200, gain 1.1", res["median"] == 200.0 and res["gain"] == 1.1)
    ok("hand-made: r(12,12) = (20*4*220 - 16*5*110)/12 = 733.333",
       abs(r12 - 8800.0 / 12.0) < 1e-9, f"r={r12:.6f}")
    ok("hand-made: one cluster, cog (12.0, 12.0) and centroid (12.0, 12.0) after -0.5 shift",
       len(cl) == 1 and abs(cl[0]["cog_x"] - 12.0) < 1e-9 and abs(cl[0]["cog_y"] - 12.0) < 1e-9
       and abs(cl[0]["x"] - 12.0) < 1e-9 and abs(cl[0]["y"] - 12.0) < 1e-9,
       (f"area {cl[0]['area']}, bbox x {cl[0]['x0']}..{cl[0]['x1']} y {cl[0]['y0']}..{cl[0]['y1']}, "
        f"volume {cl[0]['volume']:.3f}") if cl else "no cluster")

    # 7. Whole pipeline vs the loop version on grain-like frames (kernels, connectivity, bits).
    worst = 0.0
    good = True
    n_cl = 0
    cases = [("fedra6x6", 8, 8, 30.0), ("fedra6x6", 4, 16, 30.0), ("laplace3x3", 8, 8, 60.0),
             ("ring5x5", 8, 16, 300.0), ("hat5x5", 4, 8, 60.0)]
    for kernel, conn, bits, t in cases:
        mx = 255.0 if bits == 8 else 65535.0
        p = _grain_frame(rng, 41, 33, bits, 14, 180, 90)
        res = run_pipeline(p, mx, kernel, t, 4, 2, 64, conn)
        _, ref, ref_mask = _bf_pipeline(p, mx, kernel, t, 4, 2, 64, conn)
        good &= len(res["clusters"]) == len(ref) and np.array_equal(res["mask"], ref_mask)
        n_cl += len(ref)
        for a, b in zip(res["clusters"], ref):
            for key in ("id", "area", "x0", "y0", "x1", "y1"):
                good &= a[key] == b[key]
            for key in ("x", "y", "cog_x", "cog_y", "volume"):
                worst = max(worst, abs(a[key] - b[key]) / max(1.0, abs(b[key])))
    ok("pipeline == loop pipeline on grain frames (5 kernel/connectivity/bit cases)",
       good and worst < 1e-9 and n_cl > 10, f"{n_cl} clusters, max rel diff {worst:.1e}")
    p = _grain_frame(rng, 41, 33, 8, 14, 180, 90)
    a = run_pipeline(p, 255.0, border=0, min_area=1, max_area=10 ** 6)
    b = run_pipeline(p, 255.0, border=6, min_area=3, max_area=8)
    on6 = a["on"].copy()
    on6[:6, :] = on6[-6:, :] = on6[:, :6] = on6[:, -6:] = False
    ok("border and area cuts: B=6 removes exactly the 6-px rim; kept areas in 3..8",
       np.array_equal(b["on"], on6) and all(3 <= c["area"] <= 8 for c in b["clusters"])
       and [c["id"] for c in b["clusters"]] == list(range(len(b["clusters"]))))

    # 8. File reading and the CLI end to end (pass and fail cases), single frame and --dir.
    me = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as td:
        from PIL import Image
        good = True
        for bits in (8, 16):
            a = rng.integers(0, 256 if bits == 8 else 65536, (7, 5))
            for ext in ("png", "tif"):
                f = os.path.join(td, f"rt{bits}.{ext}")
                _save_png(f, a, bits)
                got, mx = load_frame(f)
                good &= np.array_equal(got, a.astype(float)) and mx == (255.0 if bits == 8 else 65535.0)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8), mode="RGB").save(os.path.join(td, "rgb.png"))
        try:
            load_frame(os.path.join(td, "rgb.png"))
            good = False
        except InputError:
            pass
        ok("load_frame: 8/16-bit PNG and TIFF round-trip, RGB rejected", good)

        imgs, outd = os.path.join(td, "images"), os.path.join(td, "out")
        os.makedirs(imgs)
        os.makedirs(outd)
        frames = {}
        for stem, bits in (("f8", 8), ("f16", 16)):
            p = _grain_frame(rng, 64, 48, bits, 25, 180, 90)
            _save_png(os.path.join(imgs, stem + ".png"), p, bits)
            _, ref, ref_mask = _bf_pipeline(p, 255.0 if bits == 8 else 65535.0,
                                            "fedra6x6", 30.0, 4, 2, 64, 8)
            _write_csv(os.path.join(outd, stem + ".clusters.csv"), ref)
            _save_png(os.path.join(outd, stem + ".mask.png"), ref_mask * 255, 8)
            frames[stem] = ref

        def cli(*args):
            # The files above were made at T = 30.
            pr = subprocess.run([sys.executable, me, "--threshold", "30", *args], capture_output=True, text=True)
            return pr.returncode, (pr.stdout + pr.stderr).strip()

        f8 = [os.path.join(imgs, "f8.png"), os.path.join(outd, "f8.clusters.csv"),
              os.path.join(outd, "f8.mask.png")]
        rc, txt = cli("--frame", f8[0], "--clusters", f8[1], "--mask", f8[2])
        print("    " + txt.splitlines()[0] if txt else "    (no output)")
        ok("CLI: matching 8-bit frame, CSV and mask -> exit 0", rc == 0 and len(frames["f8"]) > 5,
           f"{len(frames['f8'])} clusters")
        rc, txt = cli("--dir", outd, "--frames-dir", imgs)
        print("    " + txt.splitlines()[-1] if txt else "    (no output)")
        ok("CLI --dir: both frames (8 and 16 bit) agree -> exit 0", rc == 0)

        bad = [dict(c) for c in frames["f8"]]
        bad[3]["cog_x"] += 0.02
        bad_csv = os.path.join(td, "bad.csv")
        _write_csv(bad_csv, bad)
        rc, _ = cli("--frame", f8[0], "--clusters", bad_csv)
        ok("CLI: cog off by 0.02 px -> exit 1", rc == 1)
        _write_csv(bad_csv, frames["f8"][:-1])
        rc, _ = cli("--frame", f8[0], "--clusters", bad_csv)
        ok("CLI: one cluster missing -> exit 1", rc == 1)
        bad = [dict(c) for c in frames["f8"]]
        bad[0]["volume"] *= 1.01
        _write_csv(bad_csv, bad)
        rc, _ = cli("--frame", f8[0], "--clusters", bad_csv)
        ok("CLI: volume off by 1% -> exit 1", rc == 1)
        m = np.array(Image.open(f8[2]))
        m[0, 0] = 255 - m[0, 0]            # inside the border: never a tie, always wrong
        bad_mask = os.path.join(td, "bad.mask.png")
        _save_png(bad_mask, m, 8)
        rc, _ = cli("--frame", f8[0], "--clusters", f8[1], "--mask", bad_mask)
        ok("CLI: one flipped mask pixel -> exit 1", rc == 1)
        rc, _ = cli("--frame", f8[0], "--clusters", f8[1], "--kernel", "laplace3x3")
        ok("CLI: wrong kernel -> exit 1", rc == 1)
        rc, _ = cli("--frame", os.path.join(td, "rgb.png"), "--clusters", f8[1])
        ok("CLI: RGB frame -> exit 2", rc == 2)

    n_fail = sum(not c for _, c in checks)
    print(f"classic_scipy self-test: {len(checks) - n_fail}/{len(checks)} checks passed"
          + ("" if n_fail == 0 else f", {n_fail} FAILED"))
    return 0 if n_fail == 0 else 1


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frame")
    ap.add_argument("--clusters")
    ap.add_argument("--mask")
    ap.add_argument("--dir", help="emunet classic --out folder (<stem>.clusters.csv, <stem>.mask.png)")
    ap.add_argument("--frames-dir", help="folder with <stem>.png (or .tif/.tiff)")
    ap.add_argument("--kernel", default="fedra6x6", choices=KERNELS)
    ap.add_argument("--threshold", type=float, default=50.0, help="fixed threshold (emunet classic default: 50)")
    ap.add_argument("--border", type=int, default=4)
    ap.add_argument("--min-area", type=int, default=2)
    ap.add_argument("--max-area", type=int, default=64)
    ap.add_argument("--connectivity", type=int, default=8, choices=[4, 8])
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    try:
        if a.dir or a.frames_dir:
            if not (a.dir and a.frames_dir):
                ap.error("--dir and --frames-dir go together")
            return compare_dir(a.dir, a.frames_dir, a)
        if not (a.frame and a.clusters):
            ap.error("need --frame and --clusters (or --dir/--frames-dir, or --self-test)")
        ok, _, _ = compare(a.frame, a.clusters, a.mask, a)
        return 0 if ok else 1
    except InputError as e:
        print(f"classic_scipy: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
