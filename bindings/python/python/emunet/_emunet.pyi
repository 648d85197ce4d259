# Type stubs of the compiled extension module (bindings/python/src/lib.rs). Use the `emunet`
# package's wrappers (Engine, classic, simulate), which turn these tuples into Result objects.
from os import PathLike
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
CLUSTER_FIELDS: List[Tuple[str, str]]
GRAIN_FIELDS: List[Tuple[str, str]]

class DeviceLostError(RuntimeError): ...

# (prob or filter response float32 HxW, mask bool HxW, packed cluster records uint8,
#  threshold, seconds the engine worked)
_Raw = Tuple[
    npt.NDArray[np.float32], npt.NDArray[np.bool_], npt.NDArray[np.uint8], float, float
]

class Engine:
    def __init__(
        self,
        weights: Optional[Union[str, PathLike[str]]] = None,
        precision: str = "auto",
        prob_format: str = "f32",
        pixel_um: Optional[float] = None,
        border: int = 0,
    ) -> None: ...
    @property
    def adapter(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    def segment(self, frame: npt.NDArray[Union[np.uint8, np.uint16]]) -> _Raw: ...
    def segment_batch(self, frames: List[npt.NDArray[Union[np.uint8, np.uint16]]]) -> List[_Raw]: ...
    def segment_part(
        self, frames: List[Tuple[int, str]], table: str, format: str
    ) -> Dict[str, Any]: ...

def classic(
    frame: npt.NDArray[Union[np.uint8, np.uint16]],
    threshold: Optional[float] = None,
    target_clusters: Optional[int] = None,
) -> _Raw: ...
def simulate(
    count: int = 1,
    seed: int = 1,
    preset: str = "nominal",
    width: Optional[int] = None,
    height: Optional[int] = None,
    frames_per_view: int = 1,
    pixel_um: Optional[float] = None,
) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], npt.NDArray[np.uint8]]: ...
