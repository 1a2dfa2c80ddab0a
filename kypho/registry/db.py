"""Opening the registry database: SQLite by default, PostgreSQL by URL, schema by Alembic.

The default database is ``registry.sqlite`` in the user's data directory
(``$XDG_DATA_HOME/kypho`` or ``~/.local/share/kypho``), opened in WAL mode so that readers
do not block the writer. PostgreSQL is reached with ``postgresql+psycopg://...`` URLs
(psycopg 3). :func:`open_registry` upgrades the schema to the newest migration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kypho.registry.audit import install_audit
from kypho.registry.errors import RegistryError

__all__ = ["Registry", "default_url", "migrate", "open_registry"]

# Seconds a SQLite writer waits for the lock before giving up (concurrent web clients).
SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_url() -> str:
    """The SQLite URL of the default registry in the user's data directory."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    folder = Path(base) / "kypho"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'registry.sqlite'}"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that every transaction
        # starts with BEGIN IMMEDIATE: writers queue on the lock (busy_timeout) instead of
        # failing when a read transaction later wants to write.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the registry's connection settings."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            _sqlite_setup(engine)
        else:
            engine = create_engine(url, pool_size=10, max_overflow=50, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise RegistryError(f"cannot use database URL {url!r}: {exc}") from None
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema of ``engine``'s database to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class Registry:
    """An open registry: its engine and a session factory with the audit trail on."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        install_audit(self.sessions)

    @contextmanager
    def session(self, actor: str = "system") -> Iterator[Session]:
        """A transaction acting as ``actor``: committed on success, rolled back on error."""
        with self.sessions() as session:
            session.info["actor"] = actor
            with session.begin():
                yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_registry(url: str | None = None, upgrade: bool = True) -> Registry:
    """Open (and by default migrate) the registry at ``url`` (default: user data dir)."""
    engine = make_engine(url or default_url())
    if upgrade:
        try:
            migrate(engine)
        except OperationalError as exc:
            raise RegistryError(f"cannot open the registry database: {exc.orig}") from None
    return Registry(engine)
