"""The district's feedback copy: Vietnamese row messages, the annotated file, formula safety.

Every fixture is a small file built in tmp_path and read with the real reader, so the ReadResult (row
numbers, header rows, skipped rows, the district's headers) is what intake will hand to the feedback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from openpyxl.utils.escape import unescape

import campaign.intake.feedback as fb
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.intake.feedback import (
    OK_MESSAGE,
    RESULT_HEADER,
    blocking_text,
    csv_copy,
    describe_issue,
    row_messages,
    row_statuses,
    summary,
    write_feedback,
    write_refusal,
)
from campaign.intake.feedback import write as fb_write
from campaign.io import xlsx_rows
from campaign.io.reader import ReadResult, read_submission
from campaign.io.safety import FORMULA_TRIGGERS, csv_safe, starts_formula
from campaign.io.templates import expected_form

LIMITS = {"max_bytes": 50 * 1024 * 1024, "max_rows": 100_000}
RED, YELLOW = "FFFFC7CE", "FFFFEB9C"
HYPERLINK = '=HYPERLINK("http://x","y")'


def read(path: Path, kind: str = "target_list") -> ReadResult:
    return read_submission(path, kind, **LIMITS)


def issues_frame(rows: list[tuple[int, str | None, str]]) -> pd.DataFrame:
    cat = load_reasons()
    return pd.DataFrame({
        "row": pd.array([r for r, _c, _k in rows], dtype="Int64"),
        "column": pd.array([c for _r, c, _k in rows], dtype="str"),
        "code": pd.array([k for _r, _c, k in rows], dtype="str"),
        "severity": pd.array([cat.severity(k) for _r, _c, k in rows], dtype="str"),
    })


def write_xlsx(path: Path, rows: list[list | None], *, sheet: str = "DS", merges: tuple = ()) -> Path:
    """rows: python values (None = no cell), a None row = an empty row; merges 0-based with their text."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(sheet)
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for r, row in enumerate(rows):
        for c, v in enumerate(row or []):
            if v is None:
                continue
            if isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), date_fmt)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, v)
    for r0, c0, r1, c1, text in merges:
        ws.merge_range(r0, c0, r1, c1, text)
    wb.close()
    return path


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def csv_lines(path: Path) -> list[str]:
    """The lines of a CSV feedback copy (UTF-8 with BOM, CRLF)."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.split("\r\n")[:-1]


def data_sheet(path: Path, name: str) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(path)[name]


def summary_text(path: Path) -> str:
    wb = openpyxl.load_workbook(path)
    ws = wb[wb.sheetnames[0]]
    return "\n".join(" | ".join(str(v) for v in row if v is not None)
                     for row in ws.iter_rows(values_only=True) if any(v is not None for v in row))


# The national subject-list layout: two title rows (merged), a two-row merged header, data with a blank row
# in between, a totals row and a signature block.
SINGLES = ["STT", "Họ và tên (*)", "Ngày sinh (*)", "Giới tính (*)", "Nhóm ưu tiên (*)", "SĐT (*)"]
WIDTH = len(SINGLES) + 2


def national_file(path: Path) -> Path:
    merges = [(0, 0, 0, WIDTH + 3, "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG HUYỆN CHƯ SÊ")]     # wider than the table
    merges += [(2, j, 3, j, h) for j, h in enumerate(SINGLES)]
    merges.append((2, len(SINGLES), 2, len(SINGLES) + 1, "Thông tin khác"))
    rows = [
        None,                                                                    # 1 title (merged)
        ["Lưu ý: các cột có dấu (*) là bắt buộc"],                               # 2 instruction
        None,                                                                    # 3 header (merged)
        [None] * len(SINGLES) + ["Số CMT/CCCD", "Xã/Phường"],                    # 4 header, second row
        [1, "Nguyễn Văn An", "01/02/1970", "0", 9, "0912345678", "064161000123", "Ia Băng"],   # 5
        [2, HYPERLINK, "12/07/1980", "1", 3, "0912345679", None, "Ia Băng"],                    # 6
        None,                                                                    # 7 blank
        [3, "Trần Thị Bình", dt.date(1985, 5, 6), "Nữ", 16, 912345678, "064161000124", "Ia Băng"],  # 8
        [4, "Ksor H'Blang", "1961", "Nữ", 9, "0912000111", None, "Ia Băng"],      # 9
        ["Tổng cộng", None, None, None, None, None, None, None],                  # 10 totals
        ["Người lập biểu"],                                                      # 11 notes
    ]
    return write_xlsx(path, rows, merges=tuple(merges))


@pytest.fixture
def national(tmp_path):
    src = national_file(tmp_path / "chu_se.xlsx")
    res = read(src)
    assert res.row_numbers.tolist() == [5, 6, 8, 9]       # what the reader makes of the layout
    assert res.header_rows == [3, 4]
    issues = issues_frame([
        (1, "full_name", "name_invalid"),
        (1, "phone", "phone_invalid"),
        (2, "phone", "id_zero_restored"),
        (2, None, "under_age"),
        (3, "birth_date", "dob_year_only"),
    ])
    return src, res, issues


# ---------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------


def test_describe_issue_names_the_districts_header_and_the_expected_form():
    kinds = load_input_kinds()
    phone = kinds["target_list"].column("phone")
    msg = describe_issue("value_invalid", "phone", kind="target_list", column_headers={"phone": "SĐT (*)"})
    assert msg == f"«SĐT (*)» không hợp lệ: cần {expected_form(phone, kinds)}"
    # without the district's header: the template's header
    assert describe_issue("value_missing", "phone", kind="target_list") == "Thiếu «Số điện thoại»"
    # enum columns list their values; numeric columns add their bounds
    product = describe_issue("value_invalid", "product", kind="vaccine_stock")
    assert product.startswith("«Tên vắc xin» không hợp lệ: cần một trong: AstraZeneca, Pfizer-BioNTech")
    assert describe_issue("value_out_of_range", "vaccination_tables", kind="facilities",
                          column_headers={"vaccination_tables": "Số bàn"}) == (
        "«Số bàn» nằm ngoài khoảng thường gặp (từ 0 đến 100): xin kiểm tra")
    assert describe_issue("value_invalid", "doses_per_vial", kind="vaccine_stock").endswith("số nguyên từ 1 đến 20")
    # detail and file-level reasons
    assert describe_issue("unreadable_file", None, kind="target_list", detail="tệp PDF") == "Không đọc được tệp: tệp PDF"
    assert describe_issue("wrong_kind", None, kind="target_list", detail="x").startswith(
        "Tệp không phải loại «Danh sách đối tượng tiêm chủng»")
    # a code the catalogue does not know yet does not break the feedback
    assert "mystery_code" in describe_issue("mystery_code", "phone", kind="target_list")


def test_every_catalogue_message_renders_cleanly_and_never_starts_a_formula():
    spec = load_input_kinds()["target_list"]
    for code in load_reasons().reasons:
        for column in [None, *(c.name for c in spec.columns)]:
            text = describe_issue(code, column, kind="target_list", detail="=1+1")
            assert "{" not in text and "}" not in text and "«»" not in text, (code, column, text)
            assert text and not starts_formula(text), (code, column, text)


def test_row_messages_one_text_per_row_most_severe_first():
    issues = issues_frame([
        (0, "phone", "phone_converted"),                   # repair only
        (1, "phone", "phone_invalid"),                     # warning first in the frame, row error after
        (1, "full_name", "name_missing"),
        (1, "birth_date", "dob_invalid"),
        (1, "id_number", "id_zero_restored"),
        (1, "full_name", "name_missing"),                  # the same issue twice: said once
        (3, None, "duplicate_in_file"),
        (3, "birth_date", "dob_year_only"),
    ])
    headers = {"phone": "SĐT", "full_name": "Họ tên", "birth_date": "Ngày sinh", "id_number": "CCCD"}
    out = row_messages(issues, 5, "target_list", headers)
    assert out[0] == "Đã nhận, đã sửa: «SĐT» đã đổi từ số 11 chữ số sang số 10 chữ số mới"
    assert out[1] == ("Bị loại: Thiếu «Họ tên»; «Ngày sinh» không hợp lệ (không có ngày này hoặc ở tương lai): "
                      "cần dạng dd/mm/yyyy. Cần kiểm tra: «SĐT» không phải số di động Việt Nam hợp lệ (10 chữ số). "
                      "Đã sửa: «CCCD» đã được thêm lại số 0 ở đầu (Excel làm mất)")
    assert out[2] == OK_MESSAGE and out[4] == OK_MESSAGE
    assert out[3] == ("Đã nhận, cần kiểm tra: Dòng trùng với một dòng khác trong cùng tệp; «Ngày sinh» chỉ có năm "
                      "sinh: đã ghi ngày 01/01 của năm đó, xin bổ sung ngày tháng")
    assert row_statuses(issues, 5) == ["repaired", "rejected", "ok", "warning", "ok"]


def test_row_messages_quarantined_repeats_file_level_issues_and_bad_rows():
    issues = issues_frame([(0, None, "repeat_of_earlier_submission"), (1, "phone", "phone_invalid")])
    file_level = pd.DataFrame({"row": pd.array([None], dtype="Int64"), "column": [None],
                               "code": ["too_many_rejected_rows"], "severity": ["blocking"]})
    issues = pd.concat([file_level, issues], ignore_index=True)
    quarantined = np.array([True, False, False])
    out = row_messages(issues, 3, "target_list", quarantined=quarantined)
    assert out[0] == "Không ghi nhận: Dòng này đã được gửi trong một lần trước: không ghi nhận lại"
    assert out[1].startswith("Đã nhận, cần kiểm tra: «Số điện thoại»")
    assert out[2] == OK_MESSAGE
    assert row_statuses(issues, 3, quarantined=quarantined) == ["rejected", "warning", "ok"]
    assert row_messages(issues.iloc[:0], 2, "target_list") == [OK_MESSAGE, OK_MESSAGE]
    with pytest.raises(ValueError):
        row_messages(issues_frame([(5, "phone", "phone_invalid")]), 3, "target_list")


def test_row_messages_on_many_rows_share_texts():
    n = 50_000
    rows = np.arange(0, n, 2)
    issues = pd.DataFrame({"row": rows, "column": "phone", "code": "phone_invalid", "severity": "warning"})
    out = row_messages(issues, n, "target_list", {"phone": "SĐT"})
    assert out[0] is out[2] and out[0].startswith("Đã nhận, cần kiểm tra: «SĐT»")   # built once, shared
    assert out[1] == OK_MESSAGE and sum(m != OK_MESSAGE for m in out) == len(rows)


def test_blocking_text_and_formula_safety_helpers():
    text = blocking_text([("too_many_rejected_rows", "3/4 dòng, quá 50%")], "target_list")
    assert text == "Quá nhiều dòng bị loại (3/4 dòng, quá 50%); cả tệp bị từ chối, xin sửa và gửi lại"
    missing = blocking_text([("required_column_missing", "thiếu cột bắt buộc: «Họ và tên»")], "target_list")
    assert missing == "Thiếu cột bắt buộc: «Họ và tên»"
    assert not starts_formula(blocking_text([("required_column_missing", "=cmd|' /C calc'!A0")], "target_list"))
    assert blocking_text([], "target_list") is None
    for ch in FORMULA_TRIGGERS:
        assert starts_formula(ch + "1") and csv_safe(ch + "1") == "'" + ch + "1"
    assert csv_safe("0912345678") == "0912345678" and csv_safe(None) == ""
    assert "＝" in FORMULA_TRIGGERS and "＠" in FORMULA_TRIGGERS


# ---------------------------------------------------------------------------------------------------------
# The annotated copy
# ---------------------------------------------------------------------------------------------------------


def test_xlsx_feedback_keeps_the_layout_and_puts_each_message_on_its_excel_row(tmp_path, national):
    src, res, issues = national
    messages = row_messages(issues, res.rows_total, res.kind, res.column_headers)
    statuses = row_statuses(issues, res.rows_total)
    out = write_feedback(res, messages, statuses, tmp_path / "out" / "feedback.xlsx", blocking_message=None,
                         source=src, issues=issues, info={"Huyện": "Chư Sê"})
    assert out == tmp_path / "out" / "feedback.xlsx" and out.is_file()
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Tóm tắt kết quả", "DS"]
    ws = wb["DS"]
    result = WIDTH + 1                                  # the column right of the header (1-based)
    # title rows, both header rows and their merges as they were; the result header at the right
    assert ws["A1"].value == "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG HUYỆN CHƯ SÊ"
    assert ws["A2"].value == "Lưu ý: các cột có dấu (*) là bắt buộc"
    assert [ws.cell(3, j).value for j in range(1, WIDTH + 1)] == SINGLES + ["Thông tin khác", None]
    assert ws.cell(4, 7).value == "Số CMT/CCCD" and ws.cell(4, 8).value == "Xã/Phường"
    assert ws.cell(3, result).value == RESULT_HEADER
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:L1", "B3:B4", "G3:H3", "I3:I4"} <= merged
    # the message of the row Excel shows as N is on row N
    for i, row_number in enumerate(res.row_numbers.tolist()):
        assert ws.cell(row_number, result).value == messages[i]
    assert ws.cell(5, result).value == OK_MESSAGE
    assert ws.cell(6, result).value.startswith("Bị loại: «Họ và tên (*)» không hợp lệ")
    assert "«SĐT (*)» không phải số di động" in ws.cell(6, result).value
    assert ws.cell(8, result).value.startswith("Đã nhận, cần kiểm tra: Chưa đủ 18 tuổi")
    assert ws.cell(9, result).value.startswith("Đã nhận, cần kiểm tra: «Ngày sinh (*)» chỉ có năm sinh")
    # skipped rows left as they were, without a result
    assert ws.cell(7, 1).value is None and ws.cell(7, result).value is None
    assert ws["A10"].value == "Tổng cộng" and ws.cell(10, result).value is None
    assert ws["A11"].value == "Người lập biểu" and ws.cell(11, result).value is None
    # highlight: rejected red, warnings yellow, OK none
    assert all(ws.cell(6, j).fill.fgColor.rgb == RED for j in range(1, result + 1))
    assert ws.cell(6, 7).fill.fgColor.rgb == RED                 # an empty cell of the rejected row too
    assert ws.cell(8, 2).fill.fgColor.rgb == YELLOW and ws.cell(9, 2).fill.fgColor.rgb == YELLOW
    assert ws.cell(5, 2).fill.fill_type is None
    # original texts, as text: leading zeros kept, Excel's damage shown as it is, typed dates as dd/mm/yyyy
    assert ws["F5"].value == "0912345678" and ws["G5"].value == "064161000123"
    assert ws["F8"].value == "912345678" and ws["F8"].data_type == "s"
    assert ws["A5"].value == "1" and ws["E5"].value == "9" and ws["E5"].data_type == "s"
    assert ws["C8"].value == "06/05/1985" and ws["C9"].value == "1961"
    assert all(ws.cell(r, j).number_format == "@" for r in (5, 6, 8) for j in (1, 6, 7))
    # formula injection: the district's "=HYPERLINK(...)" stays text
    cell = ws["B6"]
    assert cell.value == HYPERLINK and cell.data_type == "s" and cell.data_type != "f" and cell.quotePrefix
    # navigation: frozen under the header, a filter on the last header row
    assert ws.freeze_panes == "A5"
    assert ws.auto_filter.ref == f"A4:I{11}"
    text = summary_text(out)
    assert "ĐÃ NHẬN, trừ 1 dòng bị loại" in text and "Huyện | Chư Sê" in text
    assert "Số dòng dữ liệu | 4" in text and "Số dòng bị loại (tô đỏ) | 1" in text
    assert "Số dòng cần kiểm tra (tô vàng) | 2" in text
    assert "Dòng 6 | Bị loại: «Họ và tên (*)»" in text
    assert "1 | Lỗi: «Họ và tên (*)» không hợp lệ" in text
    link = wb["Tóm tắt kết quả"]
    cells = [c for row in link.iter_rows() for c in row if c.value == "Dòng 6"]
    assert cells and cells[0].hyperlink.location == "'DS'!A6"


def test_csv_upload_as_xlsx_on_request_with_messages_on_its_line_numbers(tmp_path):
    src = write_csv(tmp_path / "ds.csv", [
        "DANH SÁCH ĐỐI TƯỢNG",                                                     # line 1
        "Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Số CMT/CCCD,Xã/Phường",  # 2
        "Nguyễn Văn An,01/02/1970,0,9,0912345678,064161000123,Ia Băng",            # 3
        '"@SUM(1)",01/02/1970,0,9,+84912345678,"Ghi chú',                           # 4 (record spans 4-5)
        'hai dòng",Ia Băng',
        "＝1+1,01/02/1970,1,9,-1,012345678,Ia Băng",                                # 6
        "",                                                                         # 7 blank
        "Trần Thị Bình,12/07/1980,1,9,0987654321,,Ia Grai",                         # 8
    ])
    res = read(src)
    assert res.file_format == "csv" and res.row_numbers.tolist() == [3, 4, 6, 8]
    issues = issues_frame([(1, "full_name", "name_invalid"), (2, "phone", "phone_invalid"),
                           (3, "commune_name", "commune_unknown")])
    messages = row_messages(issues, 4, res.kind, res.column_headers)
    out = write_feedback(res, messages, row_statuses(issues, 4), tmp_path / "ds.feedback.csv",
                         blocking_message=None, source=src, annotated_csv=False)
    assert out.suffix == ".xlsx" and out.is_file()
    ws = data_sheet(out, "Dữ liệu")
    assert ws["A1"].value == "DANH SÁCH ĐỐI TƯỢNG" and ws["H2"].value == RESULT_HEADER
    assert [ws.cell(r, 8).value for r in (3, 4, 5, 6, 7, 8)] == [
        messages[0], messages[1], None, messages[2], None, messages[3]]
    assert ws["H8"].value == "Bị loại: «Xã/Phường» không có trong danh mục xã/phường của huyện"
    assert ws["E3"].value == "0912345678" and ws["F3"].value == "064161000123" and ws["F6"].value == "012345678"
    assert ws["C3"].value == "0" and ws["B3"].value == "01/02/1970"       # CSV text stays exactly as typed
    assert unescape(ws["F4"].value) == "Ghi chú\r\nhai dòng" == res.original_rows.iloc[1, 5]   # Excel's _x000D_
    for ref in ("A4", "E4", "A6", "E6"):                                   # @SUM, +849..., ＝1+1, -1
        assert ws[ref].data_type == "s" and ws[ref].quotePrefix, ref
    assert ws["A4"].value == "@SUM(1)" and ws["A6"].value == "＝1+1" and ws["E6"].value == "-1"
    assert ws["A4"].fill.fgColor.rgb == RED and ws["A6"].fill.fgColor.rgb == YELLOW


def test_rejected_file_summary_and_highlights(tmp_path, national):
    src, res, issues = national
    blocking = blocking_text([("too_many_rejected_rows", "3/4 dòng, quá 50%")], res.kind)
    statuses = row_statuses(issues, res.rows_total)
    out = write_feedback(res, row_messages(issues, res.rows_total, res.kind, res.column_headers), statuses,
                         tmp_path / "rejected.xlsx", blocking_message=blocking, source=src)
    text = summary_text(out)
    assert "BỊ TỪ CHỐI" in text
    assert f"Lý do từ chối | {blocking}" in text
    assert "Số dòng được ghi nhận | 0" in text and "Số dòng dữ liệu | 4" in text
    assert "gửi lại cả tệp" in text
    ws = data_sheet(out, "DS")
    assert ws["A6"].fill.fgColor.rgb == RED and ws.cell(5, WIDTH + 1).value == OK_MESSAGE


def test_unreadable_file_gets_a_summary_only(tmp_path):
    out = write_refusal(tmp_path / "refusal.xlsx", "Không đọc được tệp: tệp PDF", kind="target_list",
                        source_name="ds.pdf")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Tóm tắt kết quả"]
    text = summary_text(out)
    assert "BỊ TỪ CHỐI" in text and "Lý do từ chối | Không đọc được tệp: tệp PDF" in text
    assert "Tệp đã gửi | ds.pdf" in text


def test_no_text_written_by_the_system_starts_a_formula(tmp_path, national):
    src, res, issues = national
    messages = row_messages(issues, res.rows_total, res.kind, res.column_headers)
    assert all(not starts_formula(m) for m in messages)
    evil = "=cmd|' /C calc'!A0"
    out = write_feedback(res, messages, row_statuses(issues, res.rows_total), tmp_path / "f.xlsx",
                         blocking_message=blocking_text([("required_column_missing", evil)], res.kind), source=src,
                         info={evil: evil})
    wb = openpyxl.load_workbook(out)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if ws.title != "DS" or cell.column == WIDTH + 1:       # our own texts
                    assert not starts_formula(cell.value), (ws.title, cell.coordinate, cell.value)


def test_the_fast_row_path_writes_the_same_cells_as_xlsxwriters_api(tmp_path, national, monkeypatch):
    src, res, issues = national
    messages = row_messages(issues, res.rows_total, res.kind, res.column_headers)
    statuses = row_statuses(issues, res.rows_total)
    fast = write_feedback(res, messages, statuses, tmp_path / "fast.xlsx", blocking_message=None, source=src)
    monkeypatch.setattr(xlsx_rows.RawRows, "supported", staticmethod(lambda ws: False))
    slow = write_feedback(res, messages, statuses, tmp_path / "slow.xlsx", blocking_message=None, source=src)

    def cells(path: Path) -> dict:
        ws = data_sheet(path, "DS")
        return {c.coordinate: (c.value, c.data_type, c.fill.fgColor.rgb if c.fill.fill_type else None,
                               c.number_format, bool(c.quotePrefix))
                for row in ws.iter_rows() for c in row if c.value is not None or c.fill.fill_type}

    assert cells(fast) == cells(slow)
    assert data_sheet(fast, "DS").merged_cells.ranges == data_sheet(slow, "DS").merged_cells.ranges


def test_special_characters_round_trip_through_the_reader(tmp_path):
    src = write_csv(tmp_path / "x.csv", [
        "Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường",
        '"a\x01b",01/02/1970,0,9,0912345678,Ia Băng',
        'x_x0041_y,01/02/1970,0,9,0912345678,"  Ia Băng  "',
        '"<b>&amp; ""q""",01/02/1970,0,9,0912345678,"\tIa Băng"',
    ])
    res = read(src)
    out = write_feedback(res, ["OK"] * 3, ["ok"] * 3, tmp_path / "x.xlsx", blocking_message=None, source=src,
                         annotated_csv=False)
    again = read(out)          # the feedback copy itself, fixed and sent again, reads the same
    assert again.sheet == "Dữ liệu" and again.row_numbers.tolist() == res.row_numbers.tolist()
    pd.testing.assert_frame_equal(again.frame, res.frame)
    assert again.unmapped_headers == [RESULT_HEADER]


