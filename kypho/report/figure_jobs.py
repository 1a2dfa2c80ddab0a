"""Rendering the report's figures on two cores.

Matplotlib renders on one core and holds the GIL, and the plan's figures (one panel set
per treated level) take as long as the spine's: on a machine with a second core the plan
figures are rendered in a forked child while this process renders the spine figures,
then the simulation's (two per simulated level, few next to the plan's). The child
inherits the analysis (fork, no pickling) and returns PNG bytes. Where fork is
unavailable, or the child fails, everything is rendered here, in order.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from kypho.report.figures import render_spine_figures

if TYPE_CHECKING:
    from kypho.pipeline import Analysis

__all__ = ["render_all_figures"]

#: The analysis a forked child renders (set only for the duration of one call).
_PENDING: Any = None


def _plan_figures_of_pending() -> dict[str, bytes]:
    return _plan_figures(_PENDING)


def _can_fork() -> bool:
    # A daemonic process (a Dask worker, for one) may not start children at all.
    return ("fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1
            and not multiprocessing.current_process().daemon)


def render_all_figures(analysis: Analysis) -> dict[str, bytes]:
    """Every report figure of ``analysis`` as PNG bytes keyed by name: the spine's, then
    the plan's when there is a plan, then the simulation's when there is a simulation.

    Parameters
    ----------
    analysis : Analysis
        A finished analysis.
    """
    global _PENDING
    if analysis.plan is None or not _can_fork():
        return _sequential(analysis)
    _PENDING = analysis
    try:
        with ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("fork")
        ) as pool:
            plan_job = pool.submit(_plan_figures_of_pending)
            figures = render_spine_figures(analysis)
            simulation = _simulation_figures(analysis)
            try:
                figures.update(plan_job.result())
            except Exception:  # a failed or killed child: render its part here
                figures.update(_plan_figures(analysis))
    finally:
        _PENDING = None
    figures.update(simulation)
    return figures


def _plan_figures(analysis: Analysis) -> dict[str, bytes]:
    from kypho.report.plan_figures import render_plan_figures

    return render_plan_figures(analysis)


def _simulation_figures(analysis: Analysis) -> dict[str, bytes]:
    if analysis.simulation is None:
        return {}
    from kypho.report.simulation_figures import render_simulation_figures

    return render_simulation_figures(analysis)


def _sequential(analysis: Analysis) -> dict[str, bytes]:
    figures = render_spine_figures(analysis)
    if analysis.plan is not None:
        figures.update(_plan_figures(analysis))
    figures.update(_simulation_figures(analysis))
    return figures
