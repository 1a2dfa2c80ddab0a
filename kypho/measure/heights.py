"""Anterior, middle and posterior vertebral body heights (Ha, Hm, Hp) in the vertebra frame.

DESIGN.md "Vertebral body heights": endplate-to-endplate distances along the SI axis at
10 %, 50 % and 90 % of the body's AP depth measured from the anterior cortex, taken as the
median over a +/-3 mm slab around the mid-sagittal plane.

The body mask and the CT are resampled (trilinear) on a local grid of the frame: the slab
is 13 parasagittal lines 0.5 mm apart, each position uses 3 AP lines 0.5 mm apart, so each
height is the median of 39 columns. Each column's endplates come from two sources
(:mod:`kypho.measure.endplates`): the mask's 0.5 crossing (within half a voxel of the
surface) and the moments of the HU profile (precise, but inside the surface by about half
the cortical thickness: an offset common to the image, estimated over all its vertebrae
by :func:`edge_offset_mm`). :class:`EdgeColumns` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from kypho.imaging.slices import is_thick_slice
from kypho.measure.edge_columns import (
    AP_STEP_MM,
    EdgeColumns,
    EdgeReading,
    ct_half_width_mm,
    read_edge_columns,
)
from kypho.measure.endplates import column_edges
from kypho.measure.height_lines import inside_positions
from kypho.measure.sampling import local_extent, sample_on_grid, spacing_along
from kypho.measure.thick_endplates import voxel_extent_along
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import Heights, VertebraFrame

__all__ = [
    "HEIGHT_POSITIONS",
    "OFFSET_TRIM_PERCENT",
    "SLAB_HALF_WIDTH_MM",
    "EdgeColumns",
    "HeightProfile",
    "beside_hm_mm",
    "ct_half_width_mm",
    "edge_offset_mm",
    "measure_heights",
    "spacing_along",
]

#: Fractions of the AP depth, from the anterior cortex, where Ha, Hm, Hp are read
#: (DESIGN.md "Vertebral body heights").
HEIGHT_POSITIONS = (0.10, 0.50, 0.90)
#: Half width of the mid-sagittal slab (mm), DESIGN.md.
SLAB_HALF_WIDTH_MM = 3.0
#: LR band (shares of the body's width from the mid-sagittal plane, both sides) where
#: the middle height is also read, beside the slab. A Schmorl's node is a pit ~10 mm
#: across whatever the body; a biconcave fracture depresses the endplate inside its rim,
#: over ~0.6-0.8 of the width: at 0.22-0.27 W a bowl that wide is still about half as
#: deep as at its centre, a node's pit is passed (6.6-8.1 mm out on a 30 mm thoracic
#: body, 10-12 mm on a 45 mm lumbar one).
BESIDE_BAND_WIDTH_SHARE = (0.22, 0.27)
#: Narrowest band (mm from the midline) whatever the width: beyond a node's ~5 mm radius.
BESIDE_BAND_MIN_MM = 6.0
#: Fewest vertebrae with CT-derived endplates for the image's edge offset to be estimated.
MIN_OFFSET_VERTEBRAE = 3
#: Share (%) of the mask-minus-CT edge differences cut off at each end before averaging
#: (columns where the CT latched onto something else than the endplate).
OFFSET_TRIM_PERCENT = 10.0
_LR_STEP_MM = 0.5
_SI_STEP_MM = 0.25


def edge_offset_mm(profiles: list[HeightProfile], min_edges: int = 50) -> float:
    """How far (mm) the CT edges of this image sit inside the mask edges, on average.

    Per column, a mask drawn at voxel centres is off by up to half a voxel, but the
    error has no sign preference over endplates that fall at every phase of the slice
    grid; the CT edges are precise but sit inside the surface by about half the cortical
    thickness (:func:`~kypho.measure.endplates.refine_edges_by_moments`). The trimmed
    mean of their differences over the whole image is that offset. 0 when fewer than
    :data:`MIN_OFFSET_VERTEBRAE` vertebrae or ``min_edges`` edges contribute.
    """
    diffs = [p.columns.outward_differences() for p in profiles]
    diffs = [d for d in diffs if d.size]
    # Endplates of one vertebra share nearly one phase of the slice grid: the median is
    # only unbiased over several vertebrae.
    if len(diffs) < MIN_OFFSET_VERTEBRAE:
        return 0.0
    d = np.concatenate(diffs)
    if d.size < min_edges:
        return 0.0
    # A trimmed mean, not the median: the mask's error is spread evenly over
    # +/- h/2 while the CT edge's is not, so the differences cluster near the two ends
    # of that range, where the median falls on whichever cluster happens to be larger
    # (up to ~0.5 mm off at 3 mm slices); their mean stays centred.
    lo, hi = np.percentile(d, [OFFSET_TRIM_PERCENT, 100.0 - OFFSET_TRIM_PERCENT])
    return -float(np.mean(d[(d >= lo) & (d <= hi)]))


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
    columns : EdgeColumns
        Per-column endplate positions behind the medians.
    line_shift_mm : (3,) ndarray
        How far each line was moved inwards from its nominal AP position to lie inside
        the body (:func:`inside_positions`); NaN where no such position was found.
    reading : EdgeReading or None
        How the endplates were read (for :func:`beside_hm_mm`, which reads the middle
        height again beside the slab only where a grade asks for it).
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
    columns: EdgeColumns
    line_shift_mm: np.ndarray = field(default_factory=lambda: np.zeros(3))
    reading: EdgeReading | None = None

    @property
    def hu_refined_fraction(self) -> float:
        """Share of column edges placed on the CT values rather than the mask."""
        c = self.columns
        if c.top_hu is None or c.bottom_hu is None:
            return 0.0
        return float(np.mean(np.isfinite(np.r_[c.top_hu.ravel(), c.bottom_hu.ravel()])))

    def segments_ras_mm(
        self, frame: VertebraFrame
    ) -> dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]:
        """(inferior, superior) world RAS mm endpoints of Ha, Hm, Hp.

        On the frame's mid-sagittal plane, at the AP line of each height, centred
        between the median endplate positions and exactly as long as the reported height
        (a median of column heights, which can differ by a few hundredths of a mm from
        the difference of the median edges).
        """
        out = {}
        for k, name in enumerate(("anterior", "middle", "posterior")):
            mid = 0.5 * (self.inferior_mm[k] + self.superior_mm[k])
            half = 0.5 * float(self.heights.as_array()[k])
            ends = frame.to_world(
                np.array(
                    [
                        [0.0, self.positions_mm[k], mid - half],
                        [0.0, self.positions_mm[k], mid + half],
                    ]
                )
            )
            out[name] = (
                tuple(float(v) for v in ends[0]),
                tuple(float(v) for v in ends[1]),
            )
        return out  # type: ignore[return-value]

    def with_edge_offset(self, offset_mm: float) -> HeightProfile:
        """The same profile with CT-derived edges moved outwards by ``offset_mm``."""
        summary = self.columns.summarise(offset_mm)
        if summary is None:
            return self
        heights, spreads, sups, infs = summary
        return replace(self, heights=heights, spread_mm=spreads, superior_mm=sups, inferior_mm=infs)


def _row_extents(section: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Low and high 0.5-crossings of each row of a (R, G) section along ``grid``."""
    lo, hi = column_edges(section, grid)
    return lo, hi


