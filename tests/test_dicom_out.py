"""``kypho analyze --dicom``: SEG, Comprehensive 3D SR and Encapsulated PDF (kypho.dicom)."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from kypho.cli import app
from kypho.dicom.sr import VERTEBRA_NUMBERS, read_sr_groups
from kypho.imaging.orientation import LPS_TO_RAS
from tests.dicom_helpers import dciodvfy_errors, dice, write_small_case

runner = CliRunner()
REAL_DICOM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / \
    "totalseg_example" / "dicom"
# SNOMED CT codes of the vertebrae as DICOM PS3.16 lists them (typed here from the
# standard, independently of the pydicom dictionary kypho takes them from).
SNOMED = {"T12": "23215003", "L1": "66794005", "L2": "14293000", "L3": "36470004"}


def _analyze(ct: Path, out: Path) -> dict:
    result = runner.invoke(app, ["analyze", str(ct), "-o", str(out), "--dicom"])
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def dicom_case(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("dcm")
    ph, _paths = write_small_case(root / "case", dicom=True)
    ct = root / "case" / "dicom"
    return ph, ct, _analyze(ct, root / "out"), root / "out" / "dicom"


@pytest.fixture(scope="module")
def nifti_case(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("nii")
    ph, paths = write_small_case(root / "case", dicom=False, seed=3)
    return ph, _analyze(Path(paths["ct"]), root / "out"), root / "out" / "dicom"


def _check_sr_matches(doc: dict, sr_path: Path) -> int:
    """Assert every SR number equals results.json; returns how many numbers were compared."""
    groups = read_sr_groups(hd.sr.srread(sr_path))
    keys = {"anterior_mm": ("heights_mm", "anterior"), "middle_mm": ("heights_mm", "middle"),
            "posterior_mm": ("heights_mm", "posterior"),
            "expected_anterior_mm": ("expected_heights_mm", "anterior"),
            "expected_middle_mm": ("expected_heights_mm", "middle"),
            "expected_posterior_mm": ("expected_heights_mm", "posterior"),
            "anterior_loss_pct": ("height_loss_pct", "anterior"),
            "middle_loss_pct": ("height_loss_pct", "middle"),
            "posterior_loss_pct": ("height_loss_pct", "posterior"),
            "bmd_mg_cm3": ("bmd_mg_cm3", None)}
    checked = 0
    for v in doc["vertebrae"]:
        g = groups[f"{v['level']} vertebra"]
        for attr, code, _, _ in VERTEBRA_NUMBERS:
            section, key = keys[attr]
            want = v[section] if key is None else (v[section] or {}).get(key)
            assert g.get(f"99KYPHO:{code}") == want, (v["level"], code)
            checked += want is not None
        assert g.get("DCM:112181") == v["trabecular_hu"]
        want_grade = None if v["genant_grade"] is None else f"99KYPHO:GENANT-{v['genant_grade']}"
        assert g.get("99KYPHO:GENANT") == want_grade
        if v["morphotype"]:
            assert g["99KYPHO:MORPHOTYPE"] == f"99KYPHO:MORPH-{v['morphotype'].upper()}"
    for p in (doc.get("plan") or {}).get("levels", []):
        assert groups[f"{p['level']} plan"]["99KYPHO:CEMENT-ML"] == p["cement"]["total_ml"]
    return checked


def test_sr_reads_back_the_results_numbers(dicom_case) -> None:  # type: ignore[no-untyped-def]
    _, _, doc, out = dicom_case
    assert any(v["genant_grade"] == 2 for v in doc["vertebrae"])  # something to report
    assert _check_sr_matches(doc, out / "sr.dcm") >= 9 * len(doc["vertebrae"])


def test_objects_reference_the_input_series(dicom_case) -> None:  # type: ignore[no-untyped-def]
    _, ct, _doc, out = dicom_case
    src = pydicom.dcmread(sorted(ct.iterdir())[0], stop_before_pixels=True)
    assert not (out / "ct").exists()  # a DICOM input is referenced, not copied
    for name in ("seg_vertebrae", "seg_bodies", "sr", "report_pdf"):
        ds = pydicom.dcmread(out / f"{name}.dcm")
        assert ds.StudyInstanceUID == src.StudyInstanceUID, name
        assert ds.PatientID == src.PatientID, name
    seg = pydicom.dcmread(out / "seg_vertebrae.dcm")
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    assert seg.FrameOfReferenceUID == src.FrameOfReferenceUID


def test_seg_segments_are_snomed_coded_levels(dicom_case) -> None:  # type: ignore[no-untyped-def]
    _, _, _doc, out = dicom_case
    for name, suffix in (("seg_vertebrae", "vertebra"), ("seg_bodies", "vertebral body")):
        seg = hd.seg.segread(out / f"{name}.dcm")
        found = {s.SegmentLabel: s.SegmentedPropertyTypeCodeSequence[0]
                 for s in seg.SegmentSequence}
        assert set(found) == {f"{lv} {suffix}" for lv in SNOMED}
        for lv, code in SNOMED.items():
            assert found[f"{lv} {suffix}"].CodeValue == code
            assert found[f"{lv} {suffix}"].CodingSchemeDesignator == "SCT"


def _seg_on_truth_grid(seg_path: Path, truth_affine: np.ndarray, shape) -> np.ndarray:
    """The SEG as a label map (segment numbers) on the phantom's voxel grid."""
    vol = hd.seg.segread(seg_path).get_volume(combine_segments=True)
    ras = LPS_TO_RAS @ vol.affine
    to_truth = np.linalg.inv(truth_affine) @ ras
    idx = np.indices(vol.array.shape).reshape(3, -1).astype(float)
    ijk = np.rint(to_truth[:3, :3] @ idx + to_truth[:3, 3:4]).astype(int)
    out = np.zeros(shape, dtype=np.int32)
    ok = np.all((ijk >= 0) & (ijk < np.asarray(shape)[:, None]), axis=0)
    out[ijk[0, ok], ijk[1, ok], ijk[2, ok]] = vol.array.reshape(-1)[ok]
    return out


