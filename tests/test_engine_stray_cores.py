"""A small piece of bone beside the column is not counted as a vertebra."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.stray_cores import OFF_LINE_MM, stray_cores


def _node(label: int, y: float, z: float, volume_ml: float) -> Node:
    return Node(label, np.array([150.0, y, z]), z - 12.0, z + 12.0, volume_ml * 1e3, 45.0)


def test_piece_behind_the_column_is_stray():
    # Family s2-0029's chain: a 6 mL core ~29 mm behind the line of 30-40 mL bodies.
    chain = [
        _node(1, 175.0, 181.0, 28.7),
        _node(2, 168.0, 144.0, 39.9),
        _node(3, 136.0, 125.0, 6.0),
        _node(4, 162.0, 107.0, 29.6),
        _node(5, 165.0, 70.0, 30.0),
    ]
    assert stray_cores(chain) == [2]


def test_crushed_or_slipped_bodies_stay_in_the_count():
    chain = [
        _node(1, 170.0, 180.0, 30.0),
        _node(2, 170.0, 150.0, 12.0),  # crushed to 40 %, on the line
        _node(3, 170.0 + 0.9 * OFF_LINE_MM, 120.0, 31.0),  # slipped, a whole body
        _node(4, 170.0, 90.0, 32.0),
    ]
    assert stray_cores(chain) == []


def test_two_pieces_side_by_side_are_both_stray():
    # ind-1-0008: an arch cut in two pieces behind L2; each lay near the line through
    # the other, and the one left in the count named every level one off.
    chain = [
        _node(1, 166.0, 264.0, 17.6),
        _node(2, 170.0, 229.0, 9.1),
        _node(3, 143.0, 229.0, 0.4),
        _node(4, 120.0, 212.0, 0.8),
        _node(5, 171.0, 194.0, 15.2),
        _node(6, 178.0, 159.0, 19.4),
    ]
    assert stray_cores(chain) == [2, 3]
