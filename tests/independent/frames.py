"""Frame reading shared by the independent checks (unet_numpy.py, classic_scipy.py).

Written from the frame contract alone (8- or 16-bit grayscale PNG or TIFF), with Pillow and
numpy, nothing from emunet.
"""

import numpy as np


class InputError(Exception):
    """Bad input: a frame, mask, CSV or weights file (the checks exit with status 2)."""


def png_ihdr(path):
    """(bit depth, colour type) of a PNG file, or None if it is not a PNG."""
    try:
        with open(path, "rb") as f:
            head = f.read(29)
    except OSError as e:
        raise InputError(f"{path}: {e}") from e
    if len(head) < 29 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def read_gray(path):
    """8/16-bit grayscale PNG or TIFF -> (pixel values float64 HxW, bits)."""
    from PIL import Image
    try:
        im = Image.open(path)
        im.load()
    except Exception as e:  # noqa: BLE001 - any decode error is an input error
        raise InputError(f"{path}: cannot read image: {e}") from e
    ihdr = png_ihdr(path)
    if ihdr is not None:
        depth, ctype = ihdr
        if ctype != 0 or depth not in (8, 16):
            raise InputError(f"{path}: PNG colour type {ctype}, bit depth {depth}; "
                             "expected 8- or 16-bit grayscale (colour type 0)")
        bits = depth
    elif im.mode == "L":
        bits = 8
    elif im.mode.startswith("I;16"):
        bits = 16
    elif im.mode == "I" and getattr(im, "tag_v2", None) is not None:
        bps = im.tag_v2.get(258)
        bps = bps[0] if isinstance(bps, tuple) else bps
        if bps not in (8, 16):
            raise InputError(f"{path}: TIFF BitsPerSample={bps}, expected 8 or 16")
        bits = int(bps)
    else:
        raise InputError(f"{path}: image mode {im.mode!r}; expected 8- or 16-bit grayscale")
    a = np.array(im)
    if a.ndim != 2:
        raise InputError(f"{path}: expected one channel, got array shape {a.shape}")
    a = a.astype(np.float64)
    if a.size == 0:
        raise InputError(f"{path}: empty image")
    full = 255.0 if bits == 8 else 65535.0
    if a.min() < 0 or a.max() > full:
        raise InputError(f"{path}: values outside 0..{full:.0f} for {bits}-bit")
    return a, bits