def test_seg_from_dicom_files_overlays_the_vertebrae(dicom_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ph, ct, _doc, out = dicom_case
    seg = hd.seg.segread(out / "seg_vertebrae.dcm")
    numbers = {s.SegmentLabel.split()[0]: s.SegmentNumber for s in seg.SegmentSequence}
    labels = _seg_on_truth_grid(out / "seg_vertebrae.dcm", ph.vertebrae.affine,
                                ph.vertebrae.labels.shape)
    from kypho.anatomy.levels import Level

    for lv, n in numbers.items():
        d = dice(labels == n, ph.vertebrae.labels == int(Level.parse(lv)))
        assert d > 0.8, (lv, d)
    # The viewer check: a sagittal slice of the CT, read from the DICOM files only, with
    # the SEG drawn over it; every L1 pixel of the slice must be bone-bright.
    ct_files = sorted(ct.iterdir())
    stack = np.stack([pydicom.dcmread(f).pixel_array for f in ct_files])
    hu = stack * float(pydicom.dcmread(ct_files[0]).RescaleSlope) + float(
        pydicom.dcmread(ct_files[0]).RescaleIntercept)
    seg_vol = seg.get_volume(combine_segments=True)
    assert seg_vol.array.shape == hu.shape  # same frames, rows, columns as the CT
    col = int(np.median(np.nonzero(seg_vol.array == numbers["L1"])[2]))
    fig, ax = plt.subplots()
    ax.imshow(hu[:, :, col], cmap="gray", vmin=-200, vmax=800)
    ax.imshow(np.ma.masked_equal(seg_vol.array[:, :, col], 0), alpha=0.4, cmap="tab10")
    fig.savefig(tmp_path / "overlay.png")
    plt.close(fig)
    assert (tmp_path / "overlay.png").stat().st_size > 1000
    inside = hu[:, :, col][seg_vol.array[:, :, col] == numbers["L1"]]
    soft = np.median(hu[hu > -500])  # this image's own soft-tissue level
    assert np.median(inside) > soft


@pytest.mark.parametrize("name", ["seg_vertebrae", "seg_bodies", "sr", "report_pdf"])
def test_dciodvfy_reports_no_errors(dicom_case, name) -> None:  # type: ignore[no-untyped-def]
    assert dciodvfy_errors(dicom_case[3] / f"{name}.dcm") == []


def test_pdf_is_the_rendered_report(dicom_case) -> None:  # type: ignore[no-untyped-def]
    out = dicom_case[3]
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
    ds = pydicom.dcmread(out / "report_pdf.dcm")
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)] == pdf
    assert len(pdf) > 50_000  # the embedded figures made it into the PDF


def test_nifti_input_gets_a_dicom_ct_to_reference(nifti_case) -> None:  # type: ignore[no-untyped-def]
    ph, doc, out = nifti_case
    ct_files = sorted((out / "ct").glob("*.dcm"))
    assert len(ct_files) == ph.volume.shape[2]
    assert dciodvfy_errors(ct_files[len(ct_files) // 2]) == []
    ct0 = pydicom.dcmread(ct_files[0], stop_before_pixels=True)
    seg = pydicom.dcmread(out / "seg_vertebrae.dcm")
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct0.SeriesInstanceUID
    assert _check_sr_matches(doc, out / "sr.dcm") >= 9 * len(doc["vertebrae"])
    for name in ("seg_vertebrae", "sr"):
        assert dciodvfy_errors(out / f"{name}.dcm") == []


@pytest.mark.skipif(not REAL_DICOM.is_dir(), reason="shared real data not present")
def test_real_dicom_series(tmp_path: Path) -> None:
    doc = _analyze(REAL_DICOM.resolve(), tmp_path / "out")
    out = tmp_path / "out" / "dicom"
    # This anonymised series lacks its UIDs: kypho writes it anew and references that.
    assert (out / "ct").is_dir()
    for name in ("seg_vertebrae", "seg_bodies", "sr", "report_pdf"):
        assert dciodvfy_errors(out / f"{name}.dcm") == [], name
    _check_sr_matches(doc, out / "sr.dcm")


def test_every_standard_level_has_its_own_snomed_code() -> None:
    from kypho.anatomy.levels import STANDARD_ORDER
    from kypho.dicom.codes import level_code

    codes = {lv.display: level_code(lv) for lv in STANDARD_ORDER}
    assert all(c is not None and c.scheme_designator == "SCT" for c in codes.values())
    assert len({c.value for c in codes.values()}) == len(codes)  # type: ignore[union-attr]
    for lv, code in SNOMED.items():
        assert codes[lv].value == code  # type: ignore[union-attr]
    assert codes["S"].value == "54735007"  # type: ignore[union-attr]
    assert level_code("L6") is None
