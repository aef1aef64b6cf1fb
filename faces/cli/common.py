"""What every command of the `campaign` command line shares: the exit codes, the two outputs (one JSON
object on stdout, human text on stderr), the environment Prefect needs before it is imported, and the
options every group parses alike (a district, a moment, an input kind), exiting 2 on a bad one."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from campaign.settings import get_settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def say(text: str) -> None:
    click.echo(text, err=True)


def prepare(find_server: bool = True) -> None:
    """Environment defaults for Prefect/GX, before they are imported. With `find_server`, a running Prefect
    server (PREFECT_API_URL, or the one `campaign serve` noted) takes the flow runs: no ephemeral API."""
    from campaign.runtime import configure_environment

    configure_environment(get_settings())
    if find_server:
        use_running_server()


def use_running_server() -> str | None:
    """Point Prefect at the running server if there is one (campaign.prefect_server), said on stderr."""
    import os

    from campaign.prefect_server import discover, shown_url

    found = discover(get_settings().home.resolve())
    if found is None:
        return None
    os.environ["PREFECT_API_URL"] = found.api_url
    say(f"dùng máy chủ Prefect tại {shown_url(found.api_url)}")
    return found.api_url


def handed_over(name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The answer of flow `name` run by the running `campaign serve` (campaign.handover), said on stderr as
    the server it runs against; None when there is none to hand it to (the command runs it itself). A flow
    that failed there fails here, with its message (exit 1)."""
    from campaign.handover import HandoverFailed, discover_runner, run_remote
    from campaign.prefect_server import discover, shown_url

    settings = get_settings()
    home = settings.home.resolve()
    runner = discover_runner(home, settings)
    server = discover(home) if runner is not None else None
    if runner is None or server is None:
        return None
    try:
        answer = run_remote(runner, name, params)
    except HandoverFailed as exc:
        raise click.ClickException(str(exc)) from exc
    if answer is not None:
        say(f"dùng máy chủ Prefect tại {shown_url(server.api_url)}")
        say(f"luồng {name} đã chạy trong tiến trình của campaign serve (pid {runner.pid})")
    return answer


def logical_now() -> str:
    """The campaign clock's now as ISO 8601 (what a handed-over flow must assess, whatever the served
    process's own CAMPAIGN_NOW)."""
    from campaign import clock

    return clock.now().isoformat()


def drain_prefect() -> None:
    """Let Prefect's event worker deliver what it holds before the process exits (docs/contracts.md, pitfalls)."""
    try:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=30)
    except Exception:  # noqa: BLE001 - draining is best effort; the run's result already stands
        pass


def district_or_exit(ctx: click.Context, text: str | None, campaign: Any) -> str | None:
    """A district given by GSO code or name (with or without diacritics) -> its code (`campaign.districts`);
    exit 2 if unknown or ambiguous."""
    if not text:
        return None
    from campaign.districts import DistrictError, resolve_district

    try:
        return resolve_district(text, campaign).code
    except DistrictError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)


def instant_or_exit(ctx: click.Context, text: str | None, option: str):
    from campaign import clock

    if text is None:
        return None
    try:
        return clock.parse_instant(text)
    except ValueError as exc:
        say(f"usage error: {option} {text!r}: {exc}")
        ctx.exit(EXIT_USAGE)


def kind_or_exit(ctx: click.Context, kind: str | None) -> None:
    from campaign.config_kinds import load_input_kinds

    kinds = load_input_kinds()
    if kind is not None and kind not in kinds.kinds:
        say(f"usage error: unknown kind {kind!r}; expected one of: {', '.join(kinds.names)}")
        ctx.exit(EXIT_USAGE)
