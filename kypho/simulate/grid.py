"""Resampling of a density image and its label map to the FE element size."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["resample_for_fe"]


def resample_for_fe(
    density: np.ndarray,
    labels: np.ndarray,
    spacing_mm: tuple[float, float, float],
    element_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample density (trilinear) and labels (nearest) to isotropic ``element_mm`` voxels.

    Parameters
    ----------
    density : ndarray
        Equivalent density (mg/cm3).
    labels : ndarray of int
        Label map on the same grid.
    spacing_mm : tuple of float
        Input voxel size per axis.
    element_mm : float
        Target element edge.

    Returns
    -------
    density, labels : ndarray
        On the new grid (same axis order).
    """
    if element_mm <= 0:
        raise ValueError(f"element size must be positive, got {element_mm} mm")
    zoom = np.asarray(spacing_mm, dtype=float) / float(element_mm)
    if np.allclose(zoom, 1.0):
        return np.asarray(density, dtype=np.float64), np.asarray(labels)
    d = ndimage.zoom(np.asarray(density, dtype=np.float32), zoom, order=1, grid_mode=True,
                     mode="grid-constant")
    lab = ndimage.zoom(np.asarray(labels), zoom, order=0, grid_mode=True, mode="grid-constant")
    return d.astype(np.float64), lab
