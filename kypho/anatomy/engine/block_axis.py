"""A merged block's own axis: its smoothed centre line and its cross-section's width.

Scoliosis and kyphosis bend a block of merged bodies, so its discs are read on planes
square to its own centre line (:mod:`kypho.anatomy.engine.disc_profile`), not on the
image's slices.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["CENTRELINE_SIGMA_MM", "body_width_mm", "centre_line", "resample_arc"]

#: Centre-line smoothing (mm, Gaussian sigma): bends over a few vertebrae are kept,
#: the slice-to-slice wobble of the core's centroid is not.
CENTRELINE_SIGMA_MM = 8.0


def _slice_of(pts: np.ndarray, step_z: float) -> np.ndarray:
    """Slice index of each block voxel, from the block's lowest slice."""
    return np.round((pts[:, 2] - pts[:, 2].min()) / step_z).astype(int)


def centre_line(pts: np.ndarray, step_z: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed per-slice centroids of a block and its voxel count per slice.

    Parameters
    ----------
    pts : (N, 3) ndarray of float
        Block voxel centres (mm), axis 2 the slice axis.
    step_z : float
        Slice spacing (mm).

    Returns
    -------
    line : (S, 3) ndarray of float
        Smoothed centroid per slice, lowest first.
    counts : (S,) ndarray of float
        Block voxels per slice.
    """
    k = _slice_of(pts, step_z)
    counts = np.bincount(k).astype(float)
    filled = counts > 0
    cx = np.bincount(k, weights=pts[:, 0])
    cy = np.bincount(k, weights=pts[:, 1])
    slices = np.arange(len(counts))
    # Slices with no voxel (the block is connected, but may be thin at a bridge) are
    # interpolated from their neighbours.
    cx = np.interp(slices, slices[filled], cx[filled] / counts[filled])
    cy = np.interp(slices, slices[filled], cy[filled] / counts[filled])
    sigma = CENTRELINE_SIGMA_MM / step_z
    weights = ndimage.gaussian_filter1d(counts, sigma, mode="nearest")
    sx = ndimage.gaussian_filter1d(cx * counts, sigma, mode="nearest") / weights
    sy = ndimage.gaussian_filter1d(cy * counts, sigma, mode="nearest") / weights
    z = pts[:, 2].min() + slices * step_z
    return np.stack([sx, sy, z], axis=1), counts


def body_width_mm(pts: np.ndarray, step_z: float) -> np.ndarray:
    """Width (mm) of a block's cross-section in each slice, along its major axis.

    The second moment of a filled ellipse along its major axis is a quarter of its
    semi-axis squared, so four standard deviations span its width whatever way the
    body is rotated in the slice. Slices without voxels take their neighbours' value.
    ``pts`` and ``step_z`` are as for :func:`centre_line`, whose slices the widths
    follow (lowest first).
    """
    k = _slice_of(pts, step_z)
    n = np.bincount(k).astype(float)
    filled = n > 0
    m = np.maximum(n, 1.0)
    mx, my = np.bincount(k, pts[:, 0]) / m, np.bincount(k, pts[:, 1]) / m
    cxx = np.bincount(k, pts[:, 0] ** 2) / m - mx**2
    cyy = np.bincount(k, pts[:, 1] ** 2) / m - my**2
    cxy = np.bincount(k, pts[:, 0] * pts[:, 1]) / m - mx * my
    major = 0.5 * (cxx + cyy) + np.sqrt(0.25 * (cxx - cyy) ** 2 + cxy**2)
    width = 4.0 * np.sqrt(np.maximum(major, 0.0))
    slices = np.arange(len(n))
    return np.interp(slices, slices[filled], width[filled])


def resample_arc(line: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points at equal arc length along a polyline, and the unit tangents there."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.arange(0.0, arc[-1] + 1e-9, step)
    pts = np.stack([np.interp(s, arc, line[:, i]) for i in range(3)], axis=1)
    tang = np.gradient(pts, axis=0)
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-9)
    return pts, tang
