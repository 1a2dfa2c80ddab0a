"""DICOMweb input and output: ``dicomweb+http://HOST/ROOT/studies/UID[/series/UID]``.

QIDO-RS finds the CT series (the one with the most instances when only a study is
given), WADO-RS fetches it into a local folder that the normal DICOM reader reads, and
STOW-RS stores kypho's SEG, SR and PDF back into the same study (dicomweb-client).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom

from kypho.errors import KyphoError

__all__ = ["DicomwebError", "DicomwebTarget", "fetch_series", "local_input", "parse_dicomweb",
           "store_files"]

_PATTERN = re.compile(
    r"^dicomweb\+(?P<scheme>https?):/+(?P<base>.+?)/studies/(?P<study>[0-9.]+)"
    r"(?:/series/(?P<series>[0-9.]+))?/?$"
)
_SERIES_UID, _MODALITY, _N_INSTANCES = "0020000E", "00080060", "00201209"


class DicomwebError(KyphoError):
    """The DICOMweb server cannot be reached or does not hold what was asked for."""


@dataclass(frozen=True)
class DicomwebTarget:
    """A study (and optionally one series) on a DICOMweb server."""

    base_url: str
    study_uid: str
    series_uid: str | None = None


def parse_dicomweb(text: str) -> DicomwebTarget | None:
    """The target of a ``dicomweb+http(s)://`` address, None for anything else.

    A path argument may have had its ``//`` collapsed to ``/``; both forms are accepted.
    """
    m = _PATTERN.match(str(text))
    if m is None:
        return None
    return DicomwebTarget(f"{m['scheme']}://{m['base']}", m["study"], m["series"])


def _client(target: DicomwebTarget):  # type: ignore[no-untyped-def]
    from dicomweb_client.api import DICOMwebClient

    return DICOMwebClient(url=target.base_url)


def _value(attrs: dict, tag: str) -> object:
    return (attrs.get(tag, {}).get("Value") or [None])[0]


def _choose_series(target: DicomwebTarget) -> str:
    client = _client(target)
    found = client.search_for_series(study_instance_uid=target.study_uid,
                                     fields=[_N_INSTANCES, _MODALITY])
    ct = [s for s in found if _value(s, _MODALITY) == "CT"]
    if not ct:
        raise DicomwebError(f"Study {target.study_uid} at {target.base_url} holds no CT "
                            "series; give the series with .../series/UID.")
    return str(_value(max(ct, key=lambda s: int(_value(s, _N_INSTANCES) or 0)), _SERIES_UID))


def fetch_series(target: DicomwebTarget, dest: Path) -> Path:
    """Retrieve the target's CT series into `dest` (one file per instance)."""
    import requests

    try:
        series = target.series_uid or _choose_series(target)
        datasets = _client(target).retrieve_series(target.study_uid, series)
    except requests.RequestException as exc:
        raise DicomwebError(f"Cannot fetch study {target.study_uid} from "
                            f"{target.base_url}: {exc}") from None
    if not datasets:
        raise DicomwebError(f"Series {series} of study {target.study_uid} is empty at "
                            f"{target.base_url}.")
    dest.mkdir(parents=True, exist_ok=True)
    for i, ds in enumerate(datasets):
        ds.save_as(dest / f"IM{i + 1:05d}.dcm", enforce_file_format=True)
    return dest


def store_files(target: DicomwebTarget, files: list[Path]) -> None:
    """STOW-RS `files` into the target's study."""
    import requests

    datasets = [pydicom.dcmread(f) for f in files]
    try:
        _client(target).store_instances(datasets, study_instance_uid=target.study_uid)
    except requests.RequestException as exc:
        raise DicomwebError(f"Cannot store the results at {target.base_url}: {exc}") from None


@contextlib.contextmanager
def local_input(ct: Path | str) -> Iterator[tuple[Path, DicomwebTarget | None]]:
    """`ct` itself, or for a DICOMweb address its CT series fetched into a temporary
    folder (removed afterwards) together with the target to store results to."""
    target = parse_dicomweb(str(ct))
    if target is None:
        yield Path(ct), None
        return
    with tempfile.TemporaryDirectory(prefix="kypho-dicomweb-") as tmp:
        yield fetch_series(target, Path(tmp) / "ct"), target
