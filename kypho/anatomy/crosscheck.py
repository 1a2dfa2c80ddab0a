"""Cross-checks of imported vertebra labels against independent evidence.

Imported masks are trusted for their voxels, but their *names* can still be wrong (an
off-by-one level is the classic failure). Two independent sources are checked here:

- a VerSe centroid file (``*_ctd.json``) beside a VerSe mask: every labelled centroid
  should lie inside or near the mask of the same label;
- TotalSegmentator rib masks: ribs 10-12 articulate with their own vertebra only
  (costovertebral joint on the body of T10, T11, T12), so the medial end of rib N must
  meet vertebra TN.

Pure computation: the centroid file is read by :mod:`kypho.imaging.centroid_read`.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel.orientations as nio
import numpy as np
from scipy.spatial import cKDTree

from kypho.anatomy.levels import Level
from kypho.imaging.centroid_read import CentroidFile
from kypho.imaging.orientation import affine_spacing, voxel_to_world

__all__ = [
    "CENTROID_TOLERANCE_MM",
    "RIB_CONTACT_MM",
    "CentroidCheck",
    "check_centroids",
    "check_rib_levels",
    "verse_centroids_ras",
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


def verse_centroids_ras(
    ctd: CentroidFile, mask_affine: np.ndarray, mask_shape: tuple[int, int, int]
) -> dict[Level, tuple[float, float, float]]:
    """World RAS centroids of the levels in a VerSe centroid file.

    Parameters
    ----------
    ctd : CentroidFile
        As read by :func:`kypho.imaging.centroid_read.read_centroid_file`: voxel
        coordinates of the mask reoriented to ``ctd.direction`` (scaled to
        ``ctd.zoom_mm`` when given).
    mask_affine : (4, 4) ndarray
        Voxel -> world RAS mm of the mask as stored.
    mask_shape : tuple of int
        Shape of the mask as stored.

    Returns
    -------
    dict of Level to (3,) tuple of float
        World RAS mm centroid per level (labels kypho does not know are skipped).
    """
    affine = np.asarray(mask_affine, float)
    # The file's voxel grid is the mask reoriented to its direction: build that affine.
    start = nio.io_orientation(affine)
    target = nio.axcodes2ornt(ctd.direction)
    transform = nio.ornt_transform(start, target)
    dir_affine = affine @ nio.inv_ornt_aff(transform, mask_shape)
    zoom_scale = np.ones(3)
    if ctd.zoom_mm is not None:
        zoom_scale = np.asarray(ctd.zoom_mm) / np.asarray(affine_spacing(dir_affine))
    out: dict[Level, tuple[float, float, float]] = {}
    for label, xyz in ctd.points:
        try:
            level = Level(label)
        except ValueError:
            continue  # other points of interest (sub-region landmarks) are not levels
        ijk = np.asarray(xyz, float) * zoom_scale
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
