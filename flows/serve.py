"""`campaign serve`: a Prefect server with its UI, the scheduled deployments served, the automations made.

The server is a child process with its own database under PREFECT_HOME (SQLite by default; PostgreSQL
when PREFECT_API_DATABASE_CONNECTION_URL is set), never the application's database. Deployments are
served with `pause_on_shutdown=False`: stopping `campaign serve` leaves the schedules active, and the
next start runs what came due meanwhile (the deadline watch catches up on missed steps by itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable


def wait_healthy(url: str, timeout_s: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the Prefect server exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:   # noqa: S310 - our own local server
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the Prefect server did not answer {url} within {timeout_s:.0f} s")


def start_server(host: str, port: int, timeout_s: float = 120) -> subprocess.Popen[bytes]:
    # Its own session: a Ctrl-C (SIGINT to the whole group) must stop the runner first, then `serve` stops
    # the server; a server gone first left the runner's last calls failing and the exit hanging.
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port",
                               str(port)], env=os.environ.copy(), start_new_session=True)
    try:
        wait_healthy(f"http://{host}:{port}/api/health", timeout_s, lambda: server.poll() is None)
    except BaseException:
        server.terminate()
        raise
    return server


def start_portal(host: str, port: int) -> subprocess.Popen[bytes]:
    """The upload portal and its warm workers, in a child process talking to the same Prefect API. In this
    process group: Ctrl-C reaches it with the runner, and uvicorn stops its workers cleanly."""
    return subprocess.Popen([sys.executable, "-c", "from campaign.cli import main; main()", "portal", "--host", host,
                             "--port", str(port)], env=os.environ.copy())


def serve(host: str = "127.0.0.1", port: int = 4200, say: Callable[[str], None] = print,
          portal_port: int | None = 8080) -> None:
    """Start the server, the portal, register and serve the deployments, create the automations; until
    Ctrl-C."""
    server = start_server(host, port)
    # This process talks to that server from now on (set before Prefect reads its settings).
    os.environ["PREFECT_API_URL"] = f"http://{host}:{port}/api"
    portal = None
    try:
        if portal_port:
            portal = start_portal(host, portal_port)
            say(f"portal: http://{host}:{portal_port}")
        from prefect import serve as prefect_serve

        from flows.automations import create_all
        from flows.deployments import deployments

        deps = deployments()
        ids = {d.name: d.apply() for d in deps}
        names = create_all(ids)
        say(f"Prefect UI: http://{host}:{port}  (API http://{host}:{port}/api)")
        say(f"deployments: {', '.join(ids)}; automations: {', '.join(names)}")
        prefect_serve(*deps, pause_on_shutdown=False, print_starting_message=False)
    finally:
        if portal is not None:
            portal.terminate()
            try:
                portal.wait(60)   # longer than its workers may take to finish the job in hand (30 s)
            except subprocess.TimeoutExpired:
                portal.kill()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
