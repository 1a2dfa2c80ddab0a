"""Counting a chest without its first or last rib: the floating ribs and the ribs that
reach the front.

Ribs 1-10 curve on to the front of the chest, the last two pairs stop in the flank, the
12th shortest. When neither the first rib (T1), a rib-free vertebra below the last rib
nor the sacrum is in view, the lowest rib seen whole is read by its reach: short on the
last rib-bearing vertebra, T12; shortened, T11. A rib curving on to the front is T10 or
higher, and the highest rib T1 or lower: the count is then only bounded, and the guess is
the middle of the range it allows, which the warning gives. Before, every such chest was
counted up from T12 at its lowest vertebra (family phantoms: chests ending at T10 or T11
named two or one levels low, 0 of 8-10 vertebrae identified), then from T10 at its
lowest long rib (one end of the range).
"""

from __future__ import annotations

import numpy as np
import pytest

from kypho.anatomy.engine import segment_spine
from kypho.anatomy.engine.levels import FLOATING_CONFIDENCE, assign_levels
from kypho.anatomy.engine.rib_reach import thoracic_bases
from kypho.anatomy.levels import STANDARD_ORDER, Level
from kypho.model import LevelInfo
from kypho.phantom import PhantomConfig, generate

#: Nine rib-bearing vertebrae, none of them an anchor (the ribs reach the image's lower
#: edge, no rib-free vertebra is seen).
N = 9


def _names(levels: list[Level | None]) -> list[str]:
    return [lv.display if lv else "-" for lv in levels]


def test_a_short_last_rib_is_t12() -> None:
    reach = {i: 110.0 + i for i in range(8)} | {8: 30.0}
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(N)), rib_reach_mm=reach)
    assert out.levels[-1] is Level.T12
    assert out.confidence == FLOATING_CONFIDENCE < 0.5
    assert any("stop in the flank" in w for w in out.warnings)


def test_a_shortened_rib_is_t11() -> None:
    reach = {i: 110.0 for i in range(7)} | {7: 77.0}  # the lowest rib cut by the image
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(N)), rib_reach_mm=reach)
    assert out.levels[7] is Level.T11 and out.levels[-1] is Level.T12
    assert out.confidence == FLOATING_CONFIDENCE


def test_an_eleventh_rib_at_the_low_end_of_its_range_is_t11() -> None:
    # Family 11th ribs reach 0.55-1.0 of the ribs above, 12th ribs 0.2-0.45: an 11th at
    # 0.59 (family s3-0029) is no 12th.
    reach = {i: 115.0 for i in range(8)} | {8: 68.0}
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(N)), rib_reach_mm=reach)
    assert out.levels[-1] is Level.T11


def test_a_long_rib_above_cut_ones_bounds_the_guess() -> None:
    # Vertebra 6's rib reaches the front: it is T10 or higher, and the highest rib is T1
    # or lower, so the highest vertebra is T1-T4. The middle (T3, the lower of the two
    # middles, nearer the rib evidence) is taken at a guess's confidence; before, the
    # extreme T4 was (family chests: 0 of 8-10 identified when the top was T3).
    reach = {i: 110.0 - 2 * i for i in range(7)}  # 7 and 8: ribs cut by the image
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(N)), rib_reach_mm=reach)
    assert _names(out.levels) == ["T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11"]
    assert out.confidence <= 0.2
    assert any("T10 or" in w and "allows T1-T4" in w for w in out.warnings)


def test_a_short_rib_with_ribs_below_it_is_no_evidence() -> None:
    reach = {i: 110.0 for i in range(7)} | {7: 30.0}  # 8 bears a rib, cut by the image
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(N)), rib_reach_mm=reach)
    assert not any("floating" in w for w in out.warnings)
    assert out.levels[-1] in (Level.T11, Level.T12) and out.confidence <= 0.2


def test_without_whole_ribs_the_guess_is_the_middle_of_t1_t12() -> None:
    # Nine rib-bearing vertebrae, both ends cut: the highest is T1-T4; the middle, T3.
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(N)), rib_reach_mm={0: 100.0})
    assert out.levels[0] is Level.T3 and out.levels[-1] is Level.T11
    assert out.confidence <= 0.2
    assert any("allows T1-T4" in w for w in out.warnings)


