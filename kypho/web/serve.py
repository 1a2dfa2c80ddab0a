"""Command-line entry points of the web app: ``kypho serve`` and ``kypho user-add``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kypho.registry.db import default_url, open_registry
from kypho.registry.errors import RegistryError
from kypho.web.security import add_user

__all__ = ["app_data_dir", "create_user", "serve"]


def app_data_dir(explicit: Path | None = None) -> Path:
    """Uploads, analyses and the session key: ``--data-dir`` or the user data directory."""
    if explicit is not None:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kypho" / "web"


class _NoQueryString(logging.Filter):
    """Drop query strings from access-log lines (filters can hold search terms)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        return True


def serve(
    db: str | None,
    host: str,
    port: int,
    data_dir: Path | None,
    import_roots: list[Path],
    max_upload_mb: int,
) -> None:
    """Run the web app with uvicorn until interrupted."""
    import uvicorn

    from kypho.web.app import AppConfig, create_app

    registry = open_registry(db or default_url())
    folder = app_data_dir(data_dir)
    config = AppConfig(
        data_dir=folder,
        max_upload_bytes=max_upload_mb * 1024**2,
        import_roots=tuple(import_roots) or (folder,),
        https_only=host not in ("127.0.0.1", "localhost", "::1"),
    )
    app = create_app(registry, config)
    logging.getLogger("uvicorn.access").addFilter(_NoQueryString())
    uvicorn.run(app, host=host, port=port, log_level="info")


def create_user(db: str | None, username: str, password: str, role: str) -> None:
    """Create a local account in the registry at ``db``."""
    registry = open_registry(db or default_url())
    try:
        with registry.session(actor="cli") as s:
            add_user(s, username, password, role)
    finally:
        registry.dispose()
    if not username:
        raise RegistryError("no user name given.")
