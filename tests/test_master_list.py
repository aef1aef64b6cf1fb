"""The master list against a real database (SQLite and PostgreSQL): build, stable person ids across
re-runs and re-uploads, the review workflow (decide, apply on the next run, reverse), the CSV contract,
the command line and the flow's artifacts."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.master_list import present as ml_present
from campaign.master_list import review as ml_review
from campaign.master_list import rules as ml_rules
from campaign.master_list import run as ml_run
from campaign.master_list import store as ml_store
from campaign.store.models import LinkageModel, MasterPerson, MasterRecord, ReviewPair
from tests.dedupe_support import row, store_rows, with_cases

PEOPLE = 4000
AT = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
CASES = [
    row("jarai", "Rơ Châm H'Nhiăl", "1984-03-17", "female", district="627", commune="23731", phone="+84351112233",
        id_number="231234567"),
    row("jarai", "Ro Cham H Nhial", "1984-03-17", "female", district="633", commune="23962", phone="+84351112233",
        id_number="064184001234"),
    # twins: every field alike but the given name: never merged, shown to a reviewer
    row("twin_a", "Nguyễn Văn An", "2001-08-09", "male", district="622", commune="23566", phone="+84967778899"),
    row("twin_b", "Nguyễn Văn Bình", "2001-08-09", "male", district="622", commune="23566", phone="+84967778899"),
    row("minor", "Lò Thị Mỷ", "2006-02-02", "female", district="622", commune="23566", phone="+84961212121"),
]


@pytest.fixture()
def rows() -> pd.DataFrame:
    return with_cases(CASES, people=PEOPLE)


def _records(engine) -> pd.DataFrame:
    with Session(engine) as s:
        return pd.DataFrame(s.execute(select(MasterRecord.submission_id, MasterRecord.row_number,
                                             MasterRecord.district, MasterRecord.person_id, MasterRecord.status))
                            .all(), columns=["submission_id", "row_number", "district", "person_id", "status"])


def _person_of(engine, subs: dict[str, int], rows: pd.DataFrame, truth: str) -> set[str]:
    rec = _records(engine).set_index(["submission_id", "row_number"])["person_id"]
    out = set()
    for district, part in rows.groupby("district"):
        numbers = pd.Series(range(2, len(part) + 2), index=part.index)
        for i in part.index[part["truth"] == truth]:
            out.add(rec[(subs[str(district)], int(numbers[i]))])
    return out


def test_build_links_rows_and_keeps_ids_on_a_rerun(migrated_engine, rows) -> None:
    campaign = load_campaign()
    subs = store_rows(migrated_engine, rows)
    first = ml_run.build(migrated_engine, campaign, as_of=AT)
    assert first.trained and first.rows == len(rows) and first.inputs == sorted(subs.values())
    records = _records(migrated_engine)
    assert len(records) == len(rows) and not records.duplicated(["submission_id", "row_number"]).any()
    assert set(records["status"]) <= {"unique", "merged", "review", "ineligible"}
    assert len(_person_of(migrated_engine, subs, rows, "jarai")) == 1
    twins = _person_of(migrated_engine, subs, rows, "twin_a") | _person_of(migrated_engine, subs, rows, "twin_b")
    assert len(twins) == 2
    p = first.stats["province"]
    assert p["rows"] == len(rows) and p["persons"] == first.persons == records["person_id"].nunique()
    assert sum(d["rows"] for d in first.stats["districts"].values()) == len(rows)
    assert p["clusters_across_districts"] >= 1 and p["duplicates_within"] >= 1
    minor = _person_of(migrated_engine, subs, rows, "minor").pop()
    with Session(migrated_engine) as s:
        person = s.get(MasterPerson, minor)
        assert not person.eligible and person.ineligible_reason == "under_age" and person.invite_rank is None
        assert s.scalar(select(func.count()).select_from(LinkageModel)) == 1

    second = ml_run.build(migrated_engine, campaign, as_of=AT)
    assert not second.trained and second.model_id == first.model_id
    again = _records(migrated_engine)
    assert again.sort_values(["submission_id", "row_number"])["person_id"].tolist() == \
        records.sort_values(["submission_id", "row_number"])["person_id"].tolist()
    with Session(migrated_engine) as s:   # the list is the second run's
        assert set(s.scalars(select(MasterRecord.run_id))) == {second.run_id}


def test_person_ids_survive_a_reupload_with_a_corrected_and_a_new_row(migrated_engine, rows) -> None:
    campaign = load_campaign()
    subs = store_rows(migrated_engine, rows)
    ml_run.build(migrated_engine, campaign, as_of=AT)
    before = _records(migrated_engine)
    d = "633"
    part = rows[rows["district"] == d].copy()
    ids_before = before[before["submission_id"] == subs[d]].sort_values("row_number")["person_id"].tolist()
    part.iloc[5, part.columns.get_loc("phone")] = "+84900000001"     # a corrected phone
    extra = row("newcomer", "Kpă H'Lan", "1991-10-10", "female", district=d, commune="23962", phone="+84900000002")
    part = pd.concat([part, pd.DataFrame([extra])], ignore_index=True)
    new_subs = store_rows(migrated_engine, part, when=AT + dt.timedelta(hours=2))
    ml_run.build(migrated_engine, campaign, as_of=AT + dt.timedelta(hours=3))
    after = _records(migrated_engine)
    assert len(after) == len(rows) + 1 and not after.duplicated(["submission_id", "row_number"]).any()
    assert subs[d] not in set(after["submission_id"])          # the superseded list is gone from the list
    ids_after = after[after["submission_id"] == new_subs[d]].sort_values("row_number")["person_id"].tolist()
    assert ids_after[:-1] == ids_before                    # the corrected row kept its person too
    assert ids_after[-1] not in set(before["person_id"])
    other = before[before["district"] != d].sort_values(["submission_id", "row_number"])["person_id"].tolist()
    assert after[after["district"] != d].sort_values(["submission_id", "row_number"])["person_id"].tolist() == other


def test_review_decisions_apply_on_the_next_run_and_can_be_reversed(migrated_engine, rows, tmp_path) -> None:
    campaign = load_campaign()
    subs = store_rows(migrated_engine, rows)
    ml_run.build(migrated_engine, campaign, as_of=AT)
    twins = _person_of(migrated_engine, subs, rows, "twin_a") | _person_of(migrated_engine, subs, rows, "twin_b")
    with Session(migrated_engine) as s:
        pairs = ml_review.open_pairs(s, district="622")
    twin_pair = next(p for p in pairs if {p["a"]["full_name"], p["b"]["full_name"]} ==
                     {"Nguyễn Văn An", "Nguyễn Văn Bình"})
    assert twin_pair["reason"] == "given_name"
    status = _records(migrated_engine).set_index("person_id")["status"]
    assert set(status[list(twins)]) == {"review"}

    with Session(migrated_engine) as s, s.begin():
        different = ml_review.decide(s, twin_pair["pair"], "different", by="coordinator", at=AT).id
    ml_run.build(migrated_engine, campaign, as_of=AT)
    status = _records(migrated_engine).set_index("person_id")["status"]
    assert set(status[list(twins)]) == {"unique"}
    with Session(migrated_engine) as s:
        assert s.get(ReviewPair, twin_pair["pair"]) is None

    # the reviewer was wrong: they are one person after all; the earlier decision is reversed
    with Session(migrated_engine) as s, s.begin():
        ml_review.reverse(s, different, by="coordinator", at=AT)
        ml_review.decide(s, twin_pair["pair"], "same", by="coordinator", at=AT, note="một người, nhập hai lần")
    ml_run.build(migrated_engine, campaign, as_of=AT)
    merged = _person_of(migrated_engine, subs, rows, "twin_a") | _person_of(migrated_engine, subs, rows, "twin_b")
    assert len(merged) == 1
    with Session(migrated_engine) as s:
        history = ml_review.decisions(s)
        assert [d["decision"] for d in history] == ["different", "same"] and history[0]["reversed_by"] == "coordinator"
        with pytest.raises(ml_review.ReviewError):
            ml_review.reverse(s, different, by="x", at=AT)
        with pytest.raises(ml_review.ReviewError):
            ml_review.decide(s, "nosuchpair", "same", by="x", at=AT)

    out = tmp_path / "master.csv"
    with Session(migrated_engine) as s:
        assert ml_store.write_csv(s, out) == len(rows)
    with out.open(encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert list(lines[0]) == ["person_id", "submission_id", "row_number", "district", "status"]
    assert len(lines) == len(rows)


def test_masked_pairs_hide_ids_phones_and_names() -> None:
    side = {"full_name": "Nguyễn Văn An", "id_number": "064201001234", "phone": "+84967778899",
            "insurance_number": "DN4646401001234", "birth_date": "2001-08-09", "district": "622"}
    shown = ml_present.side_text(ml_rules.masked(side))
    for secret in ("064201001234", "+84967778899", "Nguyễn Văn An", "6401001234"):
        assert secret not in shown
    assert "N. V. A." in shown and "2001-08-09" in shown


def test_master_list_and_review_commands(prefect_harness, campaign_home) -> None:
    from click.testing import CliRunner

    from campaign.resources import get_resources
    from faces.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["master-list", "--latest"]).exit_code == 3     # nothing built yet
    assert runner.invoke(main, ["export", "--kind", "target_list", "-d", "622",
                                "--out", str(campaign_home / "x.xlsx")]).exit_code == 3
    rows = with_cases(CASES, people=PEOPLE)
    store_rows(get_resources().engine, rows)
    out = campaign_home / "ml.csv"
    built = runner.invoke(main, ["master-list", "--json", "--out", str(out), "--at", "2021-07-28T08:00"])
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout.strip().splitlines()[-1])
    assert summary["rows"] == len(rows) and len(summary["districts"]) == 17 and summary["out"] == str(out)
    assert sum(1 for _ in out.open(encoding="utf-8")) == len(rows) + 1
    one = runner.invoke(main, ["master-list", "--latest", "--district", "chu se", "--json"])
    assert one.exit_code == 0 and [d["district"] for d in json.loads(one.stdout.splitlines()[-1])["districts"]] == ["633"]

    xlsx = campaign_home / "622.xlsx"
    exported = runner.invoke(main, ["export", "--kind", "target_list", "--district", "Pleiku", "--out", str(xlsx),
                                    "--json"])
    assert exported.exit_code == 0, exported.output
    written = json.loads(exported.stdout.strip().splitlines()[-1])["persons_written"]
    assert written > 0 and xlsx.stat().st_size > 0
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from campaign.store.models import AuditEvent

    with Session(get_resources().engine) as s:   # an export of personal data is on record (issue 18)
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert (event.target_label, event.details, event.role) == ("622", {"persons": written}, "cli")
    assert runner.invoke(main, ["export", "--kind", "target_list", "--district", "Ba Đình",
                                "--out", str(xlsx)]).exit_code == 2

    listed = runner.invoke(main, ["review", "--json", "--district", "622"])
    assert listed.exit_code == 0, listed.output
    pairs = json.loads(listed.stdout.strip().splitlines()[-1])["pairs"]
    assert pairs and "Nguyễn Văn An" in listed.output            # side by side for the reviewer
    decided = runner.invoke(main, ["review", "decide", pairs[0]["pair"], "different", "--by", "syt", "--json"])
    assert decided.exit_code == 0, decided.output
    decision_id = json.loads(decided.stdout.strip().splitlines()[-1])["decision_id"]
    assert runner.invoke(main, ["review", "decide", "nosuchpair", "same", "--by", "syt"]).exit_code == 2
    assert runner.invoke(main, ["review", "reverse", str(decision_id), "--by", "syt"]).exit_code == 0
    assert runner.invoke(main, ["review", "reverse", str(decision_id), "--by", "syt"]).exit_code == 2
    history = runner.invoke(main, ["review", "decisions", "--json"])
    assert json.loads(history.stdout.strip().splitlines()[-1])["decisions"][0]["reversed_by"] == "syt"

    from tests.test_flows import _runs_of

    _flow_runs, _tasks, artifacts = _runs_of("master-list")
    keys = {a.key for a in artifacts}
    assert {"master-list-districts", "master-list-review"} <= keys
    page = next(a for a in artifacts if a.key == "master-list-review")
    assert "+84967778899" not in json.dumps(page.data) and "Nguyễn Văn An" not in json.dumps(page.data)


def test_a_first_small_list_trains_and_a_list_four_times_larger_trains_again(migrated_engine) -> None:
    """One district's first upload (a few dozen people, no duplicate at all) must not break training;
    the model it gives must not judge the province later."""
    campaign = load_campaign()
    small = pd.DataFrame([row(f"S{i}", f"Trần Văn Số{i}", f"19{60 + i}-03-0{1 + i % 9}", "male", district="622",
                              commune="23566", phone=f"+8490111{i:04d}") for i in range(30)])
    store_rows(migrated_engine, small)
    first = ml_run.build(migrated_engine, campaign, as_of=AT)
    assert first.trained and first.persons == 30
    store_rows(migrated_engine, with_cases(CASES, people=PEOPLE), when=AT + dt.timedelta(hours=1))
    assert ml_run.build(migrated_engine, campaign, as_of=AT + dt.timedelta(hours=1)).trained
    assert not ml_run.build(migrated_engine, campaign, as_of=AT + dt.timedelta(hours=2)).trained


def test_prepared_records_are_reused_per_submission_and_give_the_same_list(migrated_engine, rows, tmp_path) -> None:
    campaign = load_campaign()
    store_rows(migrated_engine, rows)
    cache = tmp_path / "cache"
    first = ml_run.build(migrated_engine, campaign, as_of=AT, cache_dir=cache)
    before = _records(migrated_engine).sort_values(["submission_id", "row_number"]).reset_index(drop=True)
    assert first.submissions_reused == 0 and len(list(cache.glob("records-*.pkl"))) == 17   # a list per district
    again = ml_run.build(migrated_engine, campaign, as_of=AT, cache_dir=cache)
    assert again.submissions_reused == 17 and again.persons == first.persons
    after = _records(migrated_engine).sort_values(["submission_id", "row_number"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    # one district uploads again: only its list is read and prepared; the superseded file leaves the cache
    store_rows(migrated_engine, rows[rows["district"] == "622"], when=AT + dt.timedelta(hours=1))
    third = ml_run.build(migrated_engine, campaign, as_of=AT + dt.timedelta(hours=1), cache_dir=cache)
    assert third.submissions_reused == 16 and len(list(cache.glob("records-*.pkl"))) == 17
    assert third.persons == first.persons


def test_spark_checkpoints_are_per_process_and_leave_other_processes_alone(tmp_path) -> None:
    """CAMPAIGN_HOME may be shared by several machines (docs/several-machines.md): a Spark session writes its
    intermediate tables in its own `checkpoints/<host>-<pid>-<random>` and removes no other process's: not
    another machine's, not a live process's of this machine; only those of this machine's dead processes."""
    import os
    import subprocess
    import sys

    from campaign.master_list.dedupe import engines

    base = tmp_path / "spark" / "checkpoints"
    host = engines._host()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        others = {"other_machine": base / f"otherhost-{gone.pid}-abcd1234",
                  "live": base / f"{host}-{live.pid}-abcd1234",
                  "old_layout": base / "0b5e3c2a-uuid-of-an-older-version"}
        dead = base / f"{host}-{gone.pid}-abcd1234"
        for path in [*others.values(), dead]:
            path.mkdir(parents=True)
            (path / "part-0000.parquet").write_bytes(b"x")
        first = engines.own_checkpoint_dir(tmp_path / "spark")
        second = engines.own_checkpoint_dir(tmp_path / "spark")
    finally:
        live.kill()
        live.wait()
    assert first != second and first.parent == second.parent == base and first.is_dir() and second.is_dir()
    assert first.name.startswith(f"{host}-{os.getpid()}-")
    assert all((path / "part-0000.parquet").exists() for path in others.values()), others
    assert not dead.exists()    # this machine's process that is gone
