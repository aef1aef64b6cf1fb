"""Coded and numeric columns: sex, priority group, enums, yes/no, integers, decimals, facility codes,
administrative codes. Every function works on the distinct values of the column and maps back.

Enums come back as their key in `config/input_kinds.yaml` (`male`, `astrazeneca`, `eligible`...): a cell
matches a key, the label or one of the variants after folding (no diacritics, lower case, punctuation
as spaces). Booleans come back as the nullable `boolean` dtype, integers as `Int64`, decimals as
`float64`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from campaign.config_kinds import EnumValue, load_input_kinds
from campaign.domain.text import fold

from ._base import (
    FLOAT_ARTIFACT,
    FieldResult,
    as_str,
    bounded,
    distinct_str_field,
    map_distinct,
    reason_series,
    squash,
    take_reasons,
)

INT64_MAX = 2**63 - 1


# ---------------------------------------------------------------------------------------------------------
# Enums
# ---------------------------------------------------------------------------------------------------------


def _enum_key_text(text: str) -> str:
    text = squash(text)
    m = FLOAT_ARTIFACT.match(text)
    if m:
        text = m.group(1)
    return fold(text)


@functools.cache
def _enum_table(enum_name: str) -> dict[str, str]:
    return enum_table(load_input_kinds().enums[enum_name])


def enum_table(values: Mapping[str, EnumValue]) -> dict[str, str]:
    """Folded key / label / variant -> enum key; a form claimed by two keys is dropped (ambiguous)."""
    table: dict[str, str] = {}
    clash: set[str] = set()
    for key, ev in values.items():
        for form in (key, key.replace("_", " "), ev.label, *ev.variants):
            f = _enum_key_text(form)
            if not f:
                continue
            if f in table and table[f] != key:
                clash.add(f)
            table[f] = key
    for f in clash:
        del table[f]
    return table


@functools.cache
def _enum_words(enum_name: str) -> tuple[tuple[frozenset[str], str], ...]:
    return enum_words(load_input_kinds().enums[enum_name])


def enum_words(values: Mapping[str, EnumValue]) -> tuple[tuple[frozenset[str], str], ...]:
    """(the words of a key / label / variant, enum key), for matching values by their words."""
    out = []
    for key, ev in values.items():
        for form in (key.replace("_", " "), ev.label, *ev.variants):
            words = frozenset(_enum_key_text(form).split())
            if words:
                out.append((words, key))
    return tuple(out)


def match_enum_words(folded: str, forms: tuple[tuple[frozenset[str], str], ...]) -> str | None:
    """The one option whose words the value holds ("Hướng dẫn đăng ký tiêm chủng" holds "đăng ký tiêm"):
    an option matched only by words another matched option also holds yields ("Hoãn tiêm" is deferred,
    not "tiêm"); None when no option or several fit."""
    value = frozenset(folded.split())
    best: dict[str, frozenset[str]] = {}
    for words, key in forms:
        if words <= value and len(words) > len(best.get(key, ())):
            best[key] = words
    keys = [k for k, w in best.items() if not any(w < w2 for k2, w2 in best.items() if k2 != k)]
    if len(keys) != 1:
        return None
    words = best[keys[0]]
    # a negation the option does not hold turns its meaning ("Không đủ điều kiện tiêm"), and an option
    # must be most of what the cell says ("Báo cáo" is not "báo", "Sputnik Light" not "Sputnik V")
    if (value - words) & NEGATIONS or 2 * len(words) <= len(value):
        return None
    return keys[0]


NEGATIONS = frozenset({"khong", "chua", "ko", "k", "chang", "cha", "not", "no", "non", "phai"})


WORDS_REPAIR = "value_matched_by_words"


def clean_enum(
    series: pd.Series,
    enum: str | Mapping[str, EnumValue],
    *,
    required: bool = False,
    invalid_code: str = "value_invalid",
    missing_code: str = "value_missing",
    max_length: int | None = None,
) -> FieldResult:
    """Enum cells -> enum keys. `enum` is the name of an enum in `input_kinds.yaml` or its values.
    A cell that is no option's key, label or variant but holds the words of exactly one option is that
    option, reported as a repair (`value_matched_by_words`). `max_length`: the storage bound of the key."""
    table = _enum_table(enum) if isinstance(enum, str) else enum_table(enum)
    forms = _enum_words(enum) if isinstance(enum, str) else enum_words(enum)

    def one(text: str) -> tuple[str | None, str | None]:
        f = _enum_key_text(text)
        if not f:
            return None, "missing"
        key = table.get(f)
        if key is not None:
            return key, None
        key = match_enum_words(f, forms)
        return (key, WORDS_REPAIR) if key is not None else (None, invalid_code)

    return _collect(series, bounded(one, max_length), missing_code if required else None)


def clean_sex(series: pd.Series, *, required: bool = True) -> FieldResult:
    """0/1, Nam/Nữ, nam/nu, M/F, male/female... -> `male` / `female`; anything else (and a missing
    required value) is `sex_invalid` (row), which the CCCD may still repair (`sex_from_cccd`)."""
    return clean_enum(
        series, "sex", required=required, invalid_code="sex_invalid", missing_code="sex_invalid"
    )


def clean_booleans(series: pd.Series, *, required: bool = False) -> FieldResult:
    """Yes/no cells (Có/Không, x, 1/0, rồi/chưa... the `yes_no` enum) -> nullable boolean."""
    r = clean_enum(series, "yes_no", required=required)
    value = r.value.map({"yes": True, "no": False}).astype("boolean")
    return FieldResult(value, r.reason)


def _collect(series: pd.Series, fn, missing_code: str | None) -> FieldResult:  # noqa: ANN001
    return distinct_str_field(series, fn, missing_code)


# ---------------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------------

_INT = re.compile(r"^([+-]?)(\d+)(?:\.0{1,2})?$")  # "12.0": a float as text; "1.000" is grouping
_INT_GROUPED = re.compile(r"^([+-]?)(\d{1,3}(?:([ .,'])\d{3})(?:\3\d{3})*)$")
_SCI = re.compile(r"^[+-]?\d+(?:[.,]\d+)?e[+-]?\d{1,3}$", re.IGNORECASE)
_DEC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$|^[+-]?[.,]\d+$")
_DEC_VN = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+,\d+$")  # 1.234,5
_DEC_EN = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")  # 1,234.5 / 1,234,567
_PRIORITY = re.compile(
    r"^(?:(?:ma\s*)?(?:nhom|n|group|g)(?:\s*(?:doi\s*tuong|uu\s*tien))?\s*(?:so\s*)?)?0*(\d{1,3})(?:\s+[^\W\d].*)?$"
)


def _parse_int(text: str) -> int | None:
    t = squash(text).replace("\u00a0", " ")
    m = _INT.match(t)
    if m:
        return int(m.group(1) + m.group(2))
    m = _INT_GROUPED.match(t)
    if m:
        return int(m.group(1) + re.sub(r"\D", "", m.group(2)))
    if _SCI.match(t):
        x = float(t.replace(",", "."))
        if math.isfinite(x) and x == int(x) and abs(x) < 2**53:
            return int(x)
    return None


def _parse_decimal(text: str) -> float | None:
    t = squash(text).replace(" ", "")
    if _DEC.match(t):
        x = float(t.replace(",", "."))
    elif _DEC_VN.match(t):
        x = float(t.replace(".", "").replace(",", "."))
    elif _DEC_EN.match(t):
        x = float(t.replace(",", ""))
    elif _SCI.match(t):
        x = float(t.replace(",", "."))
    else:
        return None
    return x if math.isfinite(x) else None


def _range_code(x: float, lo: float | None, hi: float | None, code: str) -> str | None:
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        return code
    return None


def clean_integers(
    series: pd.Series,
    *,
    required: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> FieldResult:
    """Integer cells ("12", "12.0", "1.000" = 1000, "1E+03") -> Int64. Not an integer: `value_invalid`
    (row); outside [min, max]: `value_out_of_range` (warning, value kept)."""

    def one(text: str) -> tuple[int | None, str | None]:
        if not squash(text):
            return None, "missing"
        x = _parse_int(text)
        if x is None or abs(x) > INT64_MAX:
            return None, "value_invalid"
        return x, _range_code(x, min_value, max_value, "value_out_of_range")

    return _numbers(series, one, required, "Int64")


def clean_decimals(
    series: pd.Series,
    *,
    required: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> FieldResult:
    """Decimal cells ("13.98", "13,98", "1.234,5", "1,234.5") -> float64; see `clean_integers`."""

    def one(text: str) -> tuple[float | None, str | None]:
        if not squash(text):
            return None, "missing"
        x = _parse_decimal(text)
        if x is None:
            return None, "value_invalid"
        return x, _range_code(x, min_value, max_value, "value_out_of_range")

    return _numbers(series, one, required, "float64")


def priority_group_of(text: str) -> int | None:
    """The group number a priority cell names ("9", "09", "9.0", "Nhóm 9", "N9", "9 - Người trên 65 tuổi"),
    or None; the range is the caller's to check."""
    t = squash(text)
    m = FLOAT_ARTIFACT.match(t)
    if m:
        t = m.group(1)
    m = _PRIORITY.match(fold(t))
    return int(m.group(1)) if m else None


