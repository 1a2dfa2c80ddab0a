"""Adjacent-body stress: a stack of two boxes and a disc, before and after central cement."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.simulate.adjacent import ADJACENT_LOAD_N, adjacent_stress


def _stack(h=1.0):
    shape = (16, 16, 36)
    treated = np.zeros(shape, dtype=bool)
    neighbour = np.zeros(shape, dtype=bool)
    treated[2:14, 2:14, 5:15] = True
    neighbour[2:14, 2:14, 18:28] = True  # a 3 mm disc between them
    density = np.where(treated | neighbour, 120.0, -1000.0)
    cement = np.zeros(shape, dtype=bool)
    cement[5:11, 5:11, 6:14] = True  # a central cement column
    return density, treated, neighbour, cement, h


def test_uniform_stack_carries_the_load_as_mean_stress():
    density, treated, neighbour, cement, h = _stack()
    res = adjacent_stress(density, treated, neighbour, cement, h)
    area = 12 * 12 * h * h
    # the endplate layer of a prismatic stack is in (nearly) uniaxial compression F/A
    assert res.mean_pre_mpa == pytest.approx(ADJACENT_LOAD_N / area, rel=0.1)
    # equilibrium: the same load crosses the layer after augmentation
    assert res.mean_post_mpa == pytest.approx(ADJACENT_LOAD_N / area, rel=0.1)
    # a disc ~30 times softer than the bone spreads the load: central cement barely
    # changes the neighbour's stress (the model's behaviour, DOMAIN.md §5.5 context)
    assert abs(res.mean_change_pct) < 5 and abs(res.peak_change_pct) < 10


def test_no_facing_neighbour_is_refused():
    density, treated, neighbour, cement, h = _stack()
    neighbour[:] = False
    neighbour[2:14, 2:14, 30:32] = False
    with pytest.raises(ValueError, match="does not face"):
        adjacent_stress(density, treated, neighbour, cement, h)
