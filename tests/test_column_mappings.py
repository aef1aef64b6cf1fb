"""A district's saved way of reading its headings (campaign/intake/columns.py): saved once, keyed by the
folded heading, checked against the kind's column spec, listed and reset; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.intake.columns import (
    field_choices,
    list_mappings,
    load_mappings,
    reset_mappings,
    save_mappings,
)
from campaign.io.columns import ColumnOverride
from campaign.io.headers import heading_key
from campaign.resources import get_resources
from campaign.store.models import KIND_TABLES, ColumnMapping, Submission
from faces.cli import main

AT = dt.datetime(2021, 7, 28, 3, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(hours=2)


def _save(engine, district: str, kind: str, columns: dict[str, str | None], by: str = "ttyt622",
          at: dt.datetime = AT) -> None:
    with Session(engine) as s, s.begin():
        save_mappings(s, district, kind, columns, by=by, at=at)


def test_saved_readings_are_loaded_by_heading_key_as_saved_overrides(migrated_engine):
    _save(migrated_engine, "622", "target_list", {"Số giấy tờ (*)": "id_number", "Ghi chú thêm": None})
    with Session(migrated_engine) as s:
        loaded = load_mappings(s, "622", "target_list")
        assert loaded == {"so giay to": ColumnOverride("id_number", "saved"),
                          "ghi chu them": ColumnOverride(None, "saved")}
        assert heading_key("SỐ GIẤY TỜ") in loaded             # the same heading however it is written
        assert load_mappings(s, "623", "target_list") == {}     # another district's files: not touched
        assert load_mappings(s, "622", "staff") == {}           # another kind: not touched
        row = s.scalars(select(ColumnMapping).where(ColumnMapping.heading_key == "so giay to")).one()
        assert (row.heading, row.field, row.set_by, row.set_at) == ("Số giấy tờ (*)", "id_number", "ttyt622", AT)


def test_a_heading_saved_again_gets_the_new_reading_in_place(migrated_engine):
    _save(migrated_engine, "622", "target_list", {"Số giấy tờ": "id_number"})
    _save(migrated_engine, "622", "target_list", {"SỐ GIẤY TỜ (*)": "insurance_number"}, by="cli", at=LATER)
    _save(migrated_engine, "622", "target_list", {"so giay to": None}, by="dieuphoi", at=LATER)
    with Session(migrated_engine) as s:
        rows = s.scalars(select(ColumnMapping)).all()
        assert len(rows) == 1
        assert (rows[0].heading, rows[0].field, rows[0].set_by, rows[0].set_at) == ("so giay to", None, "dieuphoi", LATER)
        assert load_mappings(s, "622", "target_list") == {"so giay to": ColumnOverride(None, "saved")}


def test_an_unknown_field_or_kind_saves_nothing_and_says_why_in_vietnamese(migrated_engine):
    with Session(migrated_engine) as s, s.begin():
        with pytest.raises(ValueError, match="không có cột 'so_cmnd'") as info:
            save_mappings(s, "622", "target_list", {"Họ tên": "full_name", "Số giấy tờ": "so_cmnd"}, by="x", at=AT)
        assert "id_number (Số CMT/CCCD)" in str(info.value)        # names the valid fields
        with pytest.raises(ValueError, match="Không có loại dữ liệu"):
            save_mappings(s, "622", "people", {"Họ tên": "full_name"}, by="x", at=AT)
        with pytest.raises(ValueError, match="trống"):
            save_mappings(s, "622", "target_list", {" (*) ": "full_name"}, by="x", at=AT)
    with Session(migrated_engine) as s:
        assert s.scalars(select(ColumnMapping)).all() == []          # not even the valid "Họ tên"
    assert [c["name"] for c in field_choices("target_list")][:2] == ["full_name", "birth_date"]
    assert field_choices("target_list")[0]["header"] == "Họ và tên"


def test_list_filters_by_district_and_kind(migrated_engine):
    _save(migrated_engine, "622", "target_list", {"Số giấy tờ": "id_number", "Cột lạ": None})
    _save(migrated_engine, "622", "staff", {"ĐT di động": "phone"})
    _save(migrated_engine, "633", "target_list", {"Số giấy tờ": "id_number"}, by="ttyt633")
    with Session(migrated_engine) as s:
        every = list_mappings(s)
        assert [(m["district"], m["kind"], m["heading_key"]) for m in every] == [
            ("622", "staff", "dt di dong"), ("622", "target_list", "cot la"), ("622", "target_list", "so giay to"),
            ("633", "target_list", "so giay to")]
        assert [m["heading"] for m in list_mappings(s, district="622", kind="target_list")] == ["Cột lạ", "Số giấy tờ"]
        assert [m["district"] for m in list_mappings(s, kind="target_list")] == ["622", "622", "633"]
        ignored = list_mappings(s, district="622", kind="target_list")[0]
        assert ignored["field"] is None and ignored["field_header"] == "Không dùng"
        assert list_mappings(s, district="633")[0]["field_header"] == "Số CMT/CCCD"
        assert list_mappings(s, district="633")[0]["set_by"] == "ttyt633"


def test_reset_by_heading_kind_or_district(migrated_engine):
    _save(migrated_engine, "622", "target_list", {"Số giấy tờ": "id_number", "Cột lạ": None, "SĐT nhà": "phone"})
    _save(migrated_engine, "622", "staff", {"ĐT di động": "phone"})
    _save(migrated_engine, "633", "target_list", {"Số giấy tờ": "id_number"})
    with Session(migrated_engine) as s, s.begin():
        assert reset_mappings(s, "622", "target_list", heading_key="SỐ GIẤY TỜ (*)") == 1   # as written
        assert reset_mappings(s, "622", "target_list", heading_key="cot la") == 1          # or as its key
        assert reset_mappings(s, "622", "target_list", heading_key="cot la") == 0
    with Session(migrated_engine) as s:
        assert set(load_mappings(s, "622", "target_list")) == {"sdt nha"}
    with Session(migrated_engine) as s, s.begin():
        assert reset_mappings(s, "622", "target_list") == 1
        assert reset_mappings(s, "622") == 1                                                # staff
    with Session(migrated_engine) as s:
        assert [(m["district"], m["kind"]) for m in list_mappings(s)] == [("633", "target_list")]


def test_two_writers_saving_the_same_heading_at_once_leave_one_reading_the_last(migrated_engine):
    """PostgreSQL: the second insert waits on the unique index, fails when the first commits, and becomes an
    update inside its savepoint (its transaction goes on). SQLite: the writers' IMMEDIATE transactions
    take turns."""
    writer = migrated_engine.execution_options(sqlite_begin="IMMEDIATE")
    first_saved, first_may_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with Session(writer) as s, s.begin():
                save_mappings(s, "622", "target_list", {"Số giấy tờ": "id_number"}, by="a", at=AT)
                first_saved.set()
                first_may_commit.wait(10)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            first_saved.set()

    def second() -> None:
        try:
            with Session(writer) as s, s.begin():
                save_mappings(s, "622", "target_list", {"SỐ GIẤY TỜ": "insurance_number"}, by="b", at=LATER)
                save_mappings(s, "622", "target_list", {"Cột khác": None}, by="b", at=LATER)   # still usable
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_saved.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.5)            # waiting for the first writer
    first_may_commit.set()
    a.join(10)
    b.join(10)
    assert not errors, errors
    with Session(migrated_engine) as s:
        assert [(m["heading_key"], m["field"], m["set_by"]) for m in list_mappings(s)] == [
            ("cot khac", None, "b"), ("so giay to", "insurance_number", "b")]


def test_a_saved_field_the_kind_no_longer_has_is_not_loaded(migrated_engine):
    with Session(migrated_engine) as s, s.begin():
        s.add(ColumnMapping(district_code="622", kind="target_list", heading_key="cot cu", heading="Cột cũ",
                            field="field_removed_from_spec", set_by="x", set_at=AT))
    _save(migrated_engine, "622", "target_list", {"Số giấy tờ": "id_number"})
    with Session(migrated_engine) as s:
        assert load_mappings(s, "622", "target_list") == {"so giay to": ColumnOverride("id_number", "saved")}


# ---------------------------------------------------------------------------------------------------------
# The command line: `campaign intake --column`, `campaign mappings`, `campaign mappings reset`
# ---------------------------------------------------------------------------------------------------------

# A heading no word of which names a field of the target list, over IDs and "chưa có" (no ID yet): too few
# cells look like an ID for the reader to read it from its content either, so it is left unread.
UNREAD = "Ký hiệu riêng"
NO_ID = "chưa có"
HEADER = ("Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),"
          f"Xã/Phường (*),{UNREAD}\n")


def _csv(path, people: list[tuple[str, str, str]]):
    """(name, birth date, id) per row, in Chư Sê (633)."""
    lines = [f"{name},{born},0,9,09123456{i:02d},Ia Blang,{id_number}\n" for i, (name, born, id_number) in enumerate(people)]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def _last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture()
def runner(campaign_home):
    return CliRunner()


def test_intake_column_option_usage_errors_exit_2_naming_the_valid_fields(runner, tmp_path):
    path = _csv(tmp_path / "tl.csv", [("Nguyễn Văn An", "25/05/1980", "064080001234")])
    unknown = runner.invoke(main, ["intake", str(path), "-d", "633", "-k", "target_list",
                                   "--column", f"{UNREAD}=so_cmnd"])
    assert unknown.exit_code == 2, unknown.output
    assert "so_cmnd" in unknown.output and "id_number" in unknown.output and "full_name" in unknown.output
    malformed = runner.invoke(main, ["intake", str(path), "-d", "633", "-k", "target_list", "--column", "id_number"])
    assert malformed.exit_code == 2 and "HEADING=FIELD" in malformed.output
    with Session(get_resources().engine) as s:
        assert s.scalars(select(ColumnMapping)).all() == []      # a refused command saves nothing


def test_mappings_command_lists_and_resets(runner):
    engine = get_resources().engine
    _save(engine, "633", "target_list", {UNREAD: "id_number", "Cột lạ": None}, by="dieuphoi")
    _save(engine, "622", "target_list", {UNREAD: "id_number"})
    listed = runner.invoke(main, ["mappings", "--district", "chu se", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = _last_json(listed)["mappings"]
    assert [(r["district"], r["heading"], r["field"], r["set_by"]) for r in rows] == [
        ("633", "Cột lạ", None, "dieuphoi"), ("633", UNREAD, "id_number", "dieuphoi")]
    assert rows[0]["set_at"].startswith("2021-07-28T03:00")
    assert f"'{UNREAD}' -> id_number" in listed.stderr
    assert len(_last_json(runner.invoke(main, ["mappings", "--kind", "target_list", "--json"]))["mappings"]) == 3
    assert runner.invoke(main, ["mappings", "--kind", "people"]).exit_code == 2
    assert runner.invoke(main, ["mappings", "--district", "Ba Đình"]).exit_code == 2

    one = runner.invoke(main, ["mappings", "reset", "--district", "633", "--heading", UNREAD.upper(), "--json"])
    assert one.exit_code == 0 and _last_json(one)["removed"] == 1
    rest = runner.invoke(main, ["mappings", "reset", "-d", "633", "-k", "target_list", "--json"])
    assert _last_json(rest)["removed"] == 1
    assert runner.invoke(main, ["mappings", "reset"]).exit_code == 2            # --district is required
    left = _last_json(runner.invoke(main, ["mappings", "--json"]))["mappings"]
    assert [(r["district"], r["heading"]) for r in left] == [("622", UNREAD)]


def _submission_columns(submission_id: int) -> dict[str, tuple[str | None, str, int]]:
    with Session(get_resources().engine) as s:
        sub = s.get(Submission, submission_id)
        return {c["heading"]: (c["field"], c["how"], c["cells"]) for c in sub.columns or []}


def _ids_loaded(submission_id: int) -> list[str | None]:
    table = KIND_TABLES["target_list"]
    with Session(get_resources().engine) as s:
        return list(s.scalars(select(table.c.id_number).where(table.c.submission_id == submission_id)
                              .order_by(table.c.row_number)))


@pytest.mark.prefect
def test_intake_column_reads_the_heading_as_given_and_saves_it_for_the_districts_later_files(runner, prefect_harness,
                                                                                            tmp_path):
    plain = _csv(tmp_path / "v0.csv", [("Trần Thị Bình", "02/03/1975", "064175001111"), ("Siu Nga", "02/03/1965", NO_ID)])
    unread = runner.invoke(main, ["intake", str(plain), "-d", "633", "-k", "target_list", "--json"])
    assert unread.exit_code == 0, unread.output
    payload = _last_json(unread)
    assert UNREAD in payload["columns_ignored"] and UNREAD not in payload["columns"]   # never dropped in silence
    assert _submission_columns(payload["submission_id"])[UNREAD] == (None, "ignored", 2)

    first = _csv(tmp_path / "v1.csv", [("Nguyễn Văn An", "25/05/1980", "064080001234"),
                                       ("Lê Văn Cường", "01/02/1969", "064069005678")])
    given = runner.invoke(main, ["intake", str(first), "-d", "633", "-k", "target_list", "--by", "dieuphoi",
                                 "--column", f"{UNREAD}=id_number", "--column", "Ghi chú không có=-", "--json"])
    assert given.exit_code == 0, given.output
    payload = _last_json(given)
    assert payload["status"] == "accepted" and payload["columns"][UNREAD] == "id_number"
    assert UNREAD not in payload["columns_ignored"]
    assert _submission_columns(payload["submission_id"])[UNREAD] == ("id_number", "given", 2)
    assert _ids_loaded(payload["submission_id"]) == ["064080001234", "064069005678"]
    assert "no column headed 'Ghi chú không có'" in given.stderr        # saved, but said: not in this file
    with Session(get_resources().engine) as s:
        saved = {m["heading"]: (m["field"], m["set_by"]) for m in list_mappings(s, district="633")}
    assert saved == {UNREAD: ("id_number", "dieuphoi"), "Ghi chú không có": (None, "dieuphoi")}

    later = _csv(tmp_path / "v2.csv", [("Phạm Văn Dũng", "09/09/1990", "064090009999"), ("Ksor Blih", "01/01/1970", NO_ID)])
    again = runner.invoke(main, ["intake", str(later), "-d", "633", "-k", "target_list", "--json"])
    payload = _last_json(again)
    assert again.exit_code == 0 and payload["columns"][UNREAD] == "id_number"
    assert _submission_columns(payload["submission_id"])[UNREAD] == ("id_number", "saved", 2)
    assert _ids_loaded(payload["submission_id"]) == ["064090009999", None]

    assert runner.invoke(main, ["mappings", "reset", "-d", "633", "--heading", UNREAD]).exit_code == 0
    forgotten = _last_json(runner.invoke(main, ["intake", str(_csv(tmp_path / "v3.csv", [
        ("Võ Thị Hoa", "10/10/1985", NO_ID)])), "-d", "633", "-k", "target_list", "--json"]))
    assert UNREAD in forgotten["columns_ignored"]
