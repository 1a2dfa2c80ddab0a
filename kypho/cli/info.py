"""``kypho info``: a CT's geometry and provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from kypho.cli.console import console, run
from kypho.cli.options import UNEVEN_HELP

__all__ = ["info"]


def info(
    ct: Annotated[Path, typer.Argument(help="CT to describe.")],
    series: Annotated[str | None, typer.Option(help="DICOM series.")] = None,
    resample_uneven: Annotated[bool, typer.Option(help=UNEVEN_HELP)] = False,
) -> None:
    """Read a CT and print its geometry and provenance."""

    def go() -> None:
        import numpy as np

        from kypho.imaging.orientation import orientation_codes
        from kypho.imaging.read import read_ct

        vol = read_ct(ct, series=series, resample_uneven=resample_uneven)
        console.print(f"source: {vol.source}", markup=False)
        console.print(
            f"shape: {vol.shape}  spacing mm: {tuple(round(s, 3) for s in vol.spacing_mm)}"
        )
        console.print(f"orientation (held): {orientation_codes(vol.affine)}")
        console.print(f"affine (RAS):\n{np.array2string(vol.affine, precision=3)}", markup=False)
        console.print(f"HU range: {float(vol.hu.min()):.0f} .. {float(vol.hu.max()):.0f}")
        for k, v in vol.meta.items():
            if k != "warnings":
                console.print(f"{k}: {v}", markup=False)
        for w in vol.meta.get("warnings", []):
            console.print(f"[yellow]warning:[/] {escape(w)}")

    run(go)