def clean_priority_groups(
    series: pd.Series, *, required: bool = True, min_group: int = 1, max_group: int = 16
) -> FieldResult:
    """Priority group cells ("9", "09", "9.0", "Nhóm 9", "N9", "9 - Người trên 65 tuổi") -> Int64 in
    [min_group, max_group]; anything else, or missing when required: `priority_group_invalid` (row)."""

    def one(text: str) -> tuple[int | None, str | None]:
        if not squash(text):
            return None, "missing"
        g = priority_group_of(text)
        if g is None or g < min_group or g > max_group:
            return None, "priority_group_invalid"
        return g, None

    return _numbers(series, one, required, "Int64", missing_code="priority_group_invalid")


def _numbers(series, fn, required: bool, dtype: str, missing_code: str = "value_missing") -> FieldResult:  # noqa: ANN001
    s = as_str(series)
    values, reasons, codes = map_distinct(s, fn)
    missing = missing_code if required else np.nan
    reasons = np.where(reasons == "missing", missing, reasons)
    m = len(values)
    vals = np.zeros(m + 1, dtype=np.int64) if dtype == "Int64" else np.full(m + 1, np.nan, dtype=np.float64)
    ok = np.zeros(m + 1, dtype=bool)
    for i, v in enumerate(values):
        if v is not None:
            vals[i], ok[i] = v, True
    pos = np.where(codes < 0, m, codes)
    if dtype == "Int64":
        value = pd.Series(pd.arrays.IntegerArray(vals[pos], ~ok[pos]), index=s.index)
    else:
        value = pd.Series(np.where(ok[pos], vals[pos], np.nan), index=s.index, dtype="float64")
    return FieldResult(value, reason_series(s.index, take_reasons(reasons, codes, missing=missing)))


