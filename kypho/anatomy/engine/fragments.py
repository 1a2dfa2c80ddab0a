"""A count that holds a fragment is no count to name levels by.

A block cut at a false disc leaves two pieces of one vertebra, each about half its
neighbours' size; every level counted across it shifts by one, even when the last rib and
the sacrum then agree. A vertebra with less than :data:`FRAGMENT_SHARE` of its neighbours'
volume is such a piece: a crushed body keeps more (a 45 % height loss, Genant grade 3,
keeps ~55 % of the body and all of its arch), so a fracture does not trip it. Cervical
vertebrae are not judged so: C7's body is a third of T1's (Panjabi et al., Spine
1991;16:861), its arch smaller too.

The converse holds too: two vertebrae left in one label (a calcified or bridged disc not
cut) make one "vertebra" about twice its neighbours' size, and the levels counted
across it shift by one. Neighbouring vertebrae differ by ~10 % (lumbar bodies grow
caudally, DOMAIN.md §7.1), osteophytes add less than half a vertebra, so
:data:`MERGED_SHARE` times the neighbours' median is two vertebrae.

A vertebra lost altogether (a crushed body whose core was too thin to keep, family
s1-0053) leaves a gap instead: the distance between the two bodies around it is about
two vertebral pitches (1.6x there, the lost body being crushed). Consecutive pitches
differ by ~10 % (DOMAIN.md §7.3); a crushed body shortens the steps beside it and the
thoracolumbar junction lengthens them, up to ~1.4x, so a step longer than
:data:`GAP_RATIO` times its neighbouring steps is a missing vertebra.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from itertools import pairwise

import numpy as np

from kypho.anatomy.engine.column import beside_in_sequence
from kypho.anatomy.levels import Level
from kypho.model import LevelInfo

__all__ = ["FRAGMENT_CONFIDENCE", "FRAGMENT_SHARE", "MERGED_SHARE", "cap_for_fragments"]

#: Largest share of its neighbours' median volume a vertebra that is only a piece has.
FRAGMENT_SHARE = 0.45
#: Least share of its neighbours' median volume a vertebra that is two merged has.
MERGED_SHARE = 1.7
#: Level confidence at most when the count holds a piece (as for an unsplit block).
FRAGMENT_CONFIDENCE = 0.4
#: Neighbours on each side compared with.
NEIGHBOURS = 2
#: Least ratio of a step between consecutive body centroids to the median of the
#: neighbouring steps that marks a vertebra missing between them.
GAP_RATIO = 1.5


def _centre(info: LevelInfo) -> np.ndarray:
    return np.asarray(info.body_centroid_ras_mm or info.centroid_ras_mm, dtype=float)


def _gaps(whole: list[LevelInfo], counted: Collection[tuple[Level, Level]]) -> list[str]:
    """Pairs of consecutive vertebrae with a vertebra's room between them, but for the
    ``counted`` ones (whose lost vertebra the naming counted and warned of)."""
    steps = [float(np.linalg.norm(_centre(a) - _centre(b))) for a, b in pairwise(whole)]
    out = []
    for k, step in enumerate(steps):
        near = beside_in_sequence(steps, k, NEIGHBOURS)
        if (whole[k].level, whole[k + 1].level) in counted:
            continue
        if len(near) >= 2 and step > GAP_RATIO * float(np.median(near)):
            out.append(f"{whole[k].level.display}-{whole[k + 1].level.display}")
    return out


def cap_for_fragments(
    infos: list[LevelInfo], counted: Collection[tuple[Level, Level]] = ()
) -> tuple[list[LevelInfo], list[str]]:
    """Cap every level's confidence when a whole vertebra of the column is much smaller
    or much larger than its neighbours.

    Parameters
    ----------
    infos : list of LevelInfo
        Levels cranial to caudal.
    counted : collection of (Level, Level), optional
        Consecutive levels between which the naming counted a lost vertebra
        (:mod:`~kypho.anatomy.engine.missing_levels`): the confidence is capped, the
        naming has warned already.

    Returns
    -------
    infos : list of LevelInfo
        New records (capped) or the same ones.
    warnings : list of str
    """
    whole = [i for i in infos if i.level is not Level.S and not i.cut_by_fov]
    small, large = [], []
    for k, info in enumerate(whole):
        near = beside_in_sequence(whole, k, NEIGHBOURS)
        if len(near) < 2:
            continue
        typical = float(np.median([n.voxel_count for n in near]))
        # A cervical vertebra is a third the size of the thoracic ones below it.
        cervical = int(info.level) < int(Level.T1)
        if info.voxel_count < FRAGMENT_SHARE * typical and not cervical:
            small.append(info.level.display)
        elif info.voxel_count > MERGED_SHARE * typical:
            large.append(info.level.display)
    gaps = _gaps(whole, counted)
    if not small and not large and not gaps and not counted:
        return infos, []
    capped = [
        replace(i, confidence=min(i.confidence, FRAGMENT_CONFIDENCE))
        if i.level is not Level.S
        else i
        for i in infos
    ]
    warnings = []
    if small:
        warnings.append(
            f"{', '.join(small)} {'is' if len(small) == 1 else 'are'} less than half the size "
            "of the neighbouring vertebrae: probably a piece of a vertebra cut at a false "
            "disc, so every level counted across it may be off; confirm the levels on the "
            "images"
        )
    if large:
        warnings.append(
            f"{', '.join(large)} {'is' if len(large) == 1 else 'are'} nearly twice the size "
            "of the neighbouring vertebrae: probably two vertebrae not parted at their disc, "
            "so every level counted across it may be off; confirm the levels on the images"
        )
    if gaps:
        warnings.append(
            f"the bodies of {', '.join(gaps)} lie about two vertebrae apart: probably a "
            "vertebra (a crushed body?) was not found between them, so every level "
            "counted across the gap may be off; confirm the levels on the images"
        )
    return capped, warnings
