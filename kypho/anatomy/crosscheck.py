"""Cross-checks of imported vertebra labels against independent evidence.

Imported masks are trusted for their voxels, but their *names* can still be wrong (an
off-by-one level is the classic failure). Two independent sources are checked here:

- a VerSe centroid file (``*_ctd.json``) beside a VerSe mask: every labelled centroid
  should lie inside or near the mask of the same label;
- TotalSegmentator rib masks: ribs 10-12 articulate with their own vertebra only
  (costovertebral joint on the body of T10, T11, T12), so the medial end of rib N must
  meet vertebra TN.

Pure computation except :func:`read_verse_centroids`, which reads the small JSON file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel.orientations as nio
import numpy as np
from scipy.spatial import cKDTree

from kypho.anatomy.levels import Level
from kypho.errors import CorruptFileError
from kypho.imaging.orientation import affine_spacing, voxel_to_world

__all__ = [
    "CENTROID_TOLERANCE_MM",
    "RIB_CONTACT_MM",
    "CentroidCheck",
    "check_centroids",
    "check_rib_levels",
    "read_verse_centroids",
]

#: A centroid further than this from its mask's centroid is reported. VerSe counts a
#: vertebra as identified within 20 mm (DOMAIN.md §3); half of that flags a real mismatch
#: while tolerating centroid definitions (body vs whole vertebra) that differ by ~5-8 mm.
CENTROID_TOLERANCE_MM = 10.0

#: A rib's medial end counts as meeting a vertebra within this gap (joint space plus
#: partial volume at 3 mm slices).
RIB_CONTACT_MM = 12.0

#: Ribs that articulate with a single vertebra of the same number (ribs 1 and 10-12).
_SINGLE_FACET_RIBS = (10, 11, 12)


def read_verse_centroids(
    path: str | Path, mask_affine: np.ndarray, mask_shape: tuple[int, int, int]
) -> dict[Level, tuple[float, float, float]]:
    """Read a VerSe / TPTBox centroid JSON and return world RAS centroids.

    Parameters
    ----------
    path : str or Path
        The ``*_ctd.json`` file: a list whose first element holds ``"direction"`` (axis
        codes such as ``["P", "I", "R"]``, optionally ``"zoom"``), then entries
        ``{"label": 20, "X": .., "Y": .., "Z": ..}`` in voxel coordinates of the mask
        reoriented to that direction (scaled to ``zoom`` when given).
    mask_affine : (4, 4) ndarray
        Voxel -> world RAS mm of the mask as stored.
    mask_shape : tuple of int
        Shape of the mask as stored.

    Returns
    -------
    dict of Level to (3,) tuple of float
        World RAS mm centroid per level (labels kypho does not know are skipped).

    Raises
    ------
    CorruptFileError
        When the file is not a VerSe centroid list.
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
    affine = np.asarray(mask_affine, float)
    # The file's voxel grid is the mask reoriented to `codes`: build that grid's affine.
    start = nio.io_orientation(affine)
    target = nio.axcodes2ornt(codes)
    transform = nio.ornt_transform(start, target)
    dir_affine = affine @ nio.inv_ornt_aff(transform, mask_shape)
    zoom_scale = np.ones(3)
    if "zoom" in header:
        file_zoom = np.asarray(header["zoom"], float)
        mask_zoom = np.asarray(affine_spacing(dir_affine))
        if file_zoom.shape == (3,) and np.all(file_zoom > 0):
            zoom_scale = file_zoom / mask_zoom
    out: dict[Level, tuple[float, float, float]] = {}
    for item in items[1:]:
        try:
            label = int(item["label"])
            ijk = np.array([item["X"], item["Y"], item["Z"]], float) * zoom_scale
            level = Level(label)
        except (KeyError, TypeError, ValueError):
            continue  # other points of interest (sub-region landmarks) are not levels
        out[level] = tuple(float(v) for v in voxel_to_world(dir_affine, ijk))  # type: ignore[assignment]
    return out


