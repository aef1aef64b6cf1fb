"""Retention and deletion of a district's personal data (campaign/retention.py, `campaign data purge`), on
SQLite and PostgreSQL: after a purge no row of the district is left in any table that holds personal data
and nothing else changed but the master list's people linked to it, taken off whole (nothing is left
pointing at a person who is gone; the next master-list run lists the other districts' rows again); a dry
run changes nothing and counts what a purge deletes; a fault midway (a file that cannot be moved, a
constraint) leaves every row and every file in place; the age-based mode takes only what is older than
its date, and with a district only that district's."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.master_list import rules as ml_rules
from campaign.master_list import run as ml_run
from campaign.master_list import store as ml_store
from campaign.master_list.dedupe.records import build_records
from campaign.planning.invitations import file_name
from campaign.retention import KEPT_TABLES, PURGED_TABLES, TEAMS_CLEARED, PurgeError, PurgeScope, purge
from campaign.settings import Settings
from campaign.store.current import frame_of
from campaign.store.models import (
    KIND_TABLES,
    AuditEvent,
    Base,
    MasterPerson,
    MasterRecord,
    PersonKey,
    PlanInvitation,
    PlanRun,
    PlanSession,
    PlanStandby,
    PlanUnplanned,
    PortalJob,
    PortalUser,
    ReviewDecision,
    ReviewPair,
    StoredFile,
    Submission,
)
from faces.cli import main

ICT = dt.timezone(dt.timedelta(hours=7))
OLD, NEW, SHARED = (dt.datetime(2021, 7, d, 9, tzinfo=ICT) for d in (20, 26, 27))
HEADER = ("STT,Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),"
          "Số điện thoại (*),Số CMT/CCCD,Xã/Phường (*)\n")
# 633's first list, then its correction (one person more, one row without a name: quarantined); 622's list
# has the same Nguyễn Văn An (same CCCD) as 633: one person listed by two districts.
OLD_633 = ["1,Nguyễn Văn An,25/05/1980,0,9,0912345678,064080001234,Ia Glai\n",
           "2,Ksor H'Blang,15/03/1975,1,10,0351234567,064175001235,Ia Glai\n"]
NEW_633 = [*OLD_633, "3,Rơ Châm Thuận,20/11/1969,0,9,0981112223,064069001236,Ia Tiêm\n",
           "4,,01/01/1990,1,9,0912345679,,Ia Glai\n"]
ROWS_622 = ["1,Nguyễn Văn An,25/05/1980,0,9,0912345678,064080001234,Hội Thương\n",
            "2,Trần Thị Bích,02/02/1988,1,9,0905556667,064188001237,Hội Phú\n",
            "3,Lê Văn Cường,03/03/1977,0,9,0906667778,064077001238,Hội Thương\n"]
FACILITY = {"633": "64633-TYT-01", "622": "64622-TYT-01"}
KEY = b"k" * 32


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _intake(engine, settings: Settings, path: Path, district: str, at: dt.datetime, kind: str = "target_list") -> int:
    request = IntakeRequest(path=path, district=district, kind=kind, received_at=at)
    return run_intake(request, engine=engine, settings=settings, campaign=load_campaign()).submission_id


def build_world(engine, home: Path, work: Path) -> dict[str, Any]:
    """Two districts through the real intake (originals, feedback, Data Docs), the master list with its
    sealed cache, a plan with invitation lists, review decisions, portal jobs, exports and demo inputs."""
    settings = Settings(home=home)
    work.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, lines in (("old633.csv", OLD_633), ("new633.csv", NEW_633), ("tl622.csv", ROWS_622),
                        ("shared.csv", ROWS_622[1:])):
        files[name] = work / name
        files[name].write_text(HEADER + "".join(lines), encoding="utf-8")
    subs = {"old633": _intake(engine, settings, files["old633.csv"], "633", OLD),
            "new633": _intake(engine, settings, files["new633.csv"], "633", NEW),
            "tl622": _intake(engine, settings, files["tl622.csv"], "622", NEW),
            # the same bytes from both districts (sent as the wrong kind: refused): one stored original,
            # kept while 622 references it
            "shared622": _intake(engine, settings, files["shared.csv"], "622", SHARED, "communication"),
            "shared633": _intake(engine, settings, files["shared.csv"], "633", SHARED, "communication")}
    ml_run.build(engine, load_campaign(), as_of=SHARED, cache_dir=home / "cache" / "master_list", cache_key=KEY)
    with Session(engine) as s, s.begin():
        persons = s.execute(sa.select(MasterPerson.person_id, MasterPerson.district)).all()
        fingerprints = dict(s.execute(sa.select(MasterRecord.fingerprint, MasterRecord.district)).all())
        run = PlanRun(as_of=SHARED, start_date=dt.date(2021, 7, 29), days=7)
        s.add(run)
        s.flush()
        for district, code in FACILITY.items():
            s.add(PlanSession(run_id=run.id, facility_code=code, district=district, date=dt.date(2021, 7, 29),
                              part="morning", product="astrazeneca", lots="L1", tables=1, teams=1, capacity=50,
                              invited=1, dose2=0, vials=1, wasted_doses=0, team=f"Ê kíp 1: Y tá {district}",
                              team_source="roster"))
        for n, (person, district) in enumerate(persons):
            s.add(PlanInvitation(run_id=run.id, person_id=person, facility_code=FACILITY[district], district=district,
                                 date=dt.date(2021, 7, 29), part="morning", slot=f"{7 + n % 4:02d}:30", dose=1,
                                 product="astrazeneca", lot="L1", source="planned"))
            s.add(PlanStandby(run_id=run.id, person_id=person, facility_code=FACILITY[district],
                              date=dt.date(2021, 7, 30), part="morning", position=n))
            s.add(PlanUnplanned(run_id=run.id, person_id=person, district=district, reason="no_capacity"))
        by_district: dict[str, list[str]] = {}
        for fp, district in fingerprints.items():
            by_district.setdefault(district, []).append(fp)
        for a, b in ((by_district["633"][0], by_district["622"][0]), (by_district["622"][0], by_district["622"][1])):
            s.add(ReviewDecision(pair_key=(a[:10] + b[:10]), fingerprint_a=a, fingerprint_b=b, decision="different",
                                 decided_by="dieuphoi", decided_at=SHARED, note="hai người khác nhau"))
        for district in ("633", "622"):
            user = PortalUser(username=f"huyen{district}", display_name=f"Huyện {district}", role="district",
                              district_code=district, password_hash="x")
            s.add(user)
            s.flush()
            sub_id = subs["new633"] if district == "633" else subs["tl622"]
            s.add(PortalJob(action="intake", user_id=user.id, district_code=district, kind="target_list",
                            original_filename="ds.csv", checksum=s.get(Submission, sub_id).checksum,
                            status="done", submission_id=sub_id, outcome={"submission_id": sub_id}))
        ml_store.write_csv(s, settings.outputs_dir / "master_list" / "master_list.csv")
    for district, slug in (("633", "633-chu-se"), ("622", "622-pleiku")):
        for path in (settings.outputs_dir / "master_list" / "national" / f"{district}.xlsx",
                     settings.outputs_dir / "plans" / "invitations" / file_name(FACILITY[district]),
                     home / "demo" / "inputs" / "districts" / slug / "target_list.xlsx"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"PK stand-in for a workbook")
    return {"settings": settings, "subs": subs, "persons": persons}


@pytest.fixture()
def world(migrated_engine, tmp_path) -> dict[str, Any]:
    return {"engine": migrated_engine, **build_world(migrated_engine, tmp_path / "home", tmp_path / "in")}


def dump(engine) -> dict[str, set[tuple]]:
    """Every row of every table, comparable (JSON values as sorted text)."""
    out = {}
    with engine.connect() as conn:
        for name, table in Base.metadata.tables.items():
            rows = conn.execute(sa.select(table)).all()
            out[name] = {tuple(json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict | list) else v
                               for v in r) for r in rows}
    return out


def files_under(home: Path) -> set[Path]:
    return {p for p in home.rglob("*") if p.is_file()}


def district_view(engine, district: str) -> dict[str, Any]:
    """What belongs to `district` in the database before a purge: submissions, people (the district's, and
    every person with a row of it: linked across districts, they leave the master list whole), row keys."""
    with Session(engine) as s:
        subs = s.execute(sa.select(Submission.id, Submission.checksum, Submission.kind)
                         .where(Submission.district_code == district)).all()
        ids = {r.id for r in subs}
        other = set(s.execute(sa.select(Submission.checksum).where(Submission.district_code != district)).scalars())
        table = KIND_TABLES["target_list"]
        rows = frame_of(s, sa.select(*(table.c[c] for c in ml_rules.ROW_COLUMNS)).where(table.c.submission_id.in_(ids)),
                           ml_rules.ROW_COLUMNS)
        records = build_records(rows)
        persons = set(s.execute(sa.select(MasterPerson.person_id).where(MasterPerson.district == district)).scalars())
        persons |= set(s.execute(sa.select(MasterRecord.person_id).where(MasterRecord.district == district)).scalars())
    return {"ids": ids, "only_checksums": {r.checksum for r in subs} - other,
            "keys": set(records["fingerprint"]) | set(records["soft_key"]), "persons": persons}


def belongs(table: str, row: dict[str, Any], view: dict[str, Any], district: str) -> bool:
    """Is this row the district's personal data (what the purge must take)?"""
    if row.get("district_code") == district or row.get("district") == district:
        return True
    columns = ["submission_id", "submission_a", "submission_b", *(["id"] if table == "submissions" else [])]
    if any(row.get(c) in view["ids"] for c in columns):
        return True
    if table in ("plan_invitations", "plan_standby", "plan_unplanned", "master_persons", "master_records",
                 "person_keys") and row.get("person_id") in view["persons"]:
        return True
    if table == "person_keys" and row["key"] in view["keys"]:
        return True
    if table == "review_decisions" and {row["fingerprint_a"], row["fingerprint_b"]} & view["keys"]:
        return True
    return table == "stored_files" and row["sha256"] in view["only_checksums"]


