"""`standardize`: the reader's frame of raw strings -> typed canonical columns + reasons.

Columns are dispatched by their spec `type`, with name-specific rules for `full_name` /
`person_in_charge` (names), `birth_date` (birth role), `priority_group`, `sex` and the commune pair
`commune_name` / `commune_code` (resolved together when the kind has a `commune_code` column). Then the
cross-field checks (`cross.py`). Everything is vectorised; the per-value Python work runs on distinct
values only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from campaign.config_kinds import ColumnSpec, KindSpec, load_input_kinds
from campaign.config_reasons import load_reasons

from ._base import SEVERITY_RANK, STR, FieldResult, rank, reason_series, worst
from .codes import (
    ADMIN_CODE_WIDTH,
    clean_admin_codes,
    clean_booleans,
    clean_decimals,
    clean_enum,
    clean_facility_codes,
    clean_integers,
    clean_priority_groups,
    clean_sex,
)
from .communes import resolve_communes
from .cross import cccd_facts, cccd_mismatches, duplicates_in_file, sex_from_cccd, under_age
from .dates import TZ_NAME, parse_dates, parse_datetimes
from .ids import clean_id_numbers, clean_insurance_numbers
from .names import clean_names, clean_text
from .phones import PhoneRules, clean_phones

NAME_COLUMNS = frozenset({"full_name", "person_in_charge"})
ISSUE_COLUMNS = ["row", "column", "code", "severity"]


@dataclass
class Standardized:
    """The standardized frame and everything said about it.

    clean         typed canonical columns in spec order (missing columns added as NA), the input's index
    issues        long frame: row (0-based position in the input; NA for file-level issues), column
                  (canonical name, NA for row-level issues), code, severity (from the catalogue)
    reasons       wide frame: per canonical column the field's most severe reason (NA when none), after
                  the cross-field checks (sex_from_cccd, cccd_*_mismatch join their column); row-level
                  checks (under_age, duplicate_in_file) are in `issues` only. The GX gate can check
                  these columns
    row_severity  per row the worst severity ("row", "warning", "repair") or NA
    quarantined   per row: True when the worst severity is "row"
    missing_columns  required columns absent from the input (the gate's `required_column_missing`)
    """

    clean: pd.DataFrame
    issues: pd.DataFrame
    reasons: pd.DataFrame
    row_severity: pd.Series
    quarantined: pd.Series
    missing_columns: list[str] = field(default_factory=list)

    def reason_counts(self) -> dict[str, int]:
        """{reason code: number of rows} as the intake summary reports it."""
        rows = self.issues.dropna(subset=["row"]).drop_duplicates(["row", "code"])
        return {str(k): int(v) for k, v in rows["code"].value_counts().sort_index().items()}


def _empty_typed(col: ColumnSpec, index: pd.Index) -> pd.Series:
    n = len(index)
    if col.type == "integer" or col.name == "priority_group":
        return pd.Series(pd.array([None] * n, dtype="Int64"), index=index)
    if col.type == "decimal":
        return pd.Series(np.full(n, np.nan), index=index, dtype="float64")
    if col.type == "date":
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"), index=index)
    if col.type == "datetime":
        return pd.Series(
            np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"), index=index
        ).dt.tz_localize(TZ_NAME)
    if col.type == "boolean":
        return pd.Series(pd.array([None] * n, dtype="boolean"), index=index)
    return pd.Series(np.nan, index=index, dtype=STR)


def clean_column(
    col: ColumnSpec,
    raw: pd.Series,
    *,
    today: dt.date,
    known_facilities: Iterable[str] | None = None,
    phone_rules: PhoneRules | None = None,
    max_length: int | None = None,
) -> FieldResult:
    """One column by its spec (the dispatch of `standardize`, commune pairs excepted). `max_length`: what
    the column's storage holds (the intake derives it from the table); text is cut by the tighter bound.
    Phones, IDs and insurance numbers are fixed-width by construction."""
    req = col.required
    text_bound = min((b for b in (col.length, max_length) if b is not None), default=None)
    if col.name in NAME_COLUMNS:
        return clean_names(raw, required=req, max_length=text_bound)
    if col.name == "birth_date":
        return parse_dates(raw, role="birth", today=today, required=req)
    if col.name == "priority_group":
        lo = int(col.min) if col.min is not None else 1
        hi = int(col.max) if col.max is not None else 16
        return clean_priority_groups(raw, required=req, min_group=lo, max_group=hi)
    if col.name == "sex":
        return clean_sex(raw, required=req)
    t = col.type
    if t == "text":
        return clean_text(raw, required=req, max_length=text_bound)
    if t == "integer":
        return clean_integers(raw, required=req, min_value=col.min, max_value=col.max)
    if t == "decimal":
        return clean_decimals(raw, required=req, min_value=col.min, max_value=col.max)
    if t == "date":
        return parse_dates(raw, role="other", today=today, required=req)
    if t == "datetime":
        return parse_datetimes(raw, today=today, required=req)
    if t == "boolean":
        return clean_booleans(raw, required=req)
    if t == "enum":
        assert col.enum is not None
        return clean_enum(raw, col.enum, required=req, max_length=max_length)
    if t == "phone":
        return clean_phones(raw, required=req, rules=phone_rules)
    if t == "id_number":
        return clean_id_numbers(raw, required=req)
    if t == "insurance_number":
        return clean_insurance_numbers(raw, required=req)
    if t == "facility_code":
        return clean_facility_codes(raw, required=req, known=known_facilities, max_length=max_length)
    if t == "admin_code":
        return clean_admin_codes(raw, width=ADMIN_CODE_WIDTH.get(col.name), required=req, max_length=max_length)
    raise ValueError(f"column {col.name}: unknown type {t!r}")  # pragma: no cover - the spec validates types


def standardize(
    frame: pd.DataFrame,
    kind: str | KindSpec,
    *,
    district_code: str,
    campaign_date: dt.date,
    today: dt.date,
    min_age_years: int,
    known_facilities: set[str] | None = None,
    admin_units: Any = None,
    phone_rules: PhoneRules | None = None,
    max_lengths: Mapping[str, int] | None = None,
) -> Standardized:
    """Standardize the reader's frame of one input kind (see the package doc for every rule).

    frame          canonical column names (a subset of the kind's spec), values str or missing
    district_code  the uploading district (GSO, "632"): communes are resolved within it
    campaign_date  the day age is judged on (`under_age`)
    today          the logical today: birth dates after it are invalid
    known_facilities  facility codes of the district; when given, others are `facility_unknown`
    min_age_years  the campaign's `campaign.min_age_years` (passed in: one source for the rule)
    max_lengths    {column: characters its storage holds}: a longer clean value is refused
                   (`value_too_long`, or the text/name reasons), never cut or left to fail the load
    """
    spec = load_input_kinds()[kind] if isinstance(kind, str) else kind
    index = frame.index
    n = len(frame)
    names = [c.name for c in spec.columns]
    has_commune_pair = "commune_code" in names and "commune_name" in names
    results: dict[str, FieldResult] = {}
    clean: dict[str, pd.Series] = {}

    for col in spec.columns:
        if col.name in ("commune_name", "commune_code") and has_commune_pair:
            continue
        if col.name not in frame.columns:
            clean[col.name] = _empty_typed(col, index)
            continue
        r = clean_column(
            col, frame[col.name], today=today, known_facilities=known_facilities, phone_rules=phone_rules,
            max_length=(max_lengths or {}).get(col.name),
        )
        results[col.name] = r
        clean[col.name] = r.value

    if has_commune_pair:
        name_col, code_col = spec.column("commune_name"), spec.column("commune_code")
        raw_names = frame["commune_name"] if "commune_name" in frame.columns else None
        raw_codes = frame["commune_code"] if "commune_code" in frame.columns else None
        if raw_names is None and raw_codes is None:
            clean["commune_name"] = _empty_typed(name_col, index)
            clean["commune_code"] = _empty_typed(code_col, index)
        else:
            cr = resolve_communes(
                raw_names,
                raw_codes,
                district_code=district_code,
                units=admin_units,
                required=name_col.required or code_col.required,
                max_length=min((b for b in (name_col.length, (max_lengths or {}).get("commune_name"))
                                if b is not None), default=None),
            )
            results["commune_name"], results["commune_code"] = cr.name, cr.code
            clean["commune_name"], clean["commune_code"] = cr.name.value, cr.code.value

    extra: list[tuple[np.ndarray, str | None, str]] = []  # (mask, column, code) of row-level checks

    # CCCD: repair a missing/invalid sex, then cross-check sex and birth year
    if "id_number" in results:
        facts = cccd_facts(results["id_number"])
        if "sex" in results:
            repaired, _mask = sex_from_cccd(results["sex"], facts)
            results["sex"] = repaired
            clean["sex"] = repaired.value
        sex_bad, year_bad = cccd_mismatches(
            facts,
            results["sex"].value if "sex" in results else None,
            results["birth_date"].value if "birth_date" in results else None,
        )
        extra.append((sex_bad, "sex", "cccd_sex_mismatch"))
        extra.append((year_bad, "birth_date", "cccd_birth_year_mismatch"))

    if "birth_date" in results:
        young = under_age(results["birth_date"].value, campaign_date=campaign_date, min_age_years=min_age_years)
        extra.append((young, None, "under_age"))

    clean_frame = pd.DataFrame({name: clean[name] for name in names}, index=index, copy=False)
    keys = {name: r.key for name, r in results.items() if r.key is not None}
    dup = duplicates_in_file(clean_frame, spec.natural_key, keys)
    extra.append((dup, None, "duplicate_in_file"))

    # --- reasons, issues, severities ---
    field_reasons = {name: r.reason for name, r in results.items()}
    for mask, column, code in extra:  # column-level cross checks join their column's reason
        if column is not None and column in field_reasons and mask.any():
            flagged_codes = np.full(n, np.nan, dtype=object)
            flagged_codes[mask] = code
            flagged = pd.Series(flagged_codes, index=index, dtype=STR)
            field_reasons[column] = worst(field_reasons[column], flagged)
    reasons = pd.DataFrame(
        {name: field_reasons.get(name, reason_series(index)) for name in names}, index=index, copy=False
    )
    worst_rank = np.zeros(n, dtype=np.int8)
    parts: list[tuple[np.ndarray, str | None, np.ndarray | str]] = []  # (rows, column, code(s))
    severity = {c: r.severity for c, r in load_reasons().reasons.items()}
    for name in names:
        if name not in results:
            continue
        reason = results[name].reason
        worst_rank = np.maximum(worst_rank, rank(reason))
        present = reason.notna().to_numpy()
        if present.any():
            parts.append((np.flatnonzero(present), name, reason.to_numpy(dtype=object)[present]))
    for mask, column, code in extra:
        if mask.any():
            worst_rank = np.maximum(worst_rank, np.where(mask, _rank_of(code), 0).astype(np.int8))
            parts.append((np.flatnonzero(mask), column, code))
    missing_columns = [c.name for c in spec.required_columns if c.name not in frame.columns]
    for name in missing_columns:
        parts.append((np.array([-1]), name, "required_column_missing"))
    issues = _issues_frame(parts, severity)
    sev = np.array([None, "repair", "warning", "row", "blocking"], dtype=object)[worst_rank]
    row_severity = pd.Series(sev, index=index, dtype=STR)
    quarantined = pd.Series(worst_rank >= 3, index=index, dtype=bool)
    return Standardized(
        clean=clean_frame,
        issues=issues,
        reasons=reasons,
        row_severity=row_severity,
        quarantined=quarantined,
        missing_columns=missing_columns,
    )


def _rank_of(code: str) -> int:
    return SEVERITY_RANK[load_reasons().severity(code)]


def _issues_frame(
    parts: list[tuple[np.ndarray, str | None, np.ndarray | str]], severity: dict[str, str]
) -> pd.DataFrame:
    """The long issues frame: sorted by row (file-level issues, row -1 -> NA, first), then in the order
    the checks ran (spec column order, then the row-level checks). Built from small integer ids and
    tables of the distinct columns and codes: no hashing of millions of strings."""
    if not parts:
        return pd.DataFrame(
            {
                "row": pd.Series([], dtype="Int64"),
                "column": pd.Series([], dtype=STR),
                "code": pd.Series([], dtype=STR),
                "severity": pd.Series([], dtype=STR),
            }
        )
    column_table: list[str | float] = []
    code_table: list[str] = []
    code_index: dict[str, int] = {}
    rows_l, col_l, code_l = [], [], []
    for rows, column, codes in parts:
        column_table.append(column if column is not None else np.nan)
        col_l.append(np.full(len(rows), len(column_table) - 1, dtype=np.int16))
        if isinstance(codes, np.ndarray):
            local, uniques = pd.factorize(codes)
            ids = np.array([code_index.setdefault(u, len(code_index)) for u in uniques], dtype=np.int16)
            code_l.append(ids[local])
        else:
            code_l.append(np.full(len(rows), code_index.setdefault(codes, len(code_index)), dtype=np.int16))
        rows_l.append(np.asarray(rows, dtype=np.int64))
    code_table = list(code_index)
    rows = np.concatenate(rows_l)
    order = np.argsort(rows, kind="stable")  # each part is sorted already: cheap runs to merge
    rows = rows[order]
    col_ids = np.concatenate(col_l)[order]
    code_ids = np.concatenate(code_l)[order]
    columns = np.array(column_table, dtype=object)[col_ids]
    codes = np.array(code_table, dtype=object)[code_ids]
    sev = np.array([severity[c] for c in code_table], dtype=object)[code_ids]
    return pd.DataFrame(
        {
            "row": pd.arrays.IntegerArray(np.maximum(rows, 0), rows < 0),
            "column": pd.Series(columns, dtype=STR),
            "code": pd.Series(codes, dtype=STR),
            "severity": pd.Series(sev, dtype=STR),
        }
    )


__all__ = ["NAME_COLUMNS", "Standardized", "clean_column", "standardize"]
