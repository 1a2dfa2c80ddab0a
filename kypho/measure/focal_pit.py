"""A middle height short only in the middle: a focal endplate pit, not a deformity.

A Schmorl's node is disc tissue herniated through the endplate into a pit ~5-10 mm
across (up to ~15 mm) with a sclerotic rim. Centred in the mid-sagittal plane it lowers
the middle height read there as a biconcave fracture would, but beside it the endplate
is at its normal level. A biconcave (codfish) fracture depresses the endplate inside its
rim, over ~0.6-0.8 of the body's width: 22-27 % of the width from the midline (where
:mod:`kypho.measure.heights` reads the middle height again) such a bowl is still about
half as deep as at its centre, while a node's pit is passed.
Genant's semi-quantitative method does not count Schmorl's nodes as fracture
deformities (Genant et al., J Bone Miner Res 1993;8:1137-48), so a biconcave grade that
rests on such a pit is withdrawn, with the numbers; the body's Ha and Hp still grade a
wedge or a crush beside it (:func:`~kypho.measure.grading.without_morphotype`), and
without one the vertebra is not measurable (a shallow biconcave fracture can look like
a node).
"""

from __future__ import annotations

import math

from kypho.measure.heights import BESIDE_BAND_WIDTH_SHARE
from kypho.measure.plausibility import Gate, Implausibility
from kypho.model import GenantGrade, Heights, Morphotype

__all__ = ["BESIDE_LOSS_MAX", "FOCAL_SHARE", "MAX_PIT_SHORTENING_MM", "focal_pit"]

#: Share of the middle height's shortening that must be absent beside the slab for the
#: shortening to be focal: a pit narrower than the band gives ~1, a bowl-shaped
#: biconcave endplate ~0.5 (the module's note). Measured on the family's three draws,
#: the biconcave fractures withdrawn at 0.6 read 0.60-0.75 (the bowl's side is read a
#: little tall) and the nodes and normal bodies 0.76-1.40, so the cut lies between the
#: two, nearer the fractures' bulk (s3-0018 L2 0.60, s2-0023 T9 0.64, s1-0080 L2
#: 0.65) than the nearest node (s1-0019 T3, 0.76).
FOCAL_SHARE = 0.7
#: ...and beside the slab the body must stand at its own height: short there by less
#: than this share of it (half of a mild grade's 20 %, DOMAIN.md §1.1). A fractured
#: endplate that also holds a node is short beside it too (family s1-0062: T6, a 37 %
#: biconcave fracture with a node, 13 % short beside the slab).
BESIDE_LOSS_MAX = 0.10
#: Largest shortening (mm) laid to nodes: their pits are a few mm deep, so more than a
#: ~4 mm pit in each endplate is not (family s1-0028: L1, a 55 % biconcave fracture at
#: 5 mm slices, 10.0 mm short, had been withdrawn; the nodes there lowered Hm 4-6 mm).
MAX_PIT_SHORTENING_MM = 8.0


def focal_pit(
    heights: Heights,
    expected: Heights | None,
    grade: GenantGrade,
    morphotype: Morphotype,
    beside_hm_mm: float,
) -> Implausibility | None:
    """The reason a biconcave grade rests on a focal pit, or None.

    Parameters
    ----------
    heights : Heights
        Reported Ha, Hm, Hp (mm).
    expected : Heights or None
        Expected (pre-fracture) heights; the middle height the body's own Hp implies
        is Hp x expected Hm / expected Hp (Hp itself without them).
    grade : GenantGrade
    morphotype : Morphotype
    beside_hm_mm : float
        The middle height read 22-27 % of the body's width to either side of the slab
        (:func:`~kypho.measure.heights.beside_hm_mm`); NaN if not read.
    """
    if grade < GenantGrade.MILD or morphotype is not Morphotype.BICONCAVE:
        return None
    if not math.isfinite(beside_hm_mm):
        return None
    _, hm, hp = heights.as_array()
    own = hp if expected is None else hp * expected.middle / expected.posterior
    short = own - hm
    if not 0.0 < short <= MAX_PIT_SHORTENING_MM or beside_hm_mm - hm < FOCAL_SHARE * short:
        return None
    if own - beside_hm_mm > BESIDE_LOSS_MAX * own:
        return None
    lo, hi = (round(100 * f) for f in BESIDE_BAND_WIDTH_SHARE)
    return Implausibility(
        Gate.MORPHOTYPE,
        f"Hm {hm:.1f} mm is {short:.1f} mm short of what its Hp implies, but only in the "
        f"middle: {lo}-{hi} % of the body's width to either side it is {beside_hm_mm:.1f} "
        "mm tall; a focal endplate pit (Schmorl's node?) is not a fracture deformity",
    )
