"""File edge of the FE stage: read a CT or density image and its labels, write simulation.json.

Pure computation lives in :mod:`kypho.simulate.compression` and
:mod:`kypho.simulate.patient`; this module only reads (through kypho's own readers, so
bad input gets kypho's checks), converts units and writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kypho.errors import CalibrationMissingError, KyphoError, MaskImportError
from kypho.measure.calibration import BmdCalibration, InternalReference
from kypho.simulate.compression import build_model, run_compression
from kypho.simulate.grid import resample_for_fe
from kypho.simulate.level import end_caps
from kypho.simulate.patient import ASSUMPTIONS, choose_calibration
from kypho.simulate.records import FEOutcome

__all__ = ["CalibrationMissingError", "simulate_files"]


def _read_image(image: Path, density_image: bool):
    from kypho.imaging.nifti import read_nifti
    from kypho.imaging.read import read_ct

    if density_image:
        return read_nifti(image, ct_values=False)
    return read_ct(image)


def _read_labels(labels: Path, volume) -> np.ndarray:
    from kypho.imaging.mask_read import read_label_file
    from kypho.imaging.resample import resample_labels

    mask = read_label_file(labels)
    lab = resample_labels(mask.labels(), mask.affine, volume.shape, volume.affine)
    if not (lab > 0).any():
        raise MaskImportError(f"{labels} holds no labelled voxel inside {volume.source}")
    return lab


def _body_labels(lab: np.ndarray, volume) -> np.ndarray:
    """1 = vertebra, 2 = its body (kypho's body split), so the caps cover the body only."""
    from kypho.anatomy.engine.bodies import body_from_vertebra

    vert = lab > 0
    # any lumbar VerSe number: the split needs a vertebra with a body, not its level
    body = body_from_vertebra(np.where(vert, 22, 0).astype(np.uint8), volume.affine,
                              volume.hu) > 0
    if not body.any():
        raise MaskImportError("no vertebral body could be separated in the labels: give "
                              "the Bonelab layout (labels 1-4 bone, 5 and 6 the end-caps)")
    return np.where(body, 2, np.where(vert, 1, 0)).astype(np.uint8)


def _calibrate(volume, lab: np.ndarray, calibration: BmdCalibration | None,
               density_image: bool) -> tuple[BmdCalibration, InternalReference | None]:
    if density_image:
        return BmdCalibration(1.0, 0.0, "density image (mg/cm3 K2HPO4), no calibration"), None
    cal, fit = choose_calibration(volume.hu, lab > 0, volume.affine, calibration)
    if cal is None:
        raise CalibrationMissingError(
            f"{volume.source}: the phantomless calibration found no fat and muscle around "
            "the vertebra (a crop too tight?); give --calibration SLOPE,INTERCEPT or "
            "--density-image"
        )
    return cal, fit


def simulate_files(
    image: Path,
    labels: Path,
    out: Path,
    *,
    calibration: BmdCalibration | None,
    density_image: bool,
    resolution_mm: float = 1.0,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Run the axial-compression FE on one vertebra and write ``OUT/simulation.json``.

    ``labels``: Bonelab layout (1-4 bone, 5 and 6 the inferior and superior PMMA layers)
    or any vertebra mask (label > 0; its body is split off with kypho's engine and the
    caps are added over the body).  A HU image is calibrated from
    its own air, fat and muscle unless ``calibration`` is given.
    """
    from kypho.imaging.write import atomic_write_text
    from kypho.model.simulation_layout import FE, calibration_to_json

    if not resolution_mm > 0:
        raise KyphoError(f"--resolution must be a positive element size, got {resolution_mm}")
    vol = _read_image(Path(image), density_image)
    lab = _read_labels(Path(labels), vol)
    cal, fit = _calibrate(vol, lab, calibration, density_image)
    dens = cal.slope * vol.hu.astype(np.float64) + cal.intercept
    bonelab = bool((lab == 5).any() and (lab == 6).any())
    if not bonelab:
        lab = _body_labels(lab, vol)
    dens, lab = resample_for_fe(dens, lab, vol.spacing_mm, resolution_mm)
    if bonelab:
        bone, inf, sup = (lab >= 1) & (lab <= 4), lab == 5, lab == 6
    else:
        pad = int(np.ceil(6.0 / resolution_mm))
        lab = np.pad(lab, ((0, 0), (0, 0), (pad, pad)))
        dens = np.pad(dens, ((0, 0), (0, 0), (pad, pad)))
        inf, sup = end_caps(lab == 2, resolution_mm)
        bone = (lab > 0) & ~inf & ~sup
    res = run_compression(build_model(dens, bone, inf, sup, resolution_mm), progress=progress)
    doc = {
        "method": "voxel 8-node hexahedra on the image grid (axis S loaded), Kopperdahl law "
                  "on each voxel's calibrated density, PMMA end-caps, -0.2 mm axial "
                  "displacement on the superior cap face (Bonelab linear set-up)",
        "calibration": calibration_to_json(cal, fit),
        "assumptions": list(ASSUMPTIONS),
        "resolution_mm": resolution_mm,
        "levels": [{"level": None, "fe_pre": FE.encode(FEOutcome.from_result(res))}],
    }
    return atomic_write_text(Path(out) / "simulation.json", json.dumps(doc, indent=2) + "\n",
                             overwrite=force, protected=(image, labels))
