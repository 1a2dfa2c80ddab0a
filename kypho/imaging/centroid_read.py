"""Reading a VerSe / TPTBox centroid file (``*_ctd.json``) beside a VerSe mask.

The file is the VerSe challenge's format, so it is known here; what its points mean
(levels, world positions, the cross-check with the mask) is :mod:`kypho.anatomy`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kypho.errors import CorruptFileError

__all__ = ["CentroidFile", "find_centroid_file", "read_centroid_file"]


@dataclass(frozen=True)
class CentroidFile:
    """The points of a VerSe centroid file, as stored.

    Attributes
    ----------
    name : str
        File name (no folder), for messages.
    direction : tuple of str
        Axis codes of the file's voxel grid (``("P", "I", "R")``): the mask reoriented.
    zoom_mm : tuple of float or None
        Voxel size the coordinates are scaled to, when the file states one.
    points : tuple of (int, (float, float, float))
        ``(label, (X, Y, Z))`` per labelled point, voxel coordinates on that grid.
        Entries without an integer label or three coordinates are left out (other
        points of interest).
    """

    name: str
    direction: tuple[str, str, str]
    zoom_mm: tuple[float, float, float] | None
    points: tuple[tuple[int, tuple[float, float, float]], ...]


def find_centroid_file(mask_path: str | Path) -> Path | None:
    """The VerSe centroid JSON that belongs to a VerSe mask, if one lies beside it.

    VerSe names them ``sub-verse004_seg-vert_msk.nii.gz`` and
    ``sub-verse004_seg-subreg_ctd.json``: the subject prefix before ``_seg-`` is shared.
    """
    mask_path = Path(mask_path)
    name = mask_path.name
    prefix = name.split("_seg-")[0] if "_seg-" in name else name.split("_msk")[0]
    candidates = sorted(mask_path.parent.glob(f"{prefix}*_ctd.json"))
    return candidates[0] if candidates else None


def _zoom(header: dict) -> tuple[float, float, float] | None:
    try:
        zoom = tuple(float(v) for v in header["zoom"])
    except (KeyError, TypeError, ValueError):
        return None
    return zoom if len(zoom) == 3 and all(v > 0 for v in zoom) else None  # type: ignore[return-value]


def read_centroid_file(path: str | Path) -> CentroidFile:
    """Read a VerSe / TPTBox centroid JSON.

    Parameters
    ----------
    path : str or Path
        The ``*_ctd.json`` file: a list whose first element holds ``"direction"`` (axis
        codes such as ``["P", "I", "R"]``, optionally ``"zoom"``), then entries
        ``{"label": 20, "X": .., "Y": .., "Z": ..}`` in voxel coordinates of the mask
        reoriented to that direction (scaled to ``zoom`` when given).

    Raises
    ------
    CorruptFileError
        When the file is not a VerSe centroid list or its direction is not three
        distinct axes.
    """
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        header = items[0]
        codes = tuple(str(c).upper() for c in header["direction"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CorruptFileError(f"{path} is not a VerSe centroid file: {exc}") from None
    pairs = [{"L", "R"}, {"A", "P"}, {"S", "I"}]
    if len(codes) != 3 or any(len(pair & set(codes)) != 1 for pair in pairs):
        raise CorruptFileError(f"{path} has an invalid direction {list(codes)}")
    points = []
    for item in items[1:]:
        try:
            xyz = (float(item["X"]), float(item["Y"]), float(item["Z"]))
            points.append((int(item["label"]), xyz))
        except (KeyError, TypeError, ValueError):
            continue
    return CentroidFile(path.name, codes, _zoom(header), tuple(points))  # type: ignore[arg-type]
