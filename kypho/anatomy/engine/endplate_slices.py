"""Which slice an endplate ends on, at thick slices: decided per column from the CT.

With slices much thicker than the in-plane voxels (3 mm vs 0.7 mm), the half-way rule
of the refinement keeps the slice just beyond a thin bright endplate whenever that
slice holds part of the cortex, and a one-slice disc between two bodies can read as
bone by partial volume: bodies come out about a slice too tall. Here each craniocaudal
run of one vertebra id keeps its end slice iff the endplate, placed from the zeroth
and first moments of the column's HU profile (:func:`kypho.imaging.edges.
refine_edges_by_moments`, the same estimate the measurement uses), lies beyond the
slice centre: the rule a voxelised truth follows (voxel centre inside the body).

The moments model is a thin bright layer on trabecular bone. Real endplates can be
thick subchondral bands (several millimetres of dense bone); the model then puts the
edge inside the band and would cut real bone, so a run end whose bright band is wider
than a slice keeps the half-way rule. Only data with thick slices are touched.
"""

from __future__ import annotations

import numpy as np

from kypho.imaging.edges import refine_edges_by_moments
from kypho.imaging.slices import THICK_SLICE_MM, is_thick_slice

__all__ = ["MIN_RUN_SLICES", "THICK_SLICE_MM", "is_thick_slice", "trim_endplate_slices"]

#: Fewest slices a run needs: two at each end for the endplate window, one inside for
#: the trabecular level. Shorter runs (arches, thin crushed bodies) are left alone.
MIN_RUN_SLICES = 5
#: Widest endplate band (in slices, see :func:`_band_slices`) taken as a thin layer.
MAX_BAND_SLICES = 2.0


def _run_bounds(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, first and last indices of the runs of one non-zero id along axis 1."""
    pad = np.pad(lab, ((0, 0), (1, 1)))
    same_prev = pad[:, 1:-1] == pad[:, :-2]
    same_next = pad[:, 1:-1] == pad[:, 2:]
    nonzero = lab > 0
    row, z0 = np.nonzero(nonzero & ~same_prev)
    _, z1 = np.nonzero(nonzero & ~same_next)
    return row, z0, z1


def _band_slices(
    hu: np.ndarray, end: np.ndarray, outward: int, bone_hu: np.ndarray, k: int
) -> np.ndarray:
    """Width (in slices) of the bright band at each run end: its excess over the
    trabecular level, summed over the ``k`` end slices, per the brightest slice's excess.

    A layer thinner than a slice gives 1 to 2 (2 when split evenly between two
    slices); a band of dense bone several slices wide gives about its width."""
    s = hu.shape[1]
    idx = np.clip(end[:, None] - outward * np.arange(k)[None, :], 0, s - 1)
    excess = np.maximum(np.take_along_axis(hu, idx, axis=1) - bone_hu[:, None], 0.0)
    peak = excess.max(axis=1)
    with np.errstate(all="ignore"):
        return np.where(peak > 0, excess.sum(axis=1) / peak, 0.0)


def trim_endplate_slices(
    labels: np.ndarray,
    hu: np.ndarray,
    spacing_mm: tuple[float, float, float],
    min_contrast_hu: float,
) -> np.ndarray:
    """Drop each run's end slice whose centre lies beyond the endplate (thick slices).

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of uint8
        Vertebra ids on the CT grid (0 = background), canonical orientation (axis 2
        inferior -> superior).
    hu : (X, Y, Z) ndarray of float
        CT values on the same grid.
    spacing_mm : tuple of 3 float
        Voxel size (mm) along the three axes.
    min_contrast_hu : float
        Endplate-minus-disc contrast (HU) below which a run end is left as it is; from
        the image's own tissue levels.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
        ``labels`` with at most one slice removed at each end of each run; a copy, or
        ``labels`` itself when the slices are not thick.
    """
    if labels.shape != hu.shape:
        raise ValueError(f"labels {labels.shape} and hu {hu.shape} differ in shape")
    if not is_thick_slice(spacing_mm):
        return labels
    nz = labels.shape[2]
    flat = labels.reshape(-1, nz)
    rows = np.flatnonzero(flat.any(axis=1))
    out = labels.copy()
    if rows.size == 0 or nz < MIN_RUN_SLICES:
        return out
    lab = flat[rows]
    col_hu = hu.reshape(-1, nz)[rows].astype(np.float64)
    row, z0, z1 = _run_bounds(lab)
    long = z1 - z0 + 1 >= MIN_RUN_SLICES
    row, z0, z1 = row[long], z0[long], z1[long]
    if row.size == 0:
        return out
    dz = float(spacing_mm[2])
    # Trabecular level of each run, past two slices at each end (the endplate bands
    # and their partial volume): its mean for the edge model; its darkest slice for
    # the band width, as thick subchondral bands reaching into the interior raise
    # the mean (noise lowers the minimum, which the width tolerates, not the model).
    csum = np.pad(np.cumsum(col_hu, axis=1), ((0, 0), (1, 0)))
    bone = (csum[row, z1 - 1] - csum[row, z0 + 2]) / (z1 - z0 - 3)
    width = nz + 1
    padded = np.pad(col_hu, ((0, 0), (0, 1)), constant_values=np.inf).reshape(-1)
    bounds = np.stack([row * width + z0 + 2, row * width + z1 - 1], axis=1).reshape(-1)
    bone_low = np.minimum.reduceat(padded, bounds)[::2]
    prof = col_hu[row]
    si = np.arange(nz) * dz
    k = 2  # window: two slices inside the end slice, two beyond it
    drop_lab = np.zeros(lab.shape, dtype=bool)
    for outward, end in ((+1, z1), (-1, z0)):
        edge_mm, used = refine_edges_by_moments(
            prof,
            si,
            si[end],
            outward,
            bone_hu=bone,
            inner_mm=k * dz,
            outer_mm=k * dz,
            min_contrast_hu=min_contrast_hu,
        )
        thin = _band_slices(prof, end, outward, bone_low, k + 1) <= MAX_BAND_SLICES
        # Keep the end slice iff its centre lies inside the endplate.
        beyond = outward * (edge_mm - si[end]) < 0
        drop = used & thin & beyond
        drop_lab[row[drop], end[drop]] = True
    lab = np.where(drop_lab, 0, lab)
    out.reshape(-1, nz)[rows] = lab
    return out