def rows_as_dicts(engine, name: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Base.metadata.tables[name]))]


# ---------------------------------------------------------------------------------------------------------


def test_every_table_is_either_purged_or_kept_with_a_reason() -> None:
    tables = set(Base.metadata.tables) | {"alembic_version"}
    assert not set(PURGED_TABLES) & set(KEPT_TABLES)
    assert set(PURGED_TABLES) | set(KEPT_TABLES) == tables, "classify the new table in campaign/retention.py"


def test_a_purge_needs_a_scope() -> None:
    with pytest.raises(PurgeError):
        PurgeScope()
    with pytest.raises(PurgeError):
        PurgeScope(district="633", before=dt.datetime(2021, 8, 1))   # naive: whose midnight?


def test_purge_of_a_district_leaves_none_of_its_rows_or_files_and_nothing_else_changes(world) -> None:
    engine, settings, home = world["engine"], world["settings"], world["settings"].home
    view = district_view(engine, "633")
    assert view["persons"] and view["keys"] and len(view["ids"]) == 3
    before, files_before = dump(engine), files_under(home)
    mine = {t: [r for r in rows_as_dicts(engine, t) if belongs(t, r, view, "633")] for t in PURGED_TABLES
            if t in Base.metadata.tables}
    assert all(mine[t] for t in ("submissions", "target_list_rows", "quarantine_rows", "row_issues", "master_records",
                                 "master_persons", "person_keys", "review_decisions", "plan_invitations",
                                 "plan_standby", "plan_unplanned", "portal_jobs", "stored_files"))

    # a dry run first: it changes nothing and counts what the purge then deletes
    dry = purge(engine, settings, PurgeScope(district="633"), dry_run=True, district_codes=["622", "633"])
    assert dump(engine) == before and files_under(home) == files_before
    report = purge(engine, settings, PurgeScope(district="633"), district_codes=["622", "633"])
    assert (dry.rows, dry.files, dry.submissions) == (report.rows, report.files, report.submissions)

    assert sorted(report.submissions) == sorted(view["ids"]) and not report.left_behind
    after = dump(engine)
    for name in Base.metadata.tables:
        rows = rows_as_dicts(engine, name)
        if name == "plan_sessions":   # kept, without the team's names
            assert [r["team"] for r in rows if r["district"] == "633"] == [None]
            assert [r["team"] for r in rows if r["district"] == "622"] == ["Ê kíp 1: Y tá 622"]
            continue
        if name in KEPT_TABLES:
            assert after[name] == before[name], name
            continue
        left = [r for r in rows if belongs(name, r, view, "633")]
        assert not left, f"{name} still holds rows of 633: {left[:2]}"
        # every other row is still there, unchanged (a purge of 633 takes nothing of 622)
        assert len(after[name]) == len(before[name]) - len(mine[name]), name
        assert after[name] <= before[name], name
    assert report.rows["target_list_rows"] == len(mine["target_list_rows"])
    assert report.rows[TEAMS_CLEARED] == 1
    # An, listed by 622 too, left the master list whole: 622's row is to be listed again by the next run
    assert not dangling(engine) and report.unlisted == 1 and report.master_list_rebuild

    gone = files_before - files_under(home)
    cache = home / "cache" / "master_list"
    expected = {p for p in files_before if p.is_relative_to(settings.outputs_dir / "feedback" / "633")
                or p.is_relative_to(home / "data_docs" / "633")
                or p.is_relative_to(home / "demo" / "inputs" / "districts" / "633-chu-se")
                or p.parent == settings.files_dir / p.name[:2] and p.name in view["only_checksums"]
                or p.parent == cache and int(p.stem.rsplit("-", 1)[1]) in view["ids"]}
    expected |= {settings.outputs_dir / "master_list" / "national" / "633.xlsx",
                 settings.outputs_dir / "plans" / "invitations" / file_name(FACILITY["633"]),
                 settings.outputs_dir / "master_list" / "master_list.csv"}   # it lists 633's rows
    assert {p for p in expected if p.parent == cache} and {p for p in expected if p.parent.parent == settings.files_dir}
    assert gone == expected
    assert set(report.files) >= {(settings.outputs_dir / "feedback" / "633").resolve(),
                                 (home / "data_docs" / "633").resolve()}
    assert not list(home.rglob(".purge-*"))
    # what 622 sent is whole: its rows, the shared original and its files
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Submission).where(Submission.district_code == "622")) == 2
        shared = s.get(Submission, world["subs"]["shared622"]).checksum
        assert s.get(StoredFile, shared) is not None and (settings.files_dir / shared[:2] / shared).is_file()


