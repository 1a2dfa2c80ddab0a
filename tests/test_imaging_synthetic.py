"""Small synthetic CT blocks with marker voxels, shared by the imaging tests.

The block is tiny (tens of voxels a side, anisotropic spacing) so every reader and
writer round trip runs in milliseconds. Markers are single voxels with unique HU values,
so their world positions after any reorientation can be found exactly.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid
from scipy.spatial.transform import Rotation

from kypho.imaging.dicom_write import write_dicom_series
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import Volume

SHAPE = (40, 36, 12)
SPACING = (0.9, 1.1, 2.5)
MARKER_HU = (1800, 1850, 1900, 1950, 2000)
MARKER_IJK = ((5, 6, 2), (30, 8, 3), (12, 28, 6), (25, 20, 9), (20, 18, 10))


def ct_block(shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """A CT-like block: air, an elliptic body of fat and muscle, a bone core, markers.

    Returns
    -------
    (X, Y, Z) ndarray of float32, integral HU.
    """
    x, y = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]),
                       indexing="ij")
    r = np.hypot(x / 0.9, y / 0.8)
    plane = np.full(shape[:2], -1000.0, dtype=np.float32)
    plane[r < 0.95] = -100.0  # subcutaneous fat
    plane[r < 0.8] = 45.0  # muscle
    plane[r < 0.3] = 600.0  # bone
    hu = np.repeat(plane[:, :, None], shape[2], axis=2)
    # A gradient along z so that slices differ and a swapped slice order is caught.
    hu += np.where(hu > -1000, np.arange(shape[2], dtype=np.float32)[None, None, :], 0)
    for value, ijk in zip(MARKER_HU, MARKER_IJK, strict=True):
        hu[ijk] = value
    return hu


def make_affine(
    spacing: tuple[float, float, float] = SPACING,
    origin: tuple[float, float, float] = (-20.0, 15.0, -40.0),
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """A RAS affine with the given spacing, origin and xyz Euler rotation (degrees)."""
    affine = np.eye(4)
    rot = Rotation.from_euler("xyz", rotation_deg, degrees=True).as_matrix()
    affine[:3, :3] = rot @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def marker_world(affine: np.ndarray) -> dict[int, np.ndarray]:
    """World RAS mm of each marker of :func:`ct_block` on a grid with `affine`."""
    return {v: voxel_to_world(affine, ijk) for v, ijk in zip(MARKER_HU, MARKER_IJK,
                                                             strict=True)}


def find_markers(volume: Volume) -> dict[int, np.ndarray]:
    """World RAS mm of the voxel holding each marker value exactly (must be unique)."""
    found = {}
    for value in MARKER_HU:
        hits = np.argwhere(volume.hu == value)
        assert len(hits) == 1, f"marker {value} found {len(hits)} times"
        found[value] = voxel_to_world(volume.affine, hits[0])
    return found


def assert_markers_at(volume: Volume, affine: np.ndarray, tol_mm: float = 0.5) -> None:
    """Every marker of the volume lies within `tol_mm` of where `affine` puts it."""
    expected = marker_world(affine)
    for value, xyz in find_markers(volume).items():
        err = float(np.linalg.norm(xyz - expected[value]))
        assert err < tol_mm, f"marker {value} is {err:.3f} mm off"


def enhanced_ct(folder: Path, hu: np.ndarray, affine: np.ndarray, seed: int = 0) -> Path:
    """Pack a classic series into one Enhanced CT file, frames in shuffled order."""
    files = write_dicom_series(folder / "classic", hu, affine)
    frames = [pydicom.dcmread(f) for f in files]
    random.Random(seed).shuffle(frames)
    first = frames[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.EnhancedCTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    for tag in ("Modality", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID",
                "SeriesNumber", "Rows", "Columns", "SamplesPerPixel",
                "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit",
                "PixelRepresentation"):
        setattr(ds, tag, getattr(first, tag))
    ds.NumberOfFrames = len(frames)
    measures, orient, rescale = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = first.PixelSpacing, first.SliceThickness
    orient.ImageOrientationPatient = first.ImageOrientationPatient
    rescale.RescaleSlope, rescale.RescaleIntercept = first.RescaleSlope, first.RescaleIntercept
    rescale.RescaleType = "HU"
    shared = Dataset()
    shared.PixelMeasuresSequence = [measures]
    shared.PlaneOrientationSequence = [orient]
    shared.PixelValueTransformationSequence = [rescale]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for f in frames:
        position, item = Dataset(), Dataset()
        position.ImagePositionPatient = f.ImagePositionPatient
        item.PlanePositionSequence = [position]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = b"".join(f.PixelData for f in frames)
    shutil.rmtree(folder / "classic")
    path = folder / "enhanced.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_block_markers_are_unique_and_placed() -> None:
    hu = ct_block()
    affine = make_affine(rotation_deg=(10, 0, 20))
    volume = Volume.from_array(hu, affine)
    assert_markers_at(volume, affine, tol_mm=1e-6)
    assert (hu < -100).mean() > 0.05  # air present, as the CT content check requires
