"""A core of two vertebrae, or two pieces of one, counted as the anchors in view say."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.levels import assign_levels
from kypho.anatomy.engine.missing_levels import assign_across_gaps
from kypho.anatomy.engine.uneven_cores import doubled_cores, piece_pairs
from kypho.anatomy.levels import Level


def _column(z_mm: list[float], volumes_mm3: list[float]) -> list[Node]:
    return [
        Node(k + 1, np.array([0.0, 0.0, z]), z - 10.0, z + 10.0, v, 40.0)
        for k, (z, v) in enumerate(zip(z_mm, volumes_mm3, strict=True))
    ]


def test_a_core_twice_its_neighbours_size_is_a_doubled_candidate() -> None:
    z = [300.0, 275.0, 250.0, 212.0, 175.0, 150.0, 125.0]
    volumes = [20000.0, 21000.0, 22000.0, 45000.0, 23000.0, 24000.0, 25000.0]
    nodes = _column(z, volumes)
    assert doubled_cores(nodes, [True] * 7) == [3]
    # Cut by the field of view, its size says nothing.
    assert doubled_cores(nodes, [True, True, True, False, True, True, True]) == []


def test_lumbar_bodies_growing_caudally_are_not_doubled() -> None:
    z = [300.0, 270.0, 238.0, 204.0, 168.0, 130.0]
    volumes = [18000.0, 21000.0, 24000.0, 27000.0, 30000.0, 33000.0]
    assert doubled_cores(_column(z, volumes), [True] * 6) == []


def test_a_small_core_close_to_its_neighbour_is_a_piece_but_a_crushed_body_is_not() -> None:
    z = [300.0, 275.0, 250.0, 238.0, 212.0, 187.0, 162.0]  # 250 / 238: one body cut
    volumes = [20000.0, 20000.0, 8000.0, 9000.0, 20000.0, 20000.0, 20000.0]
    assert piece_pairs(_column(z, volumes), [True] * 7) == [2]
    # A crushed body keeps more than half its volume and its own pitch.
    z = [300.0, 275.0, 250.0, 228.0, 206.0, 181.0, 156.0]
    volumes = [20000.0, 20000.0, 20000.0, 11000.0, 20000.0, 20000.0, 20000.0]
    assert piece_pairs(_column(z, volumes), [True] * 7) == []


def _whole_spine_ribs(found: list[str]) -> list[int]:
    """Indices of the found vertebrae that bear ribs (any name starting with T)."""
    return [i for i, name in enumerate(found) if name.startswith("T")]


def test_a_doubled_core_is_counted_as_two_when_first_rib_and_sacrum_then_agree() -> None:
    found = ["C7", "T1", "T2", "T3", "T4", "T5", "T6", "T7+T8", "T9", "T10", "T11", "T12",
             "L1", "L2", "L3", "L4", "L5"]  # fmt: skip
    kwargs = {"on_sacrum": True, "rib_indices": _whole_spine_ribs(found)}
    plain = assign_levels(len(found), **kwargs)
    assert plain.levels[-1] is not Level.L5 or plain.levels[1] is not Level.T1
    counted = assign_across_gaps(len(found), [], doubled=[7], **kwargs)
    assert counted.levels[1] is Level.T1
    assert counted.levels[7] is Level.T7
    assert counted.levels[8] is Level.T9
    assert counted.levels[11] is Level.T12
    assert counted.levels[-1] is Level.L5
    assert any("twice its neighbours' size" in w and "T7 and T8" in w for w in counted.warnings)


def test_a_doubled_core_with_one_anchor_in_view_leaves_the_count_alone() -> None:
    kwargs = {"on_sacrum": True, "rib_indices": []}
    plain = assign_levels(5, **kwargs)
    assert assign_across_gaps(5, [], doubled=[2], **kwargs) == plain


def test_a_doubled_core_the_anchors_contradict_is_not_counted() -> None:
    # T12 with its rib above L1-L5 on the sacrum: both anchors agree already.
    kwargs = {"on_sacrum": True, "rib_indices": [0]}
    plain = assign_levels(6, **kwargs)
    assert assign_across_gaps(6, [], doubled=[3], **kwargs) == plain


def test_two_pieces_share_one_level_when_the_anchors_then_agree() -> None:
    found = ["C7", "T1", "T2", "T3", "T4", "T5", "T6", "T7a", "T7b", "T8", "T9", "T10",
             "T11", "T12", "L1", "L2", "L3", "L4", "L5"]  # fmt: skip
    kwargs = {"on_sacrum": True, "rib_indices": _whole_spine_ribs(found)}
    counted = assign_across_gaps(len(found), [], joined=[7], **kwargs)
    assert counted.levels[7] is Level.T7 and counted.levels[8] is Level.T7
    assert counted.levels[9] is Level.T8
    assert counted.levels[13] is Level.T12
    assert counted.levels[-1] is Level.L5
    assert any("two pieces" in w and "T7" in w for w in counted.warnings)


def test_one_anchor_read_past_on_purpose_does_not_test_a_doubled_core() -> None:
    # Six rib-free vertebrae below the last rib, no sacrum: the naming reads that rib as
    # T11 on purpose, which "disagrees" with a last rib = T12; counting a doubled core
    # as two would make seven rib-free and "agree" (family s2-0031).
    kwargs = {"on_sacrum": False, "rib_indices": [0]}
    plain = assign_levels(7, **kwargs)
    assert plain.levels[0] is Level.T11
    assert assign_across_gaps(7, [], doubled=[3], **kwargs) == plain
