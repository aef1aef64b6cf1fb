"""Deadlines: `campaign deadlines` (the board), `deadlines extend` (`campaign.deadlines.extension`) and
`watch` (the deadline watch once, a flow run)."""

from __future__ import annotations

import click

from faces.cli.common import EXIT_USAGE, drain_prefect, emit_json, instant_or_exit, prepare, say


@click.group(invoke_without_command=True)
@click.option("--at", "at", default=None, help="The moment to look at (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the board as one JSON object on stdout.")
@click.pass_context
def deadlines(ctx: click.Context, at: str | None, as_json: bool) -> None:
    """The board: every party's deliverables with their state, and the escalations sent. Sends nothing
    (`campaign watch` sends)."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.deadlines.run import board
    from campaign.resources import get_resources

    moment = instant_or_exit(ctx, at, "--at") or clock.now()
    res = get_resources()
    with Session(res.engine) as session:
        summary = board(session, res.campaign, clock.to_utc(moment))
    sources: dict[str, str] = {}
    for d in summary["deliverables"]:
        due = clock.local(clock.parse_instant(d["due_at"]))
        missing = f" · missing: {', '.join(d['missing'])}" if d["missing"] else ""
        # a date the province set itself is said so, never worded as the directive's
        own = " [hạn theo quyết định của tỉnh]" if d.get("source") == "province" else ""
        sources.setdefault(d["deadline"], d.get("source_text", ""))
        say(f"{d['deadline']:<24} {d['party']:<4} {d['state']:<13} due {due:%d/%m/%Y %H:%M}{own}{missing}")
    for deadline, text in sources.items():
        say(f"{deadline}: {text}")
    for p in summary.get("parties_without_deadline", []):
        say(f"{p['name']} (không có hạn nộp trong Công văn): " + "; ".join(t["task"] for t in p["tasks"]))
    from campaign.deadlines.present import delivery_counts

    n = delivery_counts(summary["escalations_sent"])
    say(f"{n['written']} escalation messages written so far: {n['delivered']} delivered, "
        f"{n['sending']} being sent, {n['pending']} waiting for a retry, {n['failed']} given up")
    if as_json:
        emit_json(summary)


@deadlines.command("extend")
@click.argument("deadline")
@click.option("--party", required=True, help="A district (GSO code or name), 'doh', or 'all'.")
@click.option("--to", "to", required=True, help="The new due time (ISO 8601; no offset means +07:00).")
@click.option("--reason", required=True, help="Why (shown on the board and in the messages).")
@click.option("--by", "by", default="cli", show_default=True, help="Who moves it.")
@click.pass_context
def deadlines_extend(ctx: click.Context, deadline: str, party: str, to: str, reason: str, by: str) -> None:
    """Move DEADLINE for one party or all, without editing files; recorded with who, when and why."""
    import datetime as dt

    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.deadlines.extension import ExtensionError, extension_target, record_extension
    from campaign.resources import get_resources

    res = get_resources()
    try:
        target = extension_target(res.campaign, deadline, party)
    except ExtensionError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    due = instant_or_exit(ctx, to, "--to")
    with Session(res.engine) as session, session.begin():
        record_extension(session, target, due_at=due, reason=reason, by=by, at=dt.datetime.now(dt.UTC))
    say(f"{deadline} for {target.party}: due {clock.local(due):%d/%m/%Y %H:%M} ({reason})")


@click.command()
@click.option("--at", "at", default=None, help="The moment to watch at (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def watch(ctx: click.Context, at: str | None, as_json: bool) -> None:
    """Run the deadline watch once (a flow run): send every escalation step due at that moment, once."""
    moment = instant_or_exit(ctx, at, "--at")
    prepare()
    from flows.deadline_watch import deadline_watch_flow

    summary = deadline_watch_flow(now=moment.isoformat() if moment else None)
    drain_prefect()
    d = summary["delivery"]
    say(f"{len(summary['written_now'])} escalation steps written now; {d['sent']} messages sent, "
        f"{d['failed']} failed (retried later), {d['given_up']} given up")
    if as_json:
        emit_json(summary)
