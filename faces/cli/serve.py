"""Serving: `campaign serve` (the Prefect server, the portal, the scheduled deployments) and `portal` (the
upload portal alone)."""

from __future__ import annotations

import sys

import click

from faces.cli.common import EXIT_FAILURE, prepare, say


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--prefect-port", default=4200, show_default=True, type=int, help="Prefect server and UI.")
@click.option("--port", default=8080, show_default=True, type=int, help="The district upload portal.")
def serve(host: str, prefect_port: int, port: int) -> None:
    """Start the Prefect server with its UI, the upload portal and its workers, serve the scheduled
    deployments (the deadline watch every 15 minutes, readiness three times a day, in Asia/Ho_Chi_Minh)
    and create the automations; Ctrl-C or SIGTERM (a service manager's stop) stops all of them and leaves the
    schedules active. A port already taken is said (exit 1) before anything starts."""
    prepare(find_server=False)   # it starts its own server
    from campaign.runtime import PortInUse
    from flows.serve import serve as run_serve

    try:
        run_serve(host, prefect_port, say=say, portal_port=port)
    except PortInUse as exc:
        say(str(exc))
        sys.exit(EXIT_FAILURE)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(0, 32),
              help="Warm worker processes running the uploads' flows (default CAMPAIGN_PORTAL_WORKERS, 2).")
def portal(host: str, port: int, workers: int | None) -> None:
    """Only the upload portal and its workers (`serve` starts it with the Prefect server). Flow runs go to
    the Prefect API in PREFECT_API_URL."""
    prepare()
    from campaign.runtime import PortInUse, Terminated, ensure_ports_free
    from faces.portal.server import run

    try:   # before the workers start: uvicorn binds its port only after the app's start-up
        ensure_ports_free(host, {"--port (the portal)": port})
    except PortInUse as exc:
        say(str(exc))
        sys.exit(EXIT_FAILURE)
    say(f"portal: http://{host}:{port}")
    import contextlib

    with contextlib.suppress(Terminated):   # SIGTERM, raised again by uvicorn once stopped cleanly: exit 0
        run(host, port, workers)
