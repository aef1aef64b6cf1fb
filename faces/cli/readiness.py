"""`campaign readiness`: the readiness flow run, or the history of earlier runs."""

from __future__ import annotations

import click

from campaign.settings import get_settings
from faces.cli.common import (
    EXIT_USAGE,
    district_or_exit,
    drain_prefect,
    emit_json,
    handed_over,
    logical_now,
    prepare,
    say,
)


@click.command()
@click.option("--district", "-d", default=None, help="Only this district (GSO code or name), with its facilities.")
@click.option("--at", "at", default=None, help="The moment to assess (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--history", is_flag=True, help="Show the statuses of earlier runs instead of running one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def readiness(ctx: click.Context, district: str | None, at: str | None, history: bool, as_json: bool) -> None:
    """Readiness of every facility and district (infrastructure, training, teams, communication), as a
    Prefect flow run; kept as history."""
    from campaign.config import load_campaign

    code = district_or_exit(ctx, district, load_campaign(get_settings().config))
    if history:
        from sqlalchemy.orm import Session

        from campaign.readiness.store import history as read_history
        from campaign.resources import get_resources

        with Session(get_resources().engine) as session:
            runs = read_history(session, district=code)
        for r in runs:
            say(f"{r['as_of']}: {r['status']} {r['facilities_ready']}/{r['facilities_total']} facilities ready")
        if as_json:
            emit_json({"district": code, "history": runs})
        return
    if at:
        from campaign import clock

        try:
            clock.parse_instant(at)
        except ValueError as exc:
            say(f"usage error: --at {at!r}: {exc}")
            ctx.exit(EXIT_USAGE)
    served = handed_over("readiness", {"now": at or logical_now(), "district": code})
    if served is not None:
        summary, text = served["result"], served["text"]
    else:
        prepare()
        from flows.readiness import readiness_flow

        summary = readiness_flow(now=at, district=code)
        drain_prefect()
        from campaign.readiness.present import render_text

        text = render_text(summary)
    say(text)
    if as_json:
        emit_json(summary)
