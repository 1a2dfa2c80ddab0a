"""`measure_spine`: measure and grade every vertebra of a segmented spine CT.

Pure computation: a :class:`~kypho.imaging.volume.Volume` and a
:class:`~kypho.model.Segmentation` in, a :class:`~kypho.model.SpineMeasurement` out; no
I/O, no printing. The measurement is five sub-stages with typed hand-offs, each in its own
module, chained here:

1. geometry (:func:`~kypho.measure.stage_bodies.locate_vertebrae`): crops, centroids,
   local SI direction, the image's cortical level -> :class:`Located`;
2. heights (:func:`~kypho.measure.stage_bodies.measure_bodies`): frame, Ha/Hm/Hp, CT edge
   offset -> :class:`BodyStage`;
3. density (:func:`~kypho.measure.stage_density.add_density`): cement, trabecular HU, BMD;
4. grading (:func:`~kypho.measure.stage_grading.grade_bodies`): sanity checks, Genant
   grade, morphotype;
5. alignment (:func:`~kypho.measure.stage_alignment.align_spine`): endplate tilts, Cobb,
   lordosis, segmental kyphosis, density summary.

Every hand-off is a new record; no stage changes what an earlier one built.
"""

from __future__ import annotations

from collections.abc import Callable

from kypho.errors import MeasurementInputError
from kypho.imaging.volume import Volume
from kypho.measure.calibration import BmdCalibration
from kypho.measure.stage_alignment import align_spine
from kypho.measure.stage_bodies import BodyStage, Located, locate_vertebrae, measure_bodies
from kypho.measure.stage_density import add_density
from kypho.measure.stage_grading import grade_bodies
from kypho.model import Segmentation, SpineMeasurement

__all__ = ["BodyStage", "Located", "MeasurementInputError", "measure_spine"]

ProgressCallback = Callable[[float, str], None]


def measure_spine(
    volume: Volume,
    segmentation: Segmentation,
    *,
    calibration: BmdCalibration | None = None,
    progress: ProgressCallback | None = None,
) -> SpineMeasurement:
    """Measure, grade and summarise every vertebra.

    Parameters
    ----------
    volume : Volume
        The CT (HU, canonical grid).
    segmentation : Segmentation
        Whole-vertebra and body label maps (VerSe labels) on the same grid.
    calibration : BmdCalibration, optional
        Phantom HU -> BMD coefficients. Without it an internal (fat/muscle/air)
        calibration is tried, then the documented default.
    progress : callable(fraction, message), optional

    Returns
    -------
    SpineMeasurement
        One :class:`~kypho.model.VertebraMeasurement` per vertebra found (unmeasurable
        ones with a reason), alignment and notes.

    Raises
    ------
    MeasurementInputError
        When the masks are not on the CT grid.
    NoSpineFoundError
        When the segmentation is empty.
    """
    located = locate_vertebrae(volume, segmentation)
    bodies = measure_bodies(located, progress)
    bodies, calibration = add_density(bodies, located, calibration)
    if progress:
        progress(0.85, "grading")
    graded = grade_bodies(bodies, located)
    spine = align_spine(graded, located, calibration)
    if progress:
        progress(1.0, "measured")
    return spine
