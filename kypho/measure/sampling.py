"""Crops around one vertebra and resampling of voxel data onto a vertebra's local grid.

Every measurement of kypho.measure works in world millimetres: voxel indices of a crop are
mapped to world RAS by the crop's affine (obliquity and anisotropic spacing kept), and
values are read back on regular grids laid out in a :class:`VertebraFrame` with
:func:`scipy.ndimage.map_coordinates`. Nothing here assumes 1 mm or isotropic voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import affine_spacing, voxel_to_world, world_to_voxel
from kypho.measure.records import VertebraFrame

__all__ = ["VertebraCrop", "crop_vertebra", "local_grid_points", "sample_on_grid"]

#: Margin kept around a vertebra's bounding box when cropping (mm): room for the disc
#: spaces above and below, needed by the HU edge refinement.
CROP_MARGIN_MM = 12.0


@dataclass(eq=False)
class VertebraCrop:
    """The voxels around one vertebra.

    Attributes
    ----------
    body : (x, y, z) ndarray of bool
        Vertebral body mask.
    vertebra : (x, y, z) ndarray of bool
        Whole-vertebra mask (body and posterior elements).
    hu : (x, y, z) ndarray of float32
        CT values in HU.
    affine : (4, 4) ndarray
        Crop voxel index -> world RAS mm.
    touches_edge : bool
        True when the body mask reaches the border of the full volume.
    """

    body: np.ndarray
    vertebra: np.ndarray
    hu: np.ndarray
    affine: np.ndarray
    touches_edge: bool

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return affine_spacing(self.affine)

    @property
    def voxel_volume_ml(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def body_points_world(self) -> np.ndarray:
        """(N, 3) world RAS mm of the body voxel centres."""
        return voxel_to_world(self.affine, np.argwhere(self.body))


def crop_vertebra(
    hu: np.ndarray,
    vertebrae: np.ndarray,
    bodies: np.ndarray,
    affine: np.ndarray,
    label: int,
    bbox: tuple[slice, slice, slice] | None = None,
) -> VertebraCrop | None:
    """Crop the volume around one vertebra, with a margin of :data:`CROP_MARGIN_MM`.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float32
    vertebrae, bodies : (X, Y, Z) ndarray of uint8
        VerSe label maps on the same grid.
    affine : (4, 4) ndarray
    label : int
        VerSe label of the vertebra.
    bbox : tuple of slice, optional
        Bounding box of ``vertebrae == label`` if already known (from
        :func:`scipy.ndimage.find_objects`), to avoid a full-volume search.

    Returns
    -------
    VertebraCrop or None
        None when the label has no voxel.
    """
    if bbox is None:
        found = ndimage.find_objects(((vertebrae == label) | (bodies == label)).astype(np.uint8))
        if not found or found[0] is None:
            return None
        bbox = found[0]
    spacing = np.asarray(affine_spacing(affine))
    margin = np.ceil(CROP_MARGIN_MM / spacing).astype(int)
    shape = hu.shape
    sl = tuple(
        slice(max(0, s.start - m), min(n, s.stop + m))
        for s, m, n in zip(bbox, margin, shape, strict=True)
    )
    body = bodies[sl] == label
    vert = (vertebrae[sl] == label) | body
    # The body reaching the last voxel of the volume means part of it may be missing.
    touches = False
    if body.any():
        idx = np.argwhere(body)
        lo = idx.min(axis=0) + [s.start for s in sl]
        hi = idx.max(axis=0) + [s.start for s in sl]
        touches = bool(np.any(lo == 0) or np.any(hi == np.asarray(shape) - 1))
    crop_affine = affine.copy()
    crop_affine[:3, 3] = voxel_to_world(affine, [s.start for s in sl])
    return VertebraCrop(body, vert, np.asarray(hu[sl], np.float32), crop_affine, touches)


def local_grid_points(
    frame: VertebraFrame, lr: np.ndarray, ap: np.ndarray, si: np.ndarray
) -> np.ndarray:
    """World RAS points of the local grid ``lr x ap x si`` (1-D coordinates in mm).

    Returns
    -------
    (len(lr), len(ap), len(si), 3) ndarray of float
    """
    L, A, S = np.meshgrid(lr, ap, si, indexing="ij")
    local = np.stack([L, A, S], axis=-1)
    return frame.to_world(local)


def sample_on_grid(
    array: np.ndarray,
    affine: np.ndarray,
    frame: VertebraFrame,
    lr: np.ndarray,
    ap: np.ndarray,
    si: np.ndarray,
    *,
    order: int = 1,
    cval: float = 0.0,
) -> np.ndarray:
    """Resample ``array`` on the local grid ``lr x ap x si`` of ``frame``.

    Parameters
    ----------
    array : (x, y, z) ndarray
        Voxel data (a mask as float for sub-voxel edges, or HU).
    affine : (4, 4) ndarray
        Voxel index -> world RAS mm of ``array``.
    frame : VertebraFrame
    lr, ap, si : 1-D ndarray of float
        Local coordinates in mm along the frame's axes.
    order : int
        Spline order (0 nearest, 1 trilinear).
    cval : float
        Value outside the array.

    Returns
    -------
    (len(lr), len(ap), len(si)) ndarray of float32
    """
    pts = local_grid_points(frame, lr, ap, si)
    vox = world_to_voxel(affine, pts.reshape(-1, 3)).T
    data = array if array.dtype == np.float32 else array.astype(np.float32)
    out = ndimage.map_coordinates(data, vox, order=order, mode="constant", cval=cval)
    return out.reshape(len(lr), len(ap), len(si))
