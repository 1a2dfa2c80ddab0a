"""The HTML report as PDF (WeasyPrint) and as a DICOM Encapsulated PDF instance.

WeasyPrint is a Python HTML/CSS renderer (Pango for text), so no browser is needed; the
report's figures are embedded PNGs and render as they do in a browser.
"""

from __future__ import annotations

from datetime import datetime

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from kypho import __version__
from kypho.imaging.dicom_write import file_meta

__all__ = ["ENCAPSULATED_PDF_STORAGE", "build_encapsulated_pdf", "html_to_pdf"]

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
# Patient and study attributes copied from the source CT so the PDF files with it.
_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
           "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


def html_to_pdf(html: str) -> bytes:
    """Render an HTML page (self-contained, images inline) to PDF bytes."""
    import logging

    from weasyprint import HTML

    # WeasyPrint logs every CSS property it does not support; they are not errors here.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=html).write_pdf()


def build_encapsulated_pdf(pdf: bytes, source: Dataset, *, series_uid: str,
                           series_number: int, title: str = "kypho report") -> Dataset:
    """An Encapsulated PDF instance (PS3.3 A.45.1) in the study of `source`."""
    now = datetime.now()
    ds = Dataset()
    for key in _COPIED:
        ds.__setattr__(key, source.get(key, ""))
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = title
    ds.Manufacturer = "kypho"
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"  # workstation: rendered by software, not scanned
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    # Patient names and dates are printed in the report: the document shows identity.
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.SpecificCharacterSet = "ISO_IR 192"
    data = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocument = data
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.file_meta = file_meta(ds)
    return ds
