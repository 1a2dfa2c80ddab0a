"""Heights at 3 mm slices (0.7 x 0.7 x 3 mm, oblique LPS grid) against phantom truth.

At 3 mm the voxelised mask alone places each endplate anywhere within +/-1.5 mm; the CT
moment edges, combined with the mask and the image's own edge offset, must bring the
height error to the 1 mm level and keep every grade.
"""

from __future__ import annotations

import numpy as np
import pytest

from kypho.measure.heights import measure_heights
from kypho.measure.spine import measure_spine
from kypho.phantom import generate
from kypho.phantom.config import FractureSpec, PhantomConfig

from .measure_helpers import segmentation_from_labels


@pytest.fixture(scope="module")
def thick():
    cfg = PhantomConfig(
        seed=7,
        top="T10",
        bottom="L3",
        include_sacrum=False,
        spacing_mm=(0.7, 0.7, 3.0),
        orientation="LPS",
        oblique_deg=(6.0, 0.0, 10.0),
        ribs=False,
        fractures=(FractureSpec("T12", "wedge", 0.32), FractureSpec("L2", "biconcave", 0.30)),
    )
    ph = generate(cfg)
    seg = segmentation_from_labels(ph.vertebrae, ph.bodies)
    return ph, measure_spine(ph.volume, seg)


def test_thick_slice_heights_and_grades(thick):
    ph, spine = thick
    truth = {v.level: v for v in ph.truth.vertebrae}
    errs = []
    for v in spine.vertebrae:
        assert v.measurable, (v.level, v.reason)
        t = truth[v.level]
        errs.append(np.abs(v.heights_mm.as_array() - t.heights_mm.as_array()))
        assert v.genant_grade == t.genant_grade, v.level
        assert v.morphotype == t.morphotype, v.level
    errs = np.concatenate(errs)
    assert len(errs) == 18
    # Brief target: MAE <= 1.5 mm at 3 mm slices (measured ~0.5 mm here).
    assert errs.mean() <= 1.0, errs
    assert errs.max() <= 2.0, errs


def test_ct_edges_beat_the_mask_alone(thick):
    """The same frames with mask-only endplates are clearly worse (the CT does the work)."""
    from kypho.measure.vertebra_region import crop_vertebra

    ph, spine = thick
    truth = {v.level: v for v in ph.truth.vertebrae}
    mask_errs, final_errs = [], []
    for v in spine.vertebrae:
        crop = crop_vertebra(
            ph.volume.hu, ph.vertebrae.labels, ph.bodies.labels, ph.volume.affine, int(v.level)
        )
        prof = measure_heights(crop, v.frame, 60.0, refine_on_hu=False)
        t = truth[v.level].heights_mm.as_array()
        mask_errs.append(np.abs(prof.heights.as_array() - t))
        final_errs.append(np.abs(v.heights_mm.as_array() - t))
    assert np.mean(final_errs) < 0.75 * np.mean(mask_errs)


def test_height_segments_are_the_measured_heights(thick):
    ph, spine = thick
    truth = {v.level: v for v in ph.truth.vertebrae}
    for v in spine.vertebrae:
        segs = v.height_segments_ras_mm
        assert set(segs) == {"anterior", "middle", "posterior"}
        t = truth[v.level]
        t_h = t.heights_mm.as_array()
        for k, name in enumerate(("anterior", "middle", "posterior")):
            inf, sup = (np.asarray(p) for p in segs[name])
            assert np.linalg.norm(sup - inf) == pytest.approx(v.heights_mm.as_array()[k], abs=1e-6)
            # In the measured mid-sagittal plane, along the measured SI axis.
            loc = v.frame.to_local(np.stack([inf, sup]))
            assert np.allclose(loc[:, 0], 0.0, atol=1e-6)
            assert loc[1, 2] > loc[0, 2]
            # Endpoints on the true endplates (truth frame: endplates at +/- H/2) and at
            # the true AP line (10/50/90 % of the depth from the anterior cortex).
            tl = t.frame.to_local(np.stack([inf, sup]))
            assert tl[0, 2] == pytest.approx(-t_h[k] / 2, abs=1.5)
            assert tl[1, 2] == pytest.approx(t_h[k] / 2, abs=1.5)
            want_ap = t.ap_depth_mm * (0.5 - (0.1, 0.5, 0.9)[k])
            assert tl[:, 1] == pytest.approx([want_ap, want_ap], abs=1.5)
            assert np.abs(tl[:, 0]).max() < 1.5


def test_thick_slice_endplate_angles(thick):
    """Cobb and segmental angles against the truth angle between the same endplates."""
    from kypho.measure.alignment import sagittal_tilt_deg

    ph, spine = thick
    by = {t.level.display: t for t in ph.truth.vertebrae}
    up, low = spine.cobb_levels
    want = sagittal_tilt_deg(np.asarray(by[up].superior_endplate_normal)) - sagittal_tilt_deg(
        np.asarray(by[low].inferior_endplate_normal)
    )
    assert spine.cobb_deg == pytest.approx(want, abs=3.0)
    compared = 0
    for name, ang in spine.segmental_kyphosis_deg.items():
        if name in ph.truth.segmental_kyphosis_deg and name not in ("T10", "L3"):
            assert ang == pytest.approx(ph.truth.segmental_kyphosis_deg[name], abs=3.0), name
            compared += 1
    assert compared == 2  # T12 and L2, both with measured neighbours
