"""Every kind of bad input gets its own kypho error, with the offending value named."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from kypho import read_ct
from kypho.errors import (
    CorruptFileError,
    EmptyInputError,
    GantryTiltError,
    KyphoError,
    MixedSeriesError,
    NotACTError,
    NotAnImageError,
    SingleSliceError,
    SliceSpacingError,
)
from kypho.imaging.dicom_write import write_dicom_series
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.write import write_nifti

from .test_imaging_synthetic import ct_block, enhanced_ct, make_affine


@pytest.fixture
def series(tmp_path: Path) -> list[Path]:
    return write_dicom_series(tmp_path / "ct", ct_block(), make_affine())


def _retag(path: Path, **tags: object) -> None:
    ds = pydicom.dcmread(path)
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.save_as(path)


# --- not an image, missing, empty -------------------------------------------------------

def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(KyphoError, match=r"nowhere\.nii\.gz"):
        read_ct(tmp_path / "nowhere.nii.gz")


@pytest.mark.parametrize("content", [b"patient notes\nnothing to see\n" * 20,
                                     bytes(np.random.default_rng(1).integers(0, 256, 4000,
                                                                             dtype=np.uint8))])
def test_not_an_image(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "file.dat").write_bytes(content)
    with pytest.raises(NotAnImageError, match=r"file\.dat"):
        read_ct(tmp_path / "file.dat")


def test_empty_folder_and_folder_without_images(tmp_path: Path) -> None:
    with pytest.raises(EmptyInputError, match="no files"):
        read_ct(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EmptyInputError, match="no DICOM image"):
        read_ct(tmp_path)


# --- not CT -----------------------------------------------------------------------------

@pytest.mark.parametrize("modality", ["MR", "PT", "SEG"])
def test_dicom_other_modality(series: list[Path], modality: str) -> None:
    for f in series:
        _retag(f, Modality=modality)
    with pytest.raises(NotACTError, match=modality):
        read_ct(series[0].parent)


def test_dicom_mr_written_as_mr(tmp_path: Path) -> None:
    write_dicom_series(tmp_path, ct_block(), make_affine(), modality="MR")
    with pytest.raises(NotACTError, match="MR"):
        read_ct(tmp_path)


def test_dicom_without_pixels(tmp_path: Path) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID, ds.Modality = ds.file_meta.MediaStorageSOPClassUID, "SR"
    ds.SOPInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    with pytest.raises(NotACTError, match="SR"):
        read_ct(tmp_path)
    with pytest.raises(NotACTError, match="SR"):
        read_ct(tmp_path / "sr.dcm")


def test_nifti_mr_like_values(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).normal(0.0, 20.0, ct_block().shape)
    mr = np.abs((ct_block() + 1000.0) * 2.0 + noise)  # 0..6000, no negative air, like MR
    write_nifti(tmp_path / "mr.nii.gz", mr, make_affine())
    with pytest.raises(NotACTError, match="does not look like a CT"):
        read_ct(tmp_path / "mr.nii.gz")


def test_nifti_label_map(tmp_path: Path) -> None:
    labels = np.zeros((20, 20, 20), dtype=np.uint8)
    labels[5:10, 5:15, 5:15], labels[10:15, 5:15, 5:15] = 20, 21
    write_nifti(tmp_path / "seg.nii.gz", labels, make_affine())
    with pytest.raises(NotACTError, match="label map"):
        read_ct(tmp_path / "seg.nii.gz")


def test_nifti_four_d_and_colour(tmp_path: Path) -> None:
    hu = ct_block()
    nib.save(nib.Nifti1Image(np.stack([hu] * 3, axis=-1), make_affine()), tmp_path / "t.nii")
    with pytest.raises(NotACTError, match="4-D"):
        read_ct(tmp_path / "t.nii")
    # A singleton fourth axis is just a 3-D volume.
    nib.save(nib.Nifti1Image(hu[..., None], make_affine()), tmp_path / "s.nii")
    assert read_ct(tmp_path / "s.nii").shape == hu.shape
    rgb = np.zeros(hu.shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, make_affine()), tmp_path / "rgb.nii")
    with pytest.raises(NotACTError, match="colour"):
        read_ct(tmp_path / "rgb.nii")


# --- slices -----------------------------------------------------------------------------

def test_single_slice(tmp_path: Path, series: list[Path]) -> None:
    single = tmp_path / "one"
    single.mkdir()
    shutil.copy(series[3], single / "x.dcm")
    with pytest.raises(SingleSliceError, match="single slice"):
        read_ct(single)
    nib.save(nib.Nifti1Image(ct_block()[:, :, :1], make_affine()), tmp_path / "s.nii.gz")
    with pytest.raises(SingleSliceError, match=r"\(40, 36, 1\)"):
        read_ct(tmp_path / "s.nii.gz")
    nib.save(nib.Nifti1Image(ct_block()[:, :, 0], np.eye(4)), tmp_path / "flat.nii.gz")
    with pytest.raises(SingleSliceError):
        read_ct(tmp_path / "flat.nii.gz")


def test_missing_slice_is_named(series: list[Path]) -> None:
    series[6].unlink()  # slices are 2.5 mm apart: a 5 mm gap
    with pytest.raises(SliceSpacingError, match=r"5\.00 mm .* spacing is 2\.50 mm"):
        read_ct(series[0].parent)


def test_missing_slice_resampled_on_request(series: list[Path]) -> None:
    hu, affine = ct_block(), make_affine()
    series[6].unlink()
    volume = read_ct(series[0].parent, resample_uneven=True)
    assert volume.shape == hu.shape
    assert any("interpolated" in w for w in volume.meta["warnings"])
    np.testing.assert_allclose(volume.affine, affine, atol=1e-4)
    # The missing slice is the mean of its neighbours; the others are untouched.
    np.testing.assert_allclose(volume.hu[:, :, 6], (hu[:, :, 5] + hu[:, :, 7]) / 2, atol=1e-3)
    np.testing.assert_array_equal(volume.hu[:, :, 7:], hu[:, :, 7:])


def test_duplicated_position(series: list[Path]) -> None:
    dup = series[0].parent / "copy.dcm"
    shutil.copy(series[4], dup)
    # An exact copy (same SOP Instance UID) is read once, with a warning.
    volume = read_ct(series[0].parent)
    assert volume.shape[2] == len(series)
    assert any("copies" in w for w in volume.meta["warnings"])
    _retag(dup, SOPInstanceUID=generate_uid())
    with pytest.raises(SliceSpacingError, match="same position"):
        read_ct(series[0].parent)


def _tilted_affine(tilt_deg: float) -> np.ndarray:
    affine = make_affine(spacing=(0.8, 0.8, 2.0))
    # Gantry tilt about the left-right axis: each slice moves along A-P by dz * tan(tilt).
    affine[:3, 2] = [0.0, 2.0 * np.tan(np.deg2rad(tilt_deg)), 2.0]
    return affine


def test_gantry_tilt_refused_or_corrected(tmp_path: Path) -> None:
    shape = (48, 56, 16)
    hu = np.full(shape, -1000.0, dtype=np.float32)
    hu[8:40, 8:48, :] = 40.0
    blobs = [(14, 20, 3), (30, 36, 8), (20, 30, 12)]
    for i, j, k in blobs:
        hu[i - 1:i + 2, j - 1:j + 2, k] = 1500.0
    affine = _tilted_affine(15.0)
    write_dicom_series(tmp_path, hu, affine)
    with pytest.raises(GantryTiltError, match=r"15\.00 degrees"):
        read_ct(tmp_path, correct_tilt=False)
    volume = read_ct(tmp_path)
    assert any("15.00 degrees" in w for w in volume.meta["warnings"])
    assert not volume.meta["oblique"]
    # Each bright blob keeps its world position (centroid of its interpolated voxels).
    for i, j, k in blobs:
        expected = voxel_to_world(affine, (i, j, k))
        near = np.argwhere(volume.hu > 100)
        world = voxel_to_world(volume.affine, near)
        close = np.linalg.norm(world - expected, axis=1) < 4.0
        weights = volume.hu[tuple(near[close].T)] - 40.0
        centroid = (world[close] * weights[:, None]).sum(0) / weights.sum()
        assert np.linalg.norm(centroid - expected) < 0.5


# --- mixed series -----------------------------------------------------------------------

def test_mixed_sizes_in_one_series(tmp_path: Path, series: list[Path]) -> None:
    ds = pydicom.dcmread(series[0])
    files = write_dicom_series(tmp_path / "ct" / "other", ct_block((40, 30, 12)),
                               make_affine(origin=(0, 0, 200)),
                               series_uid=ds.SeriesInstanceUID, study_uid=ds.StudyInstanceUID)
    for f in files:
        _retag(f, FrameOfReferenceUID=ds.FrameOfReferenceUID)
    with pytest.raises(MixedSeriesError, match="30x40"):
        read_ct(tmp_path / "ct")


def test_mixed_orientations_in_one_series(tmp_path: Path, series: list[Path]) -> None:
    ds = pydicom.dcmread(series[0])
    files = write_dicom_series(tmp_path / "ct" / "other", ct_block(),
                               make_affine(rotation_deg=(0, 0, 30), origin=(0, 0, 200)),
                               series_uid=ds.SeriesInstanceUID)
    for f in files:
        _retag(f, StudyInstanceUID=ds.StudyInstanceUID,
               FrameOfReferenceUID=ds.FrameOfReferenceUID)
    with pytest.raises(MixedSeriesError, match="orientation"):
        read_ct(tmp_path / "ct")


def test_mixed_studies_in_one_series(series: list[Path]) -> None:
    _retag(series[2], StudyInstanceUID=generate_uid())
    with pytest.raises(MixedSeriesError, match="studies"):
        read_ct(series[0].parent)


def test_series_choice_and_unknown_series(tmp_path: Path, series: list[Path]) -> None:
    small = ct_block((40, 36, 12))[:, :, :11]
    other = write_dicom_series(tmp_path / "ct" / "b", small, make_affine(),
                               series_number=7, series_description="thin")
    volume = read_ct(tmp_path / "ct")
    assert volume.shape[2] == 12
    assert any("2 image series" in w and "thin" in w for w in volume.meta["warnings"])
    assert read_ct(tmp_path / "ct", series="7").shape[2] == 11
    uid = str(pydicom.dcmread(other[0]).SeriesInstanceUID)
    assert read_ct(tmp_path / "ct", series=uid).meta["series_uid"] == uid
    with pytest.raises(EmptyInputError, match=r"No series '99'.*thin"):
        read_ct(tmp_path / "ct", series="99")


# --- corrupt ----------------------------------------------------------------------------

def test_truncated_pixel_data(series: list[Path]) -> None:
    data = series[5].read_bytes()
    series[5].write_bytes(data[: len(data) - 700])
    with pytest.raises(CorruptFileError, match=series[5].name):
        read_ct(series[0].parent)


def test_header_garbage(series: list[Path]) -> None:
    rng = np.random.default_rng(3)
    data = bytearray(series[5].read_bytes())
    data[132:600] = rng.integers(0, 256, 468, dtype=np.uint8).tobytes()
    series[5].write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=series[5].name):
        read_ct(series[0].parent)


def test_truncated_nifti(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "ct.nii.gz", ct_block(), make_affine())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"ct\.nii\.gz"):
        read_ct(path)


def test_multiframe_with_missing_position(tmp_path: Path) -> None:
    path = enhanced_ct(tmp_path, ct_block(), make_affine())
    ds = pydicom.dcmread(path)
    del ds.PerFrameFunctionalGroupsSequence[3].PlanePositionSequence
    ds.save_as(path)
    with pytest.raises(CorruptFileError, match="Frame 4"):
        read_ct(path)


def test_dicom_without_rescale_intercept_is_not_hu(series: list[Path]) -> None:
    # A CT exported with its -1024 intercept lost: air reads as about 0 "HU".
    for f in series:
        _retag(f, RescaleIntercept="0")
    with pytest.raises(NotACTError, match="rescale intercept"):
        read_ct(series[0].parent)


def test_singular_geometry(tmp_path: Path, series: list[Path]) -> None:
    img = nib.Nifti1Image(ct_block(), make_affine())
    sform = make_affine()
    sform[:3, 2] = 0.0  # a zero slice spacing
    img.set_sform(sform, code=1)
    nib.save(img, tmp_path / "flat.nii.gz")
    with pytest.raises(CorruptFileError, match="geometry"):
        read_ct(tmp_path / "flat.nii.gz")
    for f in series:
        _retag(f, PixelSpacing=["0", "0"])
    with pytest.raises(CorruptFileError, match="geometry"):
        read_ct(series[0].parent)


def test_nifti_without_voxels(tmp_path: Path) -> None:
    nib.save(nib.Nifti1Image(np.zeros((0, 4, 4), np.int16), np.eye(4)), tmp_path / "e.nii")
    with pytest.raises(EmptyInputError, match="no voxels"):
        read_ct(tmp_path / "e.nii")
