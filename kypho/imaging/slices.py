"""Slice geometry that several stages read: is this a thick-slice acquisition?"""

from __future__ import annotations

__all__ = ["THICK_SLICE_MM", "is_thick_slice"]

#: Slices at least this thick (mm), and over twice the in-plane size, count as thick.
THICK_SLICE_MM = 2.0


def is_thick_slice(spacing_mm: tuple[float, float, float]) -> bool:
    """True when the slice spacing is clearly larger than the in-plane voxel size.

    Parameters
    ----------
    spacing_mm : (3,) tuple of float
        Voxel spacing of a canonical (RAS) array; axis 2 is the slice axis.
    """
    dz = float(spacing_mm[2])
    return dz > THICK_SLICE_MM and dz > 2.0 * max(float(spacing_mm[0]), float(spacing_mm[1]))
