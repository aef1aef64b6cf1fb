"""`campaign status` (issue 22.2): one screen for the province, every figure the one the other command or
board shows (count once), on a generated province, on SQLite and PostgreSQL; read-only (no flow started)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.resources import Resources
from campaign.settings import Settings
from campaign.synth import generate_campaign

NOW = dt.datetime(2021, 7, 28, 20, tzinfo=dt.timezone(dt.timedelta(hours=7)))
DISTRICTS = ("622", "624", "625")
KINDS = ("facilities", "infrastructure", "training", "communication", "staff")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("status_campaign")
    manifest = generate_campaign(out, people=300, seed=2021)
    files = [f for f in manifest.files if f.district in DISTRICTS and f.kind in KINDS
             and dt.datetime.fromisoformat(f.planned_upload_at) <= NOW]
    return out, sorted(files, key=lambda f: (f.kind != "facilities", f.planned_upload_at, f.path))


@pytest.fixture
def province(migrated_engine, generated, tmp_path, monkeypatch):
    """The generated province loaded as of NOW, plus what the status reads that intake does not make: a
    file rejected today, two pairs to review, reports awaiting approval and approved, escalation messages
    (one given up). The CLI reads this database (`get_resources` patched)."""
    import campaign.resources as resources
    from campaign.deadlines.run import escalate
    from campaign.master_list import store as ml_store
    from campaign.reports import store as report_store
    from campaign.store.models import OutboxMessage, ReviewPair

    out, files = generated
    campaign = load_campaign()
    settings = Settings(home=tmp_path / "home")
    for i, f in enumerate(files):   # the last file comes in today
        at = NOW - dt.timedelta(hours=2) if i == len(files) - 1 else dt.datetime.fromisoformat(f.planned_upload_at)
        run_intake(IntakeRequest(path=out / f.path, district=f.district, kind=f.kind, facility=f.facility,
                                 received_at=at), engine=migrated_engine, settings=settings, campaign=campaign)
    bad = tmp_path / "hong.csv"
    bad.write_text("cột lạ,khác\n1,2\n", encoding="utf-8")
    rejected = run_intake(IntakeRequest(path=bad, district="624", kind="staff", received_at=NOW - dt.timedelta(hours=1)),
                          engine=migrated_engine, settings=settings, campaign=campaign)
    assert rejected.to_json()["status"] == "rejected"
    with Session(migrated_engine) as s, s.begin():
        model = ml_store.add_model(s, {}, trained_rows=0, seconds=0.0)
        run = ml_store.add_run(s, flow_run_id=None, as_of=NOW, model_id=model.id, trained=False, rows=0, persons=0,
                               review_pairs=2)
        for i in range(2):
            s.add(ReviewPair(pair_key=f"p{i}", run_id=run.id, fingerprint_a=f"a{i}", fingerprint_b=f"b{i}",
                             submission_a=1, row_a=i + 1, submission_b=1, row_b=i + 3, match_probability=0.5,
                             reason="review"))
        for unit, version in (("622", 1), ("622", 2), ("624", 1)):
            report_store.add_version(s, level="district", unit=unit, version=version, as_of=NOW, flow_run_id=None,
                                     figures={}, files={})
        approved = report_store.report_record(s, "district", "624")
        approved.approved_at, approved.approved_by = NOW, "dieuphoi"
        escalate(s, campaign, NOW.astimezone(dt.UTC))
        first = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id).limit(1)).one()
        first.status = "failed"
    monkeypatch.setattr(resources, "get_resources", lambda: Resources(settings, campaign, migrated_engine))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return campaign, migrated_engine


def _cli(*args: str) -> tuple[dict, str]:
    from faces.cli import main

    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_every_line_is_the_figure_of_the_other_command(province) -> None:
    from campaign.readiness import present as readiness_present
    from campaign.readiness.run import assess_current
    from campaign.store.models import OutboxMessage, Submission

    campaign, engine = province
    status, text = _cli("status", "--now", NOW.isoformat())
    assert status["now"] == NOW.astimezone(dt.UTC).isoformat()

    # deadlines: the board of `campaign deadlines --json` at the same moment
    board, _ = _cli("deadlines", "--at", NOW.isoformat())
    overdue = {(d["deadline"], d["party"]) for d in board["deliverables"] if d["state"] == "overdue"}
    soon = {(d["deadline"], d["party"]) for d in board["deliverables"] if d["state"] == "due"
            and dt.datetime.fromisoformat(d["due_at"]) <= NOW + dt.timedelta(hours=24)}
    assert overdue and soon   # facility plans overdue since 17:00; district deadlines at midnight
    assert {(d["deadline"], d["party"]) for d in status["deadlines"]["overdue"]} == overdue
    assert {(d["deadline"], d["party"]) for d in status["deadlines"]["due_24h"]} == soon
    assert not any(d["deadline"] == "doh_central_report" for d in status["deadlines"]["due_24h"])   # 28 h away
    missing = {(d["deadline"], d["party"]): d["missing"] for d in board["deliverables"]}
    assert all(d["missing"] == missing[(d["deadline"], d["party"])] for d in status["deadlines"]["due_24h"])
    assert f"Quá hạn ({len(overdue)})" in text and f"Đến hạn trong 24 giờ tới ({len(soon)})" in text

    # readiness: what `campaign readiness --json` shows (the same assessment, not recorded by status)
    with Session(engine) as s:
        summary = readiness_present.to_json(assess_current(s, campaign, today=NOW.date()),
                                            names=readiness_present.district_names(campaign.district_codes))
    p = summary["province"]
    assert {k: status["readiness"]["province"][k] for k in ("facilities_ready", "facilities_total",
                                                             "districts_ready")} == \
        {k: p[k] for k in ("facilities_ready", "facilities_total", "districts_ready")}
    not_ready = {d["district"]: d for d in summary["districts"] if d["status"] not in ("ready", "ready_with_warnings")}
    assert not_ready and {d["district"] for d in status["readiness"]["not_ready"]} == set(not_ready)
    for d in status["readiness"]["not_ready"]:
        assert d["first_gap"] == (not_ready[d["district"]]["gaps"] or not_ready[d["district"]]["warnings"] or [None])[0]
    assert f"{p['facilities_ready']}/{p['facilities_total']} cơ sở" in text

    with Session(engine) as s:
        # uploads today (local day of NOW, up to NOW), from the submissions table
        start = NOW.replace(hour=0)
        counts = dict(s.execute(select(Submission.status, func.count()).where(
            Submission.received_at >= start, Submission.received_at <= NOW).group_by(Submission.status)).all())
        # messages, from the outbox
        outbox = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    u = status["uploads_today"]
    assert (u["accepted"], u["rejected"], u["withdrawn"]) == \
        (counts.get("accepted", 0), counts.get("rejected", 0), counts.get("withdrawn", 0))
    assert u["rejected"] >= 1 and u["accepted"] >= 1
    assert f"{u['accepted']} được nhận, {u['rejected']} bị từ chối" in text

    # pairs to review: `campaign review --json`
    review, _ = _cli("review")
    assert status["review"]["pairs"] == review["total"] == 2
    assert "chờ người xem xét (trùng hay khác người): 2" in text

    # reports: the latest version of each unit in `campaign report history --json`
    history, _ = _cli("report", "history")
    rows = history if isinstance(history, list) else history.get("history", history.get("reports", []))
    latest: dict = {}
    for r in rows:
        latest[(r["level"], r["unit"])] = r
    awaiting = {(r["level"], r["unit"], r["version"]) for r in latest.values() if not r["approved_at"]}
    approved = {(r["level"], r["unit"], r["version"]) for r in latest.values()
                if r["approved_at"] and not r["submitted_at"]}
    assert awaiting == {(r["level"], r["unit"], r["version"]) for r in status["reports"]["awaiting_approval"]} \
        == {("district", "622", 2)}
    assert approved == {(r["level"], r["unit"], r["version"]) for r in status["reports"]["approved_not_sent"]} \
        == {("district", "624", 1)}

    # messages: the outbox, as `campaign deadlines` counts them
    c = status["messages"]["counts"]
    assert (c["pending"], c["failed"], c["sent"]) == (outbox.get("pending", 0), outbox.get("failed", 0),
                                                      outbox.get("sent", 0))
    assert c["failed"] == 1 and c["pending"] >= 1
    assert len(status["messages"]["waiting"]) == c["pending"] + c["failed"] + c["sending"]
    assert f"{c['pending']} chờ gửi lại, {c['sending']} đang gửi, {c['failed']} đã bỏ cuộc" in text

    # flow runs: no Prefect API -> said unknown, plainly
    assert status["flow_runs"]["known"] is False and status["flow_runs"]["failed_or_crashed"] == []
    assert "không rõ" in text and "PREFECT_API_URL" in text


@pytest.fixture
def empty(migrated_engine, tmp_path, monkeypatch):
    """An empty province (nothing uploaded), read by the CLI."""
    import campaign.resources as resources

    monkeypatch.setattr(resources, "get_resources",
                        lambda: Resources(Settings(home=tmp_path / "home"), load_campaign(), migrated_engine))
    return migrated_engine


def test_failed_runs_are_listed_with_their_links(empty, monkeypatch) -> None:
    import faces.cli.status as cli_status

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    seen = {}

    def fake(api, real_now):
        seen["api"] = api
        return {"rows": [{"flow_run_id": "0c0ffee0-0000-4000-8000-000000000001", "run_name": "readiness-x",
                          "flow": "readiness", "flow_label": "readiness", "state": "CRASHED",
                          "state_label": "Đổ vỡ", "at": "20:00 28/07/2021", "message": "killed"}],
                "error": None, "days": 1}

    monkeypatch.setattr(cli_status, "read_flow_runs", fake)
    status, text = _cli("status", "--at", NOW.isoformat())
    assert seen["api"] == "http://127.0.0.1:4999/api"
    assert status["flow_runs"]["known"] is True and len(status["flow_runs"]["failed_or_crashed"]) == 1
    assert "http://127.0.0.1:4999/runs/flow-run/0c0ffee0-0000-4000-8000-000000000001" in text
    assert "(1)" in text.split("Lượt chạy lỗi")[1].splitlines()[0]


def test_an_unreachable_prefect_api_is_said_unknown(empty, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")   # nothing listens on the discard port
    status, text = _cli("status", "--at", NOW.isoformat())
    assert status["flow_runs"]["known"] is False and status["flow_runs"]["error"]
    assert "không rõ" in text


def test_status_starts_no_flow_and_no_prefect(tmp_path: Path) -> None:
    """Read-only: on a fresh SQLite home, `campaign status` neither imports the flows nor Prefect (so it can
    neither start a flow nor an ephemeral API), and exits 0."""
    env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path / "home"), "CAMPAIGN_NOW": NOW.isoformat()}
    env.pop("PREFECT_API_URL", None)
    env.pop("CAMPAIGN_DATABASE_URL", None)
    code = ("import sys\nfrom faces.cli import main\n"
            "try:\n    main(['status', '--json'], standalone_mode=False)\nfinally:\n"
            "    print(sorted(m for m in sys.modules if m == 'prefect' or m.startswith(('flows', 'tasks'))),"
            " file=sys.stderr)\n")
    from campaign.store.db import make_engine, migrate

    home = tmp_path / "home"
    home.mkdir()
    migrate(make_engine(f"sqlite:///{home / 'campaign.sqlite3'}"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert json.loads(done.stdout)["review"] == {"pairs": 0}
