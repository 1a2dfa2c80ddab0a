"""Resampling of a vertebra's crop (:mod:`kypho.measure.vertebra_region`) onto grids
laid out in its frame.

Every measurement of kypho.measure works in world millimetres: voxel indices of a crop are
mapped to world RAS by the crop's affine (obliquity and anisotropic spacing kept), and
values are read back on regular grids laid out in a :class:`VertebraFrame` with
:func:`scipy.ndimage.map_coordinates`. Nothing here assumes 1 mm or isotropic voxels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import VertebraFrame

__all__ = [
    "local_extent",
    "local_grid_points",
    "merged_boxes",
    "sample_on_grid",
    "spacing_along",
]


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
    hu = sample_on_grid(crop.endplate_hu, crop.affine, frame, grid_x, grid_y, grid_si, cval=np.nan)
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
