#!/usr/bin/env python3
"""A second, independent simulator of nuclear-emulsion frames (numpy, scipy, Pillow only).

Written from the project's domain notes (docs/spec/emulsion.md) alone (its parameter table, its ground-truth contract, its
pixel conventions and the output layout of `emunet simulate`), without looking at emunet's own
simulator, so that a model trained on emunet's frames can be scored on frames whose optics and
camera differ from the ones it was trained on.

    python3 tests/independent/second_sim.py --out DIR --count N --seed S [--width 1280 --height 1024]

writes DIR/images/f00000.png ... (8-bit grey frames), DIR/masks/f00000.png ... (0/255 truth masks)
and DIR/grains.csv (frame,grain,x_px,y_px,x_um,y_um,z_um,dz_um,in_focus,track,truth_px), and one
summary line per frame on stdout. Frame k depends only on (seed, k).

The model, and how it differs from "Gaussian spot + additive Gaussian noise":

Volume. A layer of thickness 40-48 um; fog grains uniform in it (3-9 per 1000 um^3); straight
  tracks (30-1000 per mm^2, log-uniform) with mostly shallow slopes (|tan| <= 0.6 per axis, 10 %
  steep ones), grains as a Poisson process of 25-40 per 100 um of path, transverse jitter 0.25 um.
  Grain diameters log-normal around a per-frame mean (0.5-0.75 um), clipped to 0.4-1.0 um; grain
  opacity a_k log-normal around a per-frame mean, clipped to 0.15-0.95. The focal plane lies at
  least 3 um inside the layer.
Optics (no Gaussian anywhere). A grain is an absorbing disc of its own diameter. Its image is
  disc (x) Moffat(FWHM0 0.30-0.45 um, beta 2.5-4, the diffraction-limited core with power-law
  wings) (x) pillbox(diameter k*|dz|, k 0.9-1.5: the geometric defocus blur of an NA ~0.7-0.9
  aperture in emulsion). The three are multiplied in Fourier (Hankel) space, so the profile P(r)
  is exact for the model and the integrated darkening is conserved with defocus; defocused grains
  become flat-topped pale discs, not wider Gaussians. Astigmatism: the profile is stretched by an
  area-preserving affine map, e = 1 + eps*tanh(dz / 0.8 um) along a per-frame axis and 1/e across
  it (eps 0-0.12), so the elongation turns by 90 degrees when dz changes sign. Every in-range
  grain (|dz| <= 3 um) is integrated over its pixels with 4x4 sub-samples, in a window cut where
  its profile falls below 1e-3. Grains 3 < |dz| <= 10 um (the haze) are splatted per 1-um slab
  and convolved by FFT with that slab's kernel; they are faint (a*P < ~0.1), so exp(-sum a*P) is
  used for them in place of prod(1 - a*P).
Image. Transmission t = prod_k (1 - a_k * P_k) * haze * dust, dust specks (0-3, 5-40 um, 2-7 %
  dark, soft edge, a darker rim) being not cluster pixels. Background (in output grey levels)
  B(x,y) = B0 * illum(x,y), B0 170-245, illum a cos^4 law about an off-centre optical axis times a
  tilted plane, rescaled to a 2-15 % peak-to-peak falloff (not a paraboloid).
Camera (signal-dependent noise, row pattern). Linear signal E = B_lin(x,y) * t with
  B_lin = 255 * (B/255)^(1/gamma); electrons = Poisson(E * gain * PRNU) with gain chosen so the shot
  noise at background is 1.4-3.0 grey levels (tens of e-/grey level) and PRNU a 0.5-1 % per-pixel
  gain; raw = electrons/gain + Gaussian read noise (0.4-1.2 gl) + a ROW offset pattern (sigma
  0-2 gl, white plus a smooth part); a few dead (x0.1-0.5) and hot (+20-80) pixels; then gamma
  0.85-1.2 on the normalised signal: out = 255 * (raw/255)^gamma, rounded and clipped to 0..255.

Ground truth (emulsion.md's contract). For each grain with |dz| <= 1.5 um, its own noiseless
  darkening is d = B(x,y) * a * g(x,y) grey levels, g being the pixel-averaged profile P (the
  grain's psf, 4x4 sub-samples) and B(x,y) the noiseless background grey level of the frame at that
  pixel (illumination included). This is exactly the contract's d = B*a*g: the grain's fractional
  darkening a*g in transmitted light, times the background, in grey levels, before shot/read noise,
  PRNU, row pattern, dead/hot pixels, gamma and quantisation (none of them is applied to d), and
  without the other grains, haze or dust. (Gamma makes the darkening the frame actually shows
  B*(1 - (1 - a*g)^gamma), within ~20 % of d; the contract asks for d = B*a*g.) Truth mask =
  union over in-focus grains of pixels with d >= 20; truth_px = that grain's own count of such
  pixels inside the frame (0 when out of focus). grains.csv lists every grain with |dz| <= 3 um
  whose centre is inside the frame or within 2 um of it. Pixel (i, j) covers [i, i+1) x [j, j+1);
  x_px = x_um / pixel size.
"""
import argparse
import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import fft as sfft  # noqa: E402
from scipy import special  # noqa: E402

