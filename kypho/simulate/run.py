"""File edge of the FE stage: read a CT or density image and its labels, write simulation.json.

Pure computation lives in :mod:`kypho.simulate.compression`; this module only reads,
converts units and writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kypho.errors import CalibrationMissingError, MaskImportError, NotAnImageError
from kypho.simulate.compression import build_model, run_compression
from kypho.simulate.grid import resample_for_fe
from kypho.simulate.level import end_caps
from kypho.simulate.records import Calibration, FEOutcome

__all__ = ["CalibrationMissingError", "simulate_files"]


def _read(path: Path):
    import nibabel as nib

    try:
        img = nib.as_closest_canonical(nib.load(str(path)))
    except Exception as exc:  # nibabel raises many types for unreadable files
        raise NotAnImageError(f"{path} is not a NIfTI image kypho can read ({exc})") from None
    return img


def simulate_files(
    image: Path,
    labels: Path,
    out: Path,
    *,
    calibration: tuple[float, float] | None,
    density_image: bool,
    resolution_mm: float = 1.0,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Run the axial-compression FE on one vertebra and write ``OUT/simulation.json``.

    ``labels``: Bonelab layout (1-4 bone, 5 and 6 the inferior and superior PMMA layers)
    or any vertebra mask (label > 0, caps are added).
    """
    from kypho.imaging.write import atomic_write_text

    if density_image:
        cal = Calibration(1.0, 0.0, "density image")
    elif calibration is not None:
        cal = Calibration(calibration[0], calibration[1], "given")
    else:
        raise CalibrationMissingError(
            "the phantomless internal calibration is not implemented yet: give "
            "--calibration SLOPE,INTERCEPT or --density-image"
        )
    img, seg = _read(image), _read(labels)
    if img.shape != seg.shape or not np.allclose(img.affine, seg.affine, atol=1e-3):
        raise MaskImportError(f"{labels} does not share the grid of {image}")
    dens = cal.apply(img.get_fdata(dtype=np.float32))
    lab = np.asarray(seg.dataobj).astype(np.int16)
    dens, lab = resample_for_fe(dens, lab, img.header.get_zooms()[:3], resolution_mm)
    if not (lab > 0).any():
        raise MaskImportError(f"{labels} holds no labelled voxel")
    if (lab == 5).any() and (lab == 6).any():
        bone, inf, sup = (lab >= 1) & (lab <= 4), lab == 5, lab == 6
    else:
        bone = lab > 0
        pad = 6
        bone = np.pad(bone, ((0, 0), (0, 0), (pad, pad)))
        dens = np.pad(dens, ((0, 0), (0, 0), (pad, pad)))
        inf, sup = end_caps(bone, resolution_mm)
    res = run_compression(build_model(dens, bone, inf, sup, resolution_mm), progress=progress)
    doc = {
        "method": "voxel 8-node hexahedra, Kopperdahl law, PMMA end-caps, -0.2 mm axial "
                  "displacement on the superior cap face (Bonelab linear set-up)",
        "calibration": cal.to_json(),
        "assumptions": [
            "Kopperdahl 2002 law for trabecular and cortical voxels, 128 density bins, "
            "density <= 0 at 0.0001 MPa (Bonelab set-up, DOMAIN.md §8.2)",
            "PMMA caps 2500 MPa, nu 0.3; lateral motion of the cap faces free",
            "failure load = Bonelab linear definition, not a nonlinear strength",
        ],
        "resolution_mm": resolution_mm,
        "levels": [{"level": None, "fe_pre": FEOutcome.from_result(res).to_json()}],
    }
    return atomic_write_text(Path(out) / "simulation.json", json.dumps(doc, indent=2) + "\n",
                             overwrite=force, protected=(image, labels))
