"""A phantom's ground truth as the records later stages exchange.

Lets each stage be tested and benchmarked on exact inputs, independently of the stages
before it: measurement on the true masks, planning on the true frames and heights.
"""

from __future__ import annotations

from kypho.anatomy.label_stats import level_infos
from kypho.model import Segmentation, SpineMeasurement, VertebraMeasurement
from kypho.phantom.generate import Phantom

__all__ = ["truth_segmentation", "truth_spine"]


def truth_segmentation(phantom: Phantom) -> Segmentation:
    """The phantom's true label maps as a Segmentation (method "truth")."""
    infos = level_infos(
        phantom.vertebrae.labels,
        phantom.bodies.labels,
        phantom.vertebrae.affine,
        evidence=("phantom ground truth",),
    )
    return Segmentation(phantom.vertebrae, phantom.bodies, infos, "truth")


def truth_spine(phantom: Phantom, *, complete_only: bool = False) -> SpineMeasurement:
    """The phantom's true frames, heights, grades and morphotypes as a SpineMeasurement.

    Parameters
    ----------
    phantom : Phantom
        A generated phantom.
    complete_only : bool
        Leave out vertebrae partly outside the field of view.
    """
    return SpineMeasurement(
        [
            VertebraMeasurement(
                level=v.level,
                centroid_ras_mm=v.centroid_ras_mm,
                measurable=True,
                frame=v.frame,
                heights_mm=v.heights_mm,
                expected_heights_mm=v.expected_heights_mm,
                genant_grade=v.genant_grade,
                morphotype=v.morphotype,
                retropulsion_mm=v.retropulsion_mm,
                cement_volume_ml=v.cement_volume_ml,
                body_volume_ml=v.body_volume_ml,
                trabecular_hu_mean=v.trabecular_hu,
                trabecular_hu_median=v.trabecular_hu,
            )
            for v in phantom.truth.vertebrae
            if not complete_only or v.fraction_in_fov > 0.99
        ]
    )
