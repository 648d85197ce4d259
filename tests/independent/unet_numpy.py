#!/usr/bin/env python3
"""Independent float64 numpy reference of the emunet U-Net ("emunet-unet/1").

Written from the network contract only (no code shared with the Rust/WGSL
engine, no safetensors package), to cross-check emunet's probability map and
mask for one frame.

Usage:
  python3 unet_numpy.py --weights W.safetensors --frame F.png \
      [--prob P.npy] [--mask M.png] [--threshold T] [--save-prob OUT.npy]
  python3 unet_numpy.py --self-test [--bench]
  python3 unet_numpy.py --make-weights OUT.safetensors --depth D --base-channels C [--seed S]
  python3 unet_numpy.py --make-frame OUT.png --width W --height H [--bits 8|16] [--seed S]

Exit status for a comparison run: 0 when max|dprob| <= 1e-4 and every mask
mismatch has a reference probability within 1e-4 of the threshold, else 1.
Usage / input errors exit 2.
"""

import argparse
import json
import math
import os
import struct
import sys
import tempfile
import time

import numpy as np

from frames import InputError, read_gray

FORMAT = "emunet-unet/1"
PROB_TOL = 1e-4      # (printed as "1e-4" in the summary) max allowed |prob_emunet - prob_reference|
THR_TOL = 1e-4       # a mask mismatch is a tolerated tie if |p_ref - thr| <= this
NORM_EPS = 1e-6


# ---------------------------------------------------------------------------
# safetensors (hand-written reader / writer)
# ---------------------------------------------------------------------------

