"""kypho.report: the self-contained HTML report and its figures.

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from kypho._lazy import exporter

_EXPORTS = {
    "render_all_figures": "kypho.report.figure_jobs",
    "render_spine_figures": "kypho.report.figures",
    "render_plan_figures": "kypho.report.plan_figures",
    "render_report": "kypho.report.html",
    "render_simulation_figures": "kypho.report.simulation_figures",
}

__all__ = sorted(_EXPORTS)
__getattr__ = exporter(__name__, _EXPORTS)
