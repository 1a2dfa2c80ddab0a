"""Cement volume from the balloon cavity and its fill fraction (DOMAIN.md §5.2, §8.4)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

__all__ = ["STIFFNESS_FILL_FRACTION", "STRENGTH_FILL_FRACTION", "CementFill", "cement_fill"]

#: Fill fractions of the body volume that restored strength and stiffness in cadaver
#: vertebroplasty (16.2 %, 29.8 %; DOMAIN.md §5.2, §8.4).
STRENGTH_FILL_FRACTION = 0.162
STIFFNESS_FILL_FRACTION = 0.298
#: Interdigitation of high-viscosity cement into the trabecular bone around the cavity
#: (mm). ASSUMPTION, not in DOMAIN.md: one millimetre (one voxel at 1 mm).
INTERDIGITATION_MM = 1.0


@dataclass(frozen=True)
class CementFill:
    """Cement placed in a vertebral body.

    Attributes
    ----------
    mask : ndarray of bool or None
        Cement voxels (cavity plus interdigitation shell, inside the trabecular bone);
        None when read back from results.json, which holds the volumes only.
    volume_ml, body_volume_ml, fill_fraction : float
        Cement volume, body volume and their ratio.
    """

    mask: np.ndarray | None = field(repr=False, compare=False)
    volume_ml: float
    body_volume_ml: float
    fill_fraction: float


def cement_fill(cavity: np.ndarray, body: np.ndarray, spacing_mm: float) -> CementFill:
    """Cavity plus an interdigitation shell, kept inside the body's trabecular bone."""
    trab = body & ndimage.binary_erosion(body)
    n = max(1, round(INTERDIGITATION_MM / spacing_mm))
    mask = (ndimage.binary_dilation(cavity, iterations=n) | cavity) & trab
    v = spacing_mm**3 / 1000.0
    vol, body_vol = float(mask.sum()) * v, float(body.sum()) * v
    return CementFill(mask, vol, body_vol, vol / body_vol if body_vol else 0.0)
