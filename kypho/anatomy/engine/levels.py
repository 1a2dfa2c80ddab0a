"""Naming the vertebrae of a found column: counting from the sacrum, the ribs or anchors.

Evidence, strongest first: user anchors and a user-declared lowest level; the first rib
(T1) and the sacrum together (:mod:`~kypho.anatomy.engine.two_ends`); the sacrum (the
vertebra on it is L5); the lowest rib-bearing vertebra (T12). When sacrum and ribs
disagree (11 or 13 rib pairs, lumbarisation) the sacrum count is kept and a warning
says so; when neither is visible the column is counted with a low confidence.
"""

from __future__ import annotations

from collections.abc import Callable

from kypho.anatomy.engine.level_count import (
    SINGLE_ANCHOR_CONFIDENCE,
    Count,
    LevelAssignment,
    count_from,
    counting_order,
)
from kypho.anatomy.engine.rib_reach import RibAnchors, level_from_reach, rib_anchors, thoracic_bases
from kypho.anatomy.engine.two_ends import from_both_ends, thirteenth_rib_caps
from kypho.anatomy.levels import Level

__all__ = ["SINGLE_ANCHOR_CONFIDENCE", "LevelAssignment", "assign_levels"]

#: Rib-bearing vertebrae counted from the first rib to the last that are read as a
#: thoracic spine (12, or the 11 and 13 of transitional anatomy); a shorter run between
#: a rib-free vertebra above and one below means ribs were missed, and the last rib
#: (T12) is the better anchor.
RIB_PAIR_VARIANTS = (11, 12, 13)
#: Confidence when the sacrum and the last rib disagree by one level: a transitional
#: variant, or one vertebra missed or split; either anchor may be the wrong one.
VARIANT_CONFIDENCE = 0.45
#: Confidence of a count from a floating rib: one feature of one rib pair, at a
#: field-of-view edge.
FLOATING_CONFIDENCE = 0.3


def assign_levels(
    n: int,
    *,
    on_sacrum: bool,
    rib_indices: list[int],
    anchor_indices: dict[Level, int] | None = None,
    lowest: Level | None = None,
    rib_doubt_indices: list[int] | None = None,
    seen_whole: list[bool] | None = None,
    rib_reach_mm: dict[int, float] | None = None,
    cranial_edge_ribs: list[int] | None = None,
) -> LevelAssignment:
    """Level names for ``n`` presacral vertebrae listed cranial to caudal.

    Parameters
    ----------
    n : int
        Vertebrae found (sacrum excluded).
    on_sacrum : bool
        The lowest one sits on a detected sacrum.
    rib_indices : list of int
        Indices of rib-bearing vertebrae.
    anchor_indices : dict, optional
        User anchors resolved to vertebra indices.
    lowest : Level, optional
        User-declared level of the lowest presacral vertebra (meaningful with a sacrum
        or when the scan reaches it).
    rib_doubt_indices : list of int, optional
        Vertebrae below the lowest rib found that a rib-like but too thick bone leaves
        (:class:`~kypho.anatomy.engine.ribs_sacrum.RibSearch`): when the ribs alone
        fix the count, it is then in doubt.
    seen_whole : list of bool, optional
        Per vertebra, whether enough of it lies in the field of view to tell that it
        bears no rib. The lowest rib marks T12 only when a rib-free vertebra is seen
        below it, the highest marks T1 only when a rib-free vertebra (C7) is seen above
        it or 13 rib-bearing ones run down to a valid last rib: at an image edge the
        next rib may lie just out of view. Default: every vertebra is seen whole.
    rib_reach_mm : dict of int to float, optional
        Per rib-bearing vertebra whose ribs are seen whole, how far they reach in front
        of its body (:class:`~kypho.anatomy.engine.ribs_sacrum.RibSearch`). When no
        anchor is in view, the lowest whole rib is read by its reach: a short one on
        the last rib-bearing vertebra is T12, a shortened one T11, one that curves on
        to the front T10 at the lowest.
    cranial_edge_ribs : list of int, optional
        Rib-bearing vertebrae whose every rib enters the image through its cranial edge
        (:class:`~kypho.anatomy.engine.ribs_sacrum.RibSearch`): the rib may be the
        vertebra above's. With the sacrum in view such a lowest rib does not overrule
        it (:func:`~kypho.anatomy.engine.rib_reach.rib_anchors`).
    """
    c = Count(n, counting_order(lowest), [""] * n, [])
    seen = list(seen_whole) if seen_whole is not None else [True] * n
    ribs = rib_anchors(n, rib_indices, seen, on_sacrum, cranial_edge_ribs or ())
    lowest_rib = ribs.last if ribs.last_valid else None
    if anchor_indices:
        return _from_user_anchors(c, anchor_indices)
    if lowest is not None and (on_sacrum or lowest_rib is None):
        levels = count_from(n, n - 1, lowest, c.order)
        c.explain(n - 1, f"lowest presacral vertebra declared = {lowest.display}")
        return c.result(levels, 0.9 if on_sacrum else 0.6)
    both = from_both_ends(c, ribs) if on_sacrum and lowest is None else None
    if both is not None:
        return both
    if on_sacrum and lowest is None and lowest_rib is not None and lowest_rib == n - 5:
        return _sacralised(c, lowest_rib)
    if on_sacrum:
        edge_rib = ribs.last if ribs.last is not None and not ribs.last_valid else None
        return _from_sacrum(c, lowest or Level.L5, lowest_rib, edge_rib)
    if ribs.first_valid and (not ribs.last_valid or ribs.pairs in RIB_PAIR_VARIANTS):
        return _from_first_rib(n, ribs, c.order, c.evidence, c.warnings, c.explain)
    if lowest_rib is not None:
        return _from_last_rib(c, lowest_rib, lowest, rib_doubt_indices or [], rib_reach_mm or {})
    return _guess(c, ribs, rib_reach_mm or {})


