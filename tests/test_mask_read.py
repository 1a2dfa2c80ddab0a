"""Mask files are read by kypho.imaging; anatomy receives arrays and affines."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from kypho.errors import MaskImportError, NotAnImageError
from kypho.imaging.mask_read import read_label_file, read_masks


def _write(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def test_a_label_file_is_kept_as_its_box_and_restored_exactly(tmp_path: Path) -> None:
    data = np.zeros((40, 30, 20), np.uint8)
    data[5:9, 10:12, 3:15] = 20
    data[7, 11, 16] = 21
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    affine[:3, 3] = (-10.0, 4.0, 100.0)
    f = read_label_file(_write(tmp_path / "m.nii.gz", data, affine))
    assert f.crop.shape == (4, 2, 14) and f.origin == (5, 10, 3)
    assert f.shape == data.shape
    np.testing.assert_array_equal(f.labels(), data)
    np.testing.assert_allclose(f.affine, affine)


def test_an_empty_file_reads_as_an_empty_map(tmp_path: Path) -> None:
    f = read_label_file(_write(tmp_path / "e.nii.gz", np.zeros((6, 5, 4), np.uint8), np.eye(4)))
    assert not f.labels().any() and f.labels().shape == (6, 5, 4)


def test_a_totalsegmentator_folder_reads_its_vertebrae_sacrum_and_ribs_10_to_12(
    tmp_path: Path,
) -> None:
    data = np.zeros((8, 8, 8), np.uint8)
    data[2:4, 2:4, 2:4] = 1
    for name in ("vertebrae_L1", "sacrum", "rib_left_11", "rib_left_7", "liver"):
        _write(tmp_path / f"{name}.nii.gz", data, np.eye(4))
    src = read_masks(tmp_path)
    assert src.is_folder
    assert [f.name for f in src.files] == [
        "rib_left_11.nii.gz", "sacrum.nii.gz", "vertebrae_L1.nii.gz"
    ]
    assert len(src.names) == 5


def test_unreadable_masks_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotAnImageError, match="does not exist"):
        read_masks(tmp_path / "nothing.nii.gz")
    bad = _write(tmp_path / "f.nii.gz", np.full((4, 4, 4), 0.5, np.float32), np.eye(4))
    with pytest.raises(MaskImportError, match="non-integer"):
        read_masks(bad)