def dangling(engine) -> dict[str, list[Any]]:
    """What points at nothing on the master list and the plans: a record, key or plan entry whose person is
    not on the list, a person whose canonical row has no record, a pair under review with a side that has
    no record. Empty for a list as a run writes it."""
    with Session(engine) as s:
        people = set(s.execute(sa.select(MasterPerson.person_id)).scalars())
        records = set(s.execute(sa.select(MasterRecord.submission_id, MasterRecord.row_number)).tuples())
        out = {name: sorted({p for p in s.execute(sa.select(model.person_id)).scalars()} - people)
               for name, model in (("master_records", MasterRecord), ("person_keys", PersonKey),
                                   ("plan_invitations", PlanInvitation), ("plan_standby", PlanStandby),
                                   ("plan_unplanned", PlanUnplanned))}
        out["master_persons"] = sorted(p for p, sub, row in s.execute(
            sa.select(MasterPerson.person_id, MasterPerson.submission_id, MasterPerson.row_number)).tuples()
            if (sub, row) not in records)
        out["review_pairs"] = sorted(p.pair_key for p in s.execute(sa.select(ReviewPair)).scalars()
                                     if (p.submission_a, p.row_a) not in records
                                     or (p.submission_b, p.row_b) not in records)
    return {k: v for k, v in out.items() if v}


