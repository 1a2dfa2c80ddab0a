"""Blocked copies between memory orders: the values of a plain copy, in the asked order."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from kypho.imaging.layout import copy_blocked, fortran_copy
from kypho.imaging.volume import LabelMap
from kypho.imaging.write import write_labelmap


@pytest.mark.parametrize("shape", [(37, 21, 18), (5, 3, 40), (16, 16, 16)])
def test_blocked_copy_of_transposed_and_flipped_views(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    raw = np.asfortranarray(rng.integers(-1000, 2000, size=shape, dtype=np.int16))
    for src in (raw, raw[::-1, :, ::-1], raw.transpose(2, 1, 0)):
        dst = np.empty(src.shape, np.float32)
        copy_blocked(dst, src)
        assert np.array_equal(dst, src.astype(np.float32))


def test_fortran_copy_casts_and_keeps_values() -> None:
    rng = np.random.default_rng(1)
    hu = np.round(rng.normal(0.0, 400.0, size=(33, 19, 12))).astype(np.float32)
    out = fortran_copy(hu[:, ::-1], np.int16)
    assert out.flags.f_contiguous and out.dtype == np.int16
    assert np.array_equal(out, hu[:, ::-1].astype(np.int16))


def test_a_label_map_written_reads_back_voxel_for_voxel(tmp_path) -> None:
    labels = np.zeros((40, 30, 20), np.uint8)
    labels[5:30, 3:25, 2:9] = 20
    labels[8:12, 10:14, 9:18] = 21
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    path = write_labelmap(tmp_path / "labels.nii.gz", LabelMap(labels, affine))
    back = np.asarray(nib.load(path).dataobj)
    assert back.dtype == np.uint8 and np.array_equal(back, labels)
