"""Intake, stage 1: read a district file into canonical columns of raw strings.

`read_submission(path, kind, max_bytes=..., max_rows=...)` sniffs the real format from the bytes (xlsx,
xls, CSV/TXT; also xlsb and ods, which python-calamine reads the same way), finds the sheet and the header
row(s) of the kind, maps header cells to the kind's canonical columns (campaign/io/headers.py), drops the
rows that are not data (title, blank, repeated header, column numbering, totals, the notes and signature
block at the bottom: each reported with its row number), repairs legacy-encoded text (TCVN3/VNI, via
campaign.domain.vn_legacy_detect) and returns a `ReadResult`. It never standardizes values: "0912345678",
"12/07/1980" and "Nam" stay strings for the standardizer.

Cells become strings without losing information: integral numbers without ".0", other numbers as Excel
shows them (15 significant digits), date cells as ISO dates, datetime cells as ISO date-times, booleans as
TRUE/FALSE, empty or blank cells as missing. CSV cells are read as strings (leading zeros kept).

A file that cannot be read as this kind raises `ReadError(code, detail_vi)`: `unreadable_file` (empty,
not a spreadsheet, encrypted, corrupt, zip bomb, too large, too many rows, no header), `wrong_kind`
(the header is another kind's: the message names it) or `required_column_missing` (all missing columns,
by their Vietnamese header, in one message).

Hostile files: every sheet is measured from the file's own bytes before a reader builds it
(campaign/io/extent/): a sheet reaching far beyond what it holds ("trang «DS» kéo dài tới ô
XFD1048576"), a CSV record of thousands of fields and a CSV mixing UTF-8 with another encoding are
refused under `unreadable_file`, each worded by its entry of config/reasons.yaml (`sheet_too_large`,
`csv_too_wide`, `encoding_unreadable`), before anything large is allocated. So is a part the measure finds
damaged, naming what and where (`sheet_damaged`, `file_damaged`: a cell address that is no address, shared
strings announcing billions), and a workbook whose sheets together cost too much (`workbook_too_large`,
`workbook_too_many_sheets`): a candidate sheet keeps only its top rows, the chosen one is built again. A
CSV's row limit is checked while its records are found (lines ended by CR alone count), and the empty
fields padding a record (Excel's export of a sheet once used far to the right) do not make it wide.

This module assembles the result; the steps are their own modules: `sniff` (the real format, text
decoding), `workbook` (sheets of a workbook as candidates) and `csv_read` (a CSV as one), `sheets` (the
shape they share, choosing the sheet and header), `headers` (header cells to columns), `rows` (rows that
are not data), `cells` (cells to strings, column cleaning).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from campaign.config_kinds import InputKinds, KindSpec, load_input_kinds
from campaign.io import columns as readings_of
from campaign.io.cells import prepare_column
from campaign.io.columns import ColumnOverride, ColumnReading
from campaign.io.content import ContentHints, choose_among, fit, guess_unknown, has_profile, sample
from campaign.io.csv_read import csv_candidates
from campaign.io.headers import (
    DATA,
    EMPTY,
    NUMBERING,
    UNMAPPED,
    HeaderColumn,
    HeaderLayout,
    apply_overrides,
    refresh,
    set_column,
)
from campaign.io.rows import classify_rows, marked, string_array
from campaign.io.sheets import ROW_LIMIT_SLACK, Body, SheetCandidate, choose, header_names, too_many_rows
from campaign.io.sniff import (
    ReadError,
    sniff_file,
    unreadable,
)
from campaign.io.workbook import formulas_without_value, workbook_candidates
from campaign.vocabulary import kind_label

__all__ = ["ReadError", "ReadResult", "read_submission", "SKIP_REASONS"]

log = logging.getLogger(__name__)

SKIP_REASONS = ("title", "blank", "header_repeat", "numbering", "totals", "notes")
TEXT_TYPES_FOR_REPAIR = {"text", "enum", "boolean"}






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
# Assembling the result
# ---------------------------------------------------------------------------------------------------------



def _assemble(kind: str, spec: KindSpec, cand: SheetCandidate, layout: HeaderLayout, body: Body, *,
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

    prepared = [prepare_column(c, check_nfc=not body.nfc_checked and needs(j),
                                check_blank=not body.blank_checked and needs(j),
                                legacy=j in legacy_cols and body.legacy_possible is not False and needs(j))
                for j, c in enumerate(cols)]
    original_cols = [p.values for p in prepared]
    repaired_cols = [p.repaired for p in prepared]
    changed_masks = {j: p.changed for j, p in enumerate(prepared) if p.changed is not None}
    encodings = {j: p.encodings for j, p in enumerate(prepared)}

    reason = classify_rows(repaired_cols, layout, len(layout.columns))
    data_mask = np.equal(reason, None)
    n_data = int(data_mask.sum())
    if n_data > max_rows:
        raise too_many_rows(n_data, max_rows)

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
        male, female = marked(male_vals), marked(female_vals)
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
    frame = pd.DataFrame({n: string_array(*frame_data[n]) for n in ordered}, index=pd.RangeIndex(len(idx)))

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
        return pd.DataFrame({label: string_array(take(arr), take(present)) for label, arr, present in labelled},
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


def _read_by_content(layout: HeaderLayout, spec: KindSpec, body: Body, hints: ContentHints) -> None:
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
            cand, encoding = csv_candidates(path, kinds, spec, max_rows)
        except OSError:
            raise unreadable("không mở được tệp") from None
        cand, layout = choose(kind, kinds, [cand])
    else:
        cand, layout = choose(kind, kinds, workbook_candidates(path, sniffed.format, kinds, sheet_names,
                                                                 max_rows=max_rows))

    apply_overrides(layout, spec, overrides)

    if cand.total_rows and cand.total_rows - layout.rows[-1] - 1 > max_rows * ROW_LIMIT_SLACK + 100:
        raise too_many_rows(cand.total_rows - layout.rows[-1] - 1, max_rows)

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
        names = header_names(spec, layout.missing_required)
        detail = f"thiếu cột bắt buộc: {names}{where}; xin bổ sung các cột này theo mẫu «{kind_label(kind)}»"
        raise ReadError("required_column_missing", detail, params={"column": names, "detail": detail},
                        missing=layout.missing_required)
    formulas = (formulas_without_value(path, cand.name)
                if sniffed.format == "xlsx" and cand.formulas is not False else set())
    result = _assemble(kind, spec, cand, layout, body, max_rows=max_rows, file_format=sniffed.format,
                       encoding=encoding, sheet_names=sheet_names, formulas=formulas)
    timings["rows_and_frame"] = clock() - t2
    timings["total"] = clock() - t0
    result.timings = timings
    log.debug("read %s as %s: %d rows in %.2fs %s", path.name, kind, len(result.frame), timings["total"], timings)
    return result
