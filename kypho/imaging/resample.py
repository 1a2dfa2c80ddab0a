"""Resampling at reading time: slice stacks (gantry tilt, uneven spacing), label maps.

The slice-stack functions operate on a stack of slices ``(N, rows, columns)`` one slice
at a time (vectorised within the slice), so memory stays at one output stack and time at
a few ms per slice. Label maps are resampled by nearest neighbour in world coordinates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["regular_positions", "resample_along_stack", "resample_labels", "shift_slices"]


def shift_slices(
    stack: np.ndarray, shifts_px: npt.ArrayLike, fill: float
) -> np.ndarray:
    """Shift every slice in-plane by its own sub-pixel offset (linear interpolation).

    A gantry-tilted series is a stack of slices each displaced in its own plane by an
    amount proportional to its position; shifting them back gives an orthogonal grid.

    Parameters
    ----------
    stack : (N, R, C) ndarray
        Slices; modified copies are returned, the input is untouched.
    shifts_px : (N, 2) array_like
        Per slice, the shift along rows and columns in pixels:
        ``out[k, r, c] = stack[k, r - shift[k, 0], c - shift[k, 1]]``.
    fill : float
        Value for pixels shifted in from outside the field of view.

    Returns
    -------
    (N, R, C) ndarray of float32
    """
    shifts = np.asarray(shifts_px, dtype=float)
    if shifts.shape != (stack.shape[0], 2):
        raise ValueError(f"shifts must have shape ({stack.shape[0]}, 2), got {shifts.shape}")
    out = np.empty(stack.shape, dtype=np.float32)
    for k in range(stack.shape[0]):
        ndimage.shift(stack[k].astype(np.float32, copy=False), shifts[k], output=out[k],
                      order=1, mode="constant", cval=fill, prefilter=False)
    return out


def regular_positions(positions_mm: npt.ArrayLike, spacing_mm: float) -> np.ndarray:
    """Positions of a regular grid from the first slice position spanning all slices.

    Parameters
    ----------
    positions_mm : (N,) array_like
        Sorted ascending slice positions along the stack normal.
    spacing_mm : float
        Grid step.

    Returns
    -------
    (M,) ndarray of float64
        ``positions[0] + m * spacing_mm`` for every m up to the last slice (within a
        hundredth of a step).
    """
    d = np.asarray(positions_mm, dtype=float)
    count = int(np.floor((d[-1] - d[0]) / spacing_mm + 0.01)) + 1
    return d[0] + spacing_mm * np.arange(count)


def resample_along_stack(
    stack: np.ndarray, positions_mm: npt.ArrayLike, targets_mm: npt.ArrayLike
) -> np.ndarray:
    """Linearly interpolate a slice stack from uneven positions onto target positions.

    Parameters
    ----------
    stack : (N, R, C) ndarray
        Slices sorted by `positions_mm`.
    positions_mm : (N,) array_like
        Strictly increasing slice positions along the stack normal.
    targets_mm : (M,) array_like
        Wanted positions, within ``[positions[0], positions[-1]]``.

    Returns
    -------
    (M, R, C) ndarray of float32
        Each output slice is the distance-weighted mean of its two neighbours.
    """
    d = np.asarray(positions_mm, dtype=float)
    t = np.clip(np.asarray(targets_mm, dtype=float), d[0], d[-1])
    upper = np.clip(np.searchsorted(d, t, side="right"), 1, len(d) - 1)
    lower = upper - 1
    weight = (t - d[lower]) / (d[upper] - d[lower])
    out = np.empty((len(t), *stack.shape[1:]), dtype=np.float32)
    for m in range(len(t)):
        w = np.float32(weight[m])
        np.multiply(stack[lower[m]], np.float32(1.0) - w, out=out[m], casting="unsafe")
        out[m] += w * stack[upper[m]]
    return out


def resample_labels(
    labels: np.ndarray, affine: np.ndarray, target_shape: tuple[int, ...], target_affine: np.ndarray
) -> np.ndarray:
    """Nearest-neighbour resampling of a label map onto another grid (world coordinates).

    Parameters
    ----------
    labels : (I, J, K) ndarray of uint8
        Labels on their own grid.
    affine, target_affine : (4, 4) ndarray
        Voxel -> world RAS mm of the source and the target grids.
    target_shape : tuple of int
        Shape of the target grid.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
        Labels on the target grid; 0 outside the source field of view.
    """
    if labels.shape == tuple(target_shape) and np.allclose(affine, target_affine, atol=1e-3):
        return labels
    mapping = np.linalg.inv(affine) @ target_affine
    # Grids that differ by axis order, flips or whole-voxel shifts map exactly onto each
    # other; rounding removes the float error that would push edge voxels off the grid.
    rounded = np.round(mapping)
    if np.allclose(mapping, rounded, atol=1e-4):
        mapping = rounded
    return ndimage.affine_transform(
        labels,
        mapping[:3, :3],
        offset=mapping[:3, 3],
        output_shape=tuple(target_shape),
        order=0,
        mode="constant",
        cval=0,
        output=np.uint8,
    )
