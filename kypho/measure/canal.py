"""The vertebral body's extents in its own frame, and the spinal canal's AP diameter.

Both are read on the vertebra's frame grid (:mod:`kypho.measure.vertebra_region`, 0.5 mm
nearest-neighbour resampling of its crop), measured once here and handed on:
:func:`canal_ap_mm` goes into the measurement record
(:attr:`~kypho.model.VertebraMeasurement.canal_ap_mm`), :func:`body_geometry` is what
planning starts from. Only the samples each needs are resampled (the body's box, one
sagittal line per axial level), not the whole grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.measure.local_grid import LocalGrid, grid_to_world, sample_crop
from kypho.measure.vertebra_region import (
    GRID_STEP_MM,
    SOFT_TISSUE_SHELL_MM,
    VertebraCrop,
    frame_box,
)
from kypho.model import VertebraFrame

__all__ = ["CORE_FRACTION", "BodyGeometry", "body_extents", "body_geometry", "canal_ap_mm"]

#: Slab half-width around the mid-sagittal / mid-axial planes for robust body extents.
CORE_FRACTION = 0.25


@dataclass(frozen=True)
class BodyGeometry:
    """Extents of the vertebral body in local mm (x lr, y ap, z si)."""

    y_posterior_mm: float
    y_anterior_mm: float
    x_centre_mm: float
    width_mm: float
    z_centre_mm: float
    height_mm: float

    @property
    def depth_mm(self) -> float:
        return self.y_anterior_mm - self.y_posterior_mm


def body_extents(points_local_mm: np.ndarray) -> BodyGeometry:
    """Robust body extents from the local (lr, ap, si) mm of its grid samples, (N, 3).

    Raises
    ------
    ValueError
        When there is no sample.
    """
    if len(points_local_mm) == 0:
        raise ValueError("the vertebral body mask is empty")
    x, y, z = points_local_mm[:, 0], points_local_mm[:, 1], points_local_mm[:, 2]
    x_lo, x1, x99, x_hi = np.percentile(x, [0.5, 1, 99, 99.5])
    z_lo, z1, z99, z_hi = np.percentile(z, [0.5, 1, 99, 99.5])
    xc, width = 0.5 * (x1 + x99), float(x_hi - x_lo)
    zc, height = 0.5 * (z1 + z99), float(z_hi - z_lo)
    # AP extent from the central core only: the pedicle bases and osteophytes must not
    # move the posterior and anterior walls.
    core = (np.abs(x - xc) < CORE_FRACTION * width) & (np.abs(z - zc) < CORE_FRACTION * height)
    yc = y[core] if core.sum() > 20 else y
    y1, y99 = np.percentile(yc, [1.0, 99.0])
    return BodyGeometry(
        y_posterior_mm=float(y1),
        y_anterior_mm=float(y99),
        x_centre_mm=float(xc),
        width_mm=width,
        z_centre_mm=float(zc),
        height_mm=height,
    )


def body_geometry(grid: LocalGrid) -> BodyGeometry:
    """Robust body extents from the body mask of a :class:`LocalGrid`.

    Raises
    ------
    ValueError
        When the body mask is empty.
    """
    return body_extents(grid.start_mm + grid.step_mm * np.argwhere(grid.body))


def _canal_gap_mm(vert_line: np.ndarray, step_mm: float) -> float | None:
    """Length of the first gap behind the body wall closed by bone, on one AP line.

    ``vert_line`` runs anteriorly, ending just posterior to the body wall.
    """
    col = vert_line[::-1]  # walking posteriorly from the body wall
    if not (~col).any():
        return None
    rest = col[int(np.argmax(~col)):]
    if not rest.any():
        return None
    return float(np.argmax(rest)) * step_mm


def canal_ap_mm(crop: VertebraCrop, frame: VertebraFrame) -> float | None:
    """AP diameter of the canal on the mid-sagittal line: posterior wall to lamina.

    Median over axial levels within the middle third of the body height, on the
    vertebra's frame grid (the grid planning uses); None when no lamina closes the canal
    behind the body (open arch, cut field of view) or the body is empty.
    """
    step = GRID_STEP_MM
    try:
        lo, shape = frame_box(crop, frame, step, SOFT_TISSUE_SHELL_MM[1])
    except ValueError:
        return None  # not a vertebra's extent: nothing to measure on
    to_world = grid_to_world(frame, lo, step)
    # The body's samples lie within half a voxel of its voxel centres.
    surface = frame.to_local(crop.body_surface_world())
    if len(surface) == 0:
        return None
    pad = max(crop.spacing_mm)
    b_lo = np.clip(np.floor((surface.min(axis=0) - pad - lo) / step), 0, shape).astype(int)
    b_hi = np.clip(np.ceil((surface.max(axis=0) + pad - lo) / step) + 1, 0, shape).astype(int)
    body = sample_crop(crop.body.view(np.uint8), crop.affine, to_world, tuple(b_lo),
                       tuple(b_hi), 0, 0).astype(bool)
    if not body.any():
        return None
    geo = body_extents(lo + step * (np.argwhere(body) + b_lo))
    xs, ys, zs = (lo[a] + step * np.arange(shape[a]) for a in range(3))
    i = int(np.argmin(np.abs(xs - geo.x_centre_mm)))
    kz = np.nonzero(np.abs(zs - geo.z_centre_mm) <= geo.height_mm / 6)[0]
    j0 = int(np.searchsorted(ys, geo.y_posterior_mm))
    if len(kz) == 0 or j0 == 0:
        return None
    # kz is contiguous (zs is monotonic): one small block of samples.
    vert = sample_crop(crop.vertebra.view(np.uint8), crop.affine, to_world,
                       (i, 0, int(kz[0])), (i + 1, j0, int(kz[-1]) + 1), 0, 0).astype(bool)
    gaps = [g for k in range(vert.shape[2])
            if (g := _canal_gap_mm(vert[0, :, k], step)) is not None]
    return float(np.median(gaps)) if gaps else None
