"""Ribs that enter the image through its top edge are told apart from ribs seen whole."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.ribs_sacrum import axis_distance_mm, rib_bearing
from tests.rib_column import SHAPE, SPACING, upright_column


def _column() -> tuple[np.ndarray, np.ndarray, list[Node]]:
    """Three bodies 36 mm apart on the mid-line, their cores labelled 1-3."""
    return upright_column((96.0, 60.0, 24.0), 12.0)


def _rib(filled: np.ndarray, z_top: int, z_bottom: int) -> None:
    """A 4 x 4 mm rib leaving the column to the right and sloping down from z_top."""
    xs = np.arange(58, 96)
    zs = np.round(np.linspace(z_top, z_bottom, xs.size)).astype(int)
    for x, z in zip(xs, zs, strict=True):
        filled[x, 30:32, max(z - 1, 0) : z + 1] = True


def test_a_rib_cut_by_the_top_edge_is_marked_and_a_whole_one_is_not() -> None:
    filled, cores, nodes = _column()
    axis = axis_distance_mm(SHAPE, SPACING, nodes)
    # Whole: its head beside the top body, well below the image's top edge.
    _rib(filled, 52, 40)
    whole = rib_bearing(filled, cores, axis, SPACING, nodes)
    assert whole.indices == [0] and whole.cranial_edge == []
    # Cut: the same rib raised until its head leaves the image (the 12th rib of a
    # vertebra above, sloping down beside the first one in view).
    filled, cores, nodes = _column()
    _rib(filled, 62, 50)
    cut = rib_bearing(filled, cores, axis, SPACING, nodes)
    assert cut.indices == [0] and cut.cranial_edge == [0]
