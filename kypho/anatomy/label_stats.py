"""Per-label statistics of label maps in one pass (voxel counts, centroids, FOV contact)
and the LevelInfo records built from them."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import label_boxes
from kypho.model import LevelInfo

__all__ = ["LabelStats", "label_stats", "level_infos"]


class LabelStats(dict[int, dict[str, object]]):
    """label -> {"count": int, "centroid_ras_mm": (x, y, z), "touches_edge": bool}."""


def label_stats(labels: np.ndarray, affine: np.ndarray) -> LabelStats:
    """Counts, world centroids and edge contact of every non-zero label.

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of uint8
        Label map.
    affine : (4, 4) ndarray
        Voxel -> world RAS mm.

    Returns
    -------
    LabelStats
        Only labels present appear; vectorised with bincount (no per-label scans).
    """
    flat = labels.ravel()
    nlab = int(flat.max()) + 1 if flat.size else 1
    counts = np.bincount(flat, minlength=nlab)
    out = LabelStats()
    present = [int(v) for v in np.nonzero(counts)[0] if v != 0]
    if not present:
        return out
    idx = np.nonzero(flat)[0]
    lab = flat[idx]
    coords = np.unravel_index(idx, labels.shape)
    sums = np.stack(
        [np.bincount(lab, weights=c.astype(np.float64), minlength=nlab) for c in coords], axis=1
    )
    boxes = label_boxes(labels)
    shape = labels.shape
    for v in present:
        ijk = sums[v] / counts[v]
        box = boxes[v - 1]
        touches = any(s.start == 0 or s.stop == n for s, n in zip(box, shape, strict=True))
        out[v] = {
            "count": int(counts[v]),
            "centroid_ras_mm": tuple(float(x) for x in voxel_to_world(affine, ijk)),
            "touches_edge": bool(touches),
        }
    return out


def level_infos(
    vertebrae: np.ndarray,
    bodies: np.ndarray,
    affine: np.ndarray,
    *,
    evidence: tuple[str, ...] = (),
    confidence: float = 1.0,
) -> list[LevelInfo]:
    """LevelInfo for every VerSe label of a whole-vertebra map, cranial to caudal.

    Parameters
    ----------
    vertebrae, bodies : (X, Y, Z) ndarray of uint8
        Whole-vertebra and body-only label maps on one grid (VerSe labels).
    affine : (4, 4) ndarray
        Voxel -> world RAS mm.
    evidence : tuple of str
        Sentences recorded for every level (e.g. where the labels came from).
    confidence : float
        Confidence given to every level.

    Returns
    -------
    list of LevelInfo
        Counts, centroids and field-of-view contact measured on the maps; labels that
        are not vertebral levels are skipped.
    """
    whole = label_stats(vertebrae, affine)
    body = label_stats(bodies, affine)
    infos = []
    for lab, st in whole.items():
        try:
            level = Level(lab)
        except ValueError:
            continue
        notes = list(evidence)
        if st["touches_edge"]:
            notes.append("touches the edge of the field of view")
        infos.append(
            LevelInfo(
                level=level,
                centroid_ras_mm=st["centroid_ras_mm"],  # type: ignore[arg-type]
                body_centroid_ras_mm=body[lab]["centroid_ras_mm"]  # type: ignore[arg-type]
                if lab in body
                else None,
                voxel_count=int(st["count"]),  # type: ignore[arg-type]
                confidence=confidence,
                evidence=tuple(notes),
                cut_by_fov=bool(st["touches_edge"]),
            )
        )
    infos.sort(key=lambda i: -i.centroid_ras_mm[2])
    return infos