def test_a_guess_never_puts_a_rib_on_c7() -> None:
    # Twelve rib-bearing vertebrae in view, the lowest rib cut by the image, the one
    # above it long: read alone it would be T10 and the highest rib C7 (family s1-0019,
    # T1-T12 named C7-T11). Only T1-T12 bear ribs, so the highest is T1.
    # The thirteenth vertebra, cut by the image's lower edge, may bear a rib out of view.
    reach = {i: 110.0 - i for i in range(11)}
    seen = [True] * 12 + [False]
    out = assign_levels(
        13, on_sacrum=False, rib_indices=list(range(12)), rib_reach_mm=reach, seen_whole=seen
    )
    assert out.levels[0] is Level.T1 and out.levels[11] is Level.T12
    assert out.confidence <= 0.2
    assert any("cervical vertebra" in w for w in out.warnings)


def test_a_guess_never_puts_a_rib_on_l1() -> None:
    # A shortened rib read as T11 with two rib-bearing vertebrae below it (their ribs
    # cut by the image) would make the lowest rib L1: it is kept at T12.
    reach = {i: 110.0 for i in range(6)} | {6: 77.0}
    out = assign_levels(9, on_sacrum=False, rib_indices=list(range(9)), rib_reach_mm=reach)
    assert out.levels[8] is Level.T12 and out.levels[6] is Level.T10
    assert any("lumbar vertebra" in w for w in out.warnings)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [(0, 11, (7, 7)), (2, 5, (5, 13)), (0, 3, (7, 15)), (1, 12, (6, 6)), (0, 13, None)],
)
def test_thoracic_bases(first: int, last: int, expected: tuple[int, int] | None) -> None:
    # STANDARD_ORDER: C1 at 0, T1 at 7, T12 at 18. Twelve ribs from vertebra 0 allow one
    # count (vertebra 0 = T1); fourteen allow none.
    assert thoracic_bases(first, last, STANDARD_ORDER) == expected


def test_anchors_in_view_outrank_the_rib_reach() -> None:
    # A rib-free vertebra below the last rib: the last rib is T12 whatever the reach.
    reach = {i: 110.0 for i in range(6)}
    out = assign_levels(N, on_sacrum=False, rib_indices=list(range(7)), rib_reach_mm=reach)
    assert out.levels[6] is Level.T12


def test_a_last_rib_that_reaches_the_front_is_no_twelfth() -> None:
    # Ribs found on vertebrae 0-6 only, six rib-free ones below. The lowest rib seen
    # whole reaches the front like those above it (family s2-0033, a curved chest whose
    # 11th and 12th ribs were missed: every level named two low, at 0.45). Ribs 1-10
    # reach the front, so it is T10 at the lowest, counted at a guess's confidence.
    reach = {1: 126.0, 2: 124.0, 3: 122.0, 4: 88.0, 5: 103.0, 6: 108.0}
    out = assign_levels(13, on_sacrum=False, rib_indices=list(range(7)), rib_reach_mm=reach)
    assert out.levels[6] is Level.T10 and out.levels[0] is Level.T4
    assert out.levels[-1] is Level.L4
    assert out.confidence == FLOATING_CONFIDENCE
    assert any("reaches round to the front" in w for w in out.warnings)
    # The same column whose lowest rib stops short in the flank is counted from T12
    # (five rib-free vertebrae below it; six would make it T11, as tested below).
    out = assign_levels(
        12, on_sacrum=False, rib_indices=list(range(7)), rib_reach_mm=reach | {6: 35.0}
    )
    assert out.levels[6] is Level.T12


def _chest_phantom(bottom: str) -> tuple[dict[int, np.ndarray], list[LevelInfo], list[str]]:
    # T4 to T11 or T12 at 1.2 x 1.2 x 2 mm: no first rib, no rib-free vertebra below.
    ph = generate(
        PhantomConfig(
            seed=7, top="T4", bottom=bottom, include_sacrum=False, spacing_mm=(1.2, 1.2, 2.0)
        )
    )
    seg = segment_spine(ph.volume)
    truth = {int(t.level): np.asarray(t.centroid_ras_mm) for t in ph.truth.vertebrae}
    return truth, [i for i in seg.levels if i.level is not Level.S], seg.warnings