def test_a_feedback_copy_sent_again_gets_its_result_column_replaced(tmp_path, national):
    src, res, issues = national
    first = write_feedback(res, row_messages(issues, 4, res.kind, res.column_headers), row_statuses(issues, 4),
                           tmp_path / "first.xlsx", blocking_message=None, source=src)
    again = read(first)
    assert again.row_numbers.tolist() == [5, 6, 8, 9]
    second = write_feedback(again, ["OK"] * 4, ["ok"] * 4, tmp_path / "second.xlsx", blocking_message=None,
                            source=first)
    ws = data_sheet(second, "DS")
    assert ws.cell(3, WIDTH + 1).value == RESULT_HEADER and ws.cell(3, WIDTH + 2).value is None
    assert ws.cell(6, WIDTH + 1).value == OK_MESSAGE and ws.cell(6, WIDTH + 1).fill.fill_type is None


def test_without_the_source_file_the_layout_is_rebuilt_from_the_read(tmp_path, national):
    _src, res, issues = national
    messages = row_messages(issues, 4, res.kind, res.column_headers)
    out = write_feedback(res, messages, row_statuses(issues, 4), tmp_path / "rebuilt.xlsx",
                         blocking_message=None, source=tmp_path / "gone.xlsx")
    ws = data_sheet(out, "DS")
    labels = list(res.original_rows.columns)
    assert [ws.cell(4, j + 1).value for j in range(len(labels))] == labels
    result = len(labels) + 1
    assert ws.cell(4, result).value == RESULT_HEADER
    assert [ws.cell(r, result).value for r in (5, 6, 8, 9)] == messages
    assert ws["B6"].value == HYPERLINK and ws["B6"].data_type == "s"
    assert "Không có tệp gốc" in summary_text(out)


