"""A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on loopback for the PACS tests.

The binary comes from ``make deps-dicom`` (which ``make test`` runs); tests skip only
when it is truly absent, saying so.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    http_port, dicom_port = free_port(), free_port()
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
    proc = subprocess.Popen([exe, str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(f"http://127.0.0.1:{http_port}", dicom_port, "ORTHANC")
    try:
        deadline = time.time() + 30
        while True:
            try:
                server.get("/system")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    text = (tmp / "orthanc.log").read_text()
                    raise RuntimeError(f"Orthanc did not start: {text}") from None
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
