"""Rendering of local objects into the volume.

The scanner grid and the canvas (volume plus label arrays), and the compositing of an
object's layers evaluated in its own frame on z sub-slices (partial volume), slab by slab
to bound memory, with label writing and fraction-in-view bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .shapes import F32

Q3 = tuple[np.ndarray, np.ndarray, np.ndarray]
Ctx = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Layers = list[tuple]


@dataclass
class Grid:
    """Axis-aligned scanner grid, array layout ``[z, y, x]``."""

    x0: float
    y0: float
    z0: float
    dx: float
    dz: float
    nx: int
    ny: int
    nz: int
    K: int

    def sub_z(self, k0: int, k1: int, K: int) -> np.ndarray:
        """Return z (mm) of the K sub-slices of slices ``k0..k1-1``."""
        m = (np.arange(K) + 0.5) / K - 0.5
        k = np.arange(k0, k1)[:, None] + m[None, :]
        return (self.z0 + k.ravel() * self.dz).astype(F32)


@dataclass
class Canvas:
    """The volume being rendered plus its label arrays (layout ``[z, y, x]``)."""

    grid: Grid
    vol: np.ndarray
    labv: np.ndarray
    labb: np.ndarray


def box_range(grid: Grid, pts: np.ndarray, pad: float) -> tuple[slice, slice, slice]:
    """Index ranges (possibly outside the grid) covering scanner points ``pts``."""
    lo, hi = pts.min(0) - pad, pts.max(0) + pad
    i0 = int(np.floor((lo[0] - grid.x0) / grid.dx))
    i1 = int(np.ceil((hi[0] - grid.x0) / grid.dx)) + 1
    j0 = int(np.floor((lo[1] - grid.y0) / grid.dx))
    j1 = int(np.ceil((hi[1] - grid.y0) / grid.dx)) + 1
    k0 = int(np.floor((lo[2] - grid.z0) / grid.dz))
    k1 = int(np.ceil((hi[2] - grid.z0) / grid.dz)) + 1
    return slice(k0, k1), slice(j0, j1), slice(i0, i1)


def _render_chunk(
    cv: Canvas, R: np.ndarray, t: np.ndarray, box: tuple[slice, slice, slice],
    fields: Callable[[Q3, Ctx], tuple[Layers, np.ndarray | None, np.ndarray | None]],
    label: int = 0, extend: bool = False, K: int | None = None,
) -> tuple[float, np.ndarray | None]:
    """Evaluate an object in its local frame on a sub-slice box and composite it.

    Parameters
    ----------
    cv : Canvas
        Target volume and label arrays.
    R, t : numpy.ndarray
        Local axes (columns) and origin in scanner coordinates.
    box : tuple of slice
        Index box ``(k, j, i)``; may extend outside the grid.
    fields : callable
        ``fields(q, ctx)`` returns ``(layers, d_label_whole, d_label_body)``; a layer is
        ``(occupancy, hu)`` or ``(occupancy, hu, sub_box)``.
    label : int
        Label written where the label distances are negative (0: none).
    extend : bool
        If False the box is first clipped to the grid (no fraction-in-view count).
    K : int, optional
        Sub-slices per slice (default: the grid's).

    Returns
    -------
    tuple
        ``(fraction_in_view, body_centroid)`` (NaN / None without labels).
    """
    gr = cv.grid
    K = K or gr.K
    ks, js, is_ = box
    lim = (gr.nz, gr.ny, gr.nx)
    if not extend:
        ks, js, is_ = (slice(max(s.start, 0), min(s.stop, n)) for s, n in zip(box, lim,
                                                                                strict=True))
    if ks.stop <= ks.start or js.stop <= js.start or is_.stop <= is_.start:
        return 0.0, None
    xs = (gr.x0 + np.arange(is_.start, is_.stop) * gr.dx).astype(F32)
    ys = (gr.y0 + np.arange(js.start, js.stop) * gr.dx).astype(F32)
    zs = gr.sub_z(ks.start, ks.stop, K)
    dx, dy, dz = (xs - F32(t[0]))[None, None, :], (ys - F32(t[1]))[None, :, None], (
        zs - F32(t[2]))[:, None, None]
    q = tuple(dx * F32(R[0, c]) + dy * F32(R[1, c]) + dz * F32(R[2, c]) for c in range(3))
    layers, dv, db = fields(q, (xs, ys, zs, R, t))  # type: ignore[arg-type]
    shape = (ks.stop - ks.start, K, js.stop - js.start, is_.stop - is_.start)
    tr = np.ones((shape[0] * K, *shape[2:]), F32)
    em = np.zeros_like(tr)
    for lay in layers:
        o, h = lay[0], lay[1]
        sl = lay[2] if len(lay) > 2 else (slice(None),) * 3  # type: ignore[misc]
        e, r = em[sl], tr[sl]
        e *= 1 - o
        e += o * h
        r *= 1 - o
    T = tr.reshape(shape).mean(1)
    C = em.reshape(shape).mean(1)
    kk = slice(max(ks.start, 0), min(ks.stop, gr.nz))
    jj = slice(max(js.start, 0), min(js.stop, gr.ny))
    ii = slice(max(is_.start, 0), min(is_.stop, gr.nx))
    sub = (slice(kk.start - ks.start, kk.stop - ks.start),
           slice(jj.start - js.start, jj.stop - js.start),
           slice(ii.start - is_.start, ii.stop - is_.start))
    if kk.stop > kk.start and jj.stop > jj.start and ii.stop > ii.start:
        view = cv.vol[kk, jj, ii]
        view *= T[sub]
        view += C[sub]
    if not label or dv is None or db is None:
        return 0.0, None
    mv = dv[K // 2::K] < 0
    mb = db[K // 2::K] < 0
    inside = np.zeros(0, bool)
    if kk.stop > kk.start and jj.stop > jj.start and ii.stop > ii.start:
        inside = mv[sub]
        cv.labv[kk, jj, ii][inside] = label
        cv.labb[kk, jj, ii][mb[sub]] = label
    kz, jy, ix = np.nonzero(mb)
    n = kz.size
    cen = np.array([n * gr.x0 + (ix.sum() + is_.start * n) * gr.dx,
                    n * gr.y0 + (jy.sum() + js.start * n) * gr.dx,
                    n * gr.z0 + (kz.sum() + ks.start * n) * gr.dz, n])
    return float(inside.sum()), np.concatenate([[mv.sum()], cen])


def render_local(
    cv: Canvas, R: np.ndarray, t: np.ndarray, box: tuple[slice, slice, slice],
    fields: Callable[[Q3, Ctx], tuple[Layers, np.ndarray | None, np.ndarray | None]],
    label: int = 0, extend: bool = False, K: int | None = None,
) -> tuple[float, np.ndarray | None]:
    """Render an object slab by slab (bounded memory); see :func:`_render_chunk`.

    Returns
    -------
    tuple
        ``(fraction_in_view, body_centroid)``; NaN / None when nothing was labelled.
    """
    K = K or cv.grid.K
    ks = box[0]
    if not extend:
        ks = slice(max(ks.start, 0), min(ks.stop, cv.grid.nz))
    per = max(1, int(3e6 // max(1, K * (box[1].stop - box[1].start)
                                 * (box[2].stop - box[2].start))))
    n_in, acc = 0.0, np.zeros(5)
    for k0 in range(ks.start, ks.stop, per):
        sub = (slice(k0, min(k0 + per, ks.stop)), box[1], box[2])
        a, b = _render_chunk(cv, R, t, sub, fields, label, extend, K)
        n_in += a
        if b is not None:
            acc += b
    if acc[0] <= 0:
        return float("nan"), None
    return n_in / acc[0], (acc[1:4] / acc[4] if acc[4] > 0 else None)
