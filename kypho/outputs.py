"""Write an :class:`~kypho.pipeline.Analysis` to a folder: NIfTI masks, JSON, figures, report.

Every file is written atomically; nothing existing is replaced without ``overwrite=True``
and an input is never replaced at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from kypho.errors import OutputExistsError
from kypho.model import Segmentation
from kypho.model.serialize import json_text as _json_text
from kypho.model.serialize import levels_to_json

if TYPE_CHECKING:
    from kypho.pipeline import Analysis

__all__ = [
    "OUTPUT_NAMES",
    "check_output_dir",
    "levels_to_json",
    "write_analysis",
    "write_segmentation",
]

#: What an analysis writes at the top of its output folder.
OUTPUT_NAMES = ("results.json", "report.html", "labels.nii.gz", "bodies.nii.gz", "levels.json")


def check_output_dir(out_dir: Path, names: Iterable[str], *, overwrite: bool) -> None:
    """Refuse early, before any work, when outputs would replace existing files."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"{out_dir} exists and is not a folder")
    if overwrite:
        return
    clashes = [n for n in names if (out_dir / n).exists()]
    if clashes:
        raise OutputExistsError(
            f"{out_dir} already holds {', '.join(clashes)}; choose another folder or pass "
            "--force to replace them"
        )


def write_segmentation(
    segmentation: Segmentation,
    out_dir: Path,
    *,
    overwrite: bool = False,
    protected: Iterable[Path] = (),
) -> dict[str, Path]:
    """labels.nii.gz (whole vertebrae), bodies.nii.gz and levels.json into `out_dir`."""
    from kypho.imaging.write import atomic_write_text, write_labelmap

    out_dir.mkdir(parents=True, exist_ok=True)
    protected = tuple(protected)
    paths = {
        "labels": write_labelmap(
            out_dir / "labels.nii.gz",
            segmentation.vertebrae,
            overwrite=overwrite,
            protected=protected,
        ),
        "bodies": write_labelmap(
            out_dir / "bodies.nii.gz",
            segmentation.bodies,
            overwrite=overwrite,
            protected=protected,
        ),
        "levels": atomic_write_text(
            out_dir / "levels.json",
            _json_text(levels_to_json(segmentation)),
            overwrite=overwrite,
            protected=protected,
        ),
    }
    return paths


def write_analysis(
    analysis: Analysis,
    out_dir: Path,
    *,
    overwrite: bool = False,
    protected: Iterable[Path] = (),
    report: bool = True,
) -> dict[str, Path]:
    """Write everything an analysis produced; returns the paths by role."""
    out_dir.mkdir(parents=True, exist_ok=True)
    protected = tuple(protected)
    # gzip-compressing the label maps releases the GIL: overlap it with figure rendering.
    with ThreadPoolExecutor(max_workers=1) as pool:
        masks = pool.submit(
            write_segmentation,
            analysis.segmentation,
            out_dir,
            overwrite=overwrite,
            protected=protected,
        )
        paths = _write_documents(analysis, out_dir, overwrite, protected, report)
        paths.update(masks.result())
    return paths


def _write_documents(
    analysis: Analysis, out_dir: Path, overwrite: bool, protected: tuple[Path, ...], report: bool
) -> dict[str, Path]:
    from kypho.imaging.write import atomic_write_bytes, atomic_write_text
    from kypho.model.serialize import results_to_json
    from kypho.results import analysis_results

    paths: dict[str, Path] = {}
    results = analysis_results(analysis)
    doc = results_to_json(results)
    paths["results"] = atomic_write_text(
        out_dir / "results.json", _json_text(doc), overwrite=overwrite, protected=protected
    )
    if report and analysis.spine is not None:
        from kypho.report.figure_jobs import render_all_figures
        from kypho.report.html import render_report

        figures = render_all_figures(analysis)
        fig_dir = out_dir / "figures"
        fig_dir.mkdir(exist_ok=True)
        for name, png in figures.items():
            paths[f"figure:{name}"] = atomic_write_bytes(
                fig_dir / f"{name}.png", png, overwrite=overwrite, protected=protected
            )
        paths["report"] = atomic_write_text(
            out_dir / "report.html",
            render_report(results, figures),
            overwrite=overwrite,
            protected=protected,
        )
    return paths