def _from_user_anchors(c: Count, anchor_indices: dict[Level, int]) -> LevelAssignment:
    """Count from the first user anchor; the others are checked against it."""
    lv, idx = next(iter(anchor_indices.items()))
    levels = count_from(c.n, idx, lv, c.order)
    c.explain(idx, f"user anchor = {lv.display}")
    for other, oidx in list(anchor_indices.items())[1:]:
        if levels[oidx] is not other:
            c.warnings.append(
                f"user anchors disagree: {other.display} falls on the vertebra counted as "
                f"{levels[oidx].display if levels[oidx] else 'none'}; the first anchor is kept"
            )
    return c.result(levels, 0.9 if not c.warnings else 0.6)


def _sacralised(c: Count, lowest_rib: int) -> LevelAssignment:
    """Only four free vertebrae between the last rib and the sacrum: L5 is fused to
    (sacralised) or merged in the image with the sacrum. A lumbar rib on L1 is the
    rarer explanation, so the rib count is kept."""
    levels = count_from(c.n, lowest_rib, Level.T12, c.order)
    c.explain(lowest_rib, "lowest rib-bearing vertebra = T12")
    c.warnings.append(
        "only four vertebrae lie between the lowest rib and the sacrum: L5 seems fused "
        "with the sacrum (sacralisation) or was not separated from it, or a vertebra "
        "was missed or has no rib (11 pairs); levels are counted from the ribs, "
        "confirm them on the images"
    )
    # The same one-level disagreement as in _from_sacrum: either anchor may be wrong
    # (family s1-0033, 11 rib pairs and a body lost: 4 names wrong at 0.6).
    return c.result(levels, VARIANT_CONFIDENCE)


