"""Uploads that arrive together (the portal's workers run intakes side by side): each file is checked
outside the write lock and written under it; what the check read is checked again under the lock.
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

import campaign.intake.run as intake_module
from campaign.store.models import KIND_TABLES, Submission
from tests import test_intake
from tests.test_intake import GOOD_ROWS, HEADER, count, write

env = test_intake.env   # the same fixture: an intake function on a migrated SQLite / PostgreSQL database

EVENT_HEADER = ("Mã cơ sở tiêm chủng,Họ và tên,Ngày sinh,Giới tính,Ngày tiêm,Kết quả khám sàng lọc,Đã tiêm,"
                "Tên vắc xin,Mũi số\n")
DAY1 = ("64633-TYT-01,Nguyễn Văn An,12/05/1980,Nam,29/07/2021,Đủ điều kiện tiêm,Có,AstraZeneca,1\n"
        "64633-TYT-01,Siu H'Nhi,01/02/1990,Nữ,29/07/2021,Hoãn tiêm,Không,,1\n")
DAY2 = "64633-TYT-01,Rơ Châm Thuận,20/11/1969,Nam,30/07/2021,Đủ điều kiện tiêm,Có,AstraZeneca,1\n"


def test_snapshots_of_one_district_uploaded_together_all_land_with_one_current(env, tmp_path):
    engine, intake = env
    files = [write(tmp_path, f"v{i}.csv", HEADER + "".join(GOOD_ROWS[: 1 + i % 3])) for i in range(4)]
    files[3] = write(tmp_path, "v3.csv", HEADER + GOOD_ROWS[2] + GOOD_ROWS[0])   # four distinct files
    outcomes, errors = [], []

    def run(path):
        try:
            outcomes.append(intake(path))
        except Exception as exc:   # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(o.status for o in outcomes) == ["accepted"] * 4
    assert sorted(o.version for o in outcomes) == [1, 2, 3, 4]
    with Session(engine) as s:
        subs = s.scalars(sa.select(Submission).order_by(Submission.version)).all()
        current = [x for x in subs if x.is_current]
        assert len(current) == 1 and current[0].version == 4
        # every earlier version points at the one that replaced it
        assert all(x.superseded_by_id is not None for x in subs if not x.is_current)
    assert count(engine, KIND_TABLES["target_list"]) == sum(o.rows_loaded for o in outcomes)


def test_event_rows_written_while_a_file_was_checked_count_as_repeats(env, tmp_path, monkeypatch):
    """File B (day 1) is taken in completely while file A (day 1 + day 2, cumulative) is being checked:
    A's check read no earlier rows, so A is checked again under the write lock and its day-1 rows are
    repeats, not new vaccinations."""
    engine, intake = env
    a = write(tmp_path, "a.csv", EVENT_HEADER + DAY1 + DAY2)
    b = write(tmp_path, "b.csv", EVENT_HEADER + DAY1)
    real_check = intake_module.check_rows
    calls = {"n": 0}

    def check_then_let_b_in(*args, **kwargs):
        calls["n"] += 1
        result = real_check(*args, **kwargs)
        if calls["n"] == 1:   # A's first check is done: B arrives and is written before A writes
            done = {}
            t = threading.Thread(target=lambda: done.setdefault("b", intake(b, kind="vaccinations")))
            t.start()
            t.join()
            assert done["b"].status == "accepted" and done["b"].rows_loaded == 2
        return result

    monkeypatch.setattr(intake_module, "check_rows", check_then_let_b_in)
    out_a = intake(a, kind="vaccinations")
    assert out_a.status == "accepted"
    assert out_a.rows_loaded == 1 and out_a.reasons.get("repeat_of_earlier_submission") == 2
    assert calls["n"] == 3   # A, B, then A again under the lock
    assert count(engine, KIND_TABLES["vaccinations"]) == 3


def test_same_file_uploaded_twice_at_once_is_loaded_once(env, tmp_path):
    engine, intake = env
    path = write(tmp_path, "tl.csv", HEADER + "".join(GOOD_ROWS))
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(intake(path))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) == ["accepted", "duplicate", "duplicate"]
    assert len({o.submission_id for o in outcomes}) == 1
    assert count(engine, KIND_TABLES["target_list"]) == 3


def test_a_withdrawal_while_a_file_is_checked_makes_it_checked_again(env, tmp_path, monkeypatch):
    """B (day 1) is current; A (day 1 + day 2) is checked and sees B's rows as repeats; B is withdrawn
    before A writes: A is checked again under the lock and loads all three rows (none is current twice)."""
    from campaign.intake.store import withdraw

    engine, intake = env
    b = intake(write(tmp_path, "b.csv", EVENT_HEADER + DAY1), kind="vaccinations")
    assert b.status == "accepted" and b.rows_loaded == 2
    a = write(tmp_path, "a.csv", EVENT_HEADER + DAY1 + DAY2)
    real_check = intake_module.check_rows
    calls = {"n": 0}

    def check_then_withdraw_b(*args, **kwargs):
        calls["n"] += 1
        result = real_check(*args, **kwargs)
        if calls["n"] == 1:
            t = threading.Thread(target=_withdraw, args=(engine, b.submission_id, withdraw))
            t.start()
            t.join()
        return result

    monkeypatch.setattr(intake_module, "check_rows", check_then_withdraw_b)
    out = intake(a, kind="vaccinations")
    assert calls["n"] == 2 and out.status == "accepted"
    assert out.rows_loaded == 3 and not out.reasons.get("repeat_of_earlier_submission")


def _withdraw(engine, submission_id, withdraw) -> None:
    import datetime as dt

    with Session(engine.execution_options(sqlite_begin="IMMEDIATE")) as s, s.begin():
        withdraw(s, submission_id, reason="gửi nhầm", by="test", at=dt.datetime(2021, 7, 28, 9, tzinfo=dt.UTC))


def test_a_file_loaded_by_a_run_that_died_before_its_feedback_gets_it_when_sent_again(env, tmp_path):
    """A worker killed after the load's commit leaves an accepted submission without its annotated file;
    the retried job (or the district sending the file again) answers `duplicate` and writes it, with the
    submission's own rows not taken for repeats of themselves."""
    engine, intake = env
    path = write(tmp_path, "d.csv", EVENT_HEADER + DAY1 + DAY2)
    first = intake(path, kind="vaccinations")
    assert first.status == "accepted" and first.rows_loaded == 3
    def results(path: str) -> list[object]:
        import csv
        import io

        rows = list(csv.reader(io.StringIO(Path(path).read_bytes().decode("utf-8-sig"), newline="")))
        column = rows[0].index("Kết quả kiểm tra")
        return [r[column] for r in rows[1:]]

    as_written = results(first.feedback_file)
    Path(first.feedback_file).unlink()   # as if the run had stopped before writing it
    again = intake(path, kind="vaccinations")
    assert again.status == "duplicate" and again.submission_id == first.submission_id
    assert again.feedback_file == first.feedback_file and Path(again.feedback_file).is_file()
    assert results(again.feedback_file) == as_written   # the same answer per row, no row a repeat of itself
    assert count(engine, KIND_TABLES["vaccinations"]) == 3   # nothing loaded twice
    with Session(engine) as s:
        assert s.get(Submission, first.submission_id).feedback_path == first.feedback_file


def test_the_same_bytes_stored_by_many_at_once_are_stored_once(tmp_path):
    from campaign.files import store_original

    source = write(tmp_path, "same.csv", HEADER + "".join(GOOD_ROWS) * 200)
    errors, stored = [], []

    def store() -> None:
        try:
            stored.append(store_original(source, tmp_path / "files"))
        except Exception as exc:   # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=store) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len({s.sha256 for s in stored}) == 1
    files = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == source.read_bytes()   # no partial file left behind
