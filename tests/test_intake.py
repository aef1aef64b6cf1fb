"""The intake core end to end on small hand-made files, on SQLite and PostgreSQL, without Prefect.

What a district sees: counts and reasons per docs/contracts.md, snapshots that replace, events that append,
duplicates recognised, withdrawals that restore, and nothing half-loaded when a file is refused.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest, UsageError
from campaign.intake.run import run_intake
from campaign.intake.store import withdraw
from campaign.settings import Settings
from campaign.store.models import KIND_TABLES, QuarantineRow, RowIssue, StoredFile, Submission

HEADER = "STT,Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),Số CMT/CCCD,Xã/Phường (*)\n"
GOOD_ROWS = [
    "1,Nguyễn Văn An,25/05/1980,0,9,0912345678,064080001234,Ia Blang\n",
    "2,Ksor H'Blang,15/03/1975,1,10,0351234567,,Ia Blang\n",
    "3,Rơ Châm Thuận,20/11/1969,0,9,0981112223,,Ia Glai\n",
]
NOW = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@pytest.fixture()
def env(migrated_engine, tmp_path):
    settings = Settings(home=tmp_path / "home")
    campaign = load_campaign()

    def intake(path: Path, district: str = "633", kind: str = "target_list", **kw):
        request = IntakeRequest(path=path, district=district, kind=kind, received_at=kw.pop("at", NOW), **kw)
        return run_intake(request, engine=migrated_engine, settings=settings, campaign=campaign)

    return migrated_engine, intake


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_accepted_file_loads_rows_with_repairs_and_warnings(env, tmp_path):
    engine, intake = env
    rows = [*GOOD_ROWS,
            "4,Siu Nay,1985,1,9,01631234567,,Ia Blang\n",          # year-only DOB, old 11-digit phone
            "5,,01/01/1990,1,9,0912345679,,Ia Blang\n"]             # no name: quarantined
    out = intake(write(tmp_path, "tl.csv", HEADER + "".join(rows)))
    assert out.status == "accepted" and out.district == "633"
    assert (out.rows_total, out.rows_loaded, out.rows_quarantined, out.rows_skipped) == (5, 4, 1, 0)
    assert out.reasons["name_missing"] == 1
    assert out.reasons["dob_year_only"] == 1 and out.reasons["phone_converted"] == 1
    assert out.rows_with_warnings == 1  # the year-only birth date; repairs are not warnings
    table = KIND_TABLES["target_list"]
    with engine.connect() as conn:
        loaded = conn.execute(sa.select(table.c.full_name, table.c.phone, table.c.row_number, table.c.birth_date)
                              .order_by(table.c.row_number)).all()
        quarantine = conn.execute(sa.select(QuarantineRow.row_number, QuarantineRow.reasons,
                                            QuarantineRow.original)).all()
    assert [r.row_number for r in loaded] == [2, 3, 4, 5]          # CSV line numbers, header = 1
    assert loaded[3].phone == "+84331234567" and loaded[3].birth_date == dt.date(1985, 1, 1)
    assert quarantine[0].row_number == 6 and quarantine[0].reasons == ["name_missing"]
    assert quarantine[0].original["Số điện thoại (*)"] == "0912345679"   # original values kept
    # The district's own file comes back with a result per row, at the row numbers it shows: a CSV upload
    # as CSV (UTF-8 with BOM), with a workbook of the summary and the rows with problems beside it.
    import csv
    import io

    import openpyxl

    from campaign.intake.feedback import PROBLEMS_SHEET, problems_workbook_path

    raw = Path(out.feedback_file).read_bytes()
    assert out.feedback_file.endswith(".csv") and raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    result_col = rows[0].index("Kết quả kiểm tra")
    assert rows[1][result_col].startswith("Đã nhận")      # CSV line 2: loaded (commune code filled from the name)
    assert "Bị loại" in rows[5][result_col] and "Họ và tên" in rows[5][result_col]  # CSV line 6: no name
    assert len(rows) == 6 and all(len(r) == result_col + 1 for r in rows)
    wb = openpyxl.load_workbook(problems_workbook_path(out.feedback_file), read_only=True)
    assert wb.sheetnames == ["Tóm tắt kết quả", PROBLEMS_SHEET]
    problems = list(wb[PROBLEMS_SHEET].iter_rows(values_only=True))
    assert [r[0] for r in problems[1:]] == ["5", "6"]     # the year-only birth date (to check), the row without a name
    assert "Bị loại" in problems[2][-1]
    assert out.data_docs and Path(out.data_docs).is_file()
    assert "0912345679" not in Path(out.data_docs).read_text(encoding="utf-8")


def test_identical_file_is_a_duplicate_and_not_loaded_twice(env, tmp_path):
    engine, intake = env
    path = write(tmp_path, "tl.csv", HEADER + "".join(GOOD_ROWS))
    first = intake(path)
    again = intake(path, district="chu se")
    assert again.status == "duplicate" and again.submission_id == first.submission_id
    assert count(engine, KIND_TABLES["target_list"]) == 3
    assert count(engine, Submission.__table__) == 1 and count(engine, StoredFile.__table__) == 1


def test_snapshot_replaces_and_withdraw_restores(env, tmp_path):
    engine, intake = env
    v1 = intake(write(tmp_path, "v1.csv", HEADER + "".join(GOOD_ROWS)))
    v2 = intake(write(tmp_path, "v2.csv", HEADER + GOOD_ROWS[0]))
    assert (v1.version, v2.version) == (1, 2)
    with Session(engine) as s:
        assert [x.id for x in s.scalars(sa.select(Submission).where(Submission.is_current))] == [v2.submission_id]
        assert s.get(Submission, v1.submission_id).superseded_by_id == v2.submission_id
    with Session(engine) as s, s.begin():
        withdraw(s, v2.submission_id, reason="sai tệp", by="test", at=NOW)
    with Session(engine) as s:
        current = s.scalars(sa.select(Submission).where(Submission.is_current)).all()
        assert [x.id for x in current] == [v1.submission_id]
        assert s.get(Submission, v2.submission_id).status == "withdrawn"
    assert count(engine, KIND_TABLES["target_list"]) == 4  # nothing deleted
    with Session(engine) as s, s.begin(), pytest.raises(UsageError, match="already withdrawn"):
        withdraw(s, v2.submission_id, reason="again", by="test", at=NOW)


def test_unreadable_file_is_rejected_and_nothing_but_the_submission_is_stored(env, tmp_path):
    engine, intake = env
    out = intake(write(tmp_path, "fake.xlsx", "%PDF-1.4 not a spreadsheet"))
    assert out.status == "rejected" and out.exit_code == 3
    assert out.reasons == {"unreadable_file": 1} and out.message
    assert out.rows_total == 0 and out.rows_loaded == 0
    assert count(engine, Submission.__table__) == 1
    for table in (KIND_TABLES["target_list"], RowIssue.__table__, QuarantineRow.__table__):
        assert count(engine, table) == 0


def test_missing_required_column_is_blocking(env, tmp_path):
    engine, intake = env
    header = "STT,Họ và tên (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),Xã/Phường (*)\n"
    out = intake(write(tmp_path, "tl.csv", header + "1,Nguyễn Văn An,0,9,0912345678,Ia Blang\n"))
    assert out.status == "rejected" and "required_column_missing" in out.reasons
    assert "Ngày sinh" in out.message
    assert count(engine, KIND_TABLES["target_list"]) == 0


def test_too_many_rejected_rows_rejects_all_and_keeps_reasons(env, tmp_path):
    engine, intake = env
    bad = ["2,,01/01/1990,1,9,0912345679,,Ia Blang\n", "3,Trần Thị B,31/02/1990,1,9,0912345679,,Ia Blang\n"]
    out = intake(write(tmp_path, "tl.csv", HEADER + GOOD_ROWS[0] + "".join(bad)))
    assert out.status == "rejected" and out.reasons["too_many_rejected_rows"] == 1
    assert out.rows_loaded == 0 and out.rows_quarantined == 2
    assert count(engine, KIND_TABLES["target_list"]) == 0
    assert count(engine, RowIssue.__table__) >= 2  # the rows' reasons are kept with the submission
    with Session(engine) as s:
        assert s.scalars(sa.select(Submission.is_current)).one() is False


def test_event_kind_appends_and_reports_repeats(env, tmp_path):
    engine, intake = env
    header = ("Mã cơ sở tiêm chủng,Họ và tên,Ngày sinh,Giới tính,Ngày tiêm,Kết quả khám sàng lọc,Đã tiêm,"
              "Tên vắc xin,Mũi số\n")
    day1 = ("64633-TYT-01,Nguyễn Văn An,12/05/1980,Nam,29/07/2021,Đủ điều kiện tiêm,Có,AstraZeneca,1\n"
            "64633-TYT-01,Siu H'Nhi,01/02/1990,Nữ,29/07/2021,Hoãn tiêm,Không,,1\n")
    day2 = "64633-TYT-01,Rơ Châm Thuận,20/11/1969,Nam,30/07/2021,Đủ điều kiện tiêm,Có,AstraZeneca,1\n"
    first = intake(write(tmp_path, "d1.csv", header + day1), kind="vaccinations")
    second = intake(write(tmp_path, "d2.csv", header + day1 + day2), kind="vaccinations")
    assert first.status == second.status == "accepted"
    assert second.rows_loaded == 1 and second.reasons.get("repeat_of_earlier_submission") == 2
    assert count(engine, KIND_TABLES["vaccinations"]) == 3
    with Session(engine) as s:
        assert len(s.scalars(sa.select(Submission).where(Submission.is_current)).all()) == 2


def test_usage_errors_store_nothing(env, tmp_path):
    engine, intake = env
    path = write(tmp_path, "tl.csv", HEADER + GOOD_ROWS[0])
    with pytest.raises(UsageError, match="unknown district"):
        intake(path, district="Hà Nội")
    with pytest.raises(UsageError, match="unknown kind"):
        intake(path, kind="patients")
    with pytest.raises(UsageError, match="no such file"):
        intake(tmp_path / "absent.csv")
    assert count(engine, Submission.__table__) == 0


def test_minimum_age_comes_from_the_campaign_passed_in_not_from_settings(migrated_engine, tmp_path):
    """The minimum age is the campaign's rule: intake judges it with the config it was given. It used to
    reach the standardizer from a settings fallback, so a campaign with another age went unheard."""
    settings = Settings(home=tmp_path / "home")
    adult_at_18 = load_campaign()
    day = adult_at_18.campaign.campaign_date
    seventeen = day.replace(year=day.year - 17) - dt.timedelta(days=30)
    row = f"1,Nguyễn Văn Bình,{seventeen:%d/%m/%Y},0,9,0912345678,,Ia Blang\n"
    path = write(tmp_path, "tl.csv", HEADER + row)
    outcomes = {}
    for min_age in (18, 16):
        campaign = adult_at_18.model_copy(update={
            "campaign": adult_at_18.campaign.model_copy(update={"min_age_years": min_age})})
        request = IntakeRequest(path=path, district="633", kind="target_list", received_at=NOW,
                                submitted_by=f"age-{min_age}")
        outcomes[min_age] = run_intake(request, engine=migrated_engine, settings=settings, campaign=campaign)
        withdraw_all(migrated_engine)
    assert outcomes[18].reasons.get("under_age") == 1
    assert "under_age" not in outcomes[16].reasons


def withdraw_all(engine) -> None:
    with Session(engine) as s, s.begin():
        for sub in s.scalars(sa.select(Submission).where(Submission.status == "accepted")):
            withdraw(s, sub.id, reason="test", by="test", at=NOW)
