"""Intake, stage 1: read a district file into canonical columns of raw strings.

`read_submission(path, kind, max_bytes=..., max_rows=...)` sniffs the real format from the bytes (xlsx,
xls, CSV/TXT; also xlsb and ods, which python-calamine reads the same way), finds the sheet and the header
row(s) of the kind, maps header cells to the kind's canonical columns (campaign/io/headers.py), drops the
rows that are not data (title, blank, repeated header, column numbering, totals, the notes and signature
block at the bottom: each reported with its row number), repairs legacy-encoded text (TCVN3/VNI, via
campaign.domain.vn_legacy) and returns a `ReadResult`. It never standardizes values: "0912345678",
"12/07/1980" and "Nam" stay strings for the standardizer.

Cells become strings without losing information: integral numbers without ".0", other numbers as Excel
shows them (15 significant digits), date cells as ISO dates, datetime cells as ISO date-times, booleans as
TRUE/FALSE, empty or blank cells as missing. CSV cells are read as strings (leading zeros kept).

A file that cannot be read as this kind raises `ReadError(code, detail_vi)`: `unreadable_file` (empty,
not a spreadsheet, encrypted, corrupt, zip bomb, too large, too many rows, no header), `wrong_kind`
(the header is another kind's: the message names it) or `required_column_missing` (all missing columns,
by their Vietnamese header, in one message).

Hostile files: every sheet is measured from the file's own bytes before a reader builds it
(campaign/io/extent.py): a sheet reaching far beyond what it holds ("trang «DS» kéo dài tới ô
XFD1048576"), a CSV record of thousands of fields and a CSV mixing UTF-8 with another encoding are
refused under `unreadable_file`, each worded by its entry of config/reasons.yaml (`sheet_too_large`,
`csv_too_wide`, `encoding_unreadable`), before anything large is allocated. So is a part the measure finds
damaged, naming what and where (`sheet_damaged`, `file_damaged`: a cell address that is no address, shared
strings announcing billions), and a workbook whose sheets together cost too much (`workbook_too_large`,
`workbook_too_many_sheets`): a candidate sheet keeps only its top rows, the chosen one is built again. A
CSV's row limit is checked while its records are found (lines ended by CR alone count), and the empty
fields padding a record (Excel's export of a sheet once used far to the right) do not make it wide.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import gc
import hashlib
import io
import logging
import math
import re
import sys
import time
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from campaign.config_kinds import InputKinds, KindSpec, load_input_kinds
from campaign.io import columns as readings_of
from campaign.io.columns import ColumnOverride, ColumnReading
from campaign.io.content import ContentHints, choose_among, fit, guess_unknown, has_profile, sample
from campaign.io.extent import (
    DAMAGE,
    EXCEL_COLUMNS,
    HOLLOW_FLOOR,
    MAX_CELLS,
    MAX_SHEETS,
    WORKBOOK_CELLS,
    XLS_COLUMNS,
    XLS_ROWS,
    Extent,
    ods_extents,
    oversized,
    workbook_parts,
    xls_extents,
    xls_sheet_extent,
    xls_sheets,
    xls_stream,
    xlsb_sheet_extent,
    xlsx_shared_strings,
    xlsx_sheet_extent,
)
from campaign.io.headers import (
    DATA,
    EMPTY,
    HEADER_SCAN_ROWS,
    NUMBERING,
    UNMAPPED,
    HeaderColumn,
    HeaderLayout,
    apply_overrides,
    detect_header,
    refresh,
    set_column,
)
from campaign.io.heading_words import fold
from campaign.io.sniff import (
    TRIED_ENCODINGS,
    ReadError,
    decode_text,
    mixed_encoding,
    sniff_file,
    unreadable,
    unreadable_because,
    utf8_buffer,
    vi_int,
)

__all__ = ["ReadError", "ReadResult", "read_submission", "SKIP_REASONS", "cell_to_str"]

log = logging.getLogger(__name__)

SKIP_REASONS = ("title", "blank", "header_repeat", "numbering", "totals", "notes")
TEXT_TYPES_FOR_REPAIR = {"text", "enum", "boolean"}
ROW_LIMIT_SLACK = 1.05  # before reading a whole sheet: refuse early only when far above max_rows

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# ---------------------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ReadResult:
    """One read file. `frame`, `row_numbers`, `original_rows` and `numeric_cells` are aligned (row i)."""

    kind: str
    frame: pd.DataFrame                       # canonical columns found, dtype "string", missing = <NA>
    row_numbers: np.ndarray                   # int64, the row as Excel shows it (CSV: line where the record starts)
    sheet: str                                # sheet name ("" for CSV)
    header_rows: list[int]                    # 1-based
    column_headers: dict[str, str]            # canonical -> the district's header text
    unmapped_headers: list[str]               # header texts that map to no column (kept in original_rows)
    skipped_rows: list[tuple[int, str]]       # (row number, reason in SKIP_REASONS)
    reencoded: pd.DataFrame                   # row_index, row_number, column, original, repaired, encoding
    encoding: str | None                      # CSV: utf-8 | utf-8-sig | utf-16 | cp1258 | cp1252; else None
    file_format: str                          # xlsx | xls | csv (| xlsb | ods)
    numeric_cells: dict[str, np.ndarray] = field(default_factory=dict)  # canonical -> bool, typed number cells
    sheet_names: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)             # seconds per stage (sniff, header...)
    column_readings: list[ColumnReading] = field(default_factory=list)  # how every column of the file was read
    formula_cells: dict[str, np.ndarray] = field(default_factory=dict)  # canonical -> bool, formulas without a value
    _original_builder: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    _original: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def original_rows(self) -> pd.DataFrame:
        """The district's cells of each data row as read (before legacy repair), columns = its headers
        (two-row headers as "Mũi 1 - Tên vắc xin", unnamed columns holding data as "Cột K"), dtype "string".
        Built on first use: the quarantine table and the annotated feedback copy need it, the loader not."""
        if self._original is None:
            self._original = self._original_builder() if self._original_builder else pd.DataFrame()
            self._original_builder = None
        return self._original

    @property
    def rows_total(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> dict[str, str]:
        """{heading as written: field} of every column read as a field."""
        return readings_of.columns_used(self.column_readings)

    @property
    def columns_ignored(self) -> list[str]:
        return readings_of.columns_ignored(self.column_readings)

    @property
    def skipped_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _n, why in self.skipped_rows:
            out[why] = out.get(why, 0) + 1
        return out


# ---------------------------------------------------------------------------------------------------------
# Cells -> strings
# ---------------------------------------------------------------------------------------------------------


def _float_str(v: float) -> str | None:
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer():
        if abs(v) < 1e15:
            return str(int(v))
        return str(int(float(f"{v:.15g}")))      # what Excel shows: 15 significant digits
    return f"{v:.15g}"


def _timedelta_str(v: dt.timedelta) -> str:
    total = int(round(v.total_seconds()))
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def cell_to_str(v: Any) -> str | None:
    """One spreadsheet cell as a string, without losing information; None for an empty cell."""
    t = type(v)
    if t is str:
        return v if v else None
    if t is float:
        return _float_str(v)
    if t is bool:
        return "TRUE" if v else "FALSE"
    if t is int:
        return str(v)
    if t is dt.datetime:
        return v.isoformat(timespec="seconds") if v.tzinfo is None else v.replace(tzinfo=None).isoformat(timespec="seconds")
    if t is dt.date:
        return v.isoformat()
    if t is dt.time:
        return v.isoformat(timespec="seconds")
    if t is dt.timedelta:
        return _timedelta_str(v)
    if v is None:
        return None
    if isinstance(v, float):
        return _float_str(float(v))
    s = str(v)
    return s if s else None


_NUMERIC_TYPES = (int, float)


def _present(arr: np.ndarray) -> np.ndarray:
    """Non-missing cells. Invariant of this module: a cell is a str ("" = missing) or None."""
    return arr.astype(bool)


# Legacy text gives itself away in UTF-8 bytes, so one vectorised pass decides whether a column (or a whole
# CSV) can hold any: a Latin-1 character Vietnamese never uses (TCVN3 µ ¸ Þ ©, VNI ø û ï ö ñ), or a vowel
# followed by a VNI tone/hat byte that genuine Vietnamese never has after it ("Nguyeãn", "Thuùy", "Hoaâng").
_VIET_LATIN1 = set("ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý\u00a0")
_EVIDENCE_CHARS = "".join(chr(c) for c in range(0x80, 0x100) if chr(c) not in _VIET_LATIN1)
_GATE_EVIDENCE = np.zeros((2, 256), dtype=bool)       # [lead byte - 0xC2, continuation byte]
for _ch in _EVIDENCE_CHARS:
    _b = _ch.encode("utf-8")
    _GATE_EVIDENCE[_b[0] - 0xC2, _b[1]] = True


def _byte_set(chars: str) -> np.ndarray:
    out = np.zeros(256, dtype=bool)
    for ch in chars:
        out[ch.encode("utf-8")[-1]] = True
    return out


_VNI_AFTER_AE = _byte_set("aAeE")                        # any U+00C0-U+00FF letter after a / e
_VNI_AFTER_O, _VNI_O_MARKS = _byte_set("oO"), _byte_set("ÂâÙùÕõ")
_VNI_AFTER_UY, _VNI_UY_MARKS = _byte_set("uUyY"), _byte_set("ÙùÕõ")


def _legacy_gate(buf: bytes, start: int = 0, chunk: int = 1 << 24) -> bool:
    """Could this UTF-8 text hold TCVN3/VNI cells? False is certain enough to skip the repair."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    pos = start
    while pos < len(arr) - 1:
        part = arr[pos: pos + chunk + 1]
        lead = np.flatnonzero((part[:-1] & 0xFE) == 0xC2)
        if len(lead):
            nxt = part[lead + 1]
            is_c3 = part[lead] == 0xC3
            if _GATE_EVIDENCE[is_c3.astype(np.intp), nxt].any():
                return True
            c3 = lead[is_c3]
            n3 = nxt[is_c3]
            keep = c3 > 0
            prev, n3 = part[c3[keep] - 1], n3[keep]
            if (_VNI_AFTER_AE[prev] | (_VNI_AFTER_O[prev] & _VNI_O_MARKS[n3])
                    | (_VNI_AFTER_UY[prev] & _VNI_UY_MARKS[n3])).any():
                return True
        pos += chunk
    return False


