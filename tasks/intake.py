"""Intake tasks: thin wrappers over campaign.intake; they own retries, caching and artifacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from campaign import clock
from campaign.config_reasons import load_reasons
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.resources import get_resources
from campaign.timing import Stopwatch


@task(name="intake-submission", cache_policy=NO_CACHE, task_run_name="intake-{kind}-{district}")
def intake_submission(path: str, district: str, kind: str, facility: str | None = None, channel: str = "cli",
                      submitted_by: str = "cli", received_at: str | None = None,
                      original_filename: str | None = None,
                      columns: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Read, standardize, gate and load one file in one transaction; returns the JSON summary.
    `columns`: headings read as given ({heading as written: field, None: ignore it})."""
    from prefect.runtime import flow_run

    res = get_resources()
    request = IntakeRequest(
        path=Path(path), district=district, kind=kind, facility=facility, channel=channel,
        submitted_by=submitted_by, received_at=clock.parse_instant(received_at) if received_at else None,
        original_filename=original_filename, flow_run_id=flow_run.get_id(),
        columns=dict(columns or {}),
    )
    watch = Stopwatch()
    outcome = run_intake(request, engine=res.engine, settings=res.settings, campaign=res.campaign, watch=watch)
    # where the time went, for the run's artifact (not part of the JSON summary's contract, docs/contracts.md)
    return {**outcome.to_json(), "stage_seconds": {k: round(v, 3) for k, v in watch.seconds.items()}}


@task(name="publish-intake-artifact", cache_policy=NO_CACHE)
def publish_intake_artifact(outcome: dict[str, Any]) -> None:
    """Counts per reason for the coordinator's view of the run (no personal data in it)."""
    reasons = load_reasons()
    table = [
        {"reason": code, "severity": reasons[code].severity if code in reasons.reasons else "",
         "rows": count}
        for code, count in outcome["reasons"].items()
    ]
    summary = (f"Submission {outcome['submission_id']} · district {outcome['district']} · {outcome['kind']} · "
               f"{outcome['status']}: {outcome['rows_loaded']} loaded, {outcome['rows_quarantined']} quarantined, "
               f"{outcome['rows_skipped']} skipped, {outcome['rows_with_warnings']} with warnings. "
               f"Feedback file: {outcome.get('feedback_file') or '-'}; Data Docs: {outcome.get('data_docs') or '-'}")
    timings = outcome.get("stage_seconds") or {}
    if timings:
        summary += " Seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) + "."
    key = f"{outcome['district']}-{outcome['kind'].replace('_', '-')}"
    create_table_artifact(key=f"intake-{key}", table=table or [{"reason": "-", "severity": "-", "rows": 0}],
                          description=summary)
    # How each column of the file was read: headings only, never a cell value.
    columns = [{"heading": h, "read_as": f} for h, f in (outcome.get("columns") or {}).items()]
    columns += [{"heading": h, "read_as": "(ignored)"} for h in outcome.get("columns_ignored") or []]
    if columns:
        create_table_artifact(key=f"intake-columns-{key}", table=columns,
                              description=f"How the columns of submission {outcome['submission_id']} were read")
    if outcome.get("data_docs"):
        # The validation's GX Data Docs page (no personal data in it); served by the portal later.
        create_link_artifact(key=f"data-docs-{key}", link=Path(outcome["data_docs"]).resolve().as_uri(),
                             link_text=f"GX Data Docs: submission {outcome['submission_id']}",
                             description=f"Great Expectations validation of submission {outcome['submission_id']}")


@task(name="emit-submission-event", cache_policy=NO_CACHE)
def emit_submission_event(outcome: dict[str, Any]) -> None:
    """campaign.submission.accepted / .rejected, for the deadline watch and automations."""
    if outcome["status"] not in ("accepted", "rejected"):
        return
    emit_event(
        event=f"campaign.submission.{outcome['status']}",
        resource={"prefect.resource.id": f"campaign.submission.{outcome['submission_id']}",
                  "prefect.resource.name": f"{outcome['district']}/{outcome['kind']}/v{outcome['version']}"},
        payload={k: outcome[k] for k in ("district", "kind", "facility", "rows_total", "rows_loaded",
                                         "rows_quarantined", "reasons")},
        occurred=dt.datetime.now(dt.UTC),
    )
