"""Pieces of bone beside the column that the chain took for bodies.

A vertebral body lies on the column's line; a piece of an arch, a facet or an
osteophyte cut off as a core of its own lies beside it. Counted as a vertebra it shifts
every level across it by one, even when the sacrum and the last rib then disagree
(family s2-0029: a 6 mL core 29 mm behind the line of its neighbours, among bodies of
30-40 mL, named L4, and the fourteen levels above it one too high).
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.fragments import FRAGMENT_SHARE

__all__ = ["OFF_LINE_MM", "stray_cores"]

#: Distance (mm) from the line through its two neighbours' centroids beyond which a
#: core is not in the column: half the depth of the smallest thoracic body (~30 mm,
#: DOMAIN.md §7.3). A slipped vertebra (listhesis) stays within ~10-15 mm.
OFF_LINE_MM = 20.0


def _off_line_mm(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    n = float(np.linalg.norm(d))
    if n == 0.0:
        return float(np.linalg.norm(point - a))
    t = float(np.clip(np.dot(point - a, d) / n**2, 0.0, 1.0))
    return float(np.linalg.norm(point - (a + t * d)))


def stray_cores(vertebrae: list[Node]) -> list[int]:
    """Indices of chain members that are pieces beside the column, not bodies in it.

    A member with a neighbour on each side is a stray piece when its centroid lies
    farther than :data:`OFF_LINE_MM` from the segment joining theirs and it holds less
    than :data:`~kypho.anatomy.engine.fragments.FRAGMENT_SHARE` of their median volume
    (a crushed body stays on the line and keeps more).

    Parameters
    ----------
    vertebrae : list of Node
        The chain's presacral members, cranial to caudal.

    Returns
    -------
    list of int
    """
    # Two pieces side by side (an arch cut in two, ind-1-0008) each lie near the line
    # through the other: judged again once one is out, the other shows.
    kept = list(range(len(vertebrae)))
    while True:
        stray = _stray_once([vertebrae[i] for i in kept])
        if not stray:
            return sorted(set(range(len(vertebrae))) - set(kept))
        kept = [i for j, i in enumerate(kept) if j not in stray]


def _stray_once(vertebrae: list[Node]) -> list[int]:
    out = []
    for i in range(1, len(vertebrae) - 1):
        a, node, b = vertebrae[i - 1], vertebrae[i], vertebrae[i + 1]
        ref = float(np.median([a.volume_mm3, b.volume_mm3]))
        off = _off_line_mm(node.centroid_mm, a.centroid_mm, b.centroid_mm)
        if off > OFF_LINE_MM and node.volume_mm3 < FRAGMENT_SHARE * ref:
            out.append(i)
    return out
