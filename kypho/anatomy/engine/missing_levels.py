"""A vertebra the column lost is still a level: count it where the bodies leave its room.

A crushed body whose core was too thin to keep, or one lost in a block's split, leaves
two bodies about two vertebral pitches apart. Naming then counts one level short across
the gap: from the sacrum upward every level above it is named one too low, from the
last rib downward every level below it one too high, and the ribs and the sacrum
disagree by one (family s2-0034, s2-0043, s2-0048).

Consecutive pitches differ by ~10 % (DOMAIN.md §7.3); a crushed body shortens the steps
beside it and the thoracolumbar junction lengthens them, up to ~1.4x
(:data:`~kypho.anatomy.engine.fragments.GAP_RATIO` is 1.5). A piece of a vertebra or
two vertebrae left in one label also lengthen the steps beside them, by half a pitch
each (to ~1.5x), with a body about half or twice its neighbours' size: a step is counted
as a lost vertebra only when it is :data:`MISSING_RATIO` times its neighbouring steps or
more, at most :data:`MAX_MISSING_RATIO` (longer is more than one vertebra, or no column
at all), and both bodies beside it are whole-sized. A crushed body lengthens the step it
is lost in by less, its own few millimetres and a disc (family s2-0025 T11, s3-0042 L2:
1.41x and 1.43x), but it leaves room no disc does: a shorter step, from
:data:`SHORT_MISSING_RATIO`, also counts when the core-free stretch between the two cores
is at least :data:`LOST_ROOM_MM` long and :data:`EXTRA_ROOM_MM` longer than its
neighbours' (a curved or junctional step is long between cores that stand as close as
elsewhere).

Even so, two bodies far apart can be a long step of a curved or rolled column rather than
a lost vertebra (family s2-0037: 1.7x, every level right at 0.97). The lost vertebra is
therefore a hypothesis the anchors test: it is counted unless fewer of the anchors in
view (the sacrum's L5, the last rib's T12, the first rib's T1, the user's anchors) agree
with the count that includes it than with the count without. With no anchor in view
but a floating rib read by its reach (the 11th or 12th), the names are counted from
that rib and the gap is tested against it; with none at all the count is a guess either
way and the gap is only warned of
(:func:`~kypho.anatomy.engine.fragments.cap_for_fragments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise
from typing import Any

import numpy as np

from kypho.anatomy.engine.column import Node, beside_in_sequence
from kypho.anatomy.engine.fragments import FRAGMENT_SHARE, MERGED_SHARE, NEIGHBOURS
from kypho.anatomy.engine.level_count import LevelAssignment
from kypho.anatomy.engine.levels import assign_levels
from kypho.anatomy.engine.rib_reach import level_from_reach, rib_anchors
from kypho.anatomy.levels import Level

__all__ = [
    "EXTRA_ROOM_MM",
    "LOST_ROOM_MM",
    "MAX_MISSING_RATIO",
    "MISSING_RATIO",
    "ONE_LOST_RATIO",
    "SHORT_MISSING_RATIO",
    "assign_across_gaps",
    "missing_after",
    "uneven_steps",
]

#: Least ratio of a step between consecutive cores to the median of the neighbouring
#: steps that counts a vertebra lost between them.
MISSING_RATIO = 1.6
#: Least ratio of such a step when the room between the two cores shows the lost body.
SHORT_MISSING_RATIO = 1.35
#: Least core-free length (mm, along the image's z) of that room: more than the
#: thickest disc (lumbar, ~10-12 mm, DOMAIN.md §7.3). In the family's 200 development
#: cases no step of 1.35x or more without a lost body had more than 10 mm; the two with
#: a crushed body lost had 20 and 24 mm.
LOST_ROOM_MM = 13.0
#: ...and how much longer (mm) it must be than the median room of the neighbouring
#: steps: a crushed body keeps at least a few millimetres and brings a second disc.
EXTRA_ROOM_MM = 8.0
#: Largest ratio read as one lost vertebra: two pitches and a half is more than one.
ONE_LOST_RATIO = 2.5
#: Largest ratio read as lost vertebrae at all (then ``round(ratio) - 1`` of them): a
#: longer gap is no stretch of one column.
MAX_MISSING_RATIO = 4.5
#: Most vertebrae counted as lost in one gap.
MAX_LOST = 3


def _whole_sized(nodes: Sequence[Node], k: int) -> bool:
    near = beside_in_sequence(nodes, k, NEIGHBOURS)
    if len(near) < 2:
        return False
    typical = float(np.median([n.volume_mm3 for n in near]))
    return FRAGMENT_SHARE * typical <= nodes[k].volume_mm3 <= MERGED_SHARE * typical


def _both_whole_sized(nodes: Sequence[Node], k: int) -> bool:
    """Whether the bodies on both sides of step ``k`` are whole-sized."""
    return _whole_sized(nodes, k) and _whole_sized(nodes, k + 1)


def _room_for_one(rooms: Sequence[float], k: int) -> bool:
    """Whether the core-free room of step ``k`` holds more than a disc (:data:`LOST_ROOM_MM`,
    :data:`EXTRA_ROOM_MM` over its neighbours' median)."""
    near = beside_in_sequence(rooms, k, NEIGHBOURS)
    return rooms[k] >= LOST_ROOM_MM and rooms[k] - float(np.median(near)) >= EXTRA_ROOM_MM


def missing_after(nodes: Sequence[Node]) -> list[int]:
    """Indices ``k`` such that vertebrae seem lost between cores ``k`` and ``k + 1``.

    A step :data:`MISSING_RATIO` to :data:`ONE_LOST_RATIO` times its neighbouring steps
    has lost one vertebra, and so has one from :data:`SHORT_MISSING_RATIO` whose
    core-free room holds more than a disc; a longer one, up to
    :data:`MAX_MISSING_RATIO`, ``round(ratio) - 1`` (ind-1-0036: T12 and L1 lost, a
    step 2.8 times its neighbours; the names across it were counted one level short
    even with one lost vertebra counted).

    Parameters
    ----------
    nodes : sequence of Node
        The column's presacral cores, cranial to caudal.

    Returns
    -------
    list of int
        Ascending; ``k`` appears once per vertebra lost after core ``k``.
    """
    out = []
    for k, ratio in _long_steps(nodes):
        if _both_whole_sized(nodes, k):
            lost = 1 if ratio <= ONE_LOST_RATIO else min(MAX_LOST, round(ratio) - 1)
            out.extend([k] * lost)
    return out


def uneven_steps(nodes: Sequence[Node]) -> list[int]:
    """Steps long enough for one lost vertebra beside a body that is not whole-sized.

    Such a step is also what a piece of a vertebra or two vertebrae left in one core
    make beside them, so its length is no evidence: it is a lost vertebra only where
    the lost body is seen in its room
    (:func:`~kypho.anatomy.engine.lost_bodies.lost_steps`; family s3-0019, a crushed
    T7 lost beside a T8 whose core holds a third of its body: every name above it one
    level off).

    Parameters
    ----------
    nodes : sequence of Node
        The column's presacral cores, cranial to caudal.

    Returns
    -------
    list of int
        Ascending indices ``k`` of the steps between cores ``k`` and ``k + 1``.
    """
    return [
        k
        for k, ratio in _long_steps(nodes)
        if ratio <= ONE_LOST_RATIO and not _both_whole_sized(nodes, k)
    ]


def _long_steps(nodes: Sequence[Node]) -> list[tuple[int, float]]:
    """Steps long enough to have lost a vertebra, with their ratio to the neighbouring
    steps (:data:`MISSING_RATIO`, or :data:`SHORT_MISSING_RATIO` with room for a body,
    up to :data:`MAX_MISSING_RATIO`)."""
    centres = [np.asarray(n.centroid_mm, dtype=float) for n in nodes]
    steps = [float(np.linalg.norm(a - b)) for a, b in pairwise(centres)]
    rooms = [a.z_lo_mm - b.z_hi_mm for a, b in pairwise(nodes)]
    out = []
    for k, step in enumerate(steps):
        near = beside_in_sequence(steps, k, NEIGHBOURS)
        if len(near) < 2:
            continue
        ratio = step / float(np.median(near))
        long = ratio >= MISSING_RATIO or (ratio >= SHORT_MISSING_RATIO and _room_for_one(rooms, k))
        if long and ratio <= MAX_MISSING_RATIO:
            out.append((k, ratio))
    return out


def assign_across_gaps(
    n: int,
    missing: Sequence[int],
    *,
    doubled: Sequence[int] = (),
    joined: Sequence[int] = (),
    **kwargs: Any,
) -> LevelAssignment:
    """:func:`~kypho.anatomy.engine.levels.assign_levels` with a lost vertebra counted
    after each index in ``missing``, unless the anchors in view agree less with it or
    none is in view; then one doubled core counted as two levels, or one pair of pieces
    as one, when more of the anchors in view agree with that count
    (:mod:`~kypho.anatomy.engine.uneven_cores`).

    A lost vertebra takes a level of its own in the count; it is not seen, so it
    neither bears nor lacks a rib (``seen_whole`` False). A doubled core is named by
    the upper of its two levels; two pieces share one level. The levels returned are
    those of the ``n`` vertebrae found.

    Parameters
    ----------
    n : int
        Vertebrae found.
    missing : sequence of int
        From :func:`missing_after`.
    doubled : sequence of int, optional
        From :func:`~kypho.anatomy.engine.uneven_cores.doubled_cores`.
    joined : sequence of int, optional
        From :func:`~kypho.anatomy.engine.uneven_cores.piece_pairs`: cores ``k`` and
        ``k + 1`` may be one vertebra.
    **kwargs
        As for ``assign_levels``, indexed by the vertebrae found.

    Returns
    -------
    LevelAssignment
    """
    plain = assign_levels(n, **kwargs)
    if n == 0:
        return plain
    best_agreement, best = _agreeing(plain.levels, kwargs), plain
    if missing:
        virtual = _virtual(n, missing, ())
        counted, moved = _count(virtual, kwargs)
        with_lost = _agreeing(counted.levels, moved)
        if with_lost is not None and best_agreement is not None and with_lost >= best_agreement:
            best_agreement = with_lost
            best = _named(counted, virtual, _lost_warning(counted, virtual, missing))
        else:
            missing = []
    if best_agreement is None:
        return best
    candidates = [(True, k) for k in doubled] + [(False, k) for k in joined]
    for is_doubled, k in candidates:
        if k in missing:
            continue
        virtual = _virtual(n, [*missing, k] if is_doubled else missing, [] if is_doubled else [k])
        counted, moved = _count(virtual, kwargs)
        # One anchor cannot test a count: the naming keeps it or reads past it on
        # purpose (six rib-free vertebrae, family s2-0031), so two must be in view.
        agreement = _agreeing(counted.levels, moved, least=2)
        if agreement is not None and agreement > best_agreement:
            warning = _uneven_warning(counted, virtual, k, is_doubled)
            if missing:
                warning = f"{_lost_warning(counted, virtual, missing)}; {warning}"
            best_agreement, best = agreement, _named(counted, virtual, warning)
    return best


def _virtual(n: int, extra_after: Sequence[int], joined_after: Sequence[int]) -> list[int]:
    """Each found vertebra's index in the count: one level more after each index in
    ``extra_after``, one level less after each in ``joined_after``."""
    out = [0]
    for i in range(1, n):
        out.append(out[-1] + (i - 1 not in joined_after) + list(extra_after).count(i - 1))
    return out


def _count(virtual: list[int], kwargs: dict[str, Any]) -> tuple[LevelAssignment, dict[str, Any]]:
    """``assign_levels`` over the count's indices, and the arguments it was given."""
    n, total = len(virtual), virtual[-1] + 1
    moved = dict(kwargs)
    moved["rib_indices"] = sorted({virtual[i] for i in kwargs.get("rib_indices", [])})
    for key in ("rib_doubt_indices", "cranial_edge_ribs"):
        if kwargs.get(key) is not None:
            moved[key] = sorted({virtual[i] for i in kwargs[key]})
    if kwargs.get("anchor_indices"):
        moved["anchor_indices"] = {lv: virtual[i] for lv, i in kwargs["anchor_indices"].items()}
    if kwargs.get("rib_reach_mm") is not None:
        moved["rib_reach_mm"] = {virtual[i]: r for i, r in kwargs["rib_reach_mm"].items()}
    seen = kwargs.get("seen_whole")
    seen_counted = [False] * total
    for i, s in zip(virtual, seen if seen is not None else [True] * n, strict=True):
        seen_counted[i] = seen_counted[i] or bool(s)
    moved["seen_whole"] = seen_counted
    return assign_levels(total, **moved), moved


def _named(counted: LevelAssignment, virtual: list[int], warning: str) -> LevelAssignment:
    return replace(
        counted,
        levels=[counted.levels[v] for v in virtual],
        evidence=[counted.evidence[v] for v in virtual],
        warnings=[*counted.warnings, warning],
    )


def _lost_warning(counted: LevelAssignment, virtual: list[int], missing: Sequence[int]) -> str:
    levels = [counted.levels[v] for v in virtual]
    lost = [
        f"{_shown(levels[m])} and {_shown(levels[m + 1])} (counted as "
        + ", ".join(_shown(counted.levels[v]) for v in range(virtual[m] + 1, virtual[m + 1]))
        + ")"
        for m in sorted(set(missing))
    ]
    if len(missing) > len(set(missing)):
        return (
            f"the bodies of {'; '.join(lost)} lie more than two vertebrae apart: the "
            "vertebrae between them (crushed bodies? bodies not separated from soft "
            "tissue?) were not found but were counted as levels, so the names across the "
            "gap skip them; confirm the levels on the images"
        )
    return (
        f"the bodies of {'; '.join(lost)} lie two vertebrae apart: a vertebra (a crushed "
        "body?) was not found there but was counted as a level, so the names across the "
        "gap skip one; confirm the levels on the images"
    )


def _uneven_warning(
    counted: LevelAssignment, virtual: list[int], k: int, is_doubled: bool
) -> str:
    """What counting doubled core ``k`` as two levels, or pieces ``k``, ``k + 1`` as one,
    means."""
    if is_doubled:
        upper, lower = counted.levels[virtual[k]], counted.levels[virtual[k] + 1]
        return (
            f"the vertebra named {_shown(upper)} is twice its neighbours' size and was "
            f"counted as two levels ({_shown(upper)} and {_shown(lower)}, not parted at "
            "their disc): the anchors in view agree with that count and not without it; "
            "confirm the levels on the images"
        )
    level = counted.levels[virtual[k]]
    return (
        f"two pieces of bone in the column, one under half a vertebra's size, were "
        f"counted as one vertebra, {_shown(level)} (cut at a false disc?): the anchors in "
        "view agree with that count and not without it; confirm the levels on the images"
    )


def _agreeing(
    levels: list[Level | None], kwargs: dict[str, Any], least: int = 1
) -> int | None:
    """How many of the anchors in view ``levels`` agree with; None when fewer than
    ``least`` are in view."""
    n = len(levels)
    seen = kwargs.get("seen_whole")
    on_sacrum = bool(kwargs.get("on_sacrum"))
    ribs = rib_anchors(
        n,
        list(kwargs.get("rib_indices", [])),
        seen or [True] * n,
        on_sacrum,
        kwargs.get("cranial_edge_ribs") or (),
    )
    checks = [levels[i] is lv for lv, i in (kwargs.get("anchor_indices") or {}).items()]
    if on_sacrum:
        checks.append(levels[-1] is (kwargs.get("lowest") or Level.L5))
    if ribs.last_valid and ribs.last is not None:
        checks.append(levels[ribs.last] is Level.T12)
    if ribs.first_valid and ribs.first is not None:
        checks.append(levels[ribs.first] is Level.T1)
    if not checks and ribs.last is not None:
        # With no anchor proper, a floating rib read by its reach is what the names are
        # counted from (:func:`~kypho.anatomy.engine.levels.assign_levels`), and a gap
        # is tested against it (ind-1-0009: a crushed T7 lost, T1-T6 named one too high
        # from a floating rib below). The middle of what the ribs allow is no anchor: a
        # gap counted there moved every name (family s2-0009, 5 -> 1 of 9).
        estimate = level_from_reach(kwargs.get("rib_reach_mm") or {}, ribs.last)
        if estimate is not None and estimate[1] is not Level.T10:
            checks.append(levels[estimate[0]] is estimate[1])
    return sum(checks) if len(checks) >= max(1, least) else None


def _shown(level: object) -> str:
    return getattr(level, "display", "none")
