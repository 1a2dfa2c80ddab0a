"""`kypho batch`: the command-line edge of cohort runs (inputs, progress bar, summaries)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["batch_command"]

console = Console(stderr=True)


def batch_command(
    inputs: Annotated[list[Path] | None, typer.Argument(
        help="CT files, DICOM folders, or folders of cases.")] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder (one per case).")]
    = Path("kypho-batch"),
    manifest: Annotated[Path | None, typer.Option(
        help="CSV with a 'path' column (and optional 'case_id').")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler tcp://HOST:PORT; runs there instead of locally.")] = None,
    dicom: Annotated[bool, typer.Option(help="Also write DICOM SEG, SR and PDF.")] = False,
    memory_limit_gb: Annotated[float | None, typer.Option(
        help="Address space a case may add to its worker (GB), local or Dask; a case "
        "above it fails alone.")] = None,
) -> None:
    """Analyse a cohort: resumable, one bad case never stops it, summaries and worklist."""
    from kypho.batch.cases import discover_cases
    from kypho.batch.run import executor, run_batch
    from kypho.batch.summary import write_summaries

    cases = discover_cases(inputs or [], manifest)
    out.mkdir(parents=True, exist_ok=True)
    where = f"Dask at {scheduler}" if scheduler else f"{workers} local worker(s)"
    console.print(f"{len(cases)} case(s) on {escape(where)} -> {escape(str(out))}")
    with Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("cases", total=len(cases))

        def update(finished: int, total: int, outcome) -> None:  # type: ignore[no-untyped-def]
            bar.update(task, completed=finished, description=f"{outcome.case_id[:18]} "
                       f"{outcome.status}")
            if outcome.status == "failed":
                bar.console.print(f"[red]failed[/] {escape(outcome.case_id)}: "
                                  f"{escape(outcome.error or '')}")

        with executor(workers, scheduler) as pool:
            result = run_batch(cases, out, pool, dicom=dicom,
                               memory_limit_gb=memory_limit_gb, progress=update)
    paths = write_summaries(out, result.outcomes)
    done, skipped, failed = (result.count(s) for s in ("done", "skipped", "failed"))
    rate = 3600.0 * done / result.seconds if result.seconds > 0 and done else 0.0
    console.print(f"{done} analysed, {skipped} already done, {failed} failed "
                  f"({len(result.retried)} retried) in {result.seconds:.1f} s "
                  f"({rate:.0f} CTs/hour); summaries in {escape(str(paths['studies'].parent))}")
    if failed:
        raise typer.Exit(code=1)
