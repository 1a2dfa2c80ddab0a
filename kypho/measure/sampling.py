"""Crops around one vertebra and resampling of voxel data onto a vertebra's local grid.

Every measurement of kypho.measure works in world millimetres: voxel indices of a crop are
mapped to world RAS by the crop's affine (obliquity and anisotropic spacing kept), and
values are read back on regular grids laid out in a :class:`VertebraFrame` with
:func:`scipy.ndimage.map_coordinates`. Nothing here assumes 1 mm or isotropic voxels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import affine_spacing, voxel_to_world
from kypho.model import VertebraFrame

__all__ = [
    "VertebraCrop",
    "crop_vertebra",
    "local_extent",
    "local_grid_points",
    "merged_boxes",
    "sample_on_grid",
    "spacing_along",
]

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
    _points: np.ndarray | None = field(default=None, init=False, repr=False)
    _surface: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return affine_spacing(self.affine)

    @property
    def voxel_volume_ml(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def body_points_world(self) -> np.ndarray:
        """(N, 3) world RAS mm of the body voxel centres (computed once per crop)."""
        if self._points is None:
            self._points = voxel_to_world(self.affine, np.argwhere(self.body))
        return self._points

    def body_surface_world(self) -> np.ndarray:
        """(M, 3) world RAS mm of the body voxels with a face neighbour outside the body.

        Extents of the body along any direction are reached on its surface, so local
        grids are sized from these few points rather than from the whole body.
        """
        if self._surface is None:
            inner = ndimage.binary_erosion(self.body, border_value=0)
            self._surface = voxel_to_world(self.affine, np.argwhere(self.body & ~inner))
        return self._surface


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


def local_extent(
    points_ras_mm: np.ndarray, frame: VertebraFrame, margin_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of points in a frame's local (lr, ap, si) coordinates, plus a margin.

    Local grids are laid over this box rather than a sphere around the origin: the
    body is flat, so this halves or thirds the samples along SI.

    Returns
    -------
    lo, hi : (3,) ndarray
        Local mm.
    """
    loc = frame.to_local(points_ras_mm)
    return loc.min(axis=0) - margin_mm, loc.max(axis=0) + margin_mm


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
    # The grid is separable: voxel coordinates are an outer sum of the three axes, which
    # avoids building and transforming an (N, 3) array of world points.
    inv = np.linalg.inv(np.asarray(affine, float))
    lin = inv[:3, :3] @ frame.rotation().T  # columns: voxel step per mm along lr, ap, si
    origin = inv[:3, :3] @ np.asarray(frame.origin_ras_mm) + inv[:3, 3]
    coords = (
        origin[:, None, None, None]
        + lin[:, 0, None, None, None] * np.asarray(lr, float)[None, :, None, None]
        + lin[:, 1, None, None, None] * np.asarray(ap, float)[None, None, :, None]
        + lin[:, 2, None, None, None] * np.asarray(si, float)[None, None, None, :]
    )
    data = array if array.dtype == np.float32 else array.astype(np.float32)
    out = ndimage.map_coordinates(data, coords, order=order, mode="constant", cval=cval)
    return out.reshape(len(lr), len(ap), len(si))


def sample_body_columns(
    crop: VertebraCrop,
    frame: VertebraFrame,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    grid_si: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Body mask and CT along the SI columns of a local grid, one row per column.

    Returns
    -------
    mask, hu : (NX * NY, NS) ndarray of float
        Trilinear body-mask fraction and HU; HU outside the crop is the columns' median.
    """
    ns = len(grid_si)
    m = sample_on_grid(crop.body.astype(np.float32), crop.affine, frame, grid_x, grid_y, grid_si)
    hu = sample_on_grid(crop.hu, crop.affine, frame, grid_x, grid_y, grid_si, cval=np.nan)
    hu = hu.reshape(-1, ns)
    return m.reshape(-1, ns), np.where(np.isfinite(hu), hu, np.nanmedian(hu))


def spacing_along(affine: np.ndarray, direction: np.ndarray) -> float:
    """Voxel extent (mm) along a world direction: 1 / |A^-1 d| for unit ``d``."""
    return float(1.0 / np.linalg.norm(np.linalg.solve(affine[:3, :3], direction)))


def merged_boxes(
    a: list[tuple[slice, ...] | None], b: list[tuple[slice, ...] | None]
) -> list[tuple[slice, ...] | None]:
    """Per label, the bounding box enclosing both label maps' boxes (None if absent)."""
    out: list[tuple[slice, ...] | None] = []
    for i in range(max(len(a), len(b))):
        ba = a[i] if i < len(a) else None
        bb = b[i] if i < len(b) else None
        if ba is None or bb is None:
            out.append(ba if bb is None else bb)
        else:
            out.append(
                tuple(
                    slice(min(x.start, y.start), max(x.stop, y.stop))
                    for x, y in zip(ba, bb, strict=True)
                )
            )
    return out
