"""What every command shares: the consoles, the progress display and one-sentence errors.

Every expected failure is a :class:`~kypho.errors.KyphoError` and becomes one red
sentence and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kypho.errors import KyphoError

__all__ = ["console", "err_console", "progress", "run"]

console = Console(stderr=False)
err_console = Console(stderr=True)


@contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[float, str], None]]:
    """A ``progress(fraction, message)`` callback: a bar on a terminal, plain lines otherwise."""
    if not enabled or not console.is_terminal:
        last = [""]

        def plain(fraction: float, message: str) -> None:
            if message != last[0]:
                last[0] = message
                err_console.print(f"[dim]{fraction:4.0%} {escape(message)}[/dim]")

        yield plain
        return
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        yield update


def run(func: Callable[[], None]) -> None:
    """Run a command's body, turning kypho's errors and failed writes into one sentence."""
    try:
        func()
    except KyphoError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except OSError as exc:
        # Output folders are probed before the work; this catches what fails later.
        where = exc.filename or "an output file"
        err_console.print(
            f"[bold red]error:[/] cannot write {escape(str(where))}: "
            f"{escape(exc.strerror or str(exc))}; choose a writable folder with -o.",
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None
