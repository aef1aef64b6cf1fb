"""Flows run as Prefect flows and tasks, visible through the Prefect API (one harness per session)."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect

HEADER = "Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),Xã/Phường (*)\n"


def _runs_of(flow_name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def read():
        async with get_client() as client:
            flow_filter = FlowFilter(name=FlowFilterName(any_=[flow_name]))
            flow_runs = await client.read_flow_runs(flow_filter=flow_filter)
            task_runs = []
            while batch := await client.read_task_runs(flow_filter=flow_filter, offset=len(task_runs), limit=200):
                task_runs.extend(batch)
            artifacts = []   # every page: the session's other tests leave hundreds of artifacts
            while batch := await client.read_artifacts(offset=len(artifacts), limit=200):
                artifacts.extend(batch)
            return flow_runs, task_runs, artifacts

    return asyncio.run(read())


def test_intake_flow_is_one_flow_run_with_its_artifact(prefect_harness, campaign_home, tmp_path):
    from flows.intake import intake_flow

    path = tmp_path / "tl.csv"
    path.write_text(HEADER + "Nguyễn Văn An,25/05/1980,0,9,0912345678,Ia Blang\n,01/01/1990,1,9,0912345679,Ia Blang\n",
                    encoding="utf-8")
    outcome = intake_flow(path=str(path), district="633", kind="target_list")
    assert outcome["status"] == "accepted" and outcome["rows_quarantined"] == 1
    flow_runs, _task_runs, artifacts = _runs_of("intake")
    assert any(fr.state.is_completed() for fr in flow_runs)
    tables = [a for a in artifacts if a.key == "intake-633-target-list"]  # other tests may share the key
    assert any("name_missing" in json.dumps(t.data) for t in tables)
    assert all("0912345679" not in json.dumps(t.data) + (t.description or "") for t in tables)  # no personal data
    assert set(outcome["stage_seconds"]) >= {"read", "standardize", "gate", "load", "feedback"}
    links = [a for a in artifacts if a.key == "data-docs-633-target-list"]
    assert links and any("(file://" in str(a.data) and ".html)" in str(a.data) for a in links)  # [text](link)


def test_demo_flow_generates_and_loads_as_tasks(prefect_harness, campaign_home, tmp_path):
    """The demo, its flow runs sent to a `campaign serve` on ports other than 4200 (issue 22: the UI served
    there lists the demo's runs by their descriptive names, opened in Debian's Chromium at the end)."""
    import os

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.test_cli_server import serving, ui_lists

    with serving(tmp_path / "serve", now="2021-07-28T08:00") as served, \
            temporary_settings({PREFECT_API_URL: served.api}):
        _demo_and_its_figures(tmp_path)
        shots = Path(os.environ.get("CAMPAIGN_SCREENSHOTS") or tmp_path)
        ui_lists(served, ["demo-1500-people", "readiness-2021-07-28T08:00", "plan-14d-from-",
                          "report-district-province"], shots / "prefect-ui-demo-runs.png")


def _demo_and_its_figures(tmp_path: Path) -> None:
    from flows.demo import demo_flow

    summary = demo_flow(out_dir=str(tmp_path / "inputs"), people=1500, seed=7, now="2021-07-28T08:00:00+07:00")
    assert summary["submissions"]["total"] > 0
    assert summary["submissions"].get("accepted", 0) > 0
    assert summary["rows"]["loaded"] > 0
    assert summary["rows"]["total"] == summary["rows"]["loaded"] + summary["rows"]["quarantined"] or \
        summary["submissions"].get("rejected", 0) > 0
    # the demo grows with every pipeline: readiness and the deadline watch ran as of the demo's "now"
    assert len(summary["readiness"]["districts"]) == 17
    assert summary["readiness"]["province"]["facilities_total"] > 0
    states = summary["deadlines"]["states"]
    # issue 17: the facilities' plans (directive mục 3, "gửi Kế hoạch này cho Trung tâm Y tế") are owed too,
    # once the facility lists are in
    assert set(states) - {"facility_plan"} == {"district_preparation", "district_target_list", "doh_central_report"}
    assert sum(states["district_preparation"].values()) == 17 and states["doh_central_report"] == {"due": 1}
    assert summary["not_yet_uploaded"], "some districts upload after 28/7 08:00 in the planned schedule"
    assert summary["never_uploaded"], "one district never sends one kind"
    # issue 18: through the portal, a clerk asking for another district's submission is refused and on record
    up = summary["portal"]["upload"]
    assert up["page_ok"] and up["tampering"]["status"] == 404
    assert up["audit"]["access_denied"] == 1 and up["audit"]["upload"] == 2 and up["audit"]["sign_in"] == 1
    # the stray cell at XFD1048576 (issue 18): refused from the file's own measure, in Vietnamese
    hostile = up["hostile_file"]
    assert hostile["status"] == "rejected" and hostile["bytes"] < 20_000, hostile
    assert "XFD1048576" in hostile["message"] and "trang" in hostile["message"], hostile
    assert set(summary["outputs"]) >= {"database", "inputs", "manifest", "stored_originals", "prefect_home",
                                       "master_list_csv"}
    # the master list linked the target lists; its quality is measured against the generator's truth
    master = summary["master_list"]
    assert master["persons"] < master["rows"] and master["province"]["clusters_across_districts"] > 0
    q = master["quality"]
    assert q["true_pairs"] > 0 and q["precision"] >= 0.99 and q["recall"] >= 0.9, q
    assert master["exported_districts"] >= 1 and master["exported_people"] > 0
    with open(summary["outputs"]["master_list_csv"], encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == master["rows"] + 1
    # two weeks of sessions planned from the next day and published, with printable invitation lists
    plan = summary["plan"]
    assert plan["published"] and plan["from"] == "2021-07-29" and plan["days"] == 14
    assert 0 < plan["province"]["planned"] <= master["province"]["eligible_persons"]
    assert plan["quality"]["priority_inversions"]["unexplained"] == 0
    assert plan["invitation_lists"] == len(list(Path(summary["outputs"]["invitation_lists"]).glob("*.xlsx"))) > 0
    # the province's report and each district's, DOCX and PDF, built from the same database
    reports = summary["reports"]
    assert reports["built"] == {"district": 17, "province": 1}
    assert reports["province"]["figures"]["people_total"] == master["persons"]
    # count once (issue 17): the report's facilities ready are the readiness run's, and the demo prints them
    ready = summary["readiness"]["province"]
    assert (reports["province"]["figures"]["facilities_ready"], reports["province"]["figures"]["facilities_total"]) \
        == (ready["facilities_ready"], ready["facilities_total"])
    from campaign.demo import render_text

    printed = render_text(summary)
    assert f"{ready['facilities_ready']}/{ready['facilities_total']} facilities and" in printed
    assert f"report: {ready['facilities_ready']}/{ready['facilities_total']} facilities ready" in printed
    assert all(Path(p).stat().st_size > 0 for p in reports["province"]["files"].values())
    # issue 20.5: three campaign days after the plan, each file in at its time, the watch at each day's end
    days = summary["campaign_days"]
    assert [d["date"] for d in days["days"]] == ["2021-07-29", "2021-07-30", "2021-07-31"]
    first, second = days["days"][0], days["days"][1]
    assert first["files"]["vaccinations"]["accepted"] > 0 and first["files"]["aefi"]["accepted"] > 0
    assert second["files"]["vaccinations"]["accepted"] >= 1   # the late facility's results of the first day
    assert not any(v.get("rejected") for d in days["days"] for v in d["files"].values())
    assert days["behaviour"]["serious_aefi"] and days["behaviour"]["late"] and days["behaviour"]["silent"]
    assert all(d["deadlines"] and d["now"].endswith("T21:00:00+07:00") for d in days["days"])
    assert first["truth"]["aefi_serious"] == 1 and first["truth"]["no_shows"] > 0 and first["truth"]["walk_ins"] > 0
    assert f"Campaign days after plan {days['plan_run']}" in printed
    _campaign_days_held(summary, printed)
    # task runs reach the server as events (Prefect 3): deliver what the client still holds, then read. The
    # demo's first task (`generate`) may go out through the events worker this process opened for the session's
    # test server before the switch to `serve`'s: its output is checked above; the many intake tasks are here.
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=120)
    flow_runs, task_runs, artifacts = _runs_of("demo")
    assert any(fr.state.is_completed() for fr in flow_runs)
    names = {tr.name.split("-")[0] for tr in task_runs}
    assert "intake" in names, names
    _progress_artifacts_agree(artifacts, days["days"][-1]["now"])


def _campaign_days_held(summary, printed) -> None:
    """Issue 20.5 on the demo's database: each day's steps (doses linked, then the watch with daily results,
    stock and AEFI) and what they did over the three days."""
    import datetime as dt

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.config import load_campaign
    from campaign.planning import run as planning
    from campaign.resources import get_resources
    from campaign.store.models import Escalation, MasterPerson, OutboxMessage, PlanInvitation

    days = summary["campaign_days"]
    b = days["behaviour"]
    engine = get_resources().engine
    with Session(engine) as s:
        esc = s.execute(select(Escalation.deadline_id, Escalation.party, Escalation.step, Escalation.id)).all()
        outbox = s.execute(select(OutboxMessage.escalation_id, OutboxMessage.recipient)).all()
    # the serious AEFI: one investigation deadline, the DoH told exactly once over the three days' watches
    serious = [e for e in esc if e.deadline_id.startswith("aefi_investigation:")]
    told = [e for e in serious if e.step == "aefi_notified"]
    assert len({e.deadline_id for e in serious}) == 1 and len(told) == 1, serious
    assert any("doh" in r.recipient or "soyte" in r.recipient or "syt" in r.recipient
               for r in outbox if r.escalation_id == told[0].id), [r for r in outbox if r.escalation_id == told[0].id]
    # the silent facility's daily results of its day went overdue (its ladder's overdue step, for that facility)
    silent = [e for e in esc if e.deadline_id == f"daily_results:{b['silent']['date']}"
              and e.party == b["silent"]["facility"]]
    assert "overdue" in {e.step for e in silent}, silent
    # the planted stock discrepancy is warned at intake and counted by the day's reconciliation
    figures = [d["figures"] for d in days["days"]]
    assert all(f["results"] and f["doses"] and f["stock"] is not None and f["aefi"] for f in figures[:1])
    assert max(f["stock"]["by_code"].get("stock_balance_mismatch", 0) for f in figures if f["stock"]) >= 1
    assert any(d["rows"]["with_warnings"] for d in days["days"])
    assert figures[-1]["aefi"]["serious"] == 1 and figures[0]["doses"]["linked"] > 0
    first = figures[0]["results"]
    # no-shows are counted once the results' grace days are over (planning.rules.result_awaited): not at 21:00
    assert first["vaccinated"] > 0 and first["walk_ins"] > 0 and first["no_shows"] >= 0
    assert "Trong đợt tiêm" in printed and "sổ vắc xin lệch" in printed
    # the reports were compiled again after the days
    assert days["reports"]["built"] == {"district": 17, "province": 1}
    assert days["reports"]["province"]["version"] > summary["reports"]["province"]["version"]
    # the backfilled people (doses 1 and 2) are fully vaccinated on the list and a re-plan invites them not
    both = [p["person_id"] for p in days["backfill_persons"] if p["case"] == "dose1_and_2"] \
        if "backfill_persons" in days else _backfill_both(days["manifest"])
    assert both
    with Session(engine) as s:
        people = s.execute(select(MasterPerson.person_id, MasterPerson.eligible, MasterPerson.ineligible_reason)
                           .where(MasterPerson.person_id.in_(both))).all()
    assert {p.person_id for p in people} == set(both)
    assert not any(p.eligible for p in people), ("backfilled doses 1 and 2 not in the people's history", people)
    end = clock.parse_instant(days["days"][-1]["now"])
    again = planning.make_plan(engine, load_campaign(), start=dt.date(2021, 8, 1), days=3, as_of=end)
    with Session(engine) as s:
        invited = set(s.scalars(select(PlanInvitation.person_id).where(PlanInvitation.run_id == again.run_id)))
    assert not invited & set(both)


def _backfill_both(manifest: str) -> list[str]:
    doc = json.loads(Path(manifest).read_text(encoding="utf-8"))
    return sorted({p["person_id"] for p in doc["truth"]["backfill_persons"] if p["case"] == "dose1_and_2"})


def _progress_artifacts_agree(artifacts, at: str) -> None:
    """Count once: the last progress artifacts' results, stock and AEFI columns are the figures of
    `campaign results-daily --json`, `campaign stock --json` and `campaign aefi --json` at the same moment."""
    from click.testing import CliRunner

    from campaign.campaign_progress import AEFI, DAILY, STOCK
    from faces.cli import main

    def cli(*args):
        done = CliRunner().invoke(main, [*args, "--json"])
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout.strip().splitlines()[-1])

    latest = max((a for a in artifacts if a.key == "progress-province"), key=lambda a: a.created)
    rows = latest.data if isinstance(latest.data, list) else json.loads(latest.data)
    daily = cli("results-daily", "--at", at)
    stock = cli("stock")
    checked = 0
    for row in rows:
        found = re.search(r"\((\d{3})\)$", row["Đơn vị"])
        code = found.group(1) if found else None
        d = next((x for x in daily["days"][0]["districts"] if code and x["district"] == code), None)
        if d is not None:
            assert (row[DAILY["completeness_pct"]], row[DAILY["timeliness_pct"]]) == \
                (d["completeness_pct"] if d["completeness_pct"] is not None else "—",
                 d["timeliness_pct"] if d["timeliness_pct"] is not None else "—")
            checked += 1
        block = stock["summary"]["districts"].get(code) if code else None
        if block is not None:
            assert [row[v] for v in STOCK.values()] == [block[k] for k in STOCK], (row, block)
            checked += 1
        if code:
            a = cli("aefi", "--at", at, "-d", code)["summary"]
            assert (row[AEFI["cases"]], row[AEFI["serious"]], row[AEFI["overdue"]]) == \
                (a["cases"], a["serious"], a["investigations"]["overdue"])
    assert checked >= 2, rows
    assert sum(row[AEFI["serious"]] for row in rows if row[AEFI["serious"]] != "—") == 1


def _csv(path, kind: str, rows: list[dict]) -> str:
    """A district file with the template's Vietnamese headers (required columns marked (*))."""
    from campaign.config_kinds import load_input_kinds

    spec = load_input_kinds()[kind]
    cols = [c for c in spec.columns if any(c.name in r for r in rows)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.header + (" (*)" if c.required else "") for c in cols])
        writer.writerows([[r.get(c.name, "") for c in cols] for r in rows])
    return str(path)


