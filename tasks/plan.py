"""Planning tasks: thin wrappers over campaign.planning (run, store, present); they own the artifacts (no personal data:
figures per district and session, never names, phones or IDs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.planning import present as planning_present
from campaign.planning import run as planning
from campaign.planning import store as planning_store
from campaign.readiness.present import district_names
from campaign.resources import get_resources
from campaign.store.models import PlanSession


@task(name="make-plan", cache_policy=NO_CACHE)
def make_plan(start: str, days: int, district: str | None = None, now: str | None = None,
              publish_by: str | None = None, keep_published: bool = True) -> dict[str, Any]:
    """Plan and store; returns the summary of `campaign plan --json`."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    run_id = flow_run.get_id()
    result = planning.make_plan(res.engine, res.campaign, start=dt.date.fromisoformat(start), days=days, as_of=at,
                                district=district, keep_published=keep_published, publish_by=publish_by,
                                flow_run_id=str(run_id) if run_id else None)
    planning_store.discard_drafts(res.engine)
    return planning_present.to_json(result, names=district_names(res.campaign.district_codes))


@task(name="publish-plan-artifacts", cache_policy=NO_CACHE)
def publish_plan_artifacts(summary: dict[str, Any]) -> int:
    """The districts' figures, the quality of the plan, and the sessions (facility, day, product, lots,
    vials, people invited) as Prefect artifacts."""
    res = get_resources()
    p, q = summary["province"], summary["quality"]
    table = [{"district": f"{d['district']} {d.get('name') or ''}".strip(), "people_planned": d["planned"],
              "sessions": d["sessions"], "vials": d["vials"], "planned_wastage": d["wasted_doses"],
              **{f"unplanned_{k}": v for k, v in sorted(d["unplanned"].items())}} for d in summary["districts"]]
    create_table_artifact(
        key="plan-districts", table=table or [{"district": "-", "people_planned": 0}],
        description=f"Plan {summary['run_id']} from {summary['from']} for {summary['days']} days"
                    f"{' (published)' if summary['published'] else ''}: {p['planned']} people, "
                    f"{p['sessions']} sessions, {p['vials']} vials, {p['unplanned']} not planned")
    inv = q["priority_inversions"]
    lines = [f"# Plan {summary['run_id']}: quality", "",
             f"- capacity used: {q['capacity_used']}", f"- served in their own commune: {q['own_commune_share']}",
             f"- planned open-vial wastage: {q['wasted_doses']} doses (lower bound {q['wastage_lower_bound']}; "
             f"above it: {q['wastage_above_bound_share']:.3%} of doses)",
             f"- priority inversions: {inv['unexplained']} unexplained; explained {inv['explained']}",
             f"- published invitations kept {q['published_kept']}, freed {q['published_freed']}, "
             f"filled from standby lists {q['from_standby']}",
             "", "Not planned, by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(p["unplanned_by_reason"].items()))]
    create_markdown_artifact(key="plan-quality", markdown="\n".join(lines),
                             description=f"Plan {summary['run_id']}: quality figures")
    with Session(res.engine) as session:
        rows = session.execute(select(PlanSession.facility_code, PlanSession.date, PlanSession.part,
                                      PlanSession.product, PlanSession.lots, PlanSession.vials, PlanSession.invited,
                                      PlanSession.dose2, PlanSession.teams, PlanSession.team_source)
                               .where(PlanSession.run_id == summary["run_id"])
                               .order_by(PlanSession.date, PlanSession.facility_code).limit(500)).all()
    create_table_artifact(
        key="plan-sessions",
        table=[{"facility": r.facility_code, "date": f"{r.date:%d/%m/%Y}", "part": r.part, "product": r.product,
                "lots": r.lots, "vials": r.vials, "invited": r.invited, "dose2": r.dose2, "teams": r.teams,
                "team": r.team_source} for r in rows] or [{"facility": "-"}],
        description=f"Sessions of plan {summary['run_id']} (first 500 by date)")
    return len(rows)


@task(name="write-invitation-lists", cache_policy=NO_CACHE)
def write_invitation_lists(run_id: int, out_dir: str, district: str | None = None) -> list[str]:
    """The printable invitation lists (xlsx, one per facility) of a stored plan."""
    res = get_resources()
    with Session(res.engine) as session:
        paths = planning.write_invitation_lists(session, res.campaign, run_id, out_dir, district)
    return [str(p) for p in paths]
