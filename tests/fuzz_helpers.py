"""Fuzzing the readers: mutated NIfTI headers, DICOM tags and pixel data.

Each case is written to a file, read with :func:`kypho.read_ct` and described with
``kypho info`` (in-process through Typer's runner). An outcome is one of

* ``ok``: read, with plausible geometry (voxels 0.1-10 mm, finite affine) and HU
  (1st..99th percentile inside -3100..32000);
* ``refused``: a :class:`~kypho.errors.KyphoError` and ``kypho info`` exit code 2;
* ``implausible``: read without error but the geometry or HU are not a CT's;
* ``traceback``: anything else (the bug this harness hunts).

Used by tests/test_fuzz_readers.py (a few seconds) and benchmarks/fuzz.py (10,000 cases).
"""

from __future__ import annotations

import gzip
import io
import struct
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from hypothesis import strategies as st
from typer.testing import CliRunner

from kypho.cli import app
from kypho.errors import KyphoError
from kypho.imaging.read import read_ct

NIFTI_FIELDS = ("sizeof_hdr", "dim", "datatype", "bitpix", "pixdim", "vox_offset",
                "scl_slope", "scl_inter", "qform_code", "sform_code", "quatern_b",
                "quatern_c", "quatern_d", "qoffset_x", "srow_x", "srow_y", "srow_z",
                "magic", "dim_info", "xyzt_units", "intent_code", "slice_code")
DICOM_TAGS = ("Modality", "SOPClassUID", "SeriesInstanceUID", "RescaleSlope",
              "RescaleIntercept", "PhotometricInterpretation", "SamplesPerPixel",
              "BitsAllocated", "BitsStored", "PixelRepresentation", "Rows", "Columns",
              "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient",
              "ImageType", "SliceThickness", "NumberOfFrames", "InstanceNumber")

_numbers = st.one_of(
    st.sampled_from([0, 1, -1, 2, 255, 256, 32767, -32768, 2**31 - 1, -(2**31), 10**6]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0.0, -0.0, 1e-30, 1e30, -1e30, 0.003, 3e6, float("nan"), 1024.0]),
)


def base_ct() -> tuple[np.ndarray, np.ndarray]:
    """A small body-like CT: air, fat ring, soft tissue, a bone disc (int16 HU, LPS-free)."""
    x, y, _ = np.meshgrid(np.arange(40), np.arange(36), np.arange(20), indexing="ij")
    r = np.hypot((x - 20) / 17, (y - 18) / 14)
    hu = np.full(x.shape, -1000, np.int16)
    hu[r < 1.0] = -100
    hu[r < 0.85] = 40
    hu[np.hypot(x - 20, y - 22) < 5] = 700
    rng = np.random.default_rng(0)
    hu = (hu + rng.normal(0, 8, hu.shape)).astype(np.int16)
    affine = np.diag([0.9, 0.9, 2.0, 1.0])
    affine[:3, 3] = (-18, -16, -20)
    return hu, affine


def nifti_bytes() -> bytes:
    hu, affine = base_ct()
    img = nib.Nifti1Image(hu, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    return img.to_bytes()


@st.composite
def nifti_case(draw: st.DrawFn) -> tuple[str, bytes]:
    """Mutated NIfTI file bytes and a short description of the mutation."""
    data = bytearray(nifti_bytes())
    hdr = nib.Nifti1Header.from_fileobj(io.BytesIO(bytes(data[:348])))
    arr = hdr.structarr
    what = []
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(NIFTI_FIELDS))
        value = draw(_numbers)
        try:
            if arr[field].shape:
                i = draw(st.integers(0, arr[field].shape[0] - 1))
                arr[field][i] = value
            elif field == "magic":
                arr[field] = draw(st.sampled_from([b"n+1", b"ni1", b"n+2", b"xyz", b""]))
            else:
                arr[field] = value
        except (OverflowError, ValueError, TypeError):
            continue
        what.append(f"{field}={value!r}")
    data[:348] = arr.tobytes()
    mode = draw(st.sampled_from(["header", "header", "pixels", "truncate", "gzip"]))
    if mode == "pixels":
        for _ in range(draw(st.integers(1, 20))):
            pos = draw(st.integers(352, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        what.append("pixel bytes")
    elif mode == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
        what.append(f"truncated to {len(data)}")
    out = bytes(data)
    if mode == "gzip":
        packed = bytearray(gzip.compress(out, compresslevel=1))
        pos = draw(st.integers(10, len(packed) - 1))
        packed[pos] ^= draw(st.integers(1, 255))
        out = bytes(packed)
        what.append(f"gzip byte {pos} flipped")
    return "; ".join(what) or "unchanged", out


def write_dicom_base(folder: Path) -> list[Path]:
    from kypho.imaging.dicom_write import write_dicom_series

    hu, affine = base_ct()
    return write_dicom_series(folder, hu.astype(np.float32), affine)


@st.composite
def dicom_mutation(draw: st.DrawFn) -> list[tuple[str, object, bool]]:
    """(tag, value or None to delete, on every slice?) triples."""
    values = st.one_of(
        st.none(), _numbers.map(str), st.sampled_from(
            ["", "RGB", "PALETTE COLOR", "MONOCHROME1", "MR", "CT", "1.2.3",
             "ORIGINAL\\PRIMARY\\LOCALIZER", "0\\0", "1\\0\\0\\0\\0\\0", "a[/]b"]),
    )
    return draw(st.lists(st.tuples(st.sampled_from(DICOM_TAGS), values, st.booleans()),
                         min_size=1, max_size=3))


def apply_dicom_mutation(files: list[Path], mutation: list, pixel_cut: int | None) -> None:
    for tag, value, every in mutation:
        for f in files if every else files[:1]:
            ds = pydicom.dcmread(f)
            if value is None:
                if tag in ds:
                    del ds[tag]
            else:
                try:
                    setattr(ds, tag, value)
                except (ValueError, TypeError, OverflowError, struct.error):
                    continue
            try:
                ds.save_as(f, enforce_file_format=False)
            except (ValueError, TypeError, OverflowError, struct.error):
                continue
    if pixel_cut is not None:
        raw = files[0].read_bytes()
        files[0].write_bytes(raw[: max(0, len(raw) - pixel_cut)])


def plausible(vol) -> bool:  # type: ignore[no-untyped-def]
    spacing = np.asarray(vol.spacing_mm)
    if not np.all(np.isfinite(vol.affine)) or not np.all((spacing >= 0.1) & (spacing <= 10)):
        return False
    lo, hi = np.percentile(vol.hu, [1, 99])
    return bool(np.isfinite(lo) and np.isfinite(hi) and lo >= -3100 and hi <= 32000)


_runner = CliRunner()


def classify(path: Path) -> tuple[str, str]:
    """Read `path` and run ``kypho info`` on it; return (outcome, message)."""
    try:
        vol = read_ct(path)
        outcome, message = ("ok" if plausible(vol) else "implausible"), ""
    except KyphoError as exc:
        outcome, message = "refused", str(exc)
    except Exception as exc:
        return "traceback", f"read_ct: {type(exc).__name__}: {exc}"
    result = _runner.invoke(app, ["info", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        return "traceback", f"kypho info: {type(exc).__name__}: {exc}"
    expected = 0 if outcome in ("ok", "implausible") else 2
    if result.exit_code != expected:
        return "traceback", f"kypho info exit {result.exit_code}, reader said {outcome}"
    return outcome, message


def tally(outcomes: list[tuple[str, str, str]]) -> Counter:
    return Counter(o for o, _, _ in outcomes)
