"""Real CT: TPTBox lumbar crop (1.5 mm), L3 with a real vertebral-body sub-region mask."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from kypho.imaging.volume import LabelMap, Volume
from kypho.measure.spine import measure_spine

from .measure_helpers import DATA, segmentation_from_labels

CASE = DATA / "tptbox_lumbar"


@pytest.mark.skipif(not CASE.exists(), reason="../shared/data not available")
def test_tptbox_l3_plausible():
    ct = nib.load(CASE / "sub-ct_label-22_ct.nii.gz")
    vert = nib.load(CASE / "sub-ct_seg-vert_label-22_msk.nii.gz")
    sub = nib.load(CASE / "sub-ct_seg-subreg_label-22_msk.nii.gz")
    volume = Volume.from_array(np.asanyarray(ct.dataobj).astype(np.float32), ct.affine)
    v = np.asanyarray(vert.dataobj).astype(np.uint8)
    s = np.asanyarray(sub.dataobj)
    bodies = np.where(np.isin(s, (49, 50)), v, 0).astype(np.uint8)
    seg = segmentation_from_labels(
        LabelMap.from_array(v, vert.affine), LabelMap.from_array(bodies, sub.affine)
    )
    spine = measure_spine(volume, seg)
    by = {m.level.display: m for m in spine.vertebrae}
    l3 = by["L3"]
    assert l3.measurable, l3.reason
    h = l3.heights_mm.as_array()
    assert np.all((h > 20) & (h < 35)), h
    assert 25 < l3.ap_depth_mm < 45
    assert l3.trabecular_hu_mean is not None and -50 < l3.trabecular_hu_mean < 400
    # L2 and L4 are cut by the field of view: kept, with a reason.
    for name in ("L2", "L4"):
        assert name in by
        assert not by[name].measurable and by[name].reason
