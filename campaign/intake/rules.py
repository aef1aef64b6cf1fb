"""Intake's pure rules: the request and what a checked file is, the bounded values (every text intake
writes into a String(n) column fits, known before anything is written), and what the reader may use to
read a column from its cells. No database, no files."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Column, String

from campaign.domain.admin_units import get_admin_units
from campaign.store.models import KIND_TABLES, PROVENANCE_COLUMNS, QuarantineRow, RowIssue, Submission

ACCEPTED, REJECTED, DUPLICATE, WITHDRAWN = "accepted", "rejected", "duplicate", "withdrawn"
REPEAT_CODE = "repeat_of_earlier_submission"


class UsageError(ValueError):
    """The request itself is wrong (unknown district or kind): exit code 2, nothing stored."""


@dataclass
class IntakeRequest:
    path: Path
    district: str                 # GSO code or name, with or without diacritics
    kind: str
    facility: str | None = None
    channel: str = "cli"
    submitted_by: str = "cli"
    received_at: dt.datetime | None = None   # logical time; default: the logical clock
    original_filename: str | None = None     # the name the user's file had (the portal stores uploads by hash)
    flow_run_id: str | None = None           # the Prefect flow run taking it in, for the coordinators' links
    columns: dict[str, str | None] = field(default_factory=dict)  # headings read as given: {heading: field|None}

    @property
    def display_name(self) -> str:
        return self.original_filename or self.path.name



@dataclass
class Checked:
    """What the read/standardize/gate stages produced, ready to load."""
    read: Any                      # campaign.io.reader.ReadResult
    clean: pd.DataFrame            # typed canonical columns, one row per data row
    issues: pd.DataFrame           # row, column, code, severity
    quarantined: pd.Series         # bool per row
    blocking: list[tuple[str, str]]  # (code, Vietnamese detail) that reject the whole submission
    data_docs_index: Path | None = None
    file_reasons: dict[str, int] = field(default_factory=dict)  # column_ignored / column_guessed: columns each


def content_hints(district: str, known_facilities: set[str] | None, today: dt.date):  # noqa: ANN201
    """What the reader may use to read a column from its cells: the district's communes and facilities."""
    from campaign.io.content import ContentHints

    units = get_admin_units()

    def is_commune(text: str) -> bool:
        return units.lookup(text, "commune", district).status in ("found", "ambiguous")

    return ContentHints(is_commune=is_commune, facility_codes=frozenset(known_facilities or ()), today=today)


# ---------------------------------------------------------------------------------------------------------
# Bounded columns: every text intake writes into a String(n) column fits, known before anything is written
# (SQLite would store a longer one, PostgreSQL refuses the whole transaction). The bounds are the tables'.
# ---------------------------------------------------------------------------------------------------------


def text_limit(*columns: Column[Any]) -> int | None:
    """The characters the tightest of these String(n) columns holds (None: unbounded)."""
    return min((c.type.length for c in columns if isinstance(c.type, String) and c.type.length), default=None)


@functools.cache
def value_limits(kind: str) -> dict[str, int]:
    """{column of the kind: characters its `<kind>_rows` column holds}; the standardizer refuses longer
    values as row reasons (checked per distinct value: a pass over every cell of a million rows cost ~3 s)."""
    return {c.name: limit for c in KIND_TABLES[kind].c
            if c.name not in PROVENANCE_COLUMNS and (limit := text_limit(c)) is not None}


def _shown(text: str, at_most: int = 40) -> str:
    return text if len(text) <= at_most else text[:at_most] + "…"


def file_value_refusal(kind: str, *, facility: str | None = None, sheet: str | None = None):  # noqa: ANN201
    """The ReadError refusing a file whose file-level value cannot be stored (a sheet name every row of
    it carries, the facility code of the submission), or None."""
    from campaign.io.sniff import refusal

    if facility is not None:
        limit = text_limit(Submission.__table__.c.facility_code)
        if limit is not None and len(facility) > limit:
            return refusal("facility_code_too_long", facility=_shown(facility), length=len(facility), limit=limit)
    if sheet is not None:
        limit = text_limit(KIND_TABLES[kind].c.sheet, RowIssue.__table__.c.sheet, QuarantineRow.__table__.c.sheet)
        if limit is not None and len(sheet) > limit:
            return refusal("sheet_name_too_long", sheet=_shown(sheet), length=len(sheet), limit=limit)
    return None


def fit_file_name(name: str, limit: int | None) -> tuple[str, bool]:
    """The name as stored: cut to `limit` characters when longer, its extension kept after "…" (the name
    is a label; refusing a good file for it would help no one). Returns (name, whether it was cut)."""
    if limit is None or len(name) <= limit:
        return name, False
    stem, dot, ext = name.rpartition(".")
    ext = f".{ext}" if dot and stem and len(ext) <= 10 else ""
    return name[:max(limit - len(ext) - 1, 0)] + "…" + ext, True


FILE_NAME_SHORTENED = "file_name_shortened"