def _from_sacrum(
    c: Count, l5: Level, lowest_rib: int | None, edge_rib: int | None = None
) -> LevelAssignment:
    """Count up from the vertebra on the sacrum, checked against the last rib; ``edge_rib``
    is a last rib that entered through the image's top edge and does not count."""
    levels = count_from(c.n, c.n - 1, l5, c.order)
    c.explain(c.n - 1, f"vertebra sitting on the sacrum = {l5.display}")
    if lowest_rib is None:
        lstv = "a lumbosacral transitional vertebra (L6, sacralised L5)"
        missing = "no last rib" if edge_rib is None else "no rib seen whole"
        out = c.result(levels, c.one_anchor("the sacrum", missing, lstv))
        if edge_rib is not None:
            shown = levels[edge_rib].display if levels[edge_rib] else "none"
            c.warnings.append(
                f"a rib enters the image through its top edge beside {shown}: it may be "
                "the rib of the vertebra above, out of view, so the levels are counted "
                f"from the sacrum; were it {shown}'s own (13 rib pairs, or L5 sacralised) "
                "every level would shift"
            )
        return out
    rib_level = levels[lowest_rib]
    if rib_level is Level.T12:
        c.evidence[lowest_rib] += "; lowest rib-bearing vertebra = T12 agrees"
        return c.result(levels, 0.97)
    shown = rib_level.display if rib_level else "none"
    # One level apart is a known variant (11/13 rib pairs, L6, sacralised L5; VerSe'20
    # counts them in DOMAIN.md), but a vertebra missed or cut twice leaves the same
    # one-level disagreement (family phantom s1-0033: 4 names wrong at 0.6), so neither
    # anchor is trusted above 0.5; more than one level is no variant at all.
    variant = rib_level in (Level.T11, Level.T13, Level.L1)
    c.warnings.append(
        f"the lowest rib-bearing vertebra counts as {shown}, not T12, from the "
        + (
            "sacrum: transitional anatomy, a rib-count anomaly, or one vertebra "
            "missed or split in two"
            if variant
            else "sacrum, more than any transitional variant explains: a "
            "vertebra was probably missed or cut twice"
        )
        + "; the sacrum count is kept, confirm the levels on the images"
    )
    return c.result(levels, VARIANT_CONFIDENCE if variant else 0.3)


def _from_last_rib(
    c: Count,
    lowest_rib: int,
    lowest: Level | None,
    rib_doubt_indices: list[int],
    reach_mm: dict[int, float],
) -> LevelAssignment:
    """Count from the lowest rib (T12), seen with a rib-free vertebra below it, unless
    that rib reaches round to the front like ribs 1-10 (:func:`_front_reaching_last`)."""
    if level_from_reach(reach_mm, lowest_rib) == (lowest_rib, Level.T10):
        return _front_reaching_last(c, lowest_rib)
    rib_free = c.n - 1 - lowest_rib
    five_lumbar = c.order[-1] is Level.L5
    if five_lumbar and rib_free == 6:
        levels = _six_rib_free(c, lowest_rib)
    else:
        # Seven or more rib-free: no anatomy, a body split or ribs missed; the sixth is
        # kept (as L6) to be measured rather than dropped.
        order = (*c.order, Level.L6) if five_lumbar and rib_free > 6 else c.order
        levels = count_from(c.n, lowest_rib, Level.T12, order)
        c.explain(lowest_rib, "lowest rib-bearing vertebra = T12")
    confidence = c.one_anchor("the last rib", "no sacrum or first rib", "11 or 13 rib pairs")
    doubt = [i for i in rib_doubt_indices if i > lowest_rib and levels[i] is not None]
    if doubt:
        shown = ", ".join(levels[i].display for i in doubt)  # type: ignore[union-attr]
        c.warnings.append(
            f"bone leaves the column sideways like a rib at {shown} (counted below T12), "
            "but too thick for a rib alone (merged with contrast-enhanced tissue or "
            "another rib?): the lowest rib, and so every level, may be lower than "
            "counted; confirm the levels on the images or give an anchor"
        )
        confidence = min(confidence, 0.4)
    if lowest is not None and levels[-1] is not lowest:
        c.warnings.append(
            f"declared lowest level {lowest.display} disagrees with the rib count "
            f"({levels[-1].display if levels[-1] else 'none'}); the rib count is kept"
        )
        confidence = min(confidence, 0.4)
    return c.result(levels, confidence)


def _six_rib_free(c: Count, lowest_rib: int) -> list[Level | None]:
    """Six rib-free vertebrae below the last rib and no sacrum in view: 11 rib pairs, a
    12th rib too short to be seen, or a sixth lumbar vertebra.

    Five lumbar vertebrae are the rule and a hypoplastic or absent 12th rib is commoner
    than a lumbarised S1 (the shortest rib is also the one a search misses), so the last
    rib seen is T11; its length cannot tell, the last of 11 pairs is as short as a 12th.
    The L6 reading named every vertebra one level high in the family (s1-0011, s2-0020,
    s3-0005, s3-0022: 11 pairs; s3-0041: 12th rib missed). VerSe'20 (DOMAIN.md §3)
    calls a vertebra whose rib remnant is under 4 cm L1; the warning says so."""
    c.explain(lowest_rib, "lowest rib seen = T11 (six rib-free vertebrae below it)")
    c.warnings.append(
        "six rib-free vertebrae lie below the last rib seen: counted as five lumbar below "
        "a rib-free T12 (11 rib pairs, or a 12th rib too short to be seen), the last rib "
        "T11; an L6 would put every level one higher, and VerSe calls a vertebra whose "
        "rib remnant is under 4 cm L1; confirm on the images or give --level NAME@Z"
    )
    return count_from(c.n, lowest_rib, Level.T11, c.order)


