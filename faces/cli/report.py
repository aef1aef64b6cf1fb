"""`campaign report`: the plan and readiness reports built or submitted (flow runs), `approve` and
`history`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faces.cli.common import (
    EXIT_REFUSED,
    EXIT_USAGE,
    district_or_exit,
    drain_prefect,
    emit_json,
    instant_or_exit,
    prepare,
    say,
)

# The report levels the database records (store.models.REPORT_LEVELS; tests/test_cli.py holds them equal).
# Written out: the command line starts without reading a YAML file or importing the models.
LEVELS = ["facility", "district", "province"]


def _report_unit(ctx: click.Context, level: str, unit: str | None, campaign: Any) -> str | None:
    """The unit of a level: a district by code or name, the province by default, a facility as given."""
    if level == "district":
        return district_or_exit(ctx, unit, campaign) if unit else None
    if level == "province":
        return campaign.province.code
    return unit


@click.group(invoke_without_command=True)
@click.option("--level", type=click.Choice(LEVELS), default="province",
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
    from campaign.reports.rules import ReportError
    from campaign.resources import get_resources

    res = get_resources()
    moment = instant_or_exit(ctx, at, "--at")
    code = _report_unit(ctx, level, unit, res.campaign)
    now = moment.isoformat() if moment is not None else None
    prepare()
    try:
        if submit:
            if not code or not (by or "").strip():
                say("usage error: --submit needs the unit (--unit, for a district) and --by WHO")
                ctx.exit(EXIT_USAGE)
            from flows.compile_report import submit_report_flow

            result = submit_report_flow(level=level, unit=code, by=by.strip(), now=now)
            say(f"báo cáo {level} {code} phiên bản {result['version']} đã gửi tới {', '.join(result['recipients'])}")
        else:
            from faces.cli.progress import shown
            from flows.compile_report import compile_report_flow

            with shown(as_json):   # a step per report on a terminal (faces.cli.progress)
                result = compile_report_flow(levels=[level], unit=code, now=now, formats=list(formats) or None,
                                             out_dir=str(out) if out else None)
            for b in result["reports"][:40]:
                note = f", {b['warnings']} lưu ý về dữ liệu thiếu" if b["warnings"] else ""
                say(f"{b['level']} {b['unit']} {b['unit_name']}: phiên bản {b['version']}{note} -> "
                    + ", ".join(b["files"].values()))
            if len(result["reports"]) > 40:
                say(f"... {len(result['reports']) - 40} more")
    except ReportError as exc:
        code_ = getattr(exc, "exit_code", EXIT_USAGE)
        say(f"{'refused' if code_ == EXIT_REFUSED else 'usage error'}: {exc}")
        ctx.exit(code_)
    finally:
        drain_prefect()
    if as_json:
        emit_json(result)


@report.command("approve")
@click.option("--level", type=click.Choice(LEVELS), default="province",
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
    from campaign.reports.rules import ReportError
    from campaign.resources import get_resources

    res = get_resources()
    code = _report_unit(ctx, level, unit, res.campaign)
    if not code:
        say("usage error: which unit? (--unit)")
        ctx.exit(EXIT_USAGE)
    moment = instant_or_exit(ctx, at, "--at") or clock.now()
    try:
        result = reports.approve(res.engine, level=level, unit=code, by=by, at=clock.to_utc(moment), version=version)
    except ReportError as exc:
        code_ = getattr(exc, "exit_code", EXIT_USAGE)
        say(f"{'refused' if code_ == EXIT_REFUSED else 'usage error'}: {exc}")
        ctx.exit(code_)
    say(f"báo cáo {level} {code} phiên bản {result['version']} đã được {result['approved_by']} duyệt")
    if as_json:
        emit_json(result)


@report.command("history")
@click.option("--level", type=click.Choice(LEVELS), default=None)
@click.option("--unit", "-u", default=None)
@click.option("--json", "as_json", is_flag=True)
def report_history(level: str | None, unit: str | None, as_json: bool) -> None:
    """Every version built: approved by whom, sent when and to whom."""
    from sqlalchemy.orm import Session

    from campaign.reports import store
    from campaign.resources import get_resources

    with Session(get_resources().engine) as session:
        rows = store.history(session, level, unit)
    for r in rows:
        state = (f"gửi {r['submitted_at']}" if r["submitted_at"] else
                 f"duyệt bởi {r['approved_by']}" if r["approved_by"] else "chưa duyệt")
        say(f"{r['level']:<8} {r['unit']:<14} v{r['version']:<3} {state}")
    if as_json:
        emit_json({"reports": rows})
