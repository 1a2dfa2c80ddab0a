"""What the ribs tell of the levels: the first and last rib as anchors, and, when no
anchor is in view, a rib's reach and the rule that only thoracic vertebrae bear ribs.

Ribs 1-10 curve on to their costal cartilages at the front of the chest; the last two
pairs end free in the flank, the 12th shortest (Gray's Anatomy, 42nd ed., thoracic
wall). How far a rib seen whole reaches in front of its body, against the ribs just
above it, bounds the level of a chest scan that shows neither the first rib, a rib-free
vertebra below the last rib, nor the sacrum.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from kypho.anatomy.levels import Level

__all__ = [
    "LONG_REACH_SHARE",
    "MAX_RIB_PAIRS",
    "SHORT_REACH_SHARE",
    "RibAnchors",
    "level_from_reach",
    "rib_anchors",
    "thoracic_bases",
]

#: A rib seen whole is judged by how far it reaches in front of its body against the
#: ribs just above it (the median of up to three whole ones). Ribs 1-10 curve on to
#: their costal cartilages at the front of the chest, the last two pairs end free in the
#: flank (Gray's Anatomy, 42nd ed., thoracic wall), whatever the chest's size; the 12th
#: is the shortest. Measured on eight family chests: ribs 8-10 reach 0.85-1.0 of the
#: ribs above, an 11th 0.55-1.0, a 12th 0.2-0.45. Below SHORT_REACH_SHARE, the middle of
#: the gap between the 12th and the 11th, a rib is a 12th (at 0.6, inside the 11th's
#: range, family s3-0029's 11th at 0.59 read as a 12th and named T2-T11 one level
#: high); between it and LONG_REACH_SHARE an 11th; above, the 10th at the lowest.
SHORT_REACH_SHARE = 0.5
LONG_REACH_SHARE = 0.8
#: The most rib pairs a spine has: 13, the thirteenth on T13 or on L1 as a lumbar rib
#: (VerSe'20, DOMAIN.md section 3, counts them among its enumeration anomalies).
MAX_RIB_PAIRS = 13
#: Whole ribs above a rib needed to judge it.
REACH_REFERENCE_RIBS = 3
#: Whole ribs needed to count from their reach.
MIN_WHOLE_RIBS = 4


def level_from_reach(reach_mm: dict[int, float], last_rib: int) -> tuple[int, Level] | None:
    """The lowest vertebra whose rib is seen whole, and the level its reach gives it.

    Parameters
    ----------
    reach_mm : dict of int to float
        Per vertebra (index cranial to caudal) whose ribs are seen whole, how far they
        reach in front of its body (:class:`~kypho.anatomy.engine.ribs_sacrum.RibSearch`).
    last_rib : int
        Index of the lowest rib-bearing vertebra.

    Returns
    -------
    (int, Level) or None
        T12 for a short rib on the last rib-bearing vertebra, T11 for a shortened one,
        T10 (at the lowest) for one that curves on to the front; None when too few ribs
        are seen whole, or a short rib has ribs below it.
    """
    if len(reach_mm) < MIN_WHOLE_RIBS:
        return None
    lowest = max(reach_mm)  # every key bears a rib, so lies at or above last_rib
    above = [reach_mm[j] for j in sorted(j for j in reach_mm if j < lowest)[-REACH_REFERENCE_RIBS:]]
    if len(above) < 2:
        return None
    share = reach_mm[lowest] / float(np.median(above))
    if share < SHORT_REACH_SHARE:
        return (lowest, Level.T12) if lowest == last_rib else None
    return lowest, Level.T11 if share < LONG_REACH_SHARE else Level.T10


def thoracic_bases(
    first_rib: int, last_rib: int, order: tuple[Level, ...]
) -> tuple[int, int] | None:
    """The starts of the counts that keep every rib-bearing vertebra on T1-T12.

    Vertebra ``i`` is named ``order[base + i]``. Only T1-T12 bear ribs in the count of
    a guess (13 rib pairs, the one variant, is no guess to make): a count that names a
    rib-bearing vertebra C7 or L1 is impossible whatever else it reads.

    Parameters
    ----------
    first_rib, last_rib : int
        Indices of the highest and lowest rib-bearing vertebrae.
    order : tuple of Level
        Levels in counting order.

    Returns
    -------
    (int, int) or None
        The lowest and highest such ``base``; None when the ribs span more than twelve
        vertebrae.
    """
    lowest_base = order.index(Level.T1) - first_rib
    highest_base = order.index(Level.T12) - last_rib
    return (lowest_base, highest_base) if lowest_base <= highest_base else None


@dataclass(frozen=True)
class RibAnchors:
    """The highest and lowest rib-bearing vertebrae and whether each marks its level."""

    first: int | None
    last: int | None
    first_valid: bool
    last_valid: bool

    @property
    def pairs(self) -> int:
        """Rib-bearing vertebrae from the first to the last, inclusive."""
        return 0 if self.first is None or self.last is None else self.last - self.first + 1


def rib_anchors(
    n: int,
    rib_indices: list[int],
    seen: list[bool],
    on_sacrum: bool,
    cranial_edge: Collection[int] = (),
) -> RibAnchors:
    """The rib anchors of ``n`` vertebrae (cranial to caudal) with ribs at ``rib_indices``;
    ``seen[i]``: vertebra i is seen whole enough to tell it bears no rib;
    ``cranial_edge``: vertebrae whose every rib enters the image through its top edge."""
    if not rib_indices:
        return RibAnchors(None, None, False, False)
    first, last = min(rib_indices), max(rib_indices)
    # A rib-free vertebra must be seen beyond the rib-bearing ones: at the edge of the
    # field of view a vertebra's rib can lie just outside it. With the sacrum in view
    # the last rib is checked against it, unless that rib enters through the image's
    # top edge: its head, the rib's highest point, may be the vertebra above's, out of
    # view (the 11th and 12th ribs slope down beside L1 and L2; family s1-0021, s3-0030,
    # s3-0039, normal lumbar spines named "T12-L4 on a sacralised L5"). Without the
    # sacrum it is the only anchor there is and counts.
    last_valid = last not in cranial_edge if on_sacrum else last + 1 < n and seen[last + 1]
    # No vertebra above T1 bears a rib (barring a cervical rib) and no spine has more
    # than MAX_RIB_PAIRS, so that many rib-bearing vertebrae down to a valid last rib
    # start at T1 even when the vertebra above is out of view (independent phantom
    # ind-1-0000: T1 at the image's top edge, a lumbar rib on L1; counted from the last
    # rib, T1 was named C7 and every level one off).
    all_pairs = last_valid and last - first + 1 == MAX_RIB_PAIRS
    first_valid = (first > 0 and seen[first - 1]) or all_pairs
    return RibAnchors(first, last, first_valid, last_valid)
