"""Planning on a real CT (../shared/data/tptbox_lumbar, L3, VerSe masks)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import LabelMap, Volume
from kypho.model import (
    Heights,
    LevelInfo,
    Recommendation,
    Segmentation,
    SpineMeasurement,
    VertebraFrame,
    VertebraMeasurement,
)
from kypho.plan.plan import plan_levels

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tptbox_lumbar"
L3 = 22
# TPTBox sub-regions 49 (corpus border) and 50 (corpus) form the vertebral body.
BODY_SUBREGIONS = (49, 50)


def load_case():  # type: ignore[no-untyped-def]
    """Volume, segmentation, frame and plan of the real L3 (also used by the benchmark)."""
    ct = nib.load(DATA / "sub-ct_label-22_ct.nii.gz")
    vimg = nib.load(DATA / "sub-ct_seg-vert_label-22_msk.nii.gz")
    simg = nib.load(DATA / "sub-ct_seg-subreg_label-22_msk.nii.gz")
    vert = np.asarray(vimg.dataobj)
    sub = np.asarray(simg.dataobj)
    body = np.where(np.isin(sub, BODY_SUBREGIONS), vert, 0).astype(np.uint8)
    volume = Volume.from_array(np.asarray(ct.dataobj), ct.affine)
    V = LabelMap.from_array(vert, vimg.affine)
    B = LabelMap.from_array(body, vimg.affine)
    # A frame built here from the masks only (the measurement stage does it properly):
    # origin = body centroid, AP = whole-vertebra centroid -> body centroid.
    bc = voxel_to_world(B.affine, np.argwhere(B.labels == L3)).mean(0)
    vc = voxel_to_world(V.affine, np.argwhere(V.labels == L3)).mean(0)
    si = np.array([0.0, 0.0, 1.0])
    ap = bc - vc
    ap -= ap @ si * si
    frame = VertebraFrame(tuple(bc), tuple(si), tuple(ap / np.linalg.norm(ap)))
    vm = VertebraMeasurement(
        level=L3, centroid_ras_mm=tuple(vc), measurable=True, frame=frame,
        heights_mm=Heights(20.0, 19.0, 26.0), expected_heights_mm=Heights(27.0, 26.0, 27.0),
        genant_grade=2, morphotype="wedge",
    )
    seg = Segmentation(V, B, [LevelInfo(L3, tuple(vc), tuple(bc), 1, 1.0)], "verse")
    return volume, seg, frame, plan_levels(volume, seg, SpineMeasurement([vm]))


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    if not DATA.exists():
        pytest.skip("../shared/data/tptbox_lumbar not available")
    return load_case()


def test_real_l3_pedicles_are_found_and_paths_are_safe(case) -> None:  # type: ignore[no-untyped-def]
    _volume, _seg, frame, plan = case
    lp = plan.level("L3")
    assert lp.recommendation is Recommendation.BALLOON_KYPHOPLASTY
    assert {t.side for t in lp.trajectories} == {"left", "right"}
    for t in lp.trajectories:
        # L3 pedicle width 7.3 (endosteal CT) to 10.2 mm (outer), DOMAIN.md §7.1.
        assert 6.0 <= t.isthmus_width_mm <= 12.5
        assert 9.0 <= t.isthmus_height_mm <= 18.0
        assert not t.breach and t.clearance_medial_mm >= 1.0 and t.clearance_lateral_mm >= 1.0
        # Lumbar medial convergence; the right path starts right of the left one.
        assert 5.0 <= t.medial_angle_deg <= 30.0
        target_local = frame.to_local(np.array(t.target_ras_mm))
        assert (target_local[0] > 0) == (t.side == "right")
    right = next(t for t in lp.trajectories if t.side == "right")
    left = next(t for t in lp.trajectories if t.side == "left")
    assert right.entry_ras_mm[0] > left.entry_ras_mm[0]  # RAS: +x is the patient's right
    # The crop holds no air: the skin cannot be located, and the plan says so.
    assert right.skin_depth_mm is None and any("skin" in n.lower() for n in right.notes)


def test_real_l3_balloons_stay_in_the_body_mask(case) -> None:  # type: ignore[no-untyped-def]
    _, seg, frame, plan = case
    lp = plan.level("L3")
    assert lp.balloon is not None
    body = seg.bodies
    inv = np.linalg.inv(body.affine)
    for bp in lp.balloon.placements:
        assert bp.inside_body
        # Lateral/AP footprint inside the real body mask (SI may rise to restored heights).
        loc = frame.to_local(bp.surface_ras_mm())
        mid = loc[np.abs(loc[:, 2] - frame.to_local(np.array(bp.centre_ras_mm))[2]) < 2.0]
        pts = frame.to_world(mid)
        idx = np.rint(pts @ inv[:3, :3].T + inv[:3, 3]).astype(int)
        assert (body.labels[idx[:, 0], idx[:, 1], idx[:, 2]] == L3).mean() > 0.95
