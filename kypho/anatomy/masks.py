"""Import vertebra masks made by other tools, then cross-check their level names.

The voxels come from :func:`kypho.anatomy.mask_import.import_masks` (TotalSegmentator
directory or multilabel file, VerSe ``*_msk.nii.gz``; resampled onto the CT grid, bodies
cut with the built-in engine's code). This module adds what can be checked independently:

- a VerSe centroid file beside a VerSe mask (``<subject>*_ctd.json``);
- TotalSegmentator rib masks (ribs 10-12 must meet T10-T12).

Agreements become evidence on the level; disagreements become warnings and lower the
level's confidence to :data:`DISPUTED_CONFIDENCE`.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from kypho.anatomy.crosscheck import (
    CENTROID_TOLERANCE_MM,
    check_centroids,
    check_rib_levels,
    verse_centroids_ras,
)
from kypho.anatomy.levels import Level
from kypho.anatomy.mask_import import import_masks as _import_voxels
from kypho.anatomy.plausibility import check_column
from kypho.imaging.centroid_read import CentroidFile
from kypho.imaging.mask_read import LabelFile, MaskSource
from kypho.imaging.resample import resample_labels
from kypho.imaging.volume import Volume
from kypho.model import LevelInfo, Segmentation

__all__ = ["DISPUTED_CONFIDENCE", "import_masks"]

#: Confidence of an imported level that independent evidence contradicts.
DISPUTED_CONFIDENCE = 0.5
#: TotalSegmentator's masks of ribs 10-12 (``rib_left_12.nii.gz``): the ribs that
#: meet T10-T12.
_RIB_10_12 = re.compile(r"^rib_.+_1[0-2]\.nii")


def import_masks(masks: MaskSource, volume: Volume) -> Segmentation:
    """Put TotalSegmentator or VerSe masks on the CT grid and cross-check their levels.

    Parameters
    ----------
    masks : MaskSource
        A TotalSegmentator output folder, its multilabel NIfTI, or a VerSe
        ``*_msk.nii.gz`` as read by :func:`kypho.imaging.mask_read.read_masks` (the
        ``*_ctd.json`` it found beside a VerSe mask is used for a cross-check).
    volume : Volume
        The CT the masks belong to.

    Returns
    -------
    Segmentation
        As :func:`kypho.anatomy.mask_import.import_masks`, with cross-check evidence and
        warnings added (confidence 1.0 unless independent evidence disagrees).

    Raises
    ------
    KyphoError
        Subclasses for missing, unreadable, empty or non-overlapping masks.
    """
    seg = _import_voxels(masks, volume)
    evidence: dict[Level, list[str]] = {}
    disputed: set[Level] = set()
    warnings: list[str] = []
    if masks.is_folder:
        ribs = _ribs_on_ct(masks, volume)
        if ribs:
            agree, disagree = check_rib_levels(seg.vertebrae.labels, volume.affine, ribs)
            for level, sentence in agree:
                evidence.setdefault(level, []).append(f"rib masks agree: {sentence}")
            if disagree:
                warnings.extend(disagree)
                disputed.update(info.level for info in seg.levels)
    elif seg.method == "verse" and masks.centroids is not None:
        warnings.extend(
            _check_verse_centroids(masks.files[0], masks.centroids, seg, evidence, disputed)
        )
    warnings.extend(check_column(seg))
    if not evidence and not warnings:
        return seg
    levels = [
        _amend(info, evidence.get(info.level, []), info.level in disputed) for info in seg.levels
    ]
    return Segmentation(seg.vertebrae, seg.bodies, levels, seg.method, [*seg.warnings, *warnings])


def _amend(info: LevelInfo, extra: list[str], disputed: bool) -> LevelInfo:
    confidence = min(info.confidence, DISPUTED_CONFIDENCE) if disputed else info.confidence
    return dataclasses.replace(info, evidence=(*info.evidence, *extra), confidence=confidence)


def _ribs_on_ct(masks: MaskSource, volume: Volume) -> dict[str, np.ndarray]:
    """TotalSegmentator rib masks of ribs 10-12 resampled onto the CT grid."""
    ribs: dict[str, np.ndarray] = {}
    for f in masks.files:
        if _RIB_10_12.match(f.name):
            mask = (f.labels() > 0).astype(np.uint8)
            ribs[f.name.split(".")[0]] = (
                resample_labels(mask, f.affine, volume.shape, volume.affine) > 0
            )
    return ribs


def _check_verse_centroids(
    mask: LabelFile,
    ctd: CentroidFile,
    seg: Segmentation,
    evidence: dict[Level, list[str]],
    disputed: set[Level],
) -> list[str]:
    file_points = verse_centroids_ras(ctd, mask.affine, mask.shape)
    # A vertebra cut by the field of view has a shifted mask centroid: not comparable.
    whole = {i.level: i.centroid_ras_mm for i in seg.levels if not i.cut_by_fov}
    body = {
        i.level: i.body_centroid_ras_mm or i.centroid_ras_mm for i in seg.levels if not i.cut_by_fov
    }
    comparable = {lv: p for lv, p in file_points.items() if lv in whole}
    missing = [
        lv.display
        for lv in file_points
        if lv not in whole and lv not in {i.level for i in seg.levels}
    ]
    # VerSe marks a point inside the vertebra; compare with whichever centroid (whole or
    # body-only) is nearer, the two differ by ~10 mm along the AP axis.
    nearer = {
        lv: min((whole[lv], body[lv]), key=lambda c, p=p: float(np.linalg.norm(np.subtract(c, p))))
        for lv, p in comparable.items()
    }
    result = check_centroids(nearer, comparable)
    for lv, d in result.distance_mm.items():
        if d <= CENTROID_TOLERANCE_MM:
            evidence.setdefault(lv, []).append(
                f"VerSe centroid file {ctd.name} agrees within {d:.1f} mm"
            )
        else:
            disputed.add(lv)
    warnings = list(result.warnings)
    if missing:
        warnings.append(
            f"the centroid file {ctd.name} lists {', '.join(missing)} "
            "which the mask does not hold"
        )
    return warnings
