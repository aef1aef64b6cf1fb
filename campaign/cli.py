"""The `campaign` command line: a stable contract (DESIGN.md) that tests and scripts rely on.

Exit codes: 0 done (intake: accepted or duplicate), 3 refused by a rule (intake: rejected), 2 usage error,
1 unexpected failure. `--json` prints one JSON object on stdout; human output goes to stderr.
Prefect is imported only by the commands that start flows, after the environment is configured.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from campaign.settings import get_settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _say(text: str) -> None:
    click.echo(text, err=True)


def _prepare() -> None:
    """Environment defaults for Prefect/GX, before they are imported."""
    from campaign.runtime import configure_environment

    configure_environment(get_settings())


def _drain_prefect() -> None:
    """Let Prefect's event worker deliver what it holds before the process exits (DESIGN.md pitfall)."""
    try:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=30)
    except Exception:  # noqa: BLE001 - draining is best effort; the run's result already stands
        pass


class CampaignGroup(click.Group):
    """Turns unexpected exceptions into exit 1 with a short message (the traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001
            from campaign.config import ConfigError
            from campaign.store.bulk import connection_lost_text

            if isinstance(exc, ConfigError):
                _say(f"configuration error:\n{exc}")
            elif (lost := connection_lost_text(exc)) is not None:
                _say(lost)   # not "unexpected": a database restart or a network cut; the person can try again
            else:
                _say(f"unexpected failure: {type(exc).__name__}: {exc}")
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            ctx.exit(EXIT_FAILURE)


@click.group(cls=CampaignGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Print tracebacks of unexpected failures.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Campaign readiness orchestrator for directive 1038/UBND-KGVX (Gia Lai, 2021).

    Settings come from the environment: CAMPAIGN_DATABASE_URL (default: a SQLite file under ./var),
    CAMPAIGN_CONFIG (the campaign YAML), CAMPAIGN_NOW (the logical clock, ISO 8601, +07:00 when no offset),
    CAMPAIGN_HOME (./var).
    """
    ctx.obj = {"debug": debug}
    # Every command writes personal data (the database, exports, files): owner-only, whatever the shell's umask.
    from campaign.files import private_umask

    private_umask()
    # Fail at start on a bad config file, naming file, key and reason.
    from campaign.config import load_campaign, load_input_kinds, load_reasons

    load_campaign(get_settings().config)
    load_input_kinds()
    load_reasons()


@main.command()
@click.option("--people", type=click.IntRange(100, 2_000_000), default=50_000, show_default=True,
              help="People in the province's target lists (the whole province is about 1,000,000).")