def _front_reaching_last(c: Count, lowest_rib: int) -> LevelAssignment:
    """The lowest rib found curves on to the front of the chest like ribs 1-10, not into
    the flank like a floating 11th or 12th: the ribs below it were missed (a rolled or
    curved chest, family s2-0033), and it is T10 at the lowest. Counted from T10, the
    likeliest, at the confidence of a floating rib."""
    levels = count_from(c.n, lowest_rib, Level.T10, c.order)
    c.explain(lowest_rib, "lowest rib found, reaching the front of the chest = T10")
    c.warnings.append(
        "the lowest rib found reaches round to the front of the chest like ribs 1-10, "
        "not into the flank like a floating 11th or 12th: the ribs below it were "
        "probably missed, so it is counted as T10, a guess; confirm the levels on the "
        "images or give --level NAME@Z"
    )
    return c.result(levels, FLOATING_CONFIDENCE)


def _guess(c: Count, ribs: RibAnchors, reach_mm: dict[int, float]) -> LevelAssignment:
    """No anchor in view: a guess at confidence 0.2 that says so, or 0.3 from a
    floating rib; never one that puts a rib on a cervical or lumbar vertebra."""
    last_rib = ribs.last
    estimate = level_from_reach(reach_mm, last_rib) if last_rib is not None else None
    if estimate is not None and estimate[1] is not Level.T10:
        at, level = estimate
        levels = _thoracic(
            c, ribs, at, level, f"rib stopping short in the flank (floating) = {level.display}"
        )
        c.warnings.append(
            "no first rib (T1), last rib with a rib-free vertebra below it, or sacrum is "
            f"in view: the levels are counted from a floating rib read as {level.display} "
            "(the 11th and 12th rib pairs stop in the flank, the 12th shortest), which 11 "
            "or 13 rib pairs would shift; give the level of one vertebra with --level NAME@Z"
        )
        return c.result(levels, FLOATING_CONFIDENCE)
    if estimate is not None:
        # This vertebra's whole rib curves on to the front like ribs 1-10 (an 11th
        # rarely does), so it is T10 or higher; the highest rib is T1 or lower.
        levels, allowed = _middle_count(c, ribs, estimate[0], Level.T10)
        c.warnings.append(
            "no first rib (T1), last rib or sacrum is in view, so no vertebra can be "
            "numbered from anatomy: the ribs only bound the count (the highest rib-bearing "
            "vertebra is T1 or lower, the lowest whose ribs curve on to the front T10 or "
            f"higher; ribs 1-10 do), which allows {allowed} for the highest vertebra in "
            "view; the names are the middle of that range, a guess: give the level of one "
            "vertebra with --level NAME@Z"
        )
        return c.result(levels, 0.2)
    if last_rib is not None:
        # Ribs reach the field of view's lower edge and no first rib is in view: every
        # vertebra with ribs is thoracic, but which ones is unknown.
        levels, allowed = _middle_count(c, ribs, last_rib, Level.T12)
        c.warnings.append(
            "the ribs continue to the edge of the field of view and no first rib (T1) is "
            "in view, so no vertebra can be numbered from anatomy: the rib-bearing "
            f"vertebrae lie within T1-T12, which allows {allowed} for the highest vertebra "
            "in view; the names are the middle of that range, a guess: give the level of "
            "one vertebra with --level NAME@Z"
        )
        return c.result(levels, 0.2)
    # Neither sacrum nor ribs: the most common scan of this kind is lumbar, so count
    # up from L5 and say plainly that this is a guess.
    levels = count_from(c.n, c.n - 1, Level.L5, c.order)
    c.explain(c.n - 1, "lowest vertebra assumed = L5 (no sacrum or ribs in view)")
    c.warnings.append(
        "no sacrum and no ribs were found, so the levels are a guess counted up from L5; "
        "give the level of one vertebra with --level NAME@Z (e.g. --level L3@<z mm>) or "
        "the lowest level with --lowest"
    )
    return c.result(levels, 0.2)