# Ground truth (contract).
IN_FOCUS_UM = 1.5
TRUTH_GL = 20.0
LIST_DZ_UM = 3.0
LIST_MARGIN_UM = 2.0
# Rendering.
SUB = 4                     # sub-samples per pixel side for the individually rendered grains
HAZE_DZ_UM = 10.0           # grains beyond this defocus are left out (a uniform darkening)
LATERAL_MARGIN_UM = 10.0    # grains are generated this far outside the frame
D_GRID = np.round(np.arange(0.40, 1.0001, 0.05), 4)   # grain diameters of the profile table
DZ_STEP = 0.05
DZ_GRID = np.arange(0.0, LIST_DZ_UM + 1e-9, DZ_STEP)  # |dz| of the profile table
R_STEP = 0.01
R_GRID = np.arange(0.0, 14.0, R_STEP)                  # um
Q_STEP = 0.01
Q_GRID = (np.arange(0, 1800) + 0.5) * Q_STEP           # cycles/um, midpoint rule


# ---------------------------------------------------------------- optics: radial profiles
def moffat_ft(q, fwhm, beta):
    """2-D Fourier transform of the unit-integral Moffat profile (1 + r^2/alpha^2)^-beta."""
    alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    nu = beta - 1.0
    x = 2.0 * math.pi * alpha * q
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        f = 2.0 / special.gamma(nu) * (x / 2.0) ** nu * special.kv(nu, x)
    return np.nan_to_num(f, nan=0.0, posinf=0.0)


def disc_ft(q, radius):
    """2-D Fourier transform of the indicator of a disc (value pi R^2 at q = 0)."""
    return radius * special.j1(2.0 * math.pi * radius * q) / q


def pillbox_ft(q, radius):
    """2-D Fourier transform of a unit-integral pillbox of the given radius."""
    if radius <= 0:
        return np.ones_like(q)
    x = 2.0 * math.pi * radius * q
    return 2.0 * special.j1(x) / x


