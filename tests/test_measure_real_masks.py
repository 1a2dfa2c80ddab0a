"""Real whole-vertebra masks (../shared/data/real_masks) measured on a CT painted from them.

The masks are real shapes (rims, concave walls, osteophytes); the CT is painted from the
mask (trabecular interior, brighter cortex at the boundary, soft tissue, noise), so the
CT agrees with the mask and only the geometry of the height lines is tested. Before the
plausibility gates, malekosh T12 read Ha 12.0 mm (Hm 23.1, Hp 25.6) and was graded 3
wedge, L2 a grade 2 "crush" with only Hp short.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from kypho.anatomy.masks import import_masks
from kypho.imaging.mask_read import read_masks
from kypho.imaging.orientation import affine_spacing
from kypho.imaging.volume import Volume
from kypho.measure.spine import measure_spine
from kypho.model import GenantGrade, Morphotype

from .measure_helpers import DATA

MALEKOSH = DATA / "real_masks" / "malekosh_sample001" / "sub-sample001_seg-vert_msk.nii.gz"


def _painted(path):
    img = nib.load(path)
    lab = np.asanyarray(img.dataobj).astype(np.uint8)
    bone = lab > 0
    depth = ndimage.distance_transform_edt(bone, sampling=affine_spacing(img.affine))
    hu = np.full(lab.shape, 40.0, np.float32)
    hu[bone] = 180.0
    hu[bone & (depth <= 1.2)] = 650.0
    hu += np.random.default_rng(0).normal(0, 12, hu.shape).astype(np.float32)
    return Volume.from_array(hu, img.affine)


@pytest.mark.skipif(not MALEKOSH.exists(), reason="../shared/data not available")
def test_malekosh_graded_vertebrae_are_plausible():
    vol = _painted(MALEKOSH)
    spine = measure_spine(vol, import_masks(read_masks(MALEKOSH), vol))
    by = {v.level.display: v for v in spine.vertebrae}
    # The rim lip at T12's inferior anterior corner no longer makes a wedge.
    assert by["T12"].measurable and by["T12"].genant_grade == GenantGrade.NORMAL
    assert by["T12"].heights_mm.anterior > 20.0
    graded = [v for v in spine.vertebrae if v.genant_grade is not None]
    assert len(graded) >= 12
    for v in graded:
        ha, hm, hp = v.heights_mm.as_array()
        if v.morphotype is Morphotype.WEDGE:
            assert ha - 1.0 <= hm <= hp + 1.0, (v.level.display, ha, hm, hp)
        if v.morphotype is Morphotype.CRUSH:
            assert v.height_loss.anterior >= 0.5 * v.height_loss.posterior
    # L2's posterior-only short height is not a crush fracture.
    assert by["L2"].genant_grade is None and "not measurable" in by["L2"].reason
    # Healthy-looking lower lumbar bodies (figure reviewed) stay normal.
    for name in ("L3", "L4", "L5", "T5", "T6", "T7", "T8", "T9", "T10", "T11"):
        assert by[name].genant_grade == GenantGrade.NORMAL, name


HEALTHIVERT = DATA / "real_masks" / "healthivert_0007" / "0007_msk.nii.gz"


@pytest.mark.skipif(not HEALTHIVERT.exists(), reason="../shared/data not available")
def test_healthivert_graded_vertebrae_are_plausible():
    # L1-L3 of this mask are biconcave in every parasagittal plane from -12 to +12 mm
    # (reviewed on figures): their biconcave grades are the mask's shape. L4's posterior
    # line (Hp 13 mm, Ha 21 mm) used to make a grade 2 "crush".
    vol = _painted(HEALTHIVERT)
    spine = measure_spine(vol, import_masks(read_masks(HEALTHIVERT), vol))
    by = {v.level.display: v for v in spine.vertebrae}
    for v in spine.vertebrae:
        if v.genant_grade is None or v.genant_grade == GenantGrade.NORMAL:
            continue
        ha, hm, hp = v.heights_mm.as_array()
        assert v.morphotype is Morphotype.BICONCAVE, v.level.display
        assert hm < min(ha, hp), v.level.display
    assert by["T12"].genant_grade == GenantGrade.NORMAL
    assert by["L5"].genant_grade == GenantGrade.NORMAL
    assert by["L4"].genant_grade is None and "not measurable" in by["L4"].reason
