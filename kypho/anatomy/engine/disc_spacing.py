"""Disc cuts spaced as vertebrae: a dynamic programme over a 1-D evidence profile.

Along a block of merged vertebral bodies, the evidence for a disc at each step of its
centre line is known (:mod:`kypho.anatomy.engine.disc_profile`); which steps are the
discs follows from anatomy as much as from that evidence: consecutive discs lie a
vertebral pitch apart, and the pitch changes gradually along the column.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "END_BODY_MIN_MM",
    "FOV_END_MIN_MM",
    "PITCH_MAX_MM",
    "PITCH_MIN_MM",
    "PITCH_WIDTH_MAX",
    "STEP_MM",
    "best_cuts",
]

#: Vertebral pitch (body plus disc, mm) along the column: upper thoracic bodies are
#: ~15-17 mm tall with 3-4 mm discs, lumbar bodies ~27 mm with ~10 mm discs (DOMAIN.md
#: §7.3); the bounds leave room for a moderately fractured body and for C7.
PITCH_MIN_MM = 13.0
PITCH_MAX_MM = 48.0
#: Neighbouring pitches differ by at most this fraction (heights change gradually along
#: the column; a grade-3 fracture halves a body but its disc and the next body stay).
PITCH_CHANGE = 0.45
#: Cost of a change of pitch between consecutive vertebrae, per unit of |log ratio|,
#: in units of the evidence threshold.
PITCH_CHANGE_COST = 1.0
#: The first and last cut lie at least this far (mm) inside a block that the field of
#: view does not cut: the block's ends are its outer bodies' outer endplates.
END_BODY_MIN_MM = 10.0
#: At an end the field of view cuts, a shorter stub beyond the last disc is left with
#: the block's end vertebra (which is then cut by the field of view and not measured):
#: an endplate at the image edge reads like a disc, and a sliver holds nothing to measure.
FOV_END_MIN_MM = 6.0

#: A vertebra's pitch (body plus disc) is at most this multiple of its body's width.
#: Body height / width is 0.55-0.65 from T1 to L5 (DOMAIN.md §7 full table: T1 18.9 /
#: 33.1 mm, T6 22.9 / 37.5, L3 26.8 / 49.0), so with its disc a single pitch is ~0.65-0.8
#: of the width and two bodies with their discs ~1.3-1.6. At 5 mm slices thin thoracic
#: discs show weakly and a block was cut into pairs of bodies at 44-49 mm, 1.3-1.4 of
#: their cores' width, while their own discs stood 22-25 mm apart (family s1-0027); the
#: single pitches of 5 mm blocks read 0.5-0.9 of it (s1-0027, s1-0064, s1-0070).
PITCH_WIDTH_MAX = 1.1

#: Step (mm) of the profiles along a block's centre line: positions are counted in it
#: here, and the CT is sampled at it (disc_profile) and its evidence read (disc_evidence).
STEP_MM = 1.0


def best_cuts(
    reward: np.ndarray,
    start_free: bool,
    end_free: bool,
    pitch_mm: tuple[float, float] = (PITCH_MIN_MM, PITCH_MAX_MM),
    width_mm: np.ndarray | None = None,
) -> list[int]:
    """Cut positions (profile indices) covering the block, spaced as vertebrae.

    A dynamic programme over (cut, previous cut) that maximises the summed ``reward``
    less the cost of pitch changes: consecutive gaps lie in ``pitch_mm`` and change by
    at most PITCH_CHANGE; no stretch longer than the largest pitch is left without a
    cut (so a stretch without evidence still gets its best-placed cut, which the
    caller then judges). The first and last cut keep END_BODY_MIN_MM (closed end) or
    FOV_END_MIN_MM (an end the field of view cuts) from the block's ends.

    With the block's body width per step (``width_mm``), no stretch between cuts (or
    beyond the end ones) is longer than PITCH_WIDTH_MAX times its mean width; when
    no sequence of cuts can keep to that, the widths are ignored.
    """
    if width_mm is not None:
        cuts = _best_cuts(reward, start_free, end_free, pitch_mm, width_mm)
        if cuts:
            return cuts
    return _best_cuts(reward, start_free, end_free, pitch_mm, None)


def _fits(cum_width: np.ndarray | None, lo: int, hi: int) -> bool:
    """Whether the stretch of steps lo..hi is at most PITCH_WIDTH_MAX of its mean width."""
    if cum_width is None:
        return True
    mean = (cum_width[hi + 1] - cum_width[lo]) / (hi - lo + 1)
    return (hi - lo) * STEP_MM <= PITCH_WIDTH_MAX * mean


def _best_cuts(
    reward: np.ndarray,
    start_free: bool,
    end_free: bool,
    pitch_mm: tuple[float, float],
    width_mm: np.ndarray | None,
) -> list[int]:
    n = len(reward)
    cw = None if width_mm is None else np.concatenate([[0.0], np.cumsum(width_mm)])
    gmin = round(pitch_mm[0] / STEP_MM)
    gmax = round(pitch_mm[1] / STEP_MM)
    first_min = round((FOV_END_MIN_MM if start_free else END_BODY_MIN_MM) / STEP_MM)
    last_min = round((FOV_END_MIN_MM if end_free else END_BODY_MIN_MM) / STEP_MM)
    if n - 1 <= gmax and _fits(cw, 0, n - 1):
        # One body's pitch or less: cut only where it pays.
        inner = np.arange(first_min, n - last_min)
        if inner.size and reward[inner].max() > 0:
            return [int(inner[np.argmax(reward[inner])])]
        return []
    neg = -np.inf
    gg = np.arange(gmax + 1)
    with np.errstate(divide="ignore"):
        change = np.abs(np.log(np.maximum(gg[:, None], 1) / np.maximum(gg[None, :], 1)))
    change[:, 0] = 0.0
    # best[i][g]: best total with a cut at i whose previous cut lies g steps below
    # (g = 0: i is the first cut).
    best: dict[int, np.ndarray] = {}
    back: dict[int, np.ndarray] = {}
    for i in range(first_min, n - last_min):  # profile steps (hundreds), not voxels
        cur = np.full(gmax + 1, neg)
        arg = np.full(gmax + 1, -1, dtype=int)
        if i <= gmax and _fits(cw, 0, i):
            cur[0] = reward[i]
        for g in range(gmin, min(gmax, i) + 1):
            prev = best.get(i - g)
            if prev is None or not _fits(cw, i - g, i):
                continue
            lo, hi = g / (1 + PITCH_CHANGE), g * (1 + PITCH_CHANGE)
            ok = (gg >= max(lo, gmin)) & (gg <= hi)
            ok[0] = True  # i - g was the first cut: the end body below may be partial
            # Pitches change gradually along the column: a change costs in proportion
            # to its log ratio, so an extra cut inside a body (two half pitches) must
            # be paid for by clear evidence.
            cand = np.where(ok, prev - PITCH_CHANGE_COST * change[g], neg)
            k = int(np.argmax(cand))
            if cand[k] > neg:
                cur[g] = cand[k] + reward[i]
                arg[g] = k
        best[i], back[i] = cur, arg
    top_i, top_g, top = -1, -1, neg
    for i, cur in best.items():
        if n - 1 - i > gmax or not _fits(cw, i, n - 1):
            continue
        g = int(np.argmax(cur))
        if cur[g] > top:
            top_i, top_g, top = i, g, float(cur[g])
    if top_i < 0:
        return []
    cuts = [top_i]
    i, g = top_i, top_g
    while g > 0:
        j = i - g
        g = int(back[i][g])
        i = j
        cuts.append(i)
    return sorted(cuts)
