"""Write a phantom case to disk: CT and label maps as NIfTI, truth as JSON, optional DICOM.

The only I/O of :mod:`kypho.phantom`; it uses kypho's own writers (atomic, refuse to
overwrite unless told).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from kypho.errors import OutputExistsError
from kypho.imaging.write import atomic_write_text, write_nifti
from kypho.phantom.generate import Phantom

__all__ = ["write_case"]


def _output_names(out: Path, dicom: bool, overwrite: bool) -> dict[str, Path]:
    """The case's output paths; raises when one exists and may not be replaced."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"output folder {str(out)!r} exists and is not a folder")
    names = {
        "ct": out / "ct.nii.gz",
        "vertebrae": out / "vertebrae.nii.gz",
        "bodies": out / "bodies.nii.gz",
        "truth": out / "truth.json",
    }
    if dicom:
        names["dicom"] = out / "dicom"
    if not overwrite:
        for p in names.values():
            if p.exists() and not (p.is_dir() and not any(p.iterdir())):
                raise OutputExistsError(
                    f"{str(p)!r} already exists; pass overwrite=True (--force) to replace it"
                )
    return names


def write_case(
    phantom: Phantom,
    out_dir: str | os.PathLike[str],
    *,
    dicom: bool = False,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write ``ct.nii.gz``, ``vertebrae.nii.gz``, ``bodies.nii.gz``, ``truth.json``.

    Images are stored in the phantom's configured orientation (``config.orientation``,
    obliquity kept in the affine); HU are rounded to integers (int16 on disk).

    Parameters
    ----------
    phantom : Phantom
        From :func:`kypho.phantom.generate`.
    out_dir : path-like
        Folder, created if missing.
    dicom : bool
        Also write ``dicom/`` (one CT file per slice).
    overwrite : bool
        Replace existing outputs; otherwise an existing output raises
        :class:`~kypho.errors.OutputExistsError`.

    Returns
    -------
    dict of str to Path
        Keys ``"ct"``, ``"vertebrae"``, ``"bodies"``, ``"truth"`` and ``"dicom"``.
    """
    out = Path(out_dir)
    names = _output_names(out, dicom, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    code = phantom.config.orientation
    vol = phantom.volume
    hu = np.round(vol.hu).astype(np.int16)
    written = {
        "ct": write_nifti(names["ct"], hu, vol.affine, overwrite=overwrite, orientation=code),
        "vertebrae": write_nifti(
            names["vertebrae"],
            phantom.vertebrae.labels,
            phantom.vertebrae.affine,
            overwrite=overwrite,
            orientation=code,
        ),
        "bodies": write_nifti(
            names["bodies"],
            phantom.bodies.labels,
            phantom.bodies.affine,
            overwrite=overwrite,
            orientation=code,
        ),
        "truth": atomic_write_text(
            names["truth"], json.dumps(phantom.truth.to_json(), indent=1), overwrite=overwrite
        ),
    }
    if dicom:
        from kypho.imaging.dicom_write import write_dicom_series

        write_dicom_series(
            names["dicom"],
            hu,
            vol.affine,
            series_description="kypho phantom",
            overwrite=overwrite,
        )
        written["dicom"] = names["dicom"].resolve()
    return {k: Path(v) for k, v in written.items()}
