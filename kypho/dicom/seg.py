"""DICOM Segmentation (SEG) of the vertebrae and of the vertebral bodies (highdicom).

Two SEG instances in one series: whole vertebrae and bodies only. Each holds one
segment per level, labels never overlap within an instance, so the pixel data is built
from a label map (segment number per pixel) without a per-segment copy of the volume.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from kypho import __version__
from kypho.anatomy.levels import Level
from kypho.dicom.codes import ANATOMICAL_STRUCTURE, kypho_code, level_code

__all__ = ["build_seg", "segment_levels"]


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(
        name="kypho", version=__version__,
        # CID 7162: kypho's built-in segmentation is thresholds and morphology, no model.
        family=codes.cid7162.MorphologicalOperations,
    )


def _description(number: int, label: int, part: str) -> hd.seg.SegmentDescription:
    lv = Level.parse(label)
    code = level_code(lv) or kypho_code(f"VERSE-{label}", f"{lv.display} vertebra")
    name = f"{lv.display} vertebra" if part == "vertebra" else f"{lv.display} vertebral body"
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=name,
        segmented_property_category=ANATOMICAL_STRUCTURE,
        segmented_property_type=code,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=_algorithm(),
        tracking_uid=generate_uid(),
        tracking_id=name,
    )


def segment_levels(slices: np.ndarray) -> list[int]:
    """VerSe labels present in `slices`, in segment order (ascending label)."""
    return [int(v) for v in np.unique(slices) if v > 0]


def build_seg(
    source: Sequence[Dataset],
    slices: np.ndarray,
    *,
    part: str,
    series_uid: str,
    series_number: int,
    instance_number: int,
) -> hd.seg.Segmentation:
    """A binary SEG of one label map sampled on the source slices.

    Parameters
    ----------
    source : sequence of Dataset
        Source CT slices, in the order of `slices`.
    slices : (N, rows, columns) ndarray
        VerSe labels per source pixel (:func:`kypho.dicom.source.labels_on_slices`).
    part : {"vertebra", "body"}
        What the labels outline; it names the segments.
    series_uid, series_number, instance_number
        Where the instance goes (both SEG instances share one series).
    """
    labels = segment_levels(slices)
    if not labels:
        raise ValueError("no labelled voxel falls on the source slices")
    lut = np.zeros(int(slices.max()) + 1, dtype=np.uint16)
    lut[labels] = np.arange(1, len(labels) + 1)
    pixels = lut[slices]
    what = "vertebrae" if part == "vertebra" else "vertebral bodies"
    return hd.seg.Segmentation(
        source_images=list(source),
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[
            _description(i + 1, lab, part) for i, lab in enumerate(labels)
        ],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer="kypho",
        manufacturer_model_name="kypho",
        software_versions=__version__,
        device_serial_number="0",
        series_description=f"kypho {what}",
        content_label="VERTEBRAE" if part == "vertebra" else "BODIES",
        content_description=f"kypho {what}, VerSe levels",
        omit_empty_frames=True,
    )
