"""Lazy public names for subpackages (PEP 562): imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["exporter"]


def exporter(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` (a module path) on first use.

    Importing one module of a subpackage then does not load all of it, and a subpackage
    can name its API without importing modules that import the subpackage back.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook's own name)
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(module), name)

    return __getattr__
