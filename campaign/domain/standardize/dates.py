"""Dates and datetimes from district files.

Accepted (per distinct value, then mapped back to the rows):
- ISO `yyyy-mm-dd` (also `/` or `.`), with an optional time and offset;
- day first `dd/mm/yyyy`, `d/m/yyyy`, `dd-mm-yyyy`, `dd.mm.yyyy`, 2-digit years (birth dates: the latest
  century not in the future; other dates: the year nearest to `today`), English month names (`04-Mar-1990`), and
  `ngày 4 tháng 3 năm 1990`; an optional time before or after (`08:30`, `8h30`, `8:30 PM`);
- Excel serial numbers (1 .. 99999, with a fraction for the time of day): `date_from_serial` (repair).
  Excel's 1900 leap-year bug is honoured: serial 60 is the non-existent 29/02/1900 (invalid), serials
  from 61 on count from 30/12/1899, serials 1-59 from 31/12/1899;
- a year alone (`1985`): birth dates -> 01/01/1985 + `dob_year_only` (warning); other dates: invalid.

Birth dates (`role="birth"`): a day and month both <= 12 and different are read as dd/mm and flagged
`dob_day_month_ambiguous` (warning) unless the column proves it writes the day first in that value's
style, zero-padded or not (see `parse_dates`); an impossible date (31/02), one before 1900 or after
`today`: `dob_invalid` (row); missing: `dob_missing`. Other dates use `value_missing` / `value_invalid`.

Dates come back as `datetime64[ns]` at midnight (birth dates are dates, not instants); datetimes as
`datetime64[ns, Asia/Ho_Chi_Minh]` (a value without an offset is local time).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

import numpy as np
import pandas as pd

from ._base import STR, FieldResult, as_str, squash

TZ_NAME = "Asia/Ho_Chi_Minh"
Role = Literal["birth", "other"]

MIN_YEAR = 1900
MAX_YEAR = 2200
SERIAL_MAX = 99_999  # 2173-10-14
_EPOCH_ORD = dt.date(1970, 1, 1).toordinal()
_NS_PER_DAY = 86_400 * 10**9

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}

_TIME = (
    r"(?:(?P<{p}h>\d{{1,2}}):(?P<{p}m>\d{{2}})(?::(?P<{p}s>\d{{2}})(?:[.,](?P<{p}f>\d{{1,9}}))?)?"
    r"|(?P<{p}hh>\d{{1,2}})\s*(?:h|g|gio)\s*(?P<{p}mm>\d{{2}})?(?:\s*(?:p|phut))?)"
    r"(?:\s*(?P<{p}ap>am|pm|sa|ch|sang|chieu|toi))?"
)
_DATE = (
    r"(?:(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})"
    r"|(?P<dd>\d{1,2})\s*[-/.]\s*(?P<dm>\d{1,2})\s*[-/.]\s*(?P<dy>\d{4}|\d{2})"
    r"|(?P<nd>\d{1,2})[-/. ](?P<nm>[a-z]{3,9})\.?[-/. ,]+(?P<ny>\d{4}|\d{2})"
    r"|(?:ngay\s*)?(?P<vd>\d{1,2})\s*thang\s*(?P<vm>\d{1,2})\s*nam\s*(?P<vy>\d{4}))"
)
_FULL = re.compile(
    r"^(?:"
    + _TIME.format(p="a")
    + r"[\s,]+)?"
    + _DATE
    + r"(?:(?:\s*t\s*|[\s,]+|\s*-\s*)"
    + _TIME.format(p="b")
    + r")?"
    + r"\s*(?P<tz>z|utc|gmt|[+-]\d{2}:?\d{2})?$"
)
_NUMBER = re.compile(r"^(\d{1,6})(?:[.,](\d+))?$")
_FOLD = str.maketrans(
    "àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ",
    "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd",
)

# outcome of one distinct value: (ns since epoch as local wall time or None, offset minutes or None, code)
_Parsed = tuple[int | None, int | None, str | None]


def _fold_date_text(text: str) -> str:
    text = squash(text).lower()
    text = text.translate(_FOLD)
    return text


def _serial(number: str, frac: str | None) -> tuple[dt.date, int] | None:
    """Excel serial -> (date, nanoseconds into the day); None when no such date (0, 60, too large)."""
    n = int(number)
    if n < 1 or n > SERIAL_MAX or n == 60:
        return None
    base = dt.date(1899, 12, 31) if n < 60 else dt.date(1899, 12, 30)
    day = base + dt.timedelta(days=n)
    ns = 0
    if frac:
        ns = int(round(float("0." + frac) * 86_400)) * 10**9  # to the second
        if ns >= _NS_PER_DAY:
            day, ns = day + dt.timedelta(days=1), 0
    return day, ns


def _time_ns(g: dict[str, str | None], p: str) -> int | None:
    """Nanoseconds into the day of time group `p` (0 when absent); None when impossible."""
    if g.get(p + "h") is not None:
        h, m = int(g[p + "h"]), int(g[p + "m"])
        s = int(g[p + "s"]) if g.get(p + "s") else 0
        frac = g.get(p + "f")
    elif g.get(p + "hh") is not None:
        h, m, s, frac = int(g[p + "hh"]), int(g[p + "mm"] or 0), 0, None
    else:
        return 0
    ap = g.get(p + "ap")
    if ap:
        if h < 1 or h > 12:
            return None
        if ap in ("pm", "ch", "chieu", "toi") and h != 12:
            h += 12
        elif ap in ("am", "sa", "sang") and h == 12:
            h = 0
    if h > 23 or m > 59 or s > 59:
        return None
    ns = ((h * 60 + m) * 60 + s) * 10**9
    if frac:
        ns += int(frac[:9].ljust(9, "0"))
    return ns


def _year2(yy: int, role: Role, today: dt.date) -> int:
    if role == "birth":  # the latest century that is not in the future
        return 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    return min((1900 + yy, 2000 + yy, 2100 + yy), key=lambda y: abs(y - today.year))  # nearest to today


def _parse_one(text: str, role: Role, today: dt.date) -> _Parsed:
    """One distinct cell -> (local ns or None, offset minutes or None, reason code or None)."""
    invalid: _Parsed = (None, None, "dob_invalid" if role == "birth" else "value_invalid")
    t = _fold_date_text(text)
    if not t:
        return (None, None, "missing")
    code: str | None = None
    num = _NUMBER.match(t)
    if num:
        whole, frac = num.group(1), num.group(2)
        if frac is not None and frac.strip("0") == "":
            frac = None
        if len(whole) == 4 and frac is None and 1800 <= int(whole) <= MAX_YEAR:
            if role != "birth":
                return invalid
            day, ns, code = dt.date(int(whole), 1, 1), 0, "dob_year_only"
        else:
            got = _serial(whole, frac)
            if got is None:
                return invalid
            (day, ns), code = got, "date_from_serial"
        offset = None
    else:
        m = _FULL.match(t)
        if not m:
            return invalid
        g = m.groupdict()
        try:
            if g["iy"] is not None:
                y, mo, d = int(g["iy"]), int(g["im"]), int(g["id"])
            elif g["dd"] is not None:
                d, mo, ys = int(g["dd"]), int(g["dm"]), g["dy"]
                y = _year2(int(ys), role, today) if len(ys) == 2 else int(ys)
                if role == "birth" and d <= 12 and mo <= 12 and d != mo:
                    code = "dob_day_month_ambiguous"
            elif g["nd"] is not None:
                mo = _MONTHS.get(g["nm"], 0)
                d, ys = int(g["nd"]), g["ny"]
                y = _year2(int(ys), role, today) if len(ys) == 2 else int(ys)
            else:
                d, mo, y = int(g["vd"]), int(g["vm"]), int(g["vy"])
            day = dt.date(y, mo, d)
        except ValueError:
            return invalid
        if g.get("ah") is not None or g.get("ahh") is not None:
            if g.get("bh") is not None or g.get("bhh") is not None:
                return invalid  # two times
            ns = _time_ns(g, "a")
        else:
            ns = _time_ns(g, "b")
        if ns is None:
            return invalid
        offset = _offset_minutes(g.get("tz"))
    if day.year < MIN_YEAR or day.year > MAX_YEAR:
        return invalid
    if role == "birth" and day > today:
        return invalid
    return ((day.toordinal() - _EPOCH_ORD) * _NS_PER_DAY + ns, offset, code)


def _offset_minutes(tz: str | None) -> int | None:
    if tz is None:
        return None
    if tz in ("z", "utc", "gmt"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:]))


def _fast_parse(
    uniques: pd.Index, role: Role, today: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Vectorised parse of the common shapes among the distinct cells: `dd/mm/yyyy` (also `-` or `.`),
    `yyyy-mm-dd`, and Excel serials of 1-5 digits (not a plausible year). Returns (handled, ns, ok,
    reason) per distinct value; the others go to `_parse_one`. Same rules, same results."""
    m = len(uniques)
    if m == 0:
        return None
    arr = np.asarray(uniques, dtype=object).astype("U11")
    v = arr.view(np.uint32).reshape(m, 11).astype(np.int64)
    digit = (v >= 48) & (v <= 57)
    dv = np.where(digit, v - 48, 0)
    length = np.count_nonzero(v, axis=1)
    ten = (length == 10) & (v[:, 10] == 0)
    sep2, sep5 = v[:, 2], v[:, 5]
    dmy = ten & digit[:, [0, 1, 3, 4, 6, 7, 8, 9]].all(axis=1) & np.isin(sep2, [47, 45, 46]) & (sep2 == sep5)
    iso = ten & digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (v[:, 4] == 45) & (v[:, 7] == 45)
    day = np.where(dmy, dv[:, 0] * 10 + dv[:, 1], dv[:, 8] * 10 + dv[:, 9])
    month = np.where(dmy, dv[:, 3] * 10 + dv[:, 4], dv[:, 5] * 10 + dv[:, 6])
    year = np.where(
        dmy,
        dv[:, 6] * 1000 + dv[:, 7] * 100 + dv[:, 8] * 10 + dv[:, 9],
        dv[:, 0] * 1000 + dv[:, 1] * 100 + dv[:, 2] * 10 + dv[:, 3],
    )
    # Excel serials: 1-5 ASCII digits, not a 4-digit number that reads as a year (that goes to Python)
    all_digits = (digit | (v == 0)).all(axis=1) & (length >= 1) & (length <= 5)
    number = np.zeros(m, dtype=np.int64)
    for j in range(5):
        number = np.where(j < length, number * 10 + dv[:, j], number)
    yearish = (length == 4) & (number >= 1800) & (number <= MAX_YEAR)
    serial = all_digits & ~yearish
    handled = dmy | iso | serial

    ymd = dmy | iso
    month_ok = ymd & (month >= 1) & (month <= 12) & (day >= 1) & (year >= MIN_YEAR) & (year <= MAX_YEAR)
    months = np.where(month_ok, (year - 1970) * 12 + (month - 1), 0).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    days_in = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    date_ok = month_ok & (day <= days_in)
    days = np.where(date_ok, first.astype(np.int64) + day - 1, 0)
    serial_ok = serial & (number >= 1) & (number <= SERIAL_MAX) & (number != 60)
    base = np.where(number < 60, -25568, -25569)  # 1899-12-31 / 1899-12-30 as days since 1970-01-01
    days = np.where(serial_ok, base + number, days)
    ok = date_ok | serial_ok
    last = (
        (today.toordinal() - _EPOCH_ORD)
        if role == "birth"
        else (dt.date(MAX_YEAR, 12, 31).toordinal() - _EPOCH_ORD)
    )
    first_ok = dt.date(MIN_YEAR, 1, 1).toordinal() - _EPOCH_ORD
    ok &= (days >= first_ok) & (days <= last)
    reason = np.full(m, np.nan, dtype=object)
    reason[serial_ok & ok] = "date_from_serial"
    if role == "birth":
        ambiguous = dmy & ok & (day <= 12) & (month <= 12) & (day != month)
        reason[ambiguous] = "dob_day_month_ambiguous"
    reason[handled & ~ok] = "dob_invalid" if role == "birth" else "value_invalid"
    return handled, days * _NS_PER_DAY, ok, reason


