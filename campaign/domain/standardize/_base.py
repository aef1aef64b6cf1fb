"""Shared machinery of the standardizer: the field result, severities, distinct-value mapping and a
numpy character matrix for the high-cardinality digit columns (phones, IDs, insurance numbers).

Every function here is vectorised: per-value Python runs only on the distinct values of a column.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from campaign.config_reasons import load_reasons
from campaign.domain.text import collapse_spaces, nfc

STR = "str"  # pandas 3 default string dtype; missing is NaN

SEVERITY_RANK: dict[str, int] = {"repair": 1, "warning": 2, "row": 3, "blocking": 4}


@dataclass
class FieldResult:
    """The standardized form of one column.

    value   clean typed values (str / Int64 / float / datetime64 / bool), NA where invalid or missing
    reason  one reason code per row (str) or NA: the most severe issue of that field
    """

    value: pd.Series
    reason: pd.Series
    # optional int64 identity of each clean value (-1 where missing), for grouping without hashing
    # a million fresh strings (phones, IDs); not part of the public contract
    key: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.value) != len(self.reason):  # pragma: no cover - programming error
            raise ValueError("value and reason must have the same length")


# ---------------------------------------------------------------------------------------------------------
# Reason codes and severities
# ---------------------------------------------------------------------------------------------------------


def severity_of(code: str) -> str:
    """The catalogue's severity of a reason code (KeyError for a code the catalogue does not know)."""
    return load_reasons().severity(code)


@functools.cache
def _rank_table() -> dict[str, int]:
    cat = load_reasons()
    return {code: SEVERITY_RANK[r.severity] for code, r in cat.reasons.items()}


def rank(reasons: pd.Series) -> np.ndarray:
    """Severity rank per row (0 = no reason). Only the rows with a reason are looked at, and a reason
    column holds a handful of distinct codes: factorize those, rank the distinct codes, take."""
    arr = reasons.to_numpy(dtype=object)
    out = np.zeros(len(arr), dtype=np.int8)
    present = np.flatnonzero(reasons.notna().to_numpy())
    if len(present) == 0:
        return out
    codes, uniques = pd.factorize(arr[present])
    table = _rank_table()
    out[present] = np.array([table.get(u, 0) for u in uniques], dtype=np.int8)[codes]
    return out


def worst(*reasons: pd.Series) -> pd.Series:
    """Row-wise the most severe of several reason series (earlier series win ties)."""
    best = reasons[0].copy()
    best_rank = rank(best)
    for other in reasons[1:]:
        r = rank(other)
        take = r > best_rank
        if take.any():
            best = best.where(~take, other)
            best_rank = np.where(take, r, best_rank)
    return best


def reason_series(index: pd.Index, codes: np.ndarray | None = None) -> pd.Series:
    """A reason series on `index`: from an object array of codes/None, or all NA."""
    if codes is None:
        return pd.Series(np.nan, index=index, dtype=STR)
    return pd.Series(codes, index=index, dtype=STR)


# ---------------------------------------------------------------------------------------------------------
# Input coercion
# ---------------------------------------------------------------------------------------------------------


def as_str(series: pd.Series | Iterable[Any]) -> pd.Series:
    """The column as the pandas `str` dtype (None/NaN/NA -> NaN; non-strings -> their str())."""
    if not isinstance(series, pd.Series):
        series = pd.Series(list(series), dtype=object)
    if series.dtype == STR:
        return series
    if series.dtype == object:
        try:
            return series.astype(STR)  # None / NaN / NA / NaT -> NaN, others -> str()
        except Exception:  # a hostile object: fall back to one value at a time
            pass
        values = series.to_numpy(dtype=object)
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
                out[i] = np.nan
            elif isinstance(v, str):
                out[i] = v
            else:
                try:
                    out[i] = str(v)
                except Exception:
                    out[i] = np.nan
        return pd.Series(out, index=series.index, dtype=STR)
    return series.astype(STR)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"), None)


def strip_invisible(text: str) -> str:
    return text.translate(_INVISIBLE)


# ---------------------------------------------------------------------------------------------------------
# Distinct-value mapping
# ---------------------------------------------------------------------------------------------------------