def test_header_only_file_and_argument_checks(tmp_path):
    src = write_csv(tmp_path / "empty.csv", ["Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường"])
    res = read(src)
    assert res.rows_total == 0
    out = write_feedback(res, [], [], tmp_path / "empty.xlsx", source=src,
                         blocking_message=blocking_text([("unreadable_file", "tệp không có dòng dữ liệu nào")],
                                                        res.kind))
    assert out.suffix == ".csv" and csv_lines(out)[0].endswith(f",Xã/Phường,{RESULT_HEADER}")
    problems = fb.problems_workbook_path(out)
    assert openpyxl.load_workbook(problems).sheetnames == ["Tóm tắt kết quả"]    # no problem row: no sheet
    assert "Không đọc được tệp: tệp không có dòng dữ liệu nào" in summary_text(problems)
    with pytest.raises(ValueError):
        write_feedback(res, ["OK"], [], tmp_path / "bad.xlsx", blocking_message=None)
    src2 = national_file(tmp_path / "n.xlsx")
    res2 = read(src2)
    with pytest.raises(ValueError):
        write_feedback(res2, ["OK"] * 4, ["fine"] * 4, tmp_path / "bad.xlsx", blocking_message=None)
    with pytest.raises(ValueError, match="overwrite"):
        write_feedback(res2, ["OK"] * 4, ["ok"] * 4, src2, blocking_message=None, source=src2)


