"""``kypho plan``: balloon kyphoplasty plans for chosen levels (``analyze`` with --plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kypho.cli.analyze import analyze

__all__ = ["plan_command"]


def plan_command(
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI, DICOM folder/file, NRRD or MHA.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("kypho-plan"),
    levels: Annotated[str | None, typer.Option(help="Levels to plan, e.g. T12,L1.")] = None,
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
) -> None:
    """Plan balloon kyphoplasty for chosen levels (default: every fractured level)."""
    analyze(
        ct,
        out,
        masks=masks,
        plan=True,
        levels=levels,
        series=None,
        lowest=None,
        level=None,
        calibration=None,
        force=force,
        resample_uneven=False,
        simulate=False,
        resolution=1.5,
    )
