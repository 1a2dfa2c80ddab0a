"""Cohort statistics checked against hand-worked numbers and scipy's references."""

from __future__ import annotations

import math

import pytest

from kypho.registry.analytics import change_from_baseline, new_fracture_rate, wilson_ci


def test_change_from_baseline_hand_worked():
    # Three patients, NRS: changes at 1 month -5, -3, -1 -> mean -3, sd 2, sem 2/sqrt(3);
    # t(0.975, 2) = 4.302653 -> CI -3 +- 4.9683.
    recs = [
        ("a", "baseline", "nrs", 8),
        ("a", "m1", "nrs", 3),
        ("b", "baseline", "nrs", 7),
        ("b", "m1", "nrs", 4),
        ("c", "baseline", "nrs", 6),
        ("c", "m1", "nrs", 5),
        ("d", "m1", "nrs", 0),  # no baseline: not paired, left out
        ("a", "baseline", "odi", 50),
    ]
    (m1,) = change_from_baseline(recs, "nrs")
    assert m1.timepoint == "m1" and m1.n == 3
    assert m1.mean_change == pytest.approx(-3.0)
    half = 4.302653 * 2 / math.sqrt(3)
    assert m1.ci95_low == pytest.approx(-3 - half, abs=1e-4)
    assert m1.ci95_high == pytest.approx(-3 + half, abs=1e-4)
    # Paired t: t = -3 / (2/sqrt 3) = -2.598, df 2 -> two-sided p = 0.1217.
    assert m1.p_paired_t == pytest.approx(0.1217, abs=1e-3)
    # Responders (NRS MCID 2 points or 30 %): a (5) and b (3); c 1 point, 16.7 %: no.
    assert m1.responders == 2 and m1.responder_rate == pytest.approx(2 / 3)


def test_timepoints_in_order_and_no_mcid_instrument():
    recs = [
        ("a", "baseline", "tug", 20),
        ("a", "m12", "tug", 12),
        ("a", "d7", "tug", 18),
        ("b", "baseline", "tug", 16),
        ("b", "m12", "tug", 11),
    ]
    out = change_from_baseline(recs, "tug")
    assert [c.timepoint for c in out] == ["d7", "m12"]
    assert out[1].mean_change == pytest.approx(-6.5)
    assert out[0].responders is None


def test_wilson_interval_known_value():
    # 2/3: Wilson 95 % interval 0.2077-0.9385 (standard tables).
    low, high = wilson_ci(2, 3)
    assert low == pytest.approx(0.2077, abs=1e-3) and high == pytest.approx(0.9385, abs=1e-3)


def test_new_fracture_rate():
    visits = [
        ("a", "baseline", False),
        ("a", "m3", False),
        ("a", "m12", True),
        ("b", "m3", False),
        ("c", "baseline", None),
    ]
    out = new_fracture_rate(visits)
    assert out["patients_followed"] == 2 and out["patients_with_new_fracture"] == 1


def test_change_figure_is_a_png_with_content():
    import io

    from matplotlib.image import imread

    from kypho.registry.figures import change_figure

    recs = [(p, "baseline", "nrs", 8) for p in "abc"] + [
        ("a", "m1", "nrs", 3),
        ("b", "m1", "nrs", 4),
        ("c", "m1", "nrs", 2),
    ]
    png = change_figure(recs, "nrs")
    img = imread(io.BytesIO(png))
    assert img.shape[:2] == (400, 640)
    # Something is drawn in the EVOLVE colour (C3, red) and the mean colour (C0, blue).
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)
    blue = (img[..., 2] > 0.6) & (img[..., 0] < 0.3)
    assert red.sum() > 50 and blue.sum() > 50
