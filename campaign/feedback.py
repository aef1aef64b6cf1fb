"""Intake, stage 5: what a district clerk gets back after an upload.

Their own file, with one column "Kết quả kiểm tra" added at the right of the header: per data row "OK" or
the reasons in Vietnamese (each naming the column as the district headed it and the expected form), the
rejected rows filled red, rows loaded with warnings yellow, and a first sheet that summarises the
submission (accepted or refused and why, counts, the reasons, links to the rejected rows).

- `describe_issue(code, column, kind=...)`: one catalogue sentence (config/reasons.yaml) with `{column}`
  = the district's header of the column (else the template header), `{expected}` = the expected form
  (`campaign.io.templates.expected_form`, plus the bounds of numeric columns), `{detail}`.
- `row_messages(issues, n_rows, kind, column_headers)`: one text per data row, the most severe section
  first ("Bị loại: ...", "Đã nhận, cần kiểm tra: ...", "Đã nhận, đã sửa: ..."). Sentences are built once
  per (code, column) and whole row texts once per distinct combination of sentences.
- `row_statuses(issues, n_rows, quarantined=...)`: "rejected" | "warning" | "repaired" | "ok" per row.
- `write_feedback(read, messages, statuses, out_path, blocking_message=..., source=...)`: a workbook
  upload's annotated copy as .xlsx. With `source` (the uploaded file) every cell of the sheet comes back
  at its own row and column (title rows, the header, blank/totals/notes rows, merged header cells); data
  rows stay at their row numbers, so "dòng 7" in any report is row 7 of the feedback. Without `source`
  the layout is rebuilt from the ReadResult (header row and data rows at their row numbers).
  A CSV upload's annotated copy is a CSV (UTF-8 with BOM, its own delimiter, every record at the line it
  starts on, the result as one more field): a copy as .xlsx of a million rows took ~20 s and 76 MB for
  a file with no problem row, the CSV ~1.5 s. Its records are copied as they are where that is safe
  (`_write_csv_copy`), the others go through the csv module with `csv_safe`. Beside it,
  `problems_workbook_path(<the .csv>)`: the summary sheet and, highlighted as in the .xlsx copy, only the
  rows rejected or to check, with their row numbers in the file (Excel opening the CSV itself drops
  leading zeros and cannot show a highlight; the rows that need the clerk are the ones in the workbook).
  The summary sheet (both kinds) holds the table «Cách đọc các cột của tệp» (`readings_table`): how
  every column of the file was read.
- `write_refusal(out_path, blocking_message)`: the summary sheet alone, for a file that could not be
  read at all (no ReadResult).

Cells are written back as the text the reader took from them (the reader's own loaders, so the same
sheet, CSV dialect, encoding and row numbers; numbers as Excel shows them, a workbook's date cells as
dd/mm/yyyy), always as text cells with the text number format "@", never as numbers or formulas: IDs and
phones keep their leading zeros, and a cell the district typed as "=HYPERLINK(...)" comes back as text (a
string cell with Excel's quote prefix, so that editing it does not turn it into a formula either).
Nothing this module composes starts with a formula character (`starts_formula`); `csv_safe` is the
apostrophe rule for any CSV output.

Speed: xlsxwriter in constant-memory mode, with the data rows rendered a chunk at a time (numpy string
operations) into the sheet's row file (`_RawRows`). Measured on the shared 2-core machine (loaded by other
jobs) for 200,000 rows x 20 columns: 23-30 s of CPU (25-36 s wall) from an .xlsx upload, of which ~9-11 s
re-reading the file and ~5-7 s zipping; 14 s from a CSV; the process peaked at 0.96 GB with the
ReadResult (0.56 GB) in memory, so ~0.4 GB for the feedback. openpyxl took 63 s and 2.3 GB; xlsxwriter's
cell API alone took ~55 s of CPU.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.workbook

from campaign.config import ColumnSpec, InputKinds, KindSpec, load_input_kinds, load_reasons
from campaign.io.templates import expected_form
from campaign.io.xlsx import write_atomically

if TYPE_CHECKING:
    from campaign.io.reader import ReadResult

__all__ = [
    "FORMULA_TRIGGERS",
    "OK_MESSAGE",
    "RESULT_HEADER",
    "STATUSES",
    "blocking_text",
    "csv_safe",
    "describe_issue",
    "row_messages",
    "row_statuses",
    "starts_formula",
    "write_feedback",
    "write_refusal",
]

log = logging.getLogger(__name__)

RESULT_HEADER = "Kết quả kiểm tra"
OK_MESSAGE = "OK"
DATA_SHEET_FOR_CSV = "Dữ liệu"
SUMMARY_SHEET = "Tóm tắt kết quả"
MAX_LISTED_ROWS = 500          # rejected rows linked from the summary sheet
EXCEL_MAX_ROWS = 1_048_576

OK, REJECTED, WARNING, REPAIRED = "ok", "rejected", "warning", "repaired"
STATUSES = (OK, REJECTED, WARNING, REPAIRED)

# Characters that make a spreadsheet evaluate a cell typed or imported as text (OWASP "CSV injection"),
# with the full-width forms that Excel's IME input accepts too.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")

# severity -> rank (higher is worse); section heads of a row's text
_RANK = {"repair": 1, "warning": 2, "row": 3, "blocking": 3}
_FIRST_HEAD = {3: "Bị loại", 2: "Đã nhận, cần kiểm tra", 1: "Đã nhận, đã sửa"}
_NEXT_HEAD = {3: "Lỗi", 2: "Cần kiểm tra", 1: "Đã sửa"}
_NOT_RECORDED_HEAD = "Không ghi nhận"   # quarantined without a row error (a repeat of an earlier upload)
_STATUS_OF_RANK = {0: OK, 1: REPAIRED, 2: WARNING, 3: REJECTED}

_FILLS = {  # Excel's own "Bad" / "Neutral" / "Good"-like styles
    REJECTED: {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
    WARNING: {"bg_color": "#FFEB9C", "font_color": "#9C5700"},
    REPAIRED: {},
    OK: {},
}
_RESULT_FILLS = {
    REJECTED: {"bg_color": "#FFC7CE", "font_color": "#9C0006", "bold": True},
    WARNING: {"bg_color": "#FFEB9C", "font_color": "#9C5700"},
    REPAIRED: {"bg_color": "#DDEBF7", "font_color": "#1F4E78"},
    OK: {"font_color": "#006100"},
}


# ---------------------------------------------------------------------------------------------------------
# Formula safety
# ---------------------------------------------------------------------------------------------------------


def starts_formula(text: object) -> bool:
    """Would a spreadsheet evaluate this text if it were typed or imported from CSV?"""
    return isinstance(text, str) and bool(text) and text[0] in FORMULA_TRIGGERS


def csv_safe(text: str | None) -> str:
    """A CSV field that Excel/LibreOffice will not evaluate: a leading apostrophe before a formula
    character (the apostrophe shows in the cell; it is the price of CSV, an .xlsx needs none)."""
    if text is None:
        return ""
    return "'" + text if starts_formula(text) else text


def _safe_own(text: str) -> str:
    """Texts this module composes: never let one start with a formula character."""
    return "’" + text if starts_formula(text) else text


# ---------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _num(v: float) -> str:
    return f"{v:g}"


def _bounds(col: ColumnSpec) -> str:
    if col.min is not None and col.max is not None:
        return f"từ {_num(col.min)} đến {_num(col.max)}"
    if col.min is not None:
        return f"từ {_num(col.min)} trở lên"
    if col.max is not None:
        return f"không quá {_num(col.max)}"
    return ""


def _expected(code: str, col: ColumnSpec | None, spec: KindSpec | None, kinds: InputKinds) -> str:
    if col is None:
        return spec.label if spec is not None else ""
    bounds = _bounds(col) if col.type in ("integer", "decimal") else ""
    if code == "value_out_of_range" and bounds:
        return bounds
    form = expected_form(col, kinds)
    return f"{form} {bounds}" if bounds and col.name != "priority_group" else form


def _is_missing(v: object) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


@functools.lru_cache(maxsize=8192)
def _describe(code: str, column: str | None, kind: str, header: str | None, detail: str | None) -> str:
    kinds = load_input_kinds()
    spec = kinds.kinds.get(kind)
    col: ColumnSpec | None = None
    if column is not None and spec is not None:
        col = next((c for c in spec.columns if c.name == column), None)
    if header is None:
        header = col.header if col is not None else column
    reason = load_reasons().reasons.get(code)
    if reason is None:  # a code the catalogue does not know yet: say so rather than fail the feedback
        text = f"«{header}»: lỗi {code}" if header else f"Lỗi {code}"
        return _safe_own(text)
    template = reason.message
    params = _Params(column=header or "", detail=detail or "", expected=_expected(code, col, spec, kinds))
    try:
        text = template.format_map(params)
    except (ValueError, IndexError, AttributeError):  # a malformed template: show it as written
        text = template
    text = text.replace("«»", "").replace(" ()", "").strip()
    text = re.sub(r"[\s:;,]+$", "", text)
    if not params["detail"]:
        text = re.sub(r":\s*$", "", text)
    return _safe_own(text or code)


def describe_issue(code: str, column: str | None = None, *, kind: str, detail: str | None = None,
                   column_headers: Mapping[str, str] | None = None) -> str:
    """The Vietnamese sentence of one reason code about one column (canonical name, or None for a
    row-level or file-level reason). `column_headers` ({canonical: the district's header}) names the column
    as the district wrote it; without it the template header of the kind is used. A column that is not a
    canonical column of the kind is shown as given."""
    col = None if _is_missing(column) else str(column)
    header = None
    if col is not None and column_headers:
        h = column_headers.get(col)
        header = str(h) if h else None
    return _describe(str(code), col, kind, header, detail)


def blocking_text(blocking: Sequence[tuple[str, str]], kind: str) -> str | None:
    """The refusal of a whole file as one Vietnamese text, from `Checked.blocking` / a ReadError's
    (code, detail) pairs. None when nothing blocks."""
    parts = []
    for code, detail in blocking:
        reason = load_reasons().reasons.get(code)
        if reason is not None and "{detail}" not in reason.message and detail:
            text = detail.strip()   # the detail is the fuller sentence (it names every missing column)
            text = text[:1].upper() + text[1:]
        else:
            text = describe_issue(code, None, kind=kind, detail=detail)
        parts.append(_safe_own(text))
    return "; ".join(parts) if parts else None


@dataclass
class _Prepared:
    rows: np.ndarray      # int64, sorted by (row, rank desc, first occurrence), (row, message) distinct
    msg: np.ndarray       # int64 index into texts
    texts: list[str]
    ranks: list[int]


def _prepare(issues: pd.DataFrame, n_rows: int, kind: str | None,
             column_headers: Mapping[str, str] | None) -> _Prepared | None:
    if issues is None or len(issues) == 0:
        return None
    rows_s = issues["row"]
    keep = rows_s.notna().to_numpy()
    if not keep.all():
        issues = issues.loc[keep]
        if not len(issues):
            return None
    rows = issues["row"].to_numpy(dtype=np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(f"issue rows must lie in [0, {n_rows}); got {rows.min()}..{rows.max()}")
    code_ids, code_u = pd.factorize(issues["code"].astype(object).to_numpy())
    col_vals = (issues["column"].astype(object).to_numpy() if "column" in issues.columns
                else np.full(len(issues), None, dtype=object))
    col_ids, col_u = pd.factorize(col_vals, use_na_sentinel=True)
    if "severity" in issues.columns:
        sev_ids, sev_u = pd.factorize(issues["severity"].astype(object).to_numpy(), use_na_sentinel=True)
    else:
        sev_ids, sev_u = np.full(len(issues), -1, dtype=np.int64), np.array([], dtype=object)
    n_col, n_sev = len(col_u) + 1, len(sev_u) + 1
    combo = (code_ids.astype(np.int64) * n_col + (col_ids + 1)) * n_sev + (sev_ids + 1)
    msg_of_issue, combos = pd.factorize(combo)
    catalogue = load_reasons().reasons
    texts: list[str] = []
    ranks: list[int] = []
    for c in np.asarray(combos, dtype=np.int64).tolist():
        rest, s = divmod(c, n_sev)
        ci, k = divmod(rest, n_col)
        code = str(code_u[ci])
        column = None if k == 0 else col_u[k - 1]
        severity = sev_u[s - 1] if s > 0 and not _is_missing(sev_u[s - 1]) else (
            catalogue[code].severity if code in catalogue else "row")
        ranks.append(_RANK.get(str(severity), 3))
        texts.append(describe_issue(code, column, kind=kind, column_headers=column_headers) if kind else code)
    # the same sentence twice in a row (two codes, one text) counts once: index by distinct text
    text_ids, text_u = pd.factorize(np.array(texts, dtype=object))
    text_rank = np.zeros(len(text_u), dtype=np.int64)
    np.maximum.at(text_rank, text_ids, np.array(ranks, dtype=np.int64))
    msg = text_ids[msg_of_issue].astype(np.int64)
    rank = text_rank[msg]
    # distinct (row, text), first occurrence kept; then order by row, worst first, first occurrence
    n_text = len(text_u)
    pair = rows * n_text + msg
    _u, first = np.unique(pair, return_index=True)
    first.sort()
    rows, msg, rank = rows[first], msg[first], rank[first]
    order = np.argsort(rows * 4 + (3 - rank), kind="stable")
    return _Prepared(rows[order], msg[order], list(text_u), text_rank.tolist())


def row_messages(issues: pd.DataFrame, n_rows: int, kind: str,
                 column_headers: Mapping[str, str] | None = None, *,
                 quarantined: Sequence[bool] | np.ndarray | pd.Series | None = None) -> list[str]:
    """Per data row (0-based position, as `issues["row"]`): "OK", or the reasons in Vietnamese, most severe
    first, in sections: "Bị loại: A; B. Cần kiểm tra: C. Đã sửa: D" (a row error), "Đã nhận, cần kiểm tra:
    C. Đã sửa: D" (warnings), "Đã nhận, đã sửa: D" (repairs only). A row in `quarantined` without a row
    error (a repeat of an earlier submission) starts "Không ghi nhận: ". Issues without a row (file-level)
    are not row messages."""
    out = [OK_MESSAGE] * n_rows
    prep = _prepare(issues, n_rows, kind, column_headers)
    if prep is None:
        return out
    q = None if quarantined is None else np.asarray(quarantined, dtype=bool)
    if q is not None and len(q) != n_rows:
        raise ValueError(f"quarantined has {len(q)} values for {n_rows} rows")
    rows, msg = prep.rows, prep.msg
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    msg_l = msg.tolist()
    texts, ranks = prep.texts, prep.ranks
    cache: dict[tuple, str] = {}

    def build(key: tuple[int, ...], not_recorded: bool) -> str:
        sections: list[str] = []
        current = -1
        items: list[str] = []
        for m in key:
            r = ranks[m]
            if r != current:
                if items:
                    sections.append("; ".join(items))
                items = []
                head = (_NOT_RECORDED_HEAD if not_recorded else _FIRST_HEAD[r]) if current < 0 else _NEXT_HEAD[r]
                current = r
                items.append(f"{head}: {texts[m]}")
            else:
                items.append(texts[m])
        sections.append("; ".join(items))
        return ". ".join(sections)

    for s, e, r in zip(starts.tolist(), ends.tolist(), rows[starts].tolist(), strict=True):
        key = tuple(msg_l[s:e])
        nr = bool(q is not None and q[r] and ranks[key[0]] < 3)
        ck = (key, nr)
        text = cache.get(ck)
        if text is None:
            text = cache[ck] = build(key, nr)
        out[r] = text
    return out


def row_statuses(issues: pd.DataFrame, n_rows: int, *,
                 quarantined: Sequence[bool] | np.ndarray | pd.Series | None = None) -> list[str]:
    """Per data row: "rejected" (a row error, or quarantined), "warning", "repaired" or "ok"."""
    worst = np.zeros(n_rows, dtype=np.int64)
    prep = _prepare(issues, n_rows, None, None)   # ranks per distinct (code, column, severity), NA severity
    if prep is not None:                          # taken from the catalogue; rows checked
        np.maximum.at(worst, prep.rows, np.asarray(prep.ranks, dtype=np.int64)[prep.msg])
    if quarantined is not None:
        q = np.asarray(quarantined, dtype=bool)
        if len(q) != n_rows:
            raise ValueError(f"quarantined has {len(q)} values for {n_rows} rows")
        worst[q] = 3
    names = np.array([_STATUS_OF_RANK[i] for i in range(4)], dtype=object)
    return names[worst].tolist()


# ---------------------------------------------------------------------------------------------------------
# The sheet as the district wrote it
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Grid:
    columns: list[np.ndarray]                     # object arrays of str / None, one per sheet column
    row_numbers: np.ndarray                       # int64, 1-based, ascending, aligned with the columns
    merges: list[tuple[int, int, int, int]]       # 0-based inclusive (first_row, first_col, last_row, last_col)
    rebuilt: bool                                 # True: layout rebuilt from the ReadResult (no source file)


def _source_grid(source: Path, read: Any) -> _Grid:
    """Every cell of the district's sheet as the reader sees it (same sheet choice, CSV delimiter and
    encoding, same cell-to-text conversion, same row numbers). Uses the reader's own loaders so that the
    feedback can never disagree with the read about which line is which."""
    # Private helpers of the reader on purpose: a second CSV/workbook parser here could number rows
    # differently from the read and put a message next to the wrong person.
    from campaign.io import csv_read, workbook

    kinds = load_input_kinds()
    spec = kinds.kinds[read.kind]
    if read.file_format == "csv":
        cand, _encoding = csv_read._csv_candidates(source, kinds, spec, 1 << 40)
    else:
        names: list[str] = []
        cand = next((c for c in workbook._workbook_candidates(source, read.file_format, kinds, names)
                     if c.name == read.sheet), None)
        if cand is None:
            raise LookupError(f"sheet {read.sheet!r} not found in {source.name}")
    body = cand.load_body(0)
    merges = []
    for m in cand.merges or ():
        try:
            (r0, c0), (r1, c1) = m
            merges.append((int(r0), int(c0), int(r1), int(c1)))
        except (TypeError, ValueError):
            continue
    cols = list(body.columns)
    for j, c in enumerate(cols):
        if c.dtype != object:
            cols[j] = c.astype(object)
    if read.file_format != "csv":
        _show_dates_as_typed(cols)
    return _Grid(cols, np.asarray(body.row_numbers, dtype=np.int64), merges, rebuilt=False)


_ISO_START = re.compile(r"(?:^|\x00)\d{4}-\d\d-\d\d")
_ISO_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d:\d\d)(:\d\d)?)?$")


def _vn_date(v: str) -> str:
    m = _ISO_DATE.match(v)
    if m is None:
        return v
    y, mo, d, hm, sec = m.groups()
    out = f"{d}/{mo}/{y}"
    if hm:
        out += f" {hm}" + (sec if sec and sec != ":00" else "")
    return out


def _show_dates_as_typed(cols: list[np.ndarray]) -> None:
    """Workbook date cells reach us as ISO text ("1980-05-06", the reader's rendering); the clerk typed and
    saw them as dd/mm/yyyy: write them back that way. One C-level search per column decides whether a
    column needs the per-value pass."""
    for j, col in enumerate(cols):
        present = col.astype(bool)
        vals = col[present]
        if not len(vals) or _ISO_START.search("\x00".join(vals.tolist())) is None:
            continue
        out = col.copy()
        out[present] = [_vn_date(v) for v in vals.tolist()]
        cols[j] = out


def _rebuilt_grid(read: Any) -> _Grid:
    """Without the uploaded file: the header (the district's labels) at the last header row and the data
    rows at their row numbers; title, blank and totals rows are not known."""
    original = read.original_rows
    n = len(read.row_numbers)
    header_row = read.header_rows[-1] if read.header_rows else 1
    cols = []
    for label in original.columns:
        values = original[label].to_numpy(dtype=object, na_value=None)
        col = np.empty(n + 1, dtype=object)
        col[0] = str(label)
        col[1:] = values
        cols.append(col)
    if read.file_format != "csv":
        _show_dates_as_typed(cols)
    rows = np.concatenate(([header_row], np.asarray(read.row_numbers, dtype=np.int64)))
    order = np.argsort(rows, kind="stable")
    if not (order == np.arange(len(rows))).all():
        rows = rows[order]
        cols = [c[order] for c in cols]
    return _Grid(cols, rows, [], rebuilt=True)


def _present_width(cols: list[np.ndarray], idx: np.ndarray) -> int:
    """1 + the last column holding a value in the given grid rows."""
    width = 0
    for j, c in enumerate(cols):
        if len(idx) and c[idx].astype(bool).any():
            width = j + 1
    return width


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, fallback: str) -> str:
    name = _INVALID_SHEET_CHARS.sub(" ", name or "").strip().strip("'")[:31].strip()
    return name or fallback


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        base = {"num_format": "@", "valign": "top"}
        self.wb = wb
        self.cell = {(st, qp): wb.add_format({**base, **_FILLS[st], **({"quote_prefix": True} if qp else {})})
                     for st in STATUSES for qp in (False, True)}
        self.plain = {qp: wb.add_format({**base, **({"quote_prefix": True} if qp else {})}) for qp in (False, True)}
        head = {**base, "bold": True, "text_wrap": True, "border": 1, "bg_color": "#DDEBF7", "valign": "vcenter"}
        self.header = {qp: wb.add_format({**head, **({"quote_prefix": True} if qp else {})}) for qp in (False, True)}
        self.result_header = wb.add_format({**head, "bg_color": "#FCE4D6"})
        self.result = {st: wb.add_format({**base, **_RESULT_FILLS[st]}) for st in STATUSES}
        self.text = wb.add_format({"num_format": "@"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.label = wb.add_format({"bold": True, "valign": "top", "num_format": "@"})
        self.value = wb.add_format({"valign": "top", "num_format": "@", "text_wrap": True})
        self.bad = wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE", "num_format": "@"})
        self.good = wb.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE", "num_format": "@"})
        self.th = wb.add_format({"bold": True, "border": 1, "bg_color": "#DDEBF7", "num_format": "@"})
        self.link = wb.add_format({"font_color": "#0563C1", "underline": 1})
        self.note = wb.add_format({"italic": True, "font_color": "#555555", "num_format": "@", "text_wrap": True})
        self.own = {qp: wb.add_format({"valign": "top", "num_format": "@", "text_wrap": True, "border": 1,
                                       **({"quote_prefix": True} if qp else {})}) for qp in (False, True)}
        self.own_warn = {qp: wb.add_format({"valign": "top", "num_format": "@", "text_wrap": True, "border": 1,
                                            **_RESULT_FILLS[WARNING], **({"quote_prefix": True} if qp else {})})
                         for qp in (False, True)}


class _FastZip(zipfile.ZipFile):
    """zlib level 1 instead of 6: deflating a 1M-row sheet took ~11 s of ~40; level 1 is ~3x faster
    for a file ~15% larger."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("compresslevel", 1)
        super().__init__(*args, **kwargs)


class _FeedbackWorkbook(xlsxwriter.Workbook):
    def _store_workbook(self) -> None:
        # xlsxwriter has no option for the level; it names `ZipFile` in its module when it stores the
        # package. Swapped only while this workbook is stored (at worst another workbook saved at the same
        # moment in another thread is compressed faster too).
        module = xlsxwriter.workbook
        original, module.ZipFile = module.ZipFile, _FastZip
        try:
            super()._store_workbook()
        finally:
            module.ZipFile = original


def _target(out_path: Path | str) -> Path:
    out = Path(out_path)
    if out.suffix.lower() != ".xlsx":
        out = out.with_suffix(".xlsx")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _atomic_write(out: Path, fill) -> Path:
    return write_atomically(out, fill, prefix=".feedback-", workbook_class=_FeedbackWorkbook)


def _vi_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _kind_label(kind: str | None) -> str:
    if not kind:
        return ""
    spec = load_input_kinds().kinds.get(kind)
    return f"{spec.label} ({kind})" if spec is not None else kind


def _write_pairs(ws, fmts: _Formats, row: int, pairs: list[tuple[str, str]], value_fmt=None) -> int:
    for label, value in pairs:
        ws.write_string(row, 0, _safe_own(label), fmts.label)
        ws.write_string(row, 1, _safe_own(str(value)), value_fmt or fmts.value)
        row += 1
    return row


def _issue_table(issues: pd.DataFrame | None, kind: str, column_headers: Mapping[str, str] | None,
                 ) -> list[tuple[int, str, int]]:
    """(rank, sentence, rows) per distinct sentence, worst first, then most rows."""
    if issues is None or not len(issues):
        return []
    iss = issues.loc[issues["row"].notna()]
    if not len(iss):
        return []
    prep = _prepare(iss, int(iss["row"].max()) + 1, kind, column_headers)
    if prep is None:
        return []
    counts = np.bincount(prep.msg, minlength=len(prep.texts))
    table = [(prep.ranks[m], prep.texts[m], int(counts[m])) for m in range(len(prep.texts)) if counts[m]]
    table.sort(key=lambda t: (-t[0], -t[2], t[1]))
    return table


READINGS_TITLE = "Cách đọc các cột của tệp"
READINGS_HEADERS = ("Tiêu đề cột trong tệp", "Cột", "Đọc là", "Cách đọc", "Số ô có dữ liệu")
NOT_USED = "—"


def readings_table(readings: Sequence[Any], kind: str | None) -> list[tuple[str, str, str, str, int, bool]]:
    """One line per column of the file (`ReadResult.column_readings`): the heading as written, its column
    letter, the kind's column it was read as (its Vietnamese header; "—" when not used), how it was read
    (`describe_how`), the cells holding a value, and whether the district should look at it (a column
    guessed from its content, or one holding data that was not used)."""
    from campaign.io.columns import CONTENT, IGNORED, describe_how

    spec = load_input_kinds().kinds.get(kind) if kind else None
    out = []
    for r in readings:
        read_as = NOT_USED
        if r.field is not None:
            try:
                read_as = spec.column(r.field).header if spec is not None else str(r.field)
            except KeyError:
                read_as = str(r.field)
        look = r.how == CONTENT or (r.how == IGNORED and r.field is None and r.cells > 0)
        out.append((str(r.heading), str(r.letter), read_as, describe_how(r), int(r.cells), look))
    return out


def _write_readings(ws, fmts: _Formats, r: int, readings: Sequence[Any], kind: str | None) -> int:
    lines = readings_table(readings, kind)
    if not lines:
        return r
    r += 1
    ws.write_string(r, 0, READINGS_TITLE, fmts.label)
    r += 1
    for j, head in enumerate(READINGS_HEADERS):
        ws.write_string(r, j, head, fmts.th)
    r += 1
    for heading, letter, read_as, how, cells, look in lines:
        fmt = fmts.own_warn if look else fmts.own
        for j, v in enumerate((heading, letter, read_as, how, _vi_int(cells))):
            ws.write_string(r, j, v, fmt[starts_formula(v)])
        r += 1
    return r


def _write_summary(ws, fmts: _Formats, *, kind: str | None, sheet: str | None, status_counts: dict[str, int],
                   rows_total: int, rows_skipped: int, blocking_message: str | None, info: Mapping[str, str] | None,
                   source_name: str | None, table: list[tuple[int, str, int]],
                   rejected: list[tuple[int, str]], rebuilt: bool, csv_name: str | None = None,
                   readings: Sequence[Any] = (), problems: tuple[str, list[int], int, int] | None = None) -> None:
    """`problems` (a CSV upload's workbook): (its sheet of problem rows, the row of each `rejected` entry
    in it, the rows it lists, the rows it could not hold)."""
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 60 if readings else 110)
    if readings:
        ws.set_column(2, 2, 30)
        ws.set_column(3, 3, 34)
        ws.set_column(4, 4, 16)
    ws.write_string(0, 0, "KẾT QUẢ KIỂM TRA TỆP DỮ LIỆU", fmts.title)
    r = 2
    pairs: list[tuple[str, str]] = []
    if kind:
        pairs.append(("Loại dữ liệu", _kind_label(kind)))
    if source_name:
        pairs.append(("Tệp đã gửi", source_name))
    if sheet:
        pairs.append(("Trang tính đã đọc", sheet))
    for k, v in (info or {}).items():
        pairs.append((str(k), str(v)))
    r = _write_pairs(ws, fmts, r, pairs)
    r += 1
    refused = bool(blocking_message)
    ws.write_string(r, 0, "Kết quả", fmts.label)
    if refused:
        ws.write_string(r, 1, "BỊ TỪ CHỐI: cả tệp không được ghi nhận (không dòng nào được nhận)", fmts.bad)
        r += 1
        ws.write_string(r, 0, "Lý do từ chối", fmts.label)
        ws.write_string(r, 1, _safe_own(blocking_message or ""), fmts.bad)
    else:
        n_bad = status_counts.get(REJECTED, 0)
        text = "ĐÃ NHẬN" if not n_bad else f"ĐÃ NHẬN, trừ {_vi_int(n_bad)} dòng bị loại"
        ws.write_string(r, 1, text, fmts.good)
    r += 2
    if rows_total or not refused:
        loaded = 0 if refused else rows_total - status_counts.get(REJECTED, 0)
        n = _vi_int
        counts = [
            ("Số dòng dữ liệu", n(rows_total)),
            ("Số dòng được ghi nhận", n(loaded)),
            ("Số dòng bị loại (tô đỏ)", n(status_counts.get(REJECTED, 0))),
            ("Số dòng cần kiểm tra (tô vàng)", n(status_counts.get(WARNING, 0))),
            ("Số dòng đã nhận, chỉ có giá trị được sửa tự động", n(status_counts.get(REPAIRED, 0))),
            ("Số dòng không phải dữ liệu (tiêu đề, dòng trống, tổng cộng, ghi chú), bỏ qua", n(rows_skipped)),
        ]
        r = _write_pairs(ws, fmts, r, counts)
        r += 1
    if sheet or csv_name:
        where = f"ở bên phải trang «{sheet}»" if sheet else f"(trường cuối mỗi dòng) của tệp «{csv_name}»"
        guide = (f"Xem cột «{RESULT_HEADER}» {where}: mỗi dòng dữ liệu ghi «OK» hoặc lý do. "
                 "Số dòng nói đến ở đây là số dòng của tệp đã gửi, như Excel hiển thị.")
        if sheet:
            guide += (" Dòng tô đỏ bị loại, dòng tô vàng đã nhận nhưng cần kiểm tra. Dùng bộ lọc ở dòng tiêu đề "
                      "để xem riêng các dòng bị loại.")
        else:
            guide += (" Tệp CSV được trả lại dạng CSV (mã UTF-8), đúng từng dòng như tệp đã gửi, để mọi dòng đều có "
                      "kết quả dù tệp dài đến đâu.")
            if problems is not None and problems[2]:
                guide += (f" Các dòng bị loại (tô đỏ) và cần kiểm tra (tô vàng) được chép riêng sang trang "
                          f"«{problems[0]}» của tệp này, cột «{ROW_NUMBER_HEADER}» là số dòng trong tệp đã gửi.")
            elif problems is not None:
                guide += " Không có dòng nào bị loại hay cần kiểm tra."
        if refused:
            guide += " Xin sửa theo lý do từ chối ở trên và các dòng bị loại, rồi gửi lại cả tệp (có thể gửi lại chính tệp này)."
        else:
            guide += " Xin sửa các dòng bị loại rồi gửi lại cả tệp (có thể gửi lại chính tệp này)."
        ws.write_string(r, 0, "Cách xem", fmts.label)
        ws.write_string(r, 1, guide, fmts.note)
        r += 1
    if rebuilt:
        ws.write_string(r, 1, f"Không có tệp gốc: {'trang dữ liệu' if sheet else 'tệp CSV'} chỉ gồm dòng tiêu đề "
                              "và các dòng dữ liệu, ở đúng số dòng của tệp đã gửi.", fmts.note)
        r += 1
    if problems is not None and problems[3]:
        ws.write_string(r, 1, f"Trang «{problems[0]}» chỉ chứa được {_vi_int(problems[2])} dòng đầu; "
                              f"{_vi_int(problems[3])} dòng còn lại xem trong tệp CSV.", fmts.note)
        r += 1
    r = _write_readings(ws, fmts, r, readings, kind)
    if table:
        r += 1
        ws.write_string(r, 0, "Số dòng", fmts.th)
        ws.write_string(r, 1, "Lý do", fmts.th)
        r += 1
        for rank, text, count in table:
            fmt = fmts.result[_STATUS_OF_RANK[rank]]
            ws.write_string(r, 0, _vi_int(count), fmt)
            ws.write_string(r, 1, _safe_own(f"{_NEXT_HEAD[rank]}: {text}"), fmt)
            r += 1
    if rejected:
        r += 1
        more = "" if len(rejected) < MAX_LISTED_ROWS else f" ({MAX_LISTED_ROWS} dòng đầu)"
        ws.write_string(r, 0, f"Các dòng bị loại{more}", fmts.th)
        ws.write_string(r, 1, "Lý do", fmts.th)
        r += 1
        target = _quoted(sheet) if sheet else _quoted(problems[0]) if problems is not None and problems[2] else None
        at = problems[1] if problems is not None else None
        for i, (row_number, message) in enumerate(rejected):
            if target and at is not None and at[i] <= 0:
                ws.write_string(r, 0, f"Dòng {row_number}", fmts.label)
            elif target:
                link_row = at[i] if at is not None else row_number
                ws.write_url(r, 0, f"internal:{target}!A{link_row}", fmts.link, string=f"Dòng {row_number}")
            else:
                ws.write_string(r, 0, f"Dòng {row_number}", fmts.label)
            ws.write_string(r, 1, _safe_own(message), fmts.result[REJECTED])
            r += 1


def write_feedback(read: ReadResult, messages: Sequence[str], statuses: Sequence[str], out_path: Path | str, *,
                   source_name: str | None = None,
                   blocking_message: str | None, source: Path | str | None = None,
                   issues: pd.DataFrame | None = None, info: Mapping[str, str] | None = None,
                   annotated_csv: bool | None = None) -> Path:
    """Write the district's file back with the result column; returns the path of the annotated copy.

    read              the ReadResult of the upload
    messages          per data row (aligned with read.frame / read.row_numbers): `row_messages(...)`
    statuses          per data row: "ok" | "rejected" | "warning" | "repaired" (`row_statuses(...)`)
    out_path          where to write (a workbook upload: the suffix becomes .xlsx; a CSV upload: .csv). Files
                      appear atomically (temp + rename)
    blocking_message  the reason the whole file was refused (`blocking_text(checked.blocking, kind)`), or None
    source            the uploaded file: every cell of its sheet comes back at its place. Without it (or if it
                      cannot be read again) the layout is rebuilt from `read` (header + data rows)
    issues            optional: the issues frame, for the table of reasons on the summary sheet
    info              optional: more lines for the summary (district, submission id, received at...)
    annotated_csv     a CSV upload's copy as CSV (the default for CSV uploads; False: as .xlsx, as a workbook
                      upload's, when it fits in an Excel sheet)

    A workbook upload comes back as .xlsx: the summary sheet, then its sheet with every cell at its place
    and the result column. A CSV upload comes back as CSV (UTF-8 with BOM, every record at its line, the
    result «Kết quả kiểm tra» as one more field, every field that could start a formula prefixed with an
    apostrophe), with the workbook `problems_workbook_path(<the .csv>)` beside it: the summary sheet and,
    highlighted, only the rows rejected or to check (with their row numbers in the file). A CSV longer
    than an Excel sheet (1,048,576 rows; the intake limit is larger) always comes back that way.
    """
    n = len(read.row_numbers)
    if len(messages) != n or len(statuses) != n:
        raise ValueError(f"{len(messages)} messages and {len(statuses)} statuses for {n} data rows")
    bad = set(statuses) - set(STATUSES)
    if bad:
        raise ValueError(f"unknown statuses {sorted(bad)}; expected {STATUSES}")
    out = _target(out_path)
    if source is not None and _same_file(out, Path(source)):
        raise ValueError(f"the feedback would overwrite the uploaded file {source}")
    row_numbers = np.asarray(read.row_numbers, dtype=np.int64)

    status_arr = np.asarray(statuses, dtype=object)
    status_counts = {s: int((status_arr == s).sum()) for s in STATUSES}
    data_sheet = _sheet_name(read.sheet, DATA_SHEET_FOR_CSV)
    summary_sheet = SUMMARY_SHEET if SUMMARY_SHEET.lower() != data_sheet.lower() else "Kết quả"
    rejected_idx = np.flatnonzero(status_arr == REJECTED)[:MAX_LISTED_ROWS]
    rejected = [(int(row_numbers[i]), messages[i]) for i in rejected_idx]
    table = _issue_table(issues, read.kind, read.column_headers) if issues is not None else []
    summary_args = dict(kind=read.kind, status_counts=status_counts, rows_total=n,
                        rows_skipped=len(read.skipped_rows), blocking_message=blocking_message, info=info,
                        source_name=source_name or (Path(source).name if source is not None else None), table=table,
                        readings=list(getattr(read, "column_readings", None) or []))
    is_csv = read.file_format == "csv"
    last_line = int(max(row_numbers.max(initial=0), max((int(h) for h in read.header_rows), default=0)))
    if is_csv and (annotated_csv is None or annotated_csv or last_line > EXCEL_MAX_ROWS):
        return _write_csv_upload_feedback(read, messages, status_arr, out, source, rejected_idx, rejected,
                                          summary_args)

    grid, pos = _grid_of(read, source, row_numbers)
    too_long = len(grid.row_numbers) and int(grid.row_numbers[-1]) > EXCEL_MAX_ROWS
    if too_long and is_csv:   # lines the read did not count (notes after the data) beyond Excel's last row
        return _write_csv_upload_feedback(read, messages, status_arr, out, source, rejected_idx, rejected,
                                          summary_args)
    if too_long:   # cannot happen for a workbook (its own rows are Excel rows); refuse rather than corrupt
        raise ValueError(f"row {int(grid.row_numbers[-1])} is beyond Excel's last row {EXCEL_MAX_ROWS}")

    def fill(wb: xlsxwriter.Workbook) -> None:
        fmts = _Formats(wb)
        summary = wb.add_worksheet(summary_sheet)
        ws = wb.add_worksheet(data_sheet)
        _write_summary(summary, fmts, sheet=data_sheet, rejected=rejected, rebuilt=grid.rebuilt, **summary_args)
        _write_data_sheet(ws, fmts, grid, read, pos, messages, statuses)
        if len(grid.row_numbers) * (len(grid.columns) + 1) > 20_000_000:
            wb.use_zip64()   # a sheet XML beyond 4 GB needs it (Excel 2010 and later read it)

    return _atomic_write(out, fill)


def _grid_of(read: Any, source: Path | str | None, row_numbers: np.ndarray) -> tuple[_Grid, np.ndarray]:
    """The uploaded sheet as the reader sees it (or, without the file, rebuilt from the read), and the grid
    row of every data row."""
    grid = None
    if source is not None:
        try:
            grid = _source_grid(Path(source), read)
        except Exception:   # the feedback must not fail because the stored original went missing
            log.exception("could not read %s again for the feedback; rebuilding the layout", source)
    if grid is not None:
        pos = np.searchsorted(grid.row_numbers, row_numbers)
        found = pos < len(grid.row_numbers)
        found[found] = grid.row_numbers[pos[found]] == row_numbers[found]
        if not found.all():
            log.error("re-read of %s does not hold every data row of the read; rebuilding the layout", source)
            grid = None
    if grid is None:
        grid = _rebuilt_grid(read)
        pos = np.searchsorted(grid.row_numbers, row_numbers)
    return grid, pos


def _write_csv_upload_feedback(read: Any, messages: Sequence[str], status_arr: np.ndarray, out: Path,
                               source: Path | str | None, rejected_idx: np.ndarray, rejected: list[tuple[int, str]],
                               summary_args: dict[str, Any]) -> Path:
    """A CSV upload: the annotated copy as CSV, then the workbook of the summary and the problem rows."""
    csv_out = out.with_suffix(".csv")
    if source is not None and _same_file(csv_out, Path(source)):
        csv_out = out.with_suffix(".feedback.csv")
    rebuilt = False
    written = False
    if source is not None and Path(source).is_file():
        try:
            _write_csv_copy(csv_out, Path(source), read, messages)
            written = True
        except _CopyUnsafe as exc:
            log.info("copying %s as it is was not safe (%s); writing it from the reader's grid", source, exc)
        except Exception:
            log.exception("could not copy %s for the feedback; writing it from the reader's grid", source)
    if not written:
        row_numbers = np.asarray(read.row_numbers, dtype=np.int64)
        grid, pos = _grid_of(read, source, row_numbers)
        rebuilt = grid.rebuilt
        _write_csv_feedback(csv_out, grid, read, pos, messages)

    problem_idx = np.flatnonzero((status_arr == REJECTED) | (status_arr == WARNING))
    listed = problem_idx[:EXCEL_MAX_ROWS - 1]
    # the row of each listed rejected row in the problems sheet (header at row 1), 0 if not listed
    at = np.searchsorted(listed, rejected_idx)
    found = at < len(listed)
    found[found] = listed[at[found]] == rejected_idx[found]
    link_rows = np.where(found, at + 2, 0).astype(np.int64).tolist()
    problems = (PROBLEMS_SHEET, link_rows, len(listed), len(problem_idx) - len(listed))

    def fill(wb: xlsxwriter.Workbook) -> None:
        fmts = _Formats(wb)
        summary = wb.add_worksheet(SUMMARY_SHEET)
        ws = wb.add_worksheet(PROBLEMS_SHEET) if len(listed) else None
        _write_summary(summary, fmts, sheet=None, rejected=rejected, csv_name=csv_out.name, rebuilt=rebuilt,
                       problems=problems, **summary_args)
        if ws is not None:
            _write_problems_sheet(ws, fmts, read, listed, messages, status_arr)

    _atomic_write(problems_workbook_path(csv_out), fill)
    return csv_out


def _write_problems_sheet(ws, fmts: _Formats, read: Any, idx: np.ndarray, messages: Sequence[str],
                          status_arr: np.ndarray) -> None:
    """The rows `idx` (positions of data rows) as the district wrote them (`read.original_rows`), after a
    first column with their row number in the file, highlighted, with their result."""
    original = read.original_rows
    k = len(idx)
    row_numbers = np.asarray(read.row_numbers, dtype=np.int64)
    first = np.empty(k + 1, dtype=object)
    first[0] = ROW_NUMBER_HEADER
    first[1:] = row_numbers[idx].astype(str).astype(object)
    cols = [first]
    subset = original.iloc[idx] if len(original.columns) else original
    for j, label in enumerate(original.columns):
        col = np.empty(k + 1, dtype=object)
        col[0] = str(label)
        col[1:] = subset.iloc[:, j].to_numpy(dtype=object, na_value=None)
        cols.append(col)
    grid = _Grid(cols, np.arange(1, k + 2, dtype=np.int64), [], rebuilt=False)
    header = type("_Header", (), {"header_rows": [1]})()
    _write_data_sheet(ws, fmts, grid, header, np.arange(1, k + 1, dtype=np.int64),
                      [messages[i] for i in idx.tolist()], status_arr[idx].tolist())


def _write_csv_feedback(out: Path, grid: _Grid, read: Any, pos: np.ndarray, messages: Sequence[str]) -> Path:
    """The CSV path (a file longer than an Excel sheet): every record at its own line, as read, plus the
    result field; formula-looking fields get a leading apostrophe (a CSV cannot say "this is text")."""
    n_grid = len(grid.row_numbers)
    msg_at: list[str | None] = [None] * n_grid
    for i, g in enumerate(pos.tolist()):
        msg_at[g] = _safe_own(messages[i])
    header_rows = [int(h) for h in read.header_rows]
    first_header = header_rows[0] if header_rows else None
    rn_l = grid.row_numbers.tolist()
    cols = [c.tolist() for c in grid.columns]
    header_idx = np.flatnonzero(np.isin(grid.row_numbers, header_rows))
    width = _present_width(grid.columns, np.concatenate((header_idx, pos)).astype(np.int64))
    fd, tmp_name = tempfile.mkstemp(prefix=".feedback-", suffix=".csv", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            line = 1
            rows_iter = zip(*cols, strict=True) if cols else iter([()] * n_grid)
            for g, cells in enumerate(rows_iter):
                while line < rn_l[g]:          # lines taken by the previous record's line breaks, or gaps
                    fh.write("\r\n")
                    line += 1
                fields = [csv_safe(v if v is None or type(v) is str else str(v)) for v in cells]
                while fields and fields[-1] == "":
                    fields.pop()
                if msg_at[g] is not None:
                    fields += [""] * (width - len(fields)) + [csv_safe(msg_at[g])]
                elif rn_l[g] == first_header:
                    fields += [""] * (width - len(fields)) + [RESULT_HEADER]
                writer.writerow(fields)
                line += 1 + sum(f.count("\n") for f in fields)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


# ---------------------------------------------------------------------------------------------------------
# A CSV upload: its own records back as CSV (fast), the rows with problems as a workbook
# ---------------------------------------------------------------------------------------------------------

PROBLEMS_SHEET = "Dòng bị loại, cần kiểm tra"
PROBLEMS_SUFFIX = ".problems.xlsx"
ROW_NUMBER_HEADER = "Dòng"
_CSV_DELIMITERS = (",", ";", "\t", "|")          # the reader's candidates, in its order
_SEPARATOR_BYTES = np.frombuffer(b",;\t|\n", dtype=np.uint8)
_TRIGGER_BYTES = np.frombuffer("".join(c for c in sorted(FORMULA_TRIGGERS) if ord(c) < 128).encode(), dtype=np.uint8)
_FULLWIDTH_TRIGGER_THIRD = np.frombuffer(
    bytes(c.encode()[2] for c in FORMULA_TRIGGERS if ord(c) >= 128), dtype=np.uint8)   # EF BC xx
_COPY_CHUNK_RECORDS = 100_000


def problems_workbook_path(feedback_path: Path | str) -> Path:
    """The workbook beside a CSV upload's annotated copy: the summary and the rows with problems."""
    p = Path(feedback_path)
    return p.with_name(p.stem + PROBLEMS_SUFFIX)


class _CopyUnsafe(Exception):
    """The fast copy cannot vouch for this file (records the csv module splits otherwise): use the grid path."""


def _choose_delimiter(record_texts: list[str], labels: set[str]) -> str:
    """The delimiter that splits the header record(s) into the headings the reader found (ties: the
    reader's order); without headings, the one giving the most fields."""
    best, best_score = ",", (-1, -1)
    for d in _CSV_DELIMITERS:
        if not any(d in t for t in record_texts):
            continue
        matched = fields = 0
        for t in record_texts:
            try:
                rows = list(csv.reader(io.StringIO(t, newline=""), delimiter=d, skipinitialspace=True, strict=False))
            except csv.Error:
                continue
            for row in rows:
                for f in row:
                    f = " ".join(f.split())
                    if f:
                        fields += 1
                        matched += any(f in label for label in labels)
        if (matched, fields) > best_score:
            best, best_score = d, (matched, fields)
    return best


def _csv_line(fields: list[str], delimiter: str) -> str:
    """One CSV line as the csv module writes it (RFC 4180 quoting where needed), and a field starting with
    a space quoted too: a reader skipping initial spaces (ours, pandas') then keeps it as it is, and the
    character after the space cannot start a formula there."""
    if fields == [""]:
        return '""\r\n'                  # one empty field, not an empty line (as the csv module writes it)
    out = []
    for f in fields:
        if f and (f[0] == " " or delimiter in f or '"' in f or "\r" in f or "\n" in f):
            f = '"' + f.replace('"', '""') + '"'
        out.append(f)
    return delimiter.join(out) + "\r\n"


def _render_record(text: str, delimiter: str, width: int | None, tail: str | None) -> str:
    """One record through the csv module: every field formula-safe (`csv_safe`); with `tail`, the fields
    beyond `width` that are empty dropped (all of them when the file is itself a feedback copy: its old
    result column), padded to `width`, then `tail`. Keeps the record's line breaks (its line count)."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                               skipinitialspace=True, strict=False))
    except csv.Error as exc:
        raise _CopyUnsafe(str(exc)) from None
    rows = rows or [[]]
    out = []
    for i, row in enumerate(rows):
        fields = [csv_safe(f) for f in row]
        if tail is not None and width is not None and i == len(rows) - 1:
            while len(fields) > width and fields[-1] == "":
                fields.pop()
            fields = fields[:width] + [""] * (width - len(fields)) + [tail]
        out.append(_csv_line(fields, delimiter))
    rendered = "".join(out)
    if rendered.count("\n") != text.count("\n") + 1:   # a line more or less would move every later row
        raise _CopyUnsafe("record lines changed")
    return rendered


def _stripped_width(text: str, delimiter: str) -> int:
    """Fields of one record through the csv module, trailing empty ones left out."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                               skipinitialspace=True, strict=False))
    except csv.Error as exc:
        raise _CopyUnsafe(str(exc)) from None
    width = 0
    for row in rows:
        while row and row[-1] == "":
            row.pop()
        width = max(width, len(row))
    return width


def _scan_records(arr: np.ndarray, starts: np.ndarray, cend: np.ndarray, dch: int,
                  quotes: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per record (vectorised, a chunk of records at a time): (fields as the delimiters outside quotes
    count them, trailing empty fields, whether the record needs the csv module, whether some trailing empty
    field is more than a bare delimiter: spaces or `""`). A record needs the csv module when
    it holds a quote that is not plain RFC 4180 quoting (opening at a field start, closing before a
    delimiter or the record's end, or doubled), or when any place that could start a field, by any
    delimiter and after any line break, starts (after spaces and an opening quote) with a character that
    makes a spreadsheet evaluate the cell: those fields get `csv_safe`'s apostrophe."""
    n_rec = len(starts)
    nfields = np.ones(n_rec, dtype=np.int64)
    slow = np.zeros(n_rec, dtype=bool)
    n = len(arr)
    trigger = np.zeros(256, dtype=bool)
    trigger[_TRIGGER_BYTES] = True
    trigger[32] = True                       # more than four spaces: let the csv module decide
    for a in range(0, n_rec, _COPY_CHUNK_RECORDS):
        b = min(a + _COPY_CHUNK_RECORDS, n_rec)
        lo, hi = int(starts[a]), int(starts[b]) if b < n_rec else n
        seg = arr[lo:hi]
        m = len(seg)
        if not m:
            continue
        rel = starts[a:b] - lo
        rel_end = cend[a:b] - lo

        def record_of(pos: np.ndarray, rel: np.ndarray = rel) -> np.ndarray:
            return np.searchsorted(rel, pos, side="right") - 1

        # every place after which a field could start, whichever delimiter, and after any line break
        sep = (seg == 44) | (seg == 59) | (seg == 9) | (seg == 124) | (seg == 10)
        spos = np.flatnonzero(sep)
        del sep
        dpos = spos[seg[spos] == dch]
        qpos = np.flatnonzero(seg == 34) if quotes else spos[:0]
        cr = np.flatnonzero(seg == 13)
        if len(cr):                              # a carriage return alone ends a line for a spreadsheet
            lone = cr[seg[np.minimum(cr + 1, m - 1)] != 10]
            lone = lone[lone < rel_end[np.clip(record_of(lone), 0, b - a - 1)]]   # not its line ending
            if len(lone):
                slow[a + np.unique(record_of(lone))] = True
        if len(qpos):
            after = (np.arange(1, len(qpos) + 1) & 1) == 1           # inside quotes after this quote
            prev = seg[np.maximum(qpos - 1, 0)]
            at_record_start = np.isin(qpos, rel)
            opens_ok = at_record_start | (prev == dch) | (prev == 34)
            nxt = seg[np.minimum(qpos + 1, m - 1)]
            at_end = qpos + 1 >= rel_end[np.clip(record_of(qpos), 0, b - a - 1)]
            closes_ok = at_end | (nxt == dch) | (nxt == 34) | (nxt == 13) | (nxt == 10)
            bad = np.where(after, ~opens_ok, ~closes_ok)
            if bad.any():
                slow[a + np.unique(record_of(qpos[bad]))] = True
            q_before = np.searchsorted(qpos, rel)                     # quotes before each record
            q_count = np.diff(np.append(q_before, len(qpos)))
            slow[a:b] |= (q_count & 1) == 1
            dpos = dpos[(np.searchsorted(qpos, dpos) & 1) == 0]      # delimiters outside quotes
        d_before = np.searchsorted(dpos, rel)
        nfields[a:b] += np.diff(np.append(d_before, len(dpos)))
        # what starts there, after spaces and an opening quote
        fs = spos + 1
        fs = np.concatenate(([0], fs[fs < m]))
        p = fs
        for _ in range(4):
            sp = seg[p] == 32
            if not sp.any():
                break
            p = np.where(sp, np.minimum(p + 1, m - 1), p)
        q = seg[p] == 34
        if q.any():
            p = np.where(q, np.minimum(p + 1, m - 1), p)
        c = seg[p]
        susp = trigger[c] & ~((c == dch) & ~q)                     # the delimiter: an empty field
        if susp.any():
            nxt = seg[np.minimum(p + 1, m - 1)]
            susp &= ~((c == 13) & (nxt == 10) & ~q)                   # a line ending after an empty field
        wide = c == 0xEF
        if wide.any():
            nxt = seg[np.minimum(p + 1, m - 1)]
            third = seg[np.minimum(p + 2, m - 1)]
            susp |= wide & (nxt == 0xBC) & np.isin(third, _FULLWIDTH_TRIGGER_THIRD)
        if susp.any():
            slow[a + np.unique(record_of(fs[susp]))] = True
    # trailing empty fields, from the end: nothing or spaces after a delimiter (the csv module skips initial
    # spaces), or `""`; `irregular`: some were not a bare delimiter (cutting them takes the csv module)
    trail = np.zeros(n_rec, dtype=np.int64)
    irregular = np.zeros(n_rec, dtype=bool)
    cand = np.arange(n_rec)
    pos = cend.copy()
    while len(cand):
        lo = starts[cand]
        spaces = np.zeros(len(cand), dtype=bool)
        while True:
            more = (pos > lo) & (arr[np.maximum(pos - 1, 0)] == 32)
            if not more.any():
                break
            pos = pos - more
            spaces |= more
        last = arr[np.maximum(pos - 1, 0)]
        quoted = ((pos - lo >= 2) & (last == 34) & (arr[np.maximum(pos - 2, 0)] == 34)
                  & ((pos - 2 == lo) | (arr[np.maximum(pos - 3, 0)] == dch)))
        empty = (pos == lo) | (last == dch) | quoted
        cand, pos, lo, spaces, quoted = cand[empty], pos[empty], lo[empty], spaces[empty], quoted[empty]
        trail[cand] += 1
        irregular[cand] |= spaces | quoted
        pos = np.where(quoted, pos - 2, pos)
        first = pos <= lo                      # the empty field was the record's first: nothing before it
        cand, pos = cand[~first], pos[~first] - 1   # else drop the delimiter before it too
    return nfields, trail, slow, irregular


def _records(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The reader's record starts and start lines (`campaign.io.csv_read._record_starts`); without any quote
    in the file every line is a record, which is found without the quote-aware search."""
    from campaign.io.csv_read import _record_starts

    if b'"' in buf:
        return _record_starts(buf)
    arr = np.frombuffer(buf, dtype=np.uint8)
    step = 1 << 24
    nl = [np.flatnonzero(arr[lo:lo + step] == 10) + lo for lo in range(0, len(arr), step)]
    starts = np.concatenate(([0], *(x + 1 for x in nl))).astype(np.int64)
    if len(starts) and starts[-1] >= len(buf):
        starts = starts[:-1]
    return starts, np.arange(1, len(starts) + 1, dtype=np.int64)


def _write_csv_copy(out: Path, source: Path, read: Any, messages: Sequence[str]) -> None:
    """The uploaded CSV's own records, transcoded to UTF-8 with a BOM, each at the line it starts on, the
    result as one more field: at the right of the first header row «Kết quả kiểm tra», at the right of
    every data row its result, in the column after the table's widest header or data row. Records that
    need no care are copied as they are (a million rows in about a second); the others (quoted fields
    that are not plain, fields that could start a formula) go through the csv module with `csv_safe`.
    Raises `_CopyUnsafe` (or any error) when it cannot vouch for the copy: the caller then writes it from
    the reader's grid."""
    from campaign.io.sniff import decode_text, utf8_buffer

    data = source.read_bytes()
    # the reader's own buffer (same transcoding), hence its record starts and line numbers
    buf = utf8_buffer(data, *decode_text(data))
    del data
    starts, lines = _records(buf)
    n_rec = len(starts)
    row_numbers = np.asarray(read.row_numbers, dtype=np.int64)
    data_rec = np.searchsorted(lines, row_numbers) if n_rec else np.zeros(0, dtype=np.int64)
    if len(row_numbers) and (data_rec.max() >= n_rec or (lines[data_rec] != row_numbers).any()):
        raise _CopyUnsafe("data rows are not records of the file")
    header_rec = [int(k) for h in read.header_rows for k in [int(np.searchsorted(lines, int(h)))]
                  if k < n_rec and lines[k] == int(h)]
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = np.append(starts[1:], len(buf)).astype(np.int64)
    cend = ends.copy()
    ending = np.zeros(n_rec, dtype=np.int64)      # the record's line ending (ours to write): 2 CRLF, 1 LF, 0 none
    for byte in (10, 13):
        strip = (cend > starts) & (arr[np.maximum(cend - 1, 0)] == byte)
        if byte == 13:
            strip &= ending == 1
        cend[strip] -= 1
        ending += strip
    if n_rec and ending[-1] == 0 and cend[-1] > starts[-1] and arr[cend[-1] - 1] == 13:
        cend[-1] -= 1                             # the last record's old Mac line ending: ours too

    def record_text(k: int) -> str:
        return buf[int(starts[k]):int(cend[k])].decode("utf-8", errors="replace")

    labels = {" ".join(str(v).split()) for v in (read.column_headers or {}).values()}
    labels |= {" ".join(r.heading.split()) for r in getattr(read, "column_readings", None) or []}
    delimiter = _choose_delimiter([record_text(k) for k in header_rec] or
                                  ([record_text(int(data_rec[0]))] if len(data_rec) else []), labels)
    dch = ord(delimiter)
    nfields, trail, slow, irregular = _scan_records(arr, starts, cend, dch, quotes=b'"' in buf)

    # the table's width: its widest header or data row, trailing empty fields left out
    table_rec = np.concatenate((np.asarray(header_rec, dtype=np.int64), data_rec))   # a repeat does no harm
    widths = nfields[table_rec] - trail[table_rec]
    width = int(widths[~slow[table_rec]].max()) if (~slow[table_rec]).any() else 0
    for k in table_rec[slow[table_rec]].tolist():
        width = max(width, _stripped_width(record_text(k), delimiter))
    if header_rec:
        try:
            head = list(csv.reader(io.StringIO(record_text(header_rec[0]), newline=""), delimiter=delimiter,
                                   skipinitialspace=True, strict=False))
        except csv.Error as exc:
            raise _CopyUnsafe(str(exc)) from None
        head_fields = head[-1] if head else []
        while head_fields and head_fields[-1] == "":
            head_fields.pop()
        if head_fields and head_fields[-1].strip() == RESULT_HEADER:
            # the file is itself a feedback copy, fixed and sent again: its result column is replaced
            width = len(head_fields) - 1
            slow[table_rec] = True

    # what follows each record: a line ending, or padding and the result field
    ids, distinct = pd.factorize(pd.Series(list(messages), dtype=object), use_na_sentinel=False)
    tails = [_safe_own(str(m)) for m in distinct.tolist()]
    tail_id = np.full(n_rec, -1, dtype=np.int64)                  # -1: none; 0: the result header; 1+: a message
    tail_id[data_rec] = ids.astype(np.int64) + 1
    if header_rec:
        tail_id[header_rec[0]] = 0
    tail_text = [RESULT_HEADER, *tails]
    has_tail = tail_id >= 0
    pad = np.where(has_tail, np.maximum(width - nfields, 0), 0)
    cut = np.where(has_tail, np.maximum(nfields - width, 0), 0)   # trailing empty fields beyond the table
    # only trailing empty fields are cut (the width is the widest row's), one byte each unless quoted
    slow |= (cut > trail) | ((cut > 0) & irregular)
    key = np.where(has_tail, pad * (len(tail_text) + 1) + tail_id + 1, 0)
    inverse, ukeys = pd.factorize(key)
    suffix_of = []
    for k in np.asarray(ukeys).tolist():
        p_, t_ = divmod(k, len(tail_text) + 1)
        if t_ == 0:
            suffix_of.append(b"\r\n")
        else:
            result = _csv_line([tail_text[t_ - 1]], delimiter)
            suffix_of.append((delimiter * (p_ + 1) + result).encode("utf-8"))
    suffix_table = np.array(suffix_of, dtype=object)
    content_end = cend - np.where(slow, 0, cut)

    # Runs of records copied as they are, with the same ending and the same suffix, are written with one
    # replace of their line endings (each such record holds one line break: its own); the others one by one.
    one_line = np.ones(n_rec, dtype=bool)        # a quoted field may hold line breaks: not in a run
    one_line[:-1] = np.diff(lines) == 1
    if n_rec:
        one_line[-1] = b"\n" not in buf[int(starts[-1]):int(cend[-1])]
    alike = ~slow & (cut == 0) & (ending > 0) & one_line
    run_key = np.where(alike, inverse * 3 + ending, -1)
    new_run = np.ones(n_rec, dtype=bool)
    new_run[1:] = (run_key[1:] != run_key[:-1]) | ~alike[1:] | (np.arange(1, n_rec) % _COPY_CHUNK_RECORDS == 0)
    run_starts = np.flatnonzero(new_run)
    run_ends = np.append(run_starts[1:], n_rec)

    def one(k: int) -> bytes:
        t = int(tail_id[k])
        if slow[k]:
            return _render_record(record_text(k), delimiter, width if t >= 0 else None,
                                  tail_text[t] if t >= 0 else None).encode("utf-8")
        return buf[int(starts[k]):int(content_end[k])] + suffix_table[inverse[k]]

    fd, tmp_name = tempfile.mkstemp(prefix=".feedback-", suffix=".csv", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tmp.open("wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            parts: list[bytes] = []
            size = 0
            for r0, r1 in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
                if alike[r0]:
                    term = b"\r\n" if ending[r0] == 2 else b"\n"
                    part = buf[int(starts[r0]):int(ends[r1 - 1])].replace(term, suffix_table[inverse[r0]])
                else:
                    part = one(r0)
                parts.append(part)
                size += len(part)
                if size > 1 << 24:
                    fh.write(b"".join(parts))
                    parts, size = [], 0
            fh.write(b"".join(parts))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _RawRows:
    """The data sheet's rows rendered here, a chunk of rows at a time with numpy string operations, and
    appended to the sheet's constant-memory row file: the very file xlsxwriter streams its own rows to.
    Going through xlsxwriter's cell API costs ~13 us a cell (55 s of CPU for 200,000 x 21 cells); this
    ~1 us. Header rows still go through the API (merged, formatted); rows of both kinds follow each other
    in ascending order and the raw path keeps xlsxwriter's row cursor and the sheet dimensions up to date.
    It needs xlsxwriter's constant-memory internals (`_write_single_row`, `previous_row`, `fh`,
    `_check_dimensions`); a version without them gets the public API path (`supported` is False)."""

    def __init__(self, ws):
        self.ws = ws

    @staticmethod
    def supported(ws) -> bool:
        return (bool(getattr(ws, "constant_memory", False)) and callable(getattr(ws, "_write_single_row", None))
                and callable(getattr(ws, "_check_dimensions", None))
                and isinstance(getattr(ws, "previous_row", None), int)
                and hasattr(getattr(ws, "fh", None), "write"))

    def write(self, first_row: int, last_row: int, xml: str, last_col: int) -> None:
        """Rows first_row..last_row (0-based) as XML, after every row written so far."""
        ws = self.ws
        if first_row > ws.previous_row:
            ws._write_single_row(first_row)   # writes a row xlsxwriter still holds (a header row) first
        elif first_row < ws.previous_row:
            raise ValueError(f"rows must be written in ascending order ({first_row} after {ws.previous_row})")
        ws._check_dimensions(first_row, 0)
        ws._check_dimensions(last_row, last_col)
        ws.fh.write(xml)
        ws.previous_row = last_row


_CHUNK_ROWS = 20_000
_XML_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_EXCEL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_LEADING_SPACE = re.compile(r"\n\s")   # on the joined column, and on it reversed for trailing space
_TRIGGER_START = re.compile("\n[" + re.escape("".join(sorted(FORMULA_TRIGGERS))) + "]")


def _xml_cell_text(v: str) -> str:
    """The <t> element of an inline string, escaped as Excel (and xlsxwriter) do."""
    if _XML_SPECIAL.search(v) is not None:
        v = _EXCEL_ESCAPE.sub(r"_x005F\1", v)
        v = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", v)
        v = v.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if v[:1].isspace() or v[-1:].isspace():
        return f'<t xml:space="preserve">{v}</t>'
    return f"<t>{v}</t>"


def _needs_escaping(joined: str) -> bool:
    """Could any of the "\n"-joined cells need XML/Excel escaping or xml:space="preserve"? Substring and
    literal-prefixed searches only (C speed); a false alarm only sends the column down the slow path."""
    return ("&" in joined or "<" in joined or ">" in joined or "_x" in joined
            or _CONTROL_CHARS.search(joined) is not None
            or _LEADING_SPACE.search(joined) is not None or _LEADING_SPACE.search(joined[::-1]) is not None)


def _text_elements(col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(present mask, <t> elements of the present cells, formula-start mask of those or None). One
    C-level scan of the joined column decides whether its cells need escaping one by one."""
    present = col.astype(bool)
    vals = col[present]
    if not len(vals):
        return present, vals, None
    lst = vals.tolist()
    try:
        joined = "\n" + "\n".join(lst) + "\n"
    except TypeError:   # not a string (the reader gives str or None): as text
        lst = [str(v) for v in lst]
        vals = np.array(lst, dtype=object)
        joined = "\n" + "\n".join(lst) + "\n"
    if _needs_escaping(joined):
        elements = np.array([_xml_cell_text(v) for v in lst], dtype=object)
    else:
        elements = "<t>" + vals + "</t>"
    trig = None
    if _TRIGGER_START.search(joined) is not None:
        trig = np.fromiter((v[0] in FORMULA_TRIGGERS for v in lst), dtype=bool, count=len(lst))
    return present, elements, trig


def _col_letters(n: int) -> list[str]:
    from xlsxwriter.utility import xl_col_to_name

    return [xl_col_to_name(j) for j in range(n)]


_PLAIN = len(STATUSES)   # status code of rows that are not data


def _render_rows(cols: list[np.ndarray], idx: np.ndarray, row_numbers: np.ndarray, code: np.ndarray,
                 messages: np.ndarray, result_col: int, letters: list[str], xf: dict[str, Any]) -> str:
    """The <row> elements of grid rows `idx` (none of them a header row). `code`: status code per row
    (index in STATUSES, _PLAIN for rows that are not data); `messages`: the result text of data rows."""
    rs = row_numbers[idx].astype(str).astype(object)
    code = code[idx]
    open0, open1, blank = xf["open0"][code], xf["open1"][code], xf["blank"][code]
    has_blank = blank != ""
    cells: list[list[str]] = []
    close = "</is></c>"
    for j, col in enumerate(cols):
        present, elements, trig = _text_elements(col[idx])
        ref = '<c r="' + letters[j] + rs
        out = np.where(has_blank, ref + blank, "")
        if len(elements):
            opener = open0[present] if trig is None else np.where(trig, open1[present], open0[present])
            out[present] = ref[present] + opener + elements + close
        cells.append(out.tolist())
    data = code != _PLAIN
    res = np.full(len(idx), "", dtype=object)
    if data.any():
        ids, distinct = pd.factorize(messages[idx[data]])
        texts = np.array([_xml_cell_text(_safe_own(m)) for m in distinct.tolist()], dtype=object)[ids]
        res[data] = '<c r="' + letters[result_col] + rs[data] + xf["result"][code[data]] + texts + close
    cells.append(res.tolist())
    body = np.array(["".join(t) for t in zip(*cells, strict=True)], dtype=object)
    keep = data | (body != "")
    rows = '<row r="' + rs[keep] + '">' + body[keep] + "</row>"
    return "".join(rows.tolist())


def _write_data_sheet(ws, fmts: _Formats, grid: _Grid, read: Any, pos: np.ndarray, messages: Sequence[str],
                      statuses: Sequence[str], *, raw: bool | None = None) -> None:
    n_grid = len(grid.row_numbers)
    in_grid = set(grid.row_numbers.tolist())
    header_rows = sorted(int(h) for h in read.header_rows if int(h) in in_grid)
    is_header = np.isin(grid.row_numbers, header_rows) if header_rows else np.zeros(n_grid, dtype=bool)
    header_idx = np.flatnonzero(is_header)
    width = _present_width(grid.columns, np.concatenate((header_idx, pos)).astype(np.int64))

    # a file that is itself a feedback copy (fixed and sent again): its result column is replaced
    result_col = width
    if width and any(grid.columns[width - 1][i] is not None
                     and str(grid.columns[width - 1][i]).strip() == RESULT_HEADER for i in header_idx):
        result_col = width - 1
    result_col = min(result_col, 16383)
    cols = grid.columns[:result_col]

    data_at = np.full(n_grid, -1, dtype=np.int64)
    data_at[pos] = np.arange(len(pos))
    is_header &= data_at < 0
    status_code = {st: i for i, st in enumerate(STATUSES)}
    code = np.full(n_grid, _PLAIN, dtype=np.int64)
    code[pos] = np.fromiter((status_code[s] for s in statuses), dtype=np.int64, count=len(pos))
    msg_at = np.full(n_grid, "", dtype=object)
    msg_at[pos] = np.asarray(list(messages), dtype=object)

    # column widths from the header and the first data rows; text format for cells typed later
    sample = np.concatenate((header_idx, pos[:200])).astype(np.int64)
    for j, col in enumerate(cols):
        w = max((len(str(v)) for v in col[sample].tolist() if v), default=8)
        ws.set_column(j, j, float(min(max(w, 6), 40) + 1), fmts.text)
    ws.set_column(result_col, result_col, 90, fmts.text)

    first_header = header_rows[0] if header_rows else None
    last_header = header_rows[-1] if header_rows else None
    merges = getattr(ws, "merge", None)
    if isinstance(merges, list):   # registered only: the cells are written in row order below
        # the result column is ours from the first header row down: a merge of the district's reaching
        # into it there is dropped (a title merged wider than the table stays)
        top = (first_header if first_header is not None else int(_first_data_row(grid, pos))) - 1
        for r0, c0, r1, c1 in grid.merges:
            if not (r0 <= r1 and c0 <= c1 and (r0 != r1 or c0 != c1)) or c0 >= 16384 or r1 >= EXCEL_MAX_ROWS:
                continue
            if c0 <= result_col <= c1 and r1 >= top:
                continue
            merges.append([r0, c0, r1, c1])
        if first_header is not None and last_header is not None and last_header > first_header:
            merges.append([first_header - 1, result_col, last_header - 1, result_col])

    row_numbers = grid.row_numbers
    use_raw = _RawRows.supported(ws) if raw is None else (raw and _RawRows.supported(ws))
    if use_raw:
        sink = _RawRows(ws)

        def xfi(fmt) -> str:
            return str(fmt._get_xf_index())

        def opener(fmt) -> str:
            return f'" s="{xfi(fmt)}" t="inlineStr"><is>'

        xf = {
            "open0": np.array([opener(fmts.cell[(st, False)]) for st in STATUSES] + [opener(fmts.plain[False])],
                              dtype=object),
            "open1": np.array([opener(fmts.cell[(st, True)]) for st in STATUSES] + [opener(fmts.plain[True])],
                              dtype=object),
            "blank": np.array([f'" s="{xfi(fmts.cell[(st, False)])}"/>' if st in (REJECTED, WARNING) else ""
                               for st in STATUSES] + [""], dtype=object),
            "result": np.array([opener(fmts.result[st]) for st in STATUSES] + [""], dtype=object),
        }
        letters = _col_letters(result_col + 1)
        g = 0
        header_at = set(np.flatnonzero(is_header).tolist())
        while g < n_grid:
            if g in header_at:
                rn = int(row_numbers[g])
                _api_header_row(ws, fmts, rn - 1, [c[g] for c in cols], result_col, rn == first_header)
                g += 1
                continue
            stop = min(g + _CHUNK_ROWS, n_grid)
            nxt = [h for h in header_at if g < h < stop]
            if nxt:
                stop = min(nxt)
            idx = np.arange(g, stop)
            xml = _render_rows(cols, idx, row_numbers, code, msg_at, result_col, letters, xf)
            if xml:
                sink.write(int(row_numbers[g]) - 1, int(row_numbers[stop - 1]) - 1, xml, result_col)
            g = stop
    else:
        col_lists = [c.tolist() for c in cols]
        rn_l = row_numbers.tolist()
        data_at_l = data_at.tolist()
        is_header_l = is_header.tolist()
        rows_iter = zip(*col_lists, strict=True) if col_lists else iter([()] * n_grid)
        for g, cells in enumerate(rows_iter):
            r = rn_l[g] - 1
            d = data_at_l[g]
            if is_header_l[g]:
                _api_header_row(ws, fmts, r, cells, result_col, rn_l[g] == first_header)
                continue
            if d >= 0:
                st = statuses[d]
                f0, f1 = fmts.cell[(st, False)], fmts.cell[(st, True)]
                fill_blanks = st in (REJECTED, WARNING)
            else:
                f0, f1 = fmts.plain[False], fmts.plain[True]
                fill_blanks = False
            for j, v in enumerate(cells):
                if v is None or v == "":
                    if fill_blanks:
                        ws.write_blank(r, j, None, f0)
                    continue
                v = str(v)
                ws.write_string(r, j, v, f1 if v[0] in FORMULA_TRIGGERS else f0)
            if d >= 0:
                ws.write_string(r, result_col, _safe_own(messages[d]), fmts.result[st])

    if last_header is not None:
        ws.freeze_panes(last_header, 0)
        last_row = int(row_numbers[-1]) - 1 if n_grid else last_header - 1
        if last_row >= last_header:
            ws.autofilter(last_header - 1, 0, last_row, result_col)


def _first_data_row(grid: _Grid, pos: np.ndarray) -> int:
    """The first data row's number (1 when there is none)."""
    return int(grid.row_numbers[pos].min()) if len(pos) else 1


def _api_header_row(ws, fmts: _Formats, r: int, cells: Sequence[Any], result_col: int, first: bool) -> None:
    """A header row through xlsxwriter's API (bold, bordered; blanks formatted so merged cells look whole)."""
    for j, v in enumerate(cells):
        if v is None or v == "":
            ws.write_blank(r, j, None, fmts.header[False])
            continue
        v = str(v)
        ws.write_string(r, j, v, fmts.header[v[0] in FORMULA_TRIGGERS])
    if first:
        ws.write_string(r, result_col, RESULT_HEADER, fmts.result_header)
    else:
        ws.write_blank(r, result_col, None, fmts.result_header)


def write_refusal(out_path: Path | str, blocking_message: str, *, kind: str | None = None,
                  source_name: str | None = None, info: Mapping[str, str] | None = None) -> Path:
    """The feedback for a file that could not be read at all (no ReadResult): the summary sheet alone."""
    out = _target(out_path)

    def fill(wb: xlsxwriter.Workbook) -> None:
        fmts = _Formats(wb)
        ws = wb.add_worksheet(SUMMARY_SHEET)
        _write_summary(ws, fmts, kind=kind, sheet=None, status_counts={}, rows_total=0, rows_skipped=0,
                       blocking_message=blocking_message or "tệp không đọc được", info=info,
                       source_name=source_name, table=[], rejected=[], rebuilt=False)

    return _atomic_write(out, fill)