def test_a_csv_longer_than_an_excel_sheet_comes_back_as_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(fb_write, "EXCEL_MAX_ROWS", 4)
    src = write_csv(tmp_path / "long.csv", [
        "Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường",      # 1
        'Nguyễn Văn An,01/02/1970,0,9,0912345678,"Ia',                             # 2 (record spans 2-3)
        'Băng"',
        "=1+1,01/02/1970,0,9,0912345679,Ia Băng",                                   # 4
        "",                                                                          # 5
        "Trần Thị Bình,01/02/1970,1,9,0912345670,Ia Băng",                           # 6
    ])
    res = read(src)
    assert res.row_numbers.tolist() == [2, 4, 6]
    issues = issues_frame([(1, "full_name", "name_invalid")])
    messages = row_messages(issues, 3, res.kind, res.column_headers)
    before = src.read_bytes()
    out = write_feedback(res, messages, row_statuses(issues, 3), tmp_path / "fb" / "long.xlsx",
                         blocking_message=None, source=src, annotated_csv=False)
    assert out == tmp_path / "fb" / "long.csv" and (tmp_path / "fb" / "long.problems.xlsx").is_file()
    beside = write_feedback(res, messages, row_statuses(issues, 3), tmp_path / "long.xlsx",
                            blocking_message=None, source=src)
    assert beside == tmp_path / "long.feedback.csv" and src.read_bytes() == before   # never the upload itself
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    again = read(out)                          # the lines are where they were
    assert again.row_numbers.tolist() == [2, 4, 6]
    assert again.original_rows[RESULT_HEADER].tolist() == messages
    assert again.original_rows["Họ và tên"].tolist() == ["Nguyễn Văn An", "'=1+1", "Trần Thị Bình"]
    assert again.original_rows["Số điện thoại"].tolist() == ["0912345678", "0912345679", "0912345670"]
    assert "Dòng 4 | Bị loại" in summary_text(tmp_path / "fb" / "long.problems.xlsx")



