"""Getting district files in: `campaign intake` (with `--column` readings), `templates` (blank Excel
templates), `withdraw` (a submission), `mappings` (the headings districts taught once, and `reset`)."""

from __future__ import annotations

from pathlib import Path

import click

from faces.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    district_or_exit,
    drain_prefect,
    emit_json,
    kind_or_exit,
    prepare,
    say,
)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def templates(directory: Path) -> None:
    """Write blank Excel templates for every input kind into DIRECTORY (dropdowns for coded columns)."""
    from campaign.io.templates import write_templates

    for path in write_templates(directory):
        say(str(path))


@click.command()
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
    from campaign.intake.rules import IntakeRequest, UsageError
    from campaign.intake.run import resolve_request
    from campaign.resources import get_resources

    try:
        district_code, kind = resolve_request(IntakeRequest(file, district, kind, facility, submitted_by=submitted_by),
                                             get_resources().campaign)
    except UsageError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    columns = _columns_or_exit(ctx, column_specs, kind)
    if columns:
        _save_columns(district_code, kind, columns, submitted_by)
    prepare()
    from faces.cli.progress import shown
    from flows.intake import intake_flow

    with shown(as_json):   # the stages on a terminal (faces.cli.progress)
        outcome = intake_flow(path=str(file.resolve()), district=district_code, kind=kind, facility=facility,
                              channel="cli", submitted_by=submitted_by, columns=columns or None)
    drain_prefect()
    if columns and "columns" in outcome:
        from campaign.io.headers import heading_key

        found = {heading_key(h) for h in (*outcome.get("columns", {}), *outcome.get("columns_ignored", []))}
        for heading in columns:
            if heading_key(heading) not in found:
                say(f"note: no column headed {heading!r} in this file (its reading is saved for later files)")
    say(f"submission {outcome['submission_id']}: {outcome['status']} · {outcome['rows_loaded']} loaded, "
        f"{outcome['rows_quarantined']} quarantined, {outcome['rows_skipped']} skipped, "
        f"{outcome['rows_with_warnings']} with warnings" + (f" · {outcome['message']}" if outcome.get("message") else ""))
    for code, count in outcome["reasons"].items():
        say(f"  {code}: {count}")
    if outcome.get("columns"):
        say("columns read: " + ", ".join(f"{h!r} -> {f}" for h, f in outcome["columns"].items()))
    if outcome.get("columns_ignored"):
        say("columns not read: " + ", ".join(repr(h) for h in outcome["columns_ignored"])
            + " (a correction: --column \"HEADING=FIELD\")")
    if outcome.get("feedback_file"):
        say(f"feedback file: {outcome['feedback_file']}")
    if outcome.get("data_docs"):
        say(f"data docs: {outcome['data_docs']}")
    if as_json:
        emit_json(outcome)
    ctx.exit(EXIT_REFUSED if outcome["status"] == "rejected" else EXIT_OK)


def _columns_or_exit(ctx: click.Context, specs: tuple[str, ...], kind: str) -> dict[str, str | None]:
    """`--column "Heading=field"` options -> {heading: field, None: ignore}; exit 2 on a malformed one or
    a field the kind does not have (naming the valid fields)."""
    from campaign.intake.columns import field_choices

    valid = [c["name"] for c in field_choices(kind)]
    columns: dict[str, str | None] = {}
    for spec in specs:
        heading, sep, field = spec.rpartition("=")
        heading, field = heading.strip(), field.strip()
        if not sep or not heading:
            say(f'usage error: --column {spec!r}: expected "HEADING=FIELD" (or "HEADING=" to ignore the column)')
            ctx.exit(EXIT_USAGE)
        if field in ("", "-"):
            columns[heading] = None
        elif field in valid:
            columns[heading] = field
        else:
            say(f"usage error: --column {spec!r}: {kind} has no field {field!r}; valid fields: {', '.join(valid)} "
                f"(or nothing / '-' to ignore the column)")
            ctx.exit(EXIT_USAGE)
    return columns


def _save_columns(district: str, kind: str, columns: dict[str, str | None], by: str) -> None:

    from campaign import clock
    from campaign.intake.columns import save_mappings
    from campaign.resources import get_resources
    from campaign.store.db import write_session

    with write_session(get_resources().engine) as session:
        save_mappings(session, district, kind, columns, by=by, at=clock.to_utc(clock.now()))


@click.group(invoke_without_command=True)
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
    from campaign.intake.columns import list_mappings
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    kind_or_exit(ctx, kind)
    with Session(res.engine) as session:
        rows = list_mappings(session, district=code, kind=kind)
    for r in rows:
        say(f"{r['district']} {r['kind']}: {r['heading']!r} -> {r['field'] or '(ignored)'}  "
            f"(by {r['set_by']}, {clock.show_time(r['set_at'])})")
    if not rows:
        say("no saved column readings")
    if as_json:
        emit_json({"mappings": [{**r, "set_at": r["set_at"].isoformat()} for r in rows]})


@mappings.command("reset")
@click.option("--district", "-d", required=True, help="The district (GSO code or name).")
@click.option("--kind", "-k", default=None, help="Only this input kind.")
@click.option("--heading", default=None, help="Only this heading (as written in the file).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def mappings_reset(ctx: click.Context, district: str, kind: str | None, heading: str | None, as_json: bool) -> None:
    """Forget a district's saved readings (of a kind, of one heading): its later files are read by the
    headings' words again."""

    from campaign.intake.columns import reset_mappings
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    kind_or_exit(ctx, kind)
    from campaign.store.db import write_session
    with write_session(res.engine) as session:
        removed = reset_mappings(session, code, kind=kind, heading_key=heading)
    say(f"{removed} saved column reading(s) removed for district {code}")
    if as_json:
        emit_json({"district": code, "kind": kind, "heading": heading, "removed": removed})


@click.command()
@click.argument("submission_id", type=int)
@click.option("--reason", required=True, help="Why the submission is withdrawn (kept with it).")
@click.option("--by", "withdrawn_by", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def withdraw(ctx: click.Context, submission_id: int, reason: str, withdrawn_by: str, as_json: bool) -> None:
    """Mark SUBMISSION_ID withdrawn; the submission it replaced becomes current again. Nothing is deleted."""

    from campaign import clock
    from campaign.intake.rules import UsageError
    from campaign.intake.store import withdraw as do_withdraw
    from campaign.resources import get_resources

    res = get_resources()
    try:
        from campaign.store.db import write_session
        with write_session(res.engine) as session:
            sub = do_withdraw(session, submission_id, reason=reason, by=withdrawn_by, at=clock.to_utc(clock.now()))
            result = {"submission_id": sub.id, "district": sub.district_code, "kind": sub.kind, "status": sub.status}
    except UsageError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    say(f"submission {submission_id} withdrawn")
    if as_json:
        emit_json(result)
