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
CORRECTION_CODE = "correction_of_earlier_row"


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


# ---------------------------------------------------------------------------------------------------------
# A kind's own row checks (issue 20: an item's rules on the rows of its kind, e.g. campaign.aefi), merged
# into the standardized result before the gate: the feedback names their row and column, a `row` reason
# quarantines the row and counts in the rejected share, exactly like the standardizer's own reasons.
# ---------------------------------------------------------------------------------------------------------


def with_row_checks(std: Any, extra: pd.DataFrame) -> Any:
    """`std` (a `Standardized`) with `extra` issues (row: 0-based position, column: canonical name or NA,
    code: a reason of config/reasons.yaml) added: issues, the column's reason, the row's worst severity and
    its quarantine follow the codes' severities."""
    from campaign.config_reasons import load_reasons
    from campaign.domain.standardize._base import SEVERITY_RANK, STR

    if extra is None or not len(extra):
        return std
    reasons_cat = load_reasons()
    extra = extra.assign(severity=[reasons_cat.severity(c) for c in extra["code"]])
    extra = pd.DataFrame({"row": pd.array(extra["row"].astype("int64"), dtype="Int64"),
                          "column": pd.Series(extra["column"].to_numpy(dtype=object), dtype=STR),
                          "code": pd.Series(extra["code"].to_numpy(dtype=object), dtype=STR),
                          "severity": pd.Series(extra["severity"].to_numpy(dtype=object), dtype=STR)})
    issues = pd.concat([std.issues, extra], ignore_index=True)
    issues = issues.sort_values("row", kind="stable", na_position="first").reset_index(drop=True)
    names = ["", "repair", "warning", "row", "blocking"]
    index = std.clean.index
    ranks = std.row_severity.map(lambda s: SEVERITY_RANK.get(s, 0) if isinstance(s, str) else 0).to_numpy(dtype="int8")
    reasons = std.reasons.copy()
    for row, column, code, severity in extra.itertuples(index=False):
        pos = int(row)
        ranks[pos] = max(ranks[pos], SEVERITY_RANK[severity])
        if isinstance(column, str) and column in reasons.columns:
            current = reasons.iloc[pos][column]
            if not isinstance(current, str) or SEVERITY_RANK[reasons_cat.severity(current)] < SEVERITY_RANK[severity]:
                reasons.iloc[pos, reasons.columns.get_loc(column)] = code
    row_severity = pd.Series([names[r] or None for r in ranks], index=index, dtype=STR)
    quarantined = pd.Series(ranks >= 3, index=index, dtype=bool)
    import dataclasses

    return dataclasses.replace(std, issues=issues, reasons=reasons, row_severity=row_severity, quarantined=quarantined)
