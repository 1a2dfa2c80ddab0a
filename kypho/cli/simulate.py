"""``kypho simulate``: the planned kyphoplasty simulated, or one vertebra's FE (--labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kypho.cli.analyze import analyze
from kypho.cli.console import console, run
from kypho.cli.options import check_resolution, parse_calibration

__all__ = ["simulate_command"]


def simulate_command(
    image: Annotated[Path, typer.Argument(help="CT (NIfTI, DICOM, NRRD, MHA) or density NIfTI.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
    labels: Annotated[
        Path | None, typer.Option(help="One vertebra's labels (Bonelab 1-6 or a mask): FE only.")
    ] = None,
    levels: Annotated[str | None, typer.Option(help="Levels to plan and simulate.")] = None,
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    calibration: Annotated[str | None, typer.Option(help="BMD phantom SLOPE,INTERCEPT.")] = None,
    density_image: Annotated[bool, typer.Option(help="IMAGE is already mg/cm3.")] = False,
    resolution: Annotated[
        float | None, typer.Option(help="Element size (mm); default 1.5, 1 with --labels.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
) -> None:
    """Simulate the planned kyphoplasty (analyze --simulate), or with --labels the
    axial-compression FE of one vertebra (simulation.json)."""
    if labels is None and density_image:
        raise typer.BadParameter("--density-image needs --labels (one vertebra's FE)")
    if labels is not None and (masks is not None or levels):
        raise typer.BadParameter("--labels runs one vertebra's FE: --masks and --levels "
                                 "belong to the planned simulation without --labels")
    if labels is None:
        analyze(image, out, masks=masks, plan=True, levels=levels, series=None, lowest=None,
                level=None, calibration=calibration, force=force, resample_uneven=False,
                simulate=True, resolution=1.5 if resolution is None else resolution)
        return

    def go() -> None:
        from kypho.simulate.run import simulate_files

        path = simulate_files(
            image, labels, out, calibration=parse_calibration(calibration),
            density_image=density_image,
            resolution_mm=check_resolution(1.0 if resolution is None else resolution),
            force=force,
            progress=lambda msg: console.print(msg),
        )
        console.print(f"Wrote [bold]{path}[/]")

    run(go)
