"""Masks that do not belong to the CT are refused with the numbers (issue 11).

Real case: the TotalSegmentator example (../shared/data/totalseg_example), its own masks
as given (accepted), moved 30 mm (every label on the neighbouring vertebra) and on a 6 mm
grid (heights quantised by 6 mm): both refused, never measured or planned.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from kypho.anatomy.mask_import import import_masks, resample_labels
from kypho.cli import app
from kypho.errors import MaskImportError
from kypho.imaging.mask_read import read_masks
from kypho.imaging.read import read_ct

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "totalseg_example"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="real data not available")


@pytest.fixture(scope="module")
def ct():
    return read_ct(DATA / "ct.nii.gz")


def _rewrite(tmp: Path, shift_mm: float = 0.0, grid_mm: float | None = None) -> Path:
    out = tmp / "segmentations"
    out.mkdir()
    for p in sorted((DATA / "segmentations").glob("*.nii.gz")):
        img = nib.load(p)
        data, affine = np.asarray(img.dataobj).astype(np.uint8), img.affine.copy()
        if grid_mm is not None:
            scale = grid_mm / np.linalg.norm(affine[:3, :3], axis=0)
            coarse = affine.copy()
            coarse[:3, :3] = affine[:3, :3] * scale
            shape = tuple(int(np.ceil(n / s)) for n, s in zip(data.shape, scale, strict=True))
            data, affine = resample_labels(data, img.affine, shape, coarse), coarse
        affine[2, 3] += shift_mm
        nib.save(nib.Nifti1Image(data, affine), out / p.name)
    return out


def test_own_masks_are_accepted(ct):
    seg = import_masks(read_masks(DATA / "segmentations"), ct)
    assert [i.level.display for i in seg.levels][:2] == ["T11", "T12"]


@pytest.mark.parametrize("shift", [30.0, -30.0])
def test_masks_moved_30_mm_are_refused(ct, tmp_path, shift):
    with pytest.raises(MaskImportError, match=r"do not sit on this CT's bone: \d+ %"):
        import_masks(read_masks(_rewrite(tmp_path, shift_mm=shift)), ct)


def test_masks_on_a_6_mm_grid_are_refused(ct, tmp_path):
    with pytest.raises(MaskImportError, match=r"6\.0 mm grid"):
        import_masks(read_masks(_rewrite(tmp_path, grid_mm=6.0)), ct)


def test_cli_refuses_shifted_masks_in_one_sentence(tmp_path):
    masks = _rewrite(tmp_path, shift_mm=30.0)
    result = CliRunner().invoke(app, ["analyze", str(DATA / "ct.nii.gz"), "-o",
                                      str(tmp_path / "out"), "--masks", str(masks)])
    assert result.exit_code == 2, result.output
    assert "bone" in result.output
    assert not (tmp_path / "out").exists()
