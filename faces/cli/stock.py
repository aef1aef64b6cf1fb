"""`campaign stock`: the stock ledgers reconciled against the results (issue 20.3): a read, no flow."""

from __future__ import annotations

import click

from faces.cli.common import district_or_exit, emit_json, say


@click.command()
@click.option("--district", "-d", default=None, help="Only this district (GSO code or name).")
@click.option("--lines", "limit", default=20, show_default=True, help="Discrepancy lines to print (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def stock(ctx: click.Context, district: str | None, limit: int, as_json: bool) -> None:
    """Vaccine stock per facility, product and day: the balance, doses given against vials opened, wastage,
    stock-out days and days of stock left at the planned pace."""
    from sqlalchemy.orm import Session

    from campaign.resources import get_resources
    from campaign.stock import present, rules
    from campaign.stock.run import reconcile_current

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    with Session(res.engine) as session:
        rec = reconcile_current(session, res.campaign, districts=[code] if code else None)
    summary = rules.summarize(rec)
    for line in present.summary_lines(summary["province"], "Toàn tỉnh" if code is None else f"Huyện {code}"):
        say(line)
    for line in present.finding_lines(rec.findings, None if limit == 0 else limit):
        say(f"  {line}")
    if as_json:
        emit_json(present.to_json(summary, rec.findings, rec.indicators))