@dataclass(frozen=True)
class CentroidCheck:
    """Outcome of comparing mask centroids with a centroid file.

    ``distance_mm`` maps each level present in both to the distance (mm) between the
    file's centroid and the mask centroid; ``warnings`` lists every disagreement.
    """

    distance_mm: dict[Level, float]
    warnings: tuple[str, ...]


def check_centroids(
    mask_centroids_ras_mm: dict[Level, tuple[float, float, float]],
    file_centroids_ras_mm: dict[Level, tuple[float, float, float]],
    tolerance_mm: float = CENTROID_TOLERANCE_MM,
) -> CentroidCheck:
    """Compare per-level centroids of a mask with those of a centroid file.

    Parameters
    ----------
    mask_centroids_ras_mm, file_centroids_ras_mm : dict of Level to (3,) tuple
        World RAS mm centroids.
    tolerance_mm : float
        Largest distance accepted without a warning.

    Returns
    -------
    CentroidCheck
    """
    distances: dict[Level, float] = {}
    warnings: list[str] = []
    for level, point in file_centroids_ras_mm.items():
        if level not in mask_centroids_ras_mm:
            warnings.append(
                f"the centroid file lists {level.display} but the mask has no such label"
            )
            continue
        d = float(np.linalg.norm(np.subtract(point, mask_centroids_ras_mm[level])))
        distances[level] = d
        if d > tolerance_mm:
            nearest = min(
                mask_centroids_ras_mm,
                key=lambda lv: np.linalg.norm(np.subtract(point, mask_centroids_ras_mm[lv])),
            )
            hint = "" if nearest is level else f" (nearest mask label: {nearest.display})"
            warnings.append(
                f"the centroid file puts {level.display} {d:.1f} mm from the mask's "
                f"{level.display}{hint}: check the labels"
            )
    return CentroidCheck(distances, tuple(warnings))


def check_rib_levels(
    vertebrae: np.ndarray, affine: np.ndarray, ribs: dict[str, np.ndarray]
) -> tuple[list[tuple[Level, str]], list[str]]:
    """Check that ribs 10-12 meet the thoracic vertebra of the same number.

    Parameters
    ----------
    vertebrae : (X, Y, Z) ndarray of uint8
        Whole-vertebra labels (VerSe numbering) on the grid of `affine`.
    affine : (4, 4) ndarray
        Voxel -> world RAS mm.
    ribs : dict of str to (X, Y, Z) ndarray of bool
        Rib masks on the same grid, keyed by TotalSegmentator name (``"rib_left_12"``).

    Returns
    -------
    evidence : list of (Level, str)
        Agreements: the level and the sentence, e.g. (T12, "rib_left_12 meets T12").
    warnings : list of str
        Disagreements, e.g. "rib_right_12 meets L1, expected T12".
    """
    evidence: list[tuple[Level, str]] = []
    warnings: list[str] = []
    vox = np.argwhere(vertebrae > 0)
    if vox.size == 0:
        return evidence, warnings
    tree = cKDTree(voxel_to_world(affine, vox))
    vert_labels = vertebrae[tuple(vox.T)]
    for name, mask in sorted(ribs.items()):
        try:
            number = int(name.rsplit("_", 1)[1].split(".")[0])
        except (IndexError, ValueError):
            continue
        if number not in _SINGLE_FACET_RIBS or not mask.any():
            continue
        rib_world = voxel_to_world(affine, np.argwhere(mask))
        dist, idx = tree.query(rib_world, k=1)
        closest = int(np.argmin(dist))
        if dist[closest] > RIB_CONTACT_MM:
            continue  # the rib's head is outside the field of view
        met = Level(int(vert_labels[idx[closest]]))
        expected = Level[f"T{number}"]
        if met is expected:
            evidence.append((expected, f"{name} meets {expected.display}"))
        else:
            warnings.append(
                f"{name} meets the vertebra labelled {met.display}, expected {expected.display}: "
                "check the level labels"
            )
    return evidence, warnings
