"""The heading matcher against what an independent review found wrong (each case failed before its fix):
a whole-name column beside name parts, three-part names, words that only look like a field's, negated list
values, a formula whose computed value is empty, small numbers guessed as priority groups."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from campaign.domain.standardize.codes import clean_enum
from campaign.io.reader import read_submission

BASE = ["Ngày sinh", "Giới tính", "Nhóm", "SĐT", "Xã"]
VALUES = ["12/03/1960", "Nam", "9", "0912345678", "Ia Kha"]


def read_csv(tmp_path: Path, header: list[str], row: list[str], kind: str = "target_list"):
    p = tmp_path / "f.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, row, row])
    return read_submission(p, kind, max_bytes=10**8, max_rows=10**6)


def readings(res) -> dict[str, tuple[str | None, str]]:
    return {r.heading: (r.field, r.how) for r in res.column_readings}


def test_a_whole_name_column_wins_over_name_parts(tmp_path):
    res = read_csv(tmp_path, ["Họ và tên", *BASE, "Họ đệm", "Tên"], ["Nguyễn Văn An", *VALUES, "Văn", "An"])
    assert res.frame.loc[0, "full_name"] == "Nguyễn Văn An"
    assert readings(res)["Họ đệm"] == (None, "ignored") and readings(res)["Tên"] == (None, "ignored")


@pytest.mark.parametrize("parts", [["Họ", "Tên đệm", "Tên"], ["Họ", "Họ đệm", "Tên"], ["Họ và tên đệm", "Tên"]])
def test_every_part_of_a_split_name_is_joined_in_order(tmp_path, parts):
    values = ["Nguyễn", "Văn", "An"] if len(parts) == 3 else ["Nguyễn Văn", "An"]
    res = read_csv(tmp_path, [*parts, *BASE], [*values, *VALUES])
    assert res.frame.loc[0, "full_name"] == "Nguyễn Văn An"
    assert all(res.columns[p] == "full_name" for p in parts)


@pytest.mark.parametrize("heading", ["Tình trạng", "Nhóm máu", "Người liên hệ", "Quê quán"])
def test_a_word_shared_with_a_field_is_not_that_field(tmp_path, heading):
    res = read_csv(tmp_path, ["Họ tên", heading, *BASE], ["Nguyễn Văn An", "Lê B", *VALUES])
    assert res.columns_ignored == [heading]


def test_bare_small_numbers_under_an_unknown_heading_are_not_the_priority_group(tmp_path):
    from campaign.io.sniff import ReadError

    with pytest.raises(ReadError) as err:
        read_csv(tmp_path, ["Họ tên", "Ngày sinh", "Giới tính", "Tuổi", "SĐT", "Xã"],
                 ["Nguyễn Văn An", "12/03/2008", "Nam", "13", "0912345678", "Ia Kha"])
    assert err.value.code == "required_column_missing"


@pytest.mark.parametrize(("enum", "value"), [
    ("screening_result", "Không đủ điều kiện tiêm"), ("aefi_outcome", "Không tử vong"),
    ("sex", "Năm 1980"), ("comm_channel", "Báo cáo"), ("vaccine_product", "Sputnik Light"),
    ("comm_message", "Không đăng ký tiêm"), ("yes_no", "Hoàn thành một phần"),
])
def test_list_values_by_their_words_refuse_negations_and_stray_words(enum, value):
    assert pd.isna(clean_enum(pd.Series([value]), enum).value.iloc[0])


def test_list_values_by_their_words_read_a_longer_wording():
    r = clean_enum(pd.Series(["Hướng dẫn đăng ký tiêm chủng"]), "comm_message")
    assert r.value.iloc[0] == "how_to_register" and r.reason.iloc[0] == "value_matched_by_words"


def test_a_formula_that_computed_an_empty_text_is_a_value(tmp_path):
    # openpyxl writes <v/> (no value computed); Excel writes t="str" and <v></v> for =IF(x="","",...)
    import shutil
    import zipfile

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Họ và tên", *BASE, "Ghi chú"])
    ws.append(["Nguyễn Văn An", *VALUES, '=IF(A2="","","")'])   # G2
    ws.append(["Trần Thị B", *VALUES, '=CONCATENATE("a","b")'])
    src = tmp_path / "raw.xlsx"
    wb.save(src)
    out = tmp_path / "f.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<c r="G2"><f>', b'<c r="G2" t="str"><f>')
            zout.writestr(item, data)
    shutil.copy(out, tmp_path / "copy.xlsx")
    res = read_submission(out, "target_list", max_bytes=10**8, max_rows=10**6)
    assert res.formula_cells["note"].tolist() == [False, True]


def test_a_heading_that_partly_fits_is_not_read_against_its_cells(tmp_path):
    header = ["Mã cơ sở tiêm chủng", "Tên cơ sở tiêm chủng", "Số điểm tiêm", "Xã/Phường/Thị trấn", "Số bàn tiêm",
              "Người phụ trách", "Số điện thoại người phụ trách"]
    row = ["64622-TYT-01", "Trạm Y tế xã Ia Kha", "4", "Ia Kha", "2", "Lê Văn C", "0912345678"]
    res = read_csv(tmp_path, header, row, kind="facilities")
    assert "Số điểm tiêm" in res.columns_ignored
    assert "facility_type" not in res.frame