def _records_by_row(engine) -> dict[tuple[int, int], tuple[str, str]]:
    with Session(engine) as s:
        return {(r.submission_id, r.row_number): (r.person_id, r.fingerprint)
                for r in s.execute(sa.select(MasterRecord)).scalars()}


@pytest.mark.parametrize("purged", ["633", "622"])
def test_a_person_linked_across_districts_leaves_the_master_list_whole(world, purged) -> None:
    """Nguyễn Văn An is listed by 633 and 622 (the same CCCD): one person, the canonical row in 633. Purging
    either district takes that person off the master list whole (the person, the other district's record,
    its keys, pairs and plan entries): nothing is left pointing at a person who is gone, and nothing the
    person carried from the purged rows stays. The other district's row itself stays loaded; the next
    master-list run lists it again, as a person of that district alone."""
    engine, settings, subs = world["engine"], world["settings"], world["subs"]
    kept = "622" if purged == "633" else "633"
    own = {"633": subs["new633"], "622": subs["tl622"]}
    with Session(engine) as s:
        linked = s.execute(sa.select(MasterPerson).where(MasterPerson.districts == "622,633")).scalar_one()
        assert (linked.district, linked.rows) == ("633", 2)
        linked_id = linked.person_id
    by_row = _records_by_row(engine)
    assert by_row[(own["633"], 2)][0] == by_row[(own["622"], 2)][0] == linked_id   # row 2: An, in both lists
    with Session(engine) as s, s.begin():
        run_id = s.scalar(sa.select(sa.func.max(MasterRecord.run_id)))
        for district, sub in own.items():
            # a pair under review with An's record in each district, and one without An (it stays)
            for a, b in ((2, 3), (3, 4)):
                (_, fa), (_, fb) = by_row[(sub, a)], by_row[(sub, b)]
                s.add(ReviewPair(pair_key=f"{district}-{a}-{b}".ljust(20, "x"), run_id=run_id, fingerprint_a=fa,
                                 fingerprint_b=fb, submission_a=sub, row_a=a, submission_b=sub, row_b=b,
                                 match_probability=0.5, reason="model"))
        plan = s.scalar(sa.select(sa.func.max(PlanRun.id)))
        # the kept district's facility invited An too (a published plan of that district)
        s.add(PlanInvitation(run_id=plan, person_id=linked_id, facility_code=FACILITY[kept], district=kept,
                             date=dt.date(2021, 7, 30), part="morning", slot="08:00", dose=1,
                             product="astrazeneca", lot="L1", source="published"))
    assert not dangling(engine)
    kept_rows = {k: v for k, v in by_row.items() if k[0] == own[kept] and k[1] != 2}
    kept_people = {p for p, _ in kept_rows.values()}

    report = purge(engine, settings, PurgeScope(district=purged), district_codes=["622", "633"])

    assert not dangling(engine), "the master list or the plans point at a person who is gone"
    with Session(engine) as s:
        assert s.get(MasterPerson, linked_id) is None
        assert not s.scalar(sa.select(sa.func.count()).select_from(PersonKey).where(PersonKey.person_id == linked_id))
        assert not s.scalar(sa.select(sa.func.count()).select_from(PlanInvitation)
                            .where(PlanInvitation.person_id == linked_id))
        # An's row in the kept district is still loaded; only its place on the master list went
        table = KIND_TABLES["target_list"]
        assert s.scalar(sa.select(sa.func.count()).select_from(table).where(
            table.c.submission_id == own[kept], table.c.row_number == 2)) == 1
        pairs = set(s.execute(sa.select(ReviewPair.pair_key)).scalars())
    assert pairs == {f"{kept}-3-4".ljust(20, "x")}
    after = _records_by_row(engine)
    assert (own[kept], 2) not in after and {k: v for k, v in after.items() if k[0] == own[kept]} == kept_rows
    assert report.unlisted == 1 and report.to_json()["master_list_rebuild"] is True
    # the kept district's facility list named An: it goes with the invitation (the next plan writes it again);
    # so does the national export of An's district (633: the canonical row's), and 622's only when 622 is purged
    assert (settings.outputs_dir / "plans" / "invitations" / file_name(FACILITY[kept])).resolve() in report.files
    national = settings.outputs_dir / "master_list" / "national"
    assert (national / "633.xlsx").resolve() in report.files
    assert ((national / "622.xlsx").resolve() in report.files) == (purged == "622")

    # the next master-list run lists An's remaining row again, as a person of the kept district alone
    ml_run.build(engine, load_campaign(), as_of=NEW + dt.timedelta(days=3), cache_dir=settings.home / "cache" / "master_list",
             cache_key=KEY)
    assert not dangling(engine)
    rebuilt = _records_by_row(engine)
    with Session(engine) as s:
        again = s.get(MasterPerson, rebuilt[(own[kept], 2)][0])
        assert (again.district, again.districts, again.rows) == (kept, kept, 1)
    assert {rebuilt[k][0] for k in kept_rows} == kept_people   # the others keep their ids


