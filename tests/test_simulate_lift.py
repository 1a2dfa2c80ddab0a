"""FE-solved elastic endplate lift under a pressurised cavity in a block."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.simulate import fe
from kypho.simulate.level import end_caps
from kypho.simulate.lift import cavity_pressure_load, elastic_lift


def _block(density=100.0):
    shape = (16, 14, 22)
    body = np.zeros(shape, dtype=bool)
    body[2:14, 2:12, 4:18] = True
    cavity = np.zeros(shape, dtype=bool)
    cavity[5:11, 4:10, 8:14] = True
    inf, sup = end_caps(body, 1.0)
    return np.where(body, density, 0.0), body, inf, sup, cavity


def test_pressure_load_is_self_equilibrated_and_pushes_outward():
    _, body, inf, sup, cavity = _block()
    solid = body & ~cavity
    mesh = fe.voxel_mesh(solid | inf | sup, 1.0)
    f = cavity_pressure_load(mesh, solid | inf | sup, cavity, 1.0)
    fz = f[2::3]
    assert np.allclose(f.reshape(-1, 3).sum(axis=0), 0.0, atol=1e-9)
    # the roof (6 x 6 faces of 1 mm2 at 1 MPa) is pushed up by 36 N
    assert fz[fz > 0].sum() == pytest.approx(36.0)


def test_lift_is_linear_in_pressure_and_smaller_in_denser_bone():
    dens, body, inf, sup, cavity = _block()
    one = elastic_lift(dens, body, body, inf, sup, cavity, 1.0, 1.0)
    two = elastic_lift(dens, body, body, inf, sup, cavity, 1.0, 2.0)
    dense = elastic_lift(dens * 2, body, body, inf, sup, cavity, 1.0, 1.0)
    assert one.cavity_opening_mm > one.lift_mm > 0
    assert two.lift_mm == pytest.approx(2 * one.lift_mm, rel=1e-3)
    assert dense.lift_mm < one.lift_mm