@click.option("--seed", type=int, default=2021, show_default=True, help="Seed of the synthetic data.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the generated district files (default: CAMPAIGN_HOME/demo/inputs).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
def demo(people: int, seed: int, out_dir: Path | None, as_json: bool) -> None:
    """Generate a synthetic Gia Lai 2021 campaign and run every pipeline on it, as of CAMPAIGN_NOW
    (default 2021-07-28 08:00 +07:00, the day the directive's annex is dated)."""
    import os

    from campaign import clock

    settings = get_settings()
    now = os.environ.get("CAMPAIGN_NOW") or clock.DEMO_NOW
    out_dir = (out_dir or settings.home / "demo" / "inputs").resolve()
    _prepare()
    _say(f"Generating {people} people and running the pipelines as of {clock.parse_instant(now).isoformat()} ...")
    from flows.demo import demo_flow

    summary = demo_flow(out_dir=str(out_dir), people=people, seed=seed, now=now)
    _drain_prefect()
    from campaign.demo import render_text

    _say(render_text(summary))
    if as_json:
        _emit_json(summary)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def templates(directory: Path) -> None:
    """Write blank Excel templates for every input kind into DIRECTORY (dropdowns for coded columns)."""
    from campaign.io.templates import write_templates

    for path in write_templates(directory):
        _say(str(path))


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--district", "-d", required=True, help="GSO code (633) or name, with or without diacritics.")
@click.option("--kind", "-k", required=True, help="Input kind, e.g. target_list, facilities, staff.")
@click.option("--facility", "-f", default=None, help="Facility code, when the file is for one facility.")
@click.option("--by", "submitted_by", default="cli", show_default=True, help="Who submits (kept with it).")
@click.option("--column", "column_specs", multiple=True, metavar='"HEADING=FIELD"',
              help='Read the column headed HEADING as FIELD of the kind (e.g. "Số giấy tờ=id_number"); '
                   '"HEADING=" or "HEADING=-" ignores it. Repeatable. Saved for the district and kind: its later '
                   'files with that heading are read the same way (see `campaign mappings`).')
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def intake(ctx: click.Context, file: Path, district: str, kind: str, facility: str | None, submitted_by: str,
           column_specs: tuple[str, ...], as_json: bool) -> None:
    """Read, check and load one district FILE (.xlsx, .xls, .csv) as a submission of KIND."""
    from campaign.intake import IntakeRequest, UsageError, resolve_request
    from campaign.resources import get_resources

    try:
        district_code, kind = resolve_request(IntakeRequest(file, district, kind, facility, submitted_by=submitted_by),
                                             get_resources().campaign)
    except UsageError as exc:
        _say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    columns = _columns_or_exit(ctx, column_specs, kind)
    if columns:
        _save_columns(district_code, kind, columns, submitted_by)
    _prepare()
    from flows.intake import intake_flow

    outcome = intake_flow(path=str(file.resolve()), district=district_code, kind=kind, facility=facility,
                          channel="cli", submitted_by=submitted_by, columns=columns or None)
    _drain_prefect()
    if columns and "columns" in outcome:
        from campaign.io.headers import heading_key

        found = {heading_key(h) for h in (*outcome.get("columns", {}), *outcome.get("columns_ignored", []))}
        for heading in columns:
            if heading_key(heading) not in found:
                _say(f"note: no column headed {heading!r} in this file (its reading is saved for later files)")
    _say(f"submission {outcome['submission_id']}: {outcome['status']} · {outcome['rows_loaded']} loaded, "
         f"{outcome['rows_quarantined']} quarantined, {outcome['rows_skipped']} skipped, "
         f"{outcome['rows_with_warnings']} with warnings" + (f" · {outcome['message']}" if outcome.get("message") else ""))
    for code, count in outcome["reasons"].items():
        _say(f"  {code}: {count}")
    if outcome.get("columns"):
        _say("columns read: " + ", ".join(f"{h!r} -> {f}" for h, f in outcome["columns"].items()))
    if outcome.get("columns_ignored"):
        _say("columns not read: " + ", ".join(repr(h) for h in outcome["columns_ignored"])
             + " (a correction: --column \"HEADING=FIELD\")")
    if outcome.get("feedback_file"):
        _say(f"feedback file: {outcome['feedback_file']}")
    if outcome.get("data_docs"):
        _say(f"data docs: {outcome['data_docs']}")
    if as_json:
        _emit_json(outcome)
    ctx.exit(EXIT_REFUSED if outcome["status"] == "rejected" else EXIT_OK)


@main.command()
@click.option("--district", "-d", default=None, help="Only this district (GSO code or name), with its facilities.")
@click.option("--at", "at", default=None, help="The moment to assess (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--history", is_flag=True, help="Show the statuses of earlier runs instead of running one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def readiness(ctx: click.Context, district: str | None, at: str | None, history: bool, as_json: bool) -> None:
    """Readiness of every facility and district (infrastructure, training, teams, communication), as a
    Prefect flow run; kept as history."""
    from campaign.resources import get_resources

    res = get_resources()
    code = _district_or_exit(ctx, district, res.campaign)
    if history:
        from sqlalchemy.orm import Session

        from campaign.readiness import history as read_history

        with Session(res.engine) as session:
            runs = read_history(session, district=code)
        for r in runs:
            _say(f"{r['as_of']}: {r['status']} {r['facilities_ready']}/{r['facilities_total']} facilities ready")
        if as_json:
            _emit_json({"district": code, "history": runs})
        return
    if at:
        from campaign import clock

        try:
            clock.parse_instant(at)
        except ValueError as exc:
            _say(f"usage error: --at {at!r}: {exc}")
            ctx.exit(EXIT_USAGE)
    _prepare()
    from flows.readiness import readiness_flow

    summary = readiness_flow(now=at, district=code)
    _drain_prefect()
    from campaign.readiness import render_text

    _say(render_text(summary))
    if as_json:
        _emit_json(summary)


def _columns_or_exit(ctx: click.Context, specs: tuple[str, ...], kind: str) -> dict[str, str | None]:
    """`--column "Heading=field"` options -> {heading: field, None: ignore}; exit 2 on a malformed one or
    a field the kind does not have (naming the valid fields)."""
    from campaign.column_mappings import field_choices

    valid = [c["name"] for c in field_choices(kind)]
    columns: dict[str, str | None] = {}
    for spec in specs:
        heading, sep, field = spec.rpartition("=")
        heading, field = heading.strip(), field.strip()
        if not sep or not heading:
            _say(f'usage error: --column {spec!r}: expected "HEADING=FIELD" (or "HEADING=" to ignore the column)')
            ctx.exit(EXIT_USAGE)
        if field in ("", "-"):
            columns[heading] = None
        elif field in valid:
            columns[heading] = field
        else:
            _say(f"usage error: --column {spec!r}: {kind} has no field {field!r}; valid fields: {', '.join(valid)} "
                 f"(or nothing / '-' to ignore the column)")
            ctx.exit(EXIT_USAGE)
    return columns


def _save_columns(district: str, kind: str, columns: dict[str, str | None], by: str) -> None:
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.column_mappings import save_mappings
    from campaign.resources import get_resources

    engine = get_resources().engine.execution_options(sqlite_begin="IMMEDIATE")
    with Session(engine) as session, session.begin():
        save_mappings(session, district, kind, columns, by=by, at=clock.to_utc(clock.now()))


def _district_or_exit(ctx: click.Context, text: str | None, campaign: Any) -> str | None:
    """A district given by GSO code or name (with or without diacritics) -> its code; exit 2 if unknown."""
    if not text:
        return None
    from campaign.domain.admin_units import get_admin_units

    found = get_admin_units().resolve_district(text, campaign.province.code)
    if found.status != "found" or found.unit.code not in campaign.district_codes:
        _say(f"usage error: unknown district {text!r}")
        ctx.exit(EXIT_USAGE)
    return found.unit.code


def _instant_or_exit(ctx: click.Context, text: str | None, option: str):
    from campaign import clock

    if text is None:
        return None
    try:
        return clock.parse_instant(text)
    except ValueError as exc:
        _say(f"usage error: {option} {text!r}: {exc}")
        ctx.exit(EXIT_USAGE)


@main.group(invoke_without_command=True)
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
    from campaign.resources import get_resources
    from campaign.watch import board

    moment = _instant_or_exit(ctx, at, "--at") or clock.now()
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
        _say(f"{d['deadline']:<24} {d['party']:<4} {d['state']:<13} due {due:%d/%m/%Y %H:%M}{own}{missing}")
    for deadline, text in sources.items():
        _say(f"{deadline}: {text}")
    for p in summary.get("parties_without_deadline", []):
        _say(f"{p['name']} (không có hạn nộp trong Công văn): " + "; ".join(t["task"] for t in p["tasks"]))
    messages = summary["escalations_sent"]
    delivered = sum(1 for m in messages if m["delivered_at"])
    _say(f"{len(messages)} escalation messages written so far: {delivered} delivered, "
         f"{sum(1 for m in messages if m['status'] == 'sending')} being sent, "
         f"{sum(1 for m in messages if m['status'] == 'pending')} waiting for a retry, "
         f"{sum(1 for m in messages if m['status'] == 'failed')} given up")
    if as_json:
        _emit_json(summary)


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
    from campaign.resources import get_resources
    from campaign.store.models import DeadlineExtension

    res = get_resources()
    known = {d.id: d for d in res.campaign.deadlines}
    if deadline not in known:
        _say(f"usage error: unknown deadline {deadline!r}; expected one of: {', '.join(known)}")
        ctx.exit(EXIT_USAGE)
    if party.lower() in ("all", "*"):
        code = "*"
    elif party.lower() == "doh":
        code = "doh"
    else:
        from campaign.domain.admin_units import get_admin_units

        found = get_admin_units().resolve_district(party, res.campaign.province.code)
        if found.status != "found" or found.unit.code not in res.campaign.district_codes:
            _say(f"usage error: unknown party {party!r}")
            ctx.exit(EXIT_USAGE)
        code = found.unit.code
    if (code == "doh") != (known[deadline].party == "doh") and code != "*":
        _say(f"usage error: {deadline} is owed by {known[deadline].party}, not by {party}")
        ctx.exit(EXIT_USAGE)
    due = _instant_or_exit(ctx, to, "--to")
    with Session(res.engine) as session, session.begin():
        session.add(DeadlineExtension(deadline_id=deadline, party=code, due_at=clock.to_utc(due), reason=reason,
                                      created_by=by, created_at=dt.datetime.now(dt.UTC)))
    _say(f"{deadline} for {code}: due {clock.local(due):%d/%m/%Y %H:%M} ({reason})")


@main.command()
@click.option("--at", "at", default=None, help="The moment to watch at (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def watch(ctx: click.Context, at: str | None, as_json: bool) -> None:
    """Run the deadline watch once (a flow run): send every escalation step due at that moment, once."""
    moment = _instant_or_exit(ctx, at, "--at")
    _prepare()
    from flows.deadline_watch import deadline_watch_flow

    summary = deadline_watch_flow(now=moment.isoformat() if moment else None)
    _drain_prefect()
    d = summary["delivery"]
    _say(f"{len(summary['written_now'])} escalation steps written now; {d['sent']} messages sent, "
         f"{d['failed']} failed (retried later), {d['given_up']} given up")
    if as_json:
        _emit_json(summary)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--prefect-port", default=4200, show_default=True, type=int, help="Prefect server and UI.")
@click.option("--port", default=8080, show_default=True, type=int, help="The district upload portal.")
def serve(host: str, prefect_port: int, port: int) -> None:
    """Start the Prefect server with its UI, the upload portal and its workers, serve the scheduled
    deployments (the deadline watch every 15 minutes, readiness three times a day, in Asia/Ho_Chi_Minh)
    and create the automations; Ctrl-C or SIGTERM (a service manager's stop) stops all of them and leaves the
    schedules active. A port already taken is said (exit 1) before anything starts."""
    _prepare()
    from campaign.runtime import PortInUse
    from flows.serve import serve as run_serve

    try:
        run_serve(host, prefect_port, say=_say, portal_port=port)
    except PortInUse as exc:
        _say(str(exc))
        sys.exit(EXIT_FAILURE)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(0, 32),
              help="Warm worker processes running the uploads' flows (default CAMPAIGN_PORTAL_WORKERS, 2).")
def portal(host: str, port: int, workers: int | None) -> None:
    """Only the upload portal and its workers (`serve` starts it with the Prefect server). Flow runs go to
    the Prefect API in PREFECT_API_URL."""
    _prepare()
    from campaign.portal.server import run
    from campaign.runtime import PortInUse, Terminated, ensure_ports_free

    try:   # before the workers start: uvicorn binds its port only after the app's start-up
        ensure_ports_free(host, {"--port (the portal)": port})
    except PortInUse as exc:
        _say(str(exc))
        sys.exit(EXIT_FAILURE)
    _say(f"portal: http://{host}:{port}")
    import contextlib

    with contextlib.suppress(Terminated):   # SIGTERM, raised again by uvicorn once stopped cleanly: exit 0
        run(host, port, workers)


@main.group()
def users() -> None:
    """Portal accounts: one per district data clerk, and the DoH coordinators."""


def _account_action(ctx: click.Context, action: Any) -> Any:
    from sqlalchemy.orm import Session

    from campaign.accounts import AccountError
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
            return action(session, res)
    except AccountError as exc:
        _say(f"error: {exc}")
        ctx.exit(3)


def _password_option(password: str | None) -> tuple[str, bool]:
    """(password, generated): the one read from stdin, or a generated one when not asked to read."""
    from campaign.accounts import generate_password

    if password is None:
        return generate_password(), True
    if not password:
        raise click.UsageError("--password-stdin: no password on stdin")
    return password, False


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["district", "coordinator"]), required=True)
@click.option("--district", "-d", default=None, help="For a district account: GSO code or name.")
@click.option("--name", "display_name", default=None, help="The person's or office's name, as shown on pages.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of generating one.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, district: str | None, display_name: str | None,
              password_stdin: bool, as_json: bool) -> None:
    """Create an account; prints a generated password once (unless --password-stdin)."""
    from campaign import accounts
    from campaign.resources import get_resources

    code = None
    if role == "district":
        if not district:
            raise click.UsageError("a district account needs --district")
        code = _district_or_exit(ctx, district, get_resources().campaign)
    password, generated = _password_option(sys.stdin.readline().rstrip("\n")
                                           if password_stdin else None)

    def add(session: Any, res: Any) -> dict[str, Any]:
        user = accounts.add_user(session, username=username, password=password, role=role, district_code=code,
                                 display_name=display_name)
        return {"username": user.username, "role": user.role, "district": user.district_code}

    result = _account_action(ctx, add)
    if generated:
        result["password"] = password
    if as_json:
        _emit_json(result)
    else:
        _say(f"account {result['username']} ({role}{', district ' + code if code else ''}) created"
             + (f"; password (shown once): {password}" if generated else ""))


