"""A vertebra lost between two found bodies is counted as a level when naming."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.levels import assign_levels
from kypho.anatomy.engine.missing_levels import assign_across_gaps, missing_after
from kypho.anatomy.levels import Level


def _column(
    z_mm: list[float], volumes_mm3: list[float] | None = None, half_height_mm: float = 10.0
) -> list[Node]:
    volumes = volumes_mm3 or [20000.0] * len(z_mm)
    return [
        Node(k + 1, np.array([0.0, 0.0, z]), z - half_height_mm, z + half_height_mm, v, 40.0)
        for k, (z, v) in enumerate(zip(z_mm, volumes, strict=True))
    ]


def test_a_step_of_two_pitches_between_whole_bodies_is_a_lost_vertebra() -> None:
    z = [300.0, 270.0, 240.0, 180.0, 150.0, 120.0]  # 240 -> 180: one body missing
    assert missing_after(_column(z)) == [2]


def test_a_shorter_step_with_a_body_s_room_between_its_cores_lost_a_crushed_one() -> None:
    # 240 -> 195 is 1.5 pitches (a crushed body and its second disc): 25 mm between the
    # cores where the other steps leave 10.
    z = [300.0, 270.0, 240.0, 195.0, 165.0, 135.0]
    assert missing_after(_column(z)) == [2]
    # The same step between cores that leave only a disc's room (11 mm; tall bodies
    # whose cores overlap elsewhere) lost nothing.
    assert missing_after(_column(z, half_height_mm=17.0)) == []


def test_regular_pitches_and_a_lengthened_junction_lose_nothing() -> None:
    z = [300.0, 272.0, 243.0, 205.0, 173.0, 141.0]  # the longest step 1.3x the others
    assert missing_after(_column(z)) == []


def test_the_long_steps_beside_two_merged_vertebrae_are_not_a_lost_one() -> None:
    # Two vertebrae in one label: its centroid sits between theirs, its volume is double.
    z = [300.0, 270.0, 240.0, 195.0, 150.0, 120.0]
    volumes = [20000.0, 20000.0, 20000.0, 40000.0, 20000.0, 20000.0]
    assert missing_after(_column(z, volumes)) == []


def test_counting_the_lost_vertebra_makes_sacrum_and_last_rib_agree() -> None:
    # Found: T11, T12, L1, (L2 lost), L3, L4, L5 on the sacrum; ribs on T11 and T12.
    kwargs = {"on_sacrum": True, "rib_indices": [0, 1]}
    plain = assign_levels(6, **kwargs)
    # Four found vertebrae between the last rib and the sacrum read as a sacralised L5.
    assert plain.levels[-1] is Level.L4
    assert plain.confidence < 0.5
    counted = assign_across_gaps(6, [2], **kwargs)
    assert counted.levels == [Level.T11, Level.T12, Level.L1, Level.L3, Level.L4, Level.L5]
    assert counted.confidence > 0.9
    assert any("L1 and L3" in w and "(counted as L2)" in w for w in counted.warnings)
    assert len(counted.evidence) == 6


def test_no_gap_leaves_the_count_as_it_was() -> None:
    kwargs = {"on_sacrum": True, "rib_indices": [0, 1]}
    assert assign_across_gaps(6, [], **kwargs) == assign_levels(6, **kwargs)


def test_a_long_step_the_anchors_contradict_is_not_counted() -> None:
    # Sacrum and last rib agree without a lost vertebra (T12 ... L5): a long step of a
    # curved column is not a vertebra, whatever its length.
    kwargs = {"on_sacrum": True, "rib_indices": [0]}
    assert assign_across_gaps(6, [2], **kwargs) == assign_levels(6, **kwargs)


def test_with_no_anchor_in_view_the_gap_cannot_be_tested_and_is_not_counted() -> None:
    kwargs = {"on_sacrum": False, "rib_indices": []}
    assert assign_across_gaps(5, [1], **kwargs) == assign_levels(5, **kwargs)


def test_a_floating_rib_the_names_are_counted_from_tests_the_gap() -> None:
    # ind-1-0009: a chest without first rib or rib-free vertebra below; the lowest whole
    # rib stops short in the flank (a 12th) and names are counted from it. T7, crushed,
    # was not found: counted, the names above it are right.
    n = 9  # T4 T5 T6 (T7 lost) T8 T9 T10 T11 T12, then L1 cut by the view
    reach = {0: 90.0, 1: 92.0, 2: 91.0, 3: 90.0, 4: 88.0, 5: 85.0, 6: 60.0, 7: 20.0}
    kwargs = {
        "on_sacrum": False,
        "rib_indices": list(range(8)),
        "seen_whole": [True] * 8 + [False],
        "rib_reach_mm": reach,
    }
    plain = assign_levels(n, **kwargs)
    assert plain.levels[7] is Level.T12 and plain.levels[0] is Level.T5
    counted = assign_across_gaps(n, [2], **kwargs)
    assert counted.levels[7] is Level.T12
    assert counted.levels[:4] == [Level.T4, Level.T5, Level.T6, Level.T8]


def test_anchors_that_cannot_tell_leave_the_gap_to_the_geometry() -> None:
    # Ribs from the top of the view to T12, sacrum below: 11 rib-bearing vertebrae in
    # view with T1 above the view, or 12 with one lost among them; both counts agree
    # with the sacrum and the last rib, and the step between the bodies says which.
    kwargs = {"on_sacrum": True, "rib_indices": list(range(11))}
    counted = assign_across_gaps(16, [7], **kwargs)
    assert counted.levels[0] is Level.T1
    assert counted.levels[8] is Level.T10
    assert counted.levels[-1] is Level.L5


def test_a_step_of_three_pitches_has_lost_two_vertebrae() -> None:
    # ind-1-0036: two bodies not found, a step 2.8 times the steps beside it. Here
    # T10-T12 with ribs and L3-L5 on the sacrum: sacrum and last rib agree only when
    # both lost vertebrae are counted.
    z = [330.0, 305.0, 280.0, 196.0, 163.0, 128.0]
    assert missing_after(_column(z)) == [2, 2]
    kwargs = {"on_sacrum": True, "rib_indices": [0, 1, 2]}
    counted = assign_across_gaps(6, [2, 2], **kwargs)
    assert counted.levels == [Level.T10, Level.T11, Level.T12, Level.L3, Level.L4, Level.L5]
    assert counted.confidence > 0.9
    assert any("(counted as L1, L2)" in w for w in counted.warnings)


def test_a_step_longer_than_four_pitches_and_a_half_is_no_gap_in_one_column() -> None:
    z = [400.0, 375.0, 350.0, 200.0, 175.0, 150.0]  # 150 mm: six pitches
    assert missing_after(_column(z)) == []