_DMY_PARTS = re.compile(r"^\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(?:\d{4}|\d{2})(?:\D|$)")


def _day_first_proven(uniques: pd.Index) -> np.ndarray:
    """Per distinct value: whether the column proves that the way this value is written puts the day
    first, as the template asks. A writing style (zero-padded `dd/mm` or not) is proven when some value
    in that style has a first part that can only be a day (13-31), and no value of the column has a
    second part that can only be a day. The styles are judged apart: a column of `25/07/1980` proves
    nothing about a lone `7/5/1980`, which is how an m/d locale writes 5 July."""
    parts = pd.Series(np.asarray(uniques, dtype=object), dtype=STR).str.extract(_DMY_PARTS)
    first = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    second = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    padded = (parts[0].str.len().eq(2) & parts[1].str.len().eq(2)).to_numpy(dtype=bool)
    day_first = (first > 12) & (first <= 31) & (second >= 1) & (second <= 12)
    month_first = ((second > 12) & (second <= 31) & (first >= 1) & (first <= 12)).any()
    if month_first:
        return np.zeros(len(first), dtype=bool)
    return np.where(padded, day_first[padded].any(), day_first[~padded].any())


def _parse_column(
    series: pd.Series, role: Role, today: dt.date, *, day_month_evidence: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """-> (ns int64, has value, offset minutes (int, NaN-free; with has-offset mask), reason object)."""
    s = as_str(series)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    m = len(uniques)
    ns_u = np.zeros(m + 1, dtype=np.int64)
    ok_u = np.zeros(m + 1, dtype=bool)
    off_u = np.full(m + 1, np.iinfo(np.int64).min, dtype=np.int64)
    reason_u = np.full(m + 1, "missing", dtype=object)
    fast = _fast_parse(uniques, role, today)
    if fast is not None:
        handled, f_ns, f_ok, f_reason = fast
        ns_u[:m][handled] = f_ns[handled]
        ok_u[:m][handled] = f_ok[handled]
        reason_u[:m][handled] = f_reason[handled]
        todo = np.flatnonzero(~handled)
    else:
        todo = range(m)
    for i in todo:
        u = uniques[i]
        ns, off, code = _parse_one(u, role, today)
        if ns is not None:
            ns_u[i], ok_u[i] = ns, True
            if off is not None:
                off_u[i] = off
        reason_u[i] = code if code is not None else np.nan
    if day_month_evidence and role == "birth":
        ambiguous = reason_u[:m] == "dob_day_month_ambiguous"
        if ambiguous.any():
            reason_u[:m][ambiguous & _day_first_proven(uniques)] = np.nan
    pos = np.where(codes < 0, m, codes)
    return ns_u[pos], ok_u[pos], off_u[pos], reason_u[pos]


def _finish_reasons(reason: np.ndarray, *, role: Role, required: bool) -> np.ndarray:
    missing = reason == "missing"
    reason = reason.copy()
    reason[missing] = ("dob_missing" if role == "birth" else "value_missing") if required else np.nan
    return reason


def parse_dates(
    series: pd.Series,
    *,
    role: Role = "other",
    today: dt.date | None = None,
    required: bool = True,
    day_month_evidence: bool = True,
) -> FieldResult:
    """Date cells -> `datetime64[ns]` (midnight) + reason per row (see module doc).

    `today` bounds birth dates (a birth date after it is `dob_invalid`) and pivots 2-digit birth years;
    it defaults to the real date.

    `day_month_evidence`: a birth date like 03/04/1990 is flagged `dob_day_month_ambiguous` unless the
    column itself proves it writes the day first (some value of the same style, zero-padded or not,
    reads 13-31 first; none reads 13-31 second): `25/12/1990` proves `03/04/1990`, not `3/4/1990`.
    Without that, about a third of all birth dates of a clean file would carry the warning. False
    flags every such date.
    """
    today = today or dt.date.today()
    s = as_str(series)
    ns, ok, _off, reason = _parse_column(s, role, today, day_month_evidence=day_month_evidence)
    ns = ns - ns % _NS_PER_DAY  # a date column ignores the time of day
    value = pd.Series(np.where(ok, ns, np.iinfo(np.int64).min).view("datetime64[ns]"), index=s.index)
    reason = _finish_reasons(reason, role=role, required=required)
    return FieldResult(value, pd.Series(reason, index=s.index, dtype=STR))


def parse_datetimes(
    series: pd.Series, *, today: dt.date | None = None, required: bool = True, tz: str = TZ_NAME
) -> FieldResult:
    """Datetime cells -> `datetime64[ns, tz]` + reason per row. A date alone is midnight; a value
    without an offset is wall time in `tz`; serial numbers keep their fraction of a day."""
    today = today or dt.date.today()
    s = as_str(series)
    ns, ok, off, reason = _parse_column(s, "other", today)
    has_off = ok & (off != np.iinfo(np.int64).min)
    naive_ok = ok & ~has_off
    local = pd.Series(np.where(naive_ok, ns, np.iinfo(np.int64).min).view("datetime64[ns]"), index=s.index)
    value = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if has_off.any():
        utc_ns = ns - np.where(has_off, off, 0) * 60 * 10**9
        utc = pd.Series(
            np.where(has_off, utc_ns, np.iinfo(np.int64).min).view("datetime64[ns]"), index=s.index
        )
        value = value.where(~has_off, utc.dt.tz_localize("UTC").dt.tz_convert(tz))
    reason = _finish_reasons(reason, role="other", required=required)
    return FieldResult(value, pd.Series(reason, index=s.index, dtype=STR))


def excel_serial_to_date(serial: int) -> dt.date | None:
    """The calendar date of an Excel (1900 system) serial number; None for 0, 60 (29/02/1900) or beyond."""
    got = _serial(str(int(serial)), None)
    return got[0] if got else None
