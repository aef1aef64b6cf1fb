"""Export the standardized target list of one district in the national platform's subject-list import
layout (issue 5: `campaign export --kind target_list --district D --out FILE`), ready to upload upstream.

What the file looks like (docs/domain.md, "The national platform's subject-list import template"; the same
layout `campaign.synth` writes as `xlsx_national` and `campaign.io.reader` reads back):

    row 1-3   instruction lines (`TITLE_LINES`), row 4 blank
    row 5-6   the two-row header: single columns merged over both rows; "Nơi ở tạm trú (hiện tại)",
              "Mũi 1" and "Mũi 2" merged over their sub-columns in row 5, the sub-headers in row 6
    row 7...  one row per person of the district, in invitation order (`invite_rank`, then person id);
              ineligible people (no rank) only with `include_ineligible=True`, after the others
    columns   `COLUMNS`: #, Họ và tên (*), Ngày sinh dạng dd/mm/yyyy (*), Giới tính (*) (0: nam, 1: nữ),
              Mã nhóm đối tượng ưu tiên (*), Đơn vị công tác, Số điện thoại (*), Số CMT/CCCD, Số thẻ bảo
              hiểm y tế, Nơi ở tạm trú (hiện tại): Tỉnh/Thành phố, Mã Tỉnh (*), Quận/Huyện, Mã Quận/Huyện
              (*), Xã/Phường, Mã Xã/Phường (*), Địa chỉ chi tiết; Mũi 1 and Mũi 2: Tên vắc xin, Ngày tiêm,
              Lô vắc xin, Địa điểm tiêm; Ghi chú; Kết quả import (left empty: the platform fills it)

Values come from the person's canonical source row (`master_persons.submission_id/row_number` ->
`target_list_rows`) with the person's effective priority group (the master list's, e.g. moved to the
age group). Cells:
- text cells (number format "@") for everything but `#`, sex and priority: phones in the national
  10-digit form (`+84912345678` -> `0912345678`), CMND/CCCD, BHYT, GSO codes, lots, facility codes keep
  their leading zeros; dates as `dd/mm/yyyy` text; vaccine products by their label (input_kinds.yaml
  enum `vaccine_product`, "AstraZeneca");
- `#` (1..n), sex (0 nam, 1 nữ) and the priority group (1..16) as numbers;
- the place columns from the GSO codes: the person's commune code, its district and province (official
  names from `campaign.domain.admin_units`); the row's own names only where a code is unknown;
- every text through `write_string` (never a formula); a text starting with a formula character
  (= + - @, tab, CR and their full-width forms) also gets Excel's quote prefix, so that editing the cell
  in Excel does not turn it into a formula either;
- with `include_ineligible=True` an ineligible person's "Ghi chú" starts with the reason in Vietnamese
  ("Chưa đủ điều kiện mời tiêm: chưa đủ 18 tuổi"), before the district's own note.

Reading: the district's people (one query, a small tuple each), then one streamed pass over the rows of
their submissions, looked up by (submission_id, row_number) in a dict. Not an SQL join: target_list_rows
is indexed by submission_id alone, and SQLite then probes the whole submission for every person
(quadratic: 100,000 people took over ten minutes). At most `BUFFER_PERSONS` rendered rows are held at
once; a larger district takes one more pass over its rows per `BUFFER_PERSONS` people.

Writing: xlsxwriter in constant-memory mode (rows strictly in order; the merged header cells are
registered, not written with `merge_range`, which loses cells in that mode), to a temporary file beside
the target that replaces it only once complete, mode 0600 (it holds personal data). The creation date is
the master list's `as_of`: the same list gives the same bytes. Measured on the shared 2-core machine:
100,000 people in ~16 s (SQLite and PostgreSQL alike), ~175 MiB above the process's baseline, 8 MB file;
xlsxwriter's cell API is ~80% of the time.

Core code: no Prefect. Errors (all `ExportError`, each with `exit_code` for the CLI): `ExportUsageError`
and its `UnknownDistrictError` (2), `NoMasterListError` and `NoPersonsError` (3),
`InconsistentMasterListError` (1).

Parts: `rules` (the layout: columns, header, values -> cells; pure), `store` (the district's people and
their source rows, streamed), `sheet` (the xlsx worksheet written row by row), `run` (`export_target_list`,
its errors and result).
"""
