"""Alembic environment, driven from campaign.store.db (no alembic.ini).

The connection comes from `config.attributes["connection"]` (migrate()/downgrade()), else from the
`sqlalchemy.url` option, else from the settings. Tables and `alembic_version` go to the connection's
default schema, i.e. the first schema of the PostgreSQL search_path.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from campaign.store.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import the models (they change later): render the decorator's storage type.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure_kwargs() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": True,  # SQLite can only ALTER through table copies
        "compare_type": True,
        "render_item": render_item,
    }


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **configure_kwargs())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **configure_kwargs())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from campaign.store.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
