"""Importing TotalSegmentator and VerSe masks onto the CT grid."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import kypho
from kypho.anatomy.levels import Level
from kypho.anatomy.mask_import import import_masks
from kypho.errors import EmptyInputError, MaskImportError
from kypho.imaging.mask_read import read_masks
from kypho.imaging.orientation import to_canonical
from kypho.imaging.write import write_nifti

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TS = DATA / "totalseg_example"
TPT = DATA / "tptbox_lumbar"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")

TS_LEVELS = ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]


@pytest.fixture(scope="module")
def ts_volume() -> kypho.Volume:
    return kypho.read_ct(TS / "ct.nii.gz")


def _reference(volume: kypho.Volume) -> np.ndarray:
    ref = np.zeros(volume.shape, np.uint8)
    for name in [*TS_LEVELS, "sacrum"]:
        stem = "sacrum" if name == "sacrum" else f"vertebrae_{name}"
        img = nib.load(str(TS / "segmentations" / f"{stem}.nii.gz"))
        data, _ = to_canonical(np.asanyarray(img.dataobj), img.affine)
        ref[data > 0] = int(Level.parse(name))
    return ref


def test_totalsegmentator_directory(ts_volume: kypho.Volume) -> None:
    seg = import_masks(read_masks(TS / "segmentations"), ts_volume)
    assert seg.method == "totalsegmentator"
    assert np.array_equal(seg.vertebrae.labels, _reference(ts_volume))
    names = [i.level.display for i in seg.levels]
    assert names == [*TS_LEVELS, "S"]  # cranial -> caudal
    assert all(i.confidence == 1.0 for i in seg.levels)
    # Bodies are a strict part of each vertebra: the posterior elements are cut off.
    for info in seg.levels:
        if info.level is Level.S:
            continue
        whole = seg.vertebrae.labels == info.label
        body = seg.bodies.labels == info.label
        assert not np.any(body & ~whole)
        if info.level.display in ("L1", "L2", "L3", "L4"):
            assert 0.4 < body.sum() / whole.sum() < 0.8, info.level
            # The body lies anterior of the whole vertebra's centroid.
            assert info.body_centroid_ras_mm[1] > info.centroid_ras_mm[1] + 5


def test_totalsegmentator_multilabel_file_matches_directory(
    ts_volume: kypho.Volume, tmp_path: Path
) -> None:
    ref = _reference(ts_volume)
    multi = np.zeros_like(ref)
    # Task "total" class ids: sacrum 25, L5 27 ... L1 31, T12 32, T11 33.
    ids = {"S": 25, "L5": 27, "L4": 28, "L3": 29, "L2": 30, "L1": 31, "T12": 32, "T11": 33}
    multi[ref == 1] = 1  # a non-vertebra organ class must be ignored
    for name, cls_id in ids.items():
        multi[ref == int(Level.parse(name))] = cls_id
    path = write_nifti(tmp_path / "total.nii.gz", multi, ts_volume.affine, orientation="LPS")
    seg = import_masks(read_masks(path), ts_volume)
    assert np.array_equal(seg.vertebrae.labels, ref)


def test_mask_on_another_grid_is_resampled(ts_volume: kypho.Volume, tmp_path: Path) -> None:
    ref = _reference(ts_volume)
    # Same voxels stored in another axis order: resampling must restore them exactly.
    path = write_nifti(tmp_path / "x_msk.nii.gz", ref, ts_volume.affine, orientation="PIR")
    seg = import_masks(read_masks(path), ts_volume)
    assert seg.method == "verse"
    assert np.array_equal(seg.vertebrae.labels, ref)


def test_verse_mask_in_pir() -> None:
    volume = kypho.read_ct(TPT / "sub-ct_label-22_ct.nii.gz")
    seg = import_masks(read_masks(TPT / "sub-ct_seg-vert_label-22_msk.nii.gz"), volume)
    img = nib.load(str(TPT / "sub-ct_seg-vert_label-22_msk.nii.gz"))
    ref, _ = to_canonical(np.asanyarray(img.dataobj).astype(np.uint8), img.affine)
    assert np.array_equal(seg.vertebrae.labels, ref)
    assert [i.level.display for i in seg.levels] == ["L2", "L3", "L4"]
    cut = {i.level.display: i.cut_by_fov for i in seg.levels}
    assert cut == {"L2": True, "L3": False, "L4": True}


def test_masks_that_miss_the_ct_are_refused(ts_volume: kypho.Volume, tmp_path: Path) -> None:
    ref = _reference(ts_volume)
    shifted = ts_volume.affine.copy()
    shifted[:3, 3] += 2000.0
    path = write_nifti(tmp_path / "far_msk.nii.gz", ref, shifted)
    with pytest.raises(MaskImportError, match="do not overlap"):
        import_masks(read_masks(path), ts_volume)


def test_empty_inputs(ts_volume: kypho.Volume, tmp_path: Path) -> None:
    with pytest.raises(EmptyInputError):
        import_masks(read_masks(tmp_path), ts_volume)
    path = write_nifti(tmp_path / "empty_msk.nii.gz", np.zeros((4, 4, 4), np.uint8), np.eye(4))
    with pytest.raises(MaskImportError, match="empty"):
        import_masks(read_masks(path), ts_volume)
