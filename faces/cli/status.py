"""`campaign status`: the province on one screen as of now (`campaign.status`). Read-only: no flow is
started, and Prefect's API is only asked (never started) for the flow runs that failed or crashed."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import click

from faces.cli.common import emit_json, instant_or_exit, say


def status_api_url() -> str | None:
    """The Prefect API `campaign status` reads the flow runs from: PREFECT_API_URL, else the server `campaign
    serve` noted it listens on (`campaign.prefect_server.discover`: a stale note is ignored); None when there
    is neither (then the runs are said unknown; nothing is started)."""
    from campaign.prefect_server import discover
    from campaign.settings import get_settings

    found = discover(get_settings().home)
    return found.api_url if found is not None else None


def run_link(api: str | None):
    """flow run id -> its page in the Prefect UI (PREFECT_UI_URL, else the API's URL without /api)."""
    ui = os.environ.get("PREFECT_UI_URL") or (api.rstrip("/").removesuffix("/api") if api else None)
    return (lambda run_id: f"{ui.rstrip('/')}/runs/flow-run/{run_id}") if ui else None


def read_flow_runs(api: str | None, real_now: dt.datetime) -> dict[str, Any] | None:
    """The flow runs that failed or crashed in the last 24 h (real clock), as the portal's board reads them
    (`faces.portal.runs.read_troubled_runs`, one short timeout); None without an API."""
    if not api:
        return None
    from campaign.status.present import RUN_HOURS
    from faces.portal.runs import read_troubled_runs

    return read_troubled_runs(api, now=real_now, days=RUN_HOURS / 24)


@click.command()
@click.option("--at", "--now", "at", default=None,
              help="The moment to look at (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object on stdout.")
@click.pass_context
def status(ctx: click.Context, at: str | None, as_json: bool) -> None:
    """Where the province stands: deadlines overdue and due in 24 h, districts not ready, uploads today,
    pairs to review, reports to approve, failed flow runs, messages not delivered. Starts no flow."""
    from campaign import clock

    summary = show_status(clock.to_utc(instant_or_exit(ctx, at, "--at") or clock.now()))
    if as_json:
        emit_json(summary)


def show_status(moment: dt.datetime) -> dict[str, Any]:
    """Read the status as of `moment` (UTC), print its screen on stderr, return its summary: `campaign
    status`, and the end of `campaign demo`."""
    from sqlalchemy.orm import Session

    from campaign.resources import get_resources
    from campaign.status.present import render_text
    from campaign.status.run import status as read_status

    real_now = dt.datetime.now(dt.UTC)
    api = status_api_url()
    runs = read_flow_runs(api, real_now)
    res = get_resources()
    with Session(res.engine) as session:
        summary = read_status(session, res.campaign, moment, flow_runs=runs, real_now=real_now)
    say(render_text(summary, run_link=run_link(api)))
    return summary
