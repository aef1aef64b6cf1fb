"""`campaign.planning.invitations`: printable invitation lists, one workbook per facility and one sheet per
session. Tiny hand-made frames (made-up names and numbers); the files are read back with openpyxl
(values, cell types, merged cells, print settings)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from campaign.planning.invitations import (
    COLUMNS,
    DEFAULT_TITLE,
    NO_INVITATIONS,
    NO_STANDBY,
    SIGNATURES,
    STANDBY_TITLE,
    STANDING_NOTE,
    file_name,
    sheet_name,
    write_invitation_lists,
)

DAY1, DAY2 = dt.date(2021, 7, 29), dt.date(2021, 7, 30)
PART_LABELS = {"morning": "Sáng", "afternoon": "Chiều"}
PART_HOURS = {"morning": ("07:30", "11:30"), "afternoon": ("13:30", "17:00")}
NAMES = {"63301": "Trạm Y tế xã Ia Thử", "63302": "Trạm Y tế thị trấn Mẫu"}
FORMULA_NAME = '=HYPERLINK("http://x.example","Bấm")'
HEADERS = ["STT", "Giờ hẹn", "Mã đối tượng", "Họ và tên", "Ngày sinh", "Giới tính", "Số điện thoại",
           "Số CMT/CCCD", "Xã/Phường", "Nhóm ưu tiên", "Mũi số", "Vắc xin", "Lô vắc xin", "Hẹn mũi 2",
           "Ký nhận / Ghi chú"]


def session(facility: str, day: dt.date, part: str, product: str, lots: str, vials: int, invited: int,
            team: str = "", source: str = "roster") -> dict:
    return dict(facility_code=facility, district="633", date=day, part=part, product=product, lots=lots,
                vials=vials, invited=invited, team=team, team_source=source)


def invite(facility: str, day: dt.date, part: str, slot: str, pid: str, name: str, **kw) -> dict:
    row = dict(facility_code=facility, date=day, part=part, slot=slot, person_id=pid, full_name=name,
               birth_date="04/03/1970", sex="female", phone=None, id_number=None, commune_name="Xã Ia Thử",
               priority_group=11, dose=1, product="astrazeneca", lot="A1001", dose2_due=None)
    row.update(kw)
    return row


def standby_row(facility: str, day: dt.date, part: str, order: int, pid: str, name: str, **kw) -> dict:
    row = dict(facility_code=facility, date=day, part=part, order=order, person_id=pid, full_name=name,
               birth_date="1960", sex="male", phone="0987000111", commune_name="Xã Ia Thử", priority_group=13)
    row.update(kw)
    return row


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    sessions = pd.DataFrame([
        # Facility 63301, day 1: the afternoon listed first (the sheets must still go morning first).
        session("63301", DAY1, "afternoon", "astrazeneca", "A1001", 2, 3,
                team="Ê kíp 1: Trần Văn Giả (tiếp đón)", source="standing"),
        session("63301", DAY1, "morning", "astrazeneca", "A1001, A1002", 5, 4,
                team="Ê kíp 1: Lê Thị Mẫu (tiếp đón), Phạm Văn Thử (tiêm)"),
        session("63301", DAY1, "morning", "pfizer", "FP0042", 1, 1,
                team="Ê kíp 1: Lê Thị Mẫu (tiếp đón), Phạm Văn Thử (tiêm)"),
        session("63302", DAY2, "morning", "vero_cell", "V77", 3, 1),
    ])
    invitations = pd.DataFrame([
        # Morning of 63301, given out of slot order: expected 07:30 (B, then C: given order), 08:00, 10:00.
        invite("63301", DAY1, "morning", "10:00", "P0004", "Đỗ Văn Bốn", sex="male"),
        invite("63301", DAY1, "morning", "07:30", "P0002", "Võ Thị Hai", phone="0912345678",
               id_number="001085012345", dose=2, dose2_due=None),
        invite("63301", DAY1, "morning", "8:00", "P0003", FORMULA_NAME, product="pfizer", lot="FP0042",
               dose2_due="19/08/2021 - 26/08/2021"),
        invite("63301", DAY1, "morning", "07:30", "P0001", "Hồ Văn Một", sex="male",
               dose2_due="26/08/2021 - 23/09/2021"),
        invite("63301", DAY1, "afternoon", "13:30", "P0005", "Ngô Thị Năm", birth_date=None, sex=None,
               priority_group=None),
        invite("63302", DAY2, "morning", "07:30", "P0100", "Mai Văn Khác", product="vero_cell", lot="V77"),
    ])
    standby = pd.DataFrame([
        standby_row("63301", DAY1, "morning", 2, "P0011", "Dự Phòng Hai", sex="female"),
        standby_row("63301", DAY1, "morning", 1, "P0010", "Dự Phòng Một", phone="0909000999"),
    ])
    return sessions, invitations, standby


def write(tmp_path: Path, sessions, invitations, standby, **kw) -> list[Path]:
    return write_invitation_lists(tmp_path / "out", sessions, invitations, standby, facility_names=NAMES,
                                  part_labels=PART_LABELS, part_hours=PART_HOURS, **kw)


def rows_of(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def first_col(ws) -> list:
    return [r[0] for r in rows_of(ws)]


def header_row(ws) -> int:
    """1-based row of the invitation table's header."""
    return first_col(ws).index("STT") + 1