class Optics:
    """Per-frame optics: profile table P(r; D, |dz|) = disc(D) * Moffat * pillbox(k |dz|)."""

    def __init__(self, fwhm0, beta, kdef, eps, phi):
        self.fwhm0, self.beta, self.kdef, self.eps = fwhm0, beta, kdef, eps
        self.cphi, self.sphi = math.cos(phi), math.sin(phi)
        q = Q_GRID
        mo = moffat_ft(q, fwhm0, beta)
        # inverse Hankel transform: f(r) = 2 pi int F(q) J0(2 pi q r) q dq
        self._j0w = (special.j0(2.0 * math.pi * np.outer(q, R_GRID))
                     * (2.0 * math.pi * q * Q_STEP)[:, None])
        self._mo = mo
        spectra = np.empty((len(D_GRID), len(DZ_GRID), len(q)))
        for i, d in enumerate(D_GRID):
            dft = disc_ft(q, d / 2.0) * mo
            for j, dz in enumerate(DZ_GRID):
                spectra[i, j] = dft * pillbox_ft(q, kdef * dz / 2.0)
        self.table = np.clip(spectra.reshape(-1, len(q)) @ self._j0w, 0.0, 1.0).reshape(
            len(D_GRID), len(DZ_GRID), len(R_GRID))
        # radius (um) where each profile has fallen below 1e-3 for good
        above = self.table > 1e-3
        last = len(R_GRID) - 1 - np.argmax(above[:, :, ::-1], axis=2)
        self.reach = R_GRID[last] + 2 * R_STEP

    def profile(self, diam, adz):
        """Bilinear interpolation of the table at (diam, |dz|): (profile over R_GRID, reach um)."""
        fi = (min(max(diam, D_GRID[0]), D_GRID[-1]) - D_GRID[0]) / (D_GRID[1] - D_GRID[0])
        fj = min(adz, DZ_GRID[-1]) / DZ_STEP
        i0, j0 = min(int(fi), len(D_GRID) - 2), min(int(fj), len(DZ_GRID) - 2)
        wi, wj = fi - i0, fj - j0
        t = self.table
        prof = ((1 - wi) * ((1 - wj) * t[i0, j0] + wj * t[i0, j0 + 1])
                + wi * ((1 - wj) * t[i0 + 1, j0] + wj * t[i0 + 1, j0 + 1]))
        reach = self.reach[i0:i0 + 2, j0:j0 + 2].max()
        return prof, reach

    def profile_far(self, diam, adz):
        """Profile for a haze grain (any |dz|), computed directly."""
        spec = disc_ft(Q_GRID, diam / 2.0) * self._mo * pillbox_ft(Q_GRID, self.kdef * adz / 2.0)
        return np.clip(spec @ self._j0w, 0.0, 1.0)

    def elong(self, dz):
        return 1.0 + self.eps * math.tanh(dz / 0.8)

    def rho(self, dx, dy, dz):
        """Astigmatic radius (um) of offsets dx, dy (um; broadcastable), area preserving."""
        e = self.elong(dz)
        u = self.cphi * dx + self.sphi * dy
        v = -self.sphi * dx + self.cphi * dy
        return np.sqrt((u / e) ** 2 + (v * e) ** 2)


# ---------------------------------------------------------------- one frame
def draw_params(rng):
    p = {}
    p["pix"] = rng.uniform(0.28, 0.33)               # um per pixel
    p["thick"] = rng.uniform(40.0, 48.0)             # layer thickness, um
    p["zf"] = rng.uniform(3.0, p["thick"] - 3.0)     # focal plane
    p["fog"] = rng.uniform(3.0, 9.0)                 # grains per 1000 um^3
    p["tracks_mm2"] = math.exp(rng.uniform(math.log(30.0), math.log(1000.0)))
    p["d_mean"] = rng.uniform(0.50, 0.75)            # grain diameter, um
    p["a_mean"] = rng.uniform(0.55, 0.92)            # grain opacity
    p["a_spread"] = rng.uniform(0.10, 0.25)          # log-normal sigma of the opacity
    p["fwhm0"] = rng.uniform(0.30, 0.45)             # in-focus Moffat FWHM, um
    p["beta"] = rng.uniform(2.5, 4.0)
    p["kdef"] = rng.uniform(0.9, 1.5)                # defocus blur diameter per um of |dz|
    p["eps"] = rng.uniform(0.0, 0.12)                # astigmatism
    p["phi"] = rng.uniform(0.0, math.pi)
    p["B0"] = rng.uniform(170.0, 245.0)              # peak background, output grey levels
    p["falloff"] = rng.uniform(0.02, 0.15)           # illumination peak-to-peak
    p["gamma"] = rng.uniform(0.85, 1.2)
    p["shot"] = rng.uniform(1.4, 3.0)                # shot-noise sigma at background, gl
    p["read"] = rng.uniform(0.4, 1.2)                # read noise sigma, gl
    p["prnu"] = rng.uniform(0.005, 0.01)
    p["row"] = rng.uniform(0.0, 2.0)                 # row fixed pattern sigma, gl
    p["dust"] = int(min(rng.poisson(1.0), 3))
    p["dead"] = int(rng.poisson(3.0))
    p["hot"] = int(rng.poisson(3.0))
    return p


