"""Planning never crashes on geometry that is not a vertebra's, and never explodes in cost."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.imaging.volume import LabelMap, Volume
from kypho.measure.vertebra_region import (
    CROP_MARGIN_MM,
    MAX_VERTEBRA_EXTENT_MM,
    SOFT_TISSUE_SHELL_MM,
    build_local_grid,
)
from kypho.model import VertebraFrame
from kypho.plan.access import _table_deg


@pytest.mark.parametrize(("a", "b"), [(0.13, -0.99), (-0.13, -0.99), (0.5, 0.8), (0.0, -1.0)])
def test_table_angles_stay_within_90_degrees(a, b):
    # A path pointing to world posterior (prone scan) gave -172.5 degrees and a traceback
    # in the Trajectory record; the angle from the vertical is the same either way.
    med = _table_deg(a, b, flip_a=True)
    cc = _table_deg(a, b, flip_a=False)
    assert abs(med) <= 90.0 and abs(cc) <= 90.0
    assert abs(med) == pytest.approx(abs(np.degrees(np.arctan2(a, abs(b)))))


def test_oversized_vertebra_mask_is_not_resampled():
    # A "vertebra" holding the heart and aorta (200 mm long) must not build a local grid
    # of tens of millions of samples: it is refused with a reason.
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    lab = np.zeros((40, 40, 110), np.uint8)
    lab[10:30, 10:30, 2:108] = 20
    vol = Volume(np.zeros(lab.shape, np.float32), aff)
    frame = VertebraFrame((40.0, 40.0, 110.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="more than any vertebra"):
        build_local_grid(vol, LabelMap(lab, aff), LabelMap(lab, aff), 20, frame)
    assert MAX_VERTEBRA_EXTENT_MM < 210.0


def test_soft_tissue_shell_lies_inside_every_crop() -> None:
    # The shell's points are within its outer radius of a mask voxel, so within the
    # mask's box plus that radius: the crop's margin must hold it.
    assert SOFT_TISSUE_SHELL_MM[0] < SOFT_TISSUE_SHELL_MM[1] <= CROP_MARGIN_MM
