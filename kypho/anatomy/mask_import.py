"""Import vertebra masks made by other tools: TotalSegmentator and VerSe.

- TotalSegmentator: a directory of ``vertebrae_*.nii.gz`` (+ ``sacrum.nii.gz``), or its
  multilabel file (task "total" class ids, :data:`TOTALSEG_CLASS_TO_LEVEL`).
- VerSe: ``*_msk.nii.gz`` with VerSe labels (kypho's own numbering).

Masks on another grid are resampled onto the CT grid by nearest neighbour in world
coordinates; body-only masks are derived exactly as for the built-in engine.
"""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from kypho.anatomy.label_stats import level_infos
from kypho.anatomy.levels import TOTALSEG_CLASS_TO_LEVEL, Level, level_from_totalseg_name
from kypho.errors import CorruptFileError, EmptyInputError, MaskImportError, NotAnImageError
from kypho.imaging.volume import LabelMap, Volume
from kypho.model import Segmentation

__all__ = ["import_masks", "resample_labels"]

#: Largest VerSe label (T13 = 28); a file holding only labels <= this is read as VerSe.
_MAX_VERSE_LABEL = 28
_NIFTI = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except FileNotFoundError:
        raise NotAnImageError(f"mask file {path} does not exist") from None
    except Exception as exc:  # nibabel raises many types for damaged files
        raise CorruptFileError(f"cannot read mask file {path}: {exc}") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise MaskImportError(f"{path} is not a 3-D mask (shape {data.shape})")
    if not np.issubdtype(data.dtype, np.integer) and not np.all(np.mod(data, 1) == 0):
        raise MaskImportError(f"{path} holds non-integer values: not a label mask")
    if data.min() < 0 or data.max() > 255:
        raise MaskImportError(f"{path} holds labels outside 0..255: not a vertebra mask")
    return data.astype(np.uint8, copy=False), img.affine


def resample_labels(
    labels: np.ndarray, affine: np.ndarray, target_shape: tuple[int, ...], target_affine: np.ndarray
) -> np.ndarray:
    """Nearest-neighbour resampling of a label map onto another grid (world coordinates).

    Parameters
    ----------
    labels : (I, J, K) ndarray of uint8
        Labels on their own grid.
    affine, target_affine : (4, 4) ndarray
        Voxel -> world RAS mm of the source and the target grids.
    target_shape : tuple of int
        Shape of the target grid.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
        Labels on the target grid; 0 outside the source field of view.
    """
    if labels.shape == tuple(target_shape) and np.allclose(affine, target_affine, atol=1e-3):
        return labels
    mapping = np.linalg.inv(affine) @ target_affine
    # Grids that differ by axis order, flips or whole-voxel shifts map exactly onto each
    # other; rounding removes the float error that would push edge voxels off the grid.
    rounded = np.round(mapping)
    if np.allclose(mapping, rounded, atol=1e-4):
        mapping = rounded
    return ndimage.affine_transform(
        labels,
        mapping[:3, :3],
        offset=mapping[:3, 3],
        output_shape=tuple(target_shape),
        order=0,
        mode="constant",
        cval=0,
        output=np.uint8,
    )


def _from_totalseg_dir(path: Path) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    files = sorted(p for p in path.iterdir() if _NIFTI.search(p.name))
    vert = [(p, level_from_totalseg_name(p.name)) for p in files]
    vert = [(p, lv) for p, lv in vert if lv is not None]
    if not vert:
        raise EmptyInputError(
            f"{path} holds no TotalSegmentator vertebra masks (vertebrae_*.nii.gz, sacrum.nii.gz)"
        )
    combined: np.ndarray | None = None
    affine = None
    for p, lv in vert:
        data, aff = _load(p)
        if combined is None:
            combined, affine = np.zeros(data.shape, np.uint8), aff
        elif data.shape != combined.shape or not np.allclose(aff, affine, atol=1e-3):
            raise MaskImportError(f"{p.name} is on another grid than {vert[0][0].name}")
        # Where two masks overlap the caudal one wins, as the later file in VerSe order.
        combined[data > 0] = int(lv)
    notes = []
    ribs = sorted(p.name for p in files if p.name.startswith("rib_"))
    if ribs:
        notes.append(f"rib masks present ({len(ribs)} files); not used for labels")
    return combined, affine, "totalsegmentator", notes  # type: ignore[return-value]


def _from_file(path: Path) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    data, affine = _load(path)
    present = np.unique(data)
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


def import_masks(path: str | Path, volume: Volume) -> Segmentation:
    """Read vertebra masks from TotalSegmentator or VerSe and put them on the CT grid.

    Parameters
    ----------
    path : str or Path
        A TotalSegmentator output directory, its multilabel NIfTI, or a VerSe
        ``*_msk.nii.gz``.
    volume : Volume
        The CT the masks belong to.

    Returns
    -------
    Segmentation
        Whole-vertebra and body-only label maps on the CT grid, levels cranial->caudal.
    """
    from kypho.anatomy.engine.bodies import body_from_vertebra
    from kypho.anatomy.mask_fit import check_mask_fit, check_mask_grid

    path = Path(path)
    if path.is_dir():
        labels, affine, method, notes = _from_totalseg_dir(path)
    elif path.exists():
        labels, affine, method, notes = _from_file(path)
    else:
        raise NotAnImageError(f"mask path {path} does not exist")
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