# ---------------------------------------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------------------------------------


def normalize_facility_code(text: str) -> str:
    """The comparison form of a facility code: NFC, upper case, no whitespace, no float artifact."""
    t = squash(text)
    m = FLOAT_ARTIFACT.match(t)
    if m:
        t = m.group(1)
    return "".join(t.split()).upper()


def clean_facility_codes(
    series: pd.Series, *, required: bool = True, known: Iterable[str] | None = None,
    max_length: int | None = None,
) -> FieldResult:
    """Facility codes -> upper case without spaces; when `known` codes are given, a code not among them
    is `facility_unknown` (row). Missing and required: `value_missing`; longer than `max_length` (the
    storage bound): `value_too_long`."""
    known_set = {normalize_facility_code(k) for k in known} if known is not None else None

    def one(text: str) -> tuple[str | None, str | None]:
        code = normalize_facility_code(text)
        if not code:
            return None, "missing"
        if any(not ch.isprintable() for ch in code):
            return None, "value_invalid"
        if known_set is not None and code not in known_set:
            return None, "facility_unknown"
        return code, None

    return _collect(series, bounded(one, max_length), "value_missing" if required else None)


ADMIN_CODE_WIDTH = {"province_code": 2, "district_code": 3, "commune_code": 5}


def clean_admin_codes(series: pd.Series, *, width: int | None = None, required: bool = False,
                      max_length: int | None = None) -> FieldResult:
    """GSO codes -> digit strings zero-padded to `width` (2 province, 3 district, 5 commune), restoring
    the zeros Excel drops. Not digits, or longer than `width`: `value_invalid`; longer than `max_length`
    (the storage bound, for a code without a width): `value_too_long`."""
    return _collect(series, bounded(lambda t: clean_code_value(t, width), max_length),
                    "value_missing" if required else None)


def clean_code_value(text: str, width: int | None) -> tuple[str | None, str | None]:
    t = squash(text)
    if not t:
        return None, "missing"
    m = FLOAT_ARTIFACT.match(t)
    if m:
        t = m.group(1)
    t = t.replace(" ", "")
    if not (t.isascii() and t.isdigit()):
        return None, "value_invalid"
    if width is not None:
        if len(t) > width:
            return None, "value_invalid"
        t = t.zfill(width)
    return t, None