@users.command("disable")
@click.argument("username")
@click.pass_context
def users_disable(ctx: click.Context, username: str) -> None:
    """The account can no longer sign in; its open sessions end now. Nothing is deleted."""
    from campaign import accounts

    _account_action(ctx, lambda session, res: accounts.disable_user(session, username))
    _say(f"account {username} disabled; its sessions ended")


@users.command("enable")
@click.argument("username")
@click.pass_context
def users_enable(ctx: click.Context, username: str) -> None:
    """Let a disabled or locked account sign in again."""
    from campaign import accounts

    _account_action(ctx, lambda session, res: accounts.enable_user(session, username))
    _say(f"account {username} enabled")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of generating one.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_reset_password(ctx: click.Context, username: str, password_stdin: bool, as_json: bool) -> None:
    """A new password (generated and printed once, unless --password-stdin); open sessions end."""
    from campaign import accounts

    password, generated = _password_option(sys.stdin.readline().rstrip("\n")
                                           if password_stdin else None)
    _account_action(ctx, lambda session, res: accounts.reset_password(session, username, password))
    if as_json:
        _emit_json({"username": username, **({"password": password} if generated else {})})
    else:
        _say(f"password of {username} reset" + (f"; new password (shown once): {password}" if generated else ""))


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Every account, its role, district and whether it can sign in."""
    from campaign.portal.pages import users_page

    rows = _account_action(ctx, lambda session, res: users_page(session))
    if as_json:
        _emit_json({"users": [{k: r[k] for k in ("username", "display_name", "role", "district", "active")}
                              for r in rows]})
        return
    for r in rows:
        click.echo(f"{r['username']:<24} {r['role']:<12} {r['district'] or '-':<4} "
                   f"{'active' if r['active'] else 'disabled'}  {r['display_name']}")


@main.group(invoke_without_command=True)
@click.option("--district", "-d", default=None, help="Only this district (GSO code or name).")
@click.option("--kind", "-k", default=None, help="Only this input kind, e.g. target_list.")
@click.option("--json", "as_json", is_flag=True, help="Print the readings as one JSON object on stdout.")
@click.pass_context
def mappings(ctx: click.Context, district: str | None, kind: str | None, as_json: bool) -> None:
    """The headings districts taught once: how each district reads a heading of its files of a kind
    (set by `campaign intake --column` or on the portal's feedback page). `campaign mappings reset
    --district D [--kind K] [--heading TEXT]` forgets them."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.column_mappings import list_mappings
    from campaign.resources import get_resources

    res = get_resources()
    code = _district_or_exit(ctx, district, res.campaign)
    _kind_or_exit(ctx, kind)
    with Session(res.engine) as session:
        rows = list_mappings(session, district=code, kind=kind)
    for r in rows:
        _say(f"{r['district']} {r['kind']}: {r['heading']!r} -> {r['field'] or '(ignored)'}  "
             f"(by {r['set_by']}, {clock.show_time(r['set_at'])})")
    if not rows:
        _say("no saved column readings")
    if as_json:
        _emit_json({"mappings": [{**r, "set_at": r["set_at"].isoformat()} for r in rows]})


@mappings.command("reset")
@click.option("--district", "-d", required=True, help="The district (GSO code or name).")
@click.option("--kind", "-k", default=None, help="Only this input kind.")
@click.option("--heading", default=None, help="Only this heading (as written in the file).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def mappings_reset(ctx: click.Context, district: str, kind: str | None, heading: str | None, as_json: bool) -> None:
    """Forget a district's saved readings (of a kind, of one heading): its later files are read by the
    headings' words again."""
    from sqlalchemy.orm import Session

    from campaign.column_mappings import reset_mappings
    from campaign.resources import get_resources

    res = get_resources()
    code = _district_or_exit(ctx, district, res.campaign)
    _kind_or_exit(ctx, kind)
    with Session(res.engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
        removed = reset_mappings(session, code, kind=kind, heading_key=heading)
    _say(f"{removed} saved column reading(s) removed for district {code}")
    if as_json:
        _emit_json({"district": code, "kind": kind, "heading": heading, "removed": removed})


def _kind_or_exit(ctx: click.Context, kind: str | None) -> None:
    from campaign.config import load_input_kinds

    kinds = load_input_kinds()
    if kind is not None and kind not in kinds.kinds:
        _say(f"usage error: unknown kind {kind!r}; expected one of: {', '.join(kinds.names)}")
        ctx.exit(EXIT_USAGE)


@main.command()
@click.argument("submission_id", type=int)
@click.option("--reason", required=True, help="Why the submission is withdrawn (kept with it).")
@click.option("--by", "withdrawn_by", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def withdraw(ctx: click.Context, submission_id: int, reason: str, withdrawn_by: str, as_json: bool) -> None:
    """Mark SUBMISSION_ID withdrawn; the submission it replaced becomes current again. Nothing is deleted."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.intake import UsageError
    from campaign.intake import withdraw as do_withdraw
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
            sub = do_withdraw(session, submission_id, reason=reason, by=withdrawn_by, at=clock.to_utc(clock.now()))
            result = {"submission_id": sub.id, "district": sub.district_code, "kind": sub.kind, "status": sub.status}
    except UsageError as exc:
        _say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    _say(f"submission {submission_id} withdrawn")
    if as_json:
        _emit_json(result)


@main.command("master-list")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the list as CSV: one line per source row (person_id, submission_id, row_number, "
                   "district, status).")
@click.option("--district", "-d", default=None, help="Show only this district's figures (GSO code or name).")
@click.option("--retrain", is_flag=True, help="Train the linkage model again instead of reusing the stored one.")
@click.option("--latest", is_flag=True, help="Do not build: report (and write) the current list as it stands.")
@click.option("--at", "at", default=None, help="The run's logical time (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.pass_context
def master_list(ctx: click.Context, out: Path | None, district: str | None, retrain: bool, latest: bool,
                at: str | None, as_json: bool) -> None:
    """Build the province's master target list from every district's current target list (a Prefect flow
    run): duplicates within and across districts linked, eligibility and order of invitation."""
    from sqlalchemy.orm import Session

    from campaign import master_list as ml
    from campaign.readiness import district_names
    from campaign.resources import get_resources

    res = get_resources()
    code = _district_or_exit(ctx, district, res.campaign)
    _instant_or_exit(ctx, at, "--at")
    if latest:
        with Session(res.engine) as session:
            run = ml.latest_run(session)
            if run is None:
                _say("no master list yet: run `campaign master-list` first")
                ctx.exit(EXIT_REFUSED)
            summary = ml.to_json(ml.result_of(run), names=district_names(res.campaign.district_codes))
    else:
        _prepare()
        from flows.master_list import master_list_flow

        summary = master_list_flow(now=at, retrain=retrain)
        _drain_prefect()
    if code:
        summary = {**summary, "districts": [d for d in summary["districts"] if d["district"] == code]}
    _say(ml.render_text(summary))
    if out is not None:
        with Session(res.engine) as session:
            n = ml.write_csv(session, out)
        _say(f"{n} rows written to {out}")
        summary = {**summary, "out": str(out)}
    if as_json:
        _emit_json(summary)


@main.group(invoke_without_command=True)
@click.option("--district", "-d", default=None, help="Only pairs with a record of this district.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the pairs as one JSON object on stdout.")
@click.pass_context
def review(ctx: click.Context, district: str | None, limit: int, as_json: bool) -> None:
    """The candidate pairs of the master list that a person must decide, both records side by side.
    `campaign review decide PAIR same|different --by NAME` records a decision (applied on every later
    run); `campaign review reverse DECISION_ID --by NAME` takes one back."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from campaign import master_list as ml
    from campaign.resources import get_resources
    from campaign.store.models import ReviewPair

    res = get_resources()
    code = _district_or_exit(ctx, district, res.campaign)
    with Session(res.engine) as session:
        total = session.scalar(select(func.count()).select_from(ReviewPair)) or 0
        pairs = ml.open_pairs(session, district=code, limit=limit)
    _say(f"{total} pairs to review; showing {len(pairs)}")
    fields = ml.SIDE_COLUMNS
    for p in pairs:
        _say(f"\npair {p['pair']}  probability {p['match_probability']:.3f}  ({p['reason']})")
        for f in fields:
            a, b = p["a"].get(f), p["b"].get(f)
            mark = " " if a == b else "≠"
            _say(f"  {mark} {f:<17} {str(a if a is not None else '-'):<34} {b if b is not None else '-'}")
        _say(f"    {'source':<17} {str(p['a']['submission_id']) + ':' + str(p['a']['row_number']):<34} "
             f"{p['b']['submission_id']}:{p['b']['row_number']}")
    if as_json:
        _emit_json({"total": total, "pairs": pairs})


@review.command("decide")
@click.argument("pair")
@click.argument("decision", type=click.Choice(["same", "different"]))
@click.option("--by", "by", required=True, help="Who decides (kept with the decision).")
@click.option("--note", default=None, help="Why (optional).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def review_decide(ctx: click.Context, pair: str, decision: str, by: str, note: str | None, as_json: bool) -> None:
    """Record that the two records of PAIR are the same person or different people."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign import master_list as ml
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine) as session, session.begin():
            made = ml.decide(session, pair, decision, by=by, at=clock.to_utc(clock.now()), note=note)
            result = {"decision_id": made.id, "pair": pair, "decision": decision, "decided_by": by}
    except ml.ReviewError as exc:
        _say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    _say(f"decision {result['decision_id']}: pair {pair} = {decision} (applies from the next master-list run)")
    if as_json:
        _emit_json(result)


@review.command("reverse")
@click.argument("decision_id", type=int)
@click.option("--by", "by", required=True, help="Who takes the decision back.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def review_reverse(ctx: click.Context, decision_id: int, by: str, as_json: bool) -> None:
    """Take back a decision: from the next run on, the pair is judged by the model again."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign import master_list as ml
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine) as session, session.begin():
            made = ml.reverse(session, decision_id, by=by, at=clock.to_utc(clock.now()))
            result = {"decision_id": made.id, "pair": made.pair_key, "reversed_by": by}
    except ml.ReviewError as exc:
        _say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    _say(f"decision {decision_id} reversed (applies from the next master-list run)")
    if as_json:
        _emit_json(result)


@review.command("decisions")
@click.option("--json", "as_json", is_flag=True)
def review_decisions(as_json: bool) -> None:
    """Every decision ever recorded, with who, when, and whether it was reversed."""
    from sqlalchemy.orm import Session

    from campaign import master_list as ml
    from campaign.resources import get_resources

    with Session(get_resources().engine) as session:
        rows = ml.decisions(session)
    for d in rows:
        state = f"reversed {d['reversed_at']} by {d['reversed_by']}" if d["reversed_at"] else "in force"
        _say(f"{d['id']:>5} {d['pair']} {d['decision']:<9} by {d['decided_by']} at {d['decided_at']} ({state})")
    if as_json:
        _emit_json({"decisions": rows})


@main.group(invoke_without_command=True)
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

    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from campaign.planning import run as planning
    from campaign.resources import get_resources
    from campaign.store.models import MasterListRun

    res = get_resources()
    code = _district_or_exit(ctx, district, res.campaign)
    moment = _instant_or_exit(ctx, at, "--at")
    if publish and not (by or "").strip():
        _say("usage error: --publish needs --by NAME (who publishes)")
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
            _say(f"usage error: --from {start!r} is not a date (YYYY-MM-DD or dd/mm/yyyy)")
            ctx.exit(EXIT_USAGE)
    with Session(res.engine) as session:
        if session.execute(select(func.count(MasterListRun.id))).scalar() == 0:
            _say("refused: no master list yet; run `campaign master-list` first")
            ctx.exit(EXIT_REFUSED)
    _prepare()
    from flows.plan_sessions import plan_sessions_flow

    now = moment.isoformat() if moment is not None else None
    try:
        summary = plan_sessions_flow(start=first.isoformat() if first else None, days=days, district=code, now=now,
                                     publish_by=by.strip() if publish and by else None,
                                     keep_published=not discard_published, out_dir=str(out) if out else None)
    except planning.PlanError as exc:
        _say(f"refused: {exc}")
        ctx.exit(EXIT_REFUSED)
    finally:
        _drain_prefect()
    _say(planning.render_text(summary))
    if out is not None:
        _say(f"{len(summary.get('invitation_lists', []))} invitation lists written to {out}")
    if as_json:
        _emit_json(summary)


@plan.command("publish")
@click.argument("run_id", type=int)
@click.option("--by", "by", required=True, help="Who publishes (name or e-mail).")
@click.option("--at", "at", default=None, help="When (ISO 8601; default CAMPAIGN_NOW or now).")
@click.pass_context
def plan_publish(ctx: click.Context, run_id: int, by: str, at: str | None) -> None:
    """Publish a stored draft plan: its sessions are kept by every later plan of its scope."""
    from campaign import clock
    from campaign.planning import run as planning
    from campaign.resources import get_resources

    moment = _instant_or_exit(ctx, at, "--at") or clock.now()
    try:
        planning.publish(get_resources().engine, run_id, by=by, at=clock.to_utc(moment))
    except planning.PlanError as exc:
        _say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    _say(f"plan {run_id} published by {by.strip()}")


def _report_unit(ctx: click.Context, level: str, unit: str | None, campaign: Any) -> str | None:
    """The unit of a level: a district by code or name, the province by default, a facility as given."""
    if level == "district":
        return _district_or_exit(ctx, unit, campaign) if unit else None
    if level == "province":
        return campaign.province.code
    return unit


@main.group(invoke_without_command=True)
@click.option("--level", type=click.Choice(["facility", "district", "province"]), default="province",
              show_default=True)
@click.option("--unit", "-u", default=None, help="A facility code or a district (code or name); default: every "
                                                  "unit of the level (the province: itself).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["docx", "pdf", "html"]),
              help="Formats to render (repeat the option; default docx and pdf).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the files go (default var/outputs/reports).")
@click.option("--submit", is_flag=True, help="Do not build: e-mail the latest version, approved, to the recipients "
                                            "in config and close the deadline it answers.")
@click.option("--by", "by", default=None, help="Who submits (with --submit).")
@click.option("--at", "at", default=None, help="The logical time (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.pass_context
def report(ctx: click.Context, level: str, unit: str | None, formats: tuple[str, ...], out: Path | None,
           submit: bool, by: str | None, at: str | None, as_json: bool) -> None:
    """The campaign plan and readiness report of a facility, a district or the province (a flow run): the
    annex's sections filled from the database, as DOCX and PDF (and HTML). `campaign report approve`
    records who approved a version; `--submit` sends the approved one upward by e-mail."""
    if ctx.invoked_subcommand is not None:
        return
    from campaign.reports.content import ReportError
    from campaign.resources import get_resources

    res = get_resources()
    moment = _instant_or_exit(ctx, at, "--at")
    code = _report_unit(ctx, level, unit, res.campaign)
    now = moment.isoformat() if moment is not None else None
    _prepare()
    try:
        if submit:
            if not code or not (by or "").strip():
                _say("usage error: --submit needs the unit (--unit, for a district) and --by WHO")
                ctx.exit(EXIT_USAGE)
            from flows.compile_report import submit_report_flow

            result = submit_report_flow(level=level, unit=code, by=by.strip(), now=now)
            _say(f"báo cáo {level} {code} phiên bản {result['version']} đã gửi tới {', '.join(result['recipients'])}")
        else:
            from flows.compile_report import compile_report_flow

            result = compile_report_flow(levels=[level], unit=code, now=now, formats=list(formats) or None,
                                         out_dir=str(out) if out else None)
            for b in result["reports"][:40]:
                note = f", {b['warnings']} lưu ý về dữ liệu thiếu" if b["warnings"] else ""
                _say(f"{b['level']} {b['unit']} {b['unit_name']}: phiên bản {b['version']}{note} -> "
                     + ", ".join(b["files"].values()))
            if len(result["reports"]) > 40:
                _say(f"... {len(result['reports']) - 40} more")
    except ReportError as exc:
        code_ = getattr(exc, "exit_code", EXIT_USAGE)
        _say(f"{'refused' if code_ == EXIT_REFUSED else 'usage error'}: {exc}")
        ctx.exit(code_)
    finally:
        _drain_prefect()
    if as_json:
        _emit_json(result)


@report.command("approve")
@click.option("--level", type=click.Choice(["facility", "district", "province"]), default="province",
              show_default=True)
@click.option("--unit", "-u", default=None, help="A facility code or a district (code or name).")
@click.option("--version", "version", type=int, default=None, help="Default: the latest version.")
@click.option("--by", "by", required=True, help="Who approves (name or e-mail).")
@click.option("--at", "at", default=None, help="When (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def report_approve(ctx: click.Context, level: str, unit: str | None, version: int | None, by: str, at: str | None,
                   as_json: bool) -> None:
    """Record who approved which version of a unit's report; only an approved version can be sent."""
    from campaign import clock
    from campaign.reports import run as reports
    from campaign.reports.content import ReportError
    from campaign.resources import get_resources

    res = get_resources()
    code = _report_unit(ctx, level, unit, res.campaign)
    if not code:
        _say("usage error: which unit? (--unit)")
        ctx.exit(EXIT_USAGE)
    moment = _instant_or_exit(ctx, at, "--at") or clock.now()
    try:
        result = reports.approve(res.engine, level=level, unit=code, by=by, at=clock.to_utc(moment), version=version)
    except ReportError as exc:
        code_ = getattr(exc, "exit_code", EXIT_USAGE)
        _say(f"{'refused' if code_ == EXIT_REFUSED else 'usage error'}: {exc}")
        ctx.exit(code_)
    _say(f"báo cáo {level} {code} phiên bản {result['version']} đã được {result['approved_by']} duyệt")
    if as_json:
        _emit_json(result)


@report.command("history")
@click.option("--level", type=click.Choice(["facility", "district", "province"]), default=None)
@click.option("--unit", "-u", default=None)
@click.option("--json", "as_json", is_flag=True)
def report_history(level: str | None, unit: str | None, as_json: bool) -> None:
    """Every version built: approved by whom, sent when and to whom."""
    from sqlalchemy.orm import Session

    from campaign.reports import run as reports
    from campaign.resources import get_resources

    with Session(get_resources().engine) as session:
        rows = reports.history(session, level, unit)
    for r in rows:
        state = (f"gửi {r['submitted_at']}" if r["submitted_at"] else
                 f"duyệt bởi {r['approved_by']}" if r["approved_by"] else "chưa duyệt")
        _say(f"{r['level']:<8} {r['unit']:<14} v{r['version']:<3} {state}")
    if as_json:
        _emit_json({"reports": rows})


@main.command()
@click.option("--kind", required=True, type=click.Choice(["target_list"]),
              help="What to export (the national platform's subject-list import layout).")
@click.option("--district", "-d", required=True, help="The district (GSO code or name).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="The .xlsx file to write.")
@click.option("--include-ineligible", is_flag=True, help="Also the people not eligible now (listed last, with why).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def export(ctx: click.Context, kind: str, district: str, out: Path, include_ineligible: bool, as_json: bool) -> None:
    """A district's standardized, deduplicated list from the current master list, in the national
    platform's subject-list import layout (one row per person, in the order of invitation)."""
    from sqlalchemy.orm import Session

    from campaign.io.export import ExportError, export_target_list
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine) as session:
            result = export_target_list(session, district, out, include_ineligible=include_ineligible,
                                        campaign=res.campaign)
    except ExportError as exc:
        _say(f"{'usage error' if exc.exit_code == EXIT_USAGE else 'refused'}: {exc}")
        ctx.exit(exc.exit_code)
    from campaign import audit as audit_log

    with Session(res.engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
        audit_log.record(session, "export", actor=audit_log.cli_actor(), target_type="district",
                         target_label=result.district, details={"persons": result.persons_written})
    summary = result.to_json()
    _say(f"{result.persons_written} people of {result.district} {result.district_name} written to {result.path}"
         f" ({result.ineligible_excluded} not eligible left out)")
    if result.stale:
        _say("warning: target lists changed after this master list was built; run `campaign master-list` "
             "for an up-to-date file")
    if as_json:
        _emit_json(summary)


@main.group()
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
    code = _district_or_exit(ctx, district, res.campaign)
    if before and expired:
        _say("usage error: --before and --expired are two ways to give the date: give one")
        ctx.exit(EXIT_USAGE)
    cutoff = _instant_or_exit(ctx, before, "--before")
    if expired:
        if res.settings.retention_days is None:
            _say("usage error: --expired needs CAMPAIGN_RETENTION_DAYS (how many days submissions are kept)")
            ctx.exit(EXIT_USAGE)
        cutoff = expired_before(clock.now(), res.settings.retention_days)
    try:
        scope = PurgeScope(district=code, before=clock.to_utc(cutoff) if cutoff is not None else None)
    except PurgeError as exc:
        _say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)

    def run(dry: bool) -> Any:
        return purge(res.engine, res.settings, scope, dry_run=dry, district_codes=res.campaign.district_codes,
                     record=record_in_audit_log)

    def show(report: Any) -> None:
        what = (f"huyện {scope.district}" if scope.district else "mọi huyện") + (
            f", nộp trước {clock.show_time(scope.before)}" if scope.before else "")
        verb = "sẽ xoá (dry run)" if report.dry_run else "đã xoá"
        _say(f"{what}: {verb} {len(report.submissions)} lần nộp, {report.total_rows} dòng, {len(report.files)} tệp")
        for table, n in sorted(report.rows.items()):
            if n:
                _say(f"  {table}: {n}")
        for path in report.files:
            _say(f"  {path}")
        if report.master_list_rebuild:   # people linked across districts leave the list whole (retention.py)
            _say(f"  {report.unlisted} dòng của huyện khác {'sẽ ra' if report.dry_run else 'đã ra'} khỏi danh sách "
                 "hợp nhất cho tới lần chạy `campaign master-list` tiếp theo")

    if dry_run or not yes:   # what would go, shown before anyone is asked
        plan = run(dry=True)
        show(plan)
        if dry_run or (not plan.total_rows and not plan.files):
            if as_json:
                _emit_json(plan.to_json())
            return
        try:
            confirmed = click.confirm("Xoá vĩnh viễn những dữ liệu này? / Delete this data for good?", default=False,
                                      err=True)
        except click.exceptions.Abort:
            confirmed = False
        if not confirmed:
            _say("không xoá gì (not confirmed)")
            ctx.exit(EXIT_REFUSED)
    done = run(dry=False)
    show(done)
    if as_json:
        _emit_json(done.to_json())
    if done.left_behind:
        _say("these files could not be deleted after the commit; remove them by hand:")
        for path in done.left_behind:
            _say(f"  {path}")
        ctx.exit(EXIT_FAILURE)


@main.group()
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
    code = _district_or_exit(ctx, district, res.campaign)
    if action is not None and action not in AUDIT_ACTIONS:
        _say(f"usage error: --action {action!r}: one of {', '.join(AUDIT_ACTIONS)}")
        ctx.exit(EXIT_USAGE)
    start = _instant_or_exit(ctx, since, "--since")
    filters = audit_log.Filters(username=username.lower() if username else None, district_code=code, action=action,
                                since=clock.to_utc(start) if start is not None else None)
    with Session(res.engine) as session:
        rows, total = audit_log.events(session, filters, page_size=limit)
        shown = [audit_log.as_json(e) for e in rows]
    for e in shown:
        target = " ".join(str(x) for x in (e["target_type"], e["target_id"], e["target_label"]) if x is not None)
        _say(f"{e['at']}  {e['action']:<18} {e['outcome']:<8} {e['username'] or '-':<16} "
             f"{e['district_code'] or '-':<3} {e['client'] or '-':<15} {target}")
    _say(f"{len(shown)} of {total} event(s)")
    if as_json:
        _emit_json({"total": total, "events": shown})


@audit.command("purge")
@click.option("--days", default=None, type=click.IntRange(1, None),
              help="Keep this many days (default CAMPAIGN_AUDIT_RETENTION_DAYS).")
def audit_purge(days: int | None) -> None:
    """Delete the events older than the retention (real clock); the purge itself is recorded."""
    from sqlalchemy.orm import Session

    from campaign import audit as audit_log
    from campaign.resources import get_resources

    res = get_resources()
    retention = days if days is not None else res.settings.audit_retention_days
    with Session(res.engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
        deleted = audit_log.purge(session, retention_days=retention)
    _say(f"{deleted} event(s) older than {retention} days deleted")


if __name__ == "__main__":  # pragma: no cover
    main()
