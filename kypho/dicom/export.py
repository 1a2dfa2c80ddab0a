"""``kypho analyze --dicom``: SEG, SR and Encapsulated PDF beside the other outputs.

Files go to ``OUT/dicom/``: ``seg_vertebrae.dcm``, ``seg_bodies.dcm``, ``sr.dcm``,
``report_pdf.dcm`` (and ``report.pdf``); for a non-DICOM input also ``ct/`` with the CT
as a DICOM series, which the objects reference.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from kypho.dicom.results_view import StudyView, study_view
from kypho.imaging.write import atomic_write_bytes

__all__ = ["DICOM_DIR", "build_dicom_objects", "write_dicom_beside_report", "write_dicom_outputs"]

DICOM_DIR = "dicom"
# Series numbers of kypho's derived series, high so they sort after the scanner's own.
_SEG_SERIES, _SR_SERIES, _PDF_SERIES = 9001, 9002, 9003


def _source(analysis: Any, out_dir: Path) -> list[Dataset]:
    from kypho.dicom.source import source_datasets, write_source_series

    volume = analysis.volume
    # A DICOM series without its UIDs (some anonymisers drop them) cannot be referenced:
    # it is written anew, like a NIfTI input.
    if volume.meta.get("format") == "DICOM" and volume.meta.get("series_uid") \
            and volume.meta.get("study_uid"):
        return source_datasets(Path(volume.source), str(volume.meta["series_uid"]))
    return write_source_series(volume, out_dir / "ct")


def build_dicom_objects(analysis: Any, source: list[Dataset], view: StudyView,
                        report_html: str | None) -> dict[str, Dataset]:
    """SEG (vertebrae, bodies), SR and, given the report, Encapsulated PDF datasets."""
    from kypho.dicom.pdf import build_encapsulated_pdf, html_to_pdf
    from kypho.dicom.seg import build_seg
    from kypho.dicom.source import labels_on_slices

    seg = analysis.segmentation
    seg_series = generate_uid()
    objects: dict[str, Dataset] = {}
    for number, (name, labelmap, part) in enumerate(
        (("seg_vertebrae", seg.vertebrae, "vertebra"), ("seg_bodies", seg.bodies, "body")), 1
    ):
        slices = labels_on_slices(labelmap.labels, labelmap.affine, source)
        if slices.any():
            objects[name] = build_seg(source, slices, part=part, series_uid=seg_series,
                                      series_number=_SEG_SERIES, instance_number=number)
    if analysis.spine is not None:
        from kypho.dicom.sr import build_sr

        objects["sr"] = build_sr(view, source, objects.get("seg_vertebrae"),
                                 series_uid=generate_uid(), series_number=_SR_SERIES)
    if report_html is not None:
        objects["report_pdf"] = build_encapsulated_pdf(
            html_to_pdf(report_html), source[0], series_uid=generate_uid(),
            series_number=_PDF_SERIES)
    return objects


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_dicom_outputs(analysis: Any, out_dir: Path, *, report_html: str | None = None,
                        overwrite: bool = False) -> dict[str, Path]:
    """Write the DICOM objects of `analysis` into ``out_dir/dicom``; paths by role."""
    folder = Path(out_dir) / DICOM_DIR
    folder.mkdir(parents=True, exist_ok=True)
    source = _source(analysis, folder)
    objects = build_dicom_objects(analysis, source, study_view(analysis), report_html)
    paths = {name: atomic_write_bytes(folder / f"{name}.dcm", _bytes(ds), overwrite=overwrite)
             for name, ds in objects.items()}
    if "report_pdf" in objects:
        paths["pdf"] = atomic_write_bytes(folder / "report.pdf",
                                          bytes(objects["report_pdf"].EncapsulatedDocument)
                                          [: int(objects["report_pdf"].EncapsulatedDocumentLength)],
                                          overwrite=overwrite)
    return paths


def write_dicom_beside_report(analysis: Any, out_dir: Path) -> dict[str, Path]:
    """:func:`write_dicom_outputs` with the ``report.html`` already written in `out_dir`."""
    report = Path(out_dir) / "report.html"
    html = report.read_text("utf-8") if report.exists() else None
    return write_dicom_outputs(analysis, out_dir, report_html=html)
