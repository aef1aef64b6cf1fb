"""`campaign.master_list.export`: the standardized target list of a district in the national platform's subject-list
import layout. A tiny master list is inserted directly (no dedupe run): a submission, its target_list rows,
a linkage model, a master-list run and the master_persons rows; then the file is read back with
python-calamine, with openpyxl (cell types, quote prefix) and with the project's own reader and
standardizer, which must get the same people back. Runs on SQLite and PostgreSQL (`migrated_engine`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.domain.standardize import standardize
from campaign.io.reader import read_submission
from campaign.master_list.export.rules import (
    COLUMNS,
    FIRST_DATA_ROW,
    HEADER_ROWS,
    SHEET_NAME,
    TITLE_LINES,
    national_phone,
)
from campaign.master_list.export.run import (
    ExportError,
    ExportUsageError,
    InconsistentMasterListError,
    NoMasterListError,
    NoPersonsError,
    UnknownDistrictError,
    export_target_list,
)
from campaign.store.models import (
    KIND_TABLES,
    LinkageModel,
    MasterListRun,
    MasterPerson,
    StoredFile,
    Submission,
)

RECEIVED = dt.datetime(2021, 7, 27, 2, 0, tzinfo=dt.UTC)
AS_OF = dt.datetime(2021, 7, 28, 1, 0, tzinfo=dt.UTC)
LIMITS = {"max_bytes": 50 * 1024 * 1024, "max_rows": 100_000}
FORMULA_NAME = '=HYPERLINK("http://x.example","Bấm vào đây")'

# Communes of Chư Sê (633) and of Pleiku (622), GSO 2021.
CHU_SE_TOWN, IA_TIEM, YEN_DO = "23941", "23944", "23557"

# Source rows of Chư Sê's upload: (row_number, values). Row 9 is a second row of person P2 (not canonical).
ROWS_633: list[tuple[int, dict]] = [
    (7, dict(full_name="Nguyễn Thị Hoà", birth_date=dt.date(1950, 3, 4), sex="female", priority_group=13,
             workplace="Chợ Chư Sê", phone="+84912345678", id_number="064150000123",
             insurance_number="GD4640123456789", province_name="Gia Lai", province_code="64",
             district_name="Chư Sê", district_code="633", commune_name="Thị trấn Chư Sê",
             commune_code=CHU_SE_TOWN, address_detail="Tổ 3", dose1_product="astrazeneca",
             dose1_date=dt.date(2021, 6, 1), dose1_lot="0123", dose1_site="64633-TTYT-01", note="hẹn mũi 2")),
    (8, dict(full_name="Ksor H'Blang", birth_date=dt.date(1985, 12, 31), sex="male", priority_group=1,
             workplace="Trạm Y tế xã Ia Tiêm", phone="+84387654321", id_number="023456789",
             commune_name="Xã Ia Tiêm", commune_code=IA_TIEM)),
    (9, dict(full_name="Ksor H Blang", birth_date=dt.date(1985, 12, 31), sex="male", priority_group=1,
             phone="+84999999999", id_number="023456789", commune_name="Xã Ia Tiêm", commune_code=IA_TIEM)),
    (10, dict(full_name="Rơ Châm Thuý", birth_date=dt.date(2005, 1, 1), sex="female", priority_group=15,
              phone="+84977000111", commune_name="Xã Ia Tiêm", commune_code=IA_TIEM)),
    (11, dict(full_name=FORMULA_NAME, birth_date=dt.date(1970, 7, 7), sex="male", priority_group=13,
              workplace="+84 công ty", phone="+84355000222", address_detail="-", note="@all",
              commune_name="Thị trấn Chư Sê", commune_code=CHU_SE_TOWN)),
    (12, dict(full_name="Siu Nay", birth_date=dt.date(1990, 2, 28), sex="female", priority_group=2,
              phone=None, commune_name="Xã Ia Tiêm", commune_code=IA_TIEM)),
]
ROWS_622: list[tuple[int, dict]] = [
    (5, dict(full_name="Trần Văn Pleiku", birth_date=dt.date(1960, 1, 1), sex="male", priority_group=1,
             phone="+84912000000", commune_name="Phường Yên Đỗ", commune_code=YEN_DO)),
]
# person_id -> (district, submission key, row_number, effective priority, eligible, reason, invite_rank)
PERSONS = {
    "GL0000001": ("633", "633", 7, 9, True, None, 2),        # moved from 13 to the age group 9
    "GL0000002": ("633", "633", 8, 1, True, None, 1),
    "GL0000003": ("633", "633", 10, 15, False, "under_age", None),
    "GL0000004": ("633", "633", 11, 13, True, None, 3),
    "GL0000005": ("633", "633", 12, 2, True, None, 4),
    "GL0000006": ("622", "622", 5, 1, True, None, 1),
}
ORDER_633 = ["Ksor H'Blang", "Nguyễn Thị Hoà", FORMULA_NAME, "Siu Nay"]  # by invite_rank


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


def _submission(session: Session, district: str, version: int = 1, *, current: bool = True) -> Submission:
    sha = hashlib.sha256(f"{district}-{version}".encode()).hexdigest()
    if session.get(StoredFile, sha) is None:
        session.add(StoredFile(sha256=sha, size_bytes=1, original_filename="ds.xlsx", media_type=None,
                               relative_path=f"{sha[:2]}/{sha}"))
        session.flush()
    sub = Submission(district_code=district, kind="target_list", version=version, status="accepted",
                     is_current=current, checksum=sha, channel="cli", submitted_by="test", received_at=RECEIVED)
    session.add(sub)
    session.flush()
    return sub


def _rows(session: Session, sub: Submission, rows: list[tuple[int, dict]]) -> None:
    table = KIND_TABLES["target_list"]
    blank = {c.name: None for c in table.columns if c.name not in ("id", "submission_id", "district", "sheet",
                                                                  "row_number")}
    session.execute(insert(table), [{**blank, "submission_id": sub.id, "district": sub.district_code,
                                     "sheet": "Sheet1", "row_number": n, **values} for n, values in rows])


def seed(engine: Engine, persons: dict = PERSONS, *, with_run: bool = True) -> dict[str, int]:
    """Chư Sê's and Pleiku's uploads, and (unless `with_run=False`) a master list of `persons`."""
    with Session(engine) as s, s.begin():
        subs = {"633": _submission(s, "633"), "622": _submission(s, "622")}
        _rows(s, subs["633"], ROWS_633)
        _rows(s, subs["622"], ROWS_622)
        if with_run:
            model = LinkageModel(version="test", trained_rows=7, seconds=0.0, model={})
            s.add(model)
            s.flush()
            run = MasterListRun(as_of=AS_OF, model_id=model.id, trained=True, rows=7, persons=len(persons),
                                review_pairs=0, inputs=[subs["633"].id, subs["622"].id])
            s.add(run)
            s.flush()
            commune = {n: v.get("commune_code") for n, v in ROWS_633 + ROWS_622}
            for pid, (district, sub_key, row, prio, eligible, reason, rank) in persons.items():
                s.add(MasterPerson(person_id=pid, run_id=run.id, submission_id=subs[sub_key].id, row_number=row,
                                   district=district, commune_code=commune.get(row), rows=1, districts=district,
                                   priority_group=prio, eligible=eligible, ineligible_reason=reason,
                                   next_dose=1, outbreak=False, invite_rank=rank))
        return {k: v.id for k, v in subs.items()}


def export(engine: Engine, campaign, path: Path, district: str = "633", **kw):
    with Session(engine) as s:
        return export_target_list(s, district, path, campaign=campaign, **kw)


def sheet_rows(path: Path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SHEET_NAME).to_python(skip_empty_area=False)


def data_rows(path: Path) -> list[list]:
    return sheet_rows(path)[FIRST_DATA_ROW - 1:]


def col(name: str) -> int:
    return [c.key for c in COLUMNS].index(name)


# ---------------------------------------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------------------------------------


def test_national_layout_instruction_lines_and_two_row_merged_header(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    out = tmp_path / "chu_se.xlsx"
    result = export(migrated_engine, campaign, out)
    book = CalamineWorkbook.from_path(str(out))
    assert book.sheet_names == [SHEET_NAME]
    rows = sheet_rows(out)
    assert [r[0] for r in rows[:len(TITLE_LINES)]] == list(TITLE_LINES)
    top, sub = rows[HEADER_ROWS[0] - 1], rows[HEADER_ROWS[1] - 1]
    assert len(top) == len(COLUMNS) == 26
    assert top[:9] == ["#", "Họ và tên (*)", "Ngày sinh dạng dd/mm/yyyy (*)", "Giới tính (*)\n(0: nam, 1: nữ)",
                       "Mã nhóm đối tượng ưu tiên (*)", "Đơn vị công tác", "Số điện thoại (*)\n(ít nhất 10 số)",
                       "Số CMT/CCCD\n(8/9/12 số)", "Số thẻ bảo hiểm y tế\n(10/15 ký tự)"]
    assert top[9:] == ["Nơi ở tạm trú (hiện tại)"] + [""] * 6 + ["Mũi 1", "", "", ""] + ["Mũi 2", "", "", ""] + [
        "Ghi chú", "Kết quả import"]
    assert sub[:9] == [""] * 9 and sub[24:] == ["", ""]
    assert sub[9:24] == ["Tỉnh/Thành phố", "Mã Tỉnh (*)", "Quận/Huyện", "Mã Quận/Huyện (*)", "Xã/Phường",
                         "Mã Xã/Phường (*)", "Địa chỉ chi tiết"] + ["Tên vắc xin", "Ngày tiêm", "Lô vắc xin",
                                                                   "Địa điểm tiêm"] * 2
    t, s = HEADER_ROWS[0] - 1, HEADER_ROWS[1] - 1
    merges = sorted(book.get_sheet_by_name(SHEET_NAME).merged_cell_ranges)
    singles = [j for j, c in enumerate(COLUMNS) if c.group is None]
    assert merges == sorted([((t, j), (s, j)) for j in singles] + [((t, 9), (t, 15)), ((t, 16), (t, 19)),
                                                                    ((t, 20), (t, 23))])
    assert result.header_rows == list(HEADER_ROWS) == [5, 6] and result.first_data_row == FIRST_DATA_ROW == 7
    assert len(rows) == FIRST_DATA_ROW - 1 + result.persons_written


def test_rows_values_order_and_cell_types(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    out = tmp_path / "chu_se.xlsx"
    result = export(migrated_engine, campaign, out)
    rows = data_rows(out)
    assert [r[col("full_name")] for r in rows] == ORDER_633                  # invite_rank order
    assert [r[col("#")] for r in rows] == [1, 2, 3, 4]
    hoa = rows[1]
    assert hoa[col("birth_date")] == "04/03/1950"
    assert hoa[col("sex")] == 1 and rows[0][col("sex")] == 0
    assert hoa[col("priority_group")] == 9                                  # effective, not the row's 13
    assert hoa[col("phone")] == "0912345678"
    assert hoa[col("id_number")] == "064150000123"
    assert rows[0][col("id_number")] == "023456789"                         # the 9-digit CMND keeps its zero
    assert hoa[col("insurance_number")] == "GD4640123456789"
    assert hoa[col("workplace")] == "Chợ Chư Sê" and hoa[col("address_detail")] == "Tổ 3"
    assert [hoa[col(k)] for k in ("province_name", "province_code", "district_name", "district_code",
                                   "commune_name", "commune_code")] == [
        "Tỉnh Gia Lai", "64", "Huyện Chư Sê", "633", "Thị trấn Chư Sê", CHU_SE_TOWN]
    assert [hoa[col(k)] for k in ("dose1_product", "dose1_date", "dose1_lot", "dose1_site")] == [
        "AstraZeneca", "01/06/2021", "0123", "64633-TTYT-01"]
    assert [hoa[col(k)] for k in ("dose2_product", "dose2_date", "dose2_lot", "dose2_site")] == [""] * 4
    assert hoa[col("note")] == "hẹn mũi 2"
    assert all(r[col("import_result")] == "" for r in rows)
    # the canonical row of P2 (row 8), not its second row (row 9)
    assert rows[0][col("phone")] == "0387654321"
    assert rows[3][col("phone")] == ""                                      # no phone: left empty, counted
    assert result.missing_required == {"phone": 1}
    assert result.commune_outside_district == 0

    # cell types as Excel sees them: text for codes, IDs, phones and dates; numbers for #, sex, priority
    ws = openpyxl.load_workbook(out)[SHEET_NAME]
    first = FIRST_DATA_ROW + 1  # Hoà's row, 1-based
    for key in ("birth_date", "phone", "id_number", "insurance_number", "province_code", "district_code",
                "commune_code", "dose1_date", "dose1_lot", "dose1_site"):
        cell = ws.cell(first, col(key) + 1)
        assert cell.data_type == "s" and cell.number_format == "@", key
    for key in ("#", "sex", "priority_group"):
        assert ws.cell(first, col(key) + 1).data_type == "n", key


def test_only_the_district_and_only_eligible_people_by_default(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    result = export(migrated_engine, campaign, tmp_path / "a.xlsx")
    names = [r[col("full_name")] for r in data_rows(result.path)]
    assert "Rơ Châm Thuý" not in names and "Trần Văn Pleiku" not in names
    assert (result.persons_written, result.ineligible_excluded, result.ineligible_included,
            result.persons_in_district) == (4, 1, 0, 5)
    assert result.to_json() == {
        "path": str(tmp_path / "a.xlsx"), "district": "633", "district_name": "Huyện Chư Sê",
        "persons_written": 4, "ineligible_excluded": 1, "ineligible_included": 0, "persons_in_district": 5,
        "master_list_run_id": result.master_list_run_id, "master_list_as_of": "2021-07-28T01:00:00+00:00",
        "stale": False, "changed_submissions": [], "commune_outside_district": 0,
        "missing_required": {"phone": 1}, "sheet": SHEET_NAME, "header_rows": [5, 6], "first_data_row": 7,
        "seconds": result.to_json()["seconds"]}


def test_ineligible_people_on_request_last_and_marked(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    result = export(migrated_engine, campaign, tmp_path / "all.xlsx", include_ineligible=True)
    rows = data_rows(result.path)
    assert [r[col("full_name")] for r in rows] == ORDER_633 + ["Rơ Châm Thuý"]
    assert rows[-1][col("note")] == "Chưa đủ điều kiện mời tiêm: chưa đủ 18 tuổi"
    assert rows[-1][col("priority_group")] == 15 and rows[-1][col("#")] == 5
    assert (result.persons_written, result.ineligible_excluded, result.ineligible_included) == (5, 0, 1)


def test_other_district_by_name_without_diacritics(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    result = export(migrated_engine, campaign, tmp_path / "pleiku.xlsx", district="tp pleiku")
    assert result.district == "622" and result.persons_written == 1
    row = data_rows(result.path)[0]
    assert row[col("full_name")] == "Trần Văn Pleiku"
    assert [row[col(k)] for k in ("district_code", "commune_code", "commune_name")] == ["622", YEN_DO,
                                                                                       "Phường Yên Đỗ"]


def test_formula_like_values_are_stored_as_text(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    out = export(migrated_engine, campaign, tmp_path / "f.xlsx").path
    row = data_rows(out)[2]
    assert row[col("full_name")] == FORMULA_NAME
    assert row[col("workplace")] == "+84 công ty"
    assert row[col("address_detail")] == "-" and row[col("note")] == "@all"
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml                            # no formula anywhere
    ws = openpyxl.load_workbook(out)[SHEET_NAME]
    r = FIRST_DATA_ROW + 2
    for key in ("full_name", "workplace", "address_detail", "note"):
        cell = ws.cell(r, col(key) + 1)
        assert cell.data_type == "s" and cell.quotePrefix, key               # Excel keeps it text when edited
    assert not ws.cell(r - 1, col("full_name") + 1).quotePrefix


# ---------------------------------------------------------------------------------------------------------
# Round trip through the project's own reader and standardizer
# ---------------------------------------------------------------------------------------------------------


def test_the_projects_reader_and_standardizer_read_it_back(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    out = export(migrated_engine, campaign, tmp_path / "rt.xlsx").path
    read = read_submission(out, "target_list", **LIMITS)
    assert read.header_rows == [5, 6]
    assert read.row_numbers.tolist() == [7, 8, 9, 10]
    assert read.unmapped_headers == ["Kết quả import"]
    assert read.skipped_rows == [(1, "title"), (2, "title"), (3, "title"), (4, "blank")]
    f = read.frame
    assert f["full_name"].tolist() == ORDER_633
    assert f["birth_date"].tolist() == ["31/12/1985", "04/03/1950", "07/07/1970", "28/02/1990"]
    assert f["sex"].tolist() == ["0", "1", "0", "1"]
    assert f["priority_group"].tolist() == ["1", "9", "13", "2"]
    assert f["phone"].tolist()[:3] == ["0387654321", "0912345678", "0355000222"] and f["phone"].isna()[3]
    assert f["id_number"].tolist()[:2] == ["023456789", "064150000123"]
    assert f.loc[1, "dose1_product"] == "AstraZeneca" and f.loc[1, "dose1_lot"] == "0123"

    clean = standardize(f, "target_list", district_code="633", campaign_date=campaign.campaign.campaign_date,
                        min_age_years=campaign.campaign.min_age_years, today=dt.date(2021, 7, 28))
    c = clean.clean
    assert c["phone"].tolist()[:3] == ["+84387654321", "+84912345678", "+84355000222"]
    assert c["id_number"].tolist()[:2] == ["023456789", "064150000123"]
    assert c["sex"].tolist() == ["male", "female", "male", "female"]
    assert [int(v) for v in c["priority_group"]] == [1, 9, 13, 2]
    assert c["birth_date"].dt.strftime("%Y-%m-%d").tolist() == ["1985-12-31", "1950-03-04", "1970-07-07",
                                                                 "1990-02-28"]
    assert c["commune_code"].tolist() == [IA_TIEM, CHU_SE_TOWN, CHU_SE_TOWN, IA_TIEM]
    assert c.loc[1, "dose1_product"] == "astrazeneca"
    # the two clean people load without any issue; the formula name is refused as intake refuses it,
    # the person without a phone only warned about
    codes = clean.issues.dropna(subset=["row"]).groupby("row")["code"].apply(set).to_dict()
    assert 0 not in codes and 1 not in codes
    assert "name_invalid" in codes[2]
    assert codes[3] == {"phone_missing"}


def test_same_list_same_bytes(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    a = export(migrated_engine, campaign, tmp_path / "a.xlsx").path.read_bytes()
    b = export(migrated_engine, campaign, tmp_path / "b.xlsx").path.read_bytes()
    assert a == b


def test_streamed_in_small_batches_and_passes_gives_the_same_file(migrated_engine, campaign, tmp_path, monkeypatch):
    from campaign.master_list.export import run as export_run
    from campaign.master_list.export import store as export_store

    seed(migrated_engine)
    whole = export(migrated_engine, campaign, tmp_path / "a.xlsx", include_ineligible=True).path.read_bytes()
    monkeypatch.setattr(export_store, "FETCH_ROWS", 2)                     # server-side cursor on PostgreSQL
    monkeypatch.setattr(export_run, "BUFFER_PERSONS", 2)                 # three passes over the rows
    batched = export(migrated_engine, campaign, tmp_path / "b.xlsx", include_ineligible=True).path.read_bytes()
    assert batched == whole


def test_file_is_private_and_replaced_whole(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    out = tmp_path / "sub" / "x.xlsx"
    export(migrated_engine, campaign, out)
    assert out.stat().st_mode & 0o077 == 0                                 # personal data: owner only
    export(migrated_engine, campaign, out, include_ineligible=True)
    assert len(data_rows(out)) == 5
    assert [p.name for p in out.parent.iterdir()] == ["x.xlsx"]              # no temporary file left


# ---------------------------------------------------------------------------------------------------------
# Staleness and errors
# ---------------------------------------------------------------------------------------------------------


def test_a_list_built_before_a_reupload_is_flagged_stale(migrated_engine, campaign, tmp_path):
    subs = seed(migrated_engine)
    with Session(migrated_engine) as s, s.begin():
        old = s.get(Submission, subs["633"])
        old.is_current = False
        s.flush()
        new = _submission(s, "633", version=2)
        old.superseded_by_id = new.id
        new_id = new.id
    result = export(migrated_engine, campaign, tmp_path / "s.xlsx")
    assert result.stale and result.changed_submissions == sorted([subs["633"], new_id])
    assert result.persons_written == 4                                       # still the built list's people


def test_no_master_list_yet(migrated_engine, campaign, tmp_path):
    seed(migrated_engine, with_run=False)
    with pytest.raises(NoMasterListError, match="master-list") as info:
        export(migrated_engine, campaign, tmp_path / "x.xlsx")
    assert info.value.exit_code == 3
    assert not (tmp_path / "x.xlsx").exists()


def test_district_without_people(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    out = tmp_path / "out" / "x.xlsx"
    out.parent.mkdir()
    out.write_bytes(b"previous export")
    with pytest.raises(NoPersonsError, match="no person") as info:
        export(migrated_engine, campaign, out, district="625")
    assert info.value.exit_code == 3
    assert out.read_bytes() == b"previous export"                           # untouched on error
    assert [p.name for p in out.parent.iterdir()] == ["x.xlsx"]             # no temporary file left


def test_district_with_only_ineligible_people(migrated_engine, campaign, tmp_path):
    only = {"GL0000003": PERSONS["GL0000003"]}
    seed(migrated_engine, only)
    with pytest.raises(NoPersonsError, match="none eligible") as info:
        export(migrated_engine, campaign, tmp_path / "x.xlsx")
    assert (info.value.persons, info.value.ineligible) == (1, 1)
    result = export(migrated_engine, campaign, tmp_path / "x.xlsx", include_ineligible=True)
    assert result.persons_written == 1


def test_person_without_source_row_is_an_error_not_a_silent_gap(migrated_engine, campaign, tmp_path):
    broken = {**PERSONS, "GL0000009": ("633", "633", 99, 1, True, None, 5)}
    seed(migrated_engine, broken)
    with pytest.raises(InconsistentMasterListError, match="no source row") as info:
        export(migrated_engine, campaign, tmp_path / "x.xlsx")
    assert isinstance(info.value, ExportError) and info.value.exit_code == 1
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize("district", ["999", "Hà Nội", "Ba Đình"])
def test_unknown_district_is_a_usage_error(migrated_engine, campaign, tmp_path, district):
    seed(migrated_engine)
    with pytest.raises(UnknownDistrictError) as info:
        export(migrated_engine, campaign, tmp_path / "x.xlsx", district=district)
    assert info.value.exit_code == 2


def test_output_must_be_xlsx(migrated_engine, campaign, tmp_path):
    seed(migrated_engine)
    with pytest.raises(ExportUsageError, match=".xlsx"):
        export(migrated_engine, campaign, tmp_path / "x.csv")


# ---------------------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "shown"), [
    ("+84912345678", "0912345678"), ("+84387654321", "0387654321"), ("+12025550123", "+12025550123"),
    (None, None), ("", None),
])
def test_national_phone(stored, shown):
    assert national_phone(stored) == shown