def _format_floats(values: np.ndarray) -> np.ndarray:
    """float64 array -> object array of strings as cell_to_str would give (vectorised for integers)."""
    out = np.empty(len(values), dtype=object)
    finite = np.isfinite(values)
    integral = finite & (np.abs(values) < 1e15)
    integral[integral] = np.floor(values[integral]) == values[integral]
    if integral.any():
        out[integral] = list(map(str, values[integral].astype(np.int64).tolist()))
    rest = ~integral
    if rest.any():
        out[rest] = [_float_str(v) for v in values[rest].tolist()]
    return out


def _convert_numeric(values: Sequence[Any], types: set[type]) -> tuple[np.ndarray, np.ndarray]:
    """A column of numbers, possibly with strings: vectorised (factorised numbers, formatted once)."""
    n = len(values)
    out = np.empty(n, dtype=object)
    if str in types:
        is_num = np.fromiter((type(v) is not str for v in values), dtype=bool, count=n)
        objs = np.empty(n, dtype=object)
        objs[:] = values
        strs = objs[~is_num]
        strs[strs == ""] = None
        out[~is_num] = strs
        nums = np.array(objs[is_num].tolist(), dtype=np.float64)
    else:
        is_num = np.ones(n, dtype=bool)
        nums = np.array(values, dtype=np.float64)
    if len(nums):
        codes, uniques = pd.factorize(nums)
        out[is_num] = _format_floats(np.asarray(uniques, dtype=np.float64))[codes]
    return out, is_num


def _convert_column(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """A column of calamine values -> (object array of str/None, bool mask of typed numeric cells or None,
    whether any cell was text)."""
    arr = np.fromiter(values, dtype=object, count=len(values))
    inferred = pd.api.types.infer_dtype(arr, skipna=False)     # one C-level scan
    if inferred == "string":
        empty = arr == ""
        arr[empty] = None
        return arr, None, not empty.all()
    types = {float} if inferred == "floating" else set(map(type, values))
    if types <= {float, int, str}:
        arr, is_num = _convert_numeric(values, types)
        return arr, is_num, str in types and bool(_present(arr[~is_num]).any())
    numeric = None
    if bool in types and types & {int, float}:   # True == 1 == 1.0: do not factorise these together
        has_text = str in types and any(type(v) is str and v for v in values)
        out = np.array([cell_to_str(v) for v in values], dtype=object)
        numeric = np.fromiter((type(v) in _NUMERIC_TYPES for v in values), dtype=bool, count=len(values))
        return out, numeric, has_text
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    has_text = any(type(u) is str and u for u in uniques)
    conv = np.empty(len(uniques) + 1, dtype=object)
    conv[:-1] = [cell_to_str(v) for v in uniques]
    conv[-1] = None
    out = conv[codes]
    if types & {int, float}:
        is_num = np.zeros(len(uniques) + 1, dtype=bool)
        is_num[:-1] = [type(v) in _NUMERIC_TYPES for v in uniques]
        numeric = is_num[codes]
    return out, numeric, has_text


# ---------------------------------------------------------------------------------------------------------
# Column cleaning: blank cells, NFC, legacy encodings
# ---------------------------------------------------------------------------------------------------------

_BLANK_CELL = re.compile(r"\x00\s+\x00")


@dataclass
class _Prepared:
    """One column after cleaning: `values` (what the district wrote: blank cells None, NFC), `present`,
    `repaired` (legacy text decoded; `values` itself when nothing changed), the changed cells and encodings."""
    values: np.ndarray
    present: np.ndarray
    repaired: np.ndarray
    changed: np.ndarray | None = None
    encodings: dict[str, str] = field(default_factory=dict)


def _prepare_column(arr: np.ndarray, *, check_nfc: bool, check_blank: bool, legacy: bool) -> _Prepared:
    """Whitespace-only cells -> None, text -> NFC, legacy text repaired: one joined scan decides what
    needs doing, so a clean column costs a join and a few C-level searches."""
    present = _present(arr)
    if not (check_nfc or check_blank or legacy):
        return _Prepared(arr, present, arr)
    vals = arr[present]
    if not len(vals):
        return _Prepared(arr, present, arr)
    joined = "\x00".join(vals.tolist())
    ascii_only = joined.isascii()
    need_blank = check_blank and (vals[0].isspace() or vals[-1].isspace() or
                                  _BLANK_CELL.search(joined) is not None)
    need_nfc = check_nfc and not ascii_only and not unicodedata.is_normalized("NFC", joined)
    if need_blank or need_nfc:
        cleaned = []
        for v in vals:
            if need_nfc and not v.isascii():
                v = unicodedata.normalize("NFC", v)
            cleaned.append(None if need_blank and v.isspace() else v)
        arr = arr.copy()
        arr[present] = cleaned
        present = _present(arr)
        vals = arr[present]
        joined = "\x00".join(vals)
    if legacy and not ascii_only and _legacy_gate(joined.encode("utf-8", "surrogatepass")):
        fixed, changed, encs = _repair_values(arr, present)
        if changed is not None:
            return _Prepared(arr, present, fixed, changed, encs)
    return _Prepared(arr, present, arr)


def _vn_legacy():
    try:
        from campaign.domain import vn_legacy  # type: ignore[attr-defined]
    except Exception:
        return None
    return vn_legacy


_GENUINE_UNICODE = re.compile(
    "[^\x00-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e"
    "\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")


def _repair_values(arr: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, str]]:
    """TCVN3/VNI text -> Unicode, through vn_legacy.repair_series on the distinct candidate values.

    Returns (fixed column, mask of changed cells or None, {original value: encoding}). Only values made of
    Windows-1252 characters can be legacy text: the others (ă ơ ư đ ễ ...) are genuine Unicode and are not
    sent to the repair."""
    legacy = _vn_legacy()
    repair = getattr(legacy, "repair_series", None) if legacy else None
    if repair is None:
        return arr, None, {}
    vals = arr[present]
    search = _GENUINE_UNICODE.search
    maybe = np.fromiter((not v.isascii() and search(v) is None for v in vals), dtype=bool, count=len(vals))
    cand = pd.unique(vals[maybe])
    if not len(cand):
        return arr, None, {}
    try:
        fixed, changed = repair(pd.Series(cand, dtype=object))
        changed = np.asarray(pd.Series(changed).fillna(False), dtype=bool)
        fixed = pd.Series(fixed).to_numpy(dtype=object)
    except Exception:  # a repair bug must not make the file unreadable: keep the text as it is
        log.exception("vn_legacy.repair_series failed; text left as read")
        return arr, None, {}
    if not changed.any():
        return arr, None, {}
    lookup = {k: (v if isinstance(v, str) and v else None)
              for k, v in zip(cand[changed], fixed[changed], strict=True)}
    detect = getattr(legacy, "detect_legacy", None)
    encodings = {}
    for k in lookup:
        try:
            encodings[k] = (detect(k) if detect else None) or "legacy"
        except Exception:
            encodings[k] = "legacy"
    out = arr.copy()
    idx = np.flatnonzero(present)[maybe]
    sub = out[idx]
    hit = np.fromiter((v in lookup for v in sub), dtype=bool, count=len(sub))
    out[idx[hit]] = [lookup[v] for v in sub[hit]]
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx[hit]] = True
    return out, mask, encodings


def _repair_cells(cells: list[str]) -> list[str]:
    """Legacy repair of a handful of header cells (same function, one Series)."""
    legacy = _vn_legacy()
    repair = getattr(legacy, "repair_series", None) if legacy else None
    if repair is None or all(c.isascii() for c in cells):
        return cells
    try:
        fixed, changed = repair(pd.Series(cells, dtype=object))
        fixed = pd.Series(fixed).tolist()
        changed = pd.Series(changed).fillna(False).astype(bool).tolist()
    except Exception:
        log.exception("vn_legacy.repair_series failed on header cells")
        return cells
    return [f if ch and isinstance(f, str) else c for c, f, ch in zip(cells, fixed, changed, strict=True)]


# ---------------------------------------------------------------------------------------------------------
# Sheets: a common shape for workbooks and CSV
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Body:
    columns: list[np.ndarray]           # object arrays (str or None), rows after the header
    row_numbers: np.ndarray              # 1-based, aligned with the columns
    numeric: dict[int, np.ndarray]       # grid column -> typed-number mask (workbooks)
    nfc_checked: bool                    # text already NFC (CSV: the whole text was normalised)
    blank_checked: bool                  # whitespace-only cells already None
    legacy_possible: bool | None = None  # False: no character of legacy text anywhere (skip the repair)
    text_columns: set[int] | None = None  # columns holding text cells (None: all); the others are our own
                                          # renderings of numbers and dates, nothing to clean in them


@dataclass
class _SheetCandidate:
    name: str
    top: list[list[str]]                 # the first rows as strings ("" empty), legacy-repaired
    top_row_numbers: list[int]           # 1-based row number of each top row
    merges: list | None
    layouts: _Layouts
    load_body: Callable[[int], _Body]    # rows after grid row index -> body
    total_rows: int                      # rows in the sheet (for the early row limit)
    formulas: bool | None = None         # xlsx: whether the sheet holds a formula (None: not measured)


