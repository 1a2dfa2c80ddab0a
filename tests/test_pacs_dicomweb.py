"""DICOMweb in and out (``kypho analyze dicomweb+http://...``) against a real Orthanc.

dcmtk's storescu plays the modality that puts the CT into Orthanc and findscu the
workstation that finds kypho's results there afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from typer.testing import CliRunner

from kypho.cli import app
from kypho.dicom.sr import read_sr_groups
from kypho.pacs.dicomweb import DicomwebTarget, parse_dicomweb
from tests.dicom_helpers import write_small_case
from tests.orthanc_helpers import need, orthanc

runner = CliRunner()


def test_addresses_are_parsed() -> None:
    t = parse_dicomweb("dicomweb+http://h:8042/dicom-web/studies/1.2.3/series/4.5")
    assert t == DicomwebTarget("http://h:8042/dicom-web", "1.2.3", "4.5")
    # A Path argument collapses '//' to '/': still understood.
    assert parse_dicomweb(str(Path("dicomweb+https://h/wado/studies/1.2"))) == \
        DicomwebTarget("https://h/wado", "1.2", None)
    assert parse_dicomweb("/data/ct.nii.gz") is None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("web")
    write_small_case(root / "case", dicom=True, seed=5)
    files = sorted((root / "case" / "dicom").iterdir())
    study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
    with orthanc(root, {}) as server:
        sent = subprocess.run([need("storescu"), "-aet", "MODALITY", "-aec", "ORTHANC",
                               "127.0.0.1", str(server.dicom_port), "+sd",
                               str(root / "case" / "dicom")],
                              capture_output=True, check=False, timeout=120)
        assert sent.returncode == 0, sent.stderr
        yield root, server, study


@pytest.fixture(scope="module")
def analysed(served):  # type: ignore[no-untyped-def]
    """The study analysed from DICOMweb, results stored back. Both tests below need it,
    and pytest-xdist may run them on different workers, each with its own server: a
    test that relied on the other having run first was skipped when they were split."""
    root, server, study = served
    url = f"dicomweb+{server.http}/dicom-web/studies/{study}"
    result = runner.invoke(app, ["analyze", url, "-o", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root, server, study


def test_study_from_dicomweb_gets_seg_sr_pdf_back(analysed) -> None:  # type: ignore[no-untyped-def]
    from dicomweb_client.api import DICOMwebClient

    root, server, study = analysed
    doc = json.loads((root / "out" / "results.json").read_text())
    # Read the results back through DICOMweb (QIDO + WADO), as a viewer would.
    client = DICOMwebClient(url=f"{server.http}/dicom-web")
    series = client.search_for_series(study_instance_uid=study)
    modalities = sorted(s["00080060"]["Value"][0] for s in series)
    assert modalities == ["CT", "DOC", "SEG", "SR"]
    sr_uid = next(s["0020000E"]["Value"][0] for s in series if s["00080060"]["Value"][0] == "SR")
    (sr,) = client.retrieve_series(study, sr_uid)
    groups = read_sr_groups(hd.sr.Comprehensive3DSR.from_dataset(sr))
    for v in doc["vertebrae"]:
        if v["heights_mm"]:
            assert groups[f"{v['level']} vertebra"]["99KYPHO:HA"] == v["heights_mm"]["anterior"]


def test_findscu_sees_the_results(analysed) -> None:  # type: ignore[no-untyped-def]
    _, server, study = analysed
    found = subprocess.run(
        [need("findscu"), "-S", "-aet", "WORKSTATION", "-aec", "ORTHANC", "127.0.0.1",
         str(server.dicom_port), "-k", "QueryRetrieveLevel=SERIES", "-k",
         f"StudyInstanceUID={study}", "-k", "Modality", "-k", "SeriesInstanceUID"],
        capture_output=True, text=True, check=False, timeout=60)
    assert found.returncode == 0, found.stderr
    text = found.stdout + found.stderr
    modalities = re.findall(r"\(0008,0060\) CS \[(\w+)\s*\]", text)
    assert sorted(modalities) == ["CT", "DOC", "SEG", "SR"], text
