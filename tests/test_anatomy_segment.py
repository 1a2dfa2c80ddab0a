"""The public segmentation entry point (kypho.anatomy.segment): options, dispatch, real CT."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import kypho
from kypho.anatomy.levels import Level, LevelAnchor
from kypho.anatomy.segment import (
    SegmentationOptionError,
    _option_warnings,
    parse_anchor,
    segment,
    segment_spine,
)
from kypho.errors import KyphoError, NoSpineFoundError
from kypho.imaging.mask_read import read_masks
from kypho.imaging.orientation import to_canonical, voxel_to_world
from kypho.imaging.volume import LabelMap, Volume
from kypho.model import LevelInfo, Segmentation

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TS = DATA / "totalseg_example"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")


@cache
def _ts_volume() -> Volume:
    return kypho.read_ct(TS / "ct.nii.gz")


@cache
def _ts_reference() -> dict[Level, np.ndarray]:
    """Reference whole-vertebra masks of totalseg_example on the CT grid."""
    out = {}
    for p in sorted((TS / "segmentations").glob("vertebrae_*.nii.gz")):
        img = nib.load(str(p))
        data, _ = to_canonical(np.asanyarray(img.dataobj), img.affine)
        out[Level.parse(p.name.split(".")[0])] = data > 0
    return out


def _water_cylinder() -> Volume:
    # A 200 mm water cylinder in air at 1.5 x 1.5 x 3 mm: soft tissue only, no bone.
    shape = (120, 120, 30)
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    disc = (x - 60) ** 2 + (y - 60) ** 2 < (100 / 1.5) ** 2
    hu = np.where(disc[..., None], 0.0, -1000.0) + np.random.default_rng(0).normal(0, 12, shape)
    return Volume(hu.astype(np.float32), np.diag([1.5, 1.5, 3.0, 1.0]))


# --- options -------------------------------------------------------------------------


def test_parse_anchor() -> None:
    assert parse_anchor("T12@41.5") == ("T12", 41.5)
    assert parse_anchor("vertebrae_L1@-12") == ("L1", -12.0)
    for bad in ("T12", "X3@10", "L1@abc"):
        with pytest.raises(SegmentationOptionError):
            parse_anchor(bad)
    assert issubclass(SegmentationOptionError, KyphoError)


def test_invalid_options_are_clear_errors() -> None:
    vol = _water_cylinder()  # options are checked before any image analysis
    z_top = float(voxel_to_world(vol.affine, [0, 0, vol.shape[2] - 1])[2])
    with pytest.raises(SegmentationOptionError, match="'T5'"):
        segment_spine(vol, lowest="T5")
    with pytest.raises(SegmentationOptionError, match="unknown vertebral level"):
        segment_spine(vol, lowest="Q9")
    with pytest.raises(SegmentationOptionError, match="outside the image"):
        segment_spine(vol, anchors={"T12": z_top + 500.0})
    with pytest.raises(SegmentationOptionError, match="out of order"):
        segment_spine(vol, anchors={"T12": 10.0, "L1": 40.0})  # L1 above T12
    with pytest.raises(SegmentationOptionError, match="sacrum"):
        segment_spine(vol, anchors={"S": 10.0})
    with pytest.raises(SegmentationOptionError, match="keep their own labels"):
        segment(vol, masks=TS / "segmentations", lowest="L5")


def test_no_spine_raises() -> None:
    with pytest.raises(NoSpineFoundError):
        segment_spine(_water_cylinder())


def _toy_segmentation(z_by_level: dict[str, float]) -> Segmentation:
    labels = LabelMap(np.zeros((4, 4, 4), np.uint8), np.eye(4))
    levels = [
        LevelInfo(Level.parse(n), (0.0, 0.0, z), (0.0, 5.0, z), 100, 0.9)
        for n, z in z_by_level.items()
    ]
    return Segmentation(labels, labels, levels, "builtin")


def test_unhonoured_options_are_reported() -> None:
    seg = _toy_segmentation({"T12": 100.0, "L1": 70.0, "L5": -30.0, "S": -70.0})
    assert _option_warnings(seg, Level.L5, (LevelAnchor(Level.T12, 95.0),)) == []
    anchors = (LevelAnchor(Level.T12, 40.0), LevelAnchor(Level.L2, 0.0))
    warnings = _option_warnings(seg, Level.L6, anchors)
    assert any("T12@40 was not honoured" in w for w in warnings)
    assert any("no vertebra labelled L2" in w for w in warnings)
    assert any("lowest=L6 was not honoured" in w for w in warnings)


# --- real CT -------------------------------------------------------------------------


@needs_data
def test_import_dispatch() -> None:
    seg = segment(_ts_volume(), masks=read_masks(TS / "segmentations"))
    assert seg.method == "totalsegmentator"
    assert [i.level.display for i in seg.levels][-1] == "S"


@cache
def _ts_segmentation() -> Segmentation:
    return segment_spine(_ts_volume())


@needs_data
def test_totalseg_example_levels() -> None:
    """Every fully visible reference vertebra (T12-L5) found with its level, within 10 mm."""
    vol, seg = _ts_volume(), _ts_segmentation()
    found = {i.level: i for i in seg.levels}
    for level in (Level.T12, Level.L1, Level.L2, Level.L3, Level.L4, Level.L5):
        ref = _ts_reference()[level]
        ref_c = voxel_to_world(vol.affine, np.argwhere(ref).mean(axis=0))
        assert level in found, f"{level.display} missing; found {[lv.display for lv in found]}"
        dist = float(np.linalg.norm(np.subtract(found[level].centroid_ras_mm, ref_c)))
        assert dist < 10.0, f"{level.display} centroid {dist:.1f} mm from the reference"
    assert Level.S in found
    assert not any("missed" in w or "not consecutive" in w for w in seg.warnings), seg.warnings
    # Held at 0.45: L5 is cut from the sacral core (tests/test_engine_sacral_cut.py).
    assert all(i.confidence >= 0.45 for i in seg.levels if i.level in _ts_reference())


@needs_data
def test_totalseg_example_options_relabel() -> None:
    vol, plain = _ts_volume(), _ts_segmentation()
    found = [i.level.display for i in plain.levels]
    assert {"L1", "L5"} <= set(found), f"plain run found {found}"
    l5 = plain.info("L5")
    # A user who counts this spine as having a sacralised L5: the vertebra on the sacrum
    # becomes L4 and every other one shifts by one level.
    four = segment_spine(vol, lowest="L4")
    assert not any("not honoured" in w for w in four.warnings)
    moved = min(
        four.levels,
        key=lambda i: np.linalg.norm(np.subtract(i.centroid_ras_mm, l5.centroid_ras_mm)),
    )
    assert moved.level is Level.L4
    # Anchoring the real L1 as "L2" shifts the count the same way.
    z_l1 = plain.info("L1").body_centroid_ras_mm[2]
    anchored = segment_spine(vol, anchors={"L2": z_l1})
    assert not any("not honoured" in w for w in anchored.warnings)
    assert abs(anchored.info("L2").centroid_ras_mm[2] - plain.info("L1").centroid_ras_mm[2]) < 5
