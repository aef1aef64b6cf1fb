"""Flows run as Prefect flows and tasks, visible through the Prefect API (one harness per session)."""

from __future__ import annotations

import asyncio
import csv
import json
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
    flow_runs, task_runs, _ = _runs_of("demo")
    assert any(fr.state.is_completed() for fr in flow_runs)
    names = {tr.name.split("-")[0] for tr in task_runs}
    assert {"generate", "intake"} <= names


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
