"""`campaign aefi`: the adverse events after immunization in force at a moment: cases, the investigations
of the serious ones and their 24-hour clocks, rates per 100,000 doses by product and lot, lots flagged.
Reads only (the deadline watch sends the escalations)."""

from __future__ import annotations

import click

from faces.cli.common import district_or_exit, emit_json, instant_or_exit, say


@click.command()
@click.option("--at", "at", default=None, help="The moment to look at (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--district", "-d", default=None, help="Only this district's cases (GSO code or name); rates stay the province's.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def aefi(ctx: click.Context, at: str | None, district: str | None, as_json: bool) -> None:
    """AEFI cases, serious cases' investigations and their clocks, rates per 100,000 doses, lots flagged."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.aefi.present import assessment_json, render_text
    from campaign.aefi.run import assess
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    moment = instant_or_exit(ctx, at, "--at") or clock.now()
    with Session(res.engine) as session:
        result = assessment_json(assess(session, res.campaign, clock.to_utc(moment)), district=code)
    say(render_text(result))
    if as_json:
        emit_json(result)
