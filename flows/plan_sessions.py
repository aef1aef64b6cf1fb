"""Flow `plan-sessions`: who is vaccinated where, when, by which team, from which vial (wiring only; the
work is in campaign.planning)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from campaign.planning.run import default_start
from flows.hooks import note_flow_run
from flows.names import plan_name, run_name
from tasks.doses import link_doses
from tasks.plan import make_plan, publish_plan_artifacts, write_invitation_lists


@flow(name="plan-sessions", flow_run_name=run_name(plan_name, "plan-sessions"), log_prints=False, on_running=[note_flow_run])
def plan_sessions_flow(start: str | None = None, days: int = 7, district: str | None = None, now: str | None = None,
                       publish_by: str | None = None, keep_published: bool = True,
                       out_dir: str | None = None) -> dict[str, Any]:
    """`start`: the plan's first day (ISO date; default the day after the campaign clock's today); `days`:
    its length; `district`: one district (GSO code) or the province; `publish_by`: publish the plan at once
    (people are invited to its sessions); `keep_published`: keep the sessions of the published plan;
    `out_dir`: write the invitation lists there."""
    if start is None:
        start = default_start(now)
    link_doses(now)   # the latest results and backfill count before anyone is invited (issue 20.1)
    summary = make_plan(start, days, district, now, publish_by, keep_published)
    publish_plan_artifacts(summary)
    if out_dir:
        summary["invitation_lists"] = write_invitation_lists(summary["run_id"], out_dir, district)
    return summary