def test_chest_phantom_with_its_floating_ribs_is_counted_from_them() -> None:
    truth, found, _ = _chest_phantom("T12")
    assert [i.level.display for i in found][-1] == "T12"
    for info in found:
        ref = truth.get(int(info.level))
        assert ref is not None, info.level.display
        assert np.linalg.norm(np.subtract(info.centroid_ras_mm, ref)) < 20.0
        assert info.confidence < 0.5


def test_chest_phantom_without_anchors_is_a_guess_that_says_its_range() -> None:
    # Down to T11, whose rib the image cuts: only T10's long rib and the rule that the
    # highest rib is T1 or lower bound the count. The top vertebra, T4, is at one end
    # of the T1-T4 range the warning gives; the guess (its middle) is one level off,
    # consecutive, and at a guess's confidence.
    truth, found, warnings = _chest_phantom("T11")
    assert any("allows T1-T4 for the highest vertebra" in w for w in warnings)
    assert all(i.confidence <= 0.2 for i in found)
    tops = sorted(truth, key=lambda k: -truth[k][2])
    # Each vertebra found lies at its truth position one level down the list.
    for info in found:
        ref = truth[int(info.level) + 1]
        assert np.linalg.norm(np.subtract(info.centroid_ras_mm, ref)) < 20.0
    assert int(found[0].level) + 1 == tops[0]


def test_six_rib_free_vertebrae_below_the_last_rib_are_five_lumbar_and_t12() -> None:
    # Family s1-0011 (11 rib pairs, T9-L5, no sacrum in view): three rib-bearing
    # vertebrae and six below them. Counted from the last rib as T12 the sixth was L6
    # and every name one level high; five lumbar vertebrae below a rib-free T12 is the
    # commoner anatomy, and the L6 reading is said.
    out = assign_levels(9, on_sacrum=False, rib_indices=[0, 1, 2])
    assert _names(out.levels) == ["T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    assert out.confidence < 0.5
    assert any("11 rib pairs" in w and "L6" in w for w in out.warnings)
    # Its length does not decide: the last of 11 pairs is as short as a 12th (family
    # s2-0020: reach 100, 100, 65 and 28 mm on the last four rib-bearing vertebrae).
    short = assign_levels(
        11,
        on_sacrum=False,
        rib_indices=list(range(5)),
        rib_reach_mm={1: 99.0, 2: 100.0, 3: 65.0, 4: 28.0},
    )
    assert short.levels[4] is Level.T11 and short.levels[-1] is Level.L5
    # Seven rib-free ones fit no anatomy (a body split, or ribs missed): counted from
    # T12 to L6 as before, the seventh left unnamed.
    seven = assign_levels(10, on_sacrum=False, rib_indices=[0, 1, 2])
    assert seven.levels[2] is Level.T12 and seven.levels[8] is Level.L6
    # Five rib-free vertebrae below the last rib: it is T12, as before.
    five = assign_levels(8, on_sacrum=False, rib_indices=[0, 1, 2])
    assert _names(five.levels)[-1] == "L5" and five.levels[2] is Level.T12
    assert not any("six rib-free" in w for w in five.warnings)


def test_a_rib_entering_at_the_top_edge_does_not_overrule_the_sacrum() -> None:
    # Family s3-0030 (L1-L5 on the sacrum): T12's rib slopes down into the first slices
    # beside L1 and was read as L1's, so the five were "T12, L1-L4 on a sacralised L5".
    # A rib cut by the image's top edge may be the vertebra above's: the sacrum counts.
    out = assign_levels(5, on_sacrum=True, rib_indices=[0], cranial_edge_ribs=[0])
    assert _names(out.levels) == ["L1", "L2", "L3", "L4", "L5"]
    assert out.confidence < 0.5
    assert any("top edge beside L1" in w for w in out.warnings)
    # The same rib seen whole on the top vertebra keeps the rib count.
    whole = assign_levels(5, on_sacrum=True, rib_indices=[0])
    assert _names(whole.levels) == ["T12", "L1", "L2", "L3", "L4"]
    # Without the sacrum the edge rib is still the only anchor there is.
    alone = assign_levels(6, on_sacrum=False, rib_indices=[0], cranial_edge_ribs=[0])
    assert alone.levels[0] is Level.T12
