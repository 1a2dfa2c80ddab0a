"""All orientation algebra of kypho: RAS/LPS, canonical axes, voxel <-> world.

Conventions (see DESIGN.md): world coordinates are patient RAS+ in millimetres; arrays
are held in the closest canonical orientation (axis 0 left->right, axis 1
posterior->anterior, axis 2 inferior->superior) together with their 4x4 affine, which
keeps any obliquity (rotation is never dropped).
"""

from __future__ import annotations

import nibabel.orientations as nio
import numpy as np
import numpy.typing as npt

__all__ = [
    "LPS_TO_RAS",
    "affine_spacing",
    "is_oblique",
    "orientation_codes",
    "to_canonical",
    "voxel_to_world",
    "world_to_voxel",
]

#: Flips x and y: converts LPS (DICOM, ITK) points or affines to RAS (NIfTI) and back.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def affine_spacing(affine: npt.ArrayLike) -> tuple[float, float, float]:
    """Voxel spacing in mm along each array axis: the column norms of the 3x3 part."""
    a = np.asarray(affine, dtype=float)
    return tuple(float(v) for v in np.linalg.norm(a[:3, :3], axis=0))  # type: ignore[return-value]


def orientation_codes(affine: npt.ArrayLike) -> str:
    """Three-letter axis code of an affine, e.g. ``"RAS"`` or ``"LPS"``."""
    return "".join(nio.aff2axcodes(np.asarray(affine, dtype=float)))


def is_oblique(affine: npt.ArrayLike, tol_deg: float = 0.5) -> bool:
    """True when some array axis is more than `tol_deg` away from every world axis."""
    a = np.asarray(affine, dtype=float)[:3, :3]
    unit = a / np.linalg.norm(a, axis=0)
    cos_max = np.abs(unit).max(axis=0)
    return bool(np.any(cos_max < np.cos(np.deg2rad(tol_deg))))


def to_canonical(
    array: np.ndarray, affine: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder and flip array axes to the closest RAS orientation.

    Parameters
    ----------
    array : (I, J, K) ndarray
        Voxel data in the stored order.
    affine : (4, 4) array_like
        Voxel index -> world RAS mm.

    Returns
    -------
    array : (X, Y, Z) ndarray
        The same voxels with axis 0 towards R, 1 towards A, 2 towards S (a view where
        possible, no interpolation).
    affine : (4, 4) ndarray
        The matching affine; world positions of every voxel are unchanged.
    """
    affine = np.asarray(affine, dtype=float)
    if array.ndim != 3:
        raise ValueError(f"expected a 3-D array, got shape {array.shape}")
    ornt = nio.io_orientation(affine)
    if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
        return array, affine
    out = nio.apply_orientation(array, ornt)
    new_affine = affine @ nio.inv_ornt_aff(ornt, array.shape)
    return out, new_affine


def voxel_to_world(affine: npt.ArrayLike, ijk: npt.ArrayLike) -> np.ndarray:
    """Map voxel indices (..., 3) to world RAS mm (..., 3)."""
    a = np.asarray(affine, dtype=float)
    p = np.asarray(ijk, dtype=float)
    return p @ a[:3, :3].T + a[:3, 3]


def world_to_voxel(affine: npt.ArrayLike, xyz: npt.ArrayLike) -> np.ndarray:
    """Map world RAS mm (..., 3) to (fractional) voxel indices (..., 3)."""
    inv = np.linalg.inv(np.asarray(affine, dtype=float))
    p = np.asarray(xyz, dtype=float)
    return p @ inv[:3, :3].T + inv[:3, 3]
