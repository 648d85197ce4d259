"""emunet: find clusters (developed silver grains) in nuclear-emulsion microscope frames with a
U-Net on the GPU (Rust + WGSL compute shaders through wgpu).

    import emunet
    eng = emunet.Engine()                    # the shipped default model
    r = eng.segment(frame)                   # 2-D uint8 or uint16 array
    r.prob, r.mask, r.clusters               # float32 HxW, bool HxW, structured array

Every result equals what ``emunet segment`` (the CLI) writes for the same frame. The GIL is
released while the GPU and the cluster stage work. Bad input raises ``ValueError``, a missing
file ``FileNotFoundError``, a GPU failure ``RuntimeError``; a lost or hung device (no result
within ``EMUNET_GPU_TIMEOUT`` seconds) its subclass ``DeviceLostError``, after which the engine
is unusable: make a new one.
"""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Tuple, Union

import numpy as np

# Without XDG_RUNTIME_DIR, libwayland-client (loaded by the Vulkan driver's window-system layer)
# prints "error: XDG_RUNTIME_DIR is invalid" when a device opens, although emunet draws nothing;
# the CLI sets it the same way.
if "XDG_RUNTIME_DIR" not in os.environ:
    import tempfile as _tempfile

    _runtime = os.path.join(_tempfile.gettempdir(), "emunet-xdg-runtime")
    try:
        os.makedirs(_runtime, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = _runtime
    except OSError:
        pass

from . import _emunet  # noqa: E402

__version__: str = _emunet.__version__

#: Raised (a ``RuntimeError``) when the GPU device is lost or hung: the engine is unusable.
DeviceLostError = _emunet.DeviceLostError

#: One cluster: the fields of the clusters CSV, in its column order. Positions in pixels with
#: pixel (i, j) centred at (i + 0.5, j + 0.5); x0, y0 inclusive and x1, y1 exclusive pixel
#: indices; mxx, mxy, myy central second moments (px²).
CLUSTER_DTYPE: np.dtype = np.dtype(list(_emunet.CLUSTER_FIELDS))

#: One simulated grain seen by one frame: ``grains.csv``'s columns, with ``frame`` the index of
#: the frame in the returned stack.
GRAIN_DTYPE: np.dtype = np.dtype(list(_emunet.GRAIN_FIELDS))

PathLike = Union[str, "os.PathLike[str]"]


def _records(raw: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # The extension packs records in native byte order; viewing them needs no copy.
    return raw.view(dtype)


class Result:
    """What one frame gave.

    Attributes:
        prob: float32 HxW probabilities (``None`` from :func:`classic`).
        mask: bool HxW, the pixels of clusters (probability ≥ threshold for the network, decided
            before any rounding to the engine's ``prob_format``).
        clusters: structured array of :data:`CLUSTER_DTYPE`, one record per cluster, ids from 0.
        threshold: the probability cut (network) or the filter-response cut (classic).
        response: float32 HxW filter response (:func:`classic` only, else ``None``).
        elapsed: seconds the engine worked on this frame (GPU, readback, clusters), without the
            conversions of the binding.
    """

    __slots__ = ("prob", "mask", "clusters", "threshold", "response", "elapsed")

    def __init__(self, prob, mask, clusters, threshold, response, elapsed):
        self.prob: Optional[np.ndarray] = prob
        self.mask: np.ndarray = mask
        self.clusters: np.ndarray = clusters
        self.threshold: float = threshold
        self.response: Optional[np.ndarray] = response
        self.elapsed: float = elapsed

    def __repr__(self) -> str:
        h, w = self.mask.shape
        return (
            f"<emunet.Result {w}x{h}: {len(self.clusters)} clusters, "
            f"{int(self.mask.sum())} mask pixels, threshold {self.threshold:.3g}>"
        )


def _network_result(raw) -> Result:
    prob, mask, clusters, threshold, elapsed = raw
    return Result(prob, mask, _records(clusters, CLUSTER_DTYPE), threshold, None, elapsed)


class Engine:
    """The U-Net on the best GPU adapter (Mesa's software driver where there is no GPU).

    Args:
        weights: a weights file (``.safetensors``, emunet's contract); ``None`` for the shipped
            default model.
        precision: ``"auto"`` (the CLI's default: f16 storage in the fused engine), ``"f32"``
            or ``"f16"``.
        prob_format: how the probabilities come back from the GPU: ``"f32"`` (the default),
            ``"f16"`` (|Δp| ≤ 2⁻¹²) or ``"u8"`` (round(255·p), |Δp| ≤ 1/510); ``prob`` stays
            float32 holding the rounded values, the mask is decided before rounding.
        pixel_um: the frames' pixel size in µm; where it differs from the model's (0.30 for the
            shipped model) frames are resampled to the model's scale and the probabilities
            back, so masks and clusters stay in the frames' own pixels. ``None``: frames are
            taken at the model's scale.
        border: clear the mask within this many pixels of every edge (the station pipeline's
            border cut); dark lines along the edges are cleared whatever it is.

    An engine keeps its GPU buffers planned for the last frame size; make one and reuse it.
    Calls from several threads on one engine take turns.
    """

    def __init__(
        self,
        weights: Optional[PathLike] = None,
        precision: str = "auto",
        prob_format: str = "f32",
        pixel_um: Optional[float] = None,
        border: int = 0,
    ):
        if weights is not None:
            weights = os.fspath(weights)
        self._engine = _emunet.Engine(weights, precision, prob_format, pixel_um, border)

    @property
    def adapter(self) -> str:
        """The GPU adapter's name."""
        return self._engine.adapter

    @property
    def backend(self) -> str:
        """The graphics API the adapter runs on (Vulkan, Metal, Dx12)."""
        return self._engine.backend

    @property
    def threshold(self) -> float:
        """The model's probability cut."""
        return self._engine.threshold

    def segment(self, frame: np.ndarray) -> Result:
        """Segments one frame: a 2-D uint8 or uint16 array (any strides)."""
        return _network_result(self._engine.segment(frame))

    def segment_batch(self, frames: Iterable[np.ndarray]) -> List[Result]:
        """Segments frames, several per GPU submit (frames of one size share a batch)."""
        return [_network_result(r) for r in self._engine.segment_batch(list(frames))]

    def __repr__(self) -> str:
        return f"<emunet.Engine on {self.adapter} ({self.backend})>"


def classic(
    frame: np.ndarray,
    threshold: Optional[float] = None,
    target_clusters: Optional[int] = None,
) -> Result:
    """The classical pipeline (``emunet classic``'s): FEDRA's 6x6 filter, a fixed threshold on
    its response (default 50) or one tuned per frame to about ``target_clusters`` clusters of
    area >= 4, a 4 px border, 8-connected clusters of 2-64 px. Runs on the CPU.
    """
    response, mask, clusters, cut, elapsed = _emunet.classic(frame, threshold, target_clusters)
    return Result(None, mask, _records(clusters, CLUSTER_DTYPE), cut, response, elapsed)


def simulate(
    count: int = 1,
    seed: int = 1,
    preset: str = "nominal",
    width: Optional[int] = None,
    height: Optional[int] = None,
    frames_per_view: int = 1,
    pixel_um: Optional[float] = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated frames with exact truth, as ``emunet simulate`` writes them.

    Returns ``(images, masks, grains)``: uint8 (N, H, W) frames, bool (N, H, W) truth masks and
    a structured array of :data:`GRAIN_DTYPE`, with N = count * frames_per_view (views of
    ``frames_per_view`` focal planes each). Presets: easy, nominal, hard, mixed. ``pixel_um``:
    the pixel size in µm (default: the preset's).
    """
    images, masks, grains = _emunet.simulate(
        count, seed, preset, width, height, frames_per_view, pixel_um
    )
    return images, masks, _records(grains, GRAIN_DTYPE)


def clusters_csv(clusters: np.ndarray) -> str:
    """The clusters CSV ``emunet segment`` writes (docs/design.md, The clusters CSV) for a cluster array."""
    lines = [",".join(CLUSTER_DTYPE.names)]
    for c in clusters:
        fields = []
        for name in CLUSTER_DTYPE.names:
            v = c[name]
            fields.append(f"{v:.4f}" if CLUSTER_DTYPE[name].kind == "f" else str(int(v)))
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


__all__ = [
    "CLUSTER_DTYPE",
    "DeviceLostError",
    "GRAIN_DTYPE",
    "Engine",
    "Result",
    "classic",
    "clusters_csv",
    "simulate",
    "__version__",
]
