"""Write a marked CT block in every format and orientation, read it back with read_ct."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless, generate_uid

from kypho import read_ct
from kypho.imaging.dicom_write import write_dicom_series
from kypho.imaging.orientation import LPS_TO_RAS
from kypho.imaging.volume import Volume
from kypho.imaging.write import write_nifti

from .test_imaging_synthetic import assert_markers_at, ct_block, enhanced_ct, make_affine


def _same_volume(volume: Volume, hu: np.ndarray, affine: np.ndarray) -> None:
    """`volume` holds exactly the voxels of (hu, affine) on the same world grid."""
    ref = Volume.from_array(hu, affine)
    assert volume.hu.shape == ref.hu.shape
    np.testing.assert_allclose(volume.affine, ref.affine, atol=1e-4)
    np.testing.assert_array_equal(volume.hu, ref.hu)
    assert_markers_at(volume, affine)


@pytest.mark.parametrize("code", ["RAS", "LPS", "PIR", "SLA", "ILP", "ASL"])
def test_nifti_every_orientation(tmp_path: Path, code: str) -> None:
    hu, affine = ct_block(), make_affine()
    path = write_nifti(tmp_path / f"ct_{code}.nii.gz", hu, affine, orientation=code)
    assert "".join(nib.aff2axcodes(nib.load(path).affine)) == code
    volume = read_ct(path)
    assert volume.meta["orientation"] == code
    assert volume.meta["format"] == "NIfTI"
    assert volume.source == str(path)
    _same_volume(volume, hu, affine)


def test_nifti_oblique_keeps_rotation(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine(rotation_deg=(15.0, 0.0, -12.0))
    path = write_nifti(tmp_path / "oblique.nii.gz", hu, affine, orientation="LPI")
    volume = read_ct(path)
    assert volume.meta["oblique"]
    _same_volume(volume, hu, affine)


def test_nifti_scaled_int16_applies_slope(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine()
    hu[3, 3, 3] = -999.5  # a half-HU value only the slope can represent
    stored = np.asfortranarray((hu + 1024.0) / 0.5).astype(np.int16)
    # nibabel recomputes scaling on save, so the header and data are written by hand.
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(hu.shape)
    hdr.set_data_dtype(np.int16)
    hdr.set_sform(affine, code=1)
    hdr["scl_slope"], hdr["scl_inter"], hdr["vox_offset"] = 0.5, -1024.0, 352
    with open(tmp_path / "scaled.nii", "wb") as fh:
        hdr.write_to(fh)
        fh.write(b"\0" * (352 - fh.tell()))
        fh.write(stored.tobytes(order="F"))
    with open(tmp_path / "scaled.nii", "rb") as fh:
        assert nib.Nifti1Header.from_fileobj(fh).get_slope_inter() == (0.5, -1024.0)
    volume = read_ct(tmp_path / "scaled.nii")
    _same_volume(volume, hu, affine)


def test_nifti_qform_only_is_used(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine(rotation_deg=(0, 8, 0))
    img = nib.Nifti1Image(hu.astype(np.int16), None)
    img.set_qform(affine, code=1)
    img.set_sform(np.eye(4), code=0)
    nib.save(img, tmp_path / "qform.nii.gz")
    volume = read_ct(tmp_path / "qform.nii.gz")
    assert volume.meta["affine_source"] == "qform"
    _same_volume(volume, hu, affine)


def _scatter(files: list[Path], dest: Path, seed: int = 0) -> None:
    """Move files to random names in nested folders, in shuffled order, with clutter."""
    rng = random.Random(seed)
    files = list(files)
    rng.shuffle(files)
    for k, f in enumerate(files):
        sub = dest / f"d{rng.randint(0, 2)}" / ("deep" if k % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.move(f, sub / f"{rng.getrandbits(40):x}")
    (dest / "README.txt").write_text("exported by a PACS\n")
    (dest / "d0" / "thumbs.db").write_bytes(bytes(rng.getrandbits(8) for _ in range(700)))
    # A DICOMDIR and a structured report must be skipped, not read as slices.
    for name, sop_class, modality in (("DICOMDIR", "1.2.840.10008.1.3.10", None),
                                      ("report", "1.2.840.10008.5.1.4.1.1.88.22", "SR")):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        if modality:
            ds.SOPClassUID, ds.Modality = sop_class, modality
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
            ds.SeriesInstanceUID = generate_uid()
        ds.save_as(dest / name, enforce_file_format=True)


@pytest.mark.parametrize("rotation", [(0, 0, 0), (12, 0, 18)])
def test_dicom_shuffled_nested_with_clutter(tmp_path: Path, rotation: tuple) -> None:
    hu, affine = ct_block(), make_affine(rotation_deg=rotation)
    files = write_dicom_series(tmp_path / "export", hu, affine)
    _scatter(files, tmp_path / "study")
    volume = read_ct(tmp_path / "study")
    assert volume.meta["format"] == "DICOM"
    assert volume.meta["n_slices"] == hu.shape[2]
    assert volume.meta["warnings"] == []
    _same_volume(volume, hu, affine)


def test_dicom_single_file_reads_its_series(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine()
    files = write_dicom_series(tmp_path, hu, affine)
    _same_volume(read_ct(files[5]), hu, affine)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless])
def test_dicom_compressed(tmp_path: Path, syntax: str) -> None:
    # JPEG 2000 needs at least 32 pixels a side for its default resolution levels.
    hu, affine = ct_block((64, 48, 12)), make_affine()
    files = write_dicom_series(tmp_path, hu, affine, transfer_syntax=syntax)
    assert pydicom.dcmread(files[0]).file_meta.TransferSyntaxUID == syntax
    _same_volume(read_ct(tmp_path), hu, affine)


def test_dicom_jpeg_lossless_written_by_gdcm(tmp_path: Path) -> None:
    hu, affine = ct_block((48, 40, 12)), make_affine()
    files = write_dicom_series(tmp_path / "plain", hu, affine)
    out = tmp_path / "jpeg"
    out.mkdir()
    for f in files:
        # GDCM recompresses every file as JPEG lossless (process 14), keeping the tags;
        # SimpleITK reads the rescaled values as int32, which JPEG cannot hold.
        image = sitk.Cast(sitk.ReadImage(str(f)), sitk.sitkInt16)
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("GDCMImageIO")
        writer.KeepOriginalImageUIDOn()
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")
        writer.SetFileName(str(out / f.name))
        writer.Execute(image)
        # GDCM stores a secondary capture (modality OT) with new series UIDs: restore.
        ds, original = pydicom.dcmread(out / f.name), pydicom.dcmread(f)
        ds.Modality = "CT"
        for tag in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
            setattr(ds, tag, getattr(original, tag))
        ds.save_as(out / f.name)
    ds = pydicom.dcmread(next(out.iterdir()))
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEGLosslessSV1
    _same_volume(read_ct(out), hu, affine)


def test_dicom_per_slice_rescale(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine()
    files = write_dicom_series(tmp_path, hu, affine)
    ds = pydicom.dcmread(files[4])
    stored = ds.pixel_array.astype(np.int32)
    ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-1000"  # same HU, other storage
    ds.PixelData = ((stored - 24) * 2).astype(np.int16).tobytes()
    ds.save_as(files[4])
    volume = read_ct(tmp_path)
    assert volume.meta["rescale"] == "per slice"
    _same_volume(volume, hu, affine)


def _write_itk(path: Path, hu: np.ndarray, affine: np.ndarray) -> None:
    lps = LPS_TO_RAS @ affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image = sitk.GetImageFromArray(hu.astype(np.int16).T.copy())
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    image.SetDirection((lps[:3, :3] / spacing).ravel().tolist())
    sitk.WriteImage(image, str(path))


@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".mhd", ".nhdr"])
def test_itk_formats(tmp_path: Path, suffix: str) -> None:
    hu, affine = ct_block(), make_affine(rotation_deg=(0, 10, 5))
    _write_itk(tmp_path / f"ct{suffix}", hu, affine)
    volume = read_ct(tmp_path / f"ct{suffix}")
    _same_volume(volume, hu, affine)
    # Independent oracle: SimpleITK's own NIfTI writer converts LPS to RAS itself.
    sitk.WriteImage(sitk.ReadImage(str(tmp_path / f"ct{suffix}")), str(tmp_path / "o.nii"))
    twin = read_ct(tmp_path / "o.nii")
    np.testing.assert_allclose(volume.affine, twin.affine, atol=1e-4)
    np.testing.assert_array_equal(volume.hu, twin.hu)


def test_file_without_extension_is_sniffed(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine()
    path = write_nifti(tmp_path / "ct.nii.gz", hu, affine)
    path.rename(tmp_path / "scan")
    _same_volume(read_ct(tmp_path / "scan"), hu, affine)


def test_nifti_nan_padding_is_filled_with_warning(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine()
    padded = hu.copy()
    padded[:3] = np.nan
    write_nifti(tmp_path / "nan.nii.gz", padded, affine)
    volume = read_ct(tmp_path / "nan.nii.gz")
    assert np.isfinite(volume.hu).all()
    assert any("NaN" in w for w in volume.meta["warnings"])
    expected = hu.copy()
    expected[:3] = hu.min()
    _same_volume(volume, expected, affine)


def test_dicom_enhanced_multiframe(tmp_path: Path) -> None:
    hu, affine = ct_block(), make_affine(rotation_deg=(0, 10, 0))
    path = enhanced_ct(tmp_path, hu, affine)
    _same_volume(read_ct(path), hu, affine)
    _same_volume(read_ct(tmp_path), hu, affine)


def test_phantom_as_dicom_and_nifti(tmp_path: Path) -> None:
    generate = pytest.importorskip("kypho.phantom.generate")
    config = pytest.importorskip("kypho.phantom.config")
    phantom = generate.generate(config.PhantomConfig(
        top="L2", bottom="L3", include_sacrum=False, ribs=False, spacing_mm=(1.6, 1.6, 2.0),
        orientation="LPS", oblique_deg=(6.0, 0.0, 4.0)))
    volume = phantom.volume
    hu = np.round(volume.hu)
    write_dicom_series(tmp_path / "dicom", hu, volume.affine)
    write_nifti(tmp_path / "ct.nii.gz", hu, volume.affine, orientation="PIR")
    for path in (tmp_path / "dicom", tmp_path / "ct.nii.gz"):
        back = read_ct(path)
        np.testing.assert_allclose(back.affine, volume.affine, atol=1e-4)
        np.testing.assert_array_equal(back.hu, hu)
