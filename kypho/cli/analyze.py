"""``kypho analyze``: find, measure, grade and plan every vertebra of a spine CT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from kypho.cli.console import console, progress, run
from kypho.cli.options import (
    UNEVEN_HELP,
    check_resolution,
    parse_anchors,
    parse_calibration,
    parse_levels,
    parse_lowest,
    read_input,
)
from kypho.cli.summary import print_summary
from kypho.outputs import OUTPUT_NAMES

__all__ = ["analyze"]


def analyze(
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI, DICOM folder/file, NRRD or MHA, "
                                       "or dicomweb+http://HOST/ROOT/studies/UID\\[/series/UID].")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    plan: Annotated[bool, typer.Option("--plan/--no-plan", help="Plan fractured levels.")] = True,
    levels: Annotated[str | None, typer.Option(help="Levels to plan, e.g. T12,L1.")] = None,
    series: Annotated[str | None, typer.Option(help="DICOM SeriesInstanceUID or number.")] = None,
    lowest: Annotated[
        str | None, typer.Option(help="Level of the lowest presacral vertebra.")
    ] = None,
    level: Annotated[list[str] | None, typer.Option(help="Anchor LEVEL@Z (world S mm).")] = None,
    calibration: Annotated[str | None, typer.Option(help="BMD phantom SLOPE,INTERCEPT.")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
    resample_uneven: Annotated[bool, typer.Option(help=UNEVEN_HELP)] = False,
    dicom: Annotated[bool, typer.Option(help="Also write DICOM SEG, SR and PDF.")] = False,
    simulate: Annotated[
        bool, typer.Option(help="Simulate each planned kyphoplasty (FE, balloon, cement).")
    ] = False,
    resolution: Annotated[
        float, typer.Option(help="Simulation element size (mm); 1 is finer and slower.")
    ] = 1.5,
) -> None:
    """Find, measure, grade and (by default) plan every vertebra of a spine CT."""

    def go() -> None:
        from kypho.pacs.dicomweb import local_input, store_files
        from kypho.results import analysis_to_json

        inputs = [ct] + ([masks] if masks else [])
        calib = parse_calibration(calibration)
        with local_input(ct) as (source, web):
            # A DICOMweb study always gets its SEG, SR and PDF back.
            analysis = _analyze_into(source, dicom or web is not None, inputs, calib)
        if web is not None:
            from kypho.pacs.node import RESULT_FILES

            files = [out / "dicom" / n for n in RESULT_FILES if (out / "dicom" / n).exists()]
            store_files(web, files)
            console.print(f"Stored {len(files)} DICOM objects at {escape(web.base_url)}")
        print_summary(analysis_to_json(analysis), out)

    def _analyze_into(source: Path, dicom: bool, inputs: list[Path], calib: Any) -> Any:
        from kypho.output_folder import output_folder
        from kypho.outputs import write_analysis
        from kypho.pipeline import analyze as run_pipeline
        from kypho.preload import preloaded

        names = (*OUTPUT_NAMES, "dicom") if dicom else OUTPUT_NAMES
        with output_folder(out, names, overwrite=force, protected=inputs) as stage, \
                progress() as report:
            with preloaded():
                analysis = run_pipeline(
                    read_input(source, series, resample_uneven),
                    masks=masks,
                    plan=plan,
                    plan_levels=parse_levels(levels),
                    series=series,
                    lowest=parse_lowest(lowest),
                    anchors=parse_anchors(level),
                    calibration=calib,
                    progress=report,
                    simulate=simulate,
                    simulate_resolution_mm=check_resolution(resolution),
                )
            report(1.0, "writing outputs")
            write_analysis(analysis, stage, protected=inputs)
            if dicom:
                from kypho.dicom.export import write_dicom_beside_report

                report(1.0, "writing DICOM SEG, SR and PDF")
                write_dicom_beside_report(analysis, stage)
        return analysis

    run(go)