def table(ws) -> list[list]:
    """The invitation rows (until the first row without a number in STT)."""
    out = []
    for r in rows_of(ws)[header_row(ws):]:
        if not isinstance(r[0], int):
            break
        out.append(r)
    return out


def texts(ws) -> list[str]:
    return [v for r in rows_of(ws) for v in r if isinstance(v, str)]


def col(header: str) -> int:
    return HEADERS.index(header)


# ---------------------------------------------------------------------------------------------------------


def test_one_file_per_facility_with_sessions_in_order(tmp_path, frames):
    paths = write(tmp_path, *frames)
    out = tmp_path / "out"
    assert paths == [out / "moi-tiem-63301.xlsx", out / "moi-tiem-63302.xlsx"]
    assert sorted(out.iterdir()) == paths  # no temporary file left behind
    assert openpyxl.load_workbook(paths[0]).sheetnames == ["29-07 Sáng", "29-07 Chiều"]
    assert openpyxl.load_workbook(paths[1]).sheetnames == ["30-07 Sáng"]
    assert (paths[0].stat().st_mode & 0o777) == 0o600


def test_title_lines(tmp_path, frames):
    wb = openpyxl.load_workbook(write(tmp_path, *frames)[0])
    morning, afternoon = wb["29-07 Sáng"], wb["29-07 Chiều"]
    lines = [v for v in first_col(morning)[:header_row(morning) - 1] if v]
    assert lines == [
        DEFAULT_TITLE,
        "Cơ sở tiêm chủng: Trạm Y tế xã Ia Thử — Mã cơ sở: 63301",
        "Ngày: 29/07/2021 — Buổi: Sáng (07:30–11:30)",
        "Vắc xin: AstraZeneca — Lô: A1001, A1002 — Số lọ cần mở: 5 — Số người mời: 4",
        "Vắc xin: Pfizer-BioNTech — Lô: FP0042 — Số lọ cần mở: 1 — Số người mời: 1",
        "Ê kíp trực: Ê kíp 1: Lê Thị Mẫu (tiếp đón), Phạm Văn Thử (tiêm)",
    ]
    assert STANDING_NOTE not in texts(morning)
    assert "A1:O1" in {str(r) for r in morning.merged_cells.ranges}  # the title spans the table
    head = [v for v in first_col(afternoon)[:header_row(afternoon) - 1] if v]
    assert head[2] == "Ngày: 29/07/2021 — Buổi: Chiều (13:30–17:00)"
    assert head[3] == "Vắc xin: AstraZeneca — Lô: A1001 — Số lọ cần mở: 2 — Số người mời: 3"
    assert head[-2:] == ["Ê kíp trực: Ê kíp 1: Trần Văn Giả (tiếp đón)", STANDING_NOTE]


def test_header_and_rows_in_slot_order(tmp_path, frames):
    ws = openpyxl.load_workbook(write(tmp_path, *frames)[0])["29-07 Sáng"]
    assert [c.header for c in COLUMNS] == HEADERS
    assert rows_of(ws)[header_row(ws) - 1] == HEADERS
    rows = table(ws)
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert [(r[col("Giờ hẹn")], r[col("Mã đối tượng")]) for r in rows] == [
        ("07:30", "P0002"), ("07:30", "P0001"), ("8:00", "P0003"), ("10:00", "P0004")]
    first = rows[0]
    assert first[col("Họ và tên")] == "Võ Thị Hai"
    assert first[col("Ngày sinh")] == "04/03/1970"
    assert first[col("Nhóm ưu tiên")] == 11 and first[col("Mũi số")] == 2
    assert first[col("Vắc xin")] == "AstraZeneca" and first[col("Lô vắc xin")] == "A1001"
    assert first[col("Ký nhận / Ghi chú")] is None
    assert rows[1][col("Hẹn mũi 2")] == "26/08/2021 - 23/09/2021"
    assert rows[2][col("Vắc xin")] == "Pfizer-BioNTech"


