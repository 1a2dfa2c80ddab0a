"""Whether the CT itself shows a body's heights: its endplates along the three lines.

A grade >= 2 needs agreement between the mask-based heights and the endplates seen in
the CT (:func:`~kypho.measure.graded_checks.check_graded`): where a mask was cut inside a
body, its edge has bone on both sides and the CT places no endplate there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.measure.heights import EdgeColumns
from kypho.model import Heights

__all__ = [
    "CLOSE_CT_HEIGHT_TOL_MM",
    "CT_HEIGHT_TOL_MM",
    "FEW_CT_COLUMNS",
    "MIN_CT_COLUMNS",
    "CtConfirmation",
    "contradicted_lines",
    "ct_confirmation",
]

#: Share of a line's columns whose two endplates the CT must show for the line to count
#: as seen in the CT. At 3 mm slices a 40-degree tilted thoracic endplate leaves the CT
#: edge on about a third of the columns (fixed suite, multi_fracture_osteoporotic T7, a
#: true grade 2 wedge: 33 %); a mask cut inside a body leaves it on none.
MIN_CT_COLUMNS = 0.25
#: Largest gap (mm) between the CT height and the reported height of a line: two
#: voxel-scale endplate errors (DOMAIN.md §1.1: 5 % height steps between grades are
#: ~1.3 mm on a 26 mm body, so 2 mm cannot turn normal into grade 2).
CT_HEIGHT_TOL_MM = 2.0
#: Fewer columns confirm a line when they agree closely: a calcified or gas-filled disc,
#: or low-dose noise, hides the "endplate with disc beyond" on most columns of a true
#: fracture, while the few it shows lie where the mask ends (family s1-0024 L2, s2-0008
#: T12, s2-0037 L3: 15-23 % of columns, within 0.6-0.9 mm). A mask cut inside a body
#: has no endplate at its edge: the columns that find one find it elsewhere (in the
#: family dev draws, every refused normal vertebra with 10 % of columns or more was over
#: 1 mm off on a graded line, 1.1 mm at the closest).
FEW_CT_COLUMNS = 0.10
#: ...within this gap (mm): one endplate-scale error.
CLOSE_CT_HEIGHT_TOL_MM = 1.0


@dataclass(frozen=True)
class CtConfirmation:
    """Heights seen in the CT along the three lines, and whether they confirm."""

    ct_heights_mm: tuple[float, float, float]
    column_fraction: tuple[float, float, float]
    confirmed: tuple[bool, bool, bool]


def ct_confirmation(columns: EdgeColumns, offset_mm: float, heights: Heights) -> CtConfirmation:
    """Heights seen in the CT along the Ha, Hm, Hp lines versus the reported ones.

    Each column's CT edges (:mod:`kypho.measure.endplates`: a bright endplate with disc
    beyond it, placed on the HU profile) are moved out by the image's edge offset. Where
    a mask was cut inside a body, its edge has bone on both sides and the CT places no
    endplate there; where the mask ends short of a real endplate, the CT edge lies
    farther out. A line is confirmed when the median CT height of the columns showing
    both endplates lies within :data:`CT_HEIGHT_TOL_MM` of the reported one on at
    least :data:`MIN_CT_COLUMNS` of the columns, or within
    :data:`CLOSE_CT_HEIGHT_TOL_MM` on at least :data:`FEW_CT_COLUMNS`.

    Parameters
    ----------
    columns : EdgeColumns
        Per-column mask and CT edges of the three lines.
    offset_mm : float
        The image's CT edge offset (:func:`~kypho.measure.heights.edge_offset_mm`).
    heights : Heights
        Reported Ha, Hm, Hp (mm).

    Returns
    -------
    CtConfirmation
    """
    reported = heights.as_array()
    ct_h, frac, ok = [], [], []
    for k in range(3):
        if columns.top_hu is None or columns.bottom_hu is None:
            ct_h.append(float("nan"))
            frac.append(0.0)
            ok.append(False)
            continue
        top, bottom = columns.top_hu[k], columns.bottom_hu[k]
        both = np.isfinite(top) & np.isfinite(bottom)
        f = float(both.mean()) if both.size else 0.0
        h = float(np.median(top[both] - bottom[both]) + 2.0 * offset_mm) if both.any() else np.nan
        ct_h.append(h)
        frac.append(f)
        gap = abs(h - reported[k])
        ok.append(
            bool(
                (f >= MIN_CT_COLUMNS and gap <= CT_HEIGHT_TOL_MM)
                or (f >= FEW_CT_COLUMNS and gap <= CLOSE_CT_HEIGHT_TOL_MM)
            )
        )
    return CtConfirmation(tuple(ct_h), tuple(frac), tuple(ok))  # type: ignore[arg-type]


def contradicted_lines(
    confirmation: CtConfirmation, heights: Heights, lines: tuple[int, ...]
) -> list[int]:
    """The ``lines`` whose height the CT contradicts: both endplates seen on at least
    :data:`MIN_CT_COLUMNS` of the line's columns, their median height more than
    :data:`CT_HEIGHT_TOL_MM` from the reported one (the converse of confirming it on
    those columns: the mask's line left the body)."""
    reported = heights.as_array()
    return [
        k for k in lines
        if confirmation.column_fraction[k] >= MIN_CT_COLUMNS
        and abs(confirmation.ct_heights_mm[k] - reported[k]) > CT_HEIGHT_TOL_MM
    ]  # fmt: skip
