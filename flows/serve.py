"""`campaign serve`: a Prefect server with its UI, the scheduled deployments served, the automations made.

The server is a child process with its own database under PREFECT_HOME (SQLite by default; PostgreSQL
when PREFECT_API_DATABASE_CONNECTION_URL is set), never the application's database. Deployments are
served with `pause_on_shutdown=False`: stopping `campaign serve` leaves the schedules active, and the
next start runs what came due meanwhile (the deadline watch catches up on missed steps by itself).

Stopping: Ctrl-C and SIGTERM (a service manager's stop) take the same path: the runner stops, then the
portal (its workers finish the job in hand), then the server; each child runs in its own process group,
which is killed if it outlasts its time. Its ports are checked before anything starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

PORTAL_STOP_S = 60   # longer than its workers may take to finish the job in hand (30 s)
SERVER_STOP_S = 30


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


def _spawn(args: list[str], started: list[tuple[subprocess.Popen[bytes], float]], stop_s: float,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # Its own session and process group: a Ctrl-C at the terminal reaches `serve` alone, which stops the
    # runner first, then each child (a server gone first left the runner's last calls failing).
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, start_new_session=True)
    started.append((proc, stop_s))   # registered at once: stopped whatever interrupts the start
    return proc


def start_server(host: str, port: int, started: list[tuple[subprocess.Popen[bytes], float]] | None = None,
                 timeout_s: float = 120) -> subprocess.Popen[bytes]:
    server = _spawn([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
                    [] if started is None else started, SERVER_STOP_S, env=server_environment(host, port))
    try:
        wait_healthy(f"http://{host}:{port}/api/health", timeout_s, lambda: server.poll() is None)
    except BaseException:
        if started is None:   # nobody else will stop it
            stop_child(server, SERVER_STOP_S)
        raise
    return server


def server_environment(host: str, port: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What the server process must be told besides `--host/--port`: Prefect's UI calls the API at
    PREFECT_UI_API_URL, which defaults to PREFECT_API_URL or else PREFECT_SERVER_API_HOST:PORT (127.0.0.1:4200),
    never the `--port` given: on any other port the UI said "Can't connect to Server API". An address the
    operator set (PREFECT_UI_API_URL, behind a reverse proxy) is kept."""
    from campaign.prefect_server import ui_api_url_for

    env = os.environ if environ is None else environ
    out = {"PREFECT_SERVER_API_HOST": host, "PREFECT_SERVER_API_PORT": str(port)}
    if not (env.get("PREFECT_UI_API_URL") or env.get("PREFECT_SERVER_UI_API_URL")):
        out["PREFECT_UI_API_URL"] = ui_api_url_for(host, port)
    return out


def start_portal(host: str, port: int, started: list[tuple[subprocess.Popen[bytes], float]] | None = None,
                 ) -> subprocess.Popen[bytes]:
    """The upload portal and its warm workers, in a child process talking to the same Prefect API."""
    return _spawn([sys.executable, "-c", "from faces.cli import main; main()", "portal", "--host", host,
                   "--port", str(port)], [] if started is None else started, PORTAL_STOP_S)


def stop_child(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM to the child (uvicorn stops cleanly: the portal lets its workers finish), then SIGKILL to
    whatever of its process group is still there after `timeout_s`, then reap it.

    The child is waited for without being reaped (WNOWAIT) until its group has been killed: while it is a
    zombie its pid, hence its group's id, cannot be given to another program's process."""
    if proc.returncode is None:
        os.kill(proc.pid, signal.SIGTERM)   # not proc.terminate(): it polls first, which would reap the child
        end = time.monotonic() + timeout_s
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None and time.monotonic() < end:
            time.sleep(0.05)
    # Reaped before (a poll() saw it exit during start-up): its pid is reused only after the pids wrap
    # around, and its workers may still be in its group.
    with contextlib.suppress(ProcessLookupError):   # raised when the group is empty: all gone
        os.killpg(proc.pid, signal.SIGKILL)          # the group is the child's own (start_new_session)
    proc.wait()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt   # SIGTERM takes Ctrl-C's path


def serve(host: str = "127.0.0.1", port: int = 4200, say: Callable[[str], None] = print,
          portal_port: int | None = 8080) -> None:
    """Start the server, the portal, register and serve the deployments, create the automations; until
    Ctrl-C or SIGTERM. Raises campaign.runtime.PortInUse, before starting anything, if a port is taken."""
    from campaign.prefect_server import api_url_for, remove_server_file, write_server_file
    from campaign.runtime import ensure_ports_free
    from campaign.settings import get_settings

    home = get_settings().home.resolve()

    ensure_ports_free(host, {"--prefect-port (the Prefect server and UI)": port,
                             **({"--port (the portal)": portal_port} if portal_port else {})})
    started: list[tuple[subprocess.Popen[bytes], float]] = []
    before = signal.signal(signal.SIGTERM, _interrupt)   # until the runner installs its own (it stops itself)
    try:
        start_server(host, port, started)
        # This process talks to that server from now on (set before Prefect reads its settings).
        os.environ["PREFECT_API_URL"] = api_url_for(host, port)
        # and the commands run on this machine will too (campaign.prefect_server.discover)
        write_server_file(home, os.environ["PREFECT_API_URL"], os.getpid())
        if portal_port:
            portal = start_portal(host, portal_port, started)
            say(f"portal: http://{host}:{portal_port}")
        from prefect import serve as prefect_serve

        from flows.automations import create_all
        from flows.deployments import deployments

        deps = deployments()
        ids = {d.name: d.apply() for d in deps}
        names = create_all(ids)
        if portal_port and portal.poll() is not None:
            raise RuntimeError(f"the portal exited during start-up (code {portal.returncode}); see its messages above")
        say(f"Prefect UI: {api_url_for(host, port).removesuffix('/api')}  (API {api_url_for(host, port)})")
        say(f"deployments: {', '.join(ids)}; automations: {', '.join(names)}")
        prefect_serve(*deps, pause_on_shutdown=False, print_starting_message=False)
    except KeyboardInterrupt:
        pass   # a stop asked for (Ctrl-C, or SIGTERM before the runner took it over): stop the children
    finally:
        # A second signal must not cut the stop short and leave a child behind: each wait is bounded.
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        remove_server_file(home, os.getpid())   # first: a command started now must not wait for a server going
        try:
            for proc, stop_s in reversed(started):   # the portal first (it talks to the server), then the server
                stop_child(proc, stop_s)
        finally:
            signal.signal(signal.SIGINT, previous[signal.SIGINT])
            signal.signal(signal.SIGTERM, before)