# ---------------------------------------------------------------------------------------------------------
# A CSV upload: its own lines back as CSV, the rows with problems as a workbook
# ---------------------------------------------------------------------------------------------------------

CSV_LINES = [
    "DANH SÁCH ĐỐI TƯỢNG,,,,,,,",                                                                   # 1 title
    "STT,Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường,Dân tộc",                # 2 header
    "1,Nguyễn Văn An,01/02/1970,0,9,0912345678,Ia Băng,Kinh",                                       # 3
    '2,"@SUM(1)",01/02/1970,0,9,+84912345678,"Ia Băng, thôn',                                       # 4 (4-5)
    'Plei Ku",',
    "3,＝1+1,01/02/1970,1,9,-1,Ia Băng",                                                            # 6 short row
    "",                                                                                             # 7 blank
    '4,"Lê, Văn C",12/07/1980,1,9,0987654321,Ia Grai,,,,',                                          # 8 trailing
    "5,Trần Thị Bình,12/07/1980,1,9,  =1+2,Ia Grai,\tJrai",                                         # 9
    '6,"Rơ Châm ""Hiền""",12/07/1980,1,9,0987654322,Ia Grai,Jrai',                                  # 10
    "Tổng cộng,,,,,,,",                                                                             # 11 totals
]
CSV_DATA_ROWS = [3, 4, 6, 8, 9, 10]


