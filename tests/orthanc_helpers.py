"""A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on loopback for the PACS tests.

The binary comes from ``make deps-dicom`` (which ``make test`` runs); tests skip only
when it is truly absent, saying so.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.ports import START_ATTEMPTS, free_ports

DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (run `make deps-dicom`)")
    return path


@dataclass(frozen=True)
class Orthanc:
    http: str
    dicom_port: int
    aet: str

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.http + path, timeout=10) as r:
            return json.loads(r.read())

    def instances_by_modality(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sid in self.get("/series"):  # type: ignore[union-attr]
            s = self.get(f"/series/{sid}")
            mod = s["MainDicomTags"].get("Modality", "?")  # type: ignore[index]
            counts[mod] = counts.get(mod, 0) + len(s["Instances"])  # type: ignore[index]
        return counts


@contextlib.contextmanager
def orthanc(tmp: Path, modalities: dict[str, tuple[str, int]]) -> Iterator[Orthanc]:
    """Start Orthanc with its own storage on free loopback ports; stop it afterwards."""
    exe = need("Orthanc")
    for _ in range(START_ATTEMPTS):
        http_port, dicom_port = free_ports(2)
        proc, log = _start(exe, tmp, http_port, dicom_port, modalities)
        server = Orthanc(f"http://127.0.0.1:{http_port}", dicom_port, "ORTHANC")
        try:
            started = _wait_started(server, proc, tmp)
        except BaseException:
            _stop(proc, log)
            raise
        if started:
            break
        _stop(proc, log)
    else:
        raise RuntimeError(f"Orthanc did not start: {(tmp / 'orthanc.log').read_text()}")
    try:
        yield server
    finally:
        _stop(proc, log)


def _start(
    exe: str, tmp: Path, http_port: int, dicom_port: int, modalities: dict[str, tuple[str, int]]
) -> tuple[subprocess.Popen, IO[str]]:
    config = {
        "Name": "kypho-test", "StorageDirectory": str(tmp / "storage"),
        "IndexDirectory": str(tmp / "storage"), "HttpPort": http_port,
        "DicomPort": dicom_port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "HttpBindAddress": "127.0.0.1",
        "DicomModalities": {name: [aet, "127.0.0.1", port]
                            for name, (aet, port) in modalities.items()},
        "DicomCheckModalityHost": False, "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowFind": True,
        "Plugins": [str(DICOMWEB_PLUGIN)] if DICOMWEB_PLUGIN.exists() else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "StableAge": 1,
    }
    cfg = tmp / "orthanc.json"
    cfg.write_text(json.dumps(config))
    log = (tmp / "orthanc.log").open("w")
    return subprocess.Popen([exe, str(cfg)], stdout=log, stderr=subprocess.STDOUT), log


def _wait_started(server: Orthanc, proc: subprocess.Popen, tmp: Path) -> bool:
    """True once Orthanc answers; False if it gave up because a port was taken."""
    deadline = time.time() + 30
    while True:
        try:
            server.get("/system")
            return True
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                text = (tmp / "orthanc.log").read_text()
                if "already in use" in text:
                    return False
                raise RuntimeError(f"Orthanc did not start: {text}") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen, log: IO[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
