"""Which cases a batch holds: from folders, files and manifests, each with a unique id."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kypho.errors import KyphoError

__all__ = ["BatchInputError", "Case", "discover_cases"]

_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


class BatchInputError(KyphoError):
    """The batch inputs or the manifest cannot be turned into a list of cases."""


@dataclass(frozen=True)
class Case:
    """One CT of a batch: `case_id` names its output folder."""

    case_id: str
    path: Path


def _is_image(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(_IMAGE_SUFFIXES)


def _has_dicom(folder: Path) -> bool:
    """True when the folder holds files that are not image volumes (a DICOM series)."""
    for p in folder.iterdir():
        if p.is_file() and not p.name.startswith(".") and not _is_image(p) \
                and p.suffix.lower() not in (".json", ".csv", ".txt", ".md"):
            with p.open("rb") as fh:
                head = fh.read(132)
            if head[128:132] == b"DICM" or p.suffix.lower() == ".dcm":
                return True
    return False


def _stem(p: Path) -> str:
    name = p.name
    for suffix in _IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _expand(path: Path, depth: int = 0) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BatchInputError(f"Batch input {path} does not exist.")
    if _has_dicom(path):
        return [path]
    images = sorted(p for p in path.iterdir() if _is_image(p))
    # A case folder (kypho phantom, TotalSegmentator, VerSe layouts): ct.nii.gz is the
    # CT, the other images beside it are its masks.
    main = [p for p in images if _stem(p).lower() in ("ct", "image")]
    if main:
        return main[:1]
    if depth >= 2:
        return images
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    return images + [c for d in subdirs for c in _expand(d, depth + 1)]


def _read_manifest(manifest: Path) -> list[tuple[str | None, Path]]:
    """Rows of a CSV with a ``path`` column and an optional ``case_id`` column."""
    try:
        with manifest.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BatchInputError(f"Cannot read the manifest {manifest}: {exc}.") from None
    if not rows or "path" not in rows[0]:
        raise BatchInputError(f"The manifest {manifest} needs a header row with a 'path' "
                              "column (and optionally 'case_id').")
    out = []
    for row in rows:
        p = Path(row["path"]).expanduser()
        out.append((row.get("case_id") or None, p if p.is_absolute() else manifest.parent / p))
    return out


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "case"


def discover_cases(inputs: Iterable[Path], manifest: Path | None = None) -> list[Case]:
    """Every case of the inputs, in order, with unique folder-safe ids.

    A file is a case; a folder holding a DICOM series is a case; any other folder
    contributes its image files and, two levels deep, its subfolders.
    """
    named: list[tuple[str | None, Path]] = [(None, p) for i in inputs for p in _expand(Path(i))]
    if manifest is not None:
        named += _read_manifest(Path(manifest))
    cases: list[Case] = []
    used: set[str] = set()
    seen: set[Path] = set()
    for case_id, path in named:
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        stem = _stem(path)
        # Generic names ("ct.nii.gz", "dicom/") take their parent folder's name.
        if not case_id and stem.lower() in ("ct", "dicom", "image", "series"):
            stem = f"{path.parent.name}_{stem}"
        base = _safe_id(case_id or stem)
        cid, n = base, 2
        while cid in used:
            cid, n = f"{base}_{n}", n + 1
        used.add(cid)
        cases.append(Case(cid, resolved))
    if not cases:
        raise BatchInputError("The batch inputs hold no CT (no image file and no DICOM folder).")
    return cases
