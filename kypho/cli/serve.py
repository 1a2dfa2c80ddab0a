"""``kypho serve`` and ``kypho user-add``: the clinic web app and its accounts (kypho.web)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kypho.cli.console import console, run

__all__ = ["serve", "user_add"]

_IMPORT_HELP = "Folder that analysis folders may be registered from (repeatable)."


def serve(
    db: Annotated[str | None, typer.Option(help="Registry URL (default SQLite).")] = None,
    host: Annotated[str, typer.Option(help="Address to bind (this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Uploads and analyses folder.")] = None,
    import_root: Annotated[list[Path] | None, typer.Option(help=_IMPORT_HELP)] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest CT upload accepted (MB).")] = 2048,
) -> None:
    """Run the clinic web app and outcomes registry (kypho.web)."""

    def go() -> None:
        from kypho.web.serve import serve as run_server

        run_server(db, host, port, data_dir, import_root or [], max_upload_mb)

    run(go)


def user_add(
    username: Annotated[str, typer.Argument(help="New user name.")],
    role: Annotated[str, typer.Option(help="clinician, researcher or admin.")] = "clinician",
    db: Annotated[str | None, typer.Option(help="Registry URL.")] = None,
) -> None:
    """Create a web-app account; the password is asked for (or read from KYPHO_PASSWORD)."""

    def go() -> None:
        import os

        from kypho.web.serve import create_user

        password = os.environ.get("KYPHO_PASSWORD") or typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        create_user(db, username, password, role)
        console.print(f"user {username} ({role}) created", markup=False)

    run(go)
