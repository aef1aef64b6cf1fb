"""A district's saved way of reading its headings: "a mapping a district can fix once" (issue 16).

When the matcher cannot read a heading (or reads it wrongly), the district's clerk (portal) or a
coordinator (CLI `--column`) says once what the column is; it is kept per district, kind and heading
(`column_mappings`, keyed by `campaign.io.headers.heading_key`, so "Số giấy tờ (*)" and "SỐ GIẤY TỜ" are
one heading) and every later file of that district and kind with the same heading is read that way
(`ColumnOverride(source="saved")`), until it is changed or reset. `field` None means: do not use that
column.

Core: plain functions of a SQLAlchemy session (no Prefect, click or web framework here); the caller owns
the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign.config_kinds import KindSpec, load_input_kinds
from campaign.io.columns import SAVED, ColumnOverride
from campaign.io.headers import heading_key
from campaign.store.models import ColumnMapping

IGNORE_LABEL = "Không dùng cột này"   # what "field None" is called on the portal's forms
MAX_HEADING = 300                     # the columns' width in `column_mappings`


def kind_spec(kind: str) -> KindSpec:
    kinds = load_input_kinds()
    if kind not in kinds.kinds:
        raise ValueError(f"Không có loại dữ liệu {kind!r}; các loại: {', '.join(kinds.names)}")
    return kinds.kinds[kind]


def field_choices(kind: str) -> list[dict[str, str]]:
    """The kind's fields a column can be read as: [{"name": "id_number", "header": "Số CMT/CCCD"}, ...], in
    the order of the column specification (the portal's select, the CLI's list of valid fields)."""
    return [{"name": c.name, "header": c.header} for c in kind_spec(kind).columns]


def field_header(kind: str, field: str | None) -> str:
    """The Vietnamese name of a field ("Số CMT/CCCD"), or "Không dùng" for an ignored column."""
    if field is None:
        return "Không dùng"
    spec = kind_spec(kind)
    try:
        return spec.column(field).header
    except KeyError:
        return field


def check_field(kind: str, field: str | None) -> str | None:
    """`field` if the kind has it (None: ignore the column); else a ValueError naming the valid fields."""
    if field is None:
        return None
    names = [c["name"] for c in field_choices(kind)]
    if field not in names:
        listed = ", ".join(f"{c['name']} ({c['header']})" for c in field_choices(kind))
        raise ValueError(f"Loại dữ liệu {kind!r} không có cột {field!r}. Các cột hợp lệ: {listed}")
    return field


def _key_of(heading: str) -> str:
    key = heading_key(heading)
    if not key:
        raise ValueError(f"Tiêu đề cột {heading!r} trống: không lưu được cách đọc cho nó")
    if len(key) > MAX_HEADING:
        raise ValueError(f"Tiêu đề cột quá dài (trên {MAX_HEADING} ký tự): không lưu được cách đọc cho nó")
    return key


def save_mappings(session: Session, district: str, kind: str, columns: Mapping[str, str | None], by: str,
                  at: dt.datetime) -> list[ColumnMapping]:
    """Keep {heading as written: field (None: ignore)} as the district's way of reading those headings
    in its files of `kind`; a heading already saved (same `heading_key`) gets the new reading. Every field
    is checked first: one unknown field saves nothing (ValueError in Vietnamese, naming the valid ones)."""
    kind_spec(kind)
    wanted: dict[str, tuple[str, str | None]] = {}
    for heading, field in columns.items():
        wanted[_key_of(heading)] = (str(heading).strip()[:MAX_HEADING], check_field(kind, field))
    saved = []
    for key, (heading, field) in wanted.items():
        saved.append(_upsert(session, district, kind, key, heading, field, by, at))
    return saved


def _upsert(session: Session, district: str, kind: str, key: str, heading: str, field: str | None, by: str,
            at: dt.datetime) -> ColumnMapping:
    where = (ColumnMapping.district_code == district, ColumnMapping.kind == kind, ColumnMapping.heading_key == key)
    for _ in range(3):
        row = session.scalars(select(ColumnMapping).where(*where)).first()
        if row is not None:
            row.heading, row.field, row.set_by, row.set_at = heading, field, by[:128], at
            session.flush()
            return row
        try:
            # a savepoint: another writer saving the same heading at the same moment (PostgreSQL) only
            # turns this insert into the update above, it does not end the caller's transaction
            with session.begin_nested():
                row = ColumnMapping(district_code=district, kind=kind, heading_key=key, heading=heading,
                                    field=field, set_by=by[:128], set_at=at)
                session.add(row)
            return row
        except IntegrityError:
            continue
    raise RuntimeError(f"could not save the reading of {heading!r} for {district}/{kind}")


def load_mappings(session: Session, district: str, kind: str) -> dict[str, ColumnOverride]:
    """{heading_key: ColumnOverride(field, source="saved")} for the district's files of `kind`. A saved
    field the kind no longer has (the column specification changed) is left out."""
    valid = {c.name for c in kind_spec(kind).columns}
    rows = session.scalars(select(ColumnMapping).where(ColumnMapping.district_code == district,
                                                       ColumnMapping.kind == kind)
                           .order_by(ColumnMapping.heading_key)).all()
    return {r.heading_key: ColumnOverride(r.field, SAVED) for r in rows if r.field is None or r.field in valid}


def mapping_row(r: ColumnMapping) -> dict[str, Any]:
    return {"id": r.id, "district": r.district_code, "kind": r.kind, "heading_key": r.heading_key,
            "heading": r.heading, "field": r.field, "field_header": field_header(r.kind, r.field),
            "set_by": r.set_by, "set_at": r.set_at}


def list_mappings(session: Session, district: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Every saved reading (of a district, of a kind), by district, kind and heading; JSON-ready but for
    `set_at` (an aware UTC datetime)."""
    stmt = select(ColumnMapping)
    if district is not None:
        stmt = stmt.where(ColumnMapping.district_code == district)
    if kind is not None:
        stmt = stmt.where(ColumnMapping.kind == kind)
    rows = session.scalars(stmt.order_by(ColumnMapping.district_code, ColumnMapping.kind,
                                         ColumnMapping.heading_key)).all()
    return [mapping_row(r) for r in rows]


def reset_mappings(session: Session, district: str, kind: str | None = None, heading_key: str | None = None) -> int:
    """Forget the district's saved readings (of one kind; of one heading: given as written or as its
    key, both fold to the same key). Later files are read by the matcher again. Returns how many."""
    stmt = delete(ColumnMapping).where(ColumnMapping.district_code == district)
    if kind is not None:
        stmt = stmt.where(ColumnMapping.kind == kind)
    if heading_key is not None:
        stmt = stmt.where(ColumnMapping.heading_key == _key_or_text(heading_key))
    return session.execute(stmt).rowcount or 0


def _key_or_text(text: str) -> str:
    """The key of a heading given as written or already folded (folding a key gives the key back)."""
    return heading_key(text) or text
