"""One typed table per input kind (`<kind>_rows`), generated from `config/input_kinds.yaml`, the single
source of the column specification: changing that file changes `Base.metadata`, and
`tests/test_migrations.py` then fails until a migration is added."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Boolean, Column, Date, Float, ForeignKey, Index, Integer, MetaData, String, Table
from sqlalchemy.types import TypeEngine

from campaign.config_kinds import ColumnSpec, InputKinds, KindSpec, load_input_kinds
from campaign.store.models.base import Base, RowId, UTCDateTime

# Provenance columns every `<kind>_rows` table starts with. The submitting district is `district`, not
# `district_code`: target_list already has a spec column `district_code` (the person's home district).
PROVENANCE_COLUMNS = ("id", "submission_id", "district", "sheet", "row_number")


_FIXED_TYPES: dict[str, TypeEngine[Any]] = {
    "integer": Integer(),
    "decimal": Float(),
    "date": Date(),
    "datetime": UTCDateTime(),
    "boolean": Boolean(),
    "enum": String(32),
    "phone": String(16),  # E.164
    "id_number": String(12),
    "insurance_number": String(15),
    "facility_code": String(32),
    "admin_code": String(5),
}


def column_type(spec: ColumnSpec) -> TypeEngine[Any]:
    """The database type of a spec column."""
    if spec.type == "text":
        return String(spec.length or 255)
    return _FIXED_TYPES[spec.type]


def kind_table_name(kind: str) -> str:
    return f"{kind}_rows"


def build_kind_table(metadata: MetaData, kind: KindSpec) -> Table:
    """`<kind>_rows`: provenance columns, then every spec column (all nullable: the gate decides)."""
    clash = [c.name for c in kind.columns if c.name in PROVENANCE_COLUMNS]
    if clash:
        raise ValueError(f"input kind {kind.name!r}: column names {clash} are reserved for provenance")
    name = kind_table_name(kind.name)
    return Table(
        name,
        metadata,
        Column("id", RowId, primary_key=True),
        # no index of its own: `ix_<table>_submission_row` below starts with it (one index less to update
        # for every row of a load; issue 16)
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("district", String(3), nullable=False),
        Column("sheet", String(100), nullable=True),
        Column("row_number", Integer, nullable=False),
        *(Column(c.name, column_type(c), nullable=True) for c in kind.columns),
        # a source row by its place in its file: the master list, review and export look rows up so
        Index(f"ix_{name}_submission_row", "submission_id", "row_number"),
    )


def _class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"_+", kind)) + "Row"


def _build_kind_tables(kinds: InputKinds) -> tuple[dict[str, Table], dict[str, type]]:
    tables: dict[str, Table] = {}
    models: dict[str, type] = {}
    for kind_name, spec in kinds.kinds.items():
        table = build_kind_table(Base.metadata, spec)
        tables[kind_name] = table
        models[kind_name] = type(
            _class_name(kind_name),
            (Base,),
            {"__table__": table, "__module__": __name__, "__doc__": f"A loaded row of {kind_name!r}."},
        )
    return tables, models


KIND_TABLES: dict[str, Table]
KIND_MODELS: dict[str, type]
KIND_TABLES, KIND_MODELS = _build_kind_tables(load_input_kinds())