@contextlib.contextmanager
def _unmovable(path: Path) -> Iterator[None]:
    """`path` cannot be renamed or deleted: immutable for root (chattr +i), else its directory read-only."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here: no way to make a file unmovable for root")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.parent.stat().st_mode
        path.parent.chmod(0o500)
        try:
            yield
        finally:
            path.parent.chmod(mode)


def test_a_file_that_cannot_be_deleted_leaves_every_row_and_file_in_place(world) -> None:
    engine, settings = world["engine"], world["settings"]
    planned = purge(engine, settings, PurgeScope(district="633"), dry_run=True).files
    before, files_before = dump(engine), files_under(settings.home)
    last = planned[-1]   # files are moved aside in order: all the others move first, then come back
    with _unmovable(last), pytest.raises(OSError):
        purge(engine, settings, PurgeScope(district="633"))
    assert dump(engine) == before
    assert files_under(settings.home) == files_before
    assert not list(settings.home.rglob(".purge-*"))


def test_a_constraint_failing_midway_leaves_everything_in_place(world) -> None:
    """A table the purge does not know that points at a submission (a real foreign key) stops it at the
    submissions' delete, after every other delete: all of them roll back."""
    engine, settings = world["engine"], world["settings"]
    sub = world["subs"]["new633"]
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unknown_refs (submission_id INTEGER NOT NULL REFERENCES submissions(id))"))
        conn.execute(sa.text("INSERT INTO unknown_refs VALUES (:s)"), {"s": sub})
    before, files_before = dump(engine), files_under(settings.home)
    with pytest.raises(sa.exc.IntegrityError):
        purge(engine, settings, PurgeScope(district="633"))
    assert dump(engine) == before and files_under(settings.home) == files_before


