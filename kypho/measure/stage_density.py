"""Measurement sub-stage 3, density: cement, trabecular HU, BMD and density class.

Takes the :class:`~kypho.measure.stage_bodies.BodyStage` of the heights stage and hands
on a new one whose records carry density and cement (a body mostly filled with cement is
no longer measurable: no native bone is left).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.measure.calibration import BmdCalibration, default_calibration, internal_calibration
from kypho.measure.cement import MIN_CEMENT_ML, cement_mask, cement_threshold_hu
from kypho.measure.density import pickhardt_class
from kypho.measure.stage_bodies import BodyStage, Located, unmeasurable
from kypho.model import VertebraMeasurement

__all__ = ["MAX_CEMENT_FRACTION", "add_density"]

#: Cement filling more than this share of the body leaves no native bone to measure.
MAX_CEMENT_FRACTION = 0.4


def add_density(
    stage: BodyStage, loc: Located, calibration: BmdCalibration | None
) -> tuple[BodyStage, BmdCalibration]:
    """Cement and trabecular density of every measurable vertebra.

    Returns the new stage and the HU -> BMD calibration used (the given one, else the
    image's internal reference, else the documented default).
    """
    cortical = loc.cortical_hu
    dens, fits = stage.density, stage.fits
    # The threshold the heights were read around (stage_bodies), so that the cement
    # reported is the cement read around.
    cement_thr = cement_threshold_hu(cortical, stage.spine_bone_hu)
    if calibration is None:
        vol = loc.volume
        bone = loc.segmentation.vertebrae.labels > 0
        calibration = internal_calibration(vol.hu, bone, vol.affine) or default_calibration()
    results: dict[Level, VertebraMeasurement] = dict(stage.records)
    for lv, m in fits.items():
        vm = results[lv]
        cem_ml = float(cement_mask(m.crop, cement_thr).sum() * m.crop.voxel_volume_ml)
        change: dict[str, object] = {"cement_volume_ml": cem_ml if cem_ml >= MIN_CEMENT_ML else 0.0}
        notes = list(vm.notes)
        if change["cement_volume_ml"]:
            notes.append(
                f"cement: {cem_ml:.1f} mL above {cement_thr:.0f} HU (image cortical bone "
                f"{cortical:.0f} HU)"
            )
            if vm.body_volume_ml and cem_ml > MAX_CEMENT_FRACTION * vm.body_volume_ml:
                results[lv] = unmeasurable(
                    lv, np.asarray(vm.centroid_ras_mm),
                    f"cement fills {100 * cem_ml / vm.body_volume_ml:.0f} % of the body",
                    body_volume_ml=vm.body_volume_ml, cement_volume_ml=cem_ml, frame=vm.frame,
                )  # fmt: skip
                continue
        d = dens[lv]
        if d is not None:
            change.update(
                trabecular_hu_mean=d.mean_hu,
                trabecular_hu_median=d.median_hu,
                bmd_mg_cm3=calibration.bmd(d.mean_hu),
            )
            if Level.T12 <= lv <= Level.L5:
                change["density_class"] = pickhardt_class(d.mean_hu)
            if d.excluded_high_ml > MIN_CEMENT_ML:
                notes.append(
                    f"{d.excluded_high_ml:.1f} mL of dense voxels (> {d.upper_limit_hu:.0f} HU: "
                    "cement or sclerosis) left out of the trabecular density"
                )
        results[lv] = replace(vm, notes=tuple(notes), **change)  # type: ignore[arg-type]
    fits = {lv: m for lv, m in fits.items() if results[lv].measurable}
    return replace(stage, records=results, fits=fits, density=dens), calibration
