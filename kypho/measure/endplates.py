"""Endplate positions along columns of a vertebra's local grid, with sub-voxel precision.

Two sources are combined:

* the body mask, resampled with trilinear interpolation: its 0.5 crossing is the mask's
  boundary half-way between the last voxel inside and the first outside;
* the CT values along the same column: the edge is placed from the zeroth and first
  moments of the profile between the bone and the disc (partial volume and blur move HU
  around but keep these integrals), so it moves continuously with the true edge, which
  the voxelised mask cannot do. How the two are combined is in
  :class:`kypho.measure.heights.EdgeColumns`.

Everything is vectorised over columns: arrays are ``(n_columns, n_samples)``.
"""

from __future__ import annotations

import numpy as np

from kypho.imaging.edges import refine_edges_by_moments

__all__ = ["column_edges", "refine_edges_by_moments"]


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
