"""Anterior, middle and posterior vertebral body heights (Ha, Hm, Hp) in the vertebra frame.

DESIGN.md "Vertebral body heights": endplate-to-endplate distances along the SI axis at
10 %, 50 % and 90 % of the body's AP depth measured from the anterior cortex, taken as the
median over a +/-3 mm slab around the mid-sagittal plane.

The body mask and the CT are resampled (trilinear) on a local grid of the frame: the slab
is 13 parasagittal lines 0.5 mm apart, each position uses 3 AP lines 0.5 mm apart, so each
height is the median of 39 columns. Each column's endplates come from the mask's 0.5
crossing, refined on the HU profile where the endplate stands out of the disc
(:mod:`kypho.measure.endplates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.measure.endplates import column_edges, refine_edges_on_hu
from kypho.measure.records import Heights, VertebraFrame
from kypho.measure.sampling import VertebraCrop, sample_on_grid

__all__ = [
    "HEIGHT_POSITIONS",
    "HU_REFINE_ABOVE_MM",
    "SLAB_HALF_WIDTH_MM",
    "HeightProfile",
    "measure_heights",
    "spacing_along",
]

#: Fractions of the AP depth, from the anterior cortex, where Ha, Hm, Hp are read
#: (DESIGN.md "Vertebral body heights").
HEIGHT_POSITIONS = (0.10, 0.50, 0.90)
#: Half width of the mid-sagittal slab (mm), DESIGN.md.
SLAB_HALF_WIDTH_MM = 3.0
#: Voxel extent along SI (mm) above which endplates are refined on the CT values.
HU_REFINE_ABOVE_MM = 1.5
_LR_STEP_MM = 0.5
_AP_STEP_MM = 0.5
_SI_STEP_MM = 0.25


@dataclass
class HeightProfile:
    """Heights and the mid-sagittal section they were read from.

    Attributes
    ----------
    heights : Heights
        Ha, Hm, Hp in mm.
    spread_mm : (3,) ndarray
        Interquartile range of the column heights at each point (mm): a noise measure.
    ap_depth_mm, width_mm : float
        Body depth at the mid-sagittal plane and transverse width at mid-height.
    anterior_mm, posterior_mm : float
        Local AP coordinates of the anterior and posterior cortex.
    positions_mm : (3,) ndarray
        Local AP coordinates of the Ha, Hm, Hp lines.
    superior_mm, inferior_mm : (3,) ndarray
        Local SI coordinates of the endplates at the three points.
    section : (A, S) ndarray of float
        Slab-mean mask in the mid-sagittal plane (for the posterior wall).
    ap_grid, si_grid : (A,), (S,) ndarray
        Local coordinates (mm) of ``section``.
    hu_refined_fraction : float
        Share of columns whose endplates were refined on the CT values.
    """

    heights: Heights
    spread_mm: np.ndarray
    ap_depth_mm: float
    width_mm: float
    anterior_mm: float
    posterior_mm: float
    positions_mm: np.ndarray
    superior_mm: np.ndarray
    inferior_mm: np.ndarray
    section: np.ndarray
    ap_grid: np.ndarray
    si_grid: np.ndarray
    hu_refined_fraction: float


def spacing_along(affine: np.ndarray, direction: np.ndarray) -> float:
    """Voxel extent (mm) along a world direction: 1 / |A^-1 d| for unit ``d``."""
    return float(1.0 / np.linalg.norm(np.linalg.solve(affine[:3, :3], direction)))


def _row_extents(section: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Low and high 0.5-crossings of each row of a (R, G) section along ``grid``."""
    lo, hi = column_edges(section, grid)
    return lo, hi


