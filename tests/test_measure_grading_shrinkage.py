"""Expected (pre-fracture) shape of a fractured vertebra from noisy and precise neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.anatomy.levels import Level
from kypho.measure.grading import grade_spine
from kypho.measure.norms import NORMAL_HA_HP, NORMAL_HM_HP, normal_hp_mm
from kypho.model import Heights

LEVELS = [Level(v) for v in range(Level.T8, Level.L5 + 1)]
FRACTURED = Level.T12
THORACIC = [Level(v) for v in range(Level.T3, Level.T10 + 1)]


def _normal_spine(shape_scale: np.ndarray, levels: list[Level] = LEVELS) -> list[Heights]:
    """Normal heights at every level, Ha/Hp scaled per level by ``shape_scale``."""
    out = []
    for lv, s in zip(levels, shape_scale, strict=True):
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


def test_a_mask_taller_in_front_than_any_vertebra_does_not_set_the_norm():
    """Family s2-0019: a mask over a crushed T5 and T6 read Ha 26, Hm 27, Hp 18 mm. Taken
    as a healthy neighbour it raised the Hm/Hp reference of the levels beside it, and
    healthy vertebrae with ordinary concave endplates were graded 2 "biconcave"."""
    thoracic = THORACIC
    heights = _normal_spine(np.ones(len(thoracic)), thoracic)
    i = thoracic.index(Level.T6)
    hp = heights[i].posterior
    heights[i] = Heights(1.45 * hp, 1.48 * hp, hp)  # two bodies in front, one behind
    for j in (i - 1, i + 1):  # its neighbours' middles 17 % deeper than the norm: grade 0
        h = heights[j]
        heights[j] = Heights(h.anterior, 0.83 * h.middle, h.posterior)
    n = len(thoracic)
    res = grade_spine(thoracic, heights, np.full(n, 0.5), np.ones(n))
    assert all(int(r.grade) == 0 for k, r in enumerate(res) if k != i)


def test_a_grade_on_its_own_shape_needs_an_hp_its_level_can_have():
    """Family s2-0011 (5 mm slices): no healthy neighbour, T10 read Ha 22.7, Hm 21.9,
    Hp 32.9 mm (truth 24.5) and was graded 2 "biconcave" against its own Hp."""
    from kypho.measure.graded_checks import posterior_problem
    from kypho.measure.plausibility import Gate

    def alone(heights: Heights) -> tuple[Level, Heights, object]:
        res = grade_spine([Level.T10], [heights], np.full(1, 0.5), np.ones(1))[0]
        assert not res.has_neighbour
        return Level.T10, heights, res

    lv, h, g = alone(Heights(22.7, 21.9, 32.9))
    assert int(g.grade) == 2  # what the ratio alone says
    problem = posterior_problem(lv, h, g)
    assert problem is not None and problem.gate is Gate.NEIGHBOURS
    # The same shape at an Hp a T10 can have stands, and so does one crushed behind too.
    for scale in (0.7, 0.45):
        lv, h, g = alone(Heights(22.7 * scale, 21.9 * scale, 32.9 * scale))
        assert int(g.grade) == 2 and posterior_problem(lv, h, g) is None


def test_a_ratio_grade_needs_an_hp_no_taller_than_its_neighbours_give():
    """Family s3-0048: T4 read Hp 25.8 mm against the 20.3 its neighbours give (truth
    19.0), so Hm/Hp fell and a normal T4 was graded 2 "biconcave"."""
    from kypho.measure.graded_checks import posterior_problem

    thoracic = THORACIC
    normal = _normal_spine(np.ones(len(thoracic)), thoracic)
    i = thoracic.index(Level.T7)
    n = len(thoracic)
    h = normal[i]
    for heights, stands in (
        (Heights(h.anterior, h.middle, 1.3 * h.posterior), False),  # Hp over-read
        (Heights(h.anterior, 0.6 * h.middle, h.posterior), True),  # a true biconcave
    ):
        spine = [heights if k == i else x for k, x in enumerate(normal)]
        g = grade_spine(thoracic, spine, np.full(n, 0.5), np.ones(n))[i]
        assert g.has_neighbour and int(g.grade) >= 1
        assert (posterior_problem(Level.T7, heights, g) is None) is stands


def test_a_ratio_grade_needs_an_hp_its_level_can_have_whatever_its_neighbours_read():
    """Family s1-0070 (5 mm slices): the neighbours of a normal T8 were read long too,
    so its Hp of 28.8 mm (1.43 times the norm) was within 1.25 of theirs and the body
    was graded 2 "wedge"."""
    from kypho.measure.graded_checks import OWN_HP_MAX, posterior_problem
    from kypho.measure.plausibility import Gate

    thoracic = THORACIC
    n = len(thoracic)
    i = thoracic.index(Level.T8)
    long_read = [Heights(1.2 * h.anterior, 1.2 * h.middle, 1.2 * h.posterior)
                 for h in _normal_spine(np.ones(n), thoracic)]  # fmt: skip
    hp = 1.43 * normal_hp_mm(Level.T8)
    t8 = Heights(0.65 * hp, 0.67 * hp, hp)
    spine = [t8 if k == i else x for k, x in enumerate(long_read)]
    g = grade_spine(thoracic, spine, np.full(n, 0.5), np.ones(n))[i]
    assert g.has_neighbour and int(g.grade) >= 2
    assert hp <= 1.25 * g.expected.posterior  # the neighbours alone let it through
    problem = posterior_problem(Level.T8, t8, g)
    assert problem is not None and problem.gate is Gate.NEIGHBOURS
    assert "normal for T8" in problem.reason
    # The same wedge at an Hp a T8 can have stands.
    scaled = Heights(t8.anterior / 1.43 * OWN_HP_MAX * 0.95, t8.middle / 1.43 * OWN_HP_MAX * 0.95,
                     normal_hp_mm(Level.T8) * OWN_HP_MAX * 0.95)  # fmt: skip
    spine = [scaled if k == i else x for k, x in enumerate(long_read)]
    g = grade_spine(thoracic, spine, np.full(n, 0.5), np.ones(n))[i]
    assert int(g.grade) >= 2 and posterior_problem(Level.T8, scaled, g) is None


def test_a_crush_needs_neighbours_a_body_of_its_level_can_be():
    """Family s1-0076 (lumbar, low dose): a 40 mm "L1" mask over L1 and its disc was
    T12's only neighbour, so T12 (truth 24.5/23.5/26.1 mm, read 24.2/24.2/25.7) was
    expected at an Hp of 36.9 mm and graded 2 crush."""
    from kypho.measure.graded_checks import posterior_problem
    from kypho.measure.plausibility import Gate

    t12 = Heights(24.2, 24.2, 25.7)
    merged_l1 = Heights(35.5, 37.5, 38.2)
    g = grade_spine([Level.T12, Level.L1], [t12, merged_l1], np.full(2, 0.5), np.ones(2))[0]
    assert g.has_neighbour and g.morphotype.value == "crush" and int(g.grade) >= 2
    problem = posterior_problem(Level.T12, t12, g)
    assert problem is not None and problem.gate is Gate.NEIGHBOURS
    assert "no healthy reference" in problem.reason
    # A T12 crushed by 30 % under a normal L1 stands.
    crushed = Heights(0.7 * t12.anterior, 0.7 * t12.middle, 0.7 * t12.posterior)
    normal_l1 = Heights(25.5, 24.5, 26.6)
    g = grade_spine([Level.T12, Level.L1], [crushed, normal_l1], np.full(2, 0.5), np.ones(2))[0]
    assert g.morphotype.value == "crush" and int(g.grade) >= 1
    assert posterior_problem(Level.T12, crushed, g) is None


def test_reductions_agree_with_the_expected_heights_when_the_references_oscillate():
    """Family s1-0074 (T12-L4, three fractures): T12 and L4 are 15 % apart in Hp once
    carried to each other's level, so each knocks the other out of the healthy set, with
    none left both come back, and the iteration never settles. The crushed L1 was given
    an expected Hp of 26.1 mm (read against T12 and L4) and a crush reduction of 0 (read
    against no reference): a 44 % loss reported beside grade 0."""
    from kypho.measure.graded_checks import posterior_problem

    levels = [Level.T12, Level.L1, Level.L2, Level.L3, Level.L4]
    heights = [
        Heights(26.0, 21.9, 25.7),
        Heights(12.1, 12.0, 14.6),
        Heights(27.3, 13.3, 24.1),
        Heights(12.3, 14.0, 20.4),
        Heights(26.3, 22.8, 22.4),
    ]
    res = grade_spine(levels, heights, np.full(5, 0.5), np.ones(5))
    for r, h in zip(res, heights, strict=True):
        if r.has_neighbour:
            assert r.reductions["crush"] == pytest.approx(1.0 - h.posterior / r.expected.posterior)
        else:  # graded on its own shape: no crush, an expected Hp from that shape
            assert r.reductions["crush"] == 0.0
            assert r.expected.posterior >= h.posterior
    # Whatever set the grading settles on, L1 is not reported as a normal body: a
    # grade 0 with no healthy neighbour and an Hp far below its level's is not measurable.
    l1 = res[1]
    assert int(l1.grade) >= 1 or posterior_problem(Level.L1, heights[1], l1) is not None


def test_a_grade_0_on_its_own_shape_needs_an_hp_a_crush_cannot_hide_in():
    from kypho.measure.graded_checks import OWN_HP_MIN, posterior_problem
    from kypho.measure.plausibility import Gate

    hp = normal_hp_mm(Level.L1)
    for scale, stands in ((1.0, True), (OWN_HP_MIN + 0.02, True), (0.54, False)):
        h = Heights(0.95 * scale * hp, 0.9 * scale * hp, scale * hp)  # a normal shape
        g = grade_spine([Level.L1], [h], np.full(1, 0.5), np.ones(1))[0]
        assert not g.has_neighbour and int(g.grade) == 0
        problem = posterior_problem(Level.L1, h, g)
        assert (problem is None) is stands
        if problem is not None:
            assert problem.gate is Gate.NEIGHBOURS and "crush" in problem.reason


def test_a_crushed_body_with_a_node_keeps_its_crush_grade():
    """Family s3-0012 T7 (a 22 % crush, a Schmorl's node in its endplate): Hm 11.0 mm
    through the node made it "biconcave"; the node withdrew that grade and with it the
    crush that its Ha and Hp show."""
    from kypho.measure.grading import without_morphotype

    thoracic = THORACIC
    n = len(thoracic)
    heights = _normal_spine(np.ones(n), thoracic)
    i = thoracic.index(Level.T7)
    h = heights[i]
    heights[i] = Heights(0.76 * h.anterior, 0.5 * h.middle, 0.76 * h.posterior)
    g = grade_spine(thoracic, heights, np.full(n, 0.5), np.ones(n))[i]
    assert g.morphotype.value == "biconcave" and g.has_neighbour
    out = without_morphotype(
        g, "biconcave", "a node", height_sd_mm=0.5, hp_mm=heights[i].posterior, frame_quality=1.0
    )
    assert out.morphotype.value == "crush" and int(out.grade) == 1
    assert out.reduction == pytest.approx(g.reductions["crush"])
    assert out.notes[-1] == "a node" and "a node" not in g.notes  # a new record
    # A healthy body with a node is graded 0.
    heights[i] = Heights(h.anterior, 0.5 * h.middle, h.posterior)
    g = grade_spine(thoracic, heights, np.full(n, 0.5), np.ones(n))[i]
    out = without_morphotype(
        g, "biconcave", "a node", height_sd_mm=0.5, hp_mm=h.posterior, frame_quality=1.0
    )
    assert int(out.grade) == 0 and out.morphotype.value == "none"
