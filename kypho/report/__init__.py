"""kypho.report: the self-contained HTML report and its figures.

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "render_figures": "kypho.report.figures",
    "render_plan_figures": "kypho.report.plan_figures",
    "render_report": "kypho.report.html",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
