"""Edge positions along 1-D CT profiles from the moments of the HU profile.

Pure array computation shared by the segmentation (which slices an endplate keeps at
thick slices, :mod:`kypho.anatomy.engine.endplate_slices`) and the measurement
(sub-voxel endplates, :mod:`kypho.measure.endplates`), so both place an endplate the
same way. Vectorised over columns: arrays are ``(n_columns, n_samples)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["edge_from_moments", "refine_edges_by_moments"]


def edge_from_moments(
    excess: np.ndarray, z: np.ndarray, weights: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Edge of a blurred step plus thin layer from the first two moments of a profile.

    Parameters
    ----------
    excess : (N, S) ndarray of float
        Profile minus its outer (disc) level, 0 outside each column's window.
    z : (N, S) or (S,) ndarray of float
        Distance (mm) of each sample from the window's inner end.
    weights : (N, S) ndarray of float
        Integration weights (trapezoid, mm).
    delta : (N,) ndarray of float
        Inner (bone) level minus outer level.

    Returns
    -------
    u : (N,) ndarray of float
        Edge distance (mm) from the window's inner end; NaN where the moments admit none.
    m0 : (N,) ndarray of float
        Zeroth moment (HU mm), positive where there is anything above the outer level.
    """
    m0 = (weights * excess).sum(axis=1)
    m1 = (weights * z * excess).sum(axis=1)
    with np.errstate(all="ignore"):
        root = np.sqrt(np.maximum(m0**2 - 2.0 * delta * m1, 0.0))
        u = 2.0 * m1 / (m0 + root)
    return u, m0


def _window(hu: np.ndarray, si: np.ndarray, edge: np.ndarray, outward: int, k_in: int,
            k_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Each column's samples from `k_in` inside to `k_out` beyond its edge, in outward
    order ((N, k_in + k_out + 1), NaN off the profile), and the edge's sample index."""
    s = hu.shape[1]
    step = float(si[1] - si[0])
    e_idx = np.clip(np.round((np.nan_to_num(edge) - si[0]) / step).astype(int), 0, s - 1)
    offsets = np.arange(-k_in, k_out + 1)
    idx = e_idx[:, None] + outward * offsets[None, :]
    valid = (idx >= 0) & (idx < s)
    win = np.take_along_axis(hu, np.clip(idx, 0, s - 1), axis=1)
    return np.where(valid, win, np.nan), e_idx


def refine_edges_by_moments(
    hu: np.ndarray,
    si: np.ndarray,
    edge: np.ndarray,
    outward: int,
    *,
    bone_hu: float | np.ndarray,
    inner_mm: float,
    outer_mm: float,
    min_contrast_hu: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Endplate positions from the zeroth and first moments of the HU profile.

    Model along each column (outward coordinate ``z``): bone at ``bone_hu`` up to the
    edge ``e``, a thin bright cortical endplate of excess mass ``M`` (HU mm) just inside
    it, disc at ``D`` beyond. Partial volume and blur (any symmetric spread: slice
    profile, reconstruction kernel) move HU around but keep the integrals

        I0 = int (p - D) dz = (T - D) u + M,    J1 = int (z - a) (p - D) dz
           = (T - D) u^2 / 2 + M u,             with u = e - a,

    over a window ``[a, b]`` from inside the bone to the disc minimum. Eliminating M,
    ``(T - D) u^2 / 2 - I0 u + J1 = 0``. The estimate does not depend on where the edge
    falls within a voxel, unlike a threshold crossing of a thick-slice profile; it puts
    the edge at the outer face of a cortex of zero thickness, so it sits about half the
    cortical thickness inside the true surface (corrected per image, see
    :func:`edge_offset_mm`).

    Parameters
    ----------
    hu : (N, S) ndarray of float
        CT values along the columns.
    si : (S,) ndarray of float
        Sample positions in mm (ascending, even steps).
    edge : (N,) ndarray of float
        Mask edge per column (mm) that centres the window; NaN columns pass through.
    outward : {+1, -1}
        +1 for a superior edge, -1 for an inferior one.
    bone_hu : float or (N,) ndarray of float
        The vertebra's own trabecular HU (``T``), one value or one per column.
    inner_mm, outer_mm : float
        Window extent inside the mask edge, and how far beyond it the disc minimum is
        looked for.
    min_contrast_hu : float
        Endplate-minus-disc contrast below which the column is not refined.

    Returns
    -------
    refined : (N,) ndarray of float
        Edge positions (mm); the mask edge where not refined.
    used : (N,) ndarray of bool
    """
    step = float(si[1] - si[0])
    k_in = max(1, round(inner_mm / step))
    win, e_idx = _window(hu, si, edge, outward, k_in, max(1, round(outer_mm / step)))
    outer = np.where(np.isnan(win[:, k_in:]), np.inf, win[:, k_in:])
    j_min = k_in + np.argmin(outer, axis=1)  # disc minimum: the window's outer end
    disc = np.take_along_axis(win, j_min[:, None], axis=1)[:, 0]
    with np.errstate(all="ignore"):
        peak = np.nanmax(win[:, : k_in + 1], axis=1)
    pos = np.arange(win.shape[1])[None, :]
    q = np.where(pos <= j_min[:, None], win - disc[:, None], 0.0)
    complete = ~np.isnan(q).any(axis=1)
    q = np.nan_to_num(q)
    z = pos * step  # distance from the window's inner end a
    # Trapezoid weights: exact integrals of the piecewise-linear (interpolated) profile.
    w = np.where((pos == 0) | (pos == j_min[:, None]), 0.5 * step, step)
    u, i0 = edge_from_moments(q, z, w, bone_hu - disc)
    pos_mm = si[e_idx] + outward * (u - k_in * step)
    used = (
        np.isfinite(edge)
        & complete
        & np.isfinite(u)
        & (i0 > 0)
        & (peak - disc >= min_contrast_hu)
        & (u > 0)
        & (u < (j_min * step))
    )
    return np.where(used, pos_mm, edge), used
