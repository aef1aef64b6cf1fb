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
  (`csv_copy.write_csv_copy`), the others go through the csv module with `csv_safe`. Beside it,
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
Nothing this package composes starts with a formula character (`campaign.io.safety.starts_formula`);
`campaign.io.safety.csv_safe` is the apostrophe rule for any CSV output.

Speed: xlsxwriter in constant-memory mode, with the data rows rendered a chunk at a time (numpy string
operations) into the sheet's row file (`campaign.io.xlsx_rows.RawRows`). Measured on the shared 2-core
machine (loaded by other jobs) for 200,000 rows x 20 columns: 23-30 s of CPU (25-36 s wall) from an .xlsx upload, of which ~9-11 s
re-reading the file and ~5-7 s zipping; 14 s from a CSV; the process peaked at 0.96 GB with the
ReadResult (0.56 GB) in memory, so ~0.4 GB for the feedback. openpyxl took 63 s and 2.3 GB; xlsxwriter's
cell API alone took ~55 s of CPU.

Modules: `messages` (the texts: `describe_issue`, `blocking_text`, `row_messages`, `row_statuses`), `write`
(`write_feedback`, `write_refusal`, `problems_workbook_path`), `summary` (the summary sheet), `grid` (the
sheet as the reader sees it), `csv_copy` (a CSV upload's records copied back). This package exposes the
public functions below; everything else is imported from its module.
"""

from campaign.intake.feedback.messages import (
    OK_MESSAGE,
    RESULT_HEADER,
    STATUSES,
    blocking_text,
    describe_issue,
    row_messages,
    row_statuses,
)
from campaign.intake.feedback.write import (
    PROBLEMS_SHEET,
    problems_workbook_path,
    write_feedback,
    write_refusal,
)

__all__ = [
    "OK_MESSAGE",
    "PROBLEMS_SHEET",
    "RESULT_HEADER",
    "STATUSES",
    "blocking_text",
    "describe_issue",
    "problems_workbook_path",
    "row_messages",
    "row_statuses",
    "write_feedback",
    "write_refusal",
]