def test_a_failure_after_the_files_moved_puts_them_back(world) -> None:
    """The record of the purge (the audit log's place) refused by a constraint at the last moment: the
    files already moved aside come back, the rows too."""
    engine, settings = world["engine"], world["settings"]
    before, files_before = dump(engine), files_under(settings.home)

    def refused(session: Session, report) -> None:
        assert not (settings.outputs_dir / "feedback" / "633").exists()   # the files are aside by now
        session.execute(sa.insert(StoredFile).values(sha256="0" * 64, size_bytes=-1, original_filename="x",
                                                     relative_path="x", first_seen_at=SHARED))

    with pytest.raises(sa.exc.IntegrityError):
        purge(engine, settings, PurgeScope(district="633"), record=refused)
    assert dump(engine) == before and files_under(settings.home) == files_before
    assert not list(settings.home.rglob(".purge-*"))


def test_age_based_purge_takes_only_what_was_received_before_its_date(world) -> None:
    engine, settings = world["engine"], world["settings"]
    subs = world["subs"]
    with Session(engine) as s:
        old = s.get(Submission, subs["old633"])
        old_checksum, new_feedback = old.checksum, s.get(Submission, subs["new633"]).feedback_path
        old_feedback = old.feedback_path
    masters_before = rows_as_dicts(engine, "master_records")
    cutoff = dt.datetime(2021, 7, 23, tzinfo=ICT)
    report = purge(engine, settings, PurgeScope(before=cutoff), district_codes=["622", "633"])
    assert report.submissions == [subs["old633"]]
    with Session(engine) as s:
        assert s.get(Submission, subs["old633"]) is None and s.get(Submission, subs["new633"]) is not None
        assert s.get(StoredFile, old_checksum) is None
        assert not s.scalar(sa.select(sa.func.count()).select_from(KIND_TABLES["target_list"])
                            .where(KIND_TABLES["target_list"].c.submission_id == subs["old633"]))
    assert rows_as_dicts(engine, "master_records") == masters_before   # the first list was not in it
    assert not Path(old_feedback).exists() and Path(new_feedback).exists()
    # the corrected list repeats the first one's rows: their person keys stay (their people keep their ids)
    assert report.rows["person_keys"] == 0