def test_phone_and_id_are_text_with_leading_zeros(tmp_path, frames):
    ws = openpyxl.load_workbook(write(tmp_path, *frames)[0])["29-07 Sáng"]
    r = header_row(ws) + 1  # P0002
    phone = ws.cell(r, col("Số điện thoại") + 1)
    id_number = ws.cell(r, col("Số CMT/CCCD") + 1)
    assert phone.value == "0912345678" and phone.data_type == "s" and phone.number_format == "@"
    assert id_number.value == "001085012345" and id_number.data_type == "s"
    assert ws.cell(r, col("STT") + 1).data_type == "n"


def test_phone_in_e164_is_printed_in_national_form(tmp_path, frames):
    sessions, invitations, standby = frames
    invitations.loc[invitations["person_id"] == "P0002", "phone"] = "+84912345678"
    ws = openpyxl.load_workbook(write(tmp_path, sessions, invitations, standby)[0])["29-07 Sáng"]
    assert ws.cell(header_row(ws) + 1, col("Số điện thoại") + 1).value == "0912345678"


def test_formula_like_name_is_text(tmp_path, frames):
    ws = openpyxl.load_workbook(write(tmp_path, *frames)[0])["29-07 Sáng"]
    r = header_row(ws) + 3  # P0003
    cell = ws.cell(r, col("Họ và tên") + 1)
    assert cell.value == FORMULA_NAME
    assert cell.data_type == "s" and cell.quotePrefix
    assert not ws.cell(r - 1, col("Họ và tên") + 1).quotePrefix


def test_sex_rendered_nam_nu(tmp_path, frames):
    wb = openpyxl.load_workbook(write(tmp_path, *frames)[0])
    sexes = [r[col("Giới tính")] for r in table(wb["29-07 Sáng"])]
    assert sexes == ["Nữ", "Nam", "Nữ", "Nam"]
    (afternoon,) = table(wb["29-07 Chiều"])
    assert afternoon[col("Giới tính")] is None and afternoon[col("Ngày sinh")] is None
    assert afternoon[col("Nhóm ưu tiên")] is None


def test_standby_table(tmp_path, frames):
    wb = openpyxl.load_workbook(write(tmp_path, *frames)[0])
    ws = wb["29-07 Sáng"]
    rows = rows_of(ws)
    at = first_col(ws).index(STANDBY_TITLE)
    assert at > header_row(ws) + len(table(ws))  # below the invitations
    head = rows[at + 1]
    assert head[0] == "STT" and head[col("Họ và tên")] == "Họ và tên"
    assert head[col("Số điện thoại")] == "Số điện thoại" and head[col("Mũi số")] == "Ký nhận / Ghi chú"
    assert "Giờ hẹn" not in head and "Lô vắc xin" not in head and "Vắc xin" not in head
    people = rows[at + 2:at + 4]
    assert [(p[0], p[col("Mã đối tượng")], p[col("Họ và tên")]) for p in people] == [
        (1, "P0010", "Dự Phòng Một"), (2, "P0011", "Dự Phòng Hai")]
    assert people[0][col("Số điện thoại")] == "0909000999" and people[1][col("Giới tính")] == "Nữ"
    assert people[0][col("Ngày sinh")] == "1960"
    assert not isinstance(rows[at + 4][0], int)  # and nobody else
    assert NO_STANDBY not in texts(ws)
    # The sessions without standby people say so.
    for other in (wb["29-07 Chiều"], openpyxl.load_workbook(tmp_path / "out" / "moi-tiem-63302.xlsx").active):
        col_a = first_col(other)
        assert col_a[col_a.index(STANDBY_TITLE) + 1] == NO_STANDBY


