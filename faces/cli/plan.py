"""`campaign plan`: the vaccination sessions planned (a flow run), and `plan publish`."""

from __future__ import annotations

from pathlib import Path

import click

from faces.cli.common import (
    EXIT_REFUSED,
    EXIT_USAGE,
    district_or_exit,
    drain_prefect,
    emit_json,
    instant_or_exit,
    prepare,
    say,
)


@click.group(invoke_without_command=True)
@click.option("--from", "start", default=None, help="The plan's first day (YYYY-MM-DD or dd/mm/yyyy; default tomorrow).")
@click.option("--days", type=click.IntRange(1, 120), default=7, show_default=True, help="How many days to plan.")
@click.option("--district", "-d", default=None, help="Plan one district only (GSO code or name).")
@click.option("--publish", is_flag=True, help="Publish the plan: people are invited to its sessions, which later "
                                             "plans keep (needs --by).")
@click.option("--by", "by", default=None, help="Who publishes (name or e-mail).")
@click.option("--discard-published", is_flag=True, help="Plan afresh, not keeping the published sessions.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the invitation lists there (xlsx, one per facility, a sheet per session).")
@click.option("--at", "at", default=None, help="The run's logical time (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.pass_context
def plan(ctx: click.Context, start: str | None, days: int, district: str | None, publish: bool, by: str | None,
         discard_published: bool, out: Path | None, at: str | None, as_json: bool) -> None:
    """Plan the vaccination sessions (a Prefect flow run): per facility, day and part, the team on duty,
    product, lots and vials to open, and the people invited in hourly slots; who is left out and why.
    `campaign plan publish RUN_ID --by NAME` publishes a stored draft."""
    if ctx.invoked_subcommand is not None:
        return
    import datetime as dt

    from sqlalchemy.orm import Session

    from campaign.master_list.store import latest_run
    from campaign.planning import present as planning_present
    from campaign.planning import rules as planning_rules
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    moment = instant_or_exit(ctx, at, "--at")
    if publish and not (by or "").strip():
        say("usage error: --publish needs --by NAME (who publishes)")
        ctx.exit(EXIT_USAGE)
    first = None
    if start:
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                first = dt.datetime.strptime(start.strip(), fmt).date()
                break
            except ValueError:
                continue
        if first is None:
            say(f"usage error: --from {start!r} is not a date (YYYY-MM-DD or dd/mm/yyyy)")
            ctx.exit(EXIT_USAGE)
    with Session(res.engine) as session:
        if latest_run(session) is None:
            say("refused: no master list yet; run `campaign master-list` first")
            ctx.exit(EXIT_REFUSED)
    prepare()
    from flows.plan_sessions import plan_sessions_flow

    now = moment.isoformat() if moment is not None else None
    from faces.cli.progress import shown

    try:
        with shown(as_json):   # the stages on a terminal (faces.cli.progress)
            summary = plan_sessions_flow(start=first.isoformat() if first else None, days=days, district=code,
                                         now=now, publish_by=by.strip() if publish and by else None,
                                         keep_published=not discard_published, out_dir=str(out) if out else None)
    except planning_rules.PlanError as exc:
        say(f"refused: {exc}")
        ctx.exit(EXIT_REFUSED)
    finally:
        drain_prefect()
    say(planning_present.render_text(summary))
    if out is not None:
        say(f"{len(summary.get('invitation_lists', []))} invitation lists written to {out}")
    if as_json:
        emit_json(summary)


@plan.command("publish")
@click.argument("run_id", type=int)
@click.option("--by", "by", required=True, help="Who publishes (name or e-mail).")
@click.option("--at", "at", default=None, help="When (ISO 8601; default CAMPAIGN_NOW or now).")
@click.pass_context
def plan_publish(ctx: click.Context, run_id: int, by: str, at: str | None) -> None:
    """Publish a stored draft plan: its sessions are kept by every later plan of its scope."""
    from campaign import clock
    from campaign.planning import rules as planning_rules
    from campaign.planning import store as planning_store
    from campaign.resources import get_resources

    moment = instant_or_exit(ctx, at, "--at") or clock.now()
    try:
        planning_store.publish(get_resources().engine, run_id, by=by, at=clock.to_utc(moment))
    except planning_rules.PlanError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    say(f"plan {run_id} published by {by.strip()}")
