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
- `write_feedback(read, messages, statuses, out_path, blocking_message=..., source=...)`: the annotated
  copy as .xlsx, also for CSV uploads (Excel opening a CSV drops leading zeros, reinterprets dates by the
  PC's locale, evaluates "=..." cells and cannot show a highlight or a summary sheet). With `source` (the
  uploaded file) every cell of the sheet comes back at its own row and column (title rows, the header,
  blank/totals/notes rows, merged header cells); data rows stay at their row numbers, so "dòng 7" in any
  report is row 7 of the feedback. CSV records are placed at the line they start on. Without `source`
  the layout is rebuilt from the ReadResult (header row and data rows at their row numbers).
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
    from campaign.io import reader as rd

    kinds = load_input_kinds()
    spec = kinds.kinds[read.kind]
    if read.file_format == "csv":
        cand, _encoding = rd._csv_candidates(source, kinds, spec, 1 << 40)
    else:
        names: list[str] = []
        cand = next((c for c in rd._workbook_candidates(source, read.file_format, kinds, names)
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


def _write_summary(ws, fmts: _Formats, *, kind: str | None, sheet: str | None, status_counts: dict[str, int],
                   rows_total: int, rows_skipped: int, blocking_message: str | None, info: Mapping[str, str] | None,
                   source_name: str | None, table: list[tuple[int, str, int]],
                   rejected: list[tuple[int, str]], rebuilt: bool, csv_name: str | None = None) -> None:
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 110)
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
            guide += " Tệp dài hơn một trang Excel nên kết quả được trả lại dạng CSV, đúng từng dòng như tệp đã gửi."
        if refused:
            guide += " Xin sửa theo lý do từ chối ở trên và các dòng bị loại, rồi gửi lại cả tệp (có thể gửi lại chính tệp này)."
        else:
            guide += " Xin sửa các dòng bị loại rồi gửi lại cả tệp (có thể gửi lại chính tệp này)."
        ws.write_string(r, 0, "Cách xem", fmts.label)
        ws.write_string(r, 1, guide, fmts.note)
        r += 1
    if rebuilt:
        ws.write_string(r, 1, "Không có tệp gốc: trang dữ liệu chỉ gồm dòng tiêu đề và các dòng dữ liệu, "
                              "ở đúng số dòng của tệp đã gửi.", fmts.note)
        r += 1
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
        target = _quoted(sheet) if sheet else None
        for row_number, message in rejected:
            if target:
                ws.write_url(r, 0, f"internal:{target}!A{row_number}", fmts.link, string=f"Dòng {row_number}")
            else:
                ws.write_string(r, 0, f"Dòng {row_number}", fmts.label)
            ws.write_string(r, 1, _safe_own(message), fmts.result[REJECTED])
            r += 1


def write_feedback(read: ReadResult, messages: Sequence[str], statuses: Sequence[str], out_path: Path | str, *,
                   source_name: str | None = None,
                   blocking_message: str | None, source: Path | str | None = None,
                   issues: pd.DataFrame | None = None, info: Mapping[str, str] | None = None) -> Path:
    """Write the district's file back with the result column; returns the path written (.xlsx).

    read              the ReadResult of the upload
    messages          per data row (aligned with read.frame / read.row_numbers): `row_messages(...)`
    statuses          per data row: "ok" | "rejected" | "warning" | "repaired" (`row_statuses(...)`)
    out_path          where to write; the suffix becomes .xlsx. The file appears atomically (temp + rename)
    blocking_message  the reason the whole file was refused (`blocking_text(checked.blocking, kind)`), or None
    source            the uploaded file: every cell of its sheet comes back at its place. Without it (or if it
                      cannot be read again) the layout is rebuilt from `read` (header + data rows)
    issues            optional: the issues frame, for the table of reasons on the summary sheet
    info              optional: more lines for the summary (district, submission id, received at...)

    A CSV longer than an Excel sheet (1,048,576 rows; the intake limit is larger) cannot come back as .xlsx
    with its line numbers: it comes back as CSV (UTF-8 with BOM, the result as an extra field, every field
    that could start a formula prefixed with an apostrophe) and the summary as `<name>.summary.xlsx` beside it;
    the returned path is then the .csv.
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

    status_arr = np.asarray(statuses, dtype=object)
    status_counts = {s: int((status_arr == s).sum()) for s in STATUSES}
    too_long = len(grid.row_numbers) and int(grid.row_numbers[-1]) > EXCEL_MAX_ROWS
    data_sheet = _sheet_name(read.sheet, DATA_SHEET_FOR_CSV)
    summary_sheet = SUMMARY_SHEET if SUMMARY_SHEET.lower() != data_sheet.lower() else "Kết quả"
    rejected_idx = np.flatnonzero(status_arr == REJECTED)[:MAX_LISTED_ROWS]
    rejected = [(int(row_numbers[i]), messages[i]) for i in rejected_idx]
    table = _issue_table(issues, read.kind, read.column_headers) if issues is not None else []
    summary_args = dict(kind=read.kind, status_counts=status_counts, rows_total=n,
                        rows_skipped=len(read.skipped_rows), blocking_message=blocking_message, info=info,
                        source_name=source_name or (Path(source).name if source is not None else None), table=table,
                        rebuilt=grid.rebuilt)

    if too_long and read.file_format == "csv":
        csv_out = out.with_suffix(".csv")
        if source is not None and _same_file(csv_out, Path(source)):
            csv_out = out.with_suffix(".feedback.csv")
        _write_csv_feedback(csv_out, grid, read, pos, messages)

        def fill_summary(wb: xlsxwriter.Workbook) -> None:
            _write_summary(wb.add_worksheet(SUMMARY_SHEET), _Formats(wb), sheet=None, rejected=rejected,
                           csv_name=csv_out.name, **summary_args)

        _atomic_write(out.with_name(out.stem + ".summary.xlsx"), fill_summary)
        return csv_out
    if too_long:   # cannot happen for a workbook (its own rows are Excel rows); refuse rather than corrupt
        raise ValueError(f"row {int(grid.row_numbers[-1])} is beyond Excel's last row {EXCEL_MAX_ROWS}")

    def fill(wb: xlsxwriter.Workbook) -> None:
        fmts = _Formats(wb)
        summary = wb.add_worksheet(summary_sheet)
        ws = wb.add_worksheet(data_sheet)
        _write_summary(summary, fmts, sheet=data_sheet, rejected=rejected, **summary_args)
        _write_data_sheet(ws, fmts, grid, read, pos, messages, statuses)
        if len(grid.row_numbers) * (len(grid.columns) + 1) > 20_000_000:
            wb.use_zip64()   # a sheet XML beyond 4 GB needs it (Excel 2010 and later read it)

    return _atomic_write(out, fill)


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
