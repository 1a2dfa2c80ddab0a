"""Import vertebra masks made by other tools: TotalSegmentator and VerSe.

- TotalSegmentator: a directory of ``vertebrae_*.nii.gz`` (+ ``sacrum.nii.gz``), or its
  multilabel file (task "total" class ids, :data:`TOTALSEG_CLASS_TO_LEVEL`).
- VerSe: ``*_msk.nii.gz`` with VerSe labels (kypho's own numbering).

Masks on another grid are resampled onto the CT grid by nearest neighbour in world
coordinates; body-only masks are derived exactly as for the built-in engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kypho.anatomy.label_stats import level_infos
from kypho.anatomy.levels import TOTALSEG_CLASS_TO_LEVEL, Level, level_from_totalseg_name
from kypho.errors import EmptyInputError, MaskImportError
from kypho.imaging.mask_read import LabelFile, MaskSource
from kypho.imaging.resample import resample_labels
from kypho.imaging.volume import LabelMap, Volume
from kypho.model import Segmentation

__all__ = ["import_masks", "resample_labels"]

#: Largest VerSe label (T13 = 28); a file holding only labels <= this is read as VerSe.
_MAX_VERSE_LABEL = 28


def _from_totalseg_folder(masks: MaskSource) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    vert = [(f, level_from_totalseg_name(f.name)) for f in masks.files]
    vert = [(f, lv) for f, lv in vert if lv is not None]
    if not vert:
        raise EmptyInputError(
            f"{masks.path} holds no TotalSegmentator vertebra masks "
            "(vertebrae_*.nii.gz, sacrum.nii.gz)"
        )
    first = vert[0][0]
    combined = np.zeros(first.shape, np.uint8)
    for f, lv in vert:
        if f.shape != first.shape or not np.allclose(f.affine, first.affine, atol=1e-3):
            raise MaskImportError(f"{f.name} is on another grid than {first.name}")
        # Where two masks overlap the caudal one wins, as the later file in VerSe order.
        combined[f.box][f.crop > 0] = int(lv)
    notes = []
    ribs = [n for n in masks.names if n.startswith("rib_")]
    if ribs:
        notes.append(f"rib masks present ({len(ribs)} files); not used for labels")
    return combined, first.affine, "totalsegmentator", notes


def _from_file(mask: LabelFile, path: Path) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    data, affine = mask.labels(), mask.affine
    present = np.unique(mask.crop)
    present = present[present > 0]
    if present.size == 0:
        raise MaskImportError(f"{path} is empty: no labelled voxel")
    if "_msk" in path.name or present.max() <= _MAX_VERSE_LABEL:
        valid = {int(lv) for lv in Level}
        unknown = sorted(int(v) for v in present if int(v) not in valid)
        notes = [f"ignored labels {unknown}: not VerSe vertebra labels"] if unknown else []
        out = np.where(np.isin(data, sorted(valid)), data, 0).astype(np.uint8)
        return out, affine, "verse", notes
    lut = np.zeros(256, np.uint8)
    for cls_id, lv in TOTALSEG_CLASS_TO_LEVEL.items():
        lut[cls_id] = int(lv)
    out = lut[data]
    if not out.any():
        raise MaskImportError(
            f"{path} holds labels {present.tolist()[:12]}... but none of TotalSegmentator's "
            "vertebra classes (25-50)"
        )
    return out, affine, "totalsegmentator", []


def import_masks(masks: MaskSource, volume: Volume) -> Segmentation:
    """Put vertebra masks from TotalSegmentator or VerSe on the CT grid.

    Parameters
    ----------
    masks : MaskSource
        A TotalSegmentator output folder, its multilabel NIfTI, or a VerSe
        ``*_msk.nii.gz``, as read by :func:`kypho.imaging.mask_read.read_masks`.
    volume : Volume
        The CT the masks belong to.

    Returns
    -------
    Segmentation
        Whole-vertebra and body-only label maps on the CT grid, levels cranial->caudal.
    """
    from kypho.anatomy.engine.bodies import body_from_vertebra
    from kypho.anatomy.mask_fit import check_mask_fit, check_mask_grid

    path = masks.path
    if masks.is_folder:
        labels, affine, method, notes = _from_totalseg_folder(masks)
    else:
        labels, affine, method, notes = _from_file(masks.files[0], path)
    check_mask_grid(affine, volume, str(path))
    on_ct = resample_labels(labels, affine, volume.shape, volume.affine)
    if not on_ct.any():
        raise MaskImportError(
            f"the masks in {path} do not overlap the CT {volume.source or ''}: check that "
            "they belong to this scan"
        )
    notes += check_mask_fit(on_ct, volume, str(path))
    bodies = body_from_vertebra(on_ct, volume.affine, volume.hu)
    source = "TotalSegmentator" if method == "totalsegmentator" else "VerSe"
    levels = level_infos(
        on_ct, bodies, volume.affine, evidence=(f"imported from {source} masks ({path.name})",)
    )
    return Segmentation(
        LabelMap(on_ct, volume.affine), LabelMap(bodies, volume.affine), levels, method, notes
    )
