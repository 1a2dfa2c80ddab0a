"""A middle height short only in the middle (a Schmorl's node) is no biconcave grade."""

from __future__ import annotations

import math

from kypho.measure.focal_pit import focal_pit
from kypho.measure.plausibility import Gate
from kypho.model import GenantGrade, Heights, Morphotype

BICONCAVE = Morphotype.BICONCAVE


def test_a_node_in_a_healthy_body_is_withdrawn() -> None:
    # Family s1-0026 T11 (normal, a superior Schmorl's node): Hm 17.9 mm, 5.4 mm short
    # of what Hp implies; beside the slab the body is 23.9 mm tall.
    h = Heights(23.0, 17.9, 23.3)
    out = focal_pit(h, None, GenantGrade.MILD, BICONCAVE, 23.9)
    assert out is not None and out.gate is Gate.MORPHOTYPE
    assert "17.9" in out.reason and "23.9" in out.reason and "width" in out.reason


def test_a_fracture_that_also_holds_a_node_stands() -> None:
    # s1-0062 T6: a 37 % biconcave fracture with a node; Hm 6.2 mm of 17.0 implied, and
    # 14.7 mm beside the slab (13 % short there too).
    h = Heights(16.5, 6.2, 17.0)
    assert focal_pit(h, None, GenantGrade.SEVERE, BICONCAVE, 14.7) is None


def test_a_bowl_shaped_endplate_stands() -> None:
    # A codfish body: 6 mm short in the middle, 4.5 mm short beside the slab.
    h = Heights(24.0, 18.0, 24.0)
    assert focal_pit(h, None, GenantGrade.MODERATE, BICONCAVE, 19.5) is None


def test_a_bowl_read_tall_beside_the_slab_stands_and_a_node_does_not() -> None:
    # Family s1-0080 L2 (a 22 % biconcave fracture, <= 1 mm slices): Hm 5.4 mm short of
    # what its Hp implies, 3.5 mm (0.65 of that) back beside the slab: a bowl whose side
    # reads tall, not a pit. s1-0019 T3 (normal, a Schmorl's node at 5 mm slices): 0.76
    # of its 5.0 mm back beside the slab, 7 % short there.
    h = Heights(24.0, 17.8, 23.2)
    assert focal_pit(h, None, GenantGrade.MILD, BICONCAVE, 21.3) is None
    h = Heights(16.0, 11.4, 16.4)
    out = focal_pit(h, None, GenantGrade.MODERATE, BICONCAVE, 15.2)
    assert out is not None and out.gate is Gate.MORPHOTYPE


def test_other_morphotypes_and_unread_sides_are_left_alone() -> None:
    h = Heights(17.0, 22.0, 24.0)
    assert focal_pit(h, None, GenantGrade.MODERATE, Morphotype.WEDGE, 24.0) is None
    h = Heights(23.0, 17.9, 23.3)
    assert focal_pit(h, None, GenantGrade.MILD, BICONCAVE, math.nan) is None
    assert focal_pit(h, None, GenantGrade.NORMAL, BICONCAVE, 23.9) is None


def test_the_expected_shape_sets_the_middle_height_implied() -> None:
    # Neighbours with a middle height 5 % below their posterior one: Hm is held to that.
    h = Heights(23.0, 17.9, 23.3)
    expected = Heights(24.0, 22.8, 24.0)
    out = focal_pit(h, expected, GenantGrade.MILD, BICONCAVE, 22.5)
    assert out is not None and "4.2 mm short" in out.reason


def test_more_shortening_than_nodes_make_stands() -> None:
    # s1-0028 L1: a 55 % biconcave fracture at 5 mm slices, 10.0 mm short in the middle
    # and 21.5 mm beside the slab.
    h = Heights(22.0, 12.9, 22.9)
    assert focal_pit(h, None, GenantGrade.SEVERE, BICONCAVE, 21.5) is None
