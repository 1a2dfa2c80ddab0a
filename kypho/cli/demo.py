"""``kypho demo``: the built-in demo patient analysed end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from kypho.cli.console import console, progress, run
from kypho.cli.summary import print_summary

__all__ = ["demo"]


def demo(
    out: Annotated[Path, typer.Argument(help="Output folder.")] = Path("kypho-demo"),
    force: Annotated[bool, typer.Option(help="Replace an earlier demo in OUT.")] = False,
) -> None:
    """Generate the built-in demo patient, analyse it end to end and write the report."""

    def go() -> None:
        from kypho.demo import run_demo

        t = time.perf_counter()
        with progress() as report:
            doc, truth = run_demo(out, overwrite=force, progress=report)
        print_summary(doc, out)
        console.print(
            "Demo truth (phantom): "
            + ", ".join(
                f"{v['level']} grade {v['genant_grade']} {v['morphotype']}"
                for v in truth["vertebrae"]
                if v["genant_grade"]
            )
        )
        console.print(f"Open {out / 'report.html'}  ({time.perf_counter() - t:.1f} s)",
                      markup=False)

    run(go)