def illumination(rng, w, h, falloff):
    """cos^4 law about an off-centre axis times a tilted plane, rescaled to `falloff` p-p; max 1."""
    x = (np.arange(w) + 0.5 - w / 2) / (w / 2)
    y = (np.arange(h) + 0.5 - h / 2) / (w / 2)
    cx, cy = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)
    f = rng.uniform(1.2, 3.0)                        # effective focal length, half-widths
    r2 = (x[None, :] - cx) ** 2 + (y[:, None] - cy) ** 2
    cos4 = 1.0 / (1.0 + r2 / f ** 2) ** 2
    ang = rng.uniform(0, 2 * math.pi)
    tilt = 1.0 + rng.uniform(0.0, 0.08) * (math.cos(ang) * x[None, :] + math.sin(ang) * y[:, None])
    s = cos4 * tilt
    return 1.0 - falloff * (s.max() - s) / (s.max() - s.min())


def make_grains(rng, p, w_um, h_um):
    """All grains within HAZE_DZ_UM of the focal plane and LATERAL_MARGIN_UM of the frame."""
    m = LATERAL_MARGIN_UM
    z0, z1 = max(0.0, p["zf"] - HAZE_DZ_UM), min(p["thick"], p["zf"] + HAZE_DZ_UM)
    vol = (w_um + 2 * m) * (h_um + 2 * m) * (z1 - z0)
    n = rng.poisson(p["fog"] * vol / 1000.0)
    xs = [rng.uniform(-m, w_um + m, n)]
    ys = [rng.uniform(-m, h_um + m, n)]
    zs = [rng.uniform(z0, z1, n)]
    tr = [np.full(n, -1)]
    # tracks: crossing the focal plane at a uniform point of a widened area
    reach = 3.0 * HAZE_DZ_UM
    area_mm2 = (w_um + 2 * (m + reach)) * (h_um + 2 * (m + reach)) * 1e-6
    ntr = rng.poisson(p["tracks_mm2"] * area_mm2)
    tid = 0
    for _ in range(ntr):
        if rng.uniform() < 0.9:
            tx, ty = rng.uniform(-0.6, 0.6, 2)
        else:
            th, ph = math.atan(rng.uniform(0.6, 2.0)), rng.uniform(0, 2 * math.pi)
            tx, ty = math.tan(th) * math.cos(ph), math.tan(th) * math.sin(ph)
        x0 = rng.uniform(-m - reach, w_um + m + reach)
        y0 = rng.uniform(-m - reach, h_um + m + reach)
        dens = rng.uniform(0.25, 0.40)               # grains per um of path
        path = (z1 - z0) * math.sqrt(1 + tx * tx + ty * ty)
        k = rng.poisson(dens * path)
        z = rng.uniform(z0, z1, k)
        x = x0 + tx * (z - p["zf"]) + rng.normal(0, 0.25, k)
        y = y0 + ty * (z - p["zf"]) + rng.normal(0, 0.25, k)
        keep = (x > -m) & (x < w_um + m) & (y > -m) & (y < h_um + m)
        if keep.any():
            xs.append(x[keep]); ys.append(y[keep]); zs.append(z[keep])
            tr.append(np.full(int(keep.sum()), tid))
        tid += 1
    x, y, z, t = (np.concatenate(v) for v in (xs, ys, zs, tr))
    n = len(x)
    diam = np.clip(p["d_mean"] * np.exp(rng.normal(0, 0.15, n)), 0.40, 1.0)
    # bigger grains are a bit more opaque
    a = p["a_mean"] * np.exp(rng.normal(0, p["a_spread"], n)) * (diam / 0.6) ** 0.3
    a = np.clip(a, 0.15, 0.95)
    return x, y, z, t, diam, a


