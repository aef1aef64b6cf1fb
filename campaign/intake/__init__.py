"""Intake: a district file becomes a submission (read, standardize, gate, load in one transaction), and
the district gets its own file back with a result per row.

- `rules`: pure: the request (`IntakeRequest`, `UsageError`), the statuses, what a checked file is
  (`Checked`), the bounded values (`text_limit`, `value_limits`, `file_value_refusal`, `fit_file_name`),
  the content hints the reader may use (`content_hints`).
- `store`: the database reads and writes: duplicates, versions, what a check depends on, `load_checked`
  (the submission, its rows, quarantine and issues), `withdraw`.
- `present`: `IntakeOutcome`, the answer of one upload (its JSON, its exit code).
- `run`: the step: `resolve_request`, `check_rows` (read, standardize, gate), `run_intake` (what the
  Prefect task calls), the feedback file written after the commit.
- `columns`: a district's saved readings of its headings (`column_mappings`), used by `run`.
- `feedback/`: the per-row feedback workbook (or CSV) returned to the district.

Nothing is re-exported here: import from the modules.
"""
