"""Disc cuts spaced as vertebrae: no piece between cuts taller than its bodies are wide.

At 5 mm slices thin thoracic discs show weakly, every other one below the cost of a
cut; the dynamic programme then cut a whole-spine block into pairs of thoracic bodies
44-49 mm apart, 1.3-1.4 times their width, while the discs between stood 22-25 mm
apart (family phantom s1-0027: T1-T9 reported as five bodies, body Dice 0.16-0.77).
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.block_axis import body_width_mm
from kypho.anatomy.engine.disc_evidence import CUT_COST, cut_reward
from kypho.anatomy.engine.disc_spacing import PITCH_WIDTH_MAX, best_cuts
from tests.family_helpers import found_in_place, segment_family_case


def _alternating_discs(n: int, pitch: float, strong: float, weak: float) -> np.ndarray:
    """Evidence with discs every ``pitch`` steps, alternately strong and weak."""
    x = np.arange(n, dtype=float)
    out = np.full(n, 0.2)
    for k, centre in enumerate(np.arange(12.0, n - 8.0, pitch)):
        amp = strong if k % 2 == 0 else weak
        out += amp * np.exp(-0.5 * ((x - centre) / 2.0) ** 2)
    return out


def test_weak_discs_between_strong_ones_are_cut_when_the_bodies_are_narrow() -> None:
    # Thoracic bodies ~36 mm wide, a disc every 23 mm, every other one below the cut
    # cost (but above the 0.75 a forced cut needs to count).
    evidence = _alternating_discs(200, 23.0, strong=2.5, weak=0.7 * CUT_COST)
    reward = cut_reward(evidence)
    pairs = best_cuts(reward, start_free=True, end_free=True)
    # Without the body's width the weak discs are skipped: the pieces hold two bodies.
    assert max(np.diff(pairs)) > 40
    cuts = best_cuts(reward, start_free=True, end_free=True, width_mm=np.full(200, 36.0))
    gaps = np.diff(cuts)
    assert gaps.max() <= PITCH_WIDTH_MAX * 36.0
    assert np.all(np.abs(gaps - 23.0) <= 3.0)


def test_wide_bodies_keep_their_pitch() -> None:
    # Lumbar bodies 48 mm wide, discs 38 mm apart: a single pitch fits, nothing changes.
    evidence = _alternating_discs(200, 38.0, strong=2.5, weak=2.0)
    reward = cut_reward(evidence)
    plain = best_cuts(reward, start_free=True, end_free=True)
    wide = best_cuts(reward, start_free=True, end_free=True, width_mm=np.full(200, 48.0))
    assert wide == plain


def test_widths_no_pitch_can_keep_to_are_ignored() -> None:
    # A width far below any body (a thin bridge read wrongly) must not leave the block
    # uncut: the cuts then follow the evidence alone.
    evidence = _alternating_discs(200, 30.0, strong=2.5, weak=2.5)
    reward = cut_reward(evidence)
    plain = best_cuts(reward, start_free=True, end_free=True)
    assert best_cuts(reward, start_free=True, end_free=True, width_mm=np.full(200, 5.0)) == plain
    # So too in a block no taller than one pitch: its one paying cut stays.
    short = cut_reward(_alternating_discs(45, 30.0, strong=2.5, weak=2.5))
    alone = best_cuts(short, start_free=True, end_free=True)
    assert alone
    assert best_cuts(short, start_free=True, end_free=True, width_mm=np.full(45, 5.0)) == alone


def test_body_width_is_the_major_axis_whatever_the_rotation() -> None:
    # A filled ellipse 40 x 30 mm on a 0.5 mm grid, rotated by 35 degrees, 3 slices.
    g = np.arange(-30.0, 30.0, 0.5)
    u, v = np.meshgrid(g, g, indexing="ij")
    a = np.deg2rad(35.0)
    ru, rv = u * np.cos(a) + v * np.sin(a), -u * np.sin(a) + v * np.cos(a)
    inside = (ru / 20.0) ** 2 + (rv / 15.0) ** 2 <= 1.0
    pts = np.concatenate(
        [np.stack([u[inside], v[inside], np.full(inside.sum(), z)], axis=1) for z in (0, 2, 4)]
    )
    width = body_width_mm(pts, 2.0)
    assert width.shape == (3,)
    assert np.allclose(width, 40.0, atol=1.0)


def test_a_thick_slice_whole_spine_is_cut_into_single_bodies() -> None:
    # s1-0027: C7/T1-L5 at 0.76 x 0.76 x 5 mm, degenerate discs. T1-T9 came out as
    # five bodies (pairs), 8 of 17 vertebrae found in place.
    ph, seg = segment_family_case("s1-0027")
    assert found_in_place(ph, seg) >= len(ph.truth.vertebrae) - 2