def map_distinct(
    series: pd.Series, fn: Callable[[str], tuple[Hashable, str | None]]
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Apply `fn(text) -> (value, reason)` once per distinct non-missing value.

    Returns (values of the distinct values, reasons of the distinct values as object array, codes per
    row: -1 for missing).
    """
    s = as_str(series)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values: list[Any] = []
    reasons = np.empty(len(uniques), dtype=object)
    for i, u in enumerate(uniques):
        v, r = fn(u)
        values.append(v)
        reasons[i] = r if r is not None else np.nan
    return values, reasons, codes


TOO_LONG = "value_too_long"


def bounded(fn: Callable[[str], tuple[Any, str | None]], max_length: int | None
            ) -> Callable[[str], tuple[Any, str | None]]:
    """`fn` whose clean text longer than `max_length` (the column's storage bound) is refused as
    `value_too_long`: checked once per distinct value, never by a pass over every row."""
    if max_length is None:
        return fn

    def one(text: str) -> tuple[Any, str | None]:
        value, reason = fn(text)
        if isinstance(value, str) and len(value) > max_length:
            return None, TOO_LONG
        return value, reason

    return one


def distinct_str_field(
    series: pd.Series, fn: Callable[[str], tuple[str | None, str | None]], missing_code: str | None
) -> FieldResult:
    """A string field computed once per distinct cell by `fn(text) -> (clean or None, reason or None)`;
    `fn` returns the reason "missing" for a blank cell, reported as `missing_code` (or nothing).
    The result carries a key (ids of the distinct clean values) for grouping."""
    s = as_str(series)
    values, reasons, codes = map_distinct(s, fn)
    missing = missing_code if missing_code else np.nan
    reasons = np.where(reasons == "missing", missing, reasons)
    value = pd.Series(take_str_values(values, codes), index=s.index, dtype=STR)
    reason = reason_series(s.index, take_reasons(reasons, codes, missing=missing))
    key_u, _ = pd.factorize(pd.Series(values, dtype=STR), use_na_sentinel=True)
    key_u = np.append(key_u.astype(np.int64), -1)
    key = key_u[np.where(codes < 0, len(values), codes)]
    return FieldResult(value, reason, key=key)


def take_reasons(reasons_u: np.ndarray, codes: np.ndarray, missing: Any = np.nan) -> np.ndarray | None:
    """Per-row reasons from the distinct values' reasons; None when there is nothing to report (the
    caller then builds an all-NA series cheaply)."""
    has_missing = not pd.isna(missing) and bool((codes < 0).any())
    if not has_missing and bool(pd.isna(reasons_u).all()):
        return None
    out = np.empty(len(codes), dtype=object)
    if len(reasons_u):
        out[:] = reasons_u[np.maximum(codes, 0)]
    out[codes < 0] = missing
    return out


def take_str_values(values_u: list[str | None], codes: np.ndarray) -> np.ndarray:
    arr = np.array([np.nan if v is None else v for v in values_u] + [np.nan], dtype=object)
    return arr[np.where(codes < 0, len(values_u), codes)]


# ---------------------------------------------------------------------------------------------------------
# Character matrix (numpy) for digit-like columns
# ---------------------------------------------------------------------------------------------------------


@dataclass
class CharMatrix:
    """The characters of each cell in a fixed-width matrix, for numpy work on digit-like columns.

    ASCII cells (nearly all of them) are held as bytes (`codes`, uint8: a quarter of the memory of
    UCS-4, and the numpy passes are that much cheaper); the few cells with other characters are `wide`
    and their code points are in `wide_codes` (rows `wide_rows`). Cells longer than the width are
    stripped of surrounding whitespace (only those: the common case costs no Python string
    operation); if still longer, `too_long` is set and the tail is cut.
    """

    codes: np.ndarray  # (n, width) uint8, 0 = padding; zero for wide rows
    length: np.ndarray  # (n,) true length of the cell (after stripping, for the long ones)
    missing: np.ndarray  # (n,) bool: NA or empty
    wide_rows: np.ndarray  # (k,) row numbers of the cells with non-ASCII characters
    wide_codes: np.ndarray  # (k, width) uint32 code points of those cells

    @property
    def too_long(self) -> np.ndarray:
        return self.length > self.codes.shape[1]

    @property
    def wide(self) -> np.ndarray:
        mask = np.zeros(len(self.length), dtype=bool)
        mask[self.wide_rows] = True
        return mask

    def code_points(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), width) uint32 code points of the given rows (ASCII or wide)."""
        out = self.codes[rows].astype(np.uint32)
        if len(self.wide_rows):
            pos = np.searchsorted(self.wide_rows, rows)
            pos = np.minimum(pos, len(self.wide_rows) - 1)
            hit = self.wide_rows[pos] == rows
            out[hit] = self.wide_codes[pos[hit]]
        return out


def char_matrix(series: pd.Series, width: int) -> CharMatrix:
    s = as_str(series)
    n = len(s)
    w1 = width + 1  # one spare column tells the cells longer than `width`
    obj = s.to_numpy(dtype=object, na_value="")
    try:
        b = obj.astype(f"S{w1}")
        wide_rows = np.zeros(0, dtype=np.int64)
    except UnicodeEncodeError:
        ascii_rows = np.fromiter((x.isascii() for x in obj), dtype=bool, count=n)
        b = np.zeros(n, dtype=f"S{w1}")
        b[ascii_rows] = obj[ascii_rows].astype(f"S{w1}")
        wide_rows = np.flatnonzero(~ascii_rows)
    length = np.char.str_len(b).astype(np.int64)
    codes = b.view(np.uint8).reshape(n, w1)[:, :width] if n else np.zeros((0, width), dtype=np.uint8)
    wide_codes = np.zeros((len(wide_rows), width), dtype=np.uint32)
    if len(wide_rows):
        u = obj[wide_rows].astype(f"U{w1}")
        length[wide_rows] = np.char.str_len(u)
        wide_codes = u.view(np.uint32).reshape(len(wide_rows), w1)[:, :width].copy()
    long_rows = np.flatnonzero(length > width)
    if len(long_rows):
        stripped = [str(x).strip() for x in obj[long_rows]]
        real = np.array([len(x) for x in stripped], dtype=np.int64)
        redo = np.array(stripped, dtype=f"U{width}")
        redo_codes = redo.view(np.uint32).reshape(len(long_rows), width)
        codes = codes.copy()
        ascii_long = redo_codes.max(axis=1, initial=0) < 128
        codes[long_rows[ascii_long]] = redo_codes[ascii_long].astype(np.uint8)
        length[long_rows] = real
        wide_long = long_rows[~ascii_long]
        if len(wide_long):
            codes[wide_long] = 0
            keep = ~np.isin(wide_rows, wide_long)
            wide_rows = np.concatenate([wide_rows[keep], wide_long])
            wide_codes = np.concatenate([wide_codes[keep], redo_codes[~ascii_long]])
            order = np.argsort(wide_rows, kind="stable")
            wide_rows, wide_codes = wide_rows[order], wide_codes[order]
    return CharMatrix(
        codes=codes, length=length, missing=length == 0, wide_rows=wide_rows, wide_codes=wide_codes
    )


def compact(mask: np.ndarray, codes: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the characters where `mask` (per row, in order), left-aligned into a (n, width) matrix.

    Returns (matrix, count); characters beyond `width` are dropped (count still tells the truth).
    """
    n = codes.shape[0]
    pos = np.cumsum(mask, axis=1, dtype=np.int16) - 1
    count = pos[:, -1].astype(np.int64) + 1 if mask.shape[1] else np.zeros(n, dtype=np.int64)
    keep = mask & (pos < width)
    rows, cols = np.nonzero(keep)
    out = np.zeros((n, width), dtype=np.uint32)
    out[rows, pos[rows, cols]] = codes[rows, cols]
    return out, count


PLUS, APOS, DOT, ZERO = 43, 39, 46, 48
_SPACES = [32, 9, 10, 11, 12, 13, 160, 0x2009, 0x202F, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x3000]
SPACE_LUT = np.zeros(0x10000, dtype=bool)
SPACE_LUT[_SPACES] = True
SEP_LUT = SPACE_LUT.copy()
SEP_LUT[[46, 45, 40, 41, 0x2010, 0x2011, 0x2013]] = True  # . - ( ) and hyphen/dash look-alikes


def lut(table: np.ndarray, v: np.ndarray) -> np.ndarray:
    return table[np.minimum(v, table.size - 1)]


@dataclass
class DigitCells:
    """The digits of each cell, separators dropped (see `extract_digits`)."""

    digits: np.ndarray  # (n, width) int8 digit values, left-aligned, 0-padded
    count: np.ndarray  # (n,) number of digits
    has_plus: np.ndarray  # (n,) a leading "+"
    bad: np.ndarray  # (n,) any other character, or too long
    missing: np.ndarray  # (n,) NA or blank
    simple: np.ndarray  # (n,) the cell is exactly its digits (nothing to drop)


def extract_digits(series: pd.Series, width: int, *, allow_plus: bool) -> DigitCells:
    """Digits of each cell; spaces, dots, dashes, parentheses, a leading Excel apostrophe and (when
    allowed) one leading "+" are separators; anything else makes the cell `bad`; full-width digits
    count as digits; a trailing ".0" (a float rendered as text, "912345678.0") is dropped.

    Fast path: cells made only of ASCII digits need no compaction (the usual case).
    """
    cm = char_matrix(series, width)
    v = cm.codes
    n = v.shape[0]
    digits = v - np.uint8(48)  # unsigned wrap-around: digits are 0..9, all else >= 10
    is_digit = digits < 10
    n_digit = np.count_nonzero(is_digit, axis=1)
    simple = (n_digit == cm.length) & ~cm.too_long
    simple[cm.wide_rows] = False
    digits *= is_digit
    digits = digits.view(np.int8)
    count = n_digit.astype(np.int64)
    has_plus = np.zeros(n, dtype=bool)
    bad = cm.too_long.copy()
    missing = cm.missing.copy()
    rest = np.flatnonzero(~simple & ~missing)
    if len(rest):
        w = cm.code_points(rest)
        fw = (w >= 0xFF10) & (w <= 0xFF19)  # full-width digits -> ASCII
        w[fw] -= 0xFF10 - ZERO
        r_digit = (w - np.uint32(48)) < 10
        r_pad = np.arange(width)[None, :] >= cm.length[rest][:, None]
        r_space = lut(SPACE_LUT, w)
        content = ~r_pad & ~r_space
        r_blank = ~content.any(axis=1) & ~cm.too_long[rest]
        marks = np.cumsum(r_digit | (w == PLUS) | (w == APOS), axis=1, dtype=np.int16)
        apos_ok = (w == APOS) & (marks == 1) & (np.cumsum(w == APOS, axis=1, dtype=np.int16) == 1)
        if allow_plus:
            plus = w == PLUS
            plus_ok = (
                plus & (np.cumsum(r_digit, axis=1, dtype=np.int16) == 0) & (plus.sum(axis=1) == 1)[:, None]
            )
        else:
            plus_ok = np.zeros_like(r_digit)
        junk = ~(r_digit | lut(SEP_LUT, w) | r_pad | apos_ok | plus_ok)
        rows = np.arange(len(rest))
        last = (width - 1) - np.argmax(content[:, ::-1], axis=1)
        before = np.maximum(last - 1, 0)
        n_nondigit = (content & ~r_digit).sum(axis=1)
        artifact = (last >= 2) & (w[rows, before] == DOT) & (w[rows, last] == ZERO) & (n_nondigit == 1)
        keep = r_digit
        if artifact.any():
            keep = r_digit.copy()
            keep[rows[artifact], last[artifact]] = False
        dm, cnt = compact(keep, w, width)
        digits[rest] = np.where(dm > 0, dm.astype(np.int16) - ZERO, 0).astype(np.int8)
        count[rest] = cnt
        has_plus[rest] = plus_ok.any(axis=1)
        bad[rest] |= junk.any(axis=1)
        missing[rest] |= r_blank | ((cnt == 0) & ~junk.any(axis=1) & ~plus_ok.any(axis=1))  # "-", "."
        bad &= ~missing
    return DigitCells(digits=digits, count=count, has_plus=has_plus, bad=bad, missing=missing, simple=simple)


def shift_left(d: np.ndarray, offset: np.ndarray, width: int) -> np.ndarray:
    """Per row, d[row, offset[row] : offset[row] + width] (zero-padded)."""
    n, w = d.shape
    padded = np.concatenate([d, np.zeros((n, width), dtype=d.dtype)], axis=1)
    values, counts = np.unique(offset, return_counts=True)
    if len(values) == 0:
        return np.zeros((n, width), dtype=d.dtype)
    common = values[np.argmax(counts)]
    out = padded[:, common : common + width].copy()  # the usual offset: one plain slice
    for o in values:
        if o != common:
            m = offset == o
            out[m] = padded[m, o : o + width]
    return out


def digits_int(d: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Integer value of digit columns d[:, start:stop]."""
    val = np.zeros(d.shape[0], dtype=np.int64)
    for j in range(start, stop):
        val = val * 10 + d[:, j]
    return val


def digit_strings(d: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Rows of digit values (int8) -> object array of digit strings of the given lengths."""
    n, width = d.shape
    if n == 0:
        return np.empty(0, dtype=object)
    chars = (d.astype(np.uint32) + ZERO) * (np.arange(width)[None, :] < length[:, None])
    return np.ascontiguousarray(chars).view(f"U{width}").reshape(n).astype(object)


def matrix_to_str(mat: np.ndarray, valid: np.ndarray, index: pd.Index) -> pd.Series:
    """Rows of code points -> a `str` series (NA where not valid)."""
    n, width = mat.shape
    if n == 0:
        return pd.Series([], index=index, dtype=STR)
    arr = np.ascontiguousarray(mat, dtype=np.uint32).view(f"U{width}").reshape(n)
    out = arr.astype(object)
    out[~valid] = np.nan
    return pd.Series(out, index=index, dtype=STR)


# ---------------------------------------------------------------------------------------------------------
# Small text helpers used by several field families
# ---------------------------------------------------------------------------------------------------------


def squash(text: str) -> str:
    """NFC, invisible characters removed, whitespace collapsed and stripped (`campaign.domain.text`)."""
    return collapse_spaces(nfc(strip_invisible(text)))


FLOAT_ARTIFACT = re.compile(r"^([+-]?\d+)\.0{1,2}$")  # "9.0": a number Excel stored as float
