"""Cross-checks of imported level names: VerSe centroid files and TotalSegmentator ribs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import kypho
from kypho.anatomy.crosscheck import check_centroids, verse_centroids_ras
from kypho.anatomy.levels import Level
from kypho.anatomy.masks import DISPUTED_CONFIDENCE, import_masks
from kypho.errors import CorruptFileError
from kypho.imaging.centroid_read import find_centroid_file, read_centroid_file
from kypho.imaging.mask_read import read_masks
from kypho.imaging.orientation import voxel_to_world

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TS = DATA / "totalseg_example"
TPT = DATA / "tptbox_lumbar"
TPT_MASK = "sub-ct_seg-vert_label-22_msk.nii.gz"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")


def _write_ctd(path: Path, direction: list[str], points: dict[int, np.ndarray]) -> None:
    items: list[dict] = [{"direction": direction}]
    items += [
        {"label": k, "X": float(p[0]), "Y": float(p[1]), "Z": float(p[2])}
        for k, p in points.items()
    ]
    path.write_text(json.dumps(items), encoding="utf-8")


def _tpt_centroid_pir(label: int) -> tuple[np.ndarray, np.ndarray]:
    """Voxel centroid (stored PIR grid) and world centroid of one reference label."""
    img = nib.load(str(TPT / TPT_MASK))
    ijk = np.argwhere(np.asanyarray(img.dataobj) == label).mean(axis=0)
    return ijk, voxel_to_world(img.affine, ijk)


def test_centroid_file_in_another_direction_maps_to_the_same_world_point(tmp_path: Path) -> None:
    img = nib.load(str(TPT / TPT_MASK))
    assert "".join(nib.aff2axcodes(img.affine)) == "PIR"
    ijk_pir, world = _tpt_centroid_pir(22)
    _write_ctd(tmp_path / "a_ctd.json", ["P", "I", "R"], {22: ijk_pir})
    # The same point written in RAS voxel order of the same grid: flip P->A and I->S.
    n = img.shape
    ijk_ras = np.array([ijk_pir[2], n[0] - 1 - ijk_pir[0], n[1] - 1 - ijk_pir[1]])
    _write_ctd(tmp_path / "b_ctd.json", ["R", "A", "S"], {22: ijk_ras})
    a = verse_centroids_ras(read_centroid_file(tmp_path / "a_ctd.json"), img.affine, img.shape)
    b = verse_centroids_ras(read_centroid_file(tmp_path / "b_ctd.json"), img.affine, img.shape)
    assert np.allclose(a[Level.L3], world, atol=1e-6)
    assert np.allclose(b[Level.L3], world, atol=1e-6)


def test_bad_centroid_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x_ctd.json"
    bad.write_text('[{"direction": ["P", "P", "R"]}]', encoding="utf-8")
    with pytest.raises(CorruptFileError, match="direction"):
        read_centroid_file(bad)
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="not a VerSe centroid file"):
        read_centroid_file(bad)


def test_check_centroids_flags_a_swapped_label() -> None:
    mask = {Level.L3: (0.0, 0.0, 0.0), Level.L4: (0.0, 0.0, -30.0)}
    ok = check_centroids(mask, {Level.L3: (1.0, 2.0, 2.0)})
    assert ok.warnings == () and ok.distance_mm[Level.L3] == pytest.approx(3.0)
    swapped = check_centroids(mask, {Level.L3: (0.0, 0.0, -29.0)})
    assert len(swapped.warnings) == 1 and "nearest mask label: L4" in swapped.warnings[0]


def _tpt_case(tmp_path: Path) -> Path:
    (tmp_path / TPT_MASK).symlink_to((TPT / TPT_MASK).resolve())
    return tmp_path / TPT_MASK


def test_verse_import_uses_the_centroid_file(tmp_path: Path) -> None:
    volume = kypho.read_ct(TPT / "sub-ct_label-22_ct.nii.gz")
    mask = _tpt_case(tmp_path)
    ijk, _ = _tpt_centroid_pir(22)
    ctd = tmp_path / "sub-ct_seg-subreg_label-22_ctd.json"
    _write_ctd(ctd, ["P", "I", "R"], {22: ijk})
    assert find_centroid_file(mask) == ctd
    source = read_masks(mask)
    assert source.centroids is not None and source.centroids.name == ctd.name
    assert [label for label, _ in source.centroids.points] == [22]
    seg = import_masks(source, volume)
    assert seg.method == "verse" and seg.warnings == ()
    l3 = seg.info("L3")
    assert l3.confidence == 1.0
    assert any("agrees within" in e for e in l3.evidence)


def test_verse_import_disputes_a_centroid_that_disagrees(tmp_path: Path) -> None:
    volume = kypho.read_ct(TPT / "sub-ct_label-22_ct.nii.gz")
    mask = _tpt_case(tmp_path)
    ijk, _ = _tpt_centroid_pir(22)
    # 20 voxels (30 mm) caudal: in PIR the second axis runs towards inferior.
    _write_ctd(
        tmp_path / "sub-ct_ctd.json", ["P", "I", "R"], {22: ijk + np.array([0.0, 20.0, 0.0])}
    )
    seg = import_masks(read_masks(mask), volume)
    assert any("L3" in w and "check the labels" in w for w in seg.warnings)
    assert seg.info("L3").confidence == DISPUTED_CONFIDENCE
    # The imported voxels themselves are untouched.
    ref = np.asanyarray(nib.load(str(TPT / TPT_MASK)).dataobj)
    assert sorted(seg.vertebrae.present()) == sorted(int(v) for v in np.unique(ref) if v)


def test_totalsegmentator_ribs_confirm_t12() -> None:
    volume = kypho.read_ct(TS / "ct.nii.gz")
    seg = import_masks(read_masks(TS / "segmentations"), volume)
    assert not any("check the level labels" in w for w in seg.warnings)
    assert any("rib_left_12 meets T12" in e for e in seg.info("T12").evidence)
    assert all(i.confidence == 1.0 for i in seg.levels)


def test_totalsegmentator_ribs_catch_an_off_by_one_labelling(tmp_path: Path) -> None:
    # Every vertebra named one level too low (T12 -> L1, ..., L4 -> L5): the classic error.
    names = ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    shifted = dict(itertools.pairwise(names))
    for src in (TS / "segmentations").iterdir():
        stem = src.name.removesuffix(".nii.gz")
        if stem.startswith("vertebrae_"):
            level = stem.removeprefix("vertebrae_")
            if level not in shifted:
                continue  # L5 would collide with the shifted L4
            dst = f"vertebrae_{shifted[level]}.nii.gz"
        else:
            dst = src.name
        (tmp_path / dst).symlink_to(src.resolve())
    volume = kypho.read_ct(TS / "ct.nii.gz")
    seg = import_masks(read_masks(tmp_path), volume)
    assert any("rib_left_12" in w and "expected T12" in w for w in seg.warnings)
    assert all(i.confidence == DISPUTED_CONFIDENCE for i in seg.levels)