def _top_strings(rows: list[list[Any]]) -> list[list[str]]:
    """The top rows as strings, cut after the last non-empty column (a stray cell far to the right must not
    make header detection walk thousands of empty columns), legacy text repaired."""
    top = [[cell_to_str(v) or "" for v in r] for r in rows]
    width = max((max((j for j, c in enumerate(r) if c), default=-1) for r in top), default=-1) + 1
    top = [r[:width] for r in top]
    flat = [c for r in top for c in r if c]
    if not flat:
        return top
    fixed = _repair_cells([unicodedata.normalize("NFC", c) for c in flat])
    it = iter(fixed)
    return [[next(it) if c else "" for c in r] for r in top]


class _Layouts:
    """Header layouts of one sheet top, per kind, computed on demand (the other kinds are only needed when
    the requested kind's header is missing or incomplete: wrong-kind detection)."""

    def __init__(self, top: list[list[str]], kinds: InputKinds, merges):
        self.top, self.kinds, self.merges = top, kinds, merges
        self._cache: dict[str, HeaderLayout | None] = {}

    def get(self, kind: str) -> HeaderLayout | None:
        if kind not in self._cache:
            self._cache[kind] = detect_header(self.top, self.kinds.kinds[kind], merges=self.merges)
        return self._cache[kind]

    def items(self):
        return [(name, self.get(name)) for name in self.kinds.kinds]

    def values(self):
        return [lay for _name, lay in self.items()]


def _layouts(top: list[list[str]], kinds: InputKinds, merges) -> _Layouts:
    return _Layouts(top, kinds, merges)


# --- workbooks (python-calamine) ---------------------------------------------------------------------------

def _calamine_error(exc: BaseException) -> ReadError:
    name = type(exc).__name__
    if "Password" in name or "password" in str(exc).lower() or "encrypt" in str(exc).lower():
        return unreadable("tệp Excel có đặt mật khẩu; xin mở tệp, bỏ mật khẩu, lưu lại rồi gửi lại")
    return unreadable("tệp Excel bị hỏng hoặc không đúng định dạng; xin mở bằng Excel, lưu lại rồi gửi lại")


def _damaged(exc: BaseException, sheet: str | None = None) -> ReadError:
    """The refusal of a file the measure found damaged: what and where when it could say (a cell whose
    address is no address, a count its part cannot hold), else the general sentence."""
    what = getattr(exc, "vi", None)
    sheet = sheet or getattr(exc, "sheet", None)
    if not what:
        return _calamine_error(exc)
    if sheet:
        return unreadable_because("sheet_damaged", sheet=sheet, what=what)
    return unreadable_because("file_damaged", what=what)


