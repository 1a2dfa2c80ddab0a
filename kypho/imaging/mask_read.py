"""Reading label masks from disk: one NIfTI label file (with a VerSe centroid file beside
it, if any), or a TotalSegmentator folder.

The anatomy stage takes what this returns (arrays and their affines) and never opens a
file itself. Which file names a TotalSegmentator output folder uses is the tool's file
format, so it is known here: ``vertebrae_*.nii.gz``, ``sacrum.nii.gz`` and the
``rib_*`` masks (of which ribs 10-12 are read, for the level cross-check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from kypho.errors import CorruptFileError, MaskImportError, NotAnImageError
from kypho.imaging.centroid_read import CentroidFile, find_centroid_file, read_centroid_file

__all__ = ["LabelFile", "MaskSource", "read_label_file", "read_masks"]

_NIFTI = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)
#: TotalSegmentator's vertebra and sacrum masks, and the rib masks nearest the
#: thoracolumbar junction (ribs 10-12; TotalSegmentator class names).
_TOTALSEG_READ = re.compile(r"^(vertebrae_.+|sacrum|rib_.+_1[0-2])\.nii(\.gz)?$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class LabelFile:
    """One label map as stored, kept as the box around its labelled voxels.

    A TotalSegmentator folder holds one CT-sized file per vertebra: kept whole, 26 of
    them would take 26 times the memory of the CT's grid; the box of one is small.

    Attributes
    ----------
    name : str
        File name (no folder), e.g. ``"vertebrae_L1.nii.gz"``.
    crop : (i, j, k) ndarray of uint8
        Labels 0-255 inside the box (a single 0 voxel when nothing is labelled).
    origin : tuple of int
        Index on the file's grid of the box's first voxel.
    shape : tuple of int
        Shape of the file's grid.
    affine : (4, 4) ndarray
        Voxel -> world RAS mm of the file's grid.
    """

    name: str
    crop: np.ndarray
    origin: tuple[int, int, int]
    shape: tuple[int, int, int]
    affine: np.ndarray

    def labels(self) -> np.ndarray:
        """(I, J, K) ndarray of uint8: the labels on the file's whole grid."""
        out = np.zeros(self.shape, np.uint8)
        out[self.box] = self.crop
        return out

    @property
    def box(self) -> tuple[slice, slice, slice]:
        """Where :attr:`crop` lies on the file's grid."""
        return tuple(slice(o, o + n) for o, n in zip(self.origin, self.crop.shape, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class MaskSource:
    """Everything read from a mask path given by the user.

    Attributes
    ----------
    path : Path
        The path as given: a folder or one file.
    is_folder : bool
        True for a TotalSegmentator output folder.
    files : tuple of LabelFile
        The one file, or the folder's vertebra, sacrum and rib 10-12 masks (name order).
    names : tuple of str
        Every NIfTI file name in the folder (the one file's name otherwise).
    centroids : CentroidFile or None
        The VerSe centroid file found beside one mask file (``*_ctd.json``), if any.
    """

    path: Path
    is_folder: bool
    files: tuple[LabelFile, ...]
    names: tuple[str, ...]
    centroids: CentroidFile | None = None


def read_label_file(path: str | Path) -> LabelFile:
    """Read one 3-D label NIfTI holding integer labels 0..255.

    Raises
    ------
    NotAnImageError
        When the file does not exist.
    CorruptFileError
        When nibabel cannot read it.
    MaskImportError
        When it is not a 3-D map of integers 0..255.
    """
    path = Path(path)
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
    data = data.astype(np.uint8, copy=False)
    found = ndimage.find_objects((data > 0).view(np.uint8))
    box = found[0] if found else (slice(0, 1),) * 3
    origin = tuple(int(b.start) for b in box)
    return LabelFile(path.name, data[box].copy(), origin, data.shape,  # type: ignore[arg-type]
                     np.asarray(img.affine, float))


def read_masks(path: str | Path) -> MaskSource:
    """Read a TotalSegmentator output folder, its multilabel file, or a VerSe mask.

    Raises
    ------
    NotAnImageError
        When the path does not exist.
    CorruptFileError, MaskImportError
        As :func:`read_label_file`, for any file read; CorruptFileError also for a
        centroid file beside a mask file that is not one
        (:func:`~kypho.imaging.centroid_read.read_centroid_file`).
    """
    path = Path(path)
    if path.is_dir():
        names = tuple(sorted(p.name for p in path.iterdir() if _NIFTI.search(p.name)))
        files = tuple(read_label_file(path / n) for n in names if _TOTALSEG_READ.match(n))
        return MaskSource(path, True, files, names)
    if not path.exists():
        raise NotAnImageError(f"mask path {path} does not exist")
    ctd = find_centroid_file(path)
    return MaskSource(path, False, (read_label_file(path),), (path.name,),
                      read_centroid_file(ctd) if ctd is not None else None)
