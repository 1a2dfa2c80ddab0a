"""Every bad input of issue 11 gets one sentence (exit 2) or a warning with the numbers.

Each case is a small synthetic CT (tests/fuzz_helpers.base_ct: air, fat, soft tissue
and a bone disc) broken in one specific way; docs/bad-input.md lists the same rows.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from kypho.cli import app
from kypho.errors import (
    CorruptFileError,
    KyphoError,
    NotACTError,
    SingleSliceError,
)
from kypho.imaging.read import read_ct

from .fuzz_helpers import base_ct, write_dicom_base

runner = CliRunner()


def _nifti(tmp_path: Path, name: str = "ct.nii", **fields: object) -> Path:
    hu, affine = base_ct()
    img = nib.Nifti1Image(hu, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    data = bytearray(img.to_bytes())
    hdr = nib.Nifti1Header.from_fileobj(__import__("io").BytesIO(bytes(data[:348])))
    for key, value in fields.items():
        hdr.structarr[key] = value
    data[:348] = hdr.structarr.tobytes()
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def _refused(path: Path, kind: type[KyphoError], *words: str) -> str:
    with pytest.raises(kind) as info:
        read_ct(path)
    message = str(info.value)
    for w in words:
        assert w in message, message
    result = runner.invoke(app, ["info", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return message


def test_damaged_gzip_stream_is_refused(tmp_path):
    raw = _nifti(tmp_path).read_bytes()
    packed = bytearray(gzip.compress(raw))
    packed[len(packed) // 2] ^= 0xFF
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(bytes(packed))
    _refused(path, CorruptFileError, "gzip")


@pytest.mark.parametrize("slope", [-1.0, 1e30])
def test_nifti_absurd_scl_slope_is_refused(tmp_path, slope):
    _refused(_nifti(tmp_path, scl_slope=slope, scl_inter=0.0), KyphoError, f"{slope:g}"
             if slope < 0 else "rescale")


def test_nifti_shifted_intercept_warns_with_the_shift(tmp_path):
    vol = read_ct(_nifti(tmp_path, scl_slope=1.0, scl_inter=60.0))
    shifts = [int(m) for w in vol.meta["warnings"] for m in re.findall(r"off by \+(\d+) HU", w)]
    assert shifts and 50 <= shifts[0] <= 70, vol.meta["warnings"]
    clean = read_ct(_nifti(tmp_path, "clean.nii"))
    assert not any("air" in w for w in clean.meta["warnings"])


@pytest.mark.parametrize("pixdim", [1e30, 3e6, 0.003])
def test_voxel_size_outside_ct_range_is_refused(tmp_path, pixdim):
    hu, affine = base_ct()
    affine = affine.copy()
    affine[0, 0] = pixdim
    img = nib.Nifti1Image(hu, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, tmp_path / "ct.nii")
    _refused(tmp_path / "ct.nii", CorruptFileError, "voxel sizes")


def test_zero_pixdim_in_qform_is_refused(tmp_path):
    path = _nifti(tmp_path, sform_code=0, pixdim=[1.0, 0.0, 0.9, 2.0, 1.0, 0, 0, 0])
    _refused(path, CorruptFileError, "pixdim")


def test_sheared_sform_disagreeing_with_qform_is_refused(tmp_path):
    hu, affine = base_ct()
    sheared = affine.copy()
    sheared[0, 2] = 0.7  # 19 degrees of shear of the slice axis
    img = nib.Nifti1Image(hu, affine)
    img.set_qform(affine, code=1)
    img.set_sform(sheared, code=1)
    nib.save(img, tmp_path / "ct.nii")
    _refused(tmp_path / "ct.nii", CorruptFileError, "sheared", "qform")


@pytest.mark.parametrize(
    "fields",
    [
        {"vox_offset": 1e12},             # OverflowError / HeaderDataError in nibabel
        {"datatype": 1234},               # data type not recognised
        {"scl_slope": 1.0, "scl_inter": np.nan},
        {"quatern_b": 5.0, "sform_code": 0},  # w2 should be positive
    ],
)
def test_fuzzed_header_is_one_sentence(tmp_path, fields):
    _refused(_nifti(tmp_path, **fields), KyphoError, "ct.nii")


def test_negative_dim_is_one_sentence(tmp_path):
    path = _nifti(tmp_path)
    data = bytearray(path.read_bytes())
    data[42:44] = np.int16(-5).tobytes()  # dim[1]
    path.write_bytes(bytes(data))
    _refused(path, KyphoError, "ct.nii")


# ---------------------------------------------------------------- DICOM


@pytest.fixture
def series(tmp_path) -> list[Path]:
    return write_dicom_base(tmp_path / "dicom")


def _set(files: list[Path], **tags: object) -> None:
    for f in files:
        ds = pydicom.dcmread(f)
        for tag, value in tags.items():
            if value is None:
                del ds[tag]
            else:
                setattr(ds, tag, value)
        ds.save_as(f, enforce_file_format=False)


def test_two_slice_dicom_series_is_refused(series):
    for f in series[2:]:
        f.unlink()
    _refused(series[0].parent, SingleSliceError, "2 slices")


@pytest.mark.parametrize("slope", ["0", "-1"])
def test_dicom_rescale_slope_zero_or_negative_is_refused(series, slope):
    _set(series, RescaleSlope=slope)
    _refused(series[0].parent, CorruptFileError, f"slope {slope}")


@pytest.mark.parametrize("photometric", ["RGB", "PALETTE COLOR"])
def test_dicom_colour_photometric_is_refused(series, photometric):
    _set(series, PhotometricInterpretation=photometric)
    _refused(series[0].parent, NotACTError, photometric)


def test_dicom_localizer_is_refused(series):
    _set(series, ImageType="ORIGINAL\\PRIMARY\\LOCALIZER")
    _refused(series[0].parent, NotACTError, "LOCALIZER")


def test_dicom_without_modality_and_sop_class_is_refused(series):
    for f in series:
        ds = pydicom.dcmread(f)
        del ds["Modality"]
        del ds["SOPClassUID"]
        ds.file_meta.MediaStorageSOPClassUID = ""
        ds.save_as(f, enforce_file_format=False)
    _refused(series[0].parent, KyphoError)


def test_dicom_without_series_uid_warns(series):
    _set(series, SeriesInstanceUID=None)
    vol = read_ct(series[0].parent)
    assert any("SeriesInstanceUID" in w for w in vol.meta["warnings"])


def test_bracketed_series_description_and_path_are_printed_intact(series, tmp_path):
    _set(series, SeriesDescription="CT [/] abdomen [bold]x")
    odd = tmp_path / "a[/]b"
    odd.mkdir(parents=True)
    for f in series:
        f.rename(odd / f.name)
    result = runner.invoke(app, ["info", str(odd)])
    assert result.exit_code == 0, result.output
    assert "CT [/] abdomen [bold]x" in result.output
    assert "a[/]b" in result.output


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("value", ["0,0", "nan,nan", "-1,0", "inf,3"])
def test_bad_calibration_is_a_usage_error_before_any_work(tmp_path, value):
    result = runner.invoke(app, ["analyze", str(_nifti(tmp_path)), "-o", str(tmp_path / "o"),
                                 "--calibration", value])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "--calibration" in result.output
    assert not (tmp_path / "o").exists()


def _cli_options() -> set[str]:
    import typer.main

    cmd = typer.main.get_command(app)
    opts: set[str] = set()
    for sub in cmd.commands.values():  # type: ignore[attr-defined]
        for param in sub.params:
            opts.update(o for o in [*param.opts, *getattr(param, "secondary_opts", [])]
                        if o.startswith("--"))
    return opts


def test_every_option_named_in_a_message_exists():
    """User-visible strings in kypho name real CLI options, not Python keywords."""
    root = Path(__file__).resolve().parents[1] / "kypho"
    text = "\n".join(p.read_text() for p in root.rglob("*.py"))
    for stale in ("--anchor", "pass resample_uneven=True", "Pass series=",
                  "read it with correct_tilt=True", "pass overwrite=True to"):
        assert stale not in text, stale
    options = _cli_options()
    named = set(re.findall(r"(--[a-z][a-z-]+)", text))
    # Options of other programs or prose ("--" inside words) would not match here.
    assert named <= options | {"--help"}, sorted(named - options)


@pytest.mark.parametrize("cut", [0, 40, 347])
def test_nifti_gz_truncated_inside_its_header_is_one_sentence(tmp_path, cut):
    # nibabel raises WrapStructError here, an Exception that is not a ValueError: it once
    # reached the user (and the batch summary) as "internal error WrapStructError".
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(gzip.compress(_nifti(tmp_path).read_bytes()[:cut]))
    message = _refused(path, CorruptFileError, "truncated")
    assert "WrapStructError" not in message and message.count(". ") == 0


@pytest.mark.parametrize("where", ["gzip-header", "stream", "nifti-dim0"])
def test_nifti_gz_byte_flipped_is_one_sentence_in_a_batch(tmp_path, where):
    from kypho.batch.worker import run_case

    raw = _nifti(tmp_path).read_bytes()
    if where == "nifti-dim0":
        flipped = bytearray(raw)
        flipped[40] ^= 0xFF  # dim[0]: 3 becomes 252 dimensions
        packed = bytearray(gzip.compress(bytes(flipped)))
    else:
        packed = bytearray(gzip.compress(raw))
        packed[3 if where == "gzip-header" else len(packed) // 3] ^= 0xFF
    path = tmp_path / "flipped.nii.gz"
    path.write_bytes(bytes(packed))
    _refused(path, KyphoError)
    outcome = run_case("flipped", str(path), str(tmp_path / "out"))
    assert outcome.status == "failed" and not outcome.error.startswith("internal error"), outcome
