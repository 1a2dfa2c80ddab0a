"""Endplate positions of the columns behind each height, and how mask and CT combine.

Each column of the mid-sagittal slab has its endplates from two sources: the mask's 0.5
crossing (within half a voxel of the surface) and the moments of the HU profile (precise,
but inside the surface by about half the cortical thickness; see
:func:`kypho.measure.heights.edge_offset_mm`). :class:`EdgeColumns` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.measure.endplates import column_edges, refine_edges_by_moments
from kypho.measure.thick_endplates import mask_free_edges
from kypho.model import Heights

__all__ = ["AP_STEP_MM", "EdgeColumns", "EdgeReading", "ct_half_width_mm", "read_edge_columns"]

#: Spacing (mm) of the AP lines of the local grid; each height line uses three.
AP_STEP_MM = 0.5


@dataclass
class EdgeColumns:
    """Endplate positions of every column at the Ha, Hm, Hp lines (local SI mm).

    Arrays are (3, n_columns): row 0 anterior, 1 middle, 2 posterior. ``*_hu`` hold the
    CT-derived edges (NaN where the CT could not place one), None when not computed.
    """

    bottom_mask: np.ndarray
    top_mask: np.ndarray
    bottom_hu: np.ndarray | None
    top_hu: np.ndarray | None
    #: Voxel extent along the frame's SI axis (mm).
    voxel_mm: float

    def outward_differences(self) -> np.ndarray:
        """CT edge minus mask edge, measured outwards, over all refined column edges."""
        if self.top_hu is None or self.bottom_hu is None:
            return np.empty(0)
        d = np.r_[
            (self.top_hu - self.top_mask).ravel(), (self.bottom_mask - self.bottom_hu).ravel()
        ]
        return d[np.isfinite(d)]

    def edges(self, offset_mm: float) -> tuple[np.ndarray, np.ndarray]:
        """Bottom and top edges combining the mask and the CT.

        Each is an interval that holds the true surface: the mask, drawn at voxel
        centres, within half a voxel ``h / 2`` of its 0.5 crossing; the CT moment
        estimate, once moved out by ``offset_mm`` (half the cortical thickness ``t``,
        :func:`~kypho.measure.heights.edge_offset_mm`), within ``(h - t) / 2`` (a
        cortex inside one thick slice can be anywhere in it; one straddling two slices
        is placed by how its mass splits). The edge is the middle of their
        intersection; the mask edge where the CT gives none.
        """
        if self.top_hu is None or self.bottom_hu is None:
            return self.bottom_mask, self.top_mask
        half = 0.5 * self.voxel_mm
        w_ct = ct_half_width_mm(self.voxel_mm, offset_mm)

        def combine(mask: np.ndarray, ct: np.ndarray) -> np.ndarray:
            lo = np.maximum(mask - half, ct - w_ct)
            hi = np.minimum(mask + half, ct + w_ct)
            mid = np.where(lo <= hi, 0.5 * (lo + hi), 0.5 * (mask + ct))
            return np.where(np.isfinite(ct), mid, mask)

        top = combine(self.top_mask, self.top_hu + offset_mm)
        bottom = combine(self.bottom_mask, self.bottom_hu - offset_mm)
        return bottom, top

    def summarise(
        self, offset_mm: float
    ) -> tuple[Heights, np.ndarray, np.ndarray, np.ndarray] | None:
        """Heights (medians), their IQR spread and the median superior / inferior edges."""
        bottom, top = self.edges(offset_mm)
        heights, spreads, sups, infs = [], [], [], []
        for b, t in zip(bottom, top, strict=True):
            h = t - b
            good = np.isfinite(h)
            if good.sum() < 3:
                return None
            heights.append(max(0.0, float(np.median(h[good]))))
            q75, q25 = np.percentile(h[good], [75, 25])
            spreads.append(float(q75 - q25))
            sups.append(float(np.median(t[good])))
            infs.append(float(np.median(b[good])))
        return Heights(*heights), np.asarray(spreads), np.asarray(sups), np.asarray(infs)


def ct_half_width_mm(voxel_mm: float, offset_mm: float) -> float:
    """Half width (mm) of the interval that holds the true surface around a CT edge.

    A cortex of thickness ``t = 2 * offset_mm`` inside one slice of extent ``h`` can be
    anywhere in it, so the moment edge is known to ``+/- (h - t) / 2`` (never less than
    a tenth of the half voxel).
    """
    half = 0.5 * voxel_mm
    return max(half - max(offset_mm, 0.0), 0.1 * half)


@dataclass(frozen=True)
class EdgeReading:
    """How one body's endplates are read along its height lines.

    Parameters
    ----------
    si_vox_mm : float
        The image's voxel extent along the body's SI axis.
    bone_hu : float or None
        The body's trabecular level (the CT edges' bone side); None: mask edges only.
    min_contrast_hu : float
        Endplate-minus-disc contrast required before a CT edge is trusted.
    thick : bool
        Thick slices: edges are read free of the mask (:func:`mask_free_edges`).
    reach_mm : float
        How far such an edge may lie from the mask's (one voxel along SI).
    """

    si_vox_mm: float
    bone_hu: float | None
    min_contrast_hu: float
    thick: bool
    reach_mm: float


def read_edge_columns(
    mask: np.ndarray,
    hu: np.ndarray | None,
    positions: np.ndarray,
    ap: np.ndarray,
    si: np.ndarray,
    reading: EdgeReading,
) -> EdgeColumns:
    """Endplates of the columns at each height line: the mask's, and the CT's if `hu`.

    Each line uses 3 AP lines 0.5 mm apart across the slab: (L, A, S) grids `mask`, `hu`.
    """
    si_vox = reading.si_vox_mm
    windows = {
        # Inside: past the cortex, the slice profile's half width and the mask's own
        # half-voxel uncertainty; outside: to the disc, the same spread.
        "inner_mm": si_vox + 2.5,
        "outer_mm": si_vox + 2.5,
        "min_contrast_hu": reading.min_contrast_hu,
    }
    mask_cols, hu_cols = [], []
    for p in positions:
        j = round((p - ap[0]) / AP_STEP_MM)
        js = np.clip([j - 1, j, j + 1], 0, len(ap) - 1)
        cols = mask[:, js, :].reshape(-1, len(si))
        bottom, top = column_edges(cols, si)
        mask_cols.append((bottom, top))
        if hu is not None:
            bone_hu = float(reading.bone_hu)  # type: ignore[arg-type]
            hcols = hu[:, js, :].reshape(-1, len(si))
            hcols = np.where(np.isfinite(hcols), hcols, np.nanmedian(hcols))
            top_h, used_t = refine_edges_by_moments(
                hcols, si, top, +1, bone_hu=bone_hu, **windows,  # type: ignore[arg-type]
            )
            bottom_h, used_b = refine_edges_by_moments(
                hcols, si, bottom, -1, bone_hu=bone_hu, **windows,  # type: ignore[arg-type]
            )
            if reading.thick:
                bottom, top, bottom_h, top_h, used_b, used_t = mask_free_edges(
                    hcols, si, bottom, top, bottom_h, top_h, used_b, used_t,
                    bone_hu, reading.min_contrast_hu, reading.reach_mm, si_vox,
                )  # fmt: skip
                mask_cols[-1] = (bottom, top)
            hu_cols.append((np.where(used_b, bottom_h, np.nan), np.where(used_t, top_h, np.nan)))
    return EdgeColumns(
        bottom_mask=np.array([b for b, _ in mask_cols]),
        top_mask=np.array([t for _, t in mask_cols]),
        bottom_hu=np.array([b for b, _ in hu_cols]) if hu_cols else None,
        top_hu=np.array([t for _, t in hu_cols]) if hu_cols else None,
        voxel_mm=si_vox,
    )