# ---------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture()
def cli_world(campaign_home, tmp_path) -> dict[str, Any]:
    from campaign.resources import get_resources

    engine = get_resources().engine
    return {"engine": engine, **build_world(engine, campaign_home, tmp_path / "in")}


def test_command_usage_errors_exit_2(campaign_home) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["data", "purge"]).exit_code == 2
    assert runner.invoke(main, ["data", "purge", "--district", "Ba Đình"]).exit_code == 2
    assert runner.invoke(main, ["data", "purge", "--expired"]).exit_code == 2    # no CAMPAIGN_RETENTION_DAYS
    both = runner.invoke(main, ["data", "purge", "-d", "633", "--before", "2021-08-01", "--expired"])
    assert both.exit_code == 2


def test_command_dry_run_confirmation_and_purge(cli_world) -> None:
    engine = cli_world["engine"]
    runner = CliRunner()
    before = dump(engine)
    dry = runner.invoke(main, ["data", "purge", "--district", "chu se", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout.strip().splitlines()[-1])
    table = KIND_TABLES["target_list"]
    with Session(engine) as s:
        rows_633 = s.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.district == "633"))
    assert plan["dry_run"] and plan["scope"]["district"] == "633" and plan["rows"]["target_list_rows"] == rows_633
    assert f"target_list_rows: {rows_633}" in dry.stderr and dump(engine) == before
    declined = runner.invoke(main, ["data", "purge", "-d", "633"], input="n\n")
    assert declined.exit_code == 3 and dump(engine) == before
    done = runner.invoke(main, ["data", "purge", "-d", "633", "--json"], input="y\n")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["dry_run"] and result["rows"] == plan["rows"]
    with Session(engine) as s:
        assert not s.scalar(sa.select(sa.func.count()).select_from(Submission).where(Submission.district_code == "633"))


def test_command_expired_uses_the_retention_days(cli_world, monkeypatch) -> None:
    from campaign.resources import reset_resources

    engine = cli_world["engine"]
    monkeypatch.setenv("CAMPAIGN_RETENTION_DAYS", "5")
    monkeypatch.setenv("CAMPAIGN_NOW", "2021-07-27T09:00:00+07:00")   # 5 days back: 22/7, after 633's first list
    reset_resources()
    result = CliRunner().invoke(main, ["data", "purge", "--expired", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["submissions"] == [cli_world["subs"]["old633"]]
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Submission)) == 4


def test_command_district_and_before_together_purge_their_intersection(cli_world) -> None:
    """`--district 633 --before 27/7`: 633's submissions received before that day, nothing else: 622's list
    of the same day as 633's correction and 633's upload of the 27th stay."""
    engine, subs = cli_world["engine"], cli_world["subs"]
    result = CliRunner().invoke(main, ["data", "purge", "-d", "633", "--before", "2021-07-27", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout.strip().splitlines()[-1])
    assert done["scope"]["district"] == "633" and done["scope"]["before"].startswith("2021-07-26T17:00:00")
    assert sorted(done["submissions"]) == sorted([subs["old633"], subs["new633"]])
    with Session(engine) as s:
        left = set(s.execute(sa.select(Submission.id)).scalars())
    assert left == {subs["tl622"], subs["shared622"], subs["shared633"]}
    # 633's current list went: An, listed by 622 too, left the master list with it (622's row to list again)
    assert done["unlisted"] == 1 and done["master_list_rebuild"] is True
    assert "1 dòng của huyện khác đã ra khỏi danh sách hợp nhất" in result.output, result.output
    assert not dangling(engine)
    with Session(engine) as s:
        event = s.execute(sa.select(AuditEvent).where(AuditEvent.action == "data_purge")).scalar_one()
    assert (event.details["district"], event.details["submissions"], event.details["unlisted"]) == ("633", 2, 1)
