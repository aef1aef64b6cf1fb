"""`campaign audit`: the audit log shown (`show`) and purged past its retention (`purge`)."""

from __future__ import annotations

import click

from faces.cli.common import EXIT_USAGE, district_or_exit, emit_json, instant_or_exit, say


@click.group()
def audit() -> None:
    """The audit log: who signed in, uploaded, downloaded, exported, approved or changed what, from where
    (the portal's page /tinh/nhat-ky shows the same to coordinators)."""


@audit.command("show")
@click.option("--user", "username", default=None, help="Only this account (its user name).")
@click.option("--district", "-d", default=None, help="Only this district (GSO code or name).")
@click.option("--action", default=None, help="Only this action (sign_in, access_denied, upload, ...).")
@click.option("--since", default=None, help="From this time (ISO 8601; a date is its midnight, +07:00).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print the events as one JSON object on stdout.")
@click.pass_context
def audit_show(ctx: click.Context, username: str | None, district: str | None, action: str | None,
               since: str | None, limit: int, as_json: bool) -> None:
    """The newest events first."""
    from sqlalchemy.orm import Session

    from campaign import audit as audit_log
    from campaign import clock
    from campaign.resources import get_resources
    from campaign.store.models import AUDIT_ACTIONS

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    if action is not None and action not in AUDIT_ACTIONS:
        say(f"usage error: --action {action!r}: one of {', '.join(AUDIT_ACTIONS)}")
        ctx.exit(EXIT_USAGE)
    start = instant_or_exit(ctx, since, "--since")
    filters = audit_log.Filters(username=username.lower() if username else None, district_code=code, action=action,
                                since=clock.to_utc(start) if start is not None else None)
    with Session(res.engine) as session:
        rows, total = audit_log.events(session, filters, page_size=limit)
        shown = [audit_log.as_json(e) for e in rows]
    for e in shown:
        target = " ".join(str(x) for x in (e["target_type"], e["target_id"], e["target_label"]) if x is not None)
        say(f"{e['at']}  {e['action']:<18} {e['outcome']:<8} {e['username'] or '-':<16} "
            f"{e['district_code'] or '-':<3} {e['client'] or '-':<15} {target}")
    say(f"{len(shown)} of {total} event(s)")
    if as_json:
        emit_json({"total": total, "events": shown})


@audit.command("purge")
@click.option("--days", default=None, type=click.IntRange(1, None),
              help="Keep this many days (default CAMPAIGN_AUDIT_RETENTION_DAYS).")
def audit_purge(days: int | None) -> None:
    """Delete the events older than the retention (real clock); the purge itself is recorded."""

    from campaign import audit as audit_log
    from campaign.resources import get_resources

    res = get_resources()
    retention = days if days is not None else res.settings.audit_retention_days
    from campaign.store.db import write_session
    with write_session(res.engine) as session:
        deleted = audit_log.purge(session, retention_days=retention)
    say(f"{deleted} event(s) older than {retention} days deleted")
