"""Rendering the report's figures on two cores.

Matplotlib renders on one core and holds the GIL. On a machine with a second core a
forked child renders the plan's figures (two per treated level) while this process
renders the spine's, then the simulation's, then takes the plan levels the child has not
reached yet, from the last one back: a level is claimed in a shared array by whichever
process reaches it first, so the two finish together (with two planned levels each
renders three figures instead of two against four). The child inherits the analysis
(fork, no pickling) and returns PNG bytes. Where fork is unavailable, or the child fails,
everything it did not return is rendered here, in order.
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

#: The analysis a forked child renders and the levels' claims (set only for the
#: duration of one call).
_PENDING: Any = None
#: Who claimed a plan level: nobody yet, the forked child, this process.
_FREE, _CHILD, _HERE = 0, 1, 2


def _claim(claims: Any, index: int, who: int) -> bool:
    with claims.get_lock():
        if claims[index] != _FREE:
            return False
        claims[index] = who
        return True


def _child_levels() -> dict[int, dict[str, bytes]]:
    """In the forked child: the figures of every level it claims, from the first on."""
    analysis, claims = _PENDING
    return {i: _level_figures(analysis, i) for i in range(len(claims))
            if _claim(claims, i, _CHILD)}


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
    n = len(analysis.plan.levels)
    context = multiprocessing.get_context("fork")
    claims = context.Array("b", n)
    mine: dict[int, dict[str, bytes]] = {}
    theirs: dict[int, dict[str, bytes]] = {}
    _PENDING = (analysis, claims)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            child = pool.submit(_child_levels)
            figures = render_spine_figures(analysis)
            simulation = _simulation_figures(analysis)
            for i in reversed(range(n)):
                if not _claim(claims, i, _HERE):
                    break  # the child has reached this level, and so every one before it
                mine[i] = _level_figures(analysis, i)
            try:
                theirs = child.result()
            except Exception:  # a failed or killed child: its levels are rendered below
                theirs = {}
    finally:
        _PENDING = None
    for i in range(n):
        got = mine.get(i, theirs.get(i))
        figures.update(got if got is not None else _level_figures(analysis, i))
    figures.update(simulation)
    return figures


def _level_figures(analysis: Analysis, index: int) -> dict[str, bytes]:
    from kypho.report.plan_figures import render_level_figures

    return render_level_figures(analysis, index)


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
