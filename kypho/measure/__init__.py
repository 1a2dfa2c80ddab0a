"""kypho.measure: heights, Genant grades, density and alignment of a segmented spine.

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from kypho._lazy import exporter

_EXPORTS = {
    "BmdCalibration": "kypho.measure.calibration",
    "acr_class": "kypho.measure.density",
    "default_calibration": "kypho.measure.calibration",
    "internal_calibration": "kypho.measure.calibration",
    "measure_spine": "kypho.measure.spine",
    "pickhardt_class": "kypho.measure.density",
}

__all__ = sorted(_EXPORTS)
__getattr__ = exporter(__name__, _EXPORTS)
