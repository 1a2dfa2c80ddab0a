"""A vertebra resampled on an isotropic grid aligned with its frame, and the sampling
behind it (the grid itself is made by :func:`kypho.measure.vertebra_region.frame_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from kypho.model import VertebraFrame

if TYPE_CHECKING:
    from kypho.measure.vertebra_region import VertebraCrop

__all__ = ["LocalGrid", "grid_to_world", "sample_crop"]


@dataclass(eq=False)
class LocalGrid:
    """A vertebra on an isotropic grid aligned with its frame.

    Attributes
    ----------
    frame : VertebraFrame
        Local x = lr (to patient right), y = ap (anterior), z = si (superior), mm.
    start_mm : (3,) ndarray
        Local coordinates of voxel (0, 0, 0).
    step_mm : float
        Isotropic grid step.
    vert, body : (NX, NY, NZ) ndarray of bool
        Whole-vertebra and body-only masks of this level.
    hu : (NX, NY, NZ) ndarray of float32
        CT values (HU), trilinear; NaN outside the crop (and so outside the scan).
    crop : VertebraCrop or None
        The crop it was resampled from (for :meth:`others_at`).
    """

    frame: VertebraFrame
    start_mm: np.ndarray
    step_mm: float
    vert: np.ndarray
    body: np.ndarray
    hu: np.ndarray
    crop: VertebraCrop | None = None

    def others_at(self, index: np.ndarray) -> np.ndarray:
        """Whether grid samples (N, 3) of integer indices lie in another vertebra's mask.

        Sampled on demand (nearest neighbour, like the masks): only a few of the grid's
        samples are ever asked about.
        """
        if self.crop is None or self.crop.others is None or len(index) == 0:
            return np.zeros(len(index), bool)
        to_world = grid_to_world(self.frame, self.start_mm, self.step_mm)
        m = np.linalg.inv(self.crop.affine) @ to_world
        coords = m[:3, :3] @ np.asarray(index, float).T + m[:3, 3:4]
        return ndimage.map_coordinates(self.crop.others.view(np.uint8), coords, order=0,
                                       cval=0, mode="constant").astype(bool)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.vert.shape  # type: ignore[return-value]

    def axis_mm(self, axis: int) -> np.ndarray:
        """Local coordinate (mm) of each grid index along `axis` (0 lr, 1 ap, 2 si)."""
        return self.start_mm[axis] + self.step_mm * np.arange(self.shape[axis])

    def to_index(self, points_local_mm: np.ndarray) -> np.ndarray:
        """Local mm (..., 3) -> fractional grid indices (..., 3)."""
        return (np.asarray(points_local_mm, float) - self.start_mm) / self.step_mm

    def lookup(self, mask: np.ndarray, points_local_mm: np.ndarray) -> np.ndarray:
        """Nearest-voxel value of a boolean grid at local points (..., 3); False outside."""
        idx = np.rint(self.to_index(points_local_mm)).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.array(self.shape)), axis=-1)
        out = np.zeros(idx.shape[:-1], dtype=bool)
        ii = idx[inside]
        out[inside] = mask[ii[:, 0], ii[:, 1], ii[:, 2]]
        return out

    def to_world(self, points_local_mm: np.ndarray) -> np.ndarray:
        """Local mm (..., 3) -> world RAS mm (..., 3)."""
        return self.frame.to_world(points_local_mm)

    def direction_to_world(self, vec_local: np.ndarray) -> np.ndarray:
        """Rotate a local direction (..., 3) into world RAS."""
        return np.asarray(vec_local, float) @ self.frame.rotation()


def grid_to_world(frame: VertebraFrame, start_mm: np.ndarray, step_mm: float) -> np.ndarray:
    """(4, 4) affine of a frame grid: grid index -> world RAS mm."""
    out = np.eye(4)
    out[:3, :3] = frame.rotation().T * step_mm
    out[:3, 3] = frame.to_world(start_mm)
    return out


def sample_crop(array: np.ndarray, crop_affine: np.ndarray, to_world: np.ndarray,
                lo: tuple[int, int, int], hi: tuple[int, int, int], order: int,
                cval: float) -> np.ndarray:
    """Values of a crop array at the grid indices ``lo <= index < hi`` (per axis).

    The grid maps affinely into the crop, so the transform computes each point's crop
    coordinates as it goes (no coordinate arrays; nearest-neighbour sampling is ~3x
    faster than from precomputed coordinates).
    """
    m = np.linalg.inv(crop_affine) @ to_world
    shape = tuple(int(b) - int(a) for a, b in zip(lo, hi, strict=True))
    offset = m[:3, :3] @ np.asarray(lo, float) + m[:3, 3]
    return ndimage.affine_transform(array, m[:3, :3], offset=offset, output_shape=shape,
                                    order=order, cval=cval, mode="constant")
