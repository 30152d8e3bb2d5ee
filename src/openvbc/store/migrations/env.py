"""Alembic environment: runs against the connection handed in by openvbc.store.migrate."""

from __future__ import annotations

from alembic import context

from openvbc.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - openvbc always passes a connection
    raise RuntimeError("run migrations through `openvbc db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # ALTER TABLE on SQLite goes through copy-and-move batches
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
