"""Endplate positions along columns of a vertebra's local grid, with sub-voxel precision.

Two sources are combined:

* the body mask, resampled with trilinear interpolation: its 0.5 crossing is the mask's
  boundary half-way between the last voxel inside and the first outside;
* the CT values along the same column: the endplate edge is where the intensity crosses
  half-way between the disc (the minimum just outside the mask edge) and the endplate
  (the maximum just inside). Partial volume makes this crossing move continuously with
  the true edge, which the voxelised mask cannot do (it matters at 3 mm slices).

Everything is vectorised over columns: arrays are ``(n_columns, n_samples)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["column_edges", "refine_edges_on_hu"]


def column_edges(mask: np.ndarray, si: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inferior and superior mask edges of each column (outermost 0.5 crossings).

    Parameters
    ----------
    mask : (N, S) ndarray of float
        Interpolated mask values (0..1) along S samples of N columns.
    si : (S,) ndarray of float
        Sample positions in mm, ascending and evenly spaced.

    Returns
    -------
    bottom, top : (N,) ndarray of float
        Edge positions in mm; NaN where the column misses the mask.
    """
    inside = mask >= 0.5
    any_in = inside.any(axis=1)
    n, s = mask.shape
    step = float(si[1] - si[0])
    first = np.argmax(inside, axis=1)
    last = s - 1 - np.argmax(inside[:, ::-1], axis=1)
    rows = np.arange(n)

    # Linear interpolation of the 0.5 crossing between the edge sample and its outer
    # neighbour (clipped at the array ends, where the column is cut).
    lo_out = np.clip(first - 1, 0, s - 1)
    m_in, m_out = mask[rows, first], mask[rows, lo_out]
    frac = np.where(m_in > m_out, (m_in - 0.5) / np.maximum(m_in - m_out, 1e-6), 0.0)
    bottom = si[first] - np.clip(frac, 0.0, 1.0) * step

    hi_out = np.clip(last + 1, 0, s - 1)
    m_in, m_out = mask[rows, last], mask[rows, hi_out]
    frac = np.where(m_in > m_out, (m_in - 0.5) / np.maximum(m_in - m_out, 1e-6), 0.0)
    top = si[last] + np.clip(frac, 0.0, 1.0) * step

    bottom = np.where(any_in, bottom, np.nan)
    top = np.where(any_in, top, np.nan)
    return bottom, top


def refine_edges_on_hu(
    hu: np.ndarray,
    si: np.ndarray,
    edge: np.ndarray,
    outward: int,
    *,
    inner_mm: float,
    outer_mm: float,
    max_shift_mm: float,
    min_contrast_hu: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Move mask edges to the half-way intensity crossing between disc and endplate.

    Parameters
    ----------
    hu : (N, S) ndarray of float
        CT values along the columns.
    si : (S,) ndarray of float
        Sample positions in mm (ascending, even steps).
    edge : (N,) ndarray of float
        Mask edge per column (mm); NaN columns are passed through.
    outward : {+1, -1}
        +1 for a superior edge (outside is towards larger ``si``), -1 for inferior.
    inner_mm, outer_mm : float
        How far inside the mask edge the endplate peak, and outside it the disc minimum,
        are looked for (about two voxels inside, so that a partial-volume voxel at the
        edge is not taken for the bone level).
    max_shift_mm : float
        Largest correction allowed (half a voxel along the column); the refined edge is
        clipped to it.
    min_contrast_hu : float
        Endplate-minus-disc contrast below which the mask edge is kept.

    Returns
    -------
    refined : (N,) ndarray of float
        Refined edge positions (mm).
    used : (N,) ndarray of bool
        Where the intensity refinement was applied.
    """
    n, s = hu.shape
    step = float(si[1] - si[0])
    k = max(1, round(inner_mm / step))
    k_out = max(1, round(outer_mm / step))
    ok = np.isfinite(edge)
    e_idx = np.clip(np.round((np.nan_to_num(edge) - si[0]) / step).astype(int), 0, s - 1)
    offsets = np.arange(-k, k_out + 1)
    # Window of samples centred on the mask edge, oriented so that index increases
    # outwards (from bone into the disc).
    idx = e_idx[:, None] + outward * offsets[None, :]
    valid = (idx >= 0) & (idx < s)
    win = np.take_along_axis(hu, np.clip(idx, 0, s - 1), axis=1)
    win = np.where(valid, win, np.nan)
    inner = win[:, : k + 1]  # bone side, mask edge included
    outer = win[:, k:]  # disc side, mask edge included
    with np.errstate(all="ignore"):
        peak_pos = np.nanargmax(np.where(np.isnan(inner), -np.inf, inner), axis=1)
        bone = np.nanmax(inner, axis=1)
        disc = np.nanmin(outer, axis=1)
    mid = 0.5 * (bone + disc)
    contrast = bone - disc

    # First sample beyond the bone peak where the profile drops below the midpoint.
    pos = np.arange(win.shape[1])[None, :]
    below = (win < mid[:, None]) & (pos > peak_pos[:, None])
    has = below.any(axis=1)
    j = np.argmax(below, axis=1)
    j_prev = np.clip(j - 1, 0, win.shape[1] - 1)
    rows = np.arange(n)
    v0, v1 = win[rows, j_prev], win[rows, j]
    frac = np.clip((v0 - mid) / np.maximum(v0 - v1, 1e-6), 0.0, 1.0)
    # Window position (in samples, outward from the window start) -> mm along si.
    pos_mm = (j_prev + frac - k) * step * outward + si[e_idx]
    used = ok & has & (contrast >= min_contrast_hu)
    # A mask labelled at voxel centres puts the true edge within half a voxel of its
    # 0.5 crossing: the CT may move the edge inside that interval, not beyond.
    pos_mm = np.clip(pos_mm, edge - max_shift_mm, edge + max_shift_mm)
    return np.where(used, pos_mm, edge), used
