"""Writing the feedback: a workbook upload's annotated copy (`write_feedback`), a CSV upload's CSV copy with
the workbook of its problem rows beside it (`problems_workbook_path`), the summary alone for a file that
could not be read (`write_refusal`)."""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.workbook

from campaign.intake.feedback.csv_copy import CopyUnsafe, write_csv_copy
from campaign.intake.feedback.grid import Grid, present_width, rebuilt_grid, source_grid
from campaign.intake.feedback.messages import REJECTED, RESULT_HEADER, STATUSES, WARNING
from campaign.intake.feedback.summary import (
    DATA_SHEET_FOR_CSV,
    MAX_LISTED_ROWS,
    ROW_NUMBER_HEADER,
    SUMMARY_SHEET,
    Formats,
    _target,
    atomic_write,
    issue_table,
    same_file,
    sheet_name,
    write_summary,
)
from campaign.io.safety import FORMULA_TRIGGERS, csv_safe, safe_own
from campaign.io.xlsx_rows import CHUNK_ROWS, RawRows, col_letters, render_rows

if TYPE_CHECKING:
    from campaign.io.reader import ReadResult

log = logging.getLogger(__name__)

EXCEL_MAX_ROWS = 1_048_576
_PLAIN = len(STATUSES)   # status code of rows that are not data


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
    if source is not None and same_file(out, Path(source)):
        raise ValueError(f"the feedback would overwrite the uploaded file {source}")
    row_numbers = np.asarray(read.row_numbers, dtype=np.int64)

    status_arr = np.asarray(statuses, dtype=object)
    status_counts = {s: int((status_arr == s).sum()) for s in STATUSES}
    data_sheet = sheet_name(read.sheet, DATA_SHEET_FOR_CSV)
    summary_sheet = SUMMARY_SHEET if SUMMARY_SHEET.lower() != data_sheet.lower() else "Kết quả"
    rejected_idx = np.flatnonzero(status_arr == REJECTED)[:MAX_LISTED_ROWS]
    rejected = [(int(row_numbers[i]), messages[i]) for i in rejected_idx]
    table = issue_table(issues, read.kind, read.column_headers) if issues is not None else []
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
        fmts = Formats(wb)
        summary = wb.add_worksheet(summary_sheet)
        ws = wb.add_worksheet(data_sheet)
        write_summary(summary, fmts, sheet=data_sheet, rejected=rejected, rebuilt=grid.rebuilt, **summary_args)
        _write_data_sheet(ws, fmts, grid, read, pos, messages, statuses)
        if len(grid.row_numbers) * (len(grid.columns) + 1) > 20_000_000:
            wb.use_zip64()   # a sheet XML beyond 4 GB needs it (Excel 2010 and later read it)

    return atomic_write(out, fill)


def _grid_of(read: Any, source: Path | str | None, row_numbers: np.ndarray) -> tuple[Grid, np.ndarray]:
    """The uploaded sheet as the reader sees it (or, without the file, rebuilt from the read), and the grid
    row of every data row."""
    grid = None
    if source is not None:
        try:
            grid = source_grid(Path(source), read)
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
        grid = rebuilt_grid(read)
        pos = np.searchsorted(grid.row_numbers, row_numbers)
    return grid, pos


def _write_csv_upload_feedback(read: Any, messages: Sequence[str], status_arr: np.ndarray, out: Path,
                               source: Path | str | None, rejected_idx: np.ndarray, rejected: list[tuple[int, str]],
                               summary_args: dict[str, Any]) -> Path:
    """A CSV upload: the annotated copy as CSV, then the workbook of the summary and the problem rows."""
    csv_out = out.with_suffix(".csv")
    if source is not None and same_file(csv_out, Path(source)):
        csv_out = out.with_suffix(".feedback.csv")
    rebuilt = False
    written = False
    if source is not None and Path(source).is_file():
        try:
            write_csv_copy(csv_out, Path(source), read, messages)
            written = True
        except CopyUnsafe as exc:
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
        fmts = Formats(wb)
        summary = wb.add_worksheet(SUMMARY_SHEET)
        ws = wb.add_worksheet(PROBLEMS_SHEET) if len(listed) else None
        write_summary(summary, fmts, sheet=None, rejected=rejected, csv_name=csv_out.name, rebuilt=rebuilt,
                       problems=problems, **summary_args)
        if ws is not None:
            _write_problems_sheet(ws, fmts, read, listed, messages, status_arr)

    atomic_write(problems_workbook_path(csv_out), fill)
    return csv_out