def test_signatures_and_print_settings(tmp_path, frames):
    wb = openpyxl.load_workbook(write(tmp_path, *frames)[0])
    for ws in wb.worksheets:
        h = header_row(ws)
        assert ws.print_title_rows == f"${h}:${h}"
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.paperSize in (9, "9")
        assert ws.page_setup.fitToWidth in (1, None) and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.freeze_panes == f"A{h + 1}"
        assert "Trang &P/&N" in ws.oddFooter.center.text
        assert ws.cell(h, 1).border.left.style == "thin"
        assert ws.cell(h + 1, col("Ký nhận / Ghi chú") + 1).border.bottom.style == "thin"
        assert ws.column_dimensions["D"].width > ws.column_dimensions["A"].width
        signature_row = next(r for r in rows_of(ws) if SIGNATURES[0] in r)
        assert SIGNATURES[1] in signature_row


def test_session_without_invitations(tmp_path, frames):
    sessions, invitations, standby = frames
    invitations = invitations[invitations["facility_code"] != "63302"]
    paths = write(tmp_path, sessions, invitations, standby)
    ws = openpyxl.load_workbook(paths[1]).active
    assert first_col(ws)[header_row(ws)] == NO_INVITATIONS
    assert "Vắc xin: Vero Cell — Lô: V77 — Số lọ cần mở: 3 — Số người mời: 1" in texts(ws)


def test_empty_frames(tmp_path):
    assert write(tmp_path, pd.DataFrame(), pd.DataFrame(), pd.DataFrame()) == []
    empty = pd.DataFrame(columns=["facility_code", "date", "part"])
    assert write(tmp_path, empty, empty, empty) == []


def test_invitations_without_session_rows(tmp_path, frames):
    _, invitations, _ = frames
    paths = write(tmp_path, pd.DataFrame(), invitations, pd.DataFrame(), title="DANH SÁCH MỜI TIÊM")
    assert [p.name for p in paths] == ["moi-tiem-63301.xlsx", "moi-tiem-63302.xlsx"]
    ws = openpyxl.load_workbook(paths[0])["29-07 Sáng"]
    assert ws["A1"].value == "DANH SÁCH MỜI TIÊM"
    assert len(table(ws)) == 4


def test_hostile_facility_code_stays_inside_out_dir(tmp_path, frames):
    sessions, invitations, standby = frames
    for frame in (sessions, invitations, standby):
        frame.loc[frame["facility_code"] == "63302", "facility_code"] = "../x"
    sessions.loc[0, "facility_code"] = "/tmp/../../etc/y"
    out = tmp_path / "out"
    paths = write(tmp_path, sessions, invitations, standby)
    assert all(p.parent == out for p in paths)
    assert sorted(out.iterdir()) == paths
    assert sorted(tmp_path.iterdir()) == [out]  # nothing beside out_dir
    names = [p.name for p in paths]
    assert any(n.startswith("moi-tiem-.._x-") for n in names)
    assert all("/" not in n and "\\" not in n for n in names)
    ws = openpyxl.load_workbook(next(p for p in paths if p.name.startswith("moi-tiem-.._x-"))).active
    assert "Mã cơ sở: ../x" in texts(ws)


def test_file_and_sheet_names():
    assert file_name("63301") == "moi-tiem-63301.xlsx"
    assert file_name("a/b") != file_name("a_b")
    assert "/" not in file_name("../../etc/passwd")
    with pytest.raises(ValueError):
        file_name("  ")
    taken: set[str] = set()
    assert sheet_name(DAY1, "Sáng", taken) == "29-07 Sáng"
    assert sheet_name(dt.date(2022, 7, 29), "Sáng", taken) == "29-07 Sáng (2)"
    long = sheet_name(DAY1, "Buổi [tối]: * ? / \\ " + "x" * 40, taken)
    assert len(long) <= 31 and not set("[]:*?/\\") & set(long)


def test_unknown_part_and_missing_column_are_refused(tmp_path, frames):
    sessions, invitations, standby = frames
    bad = invitations.copy()
    bad.loc[0, "part"] = "evening"
    with pytest.raises(ValueError, match="evening"):
        write(tmp_path, sessions, bad, standby)
    with pytest.raises(ValueError, match="phone"):
        write(tmp_path, sessions, invitations.drop(columns=["phone"]), standby)


def test_missing_slot_goes_last(tmp_path, frames):
    sessions, invitations, standby = frames
    extra = pd.DataFrame([invite("63301", DAY1, "afternoon", None, "P0006", "Lý Văn Sáu")])
    invitations = pd.concat([extra, invitations], ignore_index=True)
    ws = openpyxl.load_workbook(write(tmp_path, sessions, invitations, standby)[0])["29-07 Chiều"]
    assert [(r[col("Giờ hẹn")], r[col("Mã đối tượng")]) for r in table(ws)] == [("13:30", "P0005"), (None, "P0006")]