def read_safetensors(path):
    """Return (tensors: dict name -> float64 ndarray, metadata: dict str->str)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise InputError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise InputError(f"{path}: header length {n} exceeds file size {len(blob)}")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: bad JSON header: {e}") from e
    if not isinstance(header, dict):
        raise InputError(f"{path}: header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise InputError(f"{path}: __metadata__ is not an object")
    tensors = {}
    for name, info in header.items():
        try:
            dtype = info["dtype"]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{path}: tensor {name!r}: malformed entry {info!r}") from e
        if dtype != "F32":
            raise InputError(f"{path}: tensor {name!r}: dtype {dtype}, expected F32")
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= len(data)) or end - begin != 4 * count:
            raise InputError(
                f"{path}: tensor {name!r}: offsets [{begin},{end}) do not fit shape "
                f"{shape} (F32) in a {len(data)}-byte data section")
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        tensors[name] = arr.astype(np.float64)
    return tensors, {str(k): str(v) for k, v in meta.items()}


def write_safetensors(path, tensors, metadata=None):
    """Test helper: write float32 tensors (dict name -> ndarray) + metadata."""
    header = {}
    chunks = []
    off = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)


def expected_shapes(depth, c):
    """Contract: tensor name -> shape for a depth-D, base-C network."""
    s = {}
    cin = 1
    for l in range(depth):
        co = c << l
        s[f"enc{l}.conv1.weight"] = (co, cin, 3, 3)
        s[f"enc{l}.conv1.bias"] = (co,)
        s[f"enc{l}.conv2.weight"] = (co, co, 3, 3)
        s[f"enc{l}.conv2.bias"] = (co,)
        cin = co
    cb = c << depth
    s["bottleneck.conv1.weight"] = (cb, cin, 3, 3)
    s["bottleneck.conv1.bias"] = (cb,)
    s["bottleneck.conv2.weight"] = (cb, cb, 3, 3)
    s["bottleneck.conv2.bias"] = (cb,)
    for l in range(depth - 1, -1, -1):
        co = c << l
        ci = co * 2
        s[f"dec{l}.up.weight"] = (ci, co, 2, 2)
        s[f"dec{l}.up.bias"] = (co,)
        s[f"dec{l}.conv1.weight"] = (co, 2 * co, 3, 3)
        s[f"dec{l}.conv1.bias"] = (co,)
        s[f"dec{l}.conv2.weight"] = (co, co, 3, 3)
        s[f"dec{l}.conv2.bias"] = (co,)
    s["head.weight"] = (1, c, 1, 1)
    s["head.bias"] = (1,)
    return s


def load_model(path):
    """Read + validate a weights file. Returns (params, depth, C, threshold-or-None, normalization)."""
    tensors, meta = read_safetensors(path)
    fmt = meta.get("format")
    if fmt is not None and fmt != FORMAT:
        raise InputError(f"{path}: metadata format={fmt!r}, expected {FORMAT!r}")
    norm = meta.get("normalization", "zscore")
    if norm not in ("zscore", "median"):
        raise InputError(f"{path}: metadata normalization={norm!r}, only 'zscore' and 'median' are defined")
    # depth / base channels: from metadata, cross-checked against the tensors.
    inferred_d = 0
    while f"enc{inferred_d}.conv1.weight" in tensors:
        inferred_d += 1
    inferred_c = tensors["enc0.conv1.weight"].shape[0] if inferred_d else None
    try:
        depth = int(meta["depth"]) if "depth" in meta else inferred_d
        c = int(meta["base_channels"]) if "base_channels" in meta else inferred_c
    except ValueError as e:
        raise InputError(f"{path}: bad depth/base_channels metadata: {e}") from e
    if not depth or not c or depth < 1 or c < 1:
        raise InputError(f"{path}: cannot determine depth/base_channels")
    if depth != inferred_d or c != inferred_c:
        raise InputError(f"{path}: metadata says D={depth} C={c} but tensors imply "
                         f"D={inferred_d} C={inferred_c}")
    exp = expected_shapes(depth, c)
    missing = [k for k in exp if k not in tensors]
    if missing:
        raise InputError(f"{path}: missing tensors: {', '.join(missing)}")
    bad = [f"{k} {list(tensors[k].shape)} (expected {list(exp[k])})"
           for k in exp if tuple(tensors[k].shape) != exp[k]]
    if bad:
        raise InputError(f"{path}: wrong shapes: " + "; ".join(bad))
    extra = sorted(set(tensors) - set(exp))
    if extra:
        print(f"unet_numpy: warning: ignoring unexpected tensors: {', '.join(extra)}",
              file=sys.stderr)
    thr = None
    if "threshold" in meta:
        try:
            thr = float(meta["threshold"])
        except ValueError as e:
            raise InputError(f"{path}: bad threshold metadata {meta['threshold']!r}") from e
    for k in exp:
        if not np.all(np.isfinite(tensors[k])):
            raise InputError(f"{path}: tensor {k} has non-finite values")
    return tensors, depth, c, thr, norm


def random_params(depth, c, seed=0):
    """He-normal random weights (float32-representable), small random biases."""
    rng = np.random.default_rng(seed)
    p = {}
    for name, shape in expected_shapes(depth, c).items():
        if name.endswith(".bias"):
            p[name] = rng.normal(0.0, 0.05, size=shape)
        elif ".up." in name:
            fan_in = shape[0]          # [in,out,2,2]: each output sees `in` values
            p[name] = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
        else:
            fan_in = shape[1] * shape[2] * shape[3]
            p[name] = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    return {k: v.astype(np.float32).astype(np.float64) for k, v in p.items()}


def make_weights_file(path, depth, c, seed=0, threshold="0.5"):
    params = random_params(depth, c, seed)
    write_safetensors(path, params, {
        "format": FORMAT, "depth": str(depth), "base_channels": str(c),
        "normalization": "zscore", "threshold": str(threshold)})
    return params


# ---------------------------------------------------------------------------
# image I/O
# ---------------------------------------------------------------------------

def load_frame(path):
    """Grayscale 8/16-bit PNG or TIFF -> (p float64 in [0,1] HxW, bits)."""
    a, bits = read_gray(path)
    return a / (255.0 if bits == 8 else 65535.0), bits


def load_mask_png(path):
    from PIL import Image
    try:
        im = Image.open(path)
        im.load()
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{path}: cannot read mask: {e}") from e
    if im.mode not in ("L", "1"):
        raise InputError(f"{path}: mask mode {im.mode!r}; expected 8-bit gray (0/255)")
    a = np.array(im)
    if im.mode == "L":
        vals = np.unique(a)
        if not set(vals.tolist()) <= {0, 255}:
            print(f"unet_numpy: warning: mask {path} has values other than 0/255 "
                  f"({vals[:8].tolist()}...); treating nonzero as foreground", file=sys.stderr)
    return a != 0


# ---------------------------------------------------------------------------
# building blocks (fast, float64)
# ---------------------------------------------------------------------------

def zscore(p):
    m = p.mean()
    s = p.std()                     # population std (ddof=0)
    return (p - m) / (s + NORM_EPS)


def median_gl(p):
    """'median' rule: 255·(p − median)/32, the median being the ⌊(N−1)/2⌋-th smallest value."""
    flat = np.sort(p, axis=None)
    return (p - flat[(flat.size - 1) // 2]) * (255.0 / 32.0)


def reflect_pad(x, mult):
    """Pad HxW bottom/right by reflection (no edge repeat) to multiples of `mult`."""
    h, w = x.shape
    ph = (-h) % mult
    pw = (-w) % mult
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, ph), (0, pw)), mode="reflect")


def conv3x3(x, w, b, relu=True):
    """Cross-correlation, zero 'same' padding. x [Cin,H,W], w [Cout,Cin,3,3], b [Cout].

    Sum over the 9 taps of W[:,:,ky,kx] @ shifted(x). The shifted inputs are
    taken as contiguous windows of a zero-padded, flattened image of row
    pitch W+2 (so no per-tap copy); the 2 extra columns per row are garbage
    and are dropped at the end.
    """
    cin, h, wd = x.shape
    cout = w.shape[0]
    assert w.shape == (cout, cin, 3, 3), (w.shape, x.shape)
    wp = wd + 2
    xp = np.zeros((cin, h + 3, wp))   # 1 top, 2 bottom rows (slack for the last taps)
    xp[:, 1:h + 1, 1:wd + 1] = x
    flat = xp.reshape(cin, (h + 3) * wp)
    n = h * wp
    acc = np.zeros((cout, n))
    tmp = np.empty((cout, n))
    for ky in range(3):
        for kx in range(3):
            s = ky * wp + kx
            np.matmul(w[:, :, ky, kx], flat[:, s:s + n], out=tmp)
            acc += tmp
    del tmp, xp, flat
    out = acc.reshape(cout, h, wp)[:, :, :wd] + b[:, None, None]
    if relu:
        np.maximum(out, 0.0, out=out)
    return out


def conv1x1(x, w, b):
    cin, h, wd = x.shape
    out = w.reshape(w.shape[0], cin) @ x.reshape(cin, h * wd)
    return out.reshape(w.shape[0], h, wd) + b[:, None, None]


def maxpool2(x):
    c, h, w = x.shape
    assert h % 2 == 0 and w % 2 == 0
    return x.reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))


def upconv2x2(x, w, b):
    """ConvTranspose2d k=2 s=2: out[co,2i+a,2j+b] = bias[co] + sum_ci x[ci,i,j] W[ci,co,a,b]."""
    cin, h, wd = x.shape
    cout = w.shape[1]
    assert w.shape == (cin, cout, 2, 2)
    y = w.reshape(cin, cout * 4).T @ x.reshape(cin, h * wd)      # [(co,a,b), (i,j)]
    y = y.reshape(cout, 2, 2, h, wd).transpose(0, 3, 1, 4, 2)    # [co, i, a, j, b]
    return y.reshape(cout, 2 * h, 2 * wd) + b[:, None, None]


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def forward_logits(p, params, depth, ops=None, norm="zscore"):
    """p: HxW float64 in [0,1]. Returns HxW float64 logits (cropped back)."""
    if ops is None:
        ops = dict(conv3x3=conv3x3, conv1x1=conv1x1, maxpool2=maxpool2,
                   upconv2x2=upconv2x2, reflect_pad=reflect_pad, zscore=zscore)
    h, w = p.shape
    x = median_gl(p) if norm == "median" else ops["zscore"](p)
    x = ops["reflect_pad"](x, 1 << depth)[None, :, :]
    skips = []
    for l in range(depth):
        x = ops["conv3x3"](x, params[f"enc{l}.conv1.weight"], params[f"enc{l}.conv1.bias"])
        x = ops["conv3x3"](x, params[f"enc{l}.conv2.weight"], params[f"enc{l}.conv2.bias"])
        skips.append(x)
        x = ops["maxpool2"](x)
    x = ops["conv3x3"](x, params["bottleneck.conv1.weight"], params["bottleneck.conv1.bias"])
    x = ops["conv3x3"](x, params["bottleneck.conv2.weight"], params["bottleneck.conv2.bias"])
    for l in range(depth - 1, -1, -1):
        up = ops["upconv2x2"](x, params[f"dec{l}.up.weight"], params[f"dec{l}.up.bias"])
        x = np.concatenate([skips[l], up], axis=0)
        skips[l] = None
        del up
        x = ops["conv3x3"](x, params[f"dec{l}.conv1.weight"], params[f"dec{l}.conv1.bias"])
        x = ops["conv3x3"](x, params[f"dec{l}.conv2.weight"], params[f"dec{l}.conv2.bias"])
    logit = ops["conv1x1"](x, params["head.weight"], params["head.bias"])[0]
    return logit[:h, :w]


def forward_prob(p, params, depth, norm="zscore"):
    return sigmoid(forward_logits(p, params, depth, norm=norm))


# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------

def compare(prob, thr, depth, c, emu_prob=None, emu_mask=None, prob_path="", mask_path=""):
    """Returns (ok, summary line, list of failure messages)."""
    h, w = prob.shape
    parts = [f"unet_numpy: D={depth} C={c} frame={w}x{h}"]
    fails = []
    if emu_prob is not None:
        if emu_prob.shape != prob.shape:
            fails.append(f"prob {prob_path}: shape {emu_prob.shape} != frame shape {prob.shape}")
            parts.append("max|dprob|=n/a (shape mismatch)")
        else:
            d = np.abs(emu_prob.astype(np.float64) - prob)
            over = ~(d <= PROB_TOL)                 # NaN counts as a failure
            dmax = float(np.max(d))
            n_over = int(over.sum())
            parts.append(f"max|dprob|={dmax:.1e} ({n_over} px > 1e-4)")
            if n_over or not (dmax <= PROB_TOL):
                iy, ix = np.unravel_index(int(np.nanargmax(np.where(np.isnan(d), np.inf, d))),
                                          d.shape)
                fails.append(f"prob differs from reference: max|dprob|={dmax:.3e} > {PROB_TOL:g} "
                             f"in {n_over} px; worst at (y={iy},x={ix}): emunet="
                             f"{float(emu_prob[iy, ix]):.7g} reference={prob[iy, ix]:.7g}")
    if emu_mask is not None:
        if emu_mask.shape != prob.shape:
            fails.append(f"mask {mask_path}: shape {emu_mask.shape} != frame shape {prob.shape}")
            parts.append("mask mismatches=n/a (shape mismatch)")
        else:
            ref_mask = prob >= thr
            diff = ref_mask != emu_mask
            n_diff = int(diff.sum())
            at_thr = diff & (np.abs(prob - thr) <= THR_TOL)
            n_at = int(at_thr.sum())
            parts.append(f"mask mismatches={n_diff} ({n_at} at threshold)")
            if n_diff != n_at:
                ys, xs = np.nonzero(diff & ~at_thr)
                ex = ", ".join(f"(y={y},x={x}) ref p={prob[y, x]:.6f} emunet={int(emu_mask[y, x])}"
                               for y, x in list(zip(ys, xs))[:5])
                fails.append(f"mask differs from reference (threshold {thr:g}) at {n_diff - n_at} px "
                             f"not within {THR_TOL:g} of the threshold; e.g. {ex}")
    return not fails, " ".join(parts), fails


def run_compare(args):
    params, depth, c, file_thr, norm = load_model(args.weights)
    thr = args.threshold if args.threshold is not None else (
        file_thr if file_thr is not None else 0.5)
    p, _bits = load_frame(args.frame)
    prob = forward_prob(p, params, depth, norm)
    if args.save_prob:
        np.save(args.save_prob, prob)
    emu_prob = None
    if args.prob:
        try:
            emu_prob = np.load(args.prob, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{args.prob}: cannot load .npy: {e}") from e
        if emu_prob.ndim != 2:
            raise InputError(f"{args.prob}: expected a 2-D HxW array, got shape {emu_prob.shape}")
    emu_mask = load_mask_png(args.mask) if args.mask else None
    ok, line, fails = compare(prob, thr, depth, c, emu_prob, emu_mask, args.prob, args.mask)
    print(line)
    for f in fails:
        print(f"unet_numpy: FAIL: {f}")
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# self-test: brute-force loop versions of every building block
# ---------------------------------------------------------------------------

def bf_conv3x3(x, w, b, relu=True):
    cin, h, wd = x.shape
    cout = w.shape[0]
    out = np.zeros((cout, h, wd))
    for co in range(cout):
        for y in range(h):
            for xx in range(wd):
                s = b[co]
                for ci in range(cin):
                    for ky in range(3):
                        for kx in range(3):
                            iy, ix = y + ky - 1, xx + kx - 1
                            if 0 <= iy < h and 0 <= ix < wd:
                                s += w[co, ci, ky, kx] * x[ci, iy, ix]
                out[co, y, xx] = max(s, 0.0) if relu else s
    return out


def bf_conv1x1(x, w, b):
    cin, h, wd = x.shape
    out = np.zeros((w.shape[0], h, wd))
    for co in range(w.shape[0]):
        for y in range(h):
            for xx in range(wd):
                out[co, y, xx] = b[co] + sum(w[co, ci, 0, 0] * x[ci, y, xx] for ci in range(cin))
    return out


def bf_maxpool2(x):
    c, h, w = x.shape
    out = np.zeros((c, h // 2, w // 2))
    for ch in range(c):
        for i in range(h // 2):
            for j in range(w // 2):
                out[ch, i, j] = max(x[ch, 2 * i + a, 2 * j + bb] for a in (0, 1) for bb in (0, 1))
    return out


def bf_upconv2x2(x, w, b):
    cin, h, wd = x.shape
    cout = w.shape[1]
    out = np.zeros((cout, 2 * h, 2 * wd))
    for co in range(cout):
        for i in range(h):
            for j in range(wd):
                for a in range(2):
                    for bb in range(2):
                        out[co, 2 * i + a, 2 * j + bb] = b[co] + sum(
                            x[ci, i, j] * w[ci, co, a, bb] for ci in range(cin))
    return out


def bf_reflect_index(i, n):
    """Index into a length-n axis for position i >= 0 under edge-exclusive reflection."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    m = i % period
    return m if m < n else period - m


