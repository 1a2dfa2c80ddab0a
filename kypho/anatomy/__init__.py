"""kypho.anatomy: vertebrae found, labelled (VerSe numbering) and split into bodies.

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Level": "kypho.anatomy.levels",
    "import_masks": "kypho.anatomy.masks",
    "level_from_totalseg_name": "kypho.anatomy.levels",
    "segment": "kypho.anatomy.segment",
    "segment_spine": "kypho.anatomy.segment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
