"""kypho.imaging: reading, writing and the geometry of CT volumes (RAS+ world mm).

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LabelMap": "kypho.imaging.volume",
    "Volume": "kypho.imaging.volume",
    "atomic_write_bytes": "kypho.imaging.write",
    "atomic_write_text": "kypho.imaging.write",
    "is_thick_slice": "kypho.imaging.slices",
    "read_ct": "kypho.imaging.read",
    "write_labelmap": "kypho.imaging.write",
    "write_volume": "kypho.imaging.write",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
