"""Alembic environment: runs on the connection handed over by kypho.registry.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from kypho.registry.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    # Only when a developer autogenerates a revision with alembic: a URL in the config.
    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table.
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
