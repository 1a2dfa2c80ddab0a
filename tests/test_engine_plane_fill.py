"""Filling each plane's holes by one labelling pass gives scipy's iterative fill exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kypho.anatomy.engine.plane_fill import _plane_struct, fill_in_planes


@pytest.mark.parametrize("density", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_plane_fill_matches_scipy(density: float, axis: int) -> None:
    rng = np.random.default_rng(int(density * 10) + axis)
    mask = ndimage.binary_opening(rng.random((30, 40, 25)) < density)
    expected = ndimage.binary_fill_holes(mask, structure=_plane_struct(axis))
    assert np.array_equal(fill_in_planes(mask, axis), expected)


def test_a_ring_in_one_plane_is_filled_only_in_that_plane() -> None:
    mask = np.zeros((9, 12, 12), dtype=bool)
    mask[4, 2:10, 2:10] = True
    mask[4, 4:8, 4:8] = False  # a square ring in the sagittal plane x = 4
    filled = fill_in_planes(mask, 0)
    assert filled[4, 4:8, 4:8].all()
    assert not fill_in_planes(mask, 1)[4, 4:8, 4:8].any()