def _failed(exc: BaseException) -> bool:
    """Is this what calamine raises on a file it cannot read? Its errors, and the Rust panics a damaged
    record sets off (a MERGECELLS record shorter than its count, a BOUNDSHEET pointing past the stream):
    pyo3 raises those as PanicException, a BaseException, which no `except Exception` catches."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _workbook_candidates(path: Path, fmt: str, kinds: InputKinds, sheet_names: list[str], *,
                         max_rows: int | None = None):
    """The sheets of a workbook as candidates, in the order they are tried (visible worksheets first).

    Every sheet is measured before a reader builds it (campaign/io/extent.py), one at a time and the whole
    workbook too: a candidate keeps only its top rows (its grid is built again only if it is chosen), at
    most MAX_SHEETS sheets and WORKBOOK_CELLS cells are built looking for the list, and xls/ods, which
    calamine lays out whole when it opens them, are refused before opening when all their sheets together
    exceed WORKBOOK_CELLS."""
    try:
        import python_calamine as pc
    except ImportError:  # pragma: no cover - a declared dependency
        raise unreadable("máy chủ thiếu thư viện đọc Excel") from None
    if fmt in _LAID_OUT_ON_OPEN:
        # these readers lay out every sheet when the workbook is opened: measure them all first
        _check_laid_out(path, fmt, max_rows)
    elif fmt == "xlsx":
        # calamine reads the shared strings when it opens the workbook, reserving what they announce
        try:
            with zipfile.ZipFile(path) as z:
                xlsx_shared_strings(z)
        except DAMAGE as exc:
            raise _damaged(exc) from None
    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
        metas = list(wb.sheets_metadata)
    except BaseException as exc:
        if not _failed(exc):
            raise
        if fmt == "xls":
            yield from _xlrd_candidates(path, kinds, exc, sheet_names)
            return
        raise _calamine_error(exc) from None
    sheet_names.extend(m.name for m in metas)

    worksheet = getattr(pc.SheetTypeEnum, "WorkSheet", None)
    visible = getattr(pc.SheetVisibleEnum, "Visible", None)
    order = [m for m in metas if (worksheet is None or m.typ == worksheet)]
    order.sort(key=lambda m: 0 if (visible is None or m.visible == visible) else 1)
    built: dict[str, Any] = {}   # the one sheet grid alive: the last built, or the chosen one

    def sheet_of(name: str):
        if name not in built:
            built.clear()            # the previous grid goes before the next is built
            built[name] = wb.get_sheet_by_name(name)
        return built[name]

    def take(name: str):
        sheet = sheet_of(name)
        built.clear()
        return sheet

    first_error: BaseException | None = None
    too_large: ReadError | None = None   # raised only when no other sheet holds the kind
    damaged: ReadError | None = None     # likewise
    yielded = visited = cells_built = 0
    for meta in order:
        visited += 1
        if visited > MAX_SHEETS:
            raise _too_many_sheets(len(order), visited - 1, cells_built)
        formulas = None
        ext: Extent | None = None
        if fmt not in _LAID_OUT_ON_OPEN:
            # built only when asked for: measured just before, from the file's own bytes
            try:
                ext = _sheet_extent(path, fmt, meta.name)
            except DAMAGE as exc:
                first_error = first_error or exc
                if getattr(exc, "vi", None):
                    damaged = damaged or _damaged(exc, meta.name)
                continue
            if (err := _size_refusal(meta.name, ext, max_rows, fmt)) is not None:
                too_large = too_large or err
                continue
            formulas = ext.formulas
        if ext is not None and cells_built + ext.grid > WORKBOOK_CELLS:
            raise _too_many_sheets(len(order), visited - 1, cells_built)
        try:
            sheet = sheet_of(meta.name)
            top_raw = sheet.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS + 1)
            merges = sheet.merged_cell_ranges
            end = sheet.end
        except BaseException as exc:  # one unreadable sheet: try the others, report if none works
            if not _failed(exc):
                raise
            built.clear()
            first_error = first_error or exc
            continue
        del sheet
        top = _top_strings(top_raw)
        total = (end[0] + 1) if end else 0
        width = (end[1] + 1) if end else 0
        cells_built += ext.grid if ext is not None else total * width
        if total * width > MAX_CELLS:   # a backstop: the measure above already said so
            raise unreadable_because("sheet_grid_too_large", sheet=meta.name,
                                     cell=Extent(total, width).corner, rows=_vi_int(total),
                                     columns=_vi_int(width))

        def load(after: int, name=meta.name) -> _Body:
            return _calamine_body(lambda: take(name), after)

        yielded += 1
        yield _SheetCandidate(meta.name, top, list(range(1, len(top) + 1)), merges, _layouts(top, kinds, merges),
                              load, total, formulas)
    built.clear()
    if too_large is not None:
        raise too_large
    if damaged is not None:
        raise damaged
    if first_error is not None and not yielded:
        raise _calamine_error(first_error)
    if first_error is not None:
        log.info("some sheets of %s could not be read: %s", path.name, first_error)


def _too_many_sheets(sheets: int, read: int, cells: int) -> ReadError:
    """The list was not among the sheets read so far, and reading on would cost too much."""
    return unreadable_because("workbook_too_many_sheets", sheets=_vi_int(sheets), read=_vi_int(read),
                              cells=_vi_int(cells), limit_sheets=_vi_int(MAX_SHEETS),
                              limit_cells=_vi_int(WORKBOOK_CELLS))


# --- sheet sizes, from the file's own bytes (campaign/io/extent.py) ------------------------------------

_LAID_OUT_ON_OPEN = ("xls", "ods")


def _size_refusal(sheet: str, ext: Extent, max_rows: int | None, fmt: str = "xlsx") -> ReadError | None:
    """The refusal of a sheet too large to lay out (or holding far too many rows), before it is built."""
    limits = {"row_limit": XLS_ROWS, "column_limit": XLS_COLUMNS} if fmt == "xls" else {}
    if oversized(ext, **limits):
        return unreadable_because("sheet_too_large", sheet=sheet, cell=ext.corner, rows=_vi_int(ext.rows),
                       columns=_vi_int(ext.columns), cells=_vi_int(ext.cells))
    if max_rows is not None and ext.rows - 1 - HEADER_SCAN_ROWS > max_rows * ROW_LIMIT_SLACK + 100:
        return _too_many_rows(ext.rows - 1, max_rows)
    return None


def _check_laid_out(path: Path, fmt: str, max_rows: int | None) -> None:
    """Refuse an xls or ods whose sheets, which the reader lays out all at once when it opens the file, are
    too large one by one or all together."""
    built, others = _all_extents(path, fmt)
    for name, ext in [*built, *others]:
        if (err := _size_refusal(name, ext, max_rows, fmt)) is not None:
            raise err
    total = sum(ext.grid for _name, ext in built)
    if total > WORKBOOK_CELLS:
        raise unreadable_because("workbook_too_large", sheets=_vi_int(len(built)), cells=_vi_int(total),
                                 limit=_vi_int(WORKBOOK_CELLS))


def _file_key(path: Path) -> tuple[str, int, int, bytes]:
    """The file as a cache key: path, size, mtime and a digest of its first and last 64 KB (a zip's
    central directory, at its end, holds every member's CRC: a rewrite within one mtime tick still shows)."""
    st = path.stat()
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
        fh.seek(max(st.st_size - (1 << 16), 0))
        tail = fh.read()
    return str(path), st.st_size, st.st_mtime_ns, hashlib.blake2b(head + tail, digest_size=16).digest()


def _sheet_extent(path: Path, fmt: str, sheet: str) -> Extent:
    return _cached_sheet_extent(_file_key(path), fmt, sheet)


@functools.lru_cache(maxsize=32)
def _cached_sheet_extent(key: tuple[str, int, int, bytes], fmt: str, sheet: str) -> Extent:
    # cached by (path, size, mtime): the feedback reads the same upload again
    with zipfile.ZipFile(key[0]) as z:
        parts = workbook_parts(z, "xl/workbook.bin" if fmt == "xlsb" else "xl/workbook.xml")
        member = parts[sheet]
        if fmt == "xlsb":
            return xlsb_sheet_extent(z.read(member))
        return xlsx_sheet_extent(z, member)


def _all_extents(path: Path, fmt: str) -> tuple[list[tuple[str, Extent]], list[tuple[str, Extent]]]:
    """(the sheets of an xls or ods the reader builds, with their extents; other parts it may read: the
    xls substreams walked from their BOF). A file that cannot be measured is refused as damaged."""
    sheet: str | None = None
    try:
        if fmt == "ods":
            with zipfile.ZipFile(path) as z:
                return ods_extents(z), []
        stream = xls_stream(path)
        built = []
        for sheet, at in xls_sheets(stream):
            built.append((sheet, xls_sheet_extent(stream, at)))
        sheet = None
        names = {at: name for name, at in xls_sheets(stream)}
        # every substream counts, named or not (xlrd reads on past an embedded chart)
        return built, [(names.get(at, "?"), ext) for at, ext in xls_extents(stream).items()]
    except DAMAGE as exc:
        raise _damaged(exc, sheet) from None


def _rows_to_body(rows: list[list[Any]], first_row_number: int) -> _Body:
    widths = set(map(len, rows))
    width = max(widths, default=0)
    if len(widths) > 1:
        rows = [list(r) + [""] * (width - len(r)) for r in rows]
    cols: list[np.ndarray] = []
    numeric: dict[int, np.ndarray] = {}
    text_columns: set[int] = set()
    for j, col in enumerate(zip(*rows, strict=True)) if rows else []:
        arr, num, has_text = _convert_column(col)
        cols.append(arr)
        if num is not None and num.any():
            numeric[j] = num
        if has_text:
            text_columns.add(j)
    row_numbers = np.arange(first_row_number, first_row_number + len(rows), dtype=np.int64)
    return _Body(cols, row_numbers, numeric, nfc_checked=False, blank_checked=False, text_columns=text_columns)


def _calamine_body(take: Callable[[], Any], after: int) -> _Body:
    """The rows after grid row `after` of the sheet `take()` builds (or hands over): the sheet's grid is
    let go as soon as its rows are Python lists."""
    gc_was = gc.isenabled()
    gc.disable()  # millions of small objects: the cyclic GC would walk them for nothing
    try:
        try:
            sheet = take()
            rows = sheet.to_python(skip_empty_area=False)
        except BaseException as exc:
            if not _failed(exc):
                raise
            raise _calamine_error(exc) from None
        del sheet
        data = rows[after:]
        del rows
        return _rows_to_body(data, after + 1)
    finally:
        if gc_was:
            gc.enable()


def _xlrd_candidates(path: Path, kinds: InputKinds, original: BaseException, sheet_names: list[str]):
    """Old .xls files calamine cannot open (BIFF5/Excel 95): xlrd. A candidate keeps its top rows; the
    chosen sheet's rows are read again when its body is loaded."""
    try:
        import xlrd
    except ImportError:  # pragma: no cover
        raise _calamine_error(original) from None
    try:
        # xlrd writes its warnings to stdout by default: `campaign intake --json` prints its answer there
        book = xlrd.open_workbook(str(path), formatting_info=False, on_demand=True, logfile=io.StringIO())
    except Exception as exc:
        raise _calamine_error(exc) from None
    sheet_names.extend(book.sheet_names())

    def value(cell) -> Any:
        if cell.ctype == xlrd.XL_CELL_DATE:
            try:
                d = xlrd.xldate_as_datetime(cell.value, book.datemode)
            except Exception:
                return cell.value
            return d.date() if d.time() == dt.time(0) else d
        if cell.ctype == xlrd.XL_CELL_BOOLEAN:
            return bool(cell.value)
        if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
            return ""
        return cell.value

    def rows_of(idx: int, first: int = 0, stop: int | None = None) -> list[list[Any]]:
        sh = book.sheet_by_index(idx)
        return [[value(c) for c in sh.row(r)] for r in range(first, sh.nrows if stop is None else min(stop, sh.nrows))]

    cells_read = 0
    for idx in range(book.nsheets):
        if idx >= MAX_SHEETS:
            raise _too_many_sheets(book.nsheets, idx, cells_read)
        try:
            sh = book.sheet_by_index(idx)
            top_raw = rows_of(idx, 0, HEADER_SCAN_ROWS + 1)
            total = sh.nrows
            cells_read += total * sh.ncols
        except Exception:
            continue
        top = _top_strings(top_raw)
        merges = [((r0, c0), (r1 - 1, c1 - 1)) for r0, r1, c0, c1 in getattr(sh, "merged_cells", [])] or None
        name = sh.name
        with contextlib.suppress(Exception):
            book.unload_sheet(idx)
        del sh

        def load(after: int, idx=idx) -> _Body:
            return _rows_to_body(rows_of(idx, after), after + 1)

        yield _SheetCandidate(name, top, list(range(1, len(top) + 1)), merges, _layouts(top, kinds, merges),
                              load, total)


# --- CSV ---------------------------------------------------------------------------------------------------

DELIMITERS = (",", ";", "\t", "|")


def _line_ends(arr: np.ndarray, has_cr: bool) -> np.ndarray:
    """Offsets of the bytes that end a line: LF, and a CR not followed by LF (old Mac files end lines with
    CR alone; pandas and the csv module split records there too). `arr` may hold one byte more than the
    caller's part (what follows its last CR)."""
    nl = np.flatnonzero(arr == 10)
    if not has_cr:
        return nl
    crlf = np.count_nonzero(arr[nl[nl > 0] - 1] == 13)
    if np.count_nonzero(arr == 13) == crlf:   # every CR is a CRLF's (Excel's line ends)
        return nl
    cr = np.flatnonzero(arr == 13)
    nxt = np.minimum(cr + 1, len(arr) - 1)
    bare = cr[(cr + 1 >= len(arr)) | (arr[nxt] != 10)]
    ends = np.concatenate((nl, bare))
    ends.sort()
    return ends


class _TooManyRecords(Exception):
    def __init__(self, records: int):
        super().__init__(records)
        self.records = records


_CSV_CHUNK = 1 << 22   # 4 MB: at most ~200 MB of arrays for a chunk of nothing but line ends


def _bare_crs(part: np.ndarray, own: int, nl: np.ndarray) -> np.ndarray:
    """The CRs of part[:own] not followed by LF (`nl`: the LFs of part[:own]; part holds one byte more)."""
    crs = np.count_nonzero(part[:own] == 13)
    if not crs:
        return nl[:0]
    crlf = np.count_nonzero(part[nl[nl > 0] - 1] == 13) + int(len(part) > own and part[own] == 10
                                                               and own > 0 and part[own - 1] == 13)
    if crs == crlf:   # every CR is a CRLF's (Excel's line ends)
        return nl[:0]
    cr = np.flatnonzero(part[:own] == 13)
    nxt = np.minimum(cr + 1, len(part) - 1)
    return cr[(cr + 1 >= len(part)) | (part[nxt] != 10)]


def _record_starts(buf: bytes, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(start offsets, 1-based start line) of each CSV record ending at LF; quote-aware (RFC 4180 quoting).

    Read 4 MB at a time, so that past `limit` records it stops (raising _TooManyRecords with the exact
    count) before arrays as long as the file's lines are built: 40 MB of line ends were 1.4 GB of arrays
    before the row limit refused them. The limit counts a CR not followed by LF as a record's end too, as
    pandas and the csv module read it (a header, a row and 40 MB of CR made 40 million rows of pandas and
    5 GB); such a file within the limit is read by the csv module (pandas then finds more records than
    these starts)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    n = len(arr)
    has_cr = limit is not None and b"\r" in buf
    starts = [np.zeros(min(n, 1), dtype=np.int64)]
    lines = [np.ones(min(n, 1), dtype=np.int64)]
    counted, parity, nl_before = min(n, 1), 0, 0
    for at in range(0, n, _CSV_CHUNK):
        own = min(_CSV_CHUNK, n - at)
        nl = np.flatnonzero(arr[at: at + own] == 10)
        quotes = np.flatnonzero(arr[at: at + own] == 34)

        def outside(ends: np.ndarray, quotes=quotes, parity=parity) -> np.ndarray:
            return ends[((np.searchsorted(quotes, ends) + parity) & 1) == 0] if len(quotes) or parity else ends

        term = outside(nl)
        starts.append(term.astype(np.int64) + (at + 1))
        lines.append(np.searchsorted(nl, term, side="right").astype(np.int64) + (nl_before + 1))
        if limit is not None:
            counted += len(term)
            if has_cr:
                counted += len(outside(_bare_crs(arr[at: at + own + 1], own, nl)))
            if counted > limit + 1:
                raise _TooManyRecords(_record_count(buf))
        nl_before += len(nl)
        parity = (parity + len(quotes)) & 1
    start_at, line_at = np.concatenate(starts), np.concatenate(lines)
    if len(start_at) and start_at[-1] >= n:
        start_at, line_at = start_at[:-1], line_at[:-1]
    return start_at, line_at


def _record_count(buf: bytes, chunk: int = 1 << 22) -> int:
    """The records of a CSV (what `_record_starts` finds), counted a few MB at a time: a file of 40 MB of
    line ends is refused for its rows without arrays of 8 bytes per line end."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    n = len(arr)
    has_cr = b"\r" in buf
    parity = terms = 0
    last = -1
    for at in range(0, n, chunk):
        part = arr[at: at + chunk + 1]           # one byte more: what follows a CR
        own = part[:chunk]
        quotes = np.flatnonzero(own == 34)
        ends = _line_ends(part, has_cr)
        ends = ends[ends < len(own)]
        if len(ends):
            outside = ends[((np.searchsorted(quotes, ends) + parity) & 1) == 0]
            terms += len(outside)
            if len(outside):
                last = at + int(outside[-1])
        parity = (parity + len(quotes)) & 1
    return 0 if n == 0 else terms + 1 - (last == n - 1)


def _csv_top(text: str, delimiter: str, n: int) -> tuple[list[list[str]], list[int]]:
    """The first n records (and their start lines) with the csv module."""
    head = text[: 1 << 20]
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                        strict=False)
    rows, lines = [], []
    prev_line = 0
    try:
        for rec in reader:
            rows.append(rec)
            lines.append(prev_line + 1)
            prev_line = reader.line_num
            if len(rows) >= n:
                break
    except csv.Error:
        pass
    return rows, lines


def _csv_candidates(path: Path, kinds: InputKinds, spec: KindSpec, max_rows: int):
    data = path.read_bytes()
    text, encoding, normalized = decode_text(data)
    if encoding in ("utf-8-sig", "cp1258", "cp1252") and (mixed := mixed_encoding(data)) is not None:
        # no one decoding reads it: say so, rather than "no header" over half-gibberish text
        raise unreadable_because("encoding_unreadable", good_line=_vi_int(mixed[0]), bad_line=_vi_int(mixed[1]),
                      tried=TRIED_ENCODINGS)
    head = text[: 1 << 20]
    n_top = HEADER_SCAN_ROWS + 1
    best = None
    candidates: list[tuple] = []
    for delim in DELIMITERS:
        if delim not in head:
            continue
        rows, lines = _csv_top(head, delim, n_top)
        widest = max(range(len(rows)), key=lambda i: _fields(rows[i]), default=None)
        if widest is not None and _fields(rows[widest]) > EXCEL_COLUMNS:
            raise _too_wide(lines[widest], _fields(rows[widest]))
        top = _top_strings(rows)
        layouts = _layouts(top, kinds, None)
        own = layouts.get(spec.name)
        candidates.append(((own.required_found, own.score) if own else (-1, 0), delim, top, lines, layouts, rows))
    if candidates and max(c[0] for c in candidates)[0] < 0:
        # no delimiter shows the requested kind: choose by any kind's header, then by the table's shape
        candidates = [((0, max((lay.score for lay in c[4].values() if lay), default=0), sum(len(r) > 1 for r in c[5])),
                       *c[1:]) for c in candidates]
    for cand in candidates:
        if best is None or cand[0] > best[0]:
            best = cand
    if best is None:
        rows, lines = _csv_top(head, ",", n_top)
        top = _top_strings(rows)
        best = ((0, 0, 0), ",", top, lines, _layouts(top, kinds, None), rows)
    _score, delim, top, lines, layouts, raw_rows = best
    buf = utf8_buffer(data, text, encoding, normalized)
    del data, text

    widest = max(range(len(raw_rows)), key=lambda i: _fields(raw_rows[i]), default=None)
    width = _fields(raw_rows[widest]) if widest is not None else 1   # up to the last field holding something
    width_line = lines[widest] if widest is not None and widest < len(lines) else 1

    def load(after: int) -> _Body:
        return _csv_body(buf, delim, after, max_rows=max_rows, width=width, width_line=width_line)

    return _SheetCandidate("", top, lines, None, layouts, load, 0), encoding


def _fields(row: list[str]) -> int:
    """The fields of a record up to its last one holding something: Excel pads every row of a CSV export
    with empty fields up to the widest one ("1,An,,,,,,"), which holds nothing to read."""
    n = len(row)
    while n > 1 and not row[n - 1].strip(" "):
        n -= 1
    return n


def _csv_body(buf: bytes, delim: str, after: int, *, max_rows: int, width: int, width_line: int = 1) -> _Body:
    limit = max_rows * ROW_LIMIT_SLACK + 100
    try:   # the row limit checked while the records are found, before arrays as long as the file's lines
        starts, lines = _record_starts(buf, limit=int(limit) + after)
    except _TooManyRecords as exc:
        raise _too_many_rows(exc.records - after, max_rows) from None
    if len(starts) - after > limit:
        raise _too_many_rows(len(starts) - after, max_rows)
    fields = _FieldCount(buf, delim, len(starts))
    body = None
    try:
        fields.check(width, width_line)
        body = _csv_body_fast(buf, delim, starts, lines, after, width, fields)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, UnicodeDecodeError) as exc:
        log.info("fast CSV parse failed (%s); falling back to the csv module", exc)
    if body is None:
        body = _csv_body_slow(buf.decode("utf-8", errors="replace"), delim, after, fields)
    body_start = int(starts[after]) if after < len(starts) else len(buf)
    body.legacy_possible = _legacy_gate(buf, body_start)
    return body


def _fields_per_record(buf: bytes, delim: str, starts: np.ndarray) -> np.ndarray:
    """An upper bound of the fields of each record (delimiters inside quotes counted too)."""
    if not len(starts):
        return np.ones(1, dtype=np.int64)
    is_delim = (np.frombuffer(buf, dtype=np.uint8) == ord(delim)).view(np.uint8)
    return np.add.reduceat(is_delim, starts, dtype=np.int64) + 1


_TRIMMED_RECORDS = 10_000   # records wider than the header whose trailing empty fields are looked at


def _held_width(buf: bytes, delim: str, starts: np.ndarray, lines: np.ndarray, per_record: np.ndarray,
                width: int) -> tuple[int, int]:
    """(fields up to the last one holding something, its line) of the widest record: the records wider
    than `width` are cut after their last byte that is not a delimiter, a space or a line end (Excel pads
    rows with empty fields). When too many records are wider, their fields as written."""
    wide = np.flatnonzero(per_record > width)
    if len(wide) > _TRIMMED_RECORDS:
        i = int(per_record.argmax())
        return int(per_record[i]), int(lines[i])
    ends = np.append(starts[1:], len(buf))
    sep, pad = delim.encode(), delim.encode() + b" \r\n"
    best, line = width, int(lines[wide[0]]) if len(wide) else 1
    for i in wide.tolist():
        held = buf[int(starts[i]):int(ends[i])].rstrip(pad).count(sep) + 1
        if held > best:
            best, line = held, int(lines[i])
    return best, line


class _FieldCount:
    """The fields of a whole CSV (delimiters + records: an upper bound), counted once and only when a
    grid is large enough to ask whether it is mostly empty."""

    def __init__(self, buf: bytes, delim: str, records: int):
        self.buf, self.delim, self.records = buf, delim, records
        self._cells: int | None = None

    def check(self, width: int, line: int) -> None:
        """Refuse a grid of records × width that the file's fields leave mostly empty (one record far
        wider than the others: a pandas frame of that width for every record), or wider than a sheet."""
        if width > EXCEL_COLUMNS:
            raise _too_wide(line, width)
        if self.records * width <= HOLLOW_FLOOR:
            return
        if self._cells is None:
            self._cells = self.buf.count(self.delim.encode()) + self.records
        if oversized(Extent(self.records, width, self._cells), row_limit=None):
            raise _too_wide(line, width)


def _too_wide(line: int, columns: int) -> ReadError:
    return unreadable_because("csv_too_wide", line=_vi_int(line), columns=_vi_int(columns),
                   column=xl_col_to_name(max(columns, 1) - 1), limit=_vi_int(EXCEL_COLUMNS))


def _csv_body_fast(buf: bytes, delim: str, starts: np.ndarray, lines: np.ndarray, after: int,
                   width: int, fields: _FieldCount | None = None) -> _Body | None:
    def parse(ncols: int, keep: int | None = None) -> pd.DataFrame:
        """Records of up to `ncols` fields, the first `keep` of them kept (the others are empty)."""
        with warnings.catch_warnings():
            # "names do not match the data ... loss of data": never silently, parse wider instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                io.BytesIO(buf), sep=delim, header=None, names=list(range(ncols)), dtype=object, engine="c",
                usecols=list(range(keep)) if keep is not None and keep < ncols else None,
                keep_default_na=False, na_values=[""], skip_blank_lines=False, skipinitialspace=True,
                quotechar='"', doublequote=True, encoding="utf-8", encoding_errors="replace", index_col=False,
                on_bad_lines="error",
            )

    try:
        df = parse(max(width, 1))
    except (pd.errors.ParserError, pd.errors.ParserWarning):   # a record wider than the header: make room
        per_record = _fields_per_record(buf, delim, starts)
        held, line = _held_width(buf, delim, starts, lines, per_record, max(width, 1))
        if fields is not None:
            fields.check(held, line)
        df = parse(int(per_record.max()), held)
    if len(df) != len(starts):
        log.info("CSV record count mismatch (pandas %d, scan %d)", len(df), len(starts))
        return None
    cols = []
    for j in range(df.shape[1]):
        col = df[j].to_numpy()[after:]
        if col.dtype != object:
            col = col.astype(object)
        missing = col != col            # NaN: empty or absent fields
        if missing.any():
            col = col.copy()
            col[missing] = None
        cols.append(col)
    del df
    # trailing columns that exist only because a quoted field held delimiters: drop them when empty
    while len(cols) > 1 and not _present(cols[-1]).any():
        cols.pop()
    return _Body(cols, lines[after:].copy(), {}, nfc_checked=True, blank_checked=True)


def _csv_body_slow(text: str, delim: str, after: int, fields: _FieldCount | None = None) -> _Body:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"', doublequote=True,
                        skipinitialspace=True, strict=False)
    rows: list[list[str]] = []
    lines: list[int] = []
    prev = 0
    try:
        for rec in reader:
            while rec and rec[-1] == "":   # empty fields padding the record: nothing to keep
                rec.pop()
            rows.append(rec)
            lines.append(prev + 1)
            prev = reader.line_num
    except csv.Error as exc:
        log.info("csv module: %s", exc)
        raise unreadable(f"tệp CSV bị lỗi ở dòng {prev + 1} (không tách được các ô); xin mở bằng Excel, lưu lại "
                         "rồi gửi lại") from None
    rows, lines = rows[after:], lines[after:]
    widest = max(range(len(rows)), key=lambda i: len(rows[i]), default=None)
    width = len(rows[widest]) if widest is not None else 0
    if fields is not None and widest is not None:
        fields.check(width, lines[widest])
    cols = []
    for j in range(width):
        col = np.array([r[j] if j < len(r) and r[j] != "" else None for r in rows], dtype=object)
        cols.append(col)
    return _Body(cols, np.asarray(lines, dtype=np.int64), {}, nfc_checked=True, blank_checked=True)


# ---------------------------------------------------------------------------------------------------------
# Choosing sheet and header; refusals
# ---------------------------------------------------------------------------------------------------------


_vi_int = vi_int


def _too_many_rows(n: int, max_rows: int) -> ReadError:
    return unreadable(f"tệp có quá nhiều dòng dữ liệu ({_vi_int(n)} dòng, giới hạn {_vi_int(max_rows)}); "
                      "xin chia nhỏ tệp")


def _header_names(spec: KindSpec, names: list[str]) -> str:
    return ", ".join(f"«{spec.column(n).header}»" for n in names)


def _better(a: HeaderLayout | None, b: HeaderLayout | None) -> bool:
    """Is layout a a better reading of the requested kind than b?"""
    if a is None:
        return False
    if b is None:
        return True
    return (a.required_found, a.score) > (b.required_found, b.score)


def _looks_like_other(kind: str, own: HeaderLayout | None, layouts: _Layouts) -> HeaderLayout | None:
    """Another kind whose header this file matches far better than the requested kind's."""
    best = None
    for name, lay in layouts.items():
        if name == kind or lay is None:
            continue
        if own is None:
            if not (lay.complete or lay.score >= 3):
                continue
        elif own.complete or not lay.complete or lay.score < own.score + 2:
            continue
        if best is None or (lay.score, -lay.rows[0]) > (best.score, -best.rows[0]):
            best = lay
    return best


def _choose(kind: str, kinds: InputKinds, candidates) -> tuple[_SheetCandidate, HeaderLayout]:
    chosen: tuple[_SheetCandidate, HeaderLayout] | None = None
    seen: list[_SheetCandidate] = []
    for cand in candidates:
        seen.append(cand)
        own = cand.layouts.get(kind)
        if own is not None and own.complete:
            return cand, own
        if own is not None and (chosen is None or _better(own, chosen[1])):
            chosen = (cand, own)
    spec = kinds.kinds[kind]
    # wrong kind: some sheet is plainly another kind
    for cand in ([chosen[0]] if chosen else []) + [c for c in seen if not chosen or c is not chosen[0]]:
        own = cand.layouts.get(kind)
        other = _looks_like_other(kind, own, cand.layouts)
        if other is not None:
            other_spec = kinds.kinds[other.kind]
            where = f" (trang «{cand.name}»)" if cand.name else ""
            detail = (f"tiêu đề cột{where} giống mẫu «{other_spec.label}» ({other.kind}), không phải mẫu "
                      f"«{spec.label}» ({kind}); xin chọn đúng loại tệp khi gửi, hoặc gửi đúng tệp")
            raise ReadError("wrong_kind", detail, params={"expected": spec.label, "detail": detail},
                            looks_like=other.kind)
    if chosen is None:
        if not seen:
            raise unreadable("tệp không có trang tính nào đọc được")
        expected = ", ".join(f"«{c.header}»" for c in spec.required_columns[:4])
        detail = (f"không tìm thấy dòng tiêu đề cột của mẫu «{spec.label}» trong {HEADER_SCAN_ROWS} dòng đầu "
                  f"(cần các cột như {expected}); xin dùng mẫu của Sở Y tế")
        raise unreadable(detail)
    return chosen


# ---------------------------------------------------------------------------------------------------------
# Rows that are not data
# ---------------------------------------------------------------------------------------------------------

_TOTALS = re.compile(  # no IGNORECASE: it would cost the regex its fast scan for the "\x00" prefix
    r"\x00[\s\"'(\[*-]*(?:[tT][ổỔôÔoO][nN][gG]|[tT][oO][tT][aA][lL]|[cC][ộỘoO][nN][gG]|[sS][uU][mM]\b|[σΣ])")
_NUMERIC_CELL = re.compile(r"^[\s\d.,%+\-()/:]*$")
_NUMBER_TOKEN = re.compile(r"^[(\[]?\s*(\d{1,3})\s*[)\].]?$")
_NOTES = re.compile(   # on folded text with punctuation as spaces: "(Ký, ghi rõ họ tên)" -> "ky ghi ro ho ten"
    r"^(?:nguoi lap|nguoi ky|nguoi tong hop|can bo lap|ghi chu|luu y|chu thich|thu truong|giam doc|"
    r"pho giam doc|xac nhan|lanh dao|truong (?:tram|khoa|phong|ban)|ke toan|k ?t |t ?m |ky ten|ky ghi ro|"
    r"ky dong dau|ky va ghi ro|noi nhan|ban giam|.{0,50}?\bngay\s+\S{0,6}\s*thang\s+\S{0,6}\s*nam\b)",
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _plain(s: str) -> str:
    return _NON_ALNUM.sub(" ", fold(s)).strip()


_TOTALS_FOLDED = re.compile(r"^(?:tong|cong|total|sum|σ)\b")
_TOTALS_ASCII = re.compile(r"^\W*(?:tong\s+cong|tong\s+so|tong|cong|total|grand\s+total|sum)\b[\W\d]*$",
                           re.IGNORECASE)


def _totals_label(raw: str) -> bool:
    """"Tổng cộng", "TỔNG SỐ (17 xã)", "Cộng:", "Total"... but not a person called "Cong Van Tong": written
    without diacritics, the label must be the word alone (with numbers or punctuation at most)."""
    raw = raw.strip()
    if raw.isascii():
        return _TOTALS_ASCII.match(raw) is not None
    return _TOTALS_FOLDED.match(fold(raw).lstrip(" \"'([*-")) is not None


def _first_present(cols: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, column index) of the first non-empty cell of each row ("" / -1 for a blank row)."""
    first = np.full(n, "", dtype=object)
    where = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    for j, col in enumerate(cols):
        if not len(todo):
            break
        vals = col[todo]
        ok = _present(vals)
        first[todo[ok]] = vals[ok]
        where[todo[ok]] = j
        todo = todo[~ok]
    return first, where


def _row_cells(cols: list[np.ndarray], i: int) -> list[str]:
    return [c[i] for c in cols if c[i]]


def _numbering_row(cells: list[str], width: int) -> bool:
    if len(cells) < 3 or len(cells) < 0.5 * width:
        return False
    nums = []
    for c in cells:
        m = _NUMBER_TOKEN.match(c.strip())
        if m:
            nums.append(int(m.group(1)))
        elif len(c.strip()) <= 2 and not nums:   # "A", "B" before the numbers
            continue
        else:
            return False
    return len(nums) >= 3 and all(b == a + 1 for a, b in zip(nums, nums[1:], strict=False))


def _classify_rows(cols: list[np.ndarray], layout: HeaderLayout, width: int) -> np.ndarray:
    """Reason per body row (None = data)."""
    n = len(cols[0]) if cols else 0
    reason = np.full(n, None, dtype=object)
    if n == 0:
        return reason
    first, first_col = _first_present(cols, n)
    blank = first_col < 0

    # notes and signature block at the bottom
    nonblank = np.flatnonzero(~blank)
    tail = nonblank[-40:]
    sparse_limit = max(3, int(0.3 * width))
    start = None
    for i in reversed(tail.tolist()):
        cells = _row_cells(cols, i)
        if len(cells) > sparse_limit:
            break
        if _NOTES.match(_plain(str(first[i])) + " "):
            start = i
    if start is not None:
        reason[start:] = "notes"

    # header repeated inside the data (page breaks, pasted blocks)
    header_cols = [hc for hc in layout.columns if hc.texts]
    probe = [hc for hc in header_cols if hc.role == DATA][:4] or header_cols[:4]
    if probe:
        cand = np.zeros(n, dtype=bool)
        for hc in probe:
            if hc.index < len(cols):
                for t in hc.texts:
                    cand |= cols[hc.index] == t
        for i in np.flatnonzero(cand):
            hits = sum(1 for hc in header_cols if hc.index < len(cols) and cols[hc.index][i] in hc.texts)
            if hits >= max(2, 0.4 * len(header_cols)):
                reason[i] = "header_repeat"

    # column numbering ("1 2 3 ..." or "(1) (2) ...") under the header, and its repeats
    pattern = None
    for i in nonblank[:3].tolist():
        if reason[i] is not None:
            continue
        if _numbering_row(_row_cells(cols, i), width):
            reason[i] = "numbering"
            pattern = {j: cols[j][i] for j in range(len(cols)) if cols[j][i]}
            break
    if pattern and len(pattern) >= 3:
        keys = list(pattern)[:2]
        cand = np.ones(n, dtype=bool)
        for j in keys:
            cand &= cols[j] == pattern[j]
        for i in np.flatnonzero(cand):
            hits = sum(1 for j, v in pattern.items() if cols[j][i] == v)
            if hits >= 0.8 * len(pattern):
                reason[i] = "numbering"

    # totals: "Tổng", "Tổng cộng", "Cộng", "Total" first, the rest numbers or empty
    firsts = first.tolist()
    joined = "\x00" + "\x00".join(firsts)
    hits = [m.start() for m in _TOTALS.finditer(joined)]
    if hits:
        offsets = np.cumsum([len(s) + 1 for s in firsts]) - np.array([len(s) + 1 for s in firsts])
        for pos in hits:
            i = int(np.searchsorted(offsets, pos, side="right") - 1)
            if reason[i] is not None:
                continue
            if not _totals_label(str(first[i])):
                continue
            others = [c[i] for j, c in enumerate(cols) if j != first_col[i] and c[i]]
            texty = [v for v in others if not _NUMERIC_CELL.match(v)]
            if len(texty) <= max(1, len(others) // 4):
                reason[i] = "totals"

    reason[blank] = "blank"
    return reason


# ---------------------------------------------------------------------------------------------------------
# Assembling the result
# ---------------------------------------------------------------------------------------------------------

_UNMARKED = {"0", "-", "khong", "không", "no", "false", "n", "o"}


def _marked(arr: np.ndarray) -> np.ndarray:
    present = _present(arr)
    out = present.copy()
    idx = np.flatnonzero(present)
    if len(idx):
        out[idx] = [str(v).strip().lower() not in _UNMARKED for v in arr[idx]]
    return out



_STRING_TEMPLATE = pd.array([], dtype="string")


def _string_array(arr: np.ndarray, present: np.ndarray | None = None):
    """Object array of str/None -> pandas "string" array (missing = pd.NA) without re-validating each cell."""
    out = np.array(arr, dtype=object, copy=True)
    out[~(_present(out) if present is None else present)] = pd.NA
    try:
        return _STRING_TEMPLATE._from_backing_data(out)
    except Exception:  # pragma: no cover - a pandas without the internal constructor
        return pd.arrays.StringArray(out)


def _assemble(kind: str, spec: KindSpec, cand: _SheetCandidate, layout: HeaderLayout, body: _Body, *,
              max_rows: int, file_format: str, encoding: str | None, sheet_names: list[str],
              formulas: set[tuple[int, int]] = frozenset()) -> ReadResult:  # type: ignore[assignment]
    width = max(len(body.columns), len(layout.columns))
    cols = [body.columns[j] if j < len(body.columns) else np.full(len(body.row_numbers), None, dtype=object)
            for j in range(width)]
    types = {c.name: c.type for c in spec.columns}

    # clean every column (blank cells -> None, NFC) and repair legacy text in the columns that hold words;
    # the cleaned originals stay for the feedback copy
    legacy_cols = {j for name, j in layout.mapping.items() if types.get(name) in TEXT_TYPES_FOR_REPAIR}
    legacy_cols |= set(layout.sex_marks or ()) | set(layout.name_parts or ())
    def needs(j: int) -> bool:
        return body.text_columns is None or j in body.text_columns

    prepared = [_prepare_column(c, check_nfc=not body.nfc_checked and needs(j),
                                check_blank=not body.blank_checked and needs(j),
                                legacy=j in legacy_cols and body.legacy_possible is not False and needs(j))
                for j, c in enumerate(cols)]
    original_cols = [p.values for p in prepared]
    repaired_cols = [p.repaired for p in prepared]
    changed_masks = {j: p.changed for j, p in enumerate(prepared) if p.changed is not None}
    encodings = {j: p.encodings for j, p in enumerate(prepared)}

    reason = _classify_rows(repaired_cols, layout, len(layout.columns))
    data_mask = np.equal(reason, None)
    n_data = int(data_mask.sum())
    if n_data > max_rows:
        raise _too_many_rows(n_data, max_rows)

    skipped: list[tuple[int, str]] = []
    for i, top_row in enumerate(cand.top[: layout.rows[0]]):
        skipped.append((cand.top_row_numbers[i], "title" if any(c.strip() for c in top_row) else "blank"))
    skip_idx = np.flatnonzero(~data_mask)
    skipped += [(int(body.row_numbers[i]), str(reason[i])) for i in skip_idx]

    idx = np.flatnonzero(data_mask)
    row_numbers = body.row_numbers[idx].astype(np.int64)
    all_data = len(idx) == len(data_mask)

    def take(a: np.ndarray) -> np.ndarray:
        return a if all_data else a[idx]

    frame_data: dict[str, Any] = {}
    column_headers: dict[str, str] = {}
    by_index = {hc.index: hc for hc in layout.columns}
    order = [c.name for c in spec.columns]
    for name in order:
        j = layout.mapping.get(name)
        if j is None:
            continue
        frame_data[name] = (take(repaired_cols[j]), take(prepared[j].present))
        column_headers[name] = by_index[j].label
    if layout.sex_marks:
        jm, jf = layout.sex_marks
        male_vals, female_vals = take(repaired_cols[jm]), take(repaired_cols[jf])
        male, female = _marked(male_vals), _marked(female_vals)
        sex = np.full(len(idx), None, dtype=object)
        sex[male & ~female] = "Nam"
        sex[female & ~male] = "Nữ"
        sex[male & female] = "Nam+Nữ"
        frame_data["sex"] = (sex, None)
        column_headers["sex"] = f"{by_index[jm].label} / {by_index[jf].label}"
        if layout.sex_marks_hold_birth_date and "birth_date" not in frame_data:
            birth = np.full(len(idx), None, dtype=object)
            birth[male & ~female] = male_vals[male & ~female]
            birth[female & ~male] = female_vals[female & ~male]
            both = male & female
            same = both & (male_vals == female_vals)
            birth[same] = male_vals[same]
            frame_data["birth_date"] = (birth, None)
            column_headers["birth_date"] = column_headers["sex"]
    if layout.name_parts:
        # "Họ và tên đệm" + "Tên": one full name, the parts joined by a space (either alone when the other
        # is empty)
        parts = [take(repaired_cols[j]) for j in layout.name_parts]
        joined = np.full(len(idx), None, dtype=object)
        for i in range(len(idx)):
            words = [p[i].strip() for p in parts if isinstance(p[i], str) and p[i].strip()]
            if words:
                joined[i] = " ".join(words)
        frame_data["full_name"] = (joined, None)
        column_headers["full_name"] = " + ".join(by_index[j].label for j in layout.name_parts)
    ordered = [n for n in order if n in frame_data]
    frame = pd.DataFrame({n: _string_array(*frame_data[n]) for n in ordered}, index=pd.RangeIndex(len(idx)))

    # original cells, keyed by the district's headers (built lazily)
    labelled: list[tuple[str, np.ndarray]] = []
    used: set[str] = set()
    for j in range(width):
        hc = by_index.get(j)
        label = hc.label if hc is not None and hc.role != EMPTY else ""
        if not label:
            if not take(prepared[j].present).any():
                continue
            label = f"Cột {xl_col_to_name(j)}"
        base, k = label, 2
        while label in used:
            label, k = f"{base} ({k})", k + 1
        used.add(label)
        labelled.append((label, original_cols[j], prepared[j].present))

    n_rows = len(idx)

    def build_original() -> pd.DataFrame:
        return pd.DataFrame({label: _string_array(take(arr), take(present)) for label, arr, present in labelled},
                            index=pd.RangeIndex(n_rows))

    # re-encoded cells (text_reencoded repairs)
    rec_parts = []
    field_of = {jj: n for n, jj in layout.mapping.items()}
    field_of.update({jj: "full_name" for jj in layout.name_parts or ()})
    field_of.update({jj: "sex" for jj in layout.sex_marks or ()})
    for j, mask in changed_masks.items():
        name = field_of.get(j)
        if name is None:
            continue
        hit = np.flatnonzero(take(mask))
        if len(hit):
            before = take(original_cols[j])[hit]
            rec_parts.append(pd.DataFrame({
                "row_index": hit.astype(np.int64), "row_number": row_numbers[hit], "column": name,
                "original": before, "repaired": take(repaired_cols[j])[hit],
                "encoding": [encodings[j].get(v, "legacy") for v in before],
            }))
    reencoded = (pd.concat(rec_parts, ignore_index=True) if rec_parts else
                 pd.DataFrame({"row_index": pd.Series(dtype=np.int64), "row_number": pd.Series(dtype=np.int64),
                               "column": pd.Series(dtype=object), "original": pd.Series(dtype=object),
                               "repaired": pd.Series(dtype=object), "encoding": pd.Series(dtype=object)}))
    if len(reencoded):
        reencoded = reencoded.sort_values(["row_index", "column"], kind="stable").reset_index(drop=True)

    numeric_cells = {}
    for name, j in layout.mapping.items():
        if j in body.numeric:
            mask = take(body.numeric[j])
            if mask.any():
                numeric_cells[name] = mask

    unmapped = [hc.label for hc in layout.columns if hc.role == UNMAPPED and hc.label]
    readings = _readings(layout, [take(p.present) for p in prepared], width)
    formula_cells: dict[str, np.ndarray] = {}
    if formulas:
        row_pos = {int(r): i for i, r in enumerate(row_numbers)}
        for j, name in field_of.items():
            mask = np.zeros(len(idx), dtype=bool)
            for r, c in formulas:
                if c == j and r in row_pos:
                    mask[row_pos[r]] = True
            if mask.any():
                formula_cells[name] = formula_cells.get(name, np.zeros(len(idx), dtype=bool)) | mask
    header_rows = [cand.top_row_numbers[r] for r in layout.rows]
    skipped.sort()
    return ReadResult(
        kind=kind, frame=frame, row_numbers=row_numbers, sheet=cand.name, header_rows=header_rows,
        column_headers=column_headers, unmapped_headers=unmapped, skipped_rows=skipped, reencoded=reencoded,
        encoding=encoding, file_format=file_format, numeric_cells=numeric_cells, sheet_names=sheet_names,
        column_readings=readings, formula_cells=formula_cells, _original_builder=build_original,
    )


def _formulas_without_value(path: Path, sheet_name: str) -> set[tuple[int, int]]:
    """(row number, 0-based column) of the cells of an xlsx sheet that hold a formula and no computed
    value (files written by software that does not calculate): the clerk sees a value in Excel, the file
    holds none. Empty when the sheet has no formula at all (the usual case, checked cheaply first)."""
    import zipfile
    from xml.etree.ElementTree import iterparse

    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as z:
            rels = {}
            for _ev, el in iterparse(z.open("xl/_rels/workbook.xml.rels")):
                if el.tag.endswith("Relationship"):
                    rels[el.get("Id")] = el.get("Target", "")
            target = None
            for _ev, el in iterparse(z.open("xl/workbook.xml")):
                if el.tag == f"{ns_main}sheet" and el.get("name") == sheet_name:
                    target = rels.get(el.get(f"{ns_rel}id") or "")
                    break
            if not target:
                return set()
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            # most sheets hold no formula: look for one streaming, and hold the sheet only when there is
            with z.open(member) as f:
                tail = b""
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    if _F_OPEN.search(tail + chunk):
                        break
                    tail = chunk[-64:]
                else:
                    return set()
            data = z.read(member)   # bounded: sniffing refused archives that unpack too large
    except DAMAGE:
        return set()
    # Byte scans, not an XML parse: most sheets hold no formula at all, and one formula per row (a
    # numbering "=ROW()-1") must not cost a parse of every cell.
    out: set[tuple[int, int]] = set()
    for m in _F_OPEN.finditer(data):
        pos = m.start()
        lo = max(0, pos - 4096)   # a cell's opening tag is near its formula (an unbounded rfind is O(n²))
        start = max(data.rfind(b"<c ", lo, pos), data.rfind(b":c ", lo, pos))
        if start < 0:
            continue
        tag_end = data.find(b">", start)
        close = data.find(b"c>", pos)
        if tag_end < 0 or tag_end > pos or close < 0:
            continue
        attrs, inner = data[start:tag_end], data[tag_end + 1:close]
        ref = _R_ATTR.search(attrs)
        if ref is None:
            continue
        value = _V_ELEMENT.search(inner)
        typed = _T_ATTR.search(attrs)
        # no <v>, or an empty one on a cell not typed as text (software that does not calculate writes
        # <v/>; Excel writes t="str" and <v></v> for a formula giving ""); inline strings are values
        empty = value is None or (not (value.group(1) or b"").strip() and
                                  (typed is None or typed.group(1) not in (b"str", b"inlineStr")))
        if empty and b"<is>" not in inner and b":is>" not in inner:
            out.add((int(ref.group(2)), _col_index(ref.group(1).decode())))
    return out


_F_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_R_ATTR = re.compile(rb'\sr="([A-Z]{1,3})(\d+)"')
_T_ATTR = re.compile(rb'\st="(\w+)"')
_V_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v(?:\s[^>]*)?(?:/>|>([^<]*)<)")


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _readings(layout: HeaderLayout, present: list[np.ndarray], width: int) -> list[ColumnReading]:
    """One reading per column of the file that has a heading or holds data, in the file's order."""
    by_index = {hc.index: hc for hc in layout.columns}
    marks_field = {}
    if layout.sex_marks:
        for j in layout.sex_marks:
            marks_field[j] = "sex"
    out: list[ColumnReading] = []
    for j in range(width):
        hc = by_index.get(j)
        cells = int(present[j].sum()) if j < len(present) else 0
        label = hc.label if hc is not None and hc.role != EMPTY else ""
        if not label:
            if not cells:
                continue
            label = f"Cột {xl_col_to_name(j)}"
        letter = xl_col_to_name(j)
        if hc is not None and hc.role == DATA:
            out.append(ColumnReading(label, letter, hc.column, hc.how, cells))
        elif j in marks_field:
            out.append(ColumnReading(label, letter, marks_field[j], "heading", cells))
        elif hc is not None and hc.role == NUMBERING:
            out.append(ColumnReading(label, letter, None, readings_of.NUMBERING, cells))
        else:
            how = hc.how if hc is not None and hc.how in (readings_of.SAVED, readings_of.GIVEN) else readings_of.IGNORED
            out.append(ColumnReading(label, letter, None, how, cells))
    return out


def _read_by_content(layout: HeaderLayout, spec: KindSpec, body: _Body, hints: ContentHints) -> None:
    """Settle what the headings could not: a heading fitting two fields alike ("ĐT") takes the one its
    cells fit; an unknown column holding data is read as the free field its cells clearly are."""
    def cells(j: int) -> list[str]:
        return sample(body.columns[j]) if j < len(body.columns) else []

    changed = False
    for hc in layout.columns:
        # a heading that only partly fits ("Số điểm tiêm" for "Loại cơ sở", "Mũi 1" over dates) is read so
        # only when its cells do not contradict it
        if hc.role == DATA and hc.how == "heading" and hc.rank < 1 and not hc.alternatives:
            col = spec.column(hc.column)
            values = cells(hc.index)
            if values and has_profile(col, hints) and fit(col, values, hints) < 0.5:
                set_column(layout, hc, None, "heading")
                changed = True
    for hc in layout.columns:
        if hc.role == DATA and hc.alternatives and hc.how == "heading":
            pick = choose_among(spec, (hc.column, *hc.alternatives), cells(hc.index), hints)
            if pick is not None and (pick == hc.column or pick not in layout.mapping):
                set_column(layout, hc, pick, readings_of.CONTENT)
                changed = True
    assigned = set(layout.mapping) | ({"sex"} if layout.sex_marks else set())
    free = [c.name for c in spec.columns if c.name not in assigned]
    unknown = {}
    for hc in layout.columns:
        if hc.role in (UNMAPPED, EMPTY) and hc.how == "heading" and hc.name_part is None:
            values = cells(hc.index)
            if values:
                unknown[hc.index] = values
    # a column holding data past the header's last cell has no HeaderColumn yet
    for j in range(len(layout.columns), len(body.columns)):
        values = cells(j)
        if values:
            layout.columns.append(HeaderColumn(j, "", EMPTY))
            unknown[j] = values
    if free and unknown:
        by_index = {hc.index: hc for hc in layout.columns}
        for j, f in guess_unknown(spec, free, unknown, hints).items():
            hc = by_index[j]
            if hc.role == EMPTY:
                hc.label = f"Cột {xl_col_to_name(j)}"
            set_column(layout, hc, f, readings_of.CONTENT)
            changed = True
    if changed:
        refresh(layout, spec)


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------


def read_submission(path: Path | str, kind: str, *, max_bytes: int, max_rows: int,
                    max_uncompressed: int | None = None, kinds: InputKinds | None = None,
                    overrides: dict[str, ColumnOverride] | None = None,
                    hints: ContentHints | None = None) -> ReadResult:
    """Read one district file as `kind`. Raises ReadError (with a Vietnamese message) when it cannot.

    `overrides` ({heading_key: ColumnOverride}) read headings as the district said (saved or given with
    the upload); `hints` (the district's communes, facilities) let a column be read from its cells."""
    path = Path(path)
    clock = time.perf_counter
    t0 = clock()
    timings: dict[str, float] = {}
    kinds = kinds or load_input_kinds()
    if kind not in kinds.kinds:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(kinds.names)}")
    spec = kinds.kinds[kind]
    sniffed = sniff_file(path, max_bytes=max_bytes, max_uncompressed=max_uncompressed)
    timings["sniff"] = clock() - t0

    encoding: str | None = None
    sheet_names: list[str] = []
    if sniffed.format == "csv":
        try:
            cand, encoding = _csv_candidates(path, kinds, spec, max_rows)
        except OSError:
            raise unreadable("không mở được tệp") from None
        cand, layout = _choose(kind, kinds, [cand])
    else:
        cand, layout = _choose(kind, kinds, _workbook_candidates(path, sniffed.format, kinds, sheet_names,
                                                                 max_rows=max_rows))

    apply_overrides(layout, spec, overrides)

    if cand.total_rows and cand.total_rows - layout.rows[-1] - 1 > max_rows * ROW_LIMIT_SLACK + 100:
        raise _too_many_rows(cand.total_rows - layout.rows[-1] - 1, max_rows)

    t1 = clock()
    timings["open_and_header"] = t1 - t0 - timings["sniff"]
    body = cand.load_body(layout.rows[-1] + 1)
    t2 = clock()
    timings["cells"] = t2 - t1
    _read_by_content(layout, spec, body, hints or ContentHints())
    timings["content"] = clock() - t2
    t2 = clock()

    if layout.missing_required:
        where = f" (trang «{cand.name}», dòng tiêu đề {cand.top_row_numbers[layout.rows[0]]})" if cand.name else (
            f" (dòng tiêu đề {cand.top_row_numbers[layout.rows[0]]})")
        names = _header_names(spec, layout.missing_required)
        detail = f"thiếu cột bắt buộc: {names}{where}; xin bổ sung các cột này theo mẫu «{spec.label}»"
        raise ReadError("required_column_missing", detail, params={"column": names, "detail": detail},
                        missing=layout.missing_required)
    formulas = (_formulas_without_value(path, cand.name)
                if sniffed.format == "xlsx" and cand.formulas is not False else set())
    result = _assemble(kind, spec, cand, layout, body, max_rows=max_rows, file_format=sniffed.format,
                       encoding=encoding, sheet_names=sheet_names, formulas=formulas)
    timings["rows_and_frame"] = clock() - t2
    timings["total"] = clock() - t0
    result.timings = timings
    log.debug("read %s as %s: %d rows in %.2fs %s", path.name, kind, len(result.frame), timings["total"], timings)
    return result
