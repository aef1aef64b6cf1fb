"""The feedback workbook's formats and its summary sheet: accepted or refused and why, counts, the reasons,
links to the rejected rows, and how every column was read (`readings_table`)."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.workbook

from campaign.config_kinds import load_input_kinds
from campaign.intake.feedback.messages import (
    NEXT_HEAD,
    OK,
    REJECTED,
    REPAIRED,
    RESULT_HEADER,
    STATUS_OF_RANK,
    STATUSES,
    WARNING,
    prepare,
)
from campaign.io.safety import safe_own, starts_formula
from campaign.io.xlsx import write_atomically
from campaign.vocabulary import kind_label

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


DATA_SHEET_FOR_CSV = "Dữ liệu"
SUMMARY_SHEET = "Tóm tắt kết quả"
ROW_NUMBER_HEADER = "Dòng"
MAX_LISTED_ROWS = 500          # rejected rows linked from the summary sheet


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


# Writing
# ---------------------------------------------------------------------------------------------------------

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_name(name: str, fallback: str) -> str:
    name = _INVALID_SHEET_CHARS.sub(" ", name or "").strip().strip("'")[:31].strip()
    return name or fallback


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


class Formats:
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


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def atomic_write(out: Path, fill) -> Path:
    return write_atomically(out, fill, prefix=".feedback-", workbook_class=_FeedbackWorkbook)


def _vi_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _kind_label(kind: str | None) -> str:
    if not kind:
        return ""
    return f"{kind_label(kind)} ({kind})" if kind in load_input_kinds().kinds else kind


def _write_pairs(ws, fmts: Formats, row: int, pairs: list[tuple[str, str]], value_fmt=None) -> int:
    for label, value in pairs:
        ws.write_string(row, 0, safe_own(label), fmts.label)
        ws.write_string(row, 1, safe_own(str(value)), value_fmt or fmts.value)
        row += 1
    return row


def issue_table(issues: pd.DataFrame | None, kind: str, column_headers: Mapping[str, str] | None,
                 ) -> list[tuple[int, str, int]]:
    """(rank, sentence, rows) per distinct sentence, worst first, then most rows."""
    if issues is None or not len(issues):
        return []
    iss = issues.loc[issues["row"].notna()]
    if not len(iss):
        return []
    prep = prepare(iss, int(iss["row"].max()) + 1, kind, column_headers)
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


def _write_readings(ws, fmts: Formats, r: int, readings: Sequence[Any], kind: str | None) -> int:
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


def write_summary(ws, fmts: Formats, *, kind: str | None, sheet: str | None, status_counts: dict[str, int],
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
        ws.write_string(r, 1, safe_own(blocking_message or ""), fmts.bad)
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
            fmt = fmts.result[STATUS_OF_RANK[rank]]
            ws.write_string(r, 0, _vi_int(count), fmt)
            ws.write_string(r, 1, safe_own(f"{NEXT_HEAD[rank]}: {text}"), fmt)
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
            ws.write_string(r, 1, safe_own(message), fmts.result[REJECTED])
            r += 1
