"""Heights at 3 mm slices when the body mask is off by more than a voxel at an endplate.

The built-in masks of steep thick-slice spines can keep the disc over part of an
endplate, or stop short of it, by two slices (6 mm). The heights must follow the CT
there, and must not move where the mask is right. The benchmark's crush case (T10-L5,
0.7 x 0.7 x 3 mm, LPS grid) on its truth masks, with one body's mask altered.
"""

from __future__ import annotations

import numpy as np
import pytest

from kypho.measure.spine import measure_spine
from kypho.phantom import generate
from kypho.phantom.suite import suite_configs

from .measure_helpers import segmentation_from_labels


@pytest.fixture(scope="module")
def crush3():
    cfg = dict(suite_configs("benchmark"))["crush3_l1_thick_lps"]
    ph = generate(cfg)
    return ph, measure_spine(ph.volume, segmentation_from_labels(ph.vertebrae, ph.bodies))


def _heights_with(ph, lv, change):  # type: ignore[no-untyped-def]
    """Heights of ``lv`` after ``change(body, bodies, verts)`` altered its masks."""
    bodies = ph.bodies.labels.copy()
    verts = ph.vertebrae.labels.copy()
    change(bodies == int(lv), bodies, verts)
    seg = segmentation_from_labels(
        type(ph.vertebrae)(verts, ph.vertebrae.affine), type(ph.bodies)(bodies, ph.bodies.affine)
    )
    spine = measure_spine(ph.volume, seg)
    return next(v for v in spine.vertebrae if v.level is lv).heights_mm.as_array()


def _half(body: np.ndarray, posterior: bool) -> np.ndarray:
    y = np.nonzero(body)[1]
    side = np.arange(body.shape[1])[None, :, None]
    # Canonical axis 1 runs posterior -> anterior.
    return body & (side < np.median(y) if posterior else side > np.median(y))


def _level(ph, name):  # type: ignore[no-untyped-def]
    return next(v.level for v in ph.truth.vertebrae if v.level.display == name)


def test_posterior_mask_in_the_disc_does_not_lengthen_hp(crush3):
    ph, _ = crush3
    lv = _level(ph, "L3")
    truth = ph.truth.get(lv).heights_mm.as_array()

    def grow(body, bodies, verts):  # type: ignore[no-untyped-def]
        half = _half(body, posterior=True)
        grown = half.copy()
        for k in (1, 2):
            grown[:, :, k:] |= half[:, :, :-k]  # two slices up, into the disc
        add = grown & (verts == 0)
        assert add.sum() > 200
        bodies[add] = int(lv)
        verts[add] = int(lv)

    got = _heights_with(ph, lv, grow)
    # Measured without the interior search: Hp 32.2 vs 26.7 mm (and Ha 8 mm short, the
    # frame tipped by the wrong endplate); with it, within 0.5 mm.
    assert abs(got[2] - truth[2]) <= 1.5, (got, truth)


def test_anterior_mask_a_slice_short_of_the_endplate_does_not_shorten_ha(crush3):
    ph, _ = crush3
    lv = _level(ph, "L4")
    truth = ph.truth.get(lv).heights_mm.as_array()

    def cut(body, bodies, verts):  # type: ignore[no-untyped-def]
        half = _half(body, posterior=False)
        top = np.nonzero(half.any(axis=(0, 1)))[0].max()
        drop = half & (np.arange(body.shape[2])[None, None, :] == top)  # one slice
        bodies[drop] = 0
        verts[drop] = 0

    got = _heights_with(ph, lv, cut)
    # The refinement near the mask's edge already recovers one slice; the interior
    # search must not undo that (a wall or a band taken for the endplate).
    assert abs(got[0] - truth[0]) <= 1.5, (got, truth)


def test_right_masks_keep_their_heights(crush3):
    # On the truth masks the interior search must not replace edges: height MAE at
    # 3 mm measured 0.45 mm for this case (0.47 over the four 3 mm cases), as before.
    ph, spine = crush3
    errs = [
        np.abs(v.heights_mm.as_array() - ph.truth.get(v.level).heights_mm.as_array())
        for v in spine.vertebrae
        if v.measurable
    ]
    assert float(np.mean(errs)) <= 0.6
    assert float(np.max(errs)) <= 1.5