def render_frame(seed, index, w, h):
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    p = draw_params(rng)
    pix = p["pix"]
    w_um, h_um = w * pix, h * pix
    optics = Optics(p["fwhm0"], p["beta"], p["kdef"], p["eps"], p["phi"])
    illum = illumination(rng, w, h, p["falloff"])
    B = p["B0"] * illum                                  # noiseless background, output grey levels
    gx, gy, gz, gtr, gd, ga = make_grains(rng, p, w_um, h_um)
    dz = gz - p["zf"]

    trans = np.ones((h, w))
    truth = np.zeros((h, w), dtype=bool)
    rows = []
    near = np.abs(dz) <= LIST_DZ_UM
    off = (np.arange(SUB) + 0.5) / SUB
    for k in np.flatnonzero(near):
        xc, yc = gx[k] / pix, gy[k] / pix                # px
        prof, reach_um = optics.profile(gd[k], abs(dz[k]))
        hw = int(math.ceil(reach_um / pix)) + 1
        i0, i1 = max(int(math.floor(xc)) - hw, 0), min(int(math.floor(xc)) + hw + 1, w)
        j0, j1 = max(int(math.floor(yc)) - hw, 0), min(int(math.floor(yc)) + hw + 1, h)
        infocus = abs(dz[k]) <= IN_FOCUS_UM
        npx = 0
        if i0 < i1 and j0 < j1:
            sx = ((np.arange(i0, i1)[:, None] + off[None, :]).ravel() - xc) * pix
            sy = ((np.arange(j0, j1)[:, None] + off[None, :]).ravel() - yc) * pix
            rho = optics.rho(sx[None, :], sy[:, None], dz[k])
            g = np.interp(rho, R_GRID, prof, right=0.0)
            g = g.reshape(j1 - j0, SUB, i1 - i0, SUB).mean(axis=(1, 3))
            f = ga[k] * g
            trans[j0:j1, i0:i1] *= 1.0 - f
            if infocus:
                # contract: d = B * a * g in grey levels, noiseless, this grain alone, with B the
                # noiseless background grey level here and g its pixel-averaged psf (see top)
                own = B[j0:j1, i0:i1] * f >= TRUTH_GL
                npx = int(own.sum())
                truth[j0:j1, i0:i1] |= own
        m = LIST_MARGIN_UM
        if -m <= gx[k] <= w_um + m and -m <= gy[k] <= h_um + m:
            rows.append((xc, yc, gx[k], gy[k], gz[k], dz[k], int(infocus), int(gtr[k]), npx))

    # haze: 3 < |dz| <= 10 um, per 1-um slab (signed), FFT convolution, exp(-sum a P)
    far = ~near
    kr_um = optics.kdef * HAZE_DZ_UM / 2 + 0.5 + 5 * p["fwhm0"]
    kr = int(math.ceil(kr_um / pix)) + 1
    pad = int(math.ceil(LATERAL_MARGIN_UM / pix)) + kr + 2
    ph, pw = h + 2 * pad, w + 2 * pad
    shape = (sfft.next_fast_len(ph, real=True), sfft.next_fast_len(pw, real=True))
    acc = None
    d0 = 0.6
    for lo in np.arange(-HAZE_DZ_UM, HAZE_DZ_UM, 1.0):
        sel = far & (dz >= lo) & (dz < lo + 1.0)
        if not sel.any():
            continue
        zc = lo + 0.5
        # splat a * (D/D0)^2 (a wide blob carries the grain's area) bilinearly at pixel centres
        px = gx[sel] / pix + pad - 0.5
        py = gy[sel] / pix + pad - 0.5
        wgt = ga[sel] * (gd[sel] / d0) ** 2
        splat = np.zeros(shape)
        ix, iy = np.floor(px).astype(int), np.floor(py).astype(int)
        fx, fy = px - ix, py - iy
        for ddx, ddy, ww in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                             (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            np.add.at(splat, (iy + ddy, ix + ddx), wgt * ww)
        prof = optics.profile_far(d0, abs(zc))
        o = (np.arange(-kr, kr + 1)[:, None] + np.array([0.25, 0.75])[None, :]).ravel() - 0.5
        ker = np.interp(optics.rho(o[None, :] * pix, o[:, None] * pix, zc), R_GRID, prof, right=0.0)
        ker = ker.reshape(2 * kr + 1, 2, 2 * kr + 1, 2).mean(axis=(1, 3))
        kimg = np.zeros(shape)
        kimg[:2 * kr + 1, :2 * kr + 1] = ker
        kimg = np.roll(kimg, (-kr, -kr), axis=(0, 1))
        spec = sfft.rfft2(splat) * sfft.rfft2(kimg)
        acc = spec if acc is None else acc + spec
    if acc is not None:
        haze = sfft.irfft2(acc, s=shape)[pad:pad + h, pad:pad + w]
        trans *= np.exp(-np.clip(haze, 0.0, None))

    # dust specks: large faint soft blobs with a darker rim (not cluster pixels)
    xx = np.arange(w) + 0.5
    yy = np.arange(h) + 0.5
    for _ in range(p["dust"]):
        rad = rng.uniform(2.5, 20.0) / pix
        cxd, cyd = rng.uniform(0, w), rng.uniform(0, h)
        c = rng.uniform(0.02, 0.07)
        soft = rng.uniform(0.1, 0.25) * rad
        j0, j1 = max(int(cyd - rad - 4 * soft), 0), min(int(cyd + rad + 4 * soft) + 1, h)
        i0, i1 = max(int(cxd - rad - 4 * soft), 0), min(int(cxd + rad + 4 * soft) + 1, w)
        if i0 >= i1 or j0 >= j1:
            continue
        r = np.hypot(xx[None, i0:i1] - cxd, yy[j0:j1, None] - cyd)
        blob = 1.0 / (1.0 + np.exp((r - rad) / soft)) + 0.6 * np.exp(-((r - rad) / soft) ** 2)
        trans[j0:j1, i0:i1] *= 1.0 - c * blob / 1.6

    # camera
    gam = p["gamma"]
    blin = 255.0 * (B / 255.0) ** (1.0 / gam)            # linear background, grey-level units
    gain = float(np.mean(blin)) / p["shot"] ** 2         # electrons per grey level
    prnu = 1.0 + rng.normal(0.0, p["prnu"], (h, w))
    electrons = rng.poisson(np.clip(blin * trans * prnu * gain, 0.0, None))
    raw = electrons / gain + rng.normal(0.0, p["read"], (h, w))
    rowpat = rng.normal(0.0, 1.0, h)
    smooth = np.convolve(rng.normal(0.0, 1.0, h + 60), np.ones(30) / math.sqrt(30),
                         "same")[30:30 + h]
    rowpat = p["row"] * (0.85 * rowpat + 0.5 * smooth) / math.hypot(0.85, 0.5)
    raw += rowpat[:, None]
    for _ in range(p["dead"]):
        j, i = rng.integers(0, h), rng.integers(0, w)
        raw[j, i] *= rng.uniform(0.1, 0.5)
    for _ in range(p["hot"]):
        j, i = rng.integers(0, h), rng.integers(0, w)
        raw[j, i] += rng.uniform(20.0, 80.0)
    out = 255.0 * (np.clip(raw, 0.0, None) / 255.0) ** gam
    img = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return img, truth, rows, p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--first", type=int, default=0, help="index of the first frame (default 0)")
    args = ap.parse_args(argv)
    if args.count < 0 or args.width < 1 or args.height < 1:
        ap.error("count must be >= 0 and sizes >= 1")
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "masks"), exist_ok=True)
    with open(os.path.join(args.out, "grains.csv"), "w") as csv:
        csv.write("frame,grain,x_px,y_px,x_um,y_um,z_um,dz_um,in_focus,track,truth_px\n")
        for n in range(args.first, args.first + args.count):
            t0 = time.time()
            img, truth, rows, p = render_frame(args.seed, n, args.width, args.height)
            stem = f"f{n:05d}"
            Image.fromarray(img, "L").save(os.path.join(args.out, "images", stem + ".png"))
            Image.fromarray(truth.astype(np.uint8) * 255, "L").save(
                os.path.join(args.out, "masks", stem + ".png"))
            for g, (xp, yp, xu, yu, zu, dzu, inf, trk, tpx) in enumerate(rows):
                csv.write(f"{stem},{g},{xp:.4f},{yp:.4f},{xu:.4f},{yu:.4f},{zu:.4f},{dzu:.4f},"
                          f"{inf},{trk},{tpx}\n")
            w, h = args.width, args.height
            inside = [r for r in rows if 0 <= r[0] < w and 0 <= r[1] < h]
            nin = sum(r[6] for r in inside)
            ndet = sum(1 for r in inside if r[6] and r[8] >= 1)
            print(f"{stem}: {len(rows)} grains listed, {nin} in focus, {ndet} detectable, "
                  f"{100.0 * truth.mean():.2f} % truth px; pix {p['pix']:.3f} um, B0 {p['B0']:.0f}, "
                  f"fog {p['fog']:.1f}, a {p['a_mean']:.2f}, fwhm0 {p['fwhm0']:.2f} um, "
                  f"beta {p['beta']:.1f}, k {p['kdef']:.2f}, gamma {p['gamma']:.2f}, "
                  f"{time.time() - t0:.1f} s", flush=True)
            csv.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