def bf_reflect_pad(x, mult):
    h, w = x.shape
    hh = -(-h // mult) * mult
    ww = -(-w // mult) * mult
    out = np.zeros((hh, ww))
    for y in range(hh):
        for xx in range(ww):
            out[y, xx] = x[bf_reflect_index(y, h), bf_reflect_index(xx, w)]
    return out


def bf_zscore(p):
    vals = [float(v) for v in p.ravel()]
    n = len(vals)
    m = math.fsum(vals) / n
    sd = math.sqrt(math.fsum((v - m) ** 2 for v in vals) / n)
    return (p - m) / (sd + NORM_EPS)


BF_OPS = dict(conv3x3=bf_conv3x3, conv1x1=bf_conv1x1, maxpool2=bf_maxpool2,
              upconv2x2=bf_upconv2x2, reflect_pad=bf_reflect_pad, zscore=bf_zscore)


def self_test(bench=False):
    from PIL import Image
    rng = np.random.default_rng(1234)
    results = []

    def check(name, got, want, tol=1e-12):
        got = np.asarray(got)
        want = np.asarray(want)
        if got.shape != want.shape:
            ok, err = False, float("inf")
            detail = f"shape {got.shape} != {want.shape}"
        else:
            err = float(np.max(np.abs(got.astype(np.float64) - want))) if got.size else 0.0
            ok = err <= tol
            detail = f"max err {err:.2e} (tol {tol:g})"
        results.append(ok)
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
        return ok

    def check_true(name, cond, detail=""):
        results.append(bool(cond))
        print(f"  [{'ok' if cond else 'FAIL'}] {name}{': ' + detail if detail else ''}")

    print("unet_numpy self-test")
    # conv3x3 (incl. degenerate 1-pixel-wide / -high images)
    for (cin, cout, h, w) in [(3, 4, 5, 7), (2, 3, 1, 6), (1, 2, 6, 1), (4, 2, 2, 2), (1, 1, 1, 1)]:
        x = rng.normal(size=(cin, h, w))
        wt = rng.normal(size=(cout, cin, 3, 3))
        b = rng.normal(size=cout)
        check(f"conv3x3 Cin={cin} Cout={cout} {h}x{w} relu", conv3x3(x, wt, b), bf_conv3x3(x, wt, b))
        check(f"conv3x3 Cin={cin} Cout={cout} {h}x{w} linear",
              conv3x3(x, wt, b, relu=False), bf_conv3x3(x, wt, b, relu=False))
    # asymmetric single-tap kernels: pins the cross-correlation orientation
    x = rng.normal(size=(1, 4, 5))
    for ky in range(3):
        for kx in range(3):
            wt = np.zeros((1, 1, 3, 3))
            wt[0, 0, ky, kx] = 1.0
            want = np.zeros((4, 5))
            for y in range(4):
                for xx in range(5):
                    iy, ix = y + ky - 1, xx + kx - 1
                    if 0 <= iy < 4 and 0 <= ix < 5:
                        want[y, xx] = x[0, iy, ix]
            got = conv3x3(x, wt, np.zeros(1), relu=False)[0]
            if not np.array_equal(got, want):
                check_true(f"conv3x3 single tap ({ky},{kx}) = in[y+{ky - 1},x+{kx - 1}]", False)
                break
        else:
            continue
        break
    else:
        check_true("conv3x3 single-tap kernels select in[y+ky-1, x+kx-1] (9 taps)", True)
    # conv1x1
    x = rng.normal(size=(5, 3, 4))
    wt = rng.normal(size=(1, 5, 1, 1))
    b = rng.normal(size=1)
    check("conv1x1 Cin=5 Cout=1 3x4", conv1x1(x, wt, b), bf_conv1x1(x, wt, b))
    # transposed conv
    for (cin, cout, h, w) in [(3, 2, 3, 4), (4, 5, 1, 1), (2, 1, 2, 3)]:
        x = rng.normal(size=(cin, h, w))
        wt = rng.normal(size=(cin, cout, 2, 2))
        b = rng.normal(size=cout)
        check(f"upconv2x2 Cin={cin} Cout={cout} {h}x{w}", upconv2x2(x, wt, b), bf_upconv2x2(x, wt, b))
    # maxpool
    for (c, h, w) in [(3, 4, 6), (1, 2, 2), (2, 8, 4)]:
        x = rng.normal(size=(c, h, w))
        check(f"maxpool2 {c}x{h}x{w}", maxpool2(x), bf_maxpool2(x))
    # reflect padding (incl. pads longer than the axis, multiple reflections)
    for (h, w, m) in [(5, 7, 4), (8, 8, 4), (37, 29, 4), (3, 2, 8), (2, 5, 16), (13, 11, 16)]:
        x = rng.normal(size=(h, w))
        check(f"reflect_pad {h}x{w} to mult {m}", reflect_pad(x, m), bf_reflect_pad(x, m), tol=0.0)
    x = np.arange(5.0)[None, :].repeat(2, 0)
    check_true("reflect_pad does not repeat the edge pixel: [0 1 2 3 4]->[.. 4 3 2]",
               reflect_pad(x, 8)[0].tolist() == [0, 1, 2, 3, 4, 3, 2, 1],
               str(reflect_pad(x, 8)[0].tolist()))
    # zscore
    p = rng.integers(0, 256, size=(9, 7)) / 255.0
    check("zscore (population std, +1e-6)", zscore(p), bf_zscore(p))
    # sigmoid
    z = np.array([-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
    want = np.array([1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0 for v in z])
    check("sigmoid (stable, incl. |z|=800)", sigmoid(z), want, tol=1e-15)

    with tempfile.TemporaryDirectory() as td:
        # safetensors round trip
        wpath = os.path.join(td, "w.safetensors")
        params = make_weights_file(wpath, 2, 4, seed=7, threshold="0.5")
        loaded, d, c, thr, _ = load_model(wpath)
        check_true("safetensors round trip D=2 C=4 (exact, metadata)",
                   d == 2 and c == 4 and thr == 0.5 and set(loaded) == set(params)
                   and all(np.array_equal(loaded[k], params[k]) for k in params),
                   f"D={d} C={c} thr={thr} tensors={len(loaded)}")
        with open(wpath, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        check_true("safetensors header padded to 8 bytes", (8 + n) % 8 == 0, f"n={n}")
        # loader rejects a wrong shape
        bad = dict(params)
        bad["dec0.up.weight"] = np.zeros((4, 8, 2, 2))
        bpath = os.path.join(td, "bad.safetensors")
        write_safetensors(bpath, bad, {"format": FORMAT, "depth": "2", "base_channels": "4",
                                       "normalization": "zscore", "threshold": "0.5"})
        try:
            load_model(bpath)
            check_true("loader rejects transposed dec0.up.weight", False)
        except InputError as e:
            check_true("loader rejects transposed dec0.up.weight", True, str(e)[-60:])

        # full forward: fast ops vs brute-force ops, non-multiple frame (pads 11x9 -> 12x12)
        p_small = rng.integers(0, 256, size=(11, 9)) / 255.0
        small = random_params(2, 2, seed=3)
        check("full forward D=2 C=2 11x9: fast vs brute-force loops",
              forward_logits(p_small, small, 2), forward_logits(p_small, small, 2, ops=BF_OPS),
              tol=1e-10)
        # padding/cropping consistency: frame that already is a multiple
        p_sq = rng.integers(0, 256, size=(8, 12)) / 255.0
        check("full forward D=2 C=2 8x12 (no padding): fast vs brute-force",
              forward_logits(p_sq, small, 2), forward_logits(p_sq, small, 2, ops=BF_OPS), tol=1e-10)

        # image loading: 8-bit PNG, 16-bit PNG, 8/16-bit TIFF
        a8 = rng.integers(0, 256, size=(29, 37)).astype(np.uint8)
        a16 = rng.integers(0, 65536, size=(29, 37)).astype(np.uint16)
        f8 = os.path.join(td, "f8.png")
        Image.fromarray(a8).save(f8)
        for fname, arr, bits in [("f8.png", a8, 8), ("f16.png", a16, 16),
                                 ("f8.tif", a8, 8), ("f16.tif", a16, 16)]:
            fp = os.path.join(td, fname)
            Image.fromarray(arr).save(fp)
            got, gbits = load_frame(fp)
            full = 255.0 if bits == 8 else 65535.0
            check_true(f"load_frame {fname} ({bits}-bit)",
                       gbits == bits and np.array_equal(got, arr.astype(np.float64) / full),
                       f"bits={gbits}")

        # end-to-end CLI path on a 37x29 (WxH) random 8-bit frame, D=2 C=4
        prob = forward_prob(load_frame(f8)[0], loaded, 2)
        ppath = os.path.join(td, "prob.npy")
        mpath = os.path.join(td, "mask.png")
        np.save(ppath, prob.astype(np.float32))
        Image.fromarray(np.where(prob >= 0.5, 255, 0).astype(np.uint8)).save(mpath)
        ns = argparse.Namespace(weights=wpath, frame=f8, prob=ppath, mask=mpath,
                                threshold=None, save_prob=os.path.join(td, "ref.npy"))
        print("  end-to-end run (own float32 prob + mask as 'emunet' output):")
        rc = run_compare(ns)
        check_true("end-to-end D=2 C=4 37x29 8-bit: exit 0", rc == 0, f"rc={rc}")
        check_true("--save-prob writes float64 HxW",
                   np.array_equal(np.load(ns.save_prob), prob) and prob.shape == (29, 37))
        frac_fg = float((prob >= 0.5).mean())
        check_true("probabilities finite and in [0,1]",
                   np.all(np.isfinite(prob)) and prob.min() >= 0 and prob.max() <= 1,
                   f"range [{prob.min():.4f},{prob.max():.4f}], fg fraction {frac_fg:.3f}")
        # negative tests: corrupted prob / mask must be caught
        badp = prob.astype(np.float32).copy()
        badp[3, 5] += 2e-3
        np.save(ppath, badp)
        print("  negative run (prob perturbed by 2e-3 at one pixel, expect FAIL):")
        rc = run_compare(argparse.Namespace(weights=wpath, frame=f8, prob=ppath, mask=None,
                                            threshold=None, save_prob=None))
        check_true("perturbed prob detected: exit 1", rc == 1, f"rc={rc}")
        far = np.abs(prob - 0.5) > 1e-3
        yy, xx = np.argwhere(far)[0]
        badm = np.where(prob >= 0.5, 255, 0).astype(np.uint8)
        badm[yy, xx] = 255 - badm[yy, xx]
        Image.fromarray(badm).save(mpath)
        print("  negative run (one mask pixel flipped away from threshold, expect FAIL):")
        rc = run_compare(argparse.Namespace(weights=wpath, frame=f8, prob=None, mask=mpath,
                                            threshold=None, save_prob=None))
        check_true("flipped mask pixel detected: exit 1", rc == 1, f"rc={rc}")
        # a flip exactly at the threshold must be tolerated
        _, _, fails = compare(np.array([[0.5, 0.2]]), 0.5, 2, 4,
                              emu_mask=np.array([[False, False]]))
        check_true("mask mismatch at p == threshold tolerated", not fails)
        # 16-bit end-to-end via the 16-bit PNG
        prob16 = forward_prob(load_frame(os.path.join(td, "f16.png"))[0], loaded, 2)
        check_true("end-to-end 16-bit PNG forward finite", np.all(np.isfinite(prob16)))

    if bench:
        print("  benchmark: 1280x1024 (WxH) frame, D=4 C=16, He-init random weights")
        params = random_params(4, 16, seed=11)
        frame = np.random.default_rng(5).integers(0, 256, size=(1024, 1280)) / 255.0
        t0 = time.perf_counter()
        prob = forward_prob(frame, params, 4)
        dt = time.perf_counter() - t0
        try:
            import resource
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            rss_s = f", peak RSS {rss:.0f} MiB"
        except ImportError:
            rss_s = ""
        print(f"  benchmark: forward took {dt:.2f} s{rss_s}; prob range "
              f"[{prob.min():.4f},{prob.max():.4f}], fg fraction {(prob >= 0.5).mean():.3f}")
        check_true("benchmark output finite, shape 1024x1280",
                   prob.shape == (1024, 1280) and np.all(np.isfinite(prob)))

    n_fail = results.count(False)
    print(f"unet_numpy self-test: {len(results) - n_fail}/{len(results)} checks passed"
          + ("" if not n_fail else f", {n_fail} FAILED"))
    return 0 if n_fail == 0 else 1


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent numpy float64 reference of the "
                                 "emunet U-Net; compares emunet's prob.npy / mask.png.")
    ap.add_argument("--weights", help="safetensors weights file (emunet-unet/1)")
    ap.add_argument("--frame", help="grayscale 8/16-bit PNG or TIFF frame")
    ap.add_argument("--prob", help="emunet probability map (.npy, float32 HxW) to check")
    ap.add_argument("--mask", help="emunet mask PNG (8-bit gray 0/255) to check")
    ap.add_argument("--threshold", type=float, default=None,
                    help="mask threshold (default: weights metadata, else 0.5)")
    ap.add_argument("--save-prob", help="write the reference probability map (.npy, float64)")
    ap.add_argument("--self-test", action="store_true", help="verify the building blocks")
    ap.add_argument("--bench", action="store_true",
                    help="with --self-test: time a 1280x1024 D=4 C=16 forward")
    ap.add_argument("--make-weights", metavar="OUT",
                    help="write He-init random weights (needs --depth, --base-channels)")
    ap.add_argument("--depth", type=int)
    ap.add_argument("--base-channels", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--make-frame", metavar="OUT",
                    help="write a random grayscale frame (needs --width, --height)")
    ap.add_argument("--width", type=int)
    ap.add_argument("--height", type=int)
    ap.add_argument("--bits", type=int, choices=(8, 16), default=8)
    args = ap.parse_args(argv)

    try:
        if args.self_test:
            return self_test(bench=args.bench)
        if args.make_weights:
            if not args.depth or not args.base_channels:
                ap.error("--make-weights needs --depth and --base-channels")
            thr = args.threshold if args.threshold is not None else 0.5
            make_weights_file(args.make_weights, args.depth, args.base_channels,
                              seed=args.seed, threshold=repr(float(thr)))
            print(f"unet_numpy: wrote {args.make_weights} (D={args.depth} "
                  f"C={args.base_channels} seed={args.seed})")
            return 0
        if args.make_frame:
            if not args.width or not args.height:
                ap.error("--make-frame needs --width and --height")
            from PIL import Image
            rng = np.random.default_rng(args.seed)
            hi = 256 if args.bits == 8 else 65536
            dt = np.uint8 if args.bits == 8 else np.uint16
            Image.fromarray(rng.integers(0, hi, size=(args.height, args.width)).astype(dt)) \
                .save(args.make_frame)
            print(f"unet_numpy: wrote {args.make_frame} ({args.width}x{args.height} "
                  f"{args.bits}-bit)")
            return 0
        if not args.weights or not args.frame:
            ap.error("--weights and --frame are required (or use --self-test)")
        return run_compare(args)
    except (InputError, OSError) as e:
        print(f"unet_numpy: ERROR: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