def _slab_grid(
    crop: VertebraCrop, frame: VertebraFrame, radius_mm: float, si_vox: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The body's local extent (lo, hi) and the slab's LR, AP, SI sample lines (mm)."""
    vox = float(max(crop.spacing_mm))
    # The local grid covers the body's extent in the frame, with room for the mask's
    # 0.5 crossing (half a voxel out) and, along SI, for the disc-side HU window.
    lo, hi = local_extent(crop.body_surface_world(), frame, 3.0 + vox)
    lo = np.maximum(lo, -radius_mm)
    hi = np.minimum(hi, radius_mm)
    si_margin = 2.0 * si_vox + 2.0
    lr = np.arange(-SLAB_HALF_WIDTH_MM, SLAB_HALF_WIDTH_MM + 1e-9, _LR_STEP_MM)
    ap = np.arange(lo[1], hi[1] + 1e-9, AP_STEP_MM)
    si = np.arange(lo[2] - si_margin, hi[2] + si_margin + 1e-9, _SI_STEP_MM)
    return lo, hi, lr, ap, si


def _ap_cortices(section: np.ndarray, ap: np.ndarray,
                 si: np.ndarray) -> tuple[float, float] | None:
    """Local AP coordinates of the anterior and posterior cortex of a (A, S) section.

    None when the section holds fewer than 4 rows or the body is shallower than 4 steps.
    """
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
    if anterior - posterior < 4 * AP_STEP_MM:
        return None
    return anterior, posterior


def _mid_width(body_f: np.ndarray, crop: VertebraCrop, frame: VertebraFrame, lo: np.ndarray,
               hi: np.ndarray, ap: np.ndarray, si_mid_mm: float) -> float:
    """Transverse width at mid-height: LR extent of the body in a 2 mm thick axial slab."""
    lr_w = np.arange(lo[0], hi[0] + 1e-9, AP_STEP_MM)
    si_mid = np.array([-1.0, 0.0, 1.0]) + si_mid_mm
    axial = sample_on_grid(body_f, crop.affine, frame, lr_w, ap, si_mid).mean(axis=2)
    left, right = _row_extents(axial.T, lr_w)
    okw = np.isfinite(left)
    return float(np.percentile(right[okw] - left[okw], 95)) if okw.any() else float("nan")


def beside_hm_mm(
    crop: VertebraCrop, frame: VertebraFrame, profile: HeightProfile, offset_mm: float
) -> float:
    """The middle height read beside the mid-sagittal slab, in
    :data:`BESIDE_BAND_WIDTH_SHARE` of the body's width on each side: the lower of the
    two sides' medians (CT edges moved out by ``offset_mm``), so that a depression
    reaching either side counts.

    Returns
    -------
    float
        NaN when the width or the reading is unknown, or a side has fewer than 3
        columns with both edges.
    """
    if profile.reading is None or not np.isfinite(profile.width_mm):
        return float("nan")
    a, b = (max(f * profile.width_mm, BESIDE_BAND_MIN_MM) for f in BESIDE_BAND_WIDTH_SHARE)
    side = np.arange(a, max(a, b) + 1e-9, _LR_STEP_MM)
    lr = np.r_[-side[::-1], side]
    ap, si = profile.ap_grid, profile.si_grid
    mask = sample_on_grid(crop.body.astype(np.float32), crop.affine, frame, lr, ap, si)
    hu = None
    if profile.columns.top_hu is not None:  # the slab was read on the CT too
        hu = sample_on_grid(crop.endplate_hu, crop.affine, frame, lr, ap, si, cval=np.nan)
    cols = read_edge_columns(mask, hu, profile.positions_mm[1:2], ap, si, profile.reading)
    bottom, top = cols.edges(offset_mm)
    h = top[0] - bottom[0]
    sides = [s[np.isfinite(s)] for s in np.array_split(h, 2)]  # left half, right half
    if min(s.size for s in sides) < 3:
        return float("nan")
    return float(min(np.median(s) for s in sides))


def measure_heights(
    crop: VertebraCrop,
    frame: VertebraFrame,
    radius_mm: float,
    *,
    refine_on_hu: bool = True,
    min_contrast_hu: float = 100.0,
    bone_hu: float | None = None,
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
        Also place the endplates on the CT values (default True; False: mask only).
        The CT edges are returned raw in :attr:`HeightProfile.columns` and the heights
        use them with no offset; :meth:`HeightProfile.with_edge_offset` applies the
        image's offset (:func:`edge_offset_mm`) once every vertebra is measured.
    min_contrast_hu : float
        Endplate-minus-disc contrast required before the CT refinement is trusted.
    bone_hu : float, optional
        The vertebra's trabecular HU (default: median HU of the body's interior).

    Returns
    -------
    HeightProfile or None
        None when the section through the body is empty or too small.
    """
    si_vox = spacing_along(crop.affine, np.asarray(frame.si_axis))
    lo, hi, lr, ap, si = _slab_grid(crop, frame, radius_mm, si_vox)
    body_f = crop.body.astype(np.float32)
    mask = sample_on_grid(body_f, crop.affine, frame, lr, ap, si)
    section = mask.mean(axis=0)  # (A, S)
    cortices = _ap_cortices(section, ap, si)
    if cortices is None:
        return None
    anterior, posterior = cortices
    depth = anterior - posterior
    positions, line_shift = inside_positions(
        section, ap, si, anterior - np.asarray(HEIGHT_POSITIONS) * depth, depth
    )

    hu = None
    if refine_on_hu:
        hu = sample_on_grid(crop.endplate_hu, crop.affine, frame, lr, ap, si, cval=np.nan)
    if hu is not None and bone_hu is None:
        bone_hu = float(np.nanmedian(hu[mask >= 0.99]))
    reading = EdgeReading(
        si_vox_mm=si_vox,
        bone_hu=bone_hu,
        min_contrast_hu=min_contrast_hu,
        thick=is_thick_slice(crop.spacing_mm),
        reach_mm=voxel_extent_along(crop.affine, np.asarray(frame.si_axis)),
    )
    columns = read_edge_columns(mask, hu, positions, ap, si, reading)

    summary = columns.summarise(0.0)
    if summary is None:
        return None
    heights, spreads, sups, infs = summary
    width = _mid_width(body_f, crop, frame, lo, hi, ap, 0.5 * (sups[1] + infs[1]))

    return HeightProfile(
        heights=heights, spread_mm=spreads, ap_depth_mm=depth, width_mm=width,
        anterior_mm=anterior, posterior_mm=posterior, positions_mm=positions,
        superior_mm=sups, inferior_mm=infs, section=section, ap_grid=ap, si_grid=si,
        columns=columns, line_shift_mm=line_shift, reading=reading,
    )  # fmt: skip
