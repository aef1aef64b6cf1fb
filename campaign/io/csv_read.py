"""A CSV/TXT file as a candidate sheet: decoded, its records found with numpy (a quoted field may span
lines; lines ended by CR alone count), its delimiter chosen, its body split fast or with the csv module."""

from __future__ import annotations

import csv
import io
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from campaign.config_kinds import InputKinds, KindSpec
from campaign.domain.vn_legacy_detect import legacy_gate, mixed_encoding
from campaign.io.cells import _present
from campaign.io.extent.budget import (
    EXCEL_COLUMNS,
    HOLLOW_FLOOR,
    Extent,
    oversized,
)
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
    TRIED_ENCODINGS,
    ReadError,
    decode_text,
    unreadable,
    unreadable_because,
    utf8_buffer,
)

log = logging.getLogger(__name__)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


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


def record_starts(buf: bytes, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
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
    """The records of a CSV (what `record_starts` finds), counted a few MB at a time: a file of 40 MB of
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


def csv_candidates(path: Path, kinds: InputKinds, spec: KindSpec, max_rows: int):
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
        top = top_strings(rows)
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
        top = top_strings(rows)
        best = ((0, 0, 0), ",", top, lines, _layouts(top, kinds, None), rows)
    _score, delim, top, lines, layouts, raw_rows = best
    buf = utf8_buffer(data, text, encoding, normalized)
    del data, text

    widest = max(range(len(raw_rows)), key=lambda i: _fields(raw_rows[i]), default=None)
    width = _fields(raw_rows[widest]) if widest is not None else 1   # up to the last field holding something
    width_line = lines[widest] if widest is not None and widest < len(lines) else 1

    def load(after: int) -> Body:
        return _csv_body(buf, delim, after, max_rows=max_rows, width=width, width_line=width_line)

    return SheetCandidate("", top, lines, None, layouts, load, 0), encoding


def _fields(row: list[str]) -> int:
    """The fields of a record up to its last one holding something: Excel pads every row of a CSV export
    with empty fields up to the widest one ("1,An,,,,,,"), which holds nothing to read."""
    n = len(row)
    while n > 1 and not row[n - 1].strip(" "):
        n -= 1
    return n


def _csv_body(buf: bytes, delim: str, after: int, *, max_rows: int, width: int, width_line: int = 1) -> Body:
    limit = max_rows * ROW_LIMIT_SLACK + 100
    try:   # the row limit checked while the records are found, before arrays as long as the file's lines
        starts, lines = record_starts(buf, limit=int(limit) + after)
    except _TooManyRecords as exc:
        raise too_many_rows(exc.records - after, max_rows) from None
    if len(starts) - after > limit:
        raise too_many_rows(len(starts) - after, max_rows)
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
    body.legacy_possible = legacy_gate(buf, body_start)
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
                   width: int, fields: _FieldCount | None = None) -> Body | None:
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
    return Body(cols, lines[after:].copy(), {}, nfc_checked=True, blank_checked=True)


def _csv_body_slow(text: str, delim: str, after: int, fields: _FieldCount | None = None) -> Body:
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
    return Body(cols, np.asarray(lines, dtype=np.int64), {}, nfc_checked=True, blank_checked=True)
