"""Session planning against a real database (SQLite and PostgreSQL): the plan reads the master list,
facilities, teams (readiness) and stock; it is stored, published, kept by the next plan with freed places
filled from standby lists; the command line, the flow's artifacts and the printable lists."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.master_list import run as ml_run
from campaign.planning import rules as planning_rules
from campaign.planning import run as planning
from campaign.planning import store as planning_store
from campaign.store.models import MasterPerson, PlanInvitation, PlanRun, PlanSession, PlanUnplanned
from tests.dedupe_support import row, store_rows

AT = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
DAY = dt.date(2021, 7, 29)
ROLES = ["reception", "screening", "vaccinator", "recorder", "observation"]
# Pleiku (622): two communes with a station each; only F1 sends a team, F2 has a table but no team.
C1, C2 = "23566", "23563"


def _people(n: int, commune: str, prefix: str, *, priority: int = 16, start: int = 0) -> list[dict]:
    return [row(f"{prefix}{i}", f"Nguyễn Văn {prefix}{i:03d}", f"{1950 + i % 40}-0{1 + i % 9}-1{i % 9}", "male",
                district="622", commune=commune, phone=f"+849{prefix.encode()[0] % 10}{i:07d}",
                id_number=f"0{prefix.encode()[0] % 10}{i:010d}", priority=priority) for i in range(start, start + n)]


def _facilities() -> pd.DataFrame:
    return pd.DataFrame([
        {"district": "622", "facility_code": "64622-TYT-01", "facility_name": "Trạm Y tế 1", "commune_name": "X",
         "commune_code": C1, "vaccination_tables": 1, "latitude": 13.97, "longitude": 108.0,
         "person_in_charge": "Trưởng trạm", "phone_in_charge": "+84912345678"},
        {"district": "622", "facility_code": "64622-TYT-02", "facility_name": "Trạm Y tế 2", "commune_name": "Y",
         "commune_code": C2, "vaccination_tables": 1, "latitude": 13.99, "longitude": 108.02,
         "person_in_charge": "Trưởng trạm", "phone_in_charge": "+84912345679"}])


def _staff(day: dt.date = DAY) -> pd.DataFrame:
    return pd.DataFrame([{"district": "622", "facility_code": "64622-TYT-01", "session_date": day,
                          "session_part": "morning", "team_no": 1, "full_name": f"Cán bộ {r}", "role": r,
                          "staff_type": "health_staff", "phone": f"+8497000000{i}", "id_number": None,
                          "updated_on": day - dt.timedelta(days=1)} for i, r in enumerate(ROLES)])


def _stock(vials: int) -> pd.DataFrame:
    return pd.DataFrame([{"district": "622", "facility_code": "64622-TYT-01", "product": "astrazeneca",
                          "lot": "ABV0001", "expiry_date": DAY + dt.timedelta(days=60), "doses_per_vial": 10,
                          "vials_received": vials, "vials_issued": 0, "vials_on_hand": vials,
                          "received_date": DAY - dt.timedelta(days=5)}])


def _world(engine, *, people: list[dict], vials: int = 10) -> None:
    store_rows(engine, pd.DataFrame(people), when=AT)
    store_rows(engine, _facilities(), when=AT, kind="facilities")
    store_rows(engine, _staff(), when=AT, kind="staff")
    store_rows(engine, _stock(vials), when=AT, kind="vaccine_stock")
    ml_run.build(engine, load_campaign(), as_of=AT)


def _invitations(engine, run_id: int) -> pd.DataFrame:
    with Session(engine) as s:
        rows = s.execute(select(PlanInvitation.person_id, PlanInvitation.facility_code, PlanInvitation.date,
                                PlanInvitation.part, PlanInvitation.slot, PlanInvitation.dose, PlanInvitation.lot,
                                PlanInvitation.source).where(PlanInvitation.run_id == run_id)).all()
    return pd.DataFrame(rows, columns=["person_id", "facility_code", "date", "part", "slot", "dose", "lot", "source"])


def test_a_plan_from_the_database_uses_the_team_the_stock_and_says_who_waits_and_why(migrated_engine) -> None:
    campaign = load_campaign()
    _world(migrated_engine, people=_people(150, C1, "A") + _people(20, C2, "B"), vials=10)
    result = planning.make_plan(migrated_engine, campaign, start=DAY, days=3, as_of=AT)
    inv = _invitations(migrated_engine, result.run_id)
    # 100 doses, 1 table x 100 per session, one team rostered on day 1 that stands for the other sessions
    assert len(inv) == 100 and not inv["person_id"].duplicated().any()
    assert set(inv["facility_code"]) == {"64622-TYT-01"} and (inv["lot"] == "ABV0001").all()
    with Session(migrated_engine) as s:
        sessions = s.execute(select(PlanSession.date, PlanSession.part, PlanSession.invited, PlanSession.vials,
                                    PlanSession.team, PlanSession.team_source)
                             .where(PlanSession.run_id == result.run_id)).all()
        reasons = dict(pd.Series([r for (r,) in s.execute(select(PlanUnplanned.reason).where(
            PlanUnplanned.run_id == result.run_id))]).value_counts())
    assert [(x.date, x.part, x.invited, x.vials, x.team_source) for x in sessions] == [
        (DAY, "morning", 100, 10, "roster")]
    assert "Cán bộ vaccinator (Tiêm chủng)" in sessions[0].team
    # commune C2's people go to F2, which has a table but never a team; the rest of C1 waits for stock
    assert reasons == {"no_team": 20, "no_stock": 50}
    assert result.summary["province"]["planned"] == 100 and result.quality["own_commune_share"] == 1.0
    assert result.quality["priority_inversions"]["unexplained"] == 0


def test_a_published_plan_is_kept_and_a_freed_place_goes_to_the_standby_list(migrated_engine) -> None:
    campaign = load_campaign()
    people = _people(250, C1, "A")
    _world(migrated_engine, people=people, vials=30)
    first = planning.make_plan(migrated_engine, campaign, start=DAY, days=1, as_of=AT, publish_by="syt@gialai")
    inv1 = _invitations(migrated_engine, first.run_id)
    # the morning's roster stands for the afternoon: 2 sessions of 100
    assert first.published and len(inv1) == 200
    # A00005 is taken off the district's list (vaccinated elsewhere); the list is re-uploaded, the master
    # list rebuilt; a group-1 newcomer arrives
    later = [p for p in people if p["truth"] != "A5"] + _people(1, C1, "N", priority=1)
    store_rows(migrated_engine, pd.DataFrame(later), when=AT + dt.timedelta(hours=2))
    ml_run.build(migrated_engine, campaign, as_of=AT + dt.timedelta(hours=2))
    with Session(migrated_engine) as s:
        gone = set(inv1["person_id"]) - {p for (p,) in s.execute(select(MasterPerson.person_id))}
    assert len(gone) == 1
    second = planning.make_plan(migrated_engine, campaign, start=DAY, days=1, as_of=AT + dt.timedelta(hours=3))
    inv2 = _invitations(migrated_engine, second.run_id)
    assert second.kept_from == first.run_id and len(inv2) == 200
    assert set(inv1["person_id"]) - gone <= set(inv2.loc[inv2["source"] == "published", "person_id"])
    kept = inv1.set_index("person_id").drop(index=list(gone))[["slot", "part"]]
    assert (inv2.set_index("person_id").loc[kept.index, ["slot", "part"]] == kept).all().all()
    standby = inv2[inv2["source"] == "standby"]
    assert len(standby) == 1 and standby["date"].iloc[0] == DAY
    assert second.quality["published_freed"] == 1 and second.quality["from_standby"] == 1
    # the newcomer of group 1 waits: the session was published before they came (explained, not hidden)
    assert second.quality["priority_inversions"]["unexplained"] == 0
    # planning afresh would invite the newcomer first
    fresh = planning.make_plan(migrated_engine, campaign, start=DAY, days=1, as_of=AT, keep_published=False)
    assert fresh.kept_from is None and set(_invitations(migrated_engine, fresh.run_id)["source"]) == {"planned"}


def test_plan_publish_and_drafts(migrated_engine) -> None:
    campaign = load_campaign()
    _world(migrated_engine, people=_people(30, C1, "A"))
    drafts = [planning.make_plan(migrated_engine, campaign, start=DAY, days=1, as_of=AT) for _ in range(3)]
    planning_store.publish(migrated_engine, drafts[0].run_id, by="syt", at=AT)
    with pytest.raises(planning_rules.PlanError, match="published"):
        planning_store.publish(migrated_engine, drafts[0].run_id, by="syt", at=AT)
    with pytest.raises(planning_rules.PlanError):
        planning_store.publish(migrated_engine, 999, by="syt", at=AT)
    # a draft made before another plan was published would lose that plan's invitations: refused
    with pytest.raises(planning_rules.PlanError, match="published after"):
        planning_store.publish(migrated_engine, drafts[1].run_id, by="syt", at=AT)
    assert planning_store.discard_drafts(migrated_engine, keep=1) == 1
    with Session(migrated_engine) as s:
        left = {r: len(_invitations(migrated_engine, r)) for (r,) in s.execute(select(PlanRun.id))}
    assert left == {drafts[0].run_id: 30, drafts[1].run_id: 0, drafts[2].run_id: 30}


def test_plan_command_flow_artifacts_and_invitation_lists(prefect_harness, campaign_home) -> None:
    from click.testing import CliRunner
    from prefect.client.orchestration import get_client

    from campaign.resources import get_resources
    from faces.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["plan", "--from", "2021-07-29"]).exit_code == 3      # no master list yet
    _world(get_resources().engine, people=_people(40, C1, "A") + _people(5, C2, "B"))
    assert runner.invoke(main, ["plan", "--from", "31/02/2021"]).exit_code == 2
    assert runner.invoke(main, ["plan", "--publish"]).exit_code == 2                  # who publishes?
    assert runner.invoke(main, ["plan", "--district", "Ba Đình"]).exit_code == 2
    out = campaign_home / "lists"
    done = runner.invoke(main, ["plan", "--from", "29/07/2021", "--days", "2", "--district", "Pleiku", "--publish",
                                "--by", "syt", "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["published"] and summary["district"] == "622" and summary["province"]["planned"] == 40
    assert summary["quality"]["priority_inversions"]["unexplained"] == 0
    assert "40 người được mời" in done.stderr
    files = sorted(out.glob("*.xlsx"))
    assert [f.name for f in files] == ["moi-tiem-64622-TYT-01.xlsx"]
    ws = openpyxl.load_workbook(files[0]).worksheets[0]
    cells = [c for r in ws.iter_rows(values_only=True) for c in r if c is not None]
    assert "Nguyễn Văn A000" in cells and "29/07/2021" in " ".join(str(c) for c in cells)
    assert runner.invoke(main, ["plan", "publish", str(summary["run_id"]), "--by", "syt"]).exit_code == 2

    import asyncio

    async def artifacts() -> dict[str, str]:
        async with get_client() as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

            keys = ArtifactFilter(key=ArtifactFilterKey(any_=["plan-districts", "plan-quality", "plan-sessions"]))
            found = await client.read_artifacts(artifact_filter=keys)   # the harness is shared: filter
            return {a.key: json.dumps(a.data, ensure_ascii=False) for a in found if a.key}
    found = asyncio.run(artifacts())
    assert {"plan-districts", "plan-quality", "plan-sessions"} <= set(found)
    # no personal data in the artifacts: neither names nor phone numbers nor IDs
    plan_artifacts = [v for k, v in found.items() if k.startswith("plan-")]   # the harness is shared by tests
    assert not any("Nguyễn" in v or "+849" in v or "0970000" in v for v in plan_artifacts)


def test_rosters_without_id_numbers_stand_at_every_facility(migrated_engine) -> None:
    """Staff lists often leave the ID column empty: an empty ID must not make everybody one person
    (then every standing team would clash with every other and no facility would hold a session)."""
    campaign = load_campaign()
    staff = pd.concat([_staff().assign(id_number=""),
                       _staff().assign(facility_code="64622-TYT-02", id_number="",
                                       phone=[f"+8497100000{i}" for i in range(5)])])
    stock = pd.concat([_stock(60), _stock(60).assign(facility_code="64622-TYT-02")])
    store_rows(migrated_engine, pd.DataFrame(_people(600, C1, "A") + _people(600, C2, "B")), when=AT)
    store_rows(migrated_engine, _facilities(), when=AT, kind="facilities")
    store_rows(migrated_engine, staff, when=AT, kind="staff")
    store_rows(migrated_engine, stock, when=AT, kind="vaccine_stock")
    ml_run.build(migrated_engine, campaign, as_of=AT)
    result = planning.make_plan(migrated_engine, campaign, start=DAY, days=3, as_of=AT)
    with Session(migrated_engine) as s:
        held = s.execute(select(PlanSession.facility_code, PlanSession.team_source)
                         .where(PlanSession.run_id == result.run_id)).all()
    assert len(held) == 12 and sum(1 for _f, src in held if src == "standing") == 10
    assert result.summary["province"]["planned"] == 1200


def test_a_person_referred_to_hospital_is_planned_at_a_hospital_or_said_why_not(migrated_engine) -> None:
    """Screening result "Chuyển tiêm tại bệnh viện" (directive II.3 "kết quả khám sàng lọc";
    `enums.screening_result.referred` in config/input_kinds.yaml): the master list keeps it, the plan sends
    the person to a hospital site of the district, or leaves them out with `referred_no_hospital` when the
    district has none."""
    from sqlalchemy import select as sa_select

    from campaign.store.models import MasterPerson

    campaign = load_campaign()
    people = _people(3, C1, "R")
    _world(migrated_engine, people=people, vials=10)
    visit = pd.DataFrame([{"district": "622", "facility_code": "64622-TYT-01", "full_name": people[0]["full_name"],
                           "birth_date": people[0]["birth_date"], "sex": "male", "id_number": people[0]["id_number"],
                           "phone": people[0]["phone"], "session_date": DAY - dt.timedelta(days=2),
                           "screening_result": "referred", "vaccinated": "no", "product": None, "lot": None,
                           "dose_number": None, "vaccinated_at": None, "deferral_reason": None}])
    store_rows(migrated_engine, visit, when=AT, kind="vaccinations")
    ml_run.build(migrated_engine, campaign, as_of=AT)
    with Session(migrated_engine) as s:
        referred = {p for (p,) in s.execute(sa_select(MasterPerson.person_id).where(MasterPerson.referred))}
    assert len(referred) == 1
    (person,) = referred
    # no hospital in the district: left out, with the reason
    result = planning.make_plan(migrated_engine, campaign, start=DAY, days=3, as_of=AT)
    assert person not in set(_invitations(migrated_engine, result.run_id)["person_id"])
    with Session(migrated_engine) as s:
        why = dict(s.execute(sa_select(PlanUnplanned.person_id, PlanUnplanned.reason)
                             .where(PlanUnplanned.run_id == result.run_id)).all())
    assert why[person] == "referred_no_hospital"
    # a hospital with a table and a team: planned there
    hospital = _facilities().iloc[[0]].assign(facility_code="64622-BV-01", facility_name="Bệnh viện",
                                              facility_type="hospital", commune_code=C2)
    store_rows(migrated_engine, pd.concat([_facilities(), hospital], ignore_index=True), when=AT, kind="facilities")
    hospital_team = _staff().assign(facility_code="64622-BV-01")
    hospital_team = hospital_team.assign(full_name=hospital_team["full_name"] + " BV",
                                         phone=hospital_team["phone"].str.replace("+8497", "+8498"))
    store_rows(migrated_engine, pd.concat([_staff(), hospital_team], ignore_index=True), when=AT, kind="staff")
    store_rows(migrated_engine, pd.concat([_stock(10), _stock(10).assign(facility_code="64622-BV-01")],
                                          ignore_index=True), when=AT, kind="vaccine_stock")
    result = planning.make_plan(migrated_engine, campaign, start=DAY, days=3, as_of=AT)
    inv = _invitations(migrated_engine, result.run_id).set_index("person_id")
    with Session(migrated_engine) as s:
        why = dict(s.execute(sa_select(PlanUnplanned.person_id, PlanUnplanned.reason)
                             .where(PlanUnplanned.run_id == result.run_id)).all())
    assert person in inv.index, (why, result.summary)
    assert inv.loc[person, "facility_code"] == "64622-BV-01"
    assert set(inv.drop(index=person)["facility_code"]) == {"64622-TYT-01"}
