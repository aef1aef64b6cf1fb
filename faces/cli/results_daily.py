"""`campaign results-daily`: each facility's results of a session day against the published plan, per
district and day (completeness and timeliness, people invited and vaccinated, no-shows, walk-ins). Reads
only: the deadline watch chases the facilities (`campaign watch`)."""

from __future__ import annotations

import datetime as dt

import click

from faces.cli.common import EXIT_USAGE, district_or_exit, emit_json, instant_or_exit, say


def _day_or_exit(ctx: click.Context, text: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    say(f"usage error: --date {text!r}: expected YYYY-MM-DD or DD/MM/YYYY")
    ctx.exit(EXIT_USAGE)
    raise AssertionError  # unreachable: ctx.exit raises


@click.command("results-daily")
@click.option("--date", "day", default=None, help="The session day (YYYY-MM-DD or DD/MM/YYYY; default: the day of --at).")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 62),
              help="This many days, ending with --date.")
@click.option("--district", "-d", default=None, help="Only this district (GSO code or name).")
@click.option("--at", "at", default=None, help="As of this moment (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--facilities", is_flag=True, help="Also list each facility's state and figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object on stdout.")
@click.pass_context
def results_daily(ctx: click.Context, day: str | None, days: int, district: str | None, at: str | None,
                  facilities: bool, as_json: bool) -> None:
    """Daily results per district and day: sessions held vs planned, facilities reporting on time / late /
    not at all (completeness and timeliness %), people invited and vaccinated, no-shows, walk-ins."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.daily_results import present
    from campaign.daily_results import run as daily
    from campaign.readiness.present import district_names
    from campaign.resources import get_resources

    res = get_resources()
    if res.campaign.daily_results is None:
        say("usage error: the campaign file has no `daily_results` block")
        ctx.exit(EXIT_USAGE)
    code = district_or_exit(ctx, district, res.campaign)
    moment = instant_or_exit(ctx, at, "--at") or clock.now()
    last = _day_or_exit(ctx, day) if day else clock.local(moment).date()
    wanted = [last - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    now = clock.to_utc(moment)
    with Session(res.engine) as session:
        fig = daily.figures(session, res.campaign, now, wanted, [code] if code else None)
    doc = present.figures_json(fig, now, wanted)
    if code:
        doc["district"] = code
    for line in present.text_lines(doc, district_names(res.campaign.district_codes), facilities=facilities):
        say(line)
    if as_json:
        emit_json(doc)
