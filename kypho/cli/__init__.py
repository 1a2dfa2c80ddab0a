"""kypho's command line: a thin layer of readers, stages and writers (Typer + Rich).

One module per command; each command is a plain function registered on :data:`app`
here, so the command modules do not depend on the application. Every expected failure
is a :class:`~kypho.errors.KyphoError` and becomes one red sentence and a non-zero exit
code, never a traceback (:func:`kypho.cli.console.run`).
"""

from __future__ import annotations

import sys

import typer

from kypho.cli.analyze import analyze
from kypho.cli.batch import batch
from kypho.cli.console import err_console
from kypho.cli.demo import demo
from kypho.cli.info import info
from kypho.cli.listen import listen
from kypho.cli.phantom import phantom
from kypho.cli.plan import plan_command
from kypho.cli.segment import segment
from kypho.cli.serve import serve, user_add
from kypho.cli.simulate import simulate_command
from kypho.outputs import OUTPUT_NAMES

__all__ = ["OUTPUT_NAMES", "app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="kypho: vertebral compression fractures and balloon kyphoplasty from spine CT. "
    "Research software: it supports, and does not replace, clinical judgement.",
)
app.command()(analyze)
app.command()(segment)
app.command("plan")(plan_command)
app.command("simulate")(simulate_command)
app.command("batch")(batch)
app.command("listen")(listen)
app.command("phantom")(phantom)
app.command()(info)
app.command()(demo)
app.command()(serve)
app.command("user-add")(user_add)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt as exc:
        # SIGTERM arrives here too (kypho.output_folder turns it into KeyboardInterrupt).
        err_console.print("[red]interrupted[/]")
        sys.exit(143 if "signal" in str(exc) else 130)
