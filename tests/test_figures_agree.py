"""Count once (issue 17): every output shows the same readiness figures, read from one count in
campaign/readiness/status.py (`count_facilities`, `count_districts`, `counts_of`): the CLI's JSON and text, the
portal's board, the Prefect artifacts, the demo's summary and the province report's DOCX and PDF; on
SQLite and PostgreSQL. A `ready_with_warnings` facility (or district) is ready."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign import demo
from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.readiness.present import render_text, to_json
from campaign.readiness.rules import ReadinessRules, assess
from campaign.readiness.status import (
    NOT_READY,
    READY,
    STATUSES,
    UNKNOWN,
    WARNINGS,
    count_districts,
    count_facilities,
)
from campaign.settings import Settings
from campaign.synth import generate_campaign
from tests.test_readiness import TODAY, Province, full_team, ready_district
from tests.test_report import _docx_text, _pdf_text

NOW = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))
# three districts of the generated province (seed 2021), only what readiness reads: Pleiku has facilities of
# unknown readiness, Ia Grai and Chư Păh ready, ready-with-warnings and not-ready ones
DISTRICTS = ("622", "624", "625")
KINDS = ("facilities", "infrastructure", "training", "communication", "staff")


# --- the count itself ------------------------------------------------------------------------------------


def test_a_facility_ready_with_warnings_is_ready() -> None:
    counts = count_facilities([WARNINGS])
    assert counts["facilities_ready"] == 1 and counts["facilities_total"] == 1
    assert counts["facilities_by_status"] == {READY: 0, WARNINGS: 1, UNKNOWN: 0, NOT_READY: 0}
    assert count_facilities([READY, WARNINGS, NOT_READY, UNKNOWN])["facilities_ready"] == 2
    assert count_districts([WARNINGS, READY, UNKNOWN])["districts_ready"] == 2


def test_one_facility_ready_with_warnings_makes_facilities_ready_one() -> None:
    rules = ReadinessRules.from_config(load_campaign())
    p = Province("622", "623")
    ready_district(p, "622", ["F1"])
    ready_district(p, "623", ["G1"])
    # G1's team not updated in the days before its session: ready with warnings
    p.submit("623", "staff", full_team("G1", "NV G1", updated=dt.date(2021, 7, 20)))
    r = assess(p.inputs(), rules, today=TODAY)
    assert r.facilities.set_index("facility_code").at["G1", "status"] == WARNINGS
    d = r.districts.set_index("district")
    assert d.at["623", "status"] == WARNINGS and d.at["623", "facilities_ready"] == 1
    assert d.at["623", "facilities_by_status"][WARNINGS] == 1
    js = to_json(r)
    assert js["province"]["facilities_ready"] == 2 and js["province"]["districts_ready"] == 2
    assert js["province"]["districts_by_status"] == {READY: 1, WARNINGS: 1, UNKNOWN: 0, NOT_READY: 0}
    assert {x["district"]: x["facilities_ready"] for x in js["districts"]} == {"622": 1, "623": 1}
    assert "2/2 facilities ready, 2/2 districts ready" in render_text(js)


# --- every output of one small province -------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("figures_campaign")
    manifest = generate_campaign(out, people=300, seed=2021)
    files = [f for f in manifest.files if f.district in DISTRICTS and f.kind in KINDS
             and dt.datetime.fromisoformat(f.planned_upload_at) <= NOW]
    return out, manifest, sorted(files, key=lambda f: (f.kind != "facilities", f.planned_upload_at, f.path))


def _numbers(text: str, pattern: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(pattern, text)]


def test_every_output_shows_the_same_figures(migrated_engine, generated, tmp_path, monkeypatch) -> None:
    import tasks.readiness as readiness_tasks
    from campaign.readiness import present as readiness_present
    from campaign.reports import run as reports
    from campaign.resources import Resources
    from campaign.store.models import ReadinessRecord
    from faces.portal.pages import province_board

    out, manifest, files = generated
    campaign = load_campaign()
    settings = Settings(home=tmp_path / "home")
    outcomes = []
    for f in files:
        req = IntakeRequest(path=out / f.path, district=f.district, kind=f.kind, facility=f.facility,
                            received_at=dt.datetime.fromisoformat(f.planned_upload_at))
        outcomes.append(run_intake(req, engine=migrated_engine, settings=settings, campaign=campaign).to_json())
    monkeypatch.setattr(readiness_tasks, "get_resources", lambda: Resources(settings, campaign, migrated_engine))

    # the CLI: `campaign readiness --json` is the summary of the readiness flow's task; its text too
    summary = json.loads(json.dumps(readiness_tasks.assess_readiness.fn(now=NOW.isoformat())))
    p = summary["province"]
    by_status = p["facilities_by_status"]
    assert by_status[READY] and by_status[WARNINGS] and by_status[NOT_READY] and by_status[UNKNOWN], by_status
    ready, total = by_status[READY] + by_status[WARNINGS], sum(by_status.values())
    assert (p["facilities_ready"], p["facilities_total"]) == (ready, total)
    districts = {d["district"]: d for d in summary["districts"]}
    for d in districts.values():
        b = d["facilities_by_status"]
        assert (d["facilities_ready"], d["facilities_total"]) == (b[READY] + b[WARNINGS], sum(b.values()))
    assert sum(d["facilities_ready"] for d in districts.values()) == ready
    per_district = {c: f"{d['facilities_ready']}/{d['facilities_total']}" for c, d in districts.items()}
    district_counts = (p["districts_ready"], p["districts_total"])
    assert p["districts_ready"] == sum(d["status"] in (READY, WARNINGS) for d in districts.values())
    text = render_text(summary)
    assert f"{ready}/{total} facilities ready, {district_counts[0]}/{district_counts[1]} districts ready" in text

    # the portal's board (the latest records of the run above)
    with Session(migrated_engine) as session:
        board = province_board(session, campaign, NOW)
        records = list(session.scalars(select(ReadinessRecord).where(ReadinessRecord.run_id == summary["run_id"])
                                       .order_by(ReadinessRecord.id)))
    assert {r["code"]: r["facilities"] for r in board["districts"] if r["facilities"]} == \
        {c: v for c, v in per_district.items() if districts[c]["facilities_total"]}

    # the Prefect artifacts the readiness flow publishes
    tables, markdown = readiness_present.readiness_artifacts(records, {})
    assert f"{ready}/{total} facilities ready, {district_counts[0]}/{district_counts[1]} districts ready" \
        in markdown["markdown"]
    for t in tables:
        code = t["key"].removeprefix("readiness-")
        assert f" {per_district[code]} facilities ready" in t["description"], t["description"]
        assert f"| {code}  | {districts[code]['status']} | {per_district[code]} |" in markdown["markdown"]

    # the province report, DOCX and PDF
    built = reports.compile_reports(migrated_engine, campaign, level="province", as_of=NOW, out_dir=tmp_path)
    [province] = built.built
    assert (province.figures["facilities_ready"], province.figures["facilities_total"]) == (ready, total)
    sentence = f"Số cơ sở tiêm chủng: {total}, trong đó sẵn sàng: {ready}."
    _headings, docx = _docx_text(province.files["docx"])
    assert sentence in docx and sentence in _pdf_text(province.files["pdf"])
    for status, n in by_status.items():   # the table of facilities by status, where there are some
        if n:
            assert re.search(rf"{re.escape(_status_text(status))}\n{n}\n", docx), (status, n)
    for code in DISTRICTS:
        district = reports.compile_reports(migrated_engine, campaign, level="district", units=[code], as_of=NOW,
                                           out_dir=tmp_path, formats=("docx",)).built[0]
        assert f"{district.figures['facilities_ready']}/{district.figures['facilities_total']}" == per_district[code]

    # the demo's summary prints the same counts as the CLI and the report
    summarized = demo.summarize(migrated_engine, outcomes, later=[], manifest=json.loads(
        (out / "manifest.json").read_text(encoding="utf-8")), paths={}, now=NOW, seconds=0.0, readiness=summary,
        reports=[b.to_json() for b in built.built])
    printed = demo.render_text(summarized)
    assert _numbers(printed, r"(\d+)/(\d+) facilities and") == [(ready, total)]
    assert _numbers(printed, r"(\d+)/(\d+) districts ready") == [district_counts]
    assert _numbers(printed, r"report: (\d+)/(\d+) facilities ready") == [(ready, total)]
    for code, d in summarized["readiness"]["districts"].items():
        assert f"{d['facilities_ready']}/{d['facilities_total']}" == per_district[code]
        assert f"  {code}: {d['status']} ({per_district[code]} facilities," in printed


def _status_text(status: str) -> str:
    from campaign.vocabulary import STATUS_LABELS as STATUS_TEXT

    return STATUS_TEXT[status]


def test_statuses_are_counted_in_one_order() -> None:
    assert list(count_facilities([])["facilities_by_status"]) == list(STATUSES)


def test_report_ii3_ii4_figures_equal_the_campaign_day_commands(migrated_engine, tmp_path) -> None:
    """Issue 20 part 5, count once: the built and stored reports' II.3/II.4 figures (province and a
    district) equal `campaign results-daily --json`, `campaign doses --latest --json`, `campaign stock --json`
    and `campaign aefi --json` on the same database (tests/report_during_support's small campaign)."""
    from campaign.reports import run as reports
    from campaign.store.models import ReportRecord
    from tests.report_during_support import build, cli, daily_args

    ids = build(migrated_engine, tmp_path)
    campaign = load_campaign()
    now = ids["now"]
    province = reports.compile_reports(migrated_engine, campaign, level="province", as_of=now,
                                       out_dir=tmp_path / "out", formats=("docx",)).built[0]
    district = reports.compile_reports(migrated_engine, campaign, level="district", units=["633"], as_of=now,
                                       out_dir=tmp_path / "out", formats=("pdf",)).built[0]
    with Session(migrated_engine) as s:      # what is stored is what is shown (JSON, read back)
        stored = s.get(ReportRecord, province.record_id).figures["during"]
    shown = json.loads(json.dumps(province.to_json()["figures"]["during"]))
    assert stored == shown
    days = [dt.date.fromisoformat(d["date"]) for d in shown["daily_results"]]
    daily = cli(migrated_engine, daily_args(now, days))
    assert shown["daily_results"] == [{"date": d["date"], **d["province"]} for d in daily["days"] if d["province"]]
    assert shown["doses"] == cli(migrated_engine, ["doses", "--latest", "--json"])["province"]
    stock = cli(migrated_engine, ["stock", "--json"])["summary"]["province"]
    assert {k: v for k, v in shown["stock"].items() if k != "lines"} == stock and stock["discrepancies"] >= 1
    aefi = cli(migrated_engine, ["aefi", "--json", "--at", now.isoformat()])["summary"]
    assert shown["aefi"] == aefi and province.figures["aefi_serious"] == aefi["serious"] == 1
    # the district's own report: its slice, equal to the commands run for that district
    mine = json.loads(json.dumps(district.figures["during"]))
    assert {k: v for k, v in mine["stock"].items() if k != "lines"} == \
        cli(migrated_engine, ["stock", "--json", "-d", "633"])["summary"]["province"]
    assert mine["aefi"] == cli(migrated_engine, ["aefi", "--json", "--at", now.isoformat(), "-d", "633"])["summary"]
    daily633 = cli(migrated_engine, [*daily_args(now, days), "-d", "633"])
    assert mine["daily_results"] == [{"date": d["date"], **d["districts"][0]} for d in daily633["days"] if d["districts"]]
