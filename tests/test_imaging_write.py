"""Writers: no overwrite without permission, never onto inputs, atomic, right dtypes."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813

from kypho.errors import OutputExistsError
from kypho.imaging import write as write_module
from kypho.imaging.dicom_write import write_dicom_series
from kypho.imaging.orientation import LPS_TO_RAS
from kypho.imaging.volume import LabelMap, Volume
from kypho.imaging.write import (
    atomic_write_bytes,
    atomic_write_text,
    write_labelmap,
    write_nifti,
    write_volume,
)

from .test_imaging_synthetic import ct_block, make_affine


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".tmp" in p.name]


def test_write_nifti_refuses_overwrite_and_protected(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine()
    out = write_nifti(tmp_path / "a.nii.gz", hu, affine)
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match=r"a\.nii\.gz"):
        write_nifti(out, hu + 1, affine)
    assert out.read_bytes() == before
    write_nifti(out, hu + 1, affine, overwrite=True)
    assert np.asanyarray(nib.load(out).dataobj)[0, 0, 0] == hu[0, 0, 0] + 1
    with pytest.raises(OutputExistsError, match="input"):
        write_nifti(out, hu, affine, overwrite=True, protected=[str(tmp_path / "." / "a.nii.gz")])
    assert _no_temp_files(tmp_path)


def test_write_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hu, affine = ct_block(), make_affine()
    out = write_nifti(tmp_path / "a.nii.gz", hu, affine)
    before = out.read_bytes()

    def broken_save(img: object, name: str) -> None:
        Path(name).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(write_module.nib, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_nifti(out, hu + 5, affine, overwrite=True)
    assert out.read_bytes() == before  # the old file is intact
    with pytest.raises(OSError):
        write_nifti(tmp_path / "b.nii.gz", hu, affine)
    assert not (tmp_path / "b.nii.gz").exists()
    assert _no_temp_files(tmp_path)


def test_write_nifti_dtypes_and_codes(tmp_path: Path) -> None:
    affine = make_affine(rotation_deg=(5, 0, 0))
    labels = np.zeros((10, 12, 8), dtype=np.uint8)
    labels[2:5] = 22
    img = nib.load(write_labelmap(tmp_path / "l.nii.gz", LabelMap(labels, np.eye(4))))
    assert img.get_data_dtype() == np.uint8
    img = nib.load(write_nifti(tmp_path / "l64.nii.gz", labels.astype(np.int64), affine))
    assert img.get_data_dtype() == np.uint8  # int64 is unreadable by many tools
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels)
    img = nib.load(write_nifti(tmp_path / "ct.nii.gz", ct_block(), affine))
    assert img.get_data_dtype() == np.int16
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1
    np.testing.assert_allclose(img.affine, affine, atol=1e-5)
    np.testing.assert_allclose(img.get_qform(), affine, atol=1e-4)
    frac = ct_block() + 0.25
    img = nib.load(write_nifti(tmp_path / "f.nii.gz", frac, affine))
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), frac)
    volume = Volume.from_array(ct_block(), affine)
    img = nib.load(write_volume(tmp_path / "v.nii.gz", volume, orientation="PIR"))
    assert nib.aff2axcodes(img.affine) == ("P", "I", "R")


def test_atomic_text_and_bytes(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "sub" / "r.json", '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    with pytest.raises(OutputExistsError, match=r"r\.json"):
        atomic_write_text(path, "{}")
    atomic_write_bytes(path, b"{}", overwrite=True)
    assert path.read_bytes() == b"{}"
    with pytest.raises(OutputExistsError):
        atomic_write_bytes(path, b"x", overwrite=True, protected=[path])
    assert _no_temp_files(path.parent)


def test_dicom_series_tags_read_by_simpleitk(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine(rotation_deg=(0, 0, 20))
    files = write_dicom_series(tmp_path, hu, affine, series_description="test")
    assert len(files) == hu.shape[2]
    ds = pydicom.dcmread(files[0])
    assert ds.SOPClassUID == pydicom.uid.CTImageStorage
    assert ds.Modality == "CT" and ds.SeriesDescription == "test"
    assert ds.pixel_array.dtype == np.int16
    assert float(ds.SpacingBetweenSlices) == pytest.approx(2.5)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    image = reader.Execute()
    # SimpleITK's own geometry, converted from LPS, puts voxel (0,0,0) where ours is.
    direction = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
    lps = np.eye(4)
    lps[:3, :3], lps[:3, 3] = direction, image.GetOrigin()
    ras = LPS_TO_RAS @ lps
    array = sitk.GetArrayFromImage(image).T
    ours = Volume.from_array(hu, affine)
    theirs = Volume.from_array(array, ras)
    np.testing.assert_allclose(theirs.affine, ours.affine, atol=1e-4)
    np.testing.assert_array_equal(theirs.hu, ours.hu)
    with pytest.raises(OutputExistsError, match="IM00001"):
        write_dicom_series(tmp_path, hu, affine)
