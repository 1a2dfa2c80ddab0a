"""kypho.measure: heights, Genant grades, density and alignment of a segmented spine.

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BmdCalibration": "kypho.measure.calibration",
    "acr_class": "kypho.measure.density",
    "default_calibration": "kypho.measure.calibration",
    "internal_calibration": "kypho.measure.calibration",
    "measure_spine": "kypho.measure.spine",
    "pickhardt_class": "kypho.measure.density",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
