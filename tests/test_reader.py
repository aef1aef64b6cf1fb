"""The reader (intake stage 1): format sniffing, encodings, header layouts, skipped rows, refusals.

Every fixture is built in tmp_path (xlsxwriter, openpyxl or plain bytes); nothing binary is committed.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.config_kinds import load_input_kinds
from campaign.io.cells import cell_to_str
from campaign.io.headers import detect_header, header_keys
from campaign.io.reader import ReadError, ReadResult, read_submission
from campaign.vocabulary import kind_label

MB = 1024 * 1024
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
LIMITS = {"max_bytes": 50 * MB, "max_rows": 100_000}


def read(path: Path, kind: str = "target_list", **kw) -> ReadResult:
    return read_submission(path, kind, **{**LIMITS, **kw})


def refused(path: Path, kind: str = "target_list", **kw) -> ReadError:
    with pytest.raises(ReadError) as info:
        read(path, kind, **kw)
    return info.value


# ---------------------------------------------------------------------------------------------------------
# Fixture builders
# ---------------------------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list], *, sheet: str = "DS", merges: tuple = (),
               sheets_before: tuple = ()) -> Path:
    """rows: python values (None = no cell); merges: (first_row, first_col, last_row, last_col, text), 0-based."""
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    datetime_fmt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})

    def fill(ws, data):
        for r, row in enumerate(data):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, dt.datetime):
                    ws.write_datetime(r, c, v, datetime_fmt)
                elif isinstance(v, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), date_fmt)
                elif isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, (int, float)):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, v)

    for name, data in sheets_before:
        fill(wb.add_worksheet(name), data)
    ws = wb.add_worksheet(sheet)
    fill(ws, rows)
    for r0, c0, r1, c1, text in merges:
        ws.merge_range(r0, c0, r1, c1, text)
    wb.close()
    return path


def write_csv(path: Path, rows: list[list], *, encoding: str = "utf-8", delimiter: str = ",",
              newline: str = "\r\n") -> Path:
    out = io.StringIO()
    for row in rows:
        cells = []
        for v in row:
            s = "" if v is None else str(v)
            if any(ch in s for ch in (delimiter, '"', "\n", "\r")):
                s = '"' + s.replace('"', '""') + '"'
            cells.append(s)
        out.write(delimiter.join(cells) + newline)
    text = out.getvalue()
    if encoding == "cp1258":
        from campaign.domain.vn_legacy import encode_cp1258
        data = encode_cp1258(text)
    else:
        data = text.encode(encoding)
    path.write_bytes(data)
    return path


def _biff_record(rtype: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def _biff8_workbook(sheet: str, rows: list[list]) -> bytes:
    """A minimal BIFF8 workbook stream: globals (codepage, fonts, XFs, one sheet), then the sheet's cells
    (LABEL for text, NUMBER for numbers)."""
    bof = struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)
    globals_ = _biff_record(0x0809, bof) + _biff_record(0x0042, struct.pack("<H", 1200))
    font = struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + struct.pack("<BB", 5, 1)
    globals_ += _biff_record(0x0031, font + "Arial".encode("utf-16-le")) * 5
    for i in range(16):
        globals_ += _biff_record(0x00E0, struct.pack("<HHHBBBBIIH", 0, 0, 0xFFF5 if i < 15 else 1, 0x20, 0, 0, 0,
                                                     0, 0, 0x20C0))
    name = struct.pack("<BB", len(sheet), 1) + sheet.encode("utf-16-le")
    eof = _biff_record(0x000A)
    sheet_pos = len(globals_) + 4 + 6 + len(name) + len(eof)
    globals_ += _biff_record(0x0085, struct.pack("<IBB", sheet_pos, 0, 0) + name) + eof
    cells = [_biff_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 0x06)),
             _biff_record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, max(len(r) for r in rows), 0))]
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if isinstance(v, str):
                text = struct.pack("<HB", len(v), 1) + v.encode("utf-16-le")
                cells.append(_biff_record(0x0204, struct.pack("<HHH", r, c, 15) + text))
            elif v is not None:
                cells.append(_biff_record(0x0203, struct.pack("<HHHd", r, c, 15, float(v))))
    return globals_ + b"".join(cells) + eof


def _ole2_file(stream: bytes, name: str = "Workbook") -> bytes:
    """A compound file holding one stream: header, FAT in sector 0, directory in sector 1, stream after."""
    stream = stream.ljust(max(4096, -(-len(stream) // 512) * 512), b"\x00")   # >= 4096: no mini stream
    nsec = len(stream) // 512
    fat = [0xFFFFFFFD, 0xFFFFFFFE] + list(range(3, 2 + nsec)) + [0xFFFFFFFE]
    fat_sector = struct.pack("<128I", *(fat + [0xFFFFFFFF] * (128 - len(fat))))

    def entry(entry_name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = (entry_name.encode("utf-16-le") + b"\x00\x00") if entry_name else b""
        return (raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", 0xFFFFFFFF, 0xFFFFFFFF, child) + b"\x00" * 36 + struct.pack("<III", start, size, 0))

    directory = (entry("Root Entry", 5, 1, 0xFFFFFFFE, 0) + entry(name, 2, 0xFFFFFFFF, 2, len(stream))
                 + entry("", 0, 0xFFFFFFFF, 0, 0) * 2)
    header = (OLE2 + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<109I", 0, *([0xFFFFFFFF] * 108)))
    return header + fat_sector + directory + stream


def write_xls(path: Path, rows: list[list], *, sheet: str = "DS") -> Path:
    path.write_bytes(_ole2_file(_biff8_workbook(sheet, rows)))
    return path


TARGET_HEADER = ["STT", "Họ và tên (*)", "Ngày sinh (*)", "Giới tính (*)", "Mã nhóm đối tượng ưu tiên (*)",
                 "Số điện thoại (*)", "Số CMT/CCCD", "Xã/Phường (*)"]


def person(i: int, **over) -> list:
    row = {"stt": i, "name": f"Nguyễn Thị Hoà {i}", "dob": f"0{i % 9 + 1}/03/1980", "sex": "Nữ", "group": 9,
           "phone": f"09123456{i:02d}", "id": f"0641900000{i:02d}", "commune": "Ia Băng"}
    row.update(over)
    return list(row.values())


# ---------------------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------------------


def test_header_keys_fold_marks_notes_and_line_breaks():
    assert header_keys("Giới tính (*) (0: nam, 1: nữ)") == ("gioi tinh 0 nam 1 nu", "gioi tinh")
    assert header_keys("Ngày sinh dạng dd/mm/yyyy (*)") == ("ngay sinh dang dd mm yyyy",)
    assert header_keys("Số điện\nthoại (*):") == ("so dien thoai",)
    assert header_keys("  HỌ VÀ TÊN  ") == ("ho va ten",)


@pytest.mark.parametrize("headers", [
    ["Ho va ten", "Ngay sinh", "Gioi tinh", "Nhom uu tien", "SDT", "Xa"],                      # no diacritics
    ["Full name", "DOB", "Sex", "Priority group", "Phone", "Commune"],                          # English
    ["Họ và tên (*)", "Ngày sinh dạng dd/mm/yyyy (*)", "Giới tính (*) (0: nam, 1: nữ)",
     "Mã nhóm đối tượng ưu tiên (*)", "Số điện thoại (*)", "Xã/Phường (*)"],                   # (*) and notes
    ["Họ và tên\n(*)", "Ngày sinh\r\n(dd/mm/yyyy)", "GIỚI TÍNH:", "Mã nhóm\nđối tượng ưu tiên",
     "Số điện thoại.", "Xã/Phường/Thị trấn"],                                                     # line breaks
    ["full_name", "birth_date", "sex", "priority_group", "phone", "commune_name"],              # canonical names
])
def test_header_variants_map_to_canonical_columns(tmp_path, headers):
    path = write_csv(tmp_path / "a.csv", [headers, ["Nguyễn Văn A", "01/02/1970", "0", "9", "0912345678", "Ia Băng"]])
    res = read(path)
    assert list(res.frame.columns) == ["full_name", "birth_date", "sex", "priority_group", "phone", "commune_name"]
    assert res.column_headers["full_name"] == " ".join(headers[0].split())
    assert res.frame.loc[0, "phone"] == "0912345678"


def test_one_column_per_field_and_unmapped_are_reported(tmp_path):
    # "Họ và tên người được tiêm" means the full name too ("người được tiêm" adds nothing): the leftmost of
    # two equal fits wins, the other is reported; "Ghi chú thêm" holds the words of "Ghi chú": the note
    rows = [["Họ và tên", "Họ và tên người được tiêm", "Ngày sinh", "Giới tính", "Nhóm ưu tiên", "Số điện thoại",
             "Xã/Phường", "Ghi chú thêm", "Kết quả import"],
            ["A", "Nguyễn Văn A", "01/01/1970", "Nam", "1", "0912345678", "Ia Băng", "x", "OK"]]
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert res.column_headers["full_name"] == "Họ và tên"
    assert res.frame.loc[0, "full_name"] == "A"
    assert res.column_headers["note"] == "Ghi chú thêm"
    assert res.unmapped_headers == ["Họ và tên người được tiêm", "Kết quả import"]
    assert res.columns_ignored == ["Họ và tên người được tiêm", "Kết quả import"]
    assert list(res.original_rows.columns) == rows[0]
    assert res.original_rows.loc[0, "Kết quả import"] == "OK"


def test_every_kind_reads_its_own_template_header(tmp_path):
    kinds = load_input_kinds()
    for name, spec in kinds.kinds.items():
        header = ["STT"] + [c.template_header for c in spec.columns]
        path = write_xlsx(tmp_path / f"{name}.xlsx", [[kind_label(name).upper()], [], header, [1] + ["x"] * len(spec.columns)])
        res = read(path, name)
        assert list(res.frame.columns) == [c.name for c in spec.columns], name
        assert res.header_rows == [3]
        assert res.skipped_rows == [(1, "title"), (2, "blank")]


# ---------------------------------------------------------------------------------------------------------
# Layouts and skipped rows (xlsx)
# ---------------------------------------------------------------------------------------------------------


def test_title_rows_stt_blank_totals_and_notes(tmp_path):
    rows = [
        ["DANH SÁCH ĐỐI TƯỢNG TIÊM VẮC XIN COVID-19"],           # 1 title
        ["Huyện Chư Prông, ngày 28/7/2021"],                     # 2 title
        [],                                                       # 3 blank
        TARGET_HEADER,                                            # 4 header
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)", "(8)"],  # 5 column numbering
        person(1),                                                # 6
        person(2),                                                # 7
        [],                                                       # 8 blank
        person(3),                                                # 9
        TARGET_HEADER,                                            # 10 header repeated (page break)
        person(4),                                                # 11
        [None, "Tổng cộng", None, None, None, None, None, 4],     # 12 totals (a number in the last column)
        [],                                                       # 13
        ["Ghi chú: số liệu tính đến 28/7"],                       # 14 notes
        [None, "Người lập biểu", None, None, None, "Thủ trưởng đơn vị"],  # 15
        [None, "(Ký, ghi rõ họ tên)"],                            # 16
        [],                                                       # 17
        [None, "Trần Văn Bình", None, None, None, "Lê Thị Cúc"],  # 18 names under the signatures
    ]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows))
    assert res.file_format == "xlsx" and res.sheet == "DS" and res.header_rows == [4]
    assert res.row_numbers.tolist() == [6, 7, 9, 11]
    assert res.frame["full_name"].tolist() == [f"Nguyễn Thị Hoà {i}" for i in (1, 2, 3, 4)]
    assert res.skipped_rows == [(1, "title"), (2, "title"), (3, "blank"), (5, "numbering"), (8, "blank"),
                                (10, "header_repeat"), (12, "totals"), (13, "blank"), (14, "notes"),
                                (15, "notes"), (16, "notes"), (17, "blank"), (18, "notes")]
    assert "STT" not in res.frame.columns and "stt" not in res.frame.columns
    assert res.original_rows["STT"].tolist() == ["1", "2", "3", "4"]
    assert res.frame.index.tolist() == [0, 1, 2, 3]


def test_plain_numbering_row_and_totals_variants(tmp_path):
    rows = [TARGET_HEADER, [1, 2, 3, 4, 5, 6, 7, 8], person(1), person(2),
            ["Tổng", None, None, None, None, None, None, None],
            ["Total:", 2]]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows))
    assert res.row_numbers.tolist() == [3, 4]
    assert res.skipped_rows == [(2, "numbering"), (5, "totals"), (6, "totals")]


def test_a_person_called_cong_is_not_a_totals_row(tmp_path):
    rows = [TARGET_HEADER, person(1, stt=None, name="Cong Van Tong"), person(2, name="Tổng Thị Lan"),
            [None, "Tong Van Ba", None, None, None, "0912345678"],          # sparse, still a person
            [None, "TONG CONG:", None, None, None, None, None, 3]]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows))
    assert res.frame["full_name"].tolist() == ["Cong Van Tong", "Tổng Thị Lan", "Tong Van Ba"]
    assert res.skipped_rows == [(5, "totals")]


def test_national_subject_list_layout_with_two_row_merged_header(tmp_path):
    singles = ["#", "Họ và tên (*)", "Ngày sinh dạng dd/mm/yyyy (*)", "Giới tính (*) (0: nam, 1: nữ)",
               "Mã nhóm đối tượng ưu tiên (*)", "Đơn vị công tác", "Số điện thoại (*)", "Số CMT/CCCD",
               "Số thẻ bảo hiểm y tế"]
    place = ["Tỉnh/Thành phố", "Mã Tỉnh (*)", "Quận/Huyện", "Mã Quận/Huyện (*)", "Xã/Phường", "Mã Xã/Phường (*)",
             "Địa chỉ chi tiết"]
    dose = ["Tên vắc xin", "Ngày tiêm", "Lô vắc xin", "Địa điểm tiêm"]
    width = len(singles) + len(place) + 2 * len(dose) + 2
    merges = [(0, 0, 0, width - 1, "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG"),
              (1, 0, 1, width - 1, "Lưu ý: các cột có dấu (*) là bắt buộc; ngày ghi dạng dd/mm/yyyy")]
    for j, h in enumerate(singles):
        merges.append((2, j, 3, j, h))
    c = len(singles)
    merges.append((2, c, 2, c + 6, "Nơi ở tạm trú (hiện tại)"))
    merges.append((2, c + 7, 2, c + 10, "Mũi 1"))
    merges.append((2, c + 11, 2, c + 14, "Mũi 2"))
    merges.append((2, c + 15, 3, c + 15, "Ghi chú"))
    merges.append((2, c + 16, 3, c + 16, "Kết quả import"))
    child = [None] * c + place + dose + dose + [None, None]
    data = [1, "Ksor H'Blang", dt.date(1961, 5, 4), 1, 9, None, 912345678, "064161000123", "GL4646400012345",
            "Gia Lai", 64, "Chư Prông", 632, "Ia Băng", 23929, "Làng Bò", "AstraZeneca", dt.date(2021, 7, 20),
            "NJ0123", "64632001", None, None, None, None, "mũi 2 hẹn 12/10", None]
    rows = [[None] * width, [None] * width, [None] * width, child, data]
    res = read(write_xlsx(tmp_path / "national.xlsx", rows, merges=tuple(merges)))
    assert res.header_rows == [3, 4]
    assert res.skipped_rows == [(1, "title"), (2, "title")]
    assert res.row_numbers.tolist() == [5]
    assert res.column_headers["dose1_product"] == "Mũi 1 - Tên vắc xin"
    assert res.column_headers["province_code"] == "Nơi ở tạm trú (hiện tại) - Mã Tỉnh (*)"
    row = res.frame.iloc[0]
    assert row["full_name"] == "Ksor H'Blang"
    assert row["birth_date"] == "1961-05-04"
    assert row["phone"] == "912345678"                 # the standardizer restores the zero
    assert row["id_number"] == "064161000123"
    assert row["province_code"] == "64" and row["commune_code"] == "23929"
    assert row["dose1_product"] == "AstraZeneca" and row["dose1_date"] == "2021-07-20"
    assert row["dose1_site"] == "64632001"
    assert pd.isna(row["dose2_product"])
    assert row["note"] == "mũi 2 hẹn 12/10"
    assert res.unmapped_headers == ["Kết quả import"]
    assert "#" not in res.frame.columns
    assert res.numeric_cells["phone"].tolist() == [True]
    assert res.numeric_cells["province_code"].tolist() == [True]


def test_two_row_header_in_csv_without_merge_information(tmp_path):
    rows = [["Họ và tên", "Ngày sinh", "Giới tính", "Nhóm ưu tiên", "Số điện thoại", "Nơi ở", None, "Mũi 1", None],
            [None, None, None, None, None, "Xã/Phường", "Địa chỉ chi tiết", "Tên vắc xin", "Ngày tiêm"],
            ["Nguyễn Văn A", "01/01/1960", "0", "9", "0912345678", "Ia Băng", "Làng Bò", "Pfizer", "02/08/2021"]]
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert res.header_rows == [1, 2]
    assert res.row_numbers.tolist() == [3]
    assert res.frame.loc[0, "commune_name"] == "Ia Băng"
    assert res.frame.loc[0, "address_detail"] == "Làng Bò"
    assert res.frame.loc[0, "dose1_product"] == "Pfizer"
    assert res.frame.loc[0, "dose1_date"] == "02/08/2021"


def test_sex_from_nam_nu_mark_columns(tmp_path):
    rows = [["Họ và tên", "Ngày sinh", "Nam", "Nữ", "Nhóm ưu tiên", "Số điện thoại", "Xã"],
            ["A", "1970", "x", None, "9", "0912345678", "Ia Băng"],
            ["B", "1971", None, "X", "9", "0912345678", "Ia Băng"],
            ["C", "1972", "x", "x", "9", "0912345678", "Ia Băng"],
            ["D", "1973", None, None, "9", "0912345678", "Ia Băng"],
            ["E", "1974", "1", "0", "9", "0912345678", "Ia Băng"]]
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert res.frame["sex"].tolist() == ["Nam", "Nữ", "Nam+Nữ", pd.NA, "Nam"]
    assert res.column_headers["sex"] == "Nam / Nữ"
    assert res.unmapped_headers == []
    assert res.original_rows["Nam"].tolist()[:2] == ["x", pd.NA]


def test_nam_nu_under_a_merged_gioi_tinh_header(tmp_path):
    rows = [["STT", "Họ và tên", "Ngày sinh", None, None, "Nhóm ưu tiên", "Số điện thoại", "Xã"],
            [None, None, None, "Nam", "Nữ", None, None, None],
            [1, "A", "1970", "x", None, 9, "0912345678", "Ia Băng"],
            [2, "B", "1971", None, "x", 9, "0912345678", "Ia Băng"]]
    merges = [(0, 0, 1, 0, "STT"), (0, 1, 1, 1, "Họ và tên"), (0, 2, 1, 2, "Ngày sinh"),
              (0, 3, 0, 4, "Giới tính"), (0, 5, 1, 5, "Nhóm ưu tiên"), (0, 6, 1, 6, "Số điện thoại"),
              (0, 7, 1, 7, "Xã")]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows, merges=tuple(merges)))
    assert res.header_rows == [1, 2] and res.row_numbers.tolist() == [3, 4]
    assert res.frame["sex"].tolist() == ["Nam", "Nữ"]
    assert res.column_headers["sex"] == "Giới tính - Nam / Giới tính - Nữ"


def test_year_of_birth_written_under_nam_or_nu(tmp_path):
    rows = [["Họ và tên", "Năm sinh", None, "Nhóm ưu tiên", "Số điện thoại", "Xã"],
            [None, "Nam", "Nữ", None, None, None],
            ["A", "1960", None, "9", "0912345678", "Ia Băng"],
            ["B", None, "1975", "9", "0912345678", "Ia Băng"]]
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert res.frame["sex"].tolist() == ["Nam", "Nữ"]
    assert res.frame["birth_date"].tolist() == ["1960", "1975"]


def test_first_sheet_with_a_header_is_used(tmp_path):
    guide = [["HƯỚNG DẪN"], ["Điền mỗi người một dòng"]]
    path = write_xlsx(tmp_path / "a.xlsx", [TARGET_HEADER, person(1)], sheet="Danh sach",
                      sheets_before=(("Huong dan", guide),))
    res = read(path)
    assert res.sheet == "Danh sach" and res.row_numbers.tolist() == [2]
    assert res.sheet_names == ["Huong dan", "Danh sach"]


def test_header_only_file_gives_an_empty_frame(tmp_path):
    res = read(write_xlsx(tmp_path / "a.xlsx", [TARGET_HEADER]))
    assert len(res.frame) == 0 and "full_name" in res.frame.columns and len(res.row_numbers) == 0


def test_xls_biff8_workbook(tmp_path):
    rows = [["DANH SÁCH ĐỐI TƯỢNG"], [], TARGET_HEADER,
            [1, "Nguyễn Thị Hoà", "12/07/1980", "Nữ", 9, 912345678, "064190000123", "Ia Băng"],
            [2, "Rơ Châm Ánh", "01/01/1975", 0, 11, "0386123456", None, "Đắk Đoa"],
            [None, "Tổng cộng", None, None, None, None, None, 2]]
    res = read(write_xls(tmp_path / "a.xls", rows, sheet="Danh sách"))
    assert res.file_format == "xls" and res.sheet == "Danh sách"
    assert res.header_rows == [3] and res.row_numbers.tolist() == [4, 5]
    assert res.skipped_rows == [(1, "title"), (2, "blank"), (6, "totals")]
    assert res.frame["phone"].tolist() == ["912345678", "0386123456"]
    assert res.frame["sex"].tolist() == ["Nữ", "0"]
    assert res.frame["commune_name"].tolist() == ["Ia Băng", "Đắk Đoa"]
    assert res.numeric_cells["phone"].tolist() == [True, False]


def test_xls_falls_back_to_xlrd_when_calamine_cannot_open_it(tmp_path, monkeypatch):
    import python_calamine

    def refuse(*_a, **_k):
        raise python_calamine.CalamineError("unsupported BIFF version")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)
    rows = [TARGET_HEADER, [1, "Nguyễn Thị Hoà", "12/07/1980", "Nữ", 9, 912345678, None, "Ia Băng"]]
    res = read(write_xls(tmp_path / "a.xls", rows))
    assert res.file_format == "xls" and res.row_numbers.tolist() == [2]
    assert res.frame.loc[0, "phone"] == "912345678" and res.frame.loc[0, "full_name"] == "Nguyễn Thị Hoà"


# ---------------------------------------------------------------------------------------------------------
# Cell values
# ---------------------------------------------------------------------------------------------------------


def test_xlsx_cells_become_strings_without_losing_information(tmp_path):
    header = ["Mã cơ sở", "Tên vắc xin", "Số lô", "Hạn sử dụng", "Số liều/lọ", "Số lọ nhận", "Số lọ đã dùng",
              "Số lọ tồn", "Ngày nhận"]
    rows = [header,
            ["64632001", "AstraZeneca", 4120.0, dt.date(2021, 11, 30), 10, 1.5, 0, 912345678, dt.datetime(2021, 7, 28, 8, 30)],
            [64632002, "Pfizer", "FF2590", dt.date(2021, 12, 1), 6.0, 1e15, True, 123456789012, None]]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows), "vaccine_stock")
    f = res.frame
    assert f["facility_code"].tolist() == ["64632001", "64632002"]
    assert f["lot"].tolist() == ["4120", "FF2590"]
    assert f["expiry_date"].tolist() == ["2021-11-30", "2021-12-01"]
    assert f["doses_per_vial"].tolist() == ["10", "6"]
    assert f["vials_received"].tolist() == ["1.5", "1000000000000000"]
    assert f["vials_issued"].tolist() == ["0", "TRUE"]
    assert f["vials_on_hand"].tolist() == ["912345678", "123456789012"]
    assert f["received_date"].tolist() == ["2021-07-28T08:30:00", pd.NA]
    assert str(f["lot"].dtype) == "string"
    assert res.numeric_cells["facility_code"].tolist() == [False, True]
    assert res.numeric_cells["vials_issued"].tolist() == [True, False]


def test_cell_to_str_edge_values():
    assert cell_to_str(912345678.0) == "912345678"
    assert cell_to_str(0.1 + 0.2) == "0.3"                       # as Excel shows it (15 digits)
    assert cell_to_str(13.983333333333333) == "13.9833333333333"
    assert cell_to_str(-5.0) == "-5"
    assert cell_to_str(dt.time(8, 30)) == "08:30:00"
    assert cell_to_str(dt.timedelta(hours=26, minutes=5)) == "26:05:00"
    assert cell_to_str("") is None and cell_to_str(None) is None
    assert cell_to_str(False) == "FALSE"


def test_csv_keeps_leading_zeros_and_reads_everything_as_text(tmp_path):
    rows = [TARGET_HEADER, ["001", "Nguyễn Văn A", "01/02/1970", "0", "09", "0912345678", "064090000123", "Ia Băng"],
            ["002", "NA", "1e5", "1", "9", "+84912345678", "000000001", "NULL"]]
    res = read(write_csv(tmp_path / "a.csv", rows))
    f = res.frame
    assert f["phone"].tolist() == ["0912345678", "+84912345678"]
    assert f["id_number"].tolist() == ["064090000123", "000000001"]
    assert f["priority_group"].tolist() == ["09", "9"]
    assert f["full_name"].tolist() == ["Nguyễn Văn A", "NA"]      # "NA" is a name here, not a missing value
    assert f["birth_date"].tolist() == ["01/02/1970", "1e5"]
    assert res.original_rows["STT"].tolist() == ["001", "002"]


def test_blank_looking_cells_are_missing(tmp_path):
    rows = [TARGET_HEADER, person(1, id="   "), ["  ", "", " ", None, None, None, None, None], person(2)]
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert res.row_numbers.tolist() == [2, 4]
    assert pd.isna(res.frame.loc[0, "id_number"])
    assert res.skipped_rows == [(3, "blank")]


# ---------------------------------------------------------------------------------------------------------
# Encodings and delimiters
# ---------------------------------------------------------------------------------------------------------

VIET_ROWS = [["Họ và tên", "Ngày sinh", "Giới tính", "Nhóm ưu tiên", "Số điện thoại", "Xã/Phường"],
             ["Nguyễn Thị Hoà", "12/07/1980", "Nữ", "9", "0912345678", "Ia Băng"],
             ["Rơ Châm Ánh", "01/01/1975", "Nam", "11", "0386123456", "Đắk Đoa"]]


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("cp1258", "cp1258"),
])
def test_csv_encodings_come_out_as_nfc(tmp_path, encoding, expected):
    delimiter = "\t" if encoding == "utf-16" else ","
    res = read(write_csv(tmp_path / "a.csv", VIET_ROWS, encoding=encoding, delimiter=delimiter))
    assert res.encoding == expected
    assert res.frame["full_name"].tolist() == ["Nguyễn Thị Hoà", "Rơ Châm Ánh"]
    assert res.frame["commune_name"].tolist() == ["Ia Băng", "Đắk Đoa"]
    assert res.column_headers["full_name"] == "Họ và tên"
    for value in res.frame["full_name"]:
        assert unicodedata.is_normalized("NFC", value)


def test_nfd_utf8_text_is_normalised_silently(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(unicodedata.normalize("NFD", "\n".join(",".join(r) for r in VIET_ROWS)).encode("utf-8"))
    res = read(path)
    assert res.frame["full_name"].tolist() == ["Nguyễn Thị Hoà", "Rơ Châm Ánh"]
    assert len(res.reencoded) == 0


@pytest.mark.parametrize("delimiter", [";", "\t", ",", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    rows = [r[:] for r in VIET_ROWS]
    rows[1][0] = "Nguyễn Thị Hoà, con"   # a comma inside a value (quoted when it is the delimiter)
    res = read(write_csv(tmp_path / "a.txt", rows, delimiter=delimiter))
    assert res.frame["full_name"].tolist() == ["Nguyễn Thị Hoà, con", "Rơ Châm Ánh"]
    assert res.frame["phone"].tolist() == ["0912345678", "0386123456"]


def test_legacy_tcvn3_and_vni_cells_are_repaired_and_recorded(tmp_path):
    vn_legacy = pytest.importorskip("campaign.domain.vn_legacy")
    header = [vn_legacy.to_tcvn3(h) for h in VIET_ROWS[0]]
    rows = [header,
            [vn_legacy.to_tcvn3("Nguyễn Thị Hoà"), "12/07/1980", vn_legacy.to_tcvn3("Nữ"), 9, "0912345678",
             vn_legacy.to_tcvn3("Ia Băng")],
            [vn_legacy.to_vni("Trần Văn Bình"), "01/01/1975", "Nam", 11, "0386123456", "Ia Băng"]]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows))
    assert res.column_headers["full_name"] == "Họ và tên"
    assert res.frame["full_name"].tolist() == ["Nguyễn Thị Hoà", "Trần Văn Bình"]
    assert res.frame["sex"].tolist() == ["Nữ", "Nam"]
    assert res.frame["commune_name"].tolist() == ["Ia Băng", "Ia Băng"]
    got = {(r.row_index, r.column, r.encoding) for r in res.reencoded.itertuples()}
    assert got == {(0, "full_name", "tcvn3"), (0, "sex", "tcvn3"), (0, "commune_name", "tcvn3"),
                   (1, "full_name", "vni")}
    assert res.reencoded.loc[0, "row_number"] == 2
    assert res.original_rows.iloc[0, 0] == vn_legacy.to_tcvn3("Nguyễn Thị Hoà")   # the original is kept


def test_legacy_text_in_a_utf8_csv_and_in_an_8bit_tcvn3_csv(tmp_path):
    vn_legacy = pytest.importorskip("campaign.domain.vn_legacy")
    rows = [VIET_ROWS[0], [vn_legacy.to_tcvn3("Nguyễn Thị Hoà"), "12/07/1980", "1", "9", "0912345678", "Ia Băng"],
            ["Rơ Châm Ánh", "01/01/1975", "0", "11", "0386123456", "Đắk Đoa"]]
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert res.frame["full_name"].tolist() == ["Nguyễn Thị Hoà", "Rơ Châm Ánh"]
    assert res.reencoded[["row_index", "row_number", "column", "encoding"]].values.tolist() == [
        [0, 2, "full_name", "tcvn3"]]
    # the whole file typed with a .VnTime font and saved as 8-bit text: bytes are TCVN3
    text = "\r\n".join(",".join(vn_legacy.to_tcvn3(c) for c in r) for r in VIET_ROWS)
    path = tmp_path / "b.csv"
    path.write_bytes(text.encode("latin-1"))
    res = read(path)
    assert res.encoding == "cp1252"
    assert res.frame["full_name"].tolist() == ["Nguyễn Thị Hoà", "Rơ Châm Ánh"]
    assert res.frame["commune_name"].tolist() == ["Ia Băng", "Đắk Đoa"]
    assert set(res.reencoded["column"]) >= {"full_name", "commune_name"}


def test_xlsx_blank_and_nfd_cells(tmp_path):
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hoà")
    rows = [TARGET_HEADER, person(1, name=nfd, id="   "), ["  ", " ", None, None, None, None, None, "\u00a0"],
            person(2)]
    res = read(write_xlsx(tmp_path / "a.xlsx", rows))
    assert res.row_numbers.tolist() == [2, 4]
    assert res.frame.loc[0, "full_name"] == "Nguyễn Thị Hoà"
    assert pd.isna(res.frame.loc[0, "id_number"])
    assert res.skipped_rows == [(3, "blank")]


def test_unnamed_and_extra_columns_are_kept_in_the_original_rows(tmp_path):
    text = ("Họ và tên,Ngày sinh,,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã\n"
            "A,1970,lưu ý,0,9,0912345678,Ia Băng\n"
            "B,1971,,1,9,0912345679,Ia Băng,thừa 1,thừa 2\n")
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("utf-8"))
    res = read(path)
    assert res.row_numbers.tolist() == [2, 3]
    assert list(res.original_rows.columns) == ["Họ và tên", "Ngày sinh", "Cột C", "Giới tính", "Nhóm ưu tiên",
                                               "Số điện thoại", "Xã", "Cột H", "Cột I"]
    assert res.original_rows["Cột I"].tolist() == [pd.NA, "thừa 2"]
    assert res.frame["commune_name"].tolist() == ["Ia Băng", "Ia Băng"]


def test_a_wide_record_far_below_the_header_loses_nothing(tmp_path):
    rows = [VIET_ROWS[0]] + [VIET_ROWS[1]] * 50 + [VIET_ROWS[2] + ["", "thừa"]] + [VIET_ROWS[1]] * 3
    res = read(write_csv(tmp_path / "a.csv", rows))
    assert len(res.frame) == 54 and res.row_numbers[-1] == 55
    assert res.original_rows["Cột H"].tolist()[50] == "thừa"
    assert res.frame["commune_name"].iloc[50] == "Đắk Đoa"


# ---------------------------------------------------------------------------------------------------------
# Row numbers
# ---------------------------------------------------------------------------------------------------------


def test_csv_row_numbers_are_lines_where_records_start(tmp_path):
    text = ("Danh sách tiêm chủng\r\n"
            "\r\n"
            "Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường,Địa chỉ chi tiết\r\n"
            "Nguyễn Văn A,01/01/1970,0,9,0912345678,Ia Băng,\"Làng Bò\r\nthôn 2\r\n(gần chợ)\"\r\n"
            "\r\n"
            "Trần Thị B,02/02/1972,1,9,0912345679,Ia Băng,\"số 5, \"\"ngõ\"\" 3\"\r\n"
            "Lê C,03/03/1973,0,9,0912345670,Ia Băng,\n")
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("utf-8"))
    res = read(path)
    assert res.header_rows == [3]
    assert res.row_numbers.tolist() == [4, 8, 9]
    assert res.skipped_rows == [(1, "title"), (2, "blank"), (7, "blank")]
    assert res.frame["address_detail"].tolist() == ["Làng Bò\r\nthôn 2\r\n(gần chợ)", 'số 5, "ngõ" 3', pd.NA]
    assert res.sheet == ""


def test_stray_quote_falls_back_to_the_csv_module_with_exact_lines(tmp_path):
    text = ("Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường\n"
            "Nguyễn Văn \"Tí,01/01/1970,0,9,0912345678,Ia Băng\n"
            "Lê C,03/03/1973,0,9,0912345670,Ia Băng\n")
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("utf-8"))
    res = read(path)
    assert res.row_numbers.tolist() == [2, 3]
    assert res.frame["full_name"].tolist() == ['Nguyễn Văn "Tí', "Lê C"]


def test_many_rows_keep_exact_numbers(tmp_path):
    n = 20_000
    df = pd.DataFrame({"Họ và tên": [f"Người {i}" for i in range(n)], "Ngày sinh": "01/01/1980",
                       "Giới tính": "0", "Nhóm ưu tiên": "9", "Số điện thoại": [f"09{i:08d}" for i in range(n)],
                       "Xã/Phường": "Ia Băng"})
    df.loc[500, :] = None          # a blank row
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    res = read(path)
    assert len(res.frame) == n - 1
    assert res.row_numbers[0] == 2 and res.row_numbers[-1] == n + 1
    assert 502 not in set(res.row_numbers.tolist()) and (502, "blank") in res.skipped_rows
    assert res.frame["phone"].iloc[0] == "0900000000"


# ---------------------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"")
    err = refused(tmp_path / "a.xlsx")
    assert err.code == "unreadable_file" and "rỗng" in err.detail_vi


@pytest.mark.parametrize("payload,word", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "HTML"),
    (b"\x00\x01\x02\x03\x04\x05binary\x00\x00", "nhị phân"),
])
def test_not_a_spreadsheet(tmp_path, payload, word):
    path = tmp_path / "danh_sach.xlsx"
    path.write_bytes(payload)
    err = refused(path)
    assert err.code == "unreadable_file" and word in err.detail_vi


def test_word_document_renamed(tmp_path):
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    err = refused(path)
    assert err.code == "unreadable_file" and "Word" in err.detail_vi


def _ole2(*stream_names: str) -> bytes:
    """A compound-file header followed by directory entries with the given stream names (enough to sniff)."""
    header = OLE2 + b"\x00" * 504
    entries = b""
    for name in ("Root Entry", *stream_names):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        entries += raw.ljust(64, b"\x00") + len(raw).to_bytes(2, "little") + b"\x02" + b"\x00" * 61
    return header + entries.ljust(4096, b"\x00")


def test_encrypted_xlsx(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(_ole2("EncryptionInfo", "EncryptedPackage"))
    err = refused(path)
    assert err.code == "unreadable_file" and "mật khẩu" in err.detail_vi


def test_broken_xls_and_doc_files(tmp_path):
    (tmp_path / "a.xls").write_bytes(_ole2("Workbook"))
    assert refused(tmp_path / "a.xls").code == "unreadable_file"
    (tmp_path / "b.xls").write_bytes(_ole2("WordDocument"))
    assert "Word" in refused(tmp_path / "b.xls").detail_vi


def test_corrupt_zip(tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", [TARGET_HEADER, person(1)])
    data = good.read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    err = refused(tmp_path / "cut.xlsx")
    assert err.code == "unreadable_file" and "hỏng" in err.detail_vi
    (tmp_path / "junk.xlsx").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    assert refused(tmp_path / "junk.xlsx").code == "unreadable_file"


def test_zip_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * (20 * MB))
    assert path.stat().st_size < MB
    err = refused(path)
    assert err.code == "unreadable_file" and "lần" in err.detail_vi       # ratio
    ok = write_xlsx(tmp_path / "ok.xlsx", [TARGET_HEADER, person(1)])
    err = refused(ok, max_uncompressed=1000)                             # total size
    assert "giải nén" in err.detail_vi


def test_too_large_and_too_many_rows(tmp_path):
    path = write_csv(tmp_path / "a.csv", [TARGET_HEADER] + [person(i) for i in range(1, 11)])
    err = refused(path, max_bytes=100)
    assert err.code == "unreadable_file" and "quá lớn" in err.detail_vi
    err = refused(path, max_rows=5)
    assert err.code == "unreadable_file" and "quá nhiều dòng" in err.detail_vi
    assert len(read(path, max_rows=10).frame) == 10
    xlsx = write_xlsx(tmp_path / "a.xlsx", [TARGET_HEADER] + [person(i) for i in range(1, 11)])
    assert "quá nhiều dòng" in refused(xlsx, max_rows=5).detail_vi


def test_no_header(tmp_path):
    path = write_csv(tmp_path / "a.csv", [["a", "b", "c"], ["1", "2", "3"]])
    err = refused(path)
    assert err.code == "unreadable_file" and "tiêu đề" in err.detail_vi and "Họ và tên" in err.detail_vi


def test_wrong_kind_names_the_kind_the_file_looks_like(tmp_path):
    spec = load_input_kinds()["facilities"]
    rows = [[c.template_header for c in spec.columns], ["64632001", "Trạm y tế xã Ia Băng", "Trạm y tế xã",
            "Ia Băng", "23929", "Làng Bò", "13.9", "108.0", "2", "Nguyễn Văn A", "0912345678"]]
    err = refused(write_xlsx(tmp_path / "a.xlsx", rows), "target_list")
    assert err.code == "wrong_kind" and err.looks_like == "facilities"
    assert "Thông tin cơ sở tiêm chủng" in err.detail_vi and "Danh sách đối tượng tiêm chủng" in err.detail_vi
    assert err.params["expected"] == "Danh sách đối tượng tiêm chủng"


def test_target_list_sent_as_backfill_is_the_wrong_kind(tmp_path):
    rows = [["Họ và tên", "Ngày sinh", "Giới tính", "Mã nhóm đối tượng ưu tiên", "Số điện thoại", "Xã/Phường",
             "Mã Xã/Phường", "Tên vắc xin mũi 1", "Ngày tiêm mũi 1", "Lô vắc xin mũi 1", "Địa điểm tiêm mũi 1"],
            ["A", "01/01/1970", "0", "9", "0912345678", "Ia Băng", "23929", "AZ", "01/07/2021", "NJ1", "64632001"]]
    err = refused(write_csv(tmp_path / "a.csv", rows), "vaccinations")
    assert err.code == "wrong_kind" and err.looks_like == "target_list"


def test_required_columns_missing_are_all_named(tmp_path):
    rows = [["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Ghi chú"], ["1", "A", "01/01/1970", "Nam", ""]]
    err = refused(write_csv(tmp_path / "a.csv", rows))
    assert err.code == "required_column_missing"
    assert err.missing == ["priority_group", "phone", "commune_name"]
    for header in ("«Mã nhóm đối tượng ưu tiên»", "«Số điện thoại»", "«Xã/Phường»"):
        assert header in err.detail_vi
    assert err.params["column"].count("«") == 3


def test_unknown_kind_is_a_usage_error(tmp_path):
    path = write_csv(tmp_path / "a.csv", VIET_ROWS)
    with pytest.raises(ValueError):
        read(path, "nope")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf",
                               b"\xff\xfe", "Họ và tên,Ngày sinh\n".encode()]),
       body=st.binary(max_size=3000))
def test_random_bytes_raise_nothing_but_read_error(tmp_path, prefix, body):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(prefix + body)
    try:
        res = read(path)
    except ReadError as exc:
        assert exc.code in {"unreadable_file", "wrong_kind", "required_column_missing"}
        assert exc.detail_vi
    else:
        assert len(res.frame) == len(res.row_numbers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=8), min_size=1, max_size=12),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_random_csv_tables_raise_nothing_but_read_error(tmp_path, cells, delimiter):
    path = write_csv(tmp_path / "fuzz.csv", [TARGET_HEADER] + cells, delimiter=delimiter)
    try:
        res = read(path)
    except ReadError:
        return
    assert len(res.frame) == len(res.row_numbers) == len(res.original_rows)
    assert np.all(np.diff(res.row_numbers) > 0)


def test_header_detection_is_limited_to_the_top_rows():
    spec = load_input_kinds()["target_list"]
    top = [["x"]] * 40 + [TARGET_HEADER]
    assert detect_header(top, spec) is None
    assert detect_header([["x"]] * 10 + [TARGET_HEADER], spec).rows == [10]


# --- NFC repair of decoded text (line by line, only where needed) -----------------------------------------

_NFC_ALPHABET = st.sampled_from(["a", "e", "o", "ơ", "Ệ", " ", ",", "\n", "\r", "\u0301", "\u0302", "\u0323",
                                 "\u0309", "\u031b", "\u212b", "\u1100", "\u1161", "\u11a8", "\u0f73",
                                 "\U0001d157", "\U0001d165", "\U0001109a", "\U00011099", "\U000110ba"])


@given(st.lists(_NFC_ALPHABET, max_size=40).map("".join) | st.text(max_size=40))
@settings(max_examples=400, deadline=None)
def test_nfc_by_line_equals_normalizing_the_whole_text(text: str) -> None:
    from campaign.io.sniff import nfc_by_line

    out, changed = nfc_by_line(text)
    assert out == unicodedata.normalize("NFC", text)
    assert changed == (out != text)


def test_nfc_by_line_touches_only_the_decomposed_line() -> None:
    from campaign.io.sniff import nfc_by_line

    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hồng")
    text = "STT,Họ và tên\r\n1,Trần Văn An\r\n2," + nfd + "\r\n3,Lê Văn Bình\r\n"
    out, changed = nfc_by_line(text)
    assert changed and out == "STT,Họ và tên\r\n1,Trần Văn An\r\n2,Nguyễn Thị Hồng\r\n3,Lê Văn Bình\r\n"
    assert nfc_by_line("no marks here\n") == ("no marks here\n", False)