def _middle_count(
    c: Count, ribs: RibAnchors, at: int, at_most: Level
) -> tuple[list[Level | None], str]:
    """With no anchor, the middle of the counts the ribs allow, and that range: the
    highest rib-bearing vertebra is T1 or lower, vertebra ``at`` is ``at_most`` or
    higher, the lowest rib-bearing one T12 or higher. No count between is likelier than
    the next; the middle halves the largest error of either extreme. Ribs no count
    satisfies fall back to ``at_most`` at ``at``, kept thoracic (:func:`_thoracic`)."""
    assert ribs.first is not None and ribs.last is not None
    bounds = thoracic_bases(ribs.first, ribs.last, c.order)
    lowest_base, highest_base = bounds or (0, -1)
    highest_base = min(highest_base, c.order.index(at_most) - at)
    if lowest_base > highest_base:
        return _thoracic(c, ribs, at, at_most, f"assumed {at_most.display}"), "no count"
    base = highest_base - (highest_base - lowest_base) // 2
    span = [c.order[b].display if 0 <= b < len(c.order) else "?"
            for b in (lowest_base, highest_base)]  # fmt: skip
    allowed = span[0] if span[0] == span[1] else f"{span[0]}-{span[1]}"
    level = c.order[base + ribs.first]
    c.explain(ribs.first, f"highest rib-bearing vertebra in view, guessed {level.display} "
              "(the middle of the counts the ribs allow)")  # fmt: skip
    return count_from(c.n, ribs.first, level, c.order), allowed


def _thoracic(
    c: Count, ribs: RibAnchors, at: int, level: Level, anchor_text: str
) -> list[Level | None]:
    """Levels guessed with vertebra ``at`` as ``level``, moved as little as needed for
    every rib-bearing vertebra in view to be thoracic (:func:`thoracic_bases`), if any."""
    assert ribs.first is not None and ribs.last is not None
    base = c.order.index(level) - at
    bounds = thoracic_bases(ribs.first, ribs.last, c.order)
    moved = base if bounds is None else min(max(base, bounds[0]), bounds[1])
    if moved == base:
        c.explain(at, anchor_text)
        return count_from(c.n, at, level, c.order)
    end, edge = (ribs.first, Level.T1) if moved > base else (ribs.last, Level.T12)
    c.explain(end, f"{'highest' if edge is Level.T1 else 'lowest'} rib-bearing vertebra "
              f"in view, counted as {edge.display}: only T1-T12 bear ribs")  # fmt: skip
    c.warnings.append(
        f"the guess ({anchor_text}) would have put a rib on a "
        f"{'cervical' if edge is Level.T1 else 'lumbar'} vertebra; the count was moved "
        f"to make the {'highest' if edge is Level.T1 else 'lowest'} rib-bearing vertebra "
        f"{edge.display}"
    )
    return count_from(c.n, end, edge, c.order)


def _from_first_rib(
    n: int,
    ribs: RibAnchors,
    order: tuple[Level, ...],
    evidence: list[str],
    warnings: list[str],
    explain: Callable[[int, str], None],
) -> LevelAssignment:
    """Count down from the first rib (T1), checked against the last rib when in view."""
    assert ribs.first is not None and ribs.last is not None
    levels = count_from(n, ribs.first, Level.T1, order)
    explain(ribs.first, "highest rib-bearing vertebra = T1")
    if not ribs.last_valid:
        return LevelAssignment(levels, 0.8, evidence, warnings)
    pairs = ribs.pairs
    if pairs == 12:
        evidence[ribs.last] += "; lowest rib-bearing vertebra = T12 agrees"
        return LevelAssignment(levels, 0.95, evidence, warnings)
    if pairs == 13:
        # A thirteenth rib-bearing vertebra: T13 (VerSe 28) between T12 and L1.
        levels = [
            *levels[: ribs.last],
            Level.T13,
            *count_from(n - ribs.last - 1, -1, Level.T12, order),
        ][:n]
        evidence[ribs.last] = "thirteenth rib-bearing vertebra counted from T1 = T13"
    caps = thirteenth_rib_caps(levels, ribs.last, pairs)
    warnings.append(
        f"{pairs} rib-bearing vertebrae were counted from the first rib to the last "
        "(12 expected): transitional anatomy or a rib missed or merged; the levels are "
        "counted from the first rib (T1), confirm them on the images"
    )
    return LevelAssignment(levels, 0.6, evidence, warnings, caps)
