"""`campaign data purge`: personal data deleted by district, by date or past its retention."""

from __future__ import annotations

from typing import Any

import click

from faces.cli.common import (
    EXIT_FAILURE,
    EXIT_REFUSED,
    EXIT_USAGE,
    district_or_exit,
    emit_json,
    instant_or_exit,
    say,
)


@click.group()
def data() -> None:
    """Personal data held by the system: retention and deletion (docs/data-protection.md)."""


@data.command("purge")
@click.option("--district", "-d", default=None, help="The district whose data goes (GSO code or name).")
@click.option("--before", default=None,
              help="Only the submissions received before this time (ISO 8601; a date is its midnight, +07:00).")
@click.option("--expired", is_flag=True,
              help="Age-based retention: the submissions received more than CAMPAIGN_RETENTION_DAYS days ago.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted (rows per table, files); change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def data_purge(ctx: click.Context, district: str | None, before: str | None, expired: bool, dry_run: bool, yes: bool,
               as_json: bool) -> None:
    """Delete for good the personal data of a district (--district), of the submissions received before a
    time (--before), or past their retention (--expired): rows of every table that holds them and the
    files written from them, in one transaction. Aggregates without personal data stay (readiness
    history, reports, escalations). Exit 0 done (or a dry run), 2 usage error, 3 not confirmed, 1 an
    unexpected failure (then nothing was deleted) or files that could not be deleted after the commit
    (listed, to remove by hand)."""
    from campaign import clock
    from campaign.resources import get_resources
    from campaign.retention import PurgeError, PurgeScope, expired_before, purge, record_in_audit_log

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    if before and expired:
        say("usage error: --before and --expired are two ways to give the date: give one")
        ctx.exit(EXIT_USAGE)
    cutoff = instant_or_exit(ctx, before, "--before")
    if expired:
        if res.settings.retention_days is None:
            say("usage error: --expired needs CAMPAIGN_RETENTION_DAYS (how many days submissions are kept)")
            ctx.exit(EXIT_USAGE)
        cutoff = expired_before(clock.now(), res.settings.retention_days)
    try:
        scope = PurgeScope(district=code, before=clock.to_utc(cutoff) if cutoff is not None else None)
    except PurgeError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)

    def run(dry: bool) -> Any:
        return purge(res.engine, res.settings, scope, dry_run=dry, district_codes=res.campaign.district_codes,
                     record=record_in_audit_log)

    def show(report: Any) -> None:
        what = (f"huyện {scope.district}" if scope.district else "mọi huyện") + (
            f", nộp trước {clock.show_time(scope.before)}" if scope.before else "")
        verb = "sẽ xoá (dry run)" if report.dry_run else "đã xoá"
        say(f"{what}: {verb} {len(report.submissions)} lần nộp, {report.total_rows} dòng, {len(report.files)} tệp")
        for table, n in sorted(report.rows.items()):
            if n:
                say(f"  {table}: {n}")
        for path in report.files:
            say(f"  {path}")
        if report.master_list_rebuild:   # people linked across districts leave the list whole (retention.py)
            say(f"  {report.unlisted} dòng của huyện khác {'sẽ ra' if report.dry_run else 'đã ra'} khỏi danh sách "
                "hợp nhất cho tới lần chạy `campaign master-list` tiếp theo")

    if dry_run or not yes:   # what would go, shown before anyone is asked
        plan = run(dry=True)
        show(plan)
        if dry_run or (not plan.total_rows and not plan.files):
            if as_json:
                emit_json(plan.to_json())
            return
        try:
            confirmed = click.confirm("Xoá vĩnh viễn những dữ liệu này? / Delete this data for good?", default=False,
                                      err=True)
        except click.exceptions.Abort:
            confirmed = False
        if not confirmed:
            say("không xoá gì (not confirmed)")
            ctx.exit(EXIT_REFUSED)
    done = run(dry=False)
    show(done)
    if as_json:
        emit_json(done.to_json())
    if done.left_behind:
        say("these files could not be deleted after the commit; remove them by hand:")
        for path in done.left_behind:
            say(f"  {path}")
        ctx.exit(EXIT_FAILURE)