def test_readiness_flow_publishes_district_and_province_artifacts(prefect_harness, campaign_home, tmp_path):
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.resources import get_resources
    from flows.readiness import readiness_flow

    res = get_resources()
    roles = ["Đón tiếp", "Khám sàng lọc", "Tiêm chủng", "Ghi chép, nhập liệu", "Theo dõi sau tiêm, xử trí phản ứng"]
    files = {
        "facilities": [{"facility_code": c, "facility_name": f"Trạm y tế {c}", "commune_name": "Ia Blang",
                        "vaccination_tables": t, "person_in_charge": "Nguyễn Văn Bình", "phone_in_charge": "0912345678"}
                       for c, t in (("633-TYT-01", 1), ("633-TYT-02", 0))],
        "infrastructure": [{"facility_code": c, "computers_available": 1, "internet_available": "Có",
                            "printers_available": 1, "qr_scanners_available": 1} for c in ("633-TYT-01", "633-TYT-02")],
        "training": [{"full_name": f"Người {chr(65 + i)}", "staff_type": "Cán bộ y tế", "facility_code": "633-TYT-01",
                      "role_trained": r, "training_date": "26/07/2021", "completed": "Có"} for i, r in enumerate(roles)],
        "staff": [{"facility_code": "633-TYT-01", "session_date": "29/07/2021", "session_part": "Sáng", "team_no": 1,
                   "full_name": f"Người {chr(65 + i)}", "role": r, "updated_on": "28/07/2021"} for i, r in enumerate(roles)],
        "communication": [{"activity": "Phát loa", "channel": "Loa truyền thanh xã", "activity_date": "27/07/2021",
                           "message": "Đăng ký tiêm và tra cứu chứng nhận"}],
    }
    for kind, rows in files.items():
        request = IntakeRequest(path=Path(_csv(tmp_path / f"{kind}.csv", kind, rows)), district="633", kind=kind)
        out = run_intake(request, engine=res.engine, settings=res.settings, campaign=res.campaign)
        assert out.status == "accepted" and out.rows_quarantined == 0, (kind, out)

    summary = readiness_flow(now="2021-07-28T08:00:00+07:00", district="633")
    d = summary["districts"][0]
    assert d["district"] == "633" and d["status"] == "not_ready"
    assert {f["facility_code"]: f["status"] for f in summary["facilities"]} == {"633-TYT-01": "ready",
                                                                               "633-TYT-02": "not_ready"}
    items = {(g["facility"], g["item"]) for g in d["gaps"]}
    assert ("633-TYT-02", "vaccination_tables") in items
    # the loudspeaker carried two of the directive's three messages, not "theo dõi các thông tin về tiêm chủng"
    assert (None, "communication:follow_news@grassroots+press") in items
    flow_runs, _tasks, artifacts = _runs_of("readiness")
    assert any(fr.state.is_completed() for fr in flow_runs)
    keys = {a.key for a in artifacts}
    assert {"readiness-633", "readiness-province", "readiness-622"} <= keys   # every district, the province
    table = next(a for a in artifacts if a.key == "readiness-633" and "633-TYT-02" in json.dumps(a.data))
    assert "0912345678" not in json.dumps(table.data) and "Nguyễn Văn Bình" not in json.dumps(table.data)


