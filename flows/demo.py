"""Flow `demo`: synthetic Gia Lai inputs -> every pipeline that exists -> a summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from campaign import clock, progress
from campaign.demo import planned_uploads, summarize
from campaign.resources import get_resources
from flows.campaign_days import run_campaign_days
from flows.compile_report import compile_report_flow
from flows.deadline_watch import deadline_watch_flow
from flows.doses import link_doses_flow
from flows.hooks import note_flow_run
from flows.master_list import master_list_flow
from flows.plan_sessions import plan_sessions_flow
from flows.readiness import readiness_flow
from tasks.demo import generate_inputs
from tasks.intake import intake_submission, publish_intake_artifact
from tasks.master_list import publish_master_list_outputs


@flow(name="demo", flow_run_name="demo-{people}-people", on_running=[note_flow_run])
def demo_flow(out_dir: str, people: int = 50_000, seed: int = 2021, now: str = clock.DEMO_NOW) -> dict[str, Any]:
    started = time.monotonic()
    at = clock.parse_instant(now)
    progress.report("generate")
    manifest_path = generate_inputs(out_dir, people, seed)
    uploads, later = planned_uploads(Path(manifest_path), at)
    # One task per file: the same intake stages as `campaign intake`, received at its planned time.
    outcomes = []
    for i, u in enumerate(uploads):
        progress.report("load files", i, len(uploads))   # the command line's bar (campaign.progress)
        outcome = intake_submission(u.path, u.district, u.kind, u.facility, "demo", "demo", u.planned_at)
        publish_intake_artifact(outcome)
        outcomes.append(outcome)
    # the portal: accounts for the coordinator and each district; one late file comes in through the pages
    portal = _portal_walkthrough(later, now)
    if (sent := portal.pop("file_path", None)) is not None:
        later = [u for u in later if u.path != sent]
    readiness = readiness_flow(now=now)   # a subflow run: its own run and artifacts in the UI
    master = master_list_flow(now=now)    # duplicates linked across districts, eligibility, invitation order
    master_outputs = publish_master_list_outputs(manifest_path)
    res = get_resources()
    # two weeks of sessions from tomorrow, published (people are invited), with printable invitation lists
    invitations_dir = res.settings.outputs_dir / "plans" / "invitations"
    plan = plan_sessions_flow(days=14, now=now, publish_by="demo: DoH coordinator", out_dir=str(invitations_dir))
    # each district's report and the province's, as DOCX and PDF, to approve and send (`campaign report`)
    reports = compile_report_flow(levels=["district", "province"], now=now)
    deadlines = deadline_watch_flow(now=now)   # what each party owes by when; escalations due by now
    # issue 20: the plan's first days held: results, backfill, stock ledgers, AEFI in at their times, and
    # at each day's end (21:00) the day's steps
    days = run_campaign_days(str(Path(out_dir) / "campaign_days"), days=3, seed=seed, steps=campaign_days_steps)
    if days["days"]:
        # the reports again as of the last day's end: a new version of each, with the campaign days (results,
        # stock, AEFI), and the daily progress artifacts with their columns
        days["reports"] = compile_report_flow(levels=["district", "province"], now=days["days"][-1]["now"])["reports"]
    paths = {
        "database": res.settings.resolved_database_url,
        "inputs": out_dir,
        "manifest": manifest_path,
        "stored_originals": str(res.settings.files_dir),
        "feedback_files": str(res.settings.outputs_dir / "feedback"),
        "data_docs": str(res.settings.home / "data_docs"),
        "prefect_home": os.environ.get("PREFECT_HOME", ""),
        **master_outputs["paths"],
        "invitation_lists": str(invitations_dir),
        "reports": str(res.settings.outputs_dir / "reports"),
        "portal_accounts": portal.get("accounts_file", ""),
    }
    summary = summarize(res.engine, outcomes, later=later, manifest=json.loads(Path(manifest_path).read_text()),
                        paths=paths, now=at, seconds=time.monotonic() - started, readiness=readiness,
                        deadlines=deadlines, master_list={**master, "quality": master_outputs["quality"],
                                                             "exported_districts": master_outputs["exported_districts"],
                                                             "exported_people": master_outputs["exported_people"]},
                        plan=plan, reports=reports["reports"], portal=portal, campaign_days=days)
    create_markdown_artifact(key="demo-summary", markdown="```json\n" + json.dumps(summary, indent=1,
                             ensure_ascii=False)[:20000] + "\n```", description="Demo summary")
    return summary


def campaign_days_steps(day: str, now: str) -> dict[str, Any]:
    """The end of one campaign day (issue 20), once the day's files are in: `day` ISO date, `now` its logical
    end (21:00 Gia Lai time). In order: the day's results and backfill linked to people (20.1, their dose
    history: who is not invited again), then the deadline watch, which publishes the daily results (20.2),
    the stock ledgers reconciled (20.3) and the AEFI investigations (20.4), escalates what is due (the
    serious AEFI's 24-hour clock, a facility's late or missing results) and delivers the outbox. Each step's
    figures go into the summary's `campaign_days` block under its key."""
    out: dict[str, Any] = {}
    doses = link_doses_flow(now=now)
    out["doses"] = {k: doses.get(k) for k in ("rows", "linked", "unlinked", "ambiguous", "conflicts",
                                               "persons_changed")}
    out["deadlines"] = deadline_watch_flow(now=now)   # the day's deliverables and escalations as of its end
    return out


def _portal_walkthrough(later: list[Any], now: str) -> dict[str, Any]:
    from faces.portal.demo import ensure_accounts, upload_through_portal

    res = get_resources()
    accounts_file = res.settings.home / "demo" / "portal-accounts.csv"
    created = ensure_accounts(res, accounts_file)
    out: dict[str, Any] = {"accounts_file": str(accounts_file), "accounts_created": len(created)}
    # the first file still to come (snapshot kinds first: an event file may need facilities not yet sent)
    pending = sorted(later, key=lambda u: u.kind in ("vaccinations", "aefi", "backfill"))
    if pending:
        u = pending[0]
        out["upload"] = upload_through_portal(res, district=u.district, kind=u.kind, path=Path(u.path),
                                              facility=u.facility, password=created.get(f"huyen{u.district}"),
                                              now=now)
        out["file_path"] = u.path
    return out
