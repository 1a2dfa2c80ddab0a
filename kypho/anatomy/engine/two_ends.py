"""Counting from both ends of a whole spine: the first rib (T1) and the sacrum.

A scan from the neck to the pelvis shows a rib-free C7 above the first rib, which makes
that vertebra T1, and the sacrum below the last lumbar vertebra. Either end alone fixes
the count; together they also tell apart what one end cannot, the way a radiologist
numbers a whole spine (counting down from the cervicothoracic junction and checking
against the sacrum). The usual spine has 17 vertebrae from T1 to the one on the sacrum
and 12 rib pairs. One vertebra more or less, with the rib count, is a known variant
(VerSe'20: enumeration anomalies in 77 and transitional vertebrae in 161 of 300
subjects, DOMAIN.md §3):

- 17 and 13 rib pairs: the thirteenth rib-bearing vertebra is T13 and four lumbar
  vertebrae follow (VerSe'20 names L1 the first vertebra without ribs, and labels T13);
- 17 and 11 rib pairs: T12 bears no rib;
- 18 and 12 rib pairs: a sixth lumbar vertebra, L6, sits on the sacrum (VerSe label 25);
- 18 and 13 rib pairs: T13 and five lumbar vertebrae;
- 16 and 12 rib pairs: L5 is fused with the sacrum (sacralised), L4 sits on it.

The sacrum count alone read the first of these as a sacralised L5 under a last rib at
T12 and named every vertebra above it one level off (independent phantom ind-1-0029).
Any other combination is no variant: a vertebra was missed or cut in two, and the
naming falls back to one end.
"""

from __future__ import annotations

from kypho.anatomy.engine.level_count import Count, LevelAssignment, count_from
from kypho.anatomy.engine.rib_reach import MAX_RIB_PAIRS, RibAnchors
from kypho.anatomy.levels import Level

__all__ = ["CONVENTION_CONFIDENCE", "USUAL_T1_TO_SACRUM", "from_both_ends", "thirteenth_rib_caps"]

#: Vertebrae from T1 to the one on the sacrum, inclusive, in the usual spine.
USUAL_T1_TO_SACRUM = 17
#: Confidence when both ends and the last rib agree on the usual spine.
AGREED_CONFIDENCE = 0.97
#: Confidence when both ends agree on a rib-count variant (the count from the ends is
#: sure; which vertebra carries the variant's name is a convention).
RIB_VARIANT_CONFIDENCE = 0.8
#: Confidence at most of the names from a thirteenth rib-bearing vertebra down: the
#: count is sure, but whether that vertebra is T13 (VerSe) or L1 with a lumbar rib (and
#: the ones below it L1-L4 or L2-L5) is a convention that differs between sources.
CONVENTION_CONFIDENCE = 0.45
#: Confidence when the ends are a vertebra apart and the ribs name a variant that
#: explains it: as likely a vertebra missed or cut in two, or a first rib missed (T2 then
#: reads as T1: independent phantom ind-1-0000 read so, T1's rib lost and a rib on L1,
#: as a sacralised L5 under "T1", until the first rib's reach was mended in session
#: 25); the same as one end's variant reading
#: (:data:`~kypho.anatomy.engine.levels.VARIANT_CONFIDENCE`).
LENGTH_VARIANT_CONFIDENCE = 0.45

_CERVICAL = tuple(Level(v) for v in range(Level.C1, Level.C7 + 1))
_THORACIC = tuple(Level(v) for v in range(Level.T1, Level.T12 + 1))
_LUMBAR = (Level.L1, Level.L2, Level.L3, Level.L4, Level.L5, Level.L6)


def _order(rib_pairs: int, lumbar: int) -> tuple[Level, ...]:
    """Levels from C1 down: the cervical and thoracic ones (with T13 for 13 rib pairs), then
    ``lumbar`` lumbar ones."""
    thoracic = (*_THORACIC, Level.T13) if rib_pairs == MAX_RIB_PAIRS else _THORACIC
    return (*_CERVICAL, *thoracic, *_LUMBAR[:lumbar])


#: (vertebrae from T1 to the sacrum, rib pairs) -> (lumbar vertebrae, what it is).
_VARIANTS: dict[tuple[int, int], tuple[int, str]] = {
    (17, 12): (5, ""),
    (17, 13): (4, "13 rib pairs: the thirteenth rib-bearing vertebra is T13 and four "
                  "lumbar vertebrae follow (VerSe: L1 is the first without ribs; some "
                  "call it L1 with a lumbar rib)"),
    (17, 11): (5, "11 rib pairs: T12 bears no rib"),
    (18, 12): (6, "a sixth lumbar vertebra (L6) sits on the sacrum"),
    (18, 13): (5, "13 rib pairs and five lumbar vertebrae: the thirteenth rib-bearing "
                  "vertebra is T13"),
    (16, 12): (4, "L5 is fused with the sacrum (sacralised): L4 sits on it"),
}  # fmt: skip


def from_both_ends(c: Count, ribs: RibAnchors) -> LevelAssignment | None:
    """Name the vertebrae from the first rib and the sacrum together.

    Parameters
    ----------
    c : Count
        The count being built; the lowest of its ``n`` vertebrae sits on the sacrum.
    ribs : RibAnchors
        The rib anchors; the first must be valid (a rib-free vertebra above it).

    Returns
    -------
    LevelAssignment or None
        None when the two ends and the ribs make no known spine: a vertebra was missed
        or cut twice, and one end must be chosen.
    """
    if ribs.first is None or not ribs.first_valid:
        return None
    span = c.n - ribs.first
    pairs = ribs.pairs if ribs.last_valid else 12
    variant = _VARIANTS.get((span, pairs))
    if variant is None:
        return None
    lumbar, what = variant
    order = _order(pairs, lumbar)
    levels = count_from(c.n, ribs.first, Level.T1, order)
    c.explain(ribs.first, "highest rib-bearing vertebra below a rib-free C7 = T1")
    c.evidence[c.n - 1] += f"; vertebra on the sacrum = {order[-1].display} agrees"
    if not what:
        return c.result(levels, AGREED_CONFIDENCE if ribs.last_valid else RIB_VARIANT_CONFIDENCE)
    c.warnings.append(
        f"counted from the first rib (T1) down to the sacrum, {span} vertebrae, with "
        f"{pairs} rib-bearing: {what}; confirm the levels on the images"
    )
    confidence = RIB_VARIANT_CONFIDENCE if span == USUAL_T1_TO_SACRUM else LENGTH_VARIANT_CONFIDENCE
    return c.result(levels, confidence, thirteenth_rib_caps(levels, ribs.first + 12, pairs))


def thirteenth_rib_caps(
    levels: list[Level | None], thirteenth: int, rib_pairs: int
) -> dict[Level, float]:
    """:data:`CONVENTION_CONFIDENCE` for the levels from the thirteenth rib-bearing
    vertebra (index ``thirteenth``) down, when there are 13 rib pairs."""
    if rib_pairs != MAX_RIB_PAIRS:
        return {}
    return {lv: CONVENTION_CONFIDENCE for lv in levels[thirteenth:] if lv is not None}