def test_deadline_watch_flow_replays_moments_and_mails_once(prefect_harness, campaign_home, monkeypatch):
    from campaign.resources import reset_resources
    from flows.deadline_watch import deadline_watch_flow
    from tests.smtp_support import free_port, smtp_server

    port = free_port()
    monkeypatch.setenv("CAMPAIGN_SMTP_PORT", str(port))
    reset_resources()
    with smtp_server(port) as (_, mailbox):
        quiet = deadline_watch_flow(now="2021-07-28T15:00:00+07:00")
        assert quiet["written_now"] == [] and quiet["delivery"]["sent"] == 0
        reminders = deadline_watch_flow(now="2021-07-28T16:00:00+07:00")
        assert len(reminders["written_now"]) == 34 and reminders["delivery"]["sent"] == 34
        again = deadline_watch_flow(now="2021-07-28T16:30:00+07:00")
        assert again["written_now"] == [] and again["delivery"]["sent"] == 0
    received = [recipients for _sender, recipients, _content in mailbox.messages]
    assert len(received) == 34 and ["ttyt.633@example.gov.vn"] in received
    states = {(d["deadline"], d["party"]): d["state"] for d in again["deliverables"]}
    assert states[("district_preparation", "633")] == "due" and states[("doh_central_report", "doh")] == "due"
    flow_runs, _tasks, artifacts = _runs_of("deadline_watch")
    assert sum(fr.state.is_completed() for fr in flow_runs) >= 3
    assert any(a.key == "deadline-board" for a in artifacts)
