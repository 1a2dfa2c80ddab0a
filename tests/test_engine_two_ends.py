"""A whole spine is counted from both ends: the first rib (T1, under a rib-free C7) and
the sacrum (kypho.anatomy.engine.two_ends).

The count of vertebrae between them, with the rib count, tells the transitional variants
apart that one end alone cannot: 13 rib pairs over four lumbar vertebrae read from the
sacrum alone as a sacralised L5 under T12 and named every vertebra above one level off
(independent phantom ind-1-0029: 0 of 19 identified).
"""

from __future__ import annotations

import pytest

from kypho.anatomy.engine.levels import assign_levels
from kypho.anatomy.engine.two_ends import AGREED_CONFIDENCE, USUAL_T1_TO_SACRUM
from kypho.anatomy.levels import Level


def _spine(span: int, rib_pairs: int, cervical: int = 2) -> tuple[int, list[int]]:
    """``cervical`` rib-free vertebrae, then ``span`` vertebrae from T1 to the one on the
    sacrum, the first ``rib_pairs`` of them rib-bearing."""
    n = cervical + span
    return n, list(range(cervical, cervical + rib_pairs))


def _names(levels: list[Level | None]) -> list[str]:
    return [lv.display if lv else "-" for lv in levels]


def test_the_usual_spine_agrees_at_both_ends() -> None:
    n, ribs = _spine(USUAL_T1_TO_SACRUM, 12)
    out = assign_levels(n, on_sacrum=True, rib_indices=ribs)
    assert _names(out.levels)[:3] == ["C6", "C7", "T1"]
    assert out.levels[-1] is Level.L5 and out.levels[ribs[-1]] is Level.T12
    assert out.confidence == AGREED_CONFIDENCE


def test_thirteen_rib_pairs_over_four_lumbar_vertebrae_are_t13_not_a_sacralised_l5() -> None:
    n, ribs = _spine(USUAL_T1_TO_SACRUM, 13)
    out = assign_levels(n, on_sacrum=True, rib_indices=ribs)
    names = _names(out.levels)
    assert names[2] == "T1" and names[13] == "T12"  # every thoracic level as counted from T1
    assert names[14] == "T13" and names[15:] == ["L1", "L2", "L3", "L4"]
    assert 0.5 <= out.confidence < AGREED_CONFIDENCE
    assert any("13 rib pairs" in w for w in out.warnings)


@pytest.mark.parametrize(
    ("span", "pairs", "lowest", "lowest_rib"),
    [
        (17, 11, Level.L5, Level.T11),
        (18, 12, Level.L6, Level.T12),
        (18, 13, Level.L5, Level.T13),
        (16, 12, Level.L4, Level.T12),
    ],
)
def test_the_variants_one_end_cannot_tell(
    span: int, pairs: int, lowest: Level, lowest_rib: Level
) -> None:
    n, ribs = _spine(span, pairs)
    out = assign_levels(n, on_sacrum=True, rib_indices=ribs)
    assert out.levels[2] is Level.T1
    assert out.levels[-1] is lowest
    assert out.levels[ribs[-1]] is lowest_rib
    assert out.warnings
    if span != USUAL_T1_TO_SACRUM:
        # A first rib missed reads the same way: no such count is named at >= 0.5.
        assert out.confidence < 0.5


def test_a_count_no_variant_explains_falls_back_to_the_sacrum() -> None:
    # Two vertebrae lost between T1 and the sacrum: no spine has 15; the sacrum count is
    # kept, with its warning that a vertebra was missed, and a low confidence.
    n, ribs = _spine(15, 12)
    out = assign_levels(n, on_sacrum=True, rib_indices=ribs)
    assert out.levels[-1] is Level.L5
    assert out.confidence < 0.5


def test_without_a_rib_free_vertebra_above_the_first_rib_it_may_not_be_t1() -> None:
    # Twelve rib-bearing vertebrae from the image's top edge: the first may be T2 under
    # a T1 out of view (13 pairs, four lumbar) as well as T1 over a sacralised L5.
    n, ribs = _spine(16, 12, cervical=0)
    out = assign_levels(n, on_sacrum=True, rib_indices=ribs)
    assert Level.T13 not in out.levels
    assert out.confidence < 0.5


def test_thirteen_rib_bearing_vertebrae_from_the_top_edge_start_at_t1() -> None:
    # No vertebra above T1 bears a rib and no spine has 14 pairs, so the first of 13 is
    # T1 although no rib-free C7 is seen above it (independent phantom ind-1-0000: T1 at
    # the top edge and a rib on L1; counted from the last rib, T1 was named C7 and
    # every level one off).
    n, ribs = _spine(USUAL_T1_TO_SACRUM, 13, cervical=0)
    out = assign_levels(n, on_sacrum=True, rib_indices=ribs)
    assert out.levels[0] is Level.T1 and out.levels[11] is Level.T12
    assert out.levels[12] is Level.T13 and out.levels[-1] is Level.L4
    # Which name the thirteenth takes is a convention: not named above 0.45.
    assert out.confidence_of(Level.T13) <= 0.45