def measure_heights(
    crop: VertebraCrop,
    frame: VertebraFrame,
    radius_mm: float,
    *,
    refine_on_hu: bool | None = None,
    min_contrast_hu: float = 100.0,
) -> HeightProfile | None:
    """Measure Ha, Hm, Hp of one body.

    Parameters
    ----------
    crop : VertebraCrop
    frame : VertebraFrame
        The vertebra's frame (origin inside the body).
    radius_mm : float
        Half size of the local grid; must enclose the body.
    refine_on_hu : bool, optional
        Refine endplate positions on the CT values. By default only when the voxels are
        longer than :data:`HU_REFINE_ABOVE_MM` along the SI axis: with finer voxels the
        mask edge is already within a few tenths of a mm, whereas the half-way crossing
        is pushed outwards by the thin, bright cortical endplate (measured ~0.4 mm per
        endplate on the phantom at 1 mm voxels).
    min_contrast_hu : float
        Endplate-minus-disc contrast required before the CT refinement is trusted.

    Returns
    -------
    HeightProfile or None
        None when the section through the body is empty or too small.
    """
    lr = np.arange(-SLAB_HALF_WIDTH_MM, SLAB_HALF_WIDTH_MM + 1e-9, _LR_STEP_MM)
    ap = np.arange(-radius_mm, radius_mm + 1e-9, _AP_STEP_MM)
    si = np.arange(-radius_mm, radius_mm + 1e-9, _SI_STEP_MM)
    body_f = crop.body.astype(np.float32)
    mask = sample_on_grid(body_f, crop.affine, frame, lr, ap, si)
    section = mask.mean(axis=0)  # (A, S)

    # AP extent per SI row: a percentile rather than the extreme so that a rounded rim,
    # an osteophyte or one spur of the mask does not set the anterior cortex.
    post_rows, ant_rows = _row_extents(section.T, ap)
    ok = np.isfinite(ant_rows)
    if ok.sum() < 4:
        return None
    anterior = float(np.percentile(ant_rows[ok], 90))
    # The posterior wall is read near its corners (10 % and 90 % of the body's extent
    # along SI), so that a retropulsed fragment bulging at mid-height does not move it.
    z_rows = si[ok]
    z10, z90 = np.percentile(z_rows, [10, 90])
    posterior = float(
        0.5 * (np.interp(z10, z_rows, post_rows[ok]) + np.interp(z90, z_rows, post_rows[ok]))
    )
    depth = anterior - posterior
    if depth < 4 * _AP_STEP_MM:
        return None
    positions = anterior - np.asarray(HEIGHT_POSITIONS) * depth

    si_vox = spacing_along(crop.affine, np.asarray(frame.si_axis))
    if refine_on_hu is None:
        refine_on_hu = si_vox > HU_REFINE_ABOVE_MM
    hu = (
        sample_on_grid(crop.hu, crop.affine, frame, lr, ap, si, cval=np.nan)
        if refine_on_hu
        else None
    )
    windows = {
        "inner_mm": max(2.0 * si_vox, 2.0),
        "outer_mm": max(si_vox, 2.0),
        "max_shift_mm": 0.5 * si_vox,
        "min_contrast_hu": min_contrast_hu,
    }
    heights, spreads, sups, infs, refined, total = [], [], [], [], 0, 0
    for p in positions:
        j = round((p - ap[0]) / _AP_STEP_MM)
        js = np.clip([j - 1, j, j + 1], 0, len(ap) - 1)
        cols = mask[:, js, :].reshape(-1, len(si))
        bottom, top = column_edges(cols, si)
        if hu is not None:
            hcols = hu[:, js, :].reshape(-1, len(si))
            hcols = np.where(np.isfinite(hcols), hcols, np.nanmedian(hcols))
            top, used_t = refine_edges_on_hu(
                hcols, si, top, +1, **windows
            )
            bottom, used_b = refine_edges_on_hu(
                hcols, si, bottom, -1, **windows
            )
            refined += int(used_t.sum() + used_b.sum())
            total += 2 * len(top)
        h = top - bottom
        good = np.isfinite(h)
        if good.sum() < 3:
            return None
        heights.append(float(np.median(h[good])))
        q75, q25 = np.percentile(h[good], [75, 25])
        spreads.append(float(q75 - q25))
        sups.append(float(np.median(top[good])))
        infs.append(float(np.median(bottom[good])))

    # Transverse width at mid-height: LR extent of the body in a 2 mm thick axial slab.
    lr_w = np.arange(-radius_mm, radius_mm + 1e-9, _AP_STEP_MM)
    si_mid = np.array([-1.0, 0.0, 1.0]) + 0.5 * (sups[1] + infs[1])
    axial = sample_on_grid(body_f, crop.affine, frame, lr_w, ap, si_mid).mean(axis=2)
    left, right = _row_extents(axial.T, lr_w)
    okw = np.isfinite(left)
    width = float(np.percentile(right[okw] - left[okw], 95)) if okw.any() else float("nan")

    return HeightProfile(
        heights=Heights(*[max(0.0, h) for h in heights]),
        spread_mm=np.asarray(spreads),
        ap_depth_mm=depth,
        width_mm=width,
        anterior_mm=anterior,
        posterior_mm=posterior,
        positions_mm=positions,
        superior_mm=np.asarray(sups),
        inferior_mm=np.asarray(infs),
        section=section,
        ap_grid=ap,
        si_grid=si,
        hu_refined_fraction=refined / total if total else 0.0,
    )
