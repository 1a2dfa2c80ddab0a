"""``kypho segment``: label every vertebra and write the label maps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kypho.cli.console import console, progress, run
from kypho.cli.options import UNEVEN_HELP, parse_anchors, parse_lowest, read_input

__all__ = ["segment"]


def segment(
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI, DICOM folder/file, NRRD or MHA.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    series: Annotated[str | None, typer.Option(help="DICOM SeriesInstanceUID or number.")] = None,
    lowest: Annotated[
        str | None, typer.Option(help="Level of the lowest presacral vertebra.")
    ] = None,
    level: Annotated[list[str] | None, typer.Option(help="Anchor LEVEL@Z (world S mm).")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
    resample_uneven: Annotated[bool, typer.Option(help=UNEVEN_HELP)] = False,
) -> None:
    """Label every vertebra: labels.nii.gz, bodies.nii.gz and levels.json."""

    def go() -> None:
        from kypho.output_folder import output_folder
        from kypho.outputs import write_segmentation
        from kypho.pipeline import analyze as run_pipeline

        inputs = [ct] + ([masks] if masks else [])
        names = ("labels.nii.gz", "bodies.nii.gz", "levels.json")
        with output_folder(out, names, overwrite=force, protected=inputs) as stage, \
                progress() as report:
            analysis = run_pipeline(
                read_input(ct, series, resample_uneven),
                masks=masks,
                measure=False,
                series=series,
                lowest=parse_lowest(lowest),
                anchors=parse_anchors(level),
                progress=report,
            )
            write_segmentation(analysis.segmentation, stage, protected=inputs)
        table = Table(title="Levels")
        for col in ("level", "centroid RAS mm", "voxels", "confidence", "evidence"):
            table.add_column(col)
        for info in analysis.segmentation.levels:
            table.add_row(
                info.level.display,
                ", ".join(f"{c:.1f}" for c in info.centroid_ras_mm),
                str(info.voxel_count),
                f"{info.confidence:.2f}",
                escape("; ".join(info.evidence)),
            )
        console.print(table)
        for w in analysis.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}")
        console.print(f"Wrote labels to [bold]{escape(str(out))}[/]")

    run(go)
