"""Reading a column by its cells where its heading cannot say: an unknown heading over 12-digit numbers is
the ID, "ĐT" over mobile numbers is the phone (not the priority group), a column of the district's
commune names is the commune.

`fit(column, values)` is the share of a column's sample values (its first non-empty cells) that look like
the column spec's field; `decide(...)` uses it to settle headings that fit several fields and to read
unknown columns holding data, conservatively: a column is read from its content only when it fits one
free field clearly and no other. Pure functions; the reader passes the cells.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from campaign.config_kinds import ColumnSpec, KindSpec

SAMPLE = 200            # non-empty cells looked at per column
MIN_FIT = 0.7           # share of the sample that must look like the field
CLEAR_MARGIN = 0.2      # ... and by how much better than any other free field

_SEPARATORS = re.compile(r"[\s.\-()']")
_ID = re.compile(r"^\d{8,9}$|^\d{11,12}$")               # CMND 9 / CCCD 12 (Excel may have dropped a leading 0)
_PHONE = re.compile(r"^(?:\+?84|0)?[35789]\d{8}$|^(?:\+?84|0)?1[2689]\d{8}$")   # mobile, new or old 11-digit
_INSURANCE = re.compile(r"^[A-Za-z]{2}\d{13}$")
_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$|^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_BARE_NUMBER = re.compile(r"^\d+(?:\.0+)?$")
_FACILITY = re.compile(r"^[A-Z0-9]{2,}[-_][A-Z0-9\-_]+$")


@dataclass(frozen=True)
class ContentHints:
    """What the reader knows of the district that sent the file."""

    is_commune: Callable[[str], bool] | None = None   # a name of one of the district's communes
    facility_codes: frozenset[str] = frozenset()
    today: dt.date | None = None


def _digits(v: str) -> str:
    return _SEPARATORS.sub("", v)


def _is_date(v: str) -> int | None:
    """The year of a date cell, or None."""
    v = v.strip()
    m = _DATE.match(v)
    if m:
        if m.group(3):
            d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            y = y + 1900 if y < 100 else y
        else:
            y, mo, d = int(m.group(4)), int(m.group(5)), int(m.group(6))
        if 1 <= mo <= 12 and 1 <= d <= 31 or 1 <= d <= 12 and 1 <= mo <= 31:
            return y
        return None
    if _YEAR.match(v):
        return int(v)
    return None


@functools.cache
def _enum_forms(enum: str) -> frozenset[str]:
    from campaign.domain.standardize.codes import _enum_table

    return frozenset(_enum_table(enum))


def _fold(v: str) -> str:
    from campaign.domain.text import fold

    return fold(v)


def _share(values: Sequence[str], test: Callable[[str], bool]) -> float:
    if not values:
        return 0.0
    return sum(1 for v in values if test(v)) / len(values)


def fit(col: ColumnSpec, values: Sequence[str], hints: ContentHints, *, strict: bool = False) -> float:
    """The share of `values` that look like field `col` (0 when the field has no recognisable content).
    `strict`: for a column with no heading to go by, bare small numbers say nothing."""
    if not values:
        return 0.0
    t = col.type
    if t == "id_number":   # not numbers that may as well be phones (a 9-digit mobile whose 0 Excel dropped)
        return _share(values, lambda v: bool(_ID.match(_digits(v))) and not _PHONE.match(_digits(v)))
    if t == "phone":
        return _share(values, lambda v: bool(_PHONE.match(_digits(v))))
    if t == "insurance_number":
        return _share(values, lambda v: bool(_INSURANCE.match(_digits(v))))
    if t == "date":
        years = [_is_date(v) for v in values]
        share = sum(y is not None for y in years) / len(values)
        if col.name == "birth_date":        # birth dates lie well before the campaign
            this_year = (hints.today or dt.date.today()).year
            share = sum(y is not None and 1900 <= y <= this_year - 12 for y in years) / len(values)
        return share
    if t == "enum" and col.enum:
        forms = _enum_forms(col.enum)
        return _share(values, lambda v: _fold(v) in forms)
    if col.name == "priority_group":
        from campaign.domain.standardize.codes import priority_group_of

        def group(v: str) -> bool:
            g = priority_group_of(v)   # read as the standardizer reads it
            # an unknown heading over bare 1..16 may be ages, house numbers, doses: only "Nhóm 9" / "N9" says
            return g is not None and 1 <= g <= 16 and not (strict and _BARE_NUMBER.match(v.strip()))
        return _share(values, group)
    if t == "facility_code":
        if hints.facility_codes:
            return _share(values, lambda v: v.strip().upper() in hints.facility_codes)
        return _share(values, lambda v: bool(_FACILITY.match(v.strip().upper())))
    if col.name == "commune_name" and hints.is_commune is not None:
        return _share(values, hints.is_commune)
    return 0.0


def has_profile(col: ColumnSpec, hints: ContentHints) -> bool:
    """Whether the cells of field `col` can be recognised at all (IDs, phones, dates, list options...)."""
    return (col.type in ("id_number", "phone", "insurance_number", "date", "facility_code")
            or (col.type == "enum" and col.enum is not None) or col.name == "priority_group"
            or (col.name == "commune_name" and hints.is_commune is not None))


def choose_among(spec: KindSpec, fields: Sequence[str], values: Sequence[str], hints: ContentHints) -> str | None:
    """Of the fields a heading fits equally ("ĐT"), the one the cells fit clearly, or None."""
    scores = sorted(((fit(spec.column(f), values, hints), f) for f in fields), reverse=True)
    if not scores or scores[0][0] < MIN_FIT * 0.7:
        return None
    if len(scores) > 1 and scores[0][0] - scores[1][0] < CLEAR_MARGIN:
        return None
    return scores[0][1]


def guess_unknown(spec: KindSpec, free_fields: Sequence[str], columns: dict[int, Sequence[str]],
                  hints: ContentHints) -> dict[int, str]:
    """Unknown columns holding data -> the free field each one clearly is ({grid column: field}). A column
    fitting two free fields alike, or a field fitted by two columns alike, is left unread (and reported)."""
    table: dict[int, list[tuple[float, str]]] = {}
    for j, values in columns.items():
        scores = sorted(((fit(spec.column(f), values, hints, strict=True), f) for f in free_fields), reverse=True)
        scores = [s for s in scores if s[0] > 0]
        if scores and scores[0][0] >= MIN_FIT and (len(scores) == 1 or scores[0][0] - scores[1][0] >= CLEAR_MARGIN):
            table[j] = scores
    out: dict[int, str] = {}
    by_field: dict[str, list[tuple[float, int]]] = {}
    for j, scores in table.items():
        by_field.setdefault(scores[0][1], []).append((scores[0][0], j))
    for f, cols in by_field.items():
        cols.sort(reverse=True)
        if len(cols) == 1 or cols[0][0] - cols[1][0] >= CLEAR_MARGIN:
            out[cols[0][1]] = f
    return out


def sample(values: Sequence[object], n: int = SAMPLE) -> list[str]:
    """The first `n` non-empty cells as text."""
    out: list[str] = []
    for v in values:
        if v is None:
            continue
        s = str(v).strip()
        if s:
            out.append(s)
            if len(out) >= n:
                break
    return out
