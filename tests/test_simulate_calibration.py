"""Phantomless internal calibration: known tissues and a known bone density recovered."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.measure.calibration import DEFAULT_SLOPE_MG_CM3_PER_HU, REFERENCE_HU
from kypho.simulate.patient import choose_calibration

TRUE_BONE_HU = 180.0


def _torso(scale: float, offset: float, seed: int = 0):
    """A 2 mm torso: air around, fat ring, muscle core, a bone cylinder; HU distorted.

    The scanner maps true HU to ``scale * HU + offset`` (a miscalibrated scanner) and
    adds 12 HU noise; the bone's true equivalent density is the default slope x 180 HU.
    """
    h = 2.0
    n, nz = 100, 40
    x, y = (np.mgrid[:n, :n] - n / 2 + 0.5) * h
    r = np.hypot(x, y)
    true = np.full((n, n), REFERENCE_HU["air"])
    true[r < 90] = REFERENCE_HU["fat"]
    true[r < 60] = REFERENCE_HU["muscle"]
    bone2d = np.hypot(x, y + 10) < 15
    true[bone2d] = TRUE_BONE_HU
    rng = np.random.default_rng(seed)
    hu = (scale * true[:, :, None] + offset + rng.normal(0, 12, (n, n, nz))).astype(np.float32)
    bone = np.repeat(bone2d[:, :, None], nz, axis=2)
    affine = np.diag([h, h, h, 1.0])
    return hu, bone, affine


@pytest.mark.parametrize(("scale", "offset"), [(1.0, 0.0), (1.08, 25.0), (0.94, -30.0)])
def test_internal_calibration_recovers_the_bone_density(scale, offset):
    hu, bone, affine = _torso(scale, offset)
    cal, fit = choose_calibration(hu, bone, affine, None)
    assert cal is not None and fit is not None
    assert set(fit.observed_hu) == {"air", "fat", "muscle"}
    assert fit.r_squared > 0.999 and fit.residual_rms_hu < 5.0
    truth = DEFAULT_SLOPE_MG_CM3_PER_HU * TRUE_BONE_HU
    measured = float(np.mean(cal.slope * hu[bone] + cal.intercept))
    assert measured == pytest.approx(truth, abs=4.0)
    if (scale, offset) != (1.0, 0.0):
        # the scanner's distortion is what the calibration undoes: uncorrected it misses
        naive = DEFAULT_SLOPE_MG_CM3_PER_HU * float(np.mean(hu[bone]))
        assert abs(naive - truth) > 15.0


def test_a_given_phantom_calibration_wins():
    from kypho.measure.calibration import BmdCalibration

    hu, bone, affine = _torso(1.08, 25.0)
    given = BmdCalibration(0.8, -5.0, "user phantom calibration")
    cal, fit = choose_calibration(hu, bone, affine, given)
    assert cal is given and fit is None


def test_no_tissue_no_internal_calibration():
    hu, bone, affine = _torso(1.0, 0.0)
    hu[:] = 300.0  # a tight bone crop: neither fat nor muscle
    assert choose_calibration(hu, bone, affine, None) == (None, None)
