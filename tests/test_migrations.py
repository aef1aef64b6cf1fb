"""Alembic migrations: head builds exactly the models, on SQLite and PostgreSQL; downgrade works."""

from __future__ import annotations

import ast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, String, inspect, text

from campaign.store.db import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    migrate,
)
from campaign.store.models import KIND_TABLES, Base


def _diff(engine: Engine, metadata: MetaData = Base.metadata) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(ctx, metadata)


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"merge the migration heads {heads}"


def test_migrations_do_not_import_the_models() -> None:
    """A migration is frozen: it must not change when campaign/store/models/ or input_kinds.yaml change later."""
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {
            *(a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names),
            *(n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)),
        }
        assert not {m for m in modules if m.startswith("campaign")}, path.name
        assert "create_all" not in path.read_text(encoding="utf-8"), path.name


def test_upgrade_head_matches_models(db_engine: Engine) -> None:
    assert current_revision(db_engine) is None
    migrate(db_engine)
    assert current_revision(db_engine) == head_revision()
    assert _diff(db_engine) == []
    tables = set(inspect(db_engine).get_table_names())
    assert {t.name for t in KIND_TABLES.values()} <= tables
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_upgrade_is_idempotent(db_engine: Engine) -> None:
    migrate(db_engine)
    migrate(db_engine)
    assert _diff(db_engine) == []


def test_comparison_detects_drift(db_engine: Engine) -> None:
    """Guards the test above against passing vacuously: a changed model must show up as a difference."""
    migrate(db_engine)
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["stored_files"].append_column(Column("extra", Integer))
    drifted.tables["target_list_rows"].c.full_name.type = String(150)
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in _diff(db_engine, drifted)}
    assert kinds == {"add_column", "modify_type"}


def test_downgrade_base_and_up_again(db_engine: Engine) -> None:
    migrate(db_engine)
    downgrade(db_engine, "base")
    assert current_revision(db_engine) is None
    assert set(inspect(db_engine).get_table_names()) <= {"alembic_version"}
    migrate(db_engine)
    assert _diff(db_engine) == []


@pytest.mark.parametrize("db_engine", ["postgresql"], indirect=True)
def test_postgresql_schema_from_search_path(db_engine: Engine) -> None:
    migrate(db_engine)
    with db_engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        assert schema.startswith("test_")
        where = (
            conn.execute(
                text(
                    "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = 'submissions'"
                )
            )
            .scalars()
            .all()
        )
        assert where == [schema] or (schema in where and "public" not in where)
    insp = inspect(db_engine)
    assert {"alembic_version", "submissions", "target_list_rows"} <= set(insp.get_table_names(schema=schema))
    assert not {"submissions", "target_list_rows"} & set(insp.get_table_names(schema="public"))
