"""Built-in segmentation engine on the real CT cases in ../shared/data."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from kypho import read_ct
from kypho.anatomy.engine import body_from_vertebra, segment_spine
from kypho.anatomy.engine.spine import SACRAL_CUT_CONFIDENCE
from kypho.anatomy.levels import Level, LevelAnchor, level_from_totalseg_name
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import LabelMap

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TOTALSEG = DATA / "totalseg_example"
TPTBOX = DATA / "tptbox_lumbar"


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2.0 * (a & b).sum() / max(1, int(a.sum()) + int(b.sum())))


def _mask(path: Path) -> np.ndarray:
    img = nib.load(path)
    return LabelMap.from_array(np.asanyarray(img.dataobj), img.affine).labels


@cache
def _totalseg():  # type: ignore[no-untyped-def]
    vol = read_ct(TOTALSEG / "ct.nii.gz")
    ref = np.zeros(vol.shape, dtype=np.uint8)
    for f in sorted((TOTALSEG / "segmentations").glob("*.nii.gz")):
        lv = level_from_totalseg_name(f.name)
        if lv is not None:
            ref[_mask(f) > 0] = int(lv)
    return vol, ref, segment_spine(vol)


needs_totalseg = pytest.mark.skipif(not TOTALSEG.exists(), reason="../shared/data missing")
needs_tptbox = pytest.mark.skipif(not TPTBOX.exists(), reason="../shared/data missing")


def _check(vol, ref, seg, level: Level, whole_min: float, body_min: float) -> None:  # type: ignore[no-untyped-def]
    lab = int(level)
    truth = ref == lab
    centre = voxel_to_world(vol.affine, np.argwhere(truth).mean(axis=0))
    info = seg.info(level)
    dist = float(np.linalg.norm(np.subtract(info.centroid_ras_mm, centre)))
    assert dist < 10.0, f"{level.display} centroid {dist:.1f} mm from the reference"
    whole = _dice(seg.vertebrae.labels == lab, truth)
    ref_body = body_from_vertebra(ref, vol.affine) == lab
    body = _dice(seg.bodies.labels == lab, ref_body)
    assert whole >= whole_min, f"{level.display} whole Dice {whole:.3f}"
    assert body >= body_min, f"{level.display} body Dice {body:.3f}"


@needs_totalseg
@pytest.mark.parametrize("name", ["T12", "L1", "L2", "L3", "L4"])
def test_totalseg_levels_identified(name: str) -> None:
    # 3 mm contrast abdomen; T12 bears the lowest ribs in the reference masks.
    vol, ref, seg = _totalseg()
    _check(vol, ref, seg, Level.parse(name), whole_min=0.80, body_min=0.85)


@needs_totalseg
def test_totalseg_sacrum_and_ribs_agree() -> None:
    _, _, seg = _totalseg()
    assert any("rib" in e for e in seg.info("T12").evidence)
    assert any("sacrum" in e for e in seg.info("L5").evidence)
    assert seg.levels[-1].level is Level.S
    # L5 is cut from the sacral core (narrow lumbosacral disc at 3 mm), which the ribs'
    # count of four free vertebrae allowed: the sacrum and the last rib then agree by
    # construction, as they do when the sacrum's own S1 is cut off instead (family
    # s3-0010), so the count is held below 0.5 and says why.
    assert seg.info("L1").confidence == SACRAL_CUT_CONFIDENCE
    assert any("the count from the sacrum rests on that cut" in w for w in seg.warnings)
    assert Level.T11 not in {i.level for i in seg.levels}  # a sliver only: not invented


@needs_totalseg
def test_totalseg_l5_separated_from_sacrum() -> None:
    # The L5/S1 disc is barely resolved at 3 mm: L5's core is split off the sacral one,
    # its arch with it (measured whole Dice 0.75, body 0.86).
    vol, ref, seg = _totalseg()
    _check(vol, ref, seg, Level.L5, whole_min=0.72, body_min=0.82)


@needs_totalseg
def test_totalseg_sacrum_identified_without_hip_bones() -> None:
    # TotalSegmentator's "sacrum" excludes the hip bones (separate hip_left/right masks);
    # the sacral core runs into the ilia and the pelvic ring, which must be cut away.
    vol, ref, seg = _totalseg()
    truth = ref == int(Level.S)
    centre = voxel_to_world(vol.affine, np.argwhere(truth).mean(axis=0))
    dist = float(np.linalg.norm(np.subtract(seg.info(Level.S).centroid_ras_mm, centre)))
    assert dist < 10.0, f"sacrum centroid {dist:.1f} mm from the reference"
    pred = seg.vertebrae.labels == int(Level.S)
    hips = np.zeros(vol.shape, dtype=bool)
    for side in ("left", "right"):
        hips |= _mask(TOTALSEG / "segmentations" / f"hip_{side}.nii.gz") > 0
    # Measured 0.53 Dice with ~27 % of the predicted sacrum in the medial ilia at the
    # sacroiliac joints (no joint gap resolved at 3 mm).
    assert _dice(pred, truth) >= 0.48
    assert (pred & hips).sum() < 0.3 * pred.sum()


@needs_tptbox
def test_tptbox_l3_with_anchor_and_low_confidence_without() -> None:
    vol = read_ct(TPTBOX / "sub-ct_label-22_ct.nii.gz")
    ref = _mask(TPTBOX / "sub-ct_seg-vert_label-22_msk.nii.gz").astype(np.uint8)
    z_l3 = float(voxel_to_world(vol.affine, np.argwhere(ref == 22).mean(axis=0))[2])
    seg = segment_spine(vol, anchors=(LevelAnchor(Level.L3, z_l3),))
    # L3 is complete; in this small noisy crop its discs are brighter than the
    # osteoporotic bodies, so its core runs into both neighbours until the endplate
    # pairs part it (measured whole Dice 0.85, body 0.94).
    _check(vol, ref, seg, Level.L3, whole_min=0.80, body_min=0.90)
    # The cut L4 below is found through the endplate pair above it (body 0.88).
    _check(vol, ref, seg, Level.L4, whole_min=0.75, body_min=0.85)
    # The cut L2 above: its body is right (Dice 0.88), but its arch, whose pedicles lie
    # above the crop, floods to L3 through the facet joints (whole centroid 10.4 mm off).
    ref_body = body_from_vertebra(ref, vol.affine) == int(Level.L2)
    assert _dice(seg.bodies.labels == int(Level.L2), ref_body) >= 0.85
    assert seg.info(Level.L2).cut_by_fov
    bare = segment_spine(vol)
    assert all(i.confidence <= 0.3 for i in bare.levels)
    assert bare.warnings
