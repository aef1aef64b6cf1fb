"""Workbook sheets as candidates (python-calamine, xlrd for what calamine cannot open), each measured from
the file's bytes (campaign/io/extent/) before it is built; xlsx formulas without a cached value."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from campaign.config_kinds import InputKinds
from campaign.io.cells import convert_column
from campaign.io.extent.budget import (
    DAMAGE,
    MAX_CELLS,
    MAX_SHEETS,
    WORKBOOK_CELLS,
    XLS_COLUMNS,
    XLS_ROWS,
    Extent,
    oversized,
)
from campaign.io.extent.ods import ods_extents
from campaign.io.extent.xls import xls_extents, xls_sheet_extent, xls_sheets, xls_stream
from campaign.io.extent.xlsb import xlsb_sheet_extent
from campaign.io.extent.xlsx import workbook_parts, xlsx_shared_strings, xlsx_sheet_extent
from campaign.io.headers import (
    HEADER_SCAN_ROWS,
)
from campaign.io.sheets import (
    ROW_LIMIT_SLACK,
    Body,
    SheetCandidate,
    _layouts,
    _vi_int,
    too_many_rows,
    top_strings,
)
from campaign.io.sniff import (
    ReadError,
    unreadable,
    unreadable_because,
)

log = logging.getLogger(__name__)


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


def workbook_candidates(path: Path, fmt: str, kinds: InputKinds, sheet_names: list[str], *,
                         max_rows: int | None = None):
    """The sheets of a workbook as candidates, in the order they are tried (visible worksheets first).

    Every sheet is measured before a reader builds it (campaign/io/extent/), one at a time and the whole
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
        top = top_strings(top_raw)
        total = (end[0] + 1) if end else 0
        width = (end[1] + 1) if end else 0
        cells_built += ext.grid if ext is not None else total * width
        if total * width > MAX_CELLS:   # a backstop: the measure above already said so
            raise unreadable_because("sheet_grid_too_large", sheet=meta.name,
                                     cell=Extent(total, width).corner, rows=_vi_int(total),
                                     columns=_vi_int(width))

        def load(after: int, name=meta.name) -> Body:
            return _calamine_body(lambda: take(name), after)

        yielded += 1
        yield SheetCandidate(meta.name, top, list(range(1, len(top) + 1)), merges, _layouts(top, kinds, merges),
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


# --- sheet sizes, from the file's own bytes (campaign/io/extent/) ------------------------------------

_LAID_OUT_ON_OPEN = ("xls", "ods")


def _size_refusal(sheet: str, ext: Extent, max_rows: int | None, fmt: str = "xlsx") -> ReadError | None:
    """The refusal of a sheet too large to lay out (or holding far too many rows), before it is built."""
    limits = {"row_limit": XLS_ROWS, "column_limit": XLS_COLUMNS} if fmt == "xls" else {}
    if oversized(ext, **limits):
        return unreadable_because("sheet_too_large", sheet=sheet, cell=ext.corner, rows=_vi_int(ext.rows),
                       columns=_vi_int(ext.columns), cells=_vi_int(ext.cells))
    if max_rows is not None and ext.rows - 1 - HEADER_SCAN_ROWS > max_rows * ROW_LIMIT_SLACK + 100:
        return too_many_rows(ext.rows - 1, max_rows)
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


def _rows_to_body(rows: list[list[Any]], first_row_number: int) -> Body:
    widths = set(map(len, rows))
    width = max(widths, default=0)
    if len(widths) > 1:
        rows = [list(r) + [""] * (width - len(r)) for r in rows]
    cols: list[np.ndarray] = []
    numeric: dict[int, np.ndarray] = {}
    text_columns: set[int] = set()
    for j, col in enumerate(zip(*rows, strict=True)) if rows else []:
        arr, num, has_text = convert_column(col)
        cols.append(arr)
        if num is not None and num.any():
            numeric[j] = num
        if has_text:
            text_columns.add(j)
    row_numbers = np.arange(first_row_number, first_row_number + len(rows), dtype=np.int64)
    return Body(cols, row_numbers, numeric, nfc_checked=False, blank_checked=False, text_columns=text_columns)


def _calamine_body(take: Callable[[], Any], after: int) -> Body:
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
        top = top_strings(top_raw)
        merges = [((r0, c0), (r1 - 1, c1 - 1)) for r0, r1, c0, c1 in getattr(sh, "merged_cells", [])] or None
        name = sh.name
        with contextlib.suppress(Exception):
            book.unload_sheet(idx)
        del sh

        def load(after: int, idx=idx) -> Body:
            return _rows_to_body(rows_of(idx, after), after + 1)

        yield SheetCandidate(name, top, list(range(1, len(top) + 1)), merges, _layouts(top, kinds, merges),
                              load, total)


def formulas_without_value(path: Path, sheet_name: str) -> set[tuple[int, int]]:
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