def cp1258(text: str) -> bytes:
    """Text as Windows-1258 stores Vietnamese: precomposed letters where the code page has them, tone
    marks as combining characters."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for ch in text:   # each letter: the base with its non-tone marks precomposed, then its tone mark
        marks = unicodedata.normalize("NFD", ch)
        letter = unicodedata.normalize("NFC", "".join(m for m in marks if m not in tones))
        out += (letter + "".join(m for m in marks if m in tones)).encode("cp1258")
    return bytes(out)


def csv_upload(tmp_path: Path, lines: list[str] = CSV_LINES, name: str = "ds.csv", encoding: str = "utf-8",
               issue_rows: tuple = ((1, "full_name", "name_invalid"), (2, "phone", "phone_invalid"),
                                    (3, "commune_name", "commune_unknown"), (4, "phone", "phone_converted"))):
    src = tmp_path / name
    text = "\r\n".join(lines) + "\r\n"
    src.write_bytes(cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    res = read(src)
    issues = issues_frame(list(issue_rows))
    n = res.rows_total
    return src, res, row_messages(issues, n, res.kind, res.column_headers), row_statuses(issues, n), issues


def parsed(path: Path, delimiter: str = ",") -> list[list[str]]:
    import csv
    import io

    text = path.read_bytes()[3:].decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_a_csv_upload_comes_back_as_csv_with_every_line_and_its_result(tmp_path):
    src, res, messages, statuses, issues = csv_upload(tmp_path)
    assert res.row_numbers.tolist() == CSV_DATA_ROWS and res.header_rows == [2]
    out = write_feedback(res, messages, statuses, tmp_path / "fb" / "1-target_list.xlsx", blocking_message=None,
                         source=src, issues=issues)
    assert out == tmp_path / "fb" / "1-target_list.csv"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\n") == src.read_bytes().count(b"\n")
    lines = raw[3:].decode("utf-8").split("\r\n")
    # lines that need no care come back as they were, the result after the table's widest row
    assert lines[0] == CSV_LINES[0] and lines[6] == "" and lines[10] == CSV_LINES[10]
    assert lines[1] == CSV_LINES[1] + "," + RESULT_HEADER
    assert lines[2] == CSV_LINES[2] + ",OK"
    assert lines[7] == '4,"Lê, Văn C",12/07/1980,1,9,0987654321,Ia Grai,,' + csv_field(messages[3])
    assert lines[9] == CSV_LINES[9] + ",OK"
    # what a spreadsheet would evaluate gets an apostrophe; the short row is padded to the result column
    records = parsed(out)
    by_line = dict(zip([1, 2, 3, 4, 6, 7, 8, 9, 10, 11], records, strict=True))
    assert by_line[4][:6] == ["2", "'@SUM(1)", "01/02/1970", "0", "9", "'+84912345678"]
    assert by_line[4][6] == "Ia Băng, thôn\r\nPlei Ku" and by_line[4][8] == messages[1]
    assert by_line[6] == ["3", "'＝1+1", "01/02/1970", "1", "9", "'-1", "Ia Băng", "", messages[2]]
    assert by_line[9][5] == "'=1+2" and by_line[9][7] == "'\tJrai"
    assert by_line[10][1] == 'Rơ Châm "Hiền"'
    for line, fields in by_line.items():
        if line in CSV_DATA_ROWS:
            assert len(fields) == 9 and fields[8] == messages[CSV_DATA_ROWS.index(line)], line
        assert not any(starts_formula(f) for f in fields), line
    # the copy, fixed and sent again, reads as the upload did, with the results in their column
    again = read(out)
    assert again.row_numbers.tolist() == CSV_DATA_ROWS
    assert again.original_rows[RESULT_HEADER].tolist() == messages
    assert again.frame["priority_group"].tolist() == res.frame["priority_group"].tolist()


def csv_field(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def test_a_csv_uploads_problem_rows_come_highlighted_in_a_workbook_with_the_summary(tmp_path):
    src, res, messages, statuses, issues = csv_upload(tmp_path)
    out = write_feedback(res, messages, statuses, tmp_path / "1-target_list.xlsx", blocking_message=None,
                         source=src, issues=issues)
    problems = fb.problems_workbook_path(out)
    assert problems == tmp_path / "1-target_list.problems.xlsx" and problems.is_file()
    wb = openpyxl.load_workbook(problems)
    assert wb.sheetnames == ["Tóm tắt kết quả", fb.PROBLEMS_SHEET]
    ws = wb[fb.PROBLEMS_SHEET]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["Dòng", *res.original_rows.columns, RESULT_HEADER]
    # only the rejected rows and those to check, in order, with their row numbers in the file
    assert [r[0] for r in rows[1:]] == ["4", "6", "8"]
    assert [r[-1] for r in rows[1:]] == [messages[1], messages[2], messages[3]]
    assert statuses == ["ok", "rejected", "warning", "rejected", "repaired", "ok"]
    assert ws["B2"].value == "2" and ws["C2"].value == "@SUM(1)" and ws["C2"].quotePrefix
    assert ws["C2"].fill.fgColor.rgb == RED and ws["C3"].fill.fgColor.rgb == YELLOW
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    text = summary_text(problems)
    assert "ĐÃ NHẬN, trừ 2 dòng bị loại" in text and "Số dòng cần kiểm tra (tô vàng) | 1" in text
    assert "1-target_list.csv" in text and fb.PROBLEMS_SHEET in text
    links = {c.value: c.hyperlink.location for row in wb["Tóm tắt kết quả"].iter_rows() for c in row
             if c.hyperlink is not None}
    assert links == {"Dòng 4": f"'{fb.PROBLEMS_SHEET}'!A2", "Dòng 8": f"'{fb.PROBLEMS_SHEET}'!A4"}


def test_a_clean_csv_upload_gets_a_summary_workbook_without_a_problem_sheet(tmp_path):
    src, res, _m, _s, _i = csv_upload(tmp_path)
    n = res.rows_total
    out = write_feedback(res, ["OK"] * n, ["ok"] * n, tmp_path / "ok.xlsx", blocking_message=None, source=src)
    assert [f[-1] for f in parsed(out) if f and f[0] in {"1", "2", "3", "4", "5", "6"}] == ["OK"] * n
    wb = openpyxl.load_workbook(fb.problems_workbook_path(out))
    assert wb.sheetnames == ["Tóm tắt kết quả"]
    assert "Không có dòng nào bị loại hay cần kiểm tra" in summary_text(fb.problems_workbook_path(out))


def test_the_fast_csv_copy_writes_what_the_csv_module_writes(tmp_path, monkeypatch):
    """Records copied as they are and records through the csv module say the same thing, field by field."""
    lines = [*CSV_LINES, '7,"a ""b"", c",01/02/1970,0,9,"0912,345",Ia Băng', "8 ,x,01/02/1970", ",,,", "  ,",
             '9,"Thôn 1', 'xã A",01/02/1970,0,9,0912345678,Ia Băng',                  # plain quotes, two lines
             "10,Y,01/02/1970,0,9,0912345678,Ia Băng", "11,Z,01/02/1970,0,9,0912345678,Ia Băng"]
    src, res, messages, statuses, _i = csv_upload(tmp_path, lines)
    fast = write_feedback(res, messages, statuses, tmp_path / "fast.xlsx", blocking_message=None, source=src)
    real_scan = csv_copy._scan_records

    def all_slow(*args, **kwargs):
        nfields, trail, slow, irregular = real_scan(*args, **kwargs)
        return nfields, trail, np.ones_like(slow), irregular

    monkeypatch.setattr(csv_copy, "_scan_records", all_slow)
    slow = write_feedback(res, messages, statuses, tmp_path / "slow.xlsx", blocking_message=None, source=src)
    assert fast.read_bytes().count(b"\n") == slow.read_bytes().count(b"\n") == src.read_bytes().count(b"\n")

    def normalized(path: Path) -> list[list[str]]:
        import csv
        import io

        text = path.read_bytes()[3:].decode("utf-8")
        return [[f for f in row] for row in csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)]

    assert normalized(fast) == normalized(slow)


def test_a_csv_upload_keeps_its_delimiter_and_comes_back_in_utf8(tmp_path):
    lines = ["STT;Họ và tên;Ngày sinh;Giới tính;Nhóm ưu tiên;Số điện thoại;Xã/Phường;Dân tộc",
             "1;Nguyễn Văn Ấn;01/02/1970;0;9;0912345678;Ia Băng;Kinh",
             "2;Ksor H'Blang;01/02/1970;0;9;0912345679;Ia Băng;"]
    src, res, messages, statuses, _i = csv_upload(tmp_path, lines, encoding="cp1258",
                                                  issue_rows=((1, "full_name", "name_invalid"),))
    assert res.encoding == "cp1258" and res.row_numbers.tolist() == [2, 3]
    assert src.read_bytes() != "\r\n".join(lines).encode("utf-8")[:len(src.read_bytes())]
    out = write_feedback(res, messages, statuses, tmp_path / "w.xlsx", blocking_message=None, source=src)
    got = out.read_bytes()[3:].decode("utf-8").split("\r\n")
    assert got == [lines[0] + ";" + RESULT_HEADER, lines[1] + ";OK", lines[2] + ";" + messages[1], ""]


def test_a_csv_feedback_copy_sent_again_gets_its_result_column_replaced(tmp_path):
    src, res, messages, statuses, _i = csv_upload(tmp_path)
    first = write_feedback(res, messages, statuses, tmp_path / "first.xlsx", blocking_message=None, source=src)
    again = read(first)
    n = again.rows_total
    second = write_feedback(again, ["OK"] * n, ["ok"] * n, tmp_path / "second.xlsx", blocking_message=None,
                            source=first)
    records = parsed(second)
    assert records[1] == [*CSV_LINES[1].split(","), RESULT_HEADER]
    data = [r for r in records if r and r[0] in {"1", "2", "3", "4", "5", "6"}]
    assert [len(r) for r in data] == [9] * 6 and [r[-1] for r in data] == ["OK"] * 6


def test_a_csv_upload_without_its_file_is_written_from_the_read(tmp_path):
    src, res, messages, statuses, _i = csv_upload(tmp_path)
    out = write_feedback(res, messages, statuses, tmp_path / "gone.xlsx", blocking_message=None,
                         source=tmp_path / "missing.csv")
    again = read(out)
    assert again.row_numbers.tolist() == CSV_DATA_ROWS
    assert again.original_rows[RESULT_HEADER].tolist() == messages
    assert "Không có tệp gốc" in summary_text(fb.problems_workbook_path(out))


def readings_rows(path: Path) -> list[list[str]]:
    ws = openpyxl.load_workbook(path)["Tóm tắt kết quả"]
    rows = [[c.value for c in row][:5] for row in ws.iter_rows()]
    start = next(i for i, r in enumerate(rows) if r[0] == summary.READINGS_TITLE)
    assert rows[start + 1] == list(summary.READINGS_HEADERS)
    out = []
    for r in rows[start + 2:]:
        if r[0] is None:
            break
        out.append(r)
    return out


def test_the_summary_says_how_every_column_was_read(tmp_path, national):
    src, res, messages, statuses, _i = csv_upload(tmp_path)
    assert res.column_readings, "the reader gives one reading per column"
    out = write_feedback(res, messages, statuses, tmp_path / "r.xlsx", blocking_message=None, source=src)
    table = readings_rows(fb.problems_workbook_path(out))
    assert table[0] == ["STT", "A", "—", "cột số thứ tự", "6"]
    assert table[1] == ["Họ và tên", "B", "Họ và tên", "theo tiêu đề cột", "6"]
    assert table[2] == ["Ngày sinh", "C", "Ngày sinh dạng dd/mm/yyyy", "theo tiêu đề cột", "6"]
    assert table[-1] == ["Dân tộc", "H", "—", "không dùng", "3"]          # holds data, not used: said so
    assert len(table) == len(res.column_readings)
    ws = openpyxl.load_workbook(fb.problems_workbook_path(out))["Tóm tắt kết quả"]
    dan_toc = next(row for row in ws.iter_rows() if row[0].value == "Dân tộc")
    assert dan_toc[0].fill.fgColor.rgb == YELLOW and dan_toc[1].fill.fgColor.rgb == YELLOW
    # a workbook upload's summary too
    xsrc, xres, issues = national
    xout = write_feedback(xres, row_messages(issues, 4, xres.kind, xres.column_headers), row_statuses(issues, 4),
                          tmp_path / "x.xlsx", blocking_message=None, source=xsrc)
    xtable = readings_rows(xout)
    assert [r[0] for r in xtable] == [r.heading for r in xres.column_readings]
    assert [r[1] for r in xtable] == [r.letter for r in xres.column_readings]
    assert xtable[1][2:4] == ["Họ và tên", "theo tiêu đề cột"]
    # a reading whose heading looks like a formula stays text
    from campaign.io.columns import IGNORED, ColumnReading

    res.column_readings = [*res.column_readings, ColumnReading("=HYPERLINK(1)", "I", None, IGNORED, 0)]
    out2 = write_feedback(res, messages, statuses, tmp_path / "r2.xlsx", blocking_message=None, source=src)
    cell = next(row[0] for row in openpyxl.load_workbook(fb.problems_workbook_path(out2))["Tóm tắt kết quả"].iter_rows()
                if row[0].value == "=HYPERLINK(1)")
    assert cell.data_type == "s" and cell.quotePrefix


def test_without_column_readings_the_summary_has_no_such_table(tmp_path, national):
    src, res, issues = national
    res.column_readings = []
    out = write_feedback(res, row_messages(issues, 4, res.kind, res.column_headers), row_statuses(issues, 4),
                         tmp_path / "x.xlsx", blocking_message=None, source=src)
    assert summary.READINGS_TITLE not in summary_text(out)


def test_the_csv_copy_of_random_records_is_safe_and_the_same_either_way(tmp_path, monkeypatch):
    """Random records (quotes plain and stray, every delimiter, formula characters, spaces, line breaks in
    quotes, short and long rows): the copy keeps every line where it was, no field of it starts a formula
    (`csv_safe`'s rule, the file split by its own delimiter), and copying as is gives what the csv module
    gives."""
    import csv
    import io
    import random
    from types import SimpleNamespace

    rng = random.Random(16)
    pieces = ["a", "Bình", "0912", " ", "  x", "=1+1", "+84", "-1", "@S", "\t", "＝2", '"', '""', ",", ";", "|",
              "x y", "'", "\r", "0"]

    def field() -> str:
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.3:   # quoted as a spreadsheet would, sometimes with a line break inside
            inner = text.replace('"', '""') + (rng.choice(["", "\r\n", "\n"]) if rng.random() < 0.3 else "")
            return f'"{inner}"'
        return text

    real_scan = csv_copy._scan_records

    def all_slow(*args, **kwargs):
        nfields, trail, slow, irregular = real_scan(*args, **kwargs)
        return nfields, trail, np.ones_like(slow), irregular

    for case in range(300):
        delim = rng.choice([",", ",", ";", "\t"])
        lines = [delim.join(["Họ và tên", "Ngày sinh", "Số điện thoại"])]
        lines += [delim.join(field() for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 12))]
        src = tmp_path / f"r{case}.csv"
        src.write_bytes(("\r\n".join(lines) + rng.choice(["\r\n", "\n", ""])).encode("utf-8"))
        starts, record_lines = csv_copy._records(src.read_bytes())
        data = sorted(rng.sample(record_lines[1:].tolist(), k=min(len(record_lines) - 1, rng.randint(1, 6))))
        read = SimpleNamespace(row_numbers=np.array(data, dtype=np.int64), header_rows=[1],
                               column_headers={"full_name": "Họ và tên", "birth_date": "Ngày sinh",
                                               "phone": "Số điện thoại"}, column_readings=[])
        messages = [rng.choice(["OK", "Bị loại: «Họ và tên», thiếu", 'Cần kiểm tra: "x"; y']) for _ in data]
        outs = []
        for variant in ("fast", "slow"):
            if variant == "slow":
                monkeypatch.setattr(csv_copy, "_scan_records", all_slow)
            out = tmp_path / f"r{case}-{variant}.csv"
            try:
                csv_copy.write_csv_copy(out, src, read, messages)
            except csv_copy.CopyUnsafe:
                out = None          # the caller writes such a file from the reader's grid instead
            outs.append(out)
            monkeypatch.setattr(csv_copy, "_scan_records", real_scan)
        fast, slow = outs
        if fast is None or slow is None:
            continue
        raw = fast.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        assert raw.count(b"\n") == src.read_bytes().count(b"\n") + (not src.read_bytes().endswith(b"\n")), case
        text = raw[3:].decode("utf-8")
        for skip in (False, True):              # split as the file is: no field starts a formula
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=skip):
                assert not any(starts_formula(f) for f in row), (case, row)

        def parsed_rows(path: Path, delim: str = delim) -> list[list[str]]:
            body = path.read_bytes()[3:].decode("utf-8")
            return list(csv.reader(io.StringIO(body, newline=""), delimiter=delim, skipinitialspace=True))

        assert parsed_rows(fast) == parsed_rows(slow), case
        got = parsed_rows(fast)
        assert got[0][-1] == RESULT_HEADER
