"""`kypho listen`: run kypho as a DICOM node until interrupted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["listen_command"]

console = Console(stderr=True)


def listen_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Inbox, queue and results.")],
    allow: Annotated[str, typer.Option(help="Calling AE titles allowed to send, AET[,AET].")],
    ae_title: Annotated[str, typer.Option(help="This node's AE title.")] = "KYPHO",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 11112,
    send_to: Annotated[str | None, typer.Option(
        help="HOST:PORT:AET to send SEG, SR and PDF back to.")] = None,
    quiet_seconds: Annotated[float, typer.Option(
        min=0.0, help="A series is complete after this long without a new instance.")] = 10.0,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
) -> None:
    """Receive CT series by C-STORE, analyse each once, store and send back results."""
    from kypho.pacs.node import Destination, ListenerConfig, Node

    allowed = tuple(a.strip() for a in allow.split(",") if a.strip())
    if not allowed:
        raise typer.BadParameter("--allow needs at least one calling AE title")
    try:
        dest = Destination.parse(send_to) if send_to else None
    except ValueError as exc:
        raise typer.BadParameter(f"--send-to: {exc}") from None
    logging.getLogger("pynetdicom").setLevel(logging.ERROR)
    cfg = ListenerConfig(ae_title, port, allowed, out, dest, quiet_seconds, host)
    node = Node(cfg, log=lambda m: console.print(escape(m)))
    node.start()
    try:
        node.serve()
    finally:
        node.shutdown()
