"""Anatomical plausibility of a labelled column: gaps, skipped levels, duplicates.

A level is counted from an anchor (sacrum, lowest rib); a vertebra missed between the
anchor and a level shifts that level's name by one without any other sign. This module
checks the finished label map independently of how it was made:

- consecutive labels must be consecutive levels of the column (no skipped name);
- the gap between consecutive bodies, measured along the line joining their centroids,
  must look like one intervertebral disc, not a disc plus a whole vertebra.

Pure computation on label maps; returns sentences for ``Segmentation.warnings``.
"""

from __future__ import annotations

import itertools

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import voxel_to_world
from kypho.model import Segmentation

__all__ = ["COLUMN_ORDER", "MAX_DISC_GAP_MM", "body_gaps_mm", "check_column"]

#: Largest plausible bony gap between two adjacent bodies (mm). Lumbar discs are ~8-12 mm
#: tall and the smallest body (T1) is ~19 mm (DOMAIN.md §7.3); a gap above this leaves
#: room for a missed vertebra. Degenerate discs only make the gap smaller.
MAX_DISC_GAP_MM = 20.0


def _column_order() -> tuple[Level, ...]:
    # T13 sits between T12 and L1, L6 between L5 and the sacrum.
    order = [lv for lv in Level if lv not in (Level.T13, Level.L6, Level.S)]
    order.insert(order.index(Level.L1), Level.T13)
    return (*order, Level.L6, Level.S)


#: Neighbours that skip a rank without a missing vertebra (T13, L6 absent; sacralised L5).
_NORMAL_SKIPS = ((Level.T12, Level.L1), (Level.L5, Level.S), (Level.L4, Level.S))

#: Every level in cranio-caudal order, transitional ones (T13, L6) in their place.
COLUMN_ORDER: tuple[Level, ...] = _column_order()


def body_gaps_mm(seg: Segmentation) -> list[tuple[Level, Level, float]]:
    """Bony gap between each pair of consecutive labelled bodies.

    Parameters
    ----------
    seg : Segmentation
        Levels cranial to caudal; bodies (or, for the sacrum, the whole label) are used.

    Returns
    -------
    list of (Level, Level, float)
        (upper, lower, gap_mm): distance along the line joining their centroids between
        the lowest point of the upper body and the highest point of the lower one
        (negative when they interlock, as tilted endplates do at 3 mm slices).
    """
    points: dict[Level, np.ndarray] = {}
    present = {i.level for i in seg.levels}
    for lv in present:
        source = seg.vertebrae if lv is Level.S else seg.bodies
        box = source.box(int(lv))
        if box is None:
            continue
        idx = np.argwhere(source.labels[box] == int(lv)) + [sl.start for sl in box]
        points[lv] = voxel_to_world(seg.vertebrae.affine, idx)
    ordered = [i.level for i in seg.levels if i.level in points]
    out = []
    for upper, lower in itertools.pairwise(ordered):
        a, b = points[upper], points[lower]
        axis = a.mean(axis=0) - b.mean(axis=0)
        norm = float(np.linalg.norm(axis))
        if norm == 0.0:
            continue
        axis /= norm
        # Robust extremes (1st/99th percentile): single stray voxels must not close a gap.
        upper_bottom = float(np.percentile(a @ axis, 1))
        lower_top = float(np.percentile(b @ axis, 99))
        out.append((upper, lower, upper_bottom - lower_top))
    return out


def check_column(seg: Segmentation) -> list[str]:
    """Warnings for skipped or repeated level names and for gaps wide enough for a vertebra.

    Parameters
    ----------
    seg : Segmentation

    Returns
    -------
    list of str
        One sentence per problem; empty when the column looks contiguous.
    """
    warnings: list[str] = []
    rank = {lv: i for i, lv in enumerate(COLUMN_ORDER)}
    names = [i.level for i in seg.levels]
    if len(set(names)) != len(names):
        warnings.append("a level name is used twice: " + ", ".join(n.display for n in names))
    for upper, lower in itertools.pairwise(names):
        step = rank[lower] - rank[upper]
        # T12 -> L1 skips T13 and L5 -> S skips L6 in the rank: both are normal; L4 -> S
        # is a declared sacralisation (the labeller says so in its own warnings). A
        # physically missed vertebra is caught by the gap check below instead.
        normal = step == 1 or (upper, lower) in _NORMAL_SKIPS
        if not normal:
            warnings.append(
                f"{upper.display} is followed by {lower.display}: the levels are not consecutive"
            )
    for upper, lower, gap in body_gaps_mm(seg):
        if gap > MAX_DISC_GAP_MM:
            warnings.append(
                f"{gap:.0f} mm of non-bone between {upper.display} and {lower.display}: a "
                "vertebra may have been missed there and levels counted across it may be off"
            )
    return warnings
