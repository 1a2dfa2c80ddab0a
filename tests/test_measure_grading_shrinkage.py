"""Expected (pre-fracture) shape of a fractured vertebra from noisy and precise neighbours."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.levels import Level
from kypho.measure.grading import grade_spine
from kypho.measure.norms import NORMAL_HA_HP, NORMAL_HM_HP, normal_hp_mm
from kypho.model import Heights

LEVELS = [Level(v) for v in range(Level.T8, Level.L5 + 1)]
FRACTURED = Level.T12


def _normal_spine(shape_scale: np.ndarray) -> list[Heights]:
    """Normal heights at every level, Ha/Hp scaled per level by ``shape_scale``."""
    out = []
    for lv, s in zip(LEVELS, shape_scale, strict=True):
        hp = normal_hp_mm(lv)
        out.append(Heights(hp * NORMAL_HA_HP[lv] * s, hp * NORMAL_HM_HP, hp))
    return out


def _wedge_fracture(heights: list[Heights]) -> list[Heights]:
    i = LEVELS.index(FRACTURED)
    h = heights[i]
    heights = list(heights)
    heights[i] = Heights(h.anterior * 0.6, h.middle * 0.8, h.posterior)
    return heights


def _expected_ha_error(heights: list[Heights], truth_ha: float, sd_mm: float) -> float:
    n = len(LEVELS)
    res = grade_spine(LEVELS, heights, np.full(n, sd_mm), np.ones(n))
    return res[LEVELS.index(FRACTURED)].expected.anterior - truth_ha


def test_thick_slice_noise_is_shrunk_toward_spine_scale():
    """Random 3 mm-like ratio noise on the neighbours (true shape = the norm): declaring
    that noise (height SD 0.75 mm) must give a more accurate expected Ha than treating
    the same measurements as exact (SD 0), over many random spines."""
    rng = np.random.default_rng(7)
    truth_ha = normal_hp_mm(FRACTURED) * NORMAL_HA_HP[FRACTURED]
    err_noisy, err_exact = [], []
    for _ in range(150):
        noise = 1.0 + rng.normal(0.0, 0.045, len(LEVELS))  # ~quantisation at 3 mm slices
        heights = _wedge_fracture(_normal_spine(noise))
        err_noisy.append(abs(_expected_ha_error(heights, truth_ha, 0.75)))
        err_exact.append(abs(_expected_ha_error(heights, truth_ha, 0.0)))
    assert np.mean(err_noisy) < 0.9 * np.mean(err_exact)
    assert np.percentile(err_noisy, 90) < np.percentile(err_exact, 90)


def test_precise_neighbours_keep_a_local_shape_deviation():
    """Fine voxels (SD 0.2 mm): a genuine local wedging of the levels around the fracture
    (6 % more wedged than the norm, the rest of the spine normal) is carried over."""
    scale = np.ones(len(LEVELS))
    i = LEVELS.index(FRACTURED)
    scale[i - 2 : i + 3] = 0.94
    truth_ha = normal_hp_mm(FRACTURED) * NORMAL_HA_HP[FRACTURED] * 0.94
    heights = _wedge_fracture(_normal_spine(scale))
    err = _expected_ha_error(heights, truth_ha, 0.2)
    # Without the local information the error would be the full 6 % (~1.4 mm).
    assert abs(err) < 0.015 * truth_ha


def test_exact_neighbours_reproduce_the_normal_heights():
    heights = _wedge_fracture(_normal_spine(np.ones(len(LEVELS))))
    n = len(LEVELS)
    for sd in (0.0, 0.75):
        res = grade_spine(LEVELS, heights, np.full(n, sd), np.ones(n))
        exp = res[LEVELS.index(FRACTURED)].expected.as_array()
        hp = normal_hp_mm(FRACTURED)
        truth = np.array([hp * NORMAL_HA_HP[FRACTURED], hp * NORMAL_HM_HP, hp])
        np.testing.assert_allclose(exp, truth, rtol=1e-6)
