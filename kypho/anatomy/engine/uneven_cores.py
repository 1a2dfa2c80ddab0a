"""Cores of two vertebrae, and pieces of one: count hypotheses the anchors test.

A calcified or bridged disc left uncut makes one core of two vertebrae, about twice its
neighbours' size; a block cut at a false disc leaves two pieces of one vertebra, each
about half its neighbours' size and closer to each other than vertebrae are. Either
shifts every level counted across it by one, and when two anchors are in view (the first
rib and the sacrum, the last rib and the sacrum, the first and the last rib) they
disagree by one. :mod:`~kypho.anatomy.engine.fragments` warns of both and caps the
confidence.

Size alone is no proof: a lumbar body beside smaller thoracic ones, a body with
osteophytes, a crushed body, or one cut by the field of view differ as much. So such a
core is only a hypothesis, and :func:`~kypho.anatomy.engine.missing_levels.assign_across_gaps`
counts it (two levels for a doubled core, one for two pieces) only when more of the
anchors in view agree with that count than without it, and at least two anchors are in
view: with one or none the count is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from kypho.anatomy.engine.column import Node, beside_in_sequence
from kypho.anatomy.engine.fragments import FRAGMENT_SHARE, MERGED_SHARE, NEIGHBOURS

__all__ = ["PIECE_STEP_SHARE", "doubled_cores", "piece_pairs"]

#: Largest ratio of the step between two pieces of one vertebra to the median of the
#: neighbouring steps: the pieces' centres lie about half a pitch apart, two whole
#: vertebrae a pitch (consecutive pitches differ by ~10 %, DOMAIN.md §7.3).
PIECE_STEP_SHARE = 0.7


def _typical_volume(nodes: Sequence[Node], k: int, seen: Sequence[bool]) -> float | None:
    """The median volume of core ``k``'s neighbours seen whole; None with fewer than two."""
    volumes = [n.volume_mm3 if s else np.nan for n, s in zip(nodes, seen, strict=True)]
    near = [v for v in beside_in_sequence(volumes, k, NEIGHBOURS) if np.isfinite(v)]
    return float(np.median(near)) if len(near) >= 2 else None


def doubled_cores(nodes: Sequence[Node], seen: Sequence[bool]) -> list[int]:
    """Indices of cores seen whole with :data:`MERGED_SHARE` times their neighbours'
    median volume or more.

    Parameters
    ----------
    nodes : sequence of Node
        The column's presacral cores, cranial to caudal.
    seen : sequence of bool
        Per core, whether it lies whole in the field of view (a cut core is no measure
        of its size, nor a neighbour to compare with).

    Returns
    -------
    list of int
        Ascending.
    """
    out = []
    for k, node in enumerate(nodes):
        typical = _typical_volume(nodes, k, seen)
        if seen[k] and typical is not None and node.volume_mm3 >= MERGED_SHARE * typical:
            out.append(k)
    return out


def piece_pairs(nodes: Sequence[Node], seen: Sequence[bool]) -> list[int]:
    """Indices ``k`` such that cores ``k`` and ``k + 1`` look like two pieces of one
    vertebra: one of them has at most :data:`FRAGMENT_SHARE` of its neighbours' median
    volume, and the step between them is at most :data:`PIECE_STEP_SHARE` of the
    neighbouring steps.

    Parameters
    ----------
    nodes, seen
        As for :func:`doubled_cores`.

    Returns
    -------
    list of int
        Ascending.
    """
    centres = [np.asarray(n.centroid_mm, dtype=float) for n in nodes]
    steps = [float(np.linalg.norm(a - b)) for a, b in pairwise(centres)]
    out = []
    for k, step in enumerate(steps):
        near = [s for j, s in enumerate(steps) if j != k and abs(j - k) <= NEIGHBOURS + 1]
        if len(near) < 2 or step > PIECE_STEP_SHARE * float(np.median(near)):
            continue
        small = []
        for j in (k, k + 1):
            typical = _typical_volume(nodes, j, seen)
            small.append(typical is not None and nodes[j].volume_mm3 <= FRAGMENT_SHARE * typical)
        if any(small):
            out.append(k)
    return out
