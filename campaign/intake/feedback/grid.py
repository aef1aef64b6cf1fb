"""The district's sheet as the reader sees it (`source_grid`, with the reader's own loaders), or rebuilt
from the ReadResult when the uploaded file is gone (`rebuilt_grid`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from campaign.config_kinds import load_input_kinds

if TYPE_CHECKING:
    pass



# The sheet as the district wrote it
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Grid:
    columns: list[np.ndarray]                     # object arrays of str / None, one per sheet column
    row_numbers: np.ndarray                       # int64, 1-based, ascending, aligned with the columns
    merges: list[tuple[int, int, int, int]]       # 0-based inclusive (first_row, first_col, last_row, last_col)
    rebuilt: bool                                 # True: layout rebuilt from the ReadResult (no source file)


def source_grid(source: Path, read: Any) -> Grid:
    """Every cell of the district's sheet as the reader sees it (same sheet choice, CSV delimiter and
    encoding, same cell-to-text conversion, same row numbers). Uses the reader's own loaders so that the
    feedback can never disagree with the read about which line is which."""
    # Private helpers of the reader on purpose: a second CSV/workbook parser here could number rows
    # differently from the read and put a message next to the wrong person.
    from campaign.io import csv_read, workbook

    kinds = load_input_kinds()
    spec = kinds.kinds[read.kind]
    if read.file_format == "csv":
        cand, _encoding = csv_read.csv_candidates(source, kinds, spec, 1 << 40)
    else:
        names: list[str] = []
        cand = next((c for c in workbook.workbook_candidates(source, read.file_format, kinds, names)
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
    return Grid(cols, np.asarray(body.row_numbers, dtype=np.int64), merges, rebuilt=False)


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


def rebuilt_grid(read: Any) -> Grid:
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
    return Grid(cols, rows, [], rebuilt=True)


def present_width(cols: list[np.ndarray], idx: np.ndarray) -> int:
    """1 + the last column holding a value in the given grid rows."""
    width = 0
    for j, c in enumerate(cols):
        if len(idx) and c[idx].astype(bool).any():
            width = j + 1
    return width


# ---------------------------------------------------------------------------------------------------------
