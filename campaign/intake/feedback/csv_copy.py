"""A CSV upload's own records back as CSV, fast: transcoded to UTF-8 with a BOM, each at the line it starts
on, the result as one more field; records the fast path cannot vouch for raise `CopyUnsafe`."""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from campaign.intake.feedback.messages import RESULT_HEADER
from campaign.io.safety import FORMULA_TRIGGERS, csv_safe, safe_own

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


_CSV_DELIMITERS = (",", ";", "\t", "|")          # the reader's candidates, in its order
_SEPARATOR_BYTES = np.frombuffer(b",;\t|\n", dtype=np.uint8)
_TRIGGER_BYTES = np.frombuffer("".join(c for c in sorted(FORMULA_TRIGGERS) if ord(c) < 128).encode(), dtype=np.uint8)
_FULLWIDTH_TRIGGER_THIRD = np.frombuffer(
    bytes(c.encode()[2] for c in FORMULA_TRIGGERS if ord(c) >= 128), dtype=np.uint8)   # EF BC xx
_COPY_CHUNK_RECORDS = 100_000


class CopyUnsafe(Exception):
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
        raise CopyUnsafe(str(exc)) from None
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
        raise CopyUnsafe("record lines changed")
    return rendered


def _stripped_width(text: str, delimiter: str) -> int:
    """Fields of one record through the csv module, trailing empty ones left out."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                               skipinitialspace=True, strict=False))
    except csv.Error as exc:
        raise CopyUnsafe(str(exc)) from None
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
    """The reader's record starts and start lines (`campaign.io.csv_read.record_starts`); without any quote
    in the file every line is a record, which is found without the quote-aware search."""
    from campaign.io.csv_read import record_starts

    if b'"' in buf:
        return record_starts(buf)
    arr = np.frombuffer(buf, dtype=np.uint8)
    step = 1 << 24
    nl = [np.flatnonzero(arr[lo:lo + step] == 10) + lo for lo in range(0, len(arr), step)]
    starts = np.concatenate(([0], *(x + 1 for x in nl))).astype(np.int64)
    if len(starts) and starts[-1] >= len(buf):
        starts = starts[:-1]
    return starts, np.arange(1, len(starts) + 1, dtype=np.int64)


def write_csv_copy(out: Path, source: Path, read: Any, messages: Sequence[str]) -> None:
    """The uploaded CSV's own records, transcoded to UTF-8 with a BOM, each at the line it starts on, the
    result as one more field: at the right of the first header row «Kết quả kiểm tra», at the right of
    every data row its result, in the column after the table's widest header or data row. Records that
    need no care are copied as they are (a million rows in about a second); the others (quoted fields
    that are not plain, fields that could start a formula) go through the csv module with `csv_safe`.
    Raises `CopyUnsafe` (or any error) when it cannot vouch for the copy: the caller then writes it from
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
        raise CopyUnsafe("data rows are not records of the file")
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
            raise CopyUnsafe(str(exc)) from None
        head_fields = head[-1] if head else []
        while head_fields and head_fields[-1] == "":
            head_fields.pop()
        if head_fields and head_fields[-1].strip() == RESULT_HEADER:
            # the file is itself a feedback copy, fixed and sent again: its result column is replaced
            width = len(head_fields) - 1
            slow[table_rec] = True

    # what follows each record: a line ending, or padding and the result field
    ids, distinct = pd.factorize(pd.Series(list(messages), dtype=object), use_na_sentinel=False)
    tails = [safe_own(str(m)) for m in distinct.tolist()]
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
