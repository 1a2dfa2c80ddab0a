"""``kypho listen``: a C-STORE SCP fed by dcmtk's storescu, results sent to a real Orthanc."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kypho.imaging.dicom_write import write_dicom_series
from tests.dicom_helpers import write_small_case
from tests.orthanc_helpers import need, orthanc
from tests.ports import free_port

MODALITY = "MODALITY"
RESULT_MODALITIES = {"SEG": 2, "SR": 1, "DOC": 1}


def _storescu(port: int, files: list[Path] | Path, aet: str = MODALITY) -> int:
    args = [need("storescu"), "-aet", aet, "-aec", "KYPHO", "127.0.0.1", str(port)]
    args += ["+sd", str(files)] if isinstance(files, Path) else [str(f) for f in files]
    return subprocess.run(args, capture_output=True, check=False, timeout=120).returncode


class Listener:
    """`kypho listen` in a subprocess (so it can be killed like a real service)."""

    def __init__(self, out: Path, port: int, send_to: str) -> None:
        self.out, self.port, self.send_to = out, port, send_to
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "kypho", "listen", "--ae-title", "KYPHO", "--port",
               str(self.port), "--allow", f"{MODALITY},OTHER", "--out", str(self.out),
               "--send-to", self.send_to, "--quiet-seconds", "2", "--host", "127.0.0.1"]
        log = (self.out.parent / "listen.log").open("a")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError("kypho listen did not open its port")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def states(self) -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in (self.out / "series").glob("*.json")}

    def wait_for(self, uid: str, status: tuple[str, ...], timeout: float = 180) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.states().get(uid)
            if st and st["status"] in status:
                return st
            assert self.proc is not None and self.proc.poll() is None, "kypho listen died"
            time.sleep(0.2)
        raise AssertionError(f"series {uid} never reached {status}: {self.states().get(uid)}")


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    need("storescu")
    root = tmp_path_factory.mktemp("pacs")
    port = free_port()
    with orthanc(root, {"kypho": ("KYPHO", port)}) as server:
        node = Listener(root / "node", port, f"127.0.0.1:{server.dicom_port}:ORTHANC")
        (root / "node").mkdir()
        node.start()
        try:
            yield root, node, server
        finally:
            if node.proc and node.proc.poll() is None:
                node.proc.terminate()
                node.proc.wait(timeout=20)


def _series(root: Path, name: str, seed: int) -> tuple[Path, str]:
    import pydicom

    write_small_case(root / name, dicom=True, seed=seed)
    files = sorted((root / name / "dicom").iterdir())
    return root / name / "dicom", str(pydicom.dcmread(files[0]).SeriesInstanceUID)


def _results_in_orthanc(server, study_uid: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts: dict[str, int] = {}
    for sid in server.get("/series"):
        s = server.get(f"/series/{sid}")
        study = server.get(f"/studies/{s['ParentStudy']}")
        if study["MainDicomTags"]["StudyInstanceUID"] == study_uid:
            mod = s["MainDicomTags"]["Modality"]
            counts[mod] = counts.get(mod, 0) + len(s["Instances"])
    return counts


def test_ct_comes_back_as_seg_sr_pdf_in_orthanc(pacs) -> None:  # type: ignore[no-untyped-def]
    import pydicom

    root, node, server = pacs
    folder, uid = _series(root, "a", 0)
    study = str(pydicom.dcmread(next(folder.iterdir())).StudyInstanceUID)
    assert _storescu(node.port, folder) == 0
    sent_at = time.time()
    st = node.wait_for(uid, ("sent",))
    deadline = time.time() + 30
    while _results_in_orthanc(server, study) != RESULT_MODALITIES and time.time() < deadline:
        time.sleep(0.3)
    assert _results_in_orthanc(server, study) == RESULT_MODALITIES
    round_trip = time.time() - sent_at
    assert st["analyses"] == 1 and st["instances"] == len(list(folder.iterdir()))
    # The target: back in the PACS within the analysis time plus 10 s (the quiet
    # period of 2 s is part of the 10 s).
    assert round_trip <= st["analysis_s"] + 10.0, (round_trip, st["analysis_s"])
    print(f"round trip {round_trip:.1f} s, analysis {st['analysis_s']:.1f} s")
    # The same series again: duplicates are absorbed, nothing is analysed twice.
    assert _storescu(node.port, folder) == 0
    time.sleep(3)
    st = node.wait_for(uid, ("sent",))
    assert st["analyses"] == 1
    assert len(list((node.out / "inbox" / uid).iterdir())) == len(list(folder.iterdir()))


def test_disallowed_ae_title_is_refused(pacs) -> None:  # type: ignore[no-untyped-def]
    root, node, _ = pacs
    folder, uid = _series(root, "evil", 1)
    assert _storescu(node.port, folder, aet="EVIL") != 0
    assert not (node.out / "inbox" / uid).exists()


def test_non_ct_and_bad_associations_are_survived(pacs) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    root, node, _ = pacs
    mr = write_dicom_series(root / "mr", np.zeros((8, 8, 3)), np.eye(4), modality="MR")
    assert _storescu(node.port, mr) != 0  # no MR presentation context is accepted
    with socket.create_connection(("127.0.0.1", node.port)) as s:  # garbage, not DICOM
        s.sendall(os.urandom(512))
    assert node.proc is not None and node.proc.poll() is None
    ok = subprocess.run([need("echoscu"), "-aet", MODALITY, "-aec", "KYPHO", "127.0.0.1",
                         str(node.port)], capture_output=True, check=False, timeout=30)
    assert ok.returncode == 0
    assert not any(st["calling_ae"] != MODALITY for st in node.states().values())


def test_partial_sender_is_analysed_with_what_arrived(pacs) -> None:  # type: ignore[no-untyped-def]
    root, node, _ = pacs
    folder, uid = _series(root, "half", 2)
    files = sorted(folder.iterdir())
    assert _storescu(node.port, files[: len(files) // 2]) == 0  # then the sender stops
    st = node.wait_for(uid, ("sent", "failed"))
    assert st["analyses"] == 1
    if st["status"] == "failed":
        assert st["error"]  # a reason, and the node goes on


def _wait_results(server, study: str, expected: dict[str, int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    deadline = time.time() + 30
    while _results_in_orthanc(server, study) != expected and time.time() < deadline:
        time.sleep(0.3)
    return _results_in_orthanc(server, study)


def test_a_series_that_grows_after_its_analysis_is_analysed_again(pacs) -> None:  # type: ignore[no-untyped-def]
    import pydicom

    root, node, server = pacs
    folder, uid = _series(root, "grow", 4)
    study = str(pydicom.dcmread(next(folder.iterdir())).StudyInstanceUID)
    files = sorted(folder.iterdir())
    # The last two caudal slices arrive late, after the series was analysed and sent.
    assert _storescu(node.port, files[:-2]) == 0
    first = node.wait_for(uid, ("sent",))
    assert (first["analyses"], first["revision"]) == (1, 1)
    assert _wait_results(server, study, RESULT_MODALITIES) == RESULT_MODALITIES
    assert _storescu(node.port, files[-2:]) == 0
    deadline = time.time() + 180
    while node.states()[uid]["analyses"] < 2 and time.time() < deadline:
        time.sleep(0.2)
    st = node.wait_for(uid, ("sent",))
    assert (st["analyses"], st["revision"], st["instances"]) == (2, 2, len(files))
    results = node.out / "results"
    assert (results / f"{uid}.v1" / "results.json").is_file()  # the first analysis, kept
    assert (results / uid / "results.json").is_file()
    # A new SEG/SR/PDF set for the grown series, next to the first one.
    twice = {m: 2 * n for m, n in RESULT_MODALITIES.items()}
    assert _wait_results(server, study, twice) == twice
    # Everything sent again is a duplicate: no third analysis.
    assert _storescu(node.port, folder) == 0
    time.sleep(3)  # longer than the listener's 2 s quiet period
    st = node.wait_for(uid, ("sent",))
    assert st["analyses"] == 2 and len(list((node.out / "inbox" / uid).iterdir())) == len(files)


def test_killed_mid_analysis_loses_nothing(pacs) -> None:  # type: ignore[no-untyped-def]
    import pydicom

    root, node, server = pacs
    folder, uid = _series(root, "killed", 3)
    study = str(pydicom.dcmread(next(folder.iterdir())).StudyInstanceUID)
    assert _storescu(node.port, folder) == 0
    node.wait_for(uid, ("analysing",))
    node.kill()
    assert not (node.out / "results" / uid / "results.json").exists()
    node.start()
    st = node.wait_for(uid, ("sent",))
    assert st["analyses"] == 2  # restarted once, finished once
    assert _wait_results(server, study, RESULT_MODALITIES) == RESULT_MODALITIES
