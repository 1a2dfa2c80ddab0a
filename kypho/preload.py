"""Importing the later stages' modules while the CT is read.

Reading a CT is mostly decompression and copying, C code that releases the GIL;
importing the segmentation, measurement, planning and report modules (SciPy's and
scikit-image's submodules, Matplotlib, Jinja2: 1-2 s) is Python that holds it. Imported
in a thread while the CT is read, they use the second core instead of adding to the run.
An import that fails in the thread fails again, with its error, where the stage needs
the module.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["STAGE_MODULES", "preloaded"]

#: The modules an analysis imports after reading the CT, in the order it needs them.
STAGE_MODULES = (
    "kypho.anatomy.segment",
    "kypho.anatomy.engine.spine",
    "kypho.measure.spine",
    "kypho.plan.plan",
    "kypho.results",
    "kypho.report.figure_jobs",
    "kypho.report.plan_figures",
    "kypho.report.html",
)


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # raised again where the stage imports it
            continue


@contextmanager
def preloaded(modules: Iterable[str] = STAGE_MODULES) -> Iterator[None]:
    """Import ``modules`` in a background thread for the duration of the block.

    The thread is joined when the block ends, so no import is in flight when the caller
    goes on to fork (the report's figures are rendered in a forked child).
    """
    thread = threading.Thread(
        target=_import_all, args=(tuple(modules),), name="kypho-preload", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        thread.join()
