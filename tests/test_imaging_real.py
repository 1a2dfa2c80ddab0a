"""read_ct on the real CT cases in ../shared/data (beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from kypho import read_ct
from kypho.errors import NotACTError
from kypho.imaging.orientation import voxel_to_world, world_to_voxel

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TOTALSEG = DATA / "totalseg_example"
TPTBOX = DATA / "tptbox_lumbar"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not available")


def _corners(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    idx = np.array(np.meshgrid(*[[0, n - 1] for n in shape], indexing="ij")).reshape(3, -1).T
    return voxel_to_world(affine, idx)


def _sorted_corners(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    c = _corners(shape, affine)
    return c[np.lexsort(c.T[::-1])]


def test_real_dicom_matches_its_nifti_twin() -> None:
    volume = read_ct(TOTALSEG / "dicom")
    twin = read_ct(TOTALSEG / "dicom_as_nifti.nii.gz")
    assert volume.shape == twin.shape == (512, 512, 20)
    np.testing.assert_allclose(volume.spacing_mm, (0.9765625, 0.9765625, 2.0), atol=1e-6)
    corner_gap = np.abs(_sorted_corners(volume.shape, volume.affine)
                        - _sorted_corners(twin.shape, twin.affine))
    assert corner_gap.max() < 0.5
    assert np.abs(volume.hu - twin.hu).max() <= 0.5
    assert volume.meta["modality"] == "CT"
    assert volume.meta["series_description"] == "CT Body 3.0"
    assert volume.meta["orientation"] == "LPS"  # as stored: rows to L, columns to P
    # The anonymiser removed SeriesInstanceUID: the only thing worth a warning.
    assert [w for w in volume.meta["warnings"] if "SeriesInstanceUID" not in w] == []
    # Spacing came from the positions (2 mm), not from SliceThickness (3 mm).
    assert volume.meta["SliceThickness"] == "3"


def test_real_dicom_from_one_file() -> None:
    one = sorted((TOTALSEG / "dicom").iterdir())[7]
    volume = read_ct(one)
    assert volume.shape == (512, 512, 20)


def test_real_nifti_ras_hu_sanity() -> None:
    volume = read_ct(TOTALSEG / "ct.nii.gz")
    assert volume.shape == (122, 101, 112)
    assert volume.meta["orientation"] == "RAS"
    np.testing.assert_allclose(volume.spacing_mm, (3.0, 3.0, 3.0))
    hu = volume.hu
    # Air outside the body near -1000 HU, a soft-tissue peak between fat and bone,
    # and bone well above.
    assert -1050 < np.percentile(hu, 5) < -950
    soft = hu[(hu > -200) & (hu < 200)]
    counts, edges = np.histogram(soft, bins=40)
    peak = edges[np.argmax(counts)]
    assert -120 < peak < 80
    assert np.percentile(hu, 99.9) > 500


def test_real_pir_crop_keeps_world_positions() -> None:
    path = TPTBOX / "sub-ct_label-22_ct.nii.gz"
    volume = read_ct(path)
    assert volume.meta["orientation"] == "PIR"
    img = nib.load(path)
    stored = np.asanyarray(img.dataobj)
    assert volume.shape == (stored.shape[2], stored.shape[0], stored.shape[1])
    # Every stored voxel appears at the same world position in the canonical volume.
    rng = np.random.default_rng(0)
    ijk = rng.integers(0, stored.shape, size=(200, 3))
    canon = np.rint(world_to_voxel(volume.affine, voxel_to_world(img.affine, ijk)))
    canon = canon.astype(int)
    np.testing.assert_array_equal(volume.hu[tuple(canon.T)], stored[tuple(ijk.T)])
    # A lumbar crop: mostly soft tissue and bone, with some fat.
    assert (volume.hu > 200).mean() > 0.05
    assert -300 < np.median(volume.hu) < 200


def test_real_label_map_is_not_ct() -> None:
    with pytest.raises(NotACTError, match="label map"):
        read_ct(TPTBOX / "sub-ct_seg-vert_label-22_msk.nii.gz")


def test_density_calibrated_image_is_not_hu() -> None:
    # Values in mg/cm3 K2HPO4 with zeros outside the bone: not HU, must not pass as CT.
    with pytest.raises(NotACTError):
        read_ct(DATA / "bonelab_verse004_L2" / "sub-verse004_0000_vertebra_21_im.nii.gz")