def _write_problems_sheet(ws, fmts: Formats, read: Any, idx: np.ndarray, messages: Sequence[str],
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
    grid = Grid(cols, np.arange(1, k + 2, dtype=np.int64), [], rebuilt=False)
    header = type("_Header", (), {"header_rows": [1]})()
    _write_data_sheet(ws, fmts, grid, header, np.arange(1, k + 1, dtype=np.int64),
                      [messages[i] for i in idx.tolist()], status_arr[idx].tolist())


def _write_csv_feedback(out: Path, grid: Grid, read: Any, pos: np.ndarray, messages: Sequence[str]) -> Path:
    """The CSV path (a file longer than an Excel sheet): every record at its own line, as read, plus the
    result field; formula-looking fields get a leading apostrophe (a CSV cannot say "this is text")."""
    n_grid = len(grid.row_numbers)
    msg_at: list[str | None] = [None] * n_grid
    for i, g in enumerate(pos.tolist()):
        msg_at[g] = safe_own(messages[i])
    header_rows = [int(h) for h in read.header_rows]
    first_header = header_rows[0] if header_rows else None
    rn_l = grid.row_numbers.tolist()
    cols = [c.tolist() for c in grid.columns]
    header_idx = np.flatnonzero(np.isin(grid.row_numbers, header_rows))
    width = present_width(grid.columns, np.concatenate((header_idx, pos)).astype(np.int64))
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




PROBLEMS_SHEET = "Dòng bị loại, cần kiểm tra"
PROBLEMS_SUFFIX = ".problems.xlsx"


def problems_workbook_path(feedback_path: Path | str) -> Path:
    """The workbook beside a CSV upload's annotated copy: the summary and the rows with problems."""
    p = Path(feedback_path)
    return p.with_name(p.stem + PROBLEMS_SUFFIX)



def _write_data_sheet(ws, fmts: Formats, grid: Grid, read: Any, pos: np.ndarray, messages: Sequence[str],
                      statuses: Sequence[str], *, raw: bool | None = None) -> None:
    n_grid = len(grid.row_numbers)
    in_grid = set(grid.row_numbers.tolist())
    header_rows = sorted(int(h) for h in read.header_rows if int(h) in in_grid)
    is_header = np.isin(grid.row_numbers, header_rows) if header_rows else np.zeros(n_grid, dtype=bool)
    header_idx = np.flatnonzero(is_header)
    width = present_width(grid.columns, np.concatenate((header_idx, pos)).astype(np.int64))

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
    use_raw = RawRows.supported(ws) if raw is None else (raw and RawRows.supported(ws))
    if use_raw:
        sink = RawRows(ws)

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
        letters = col_letters(result_col + 1)
        g = 0
        header_at = set(np.flatnonzero(is_header).tolist())
        while g < n_grid:
            if g in header_at:
                rn = int(row_numbers[g])
                _api_header_row(ws, fmts, rn - 1, [c[g] for c in cols], result_col, rn == first_header)
                g += 1
                continue
            stop = min(g + CHUNK_ROWS, n_grid)
            nxt = [h for h in header_at if g < h < stop]
            if nxt:
                stop = min(nxt)
            idx = np.arange(g, stop)
            xml = render_rows(cols, idx, row_numbers, code, msg_at, result_col, letters, xf)
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
                ws.write_string(r, result_col, safe_own(messages[d]), fmts.result[st])

    if last_header is not None:
        ws.freeze_panes(last_header, 0)
        last_row = int(row_numbers[-1]) - 1 if n_grid else last_header - 1
        if last_row >= last_header:
            ws.autofilter(last_header - 1, 0, last_row, result_col)


def _first_data_row(grid: Grid, pos: np.ndarray) -> int:
    """The first data row's number (1 when there is none)."""
    return int(grid.row_numbers[pos].min()) if len(pos) else 1


def _api_header_row(ws, fmts: Formats, r: int, cells: Sequence[Any], result_col: int, first: bool) -> None:
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
        fmts = Formats(wb)
        ws = wb.add_worksheet(SUMMARY_SHEET)
        write_summary(ws, fmts, kind=kind, sheet=None, status_counts={}, rows_total=0, rows_skipped=0,
                       blocking_message=blocking_message or "tệp không đọc được", info=info,
                       source_name=source_name, table=[], rejected=[], rebuilt=False)

    return atomic_write(out, fill)
