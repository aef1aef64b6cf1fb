"""`campaign serve` for real: a Prefect server, the deployments on their schedules, the automations; after a
stop the schedules stay active. Stopped as a service manager stops it (SIGTERM to its pid), it leaves no
process behind, also when stopped while starting; a port already taken is said before anything starts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_crashes import left_behind

pytestmark = pytest.mark.prefect
CAMPAIGN = str(Path(sys.executable).parent / "campaign")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(api: str):
    from prefect.client.orchestration import PrefectClient

    async def go():
        async with PrefectClient(api) as client:
            deployments = await client.read_deployments()
            automations = await client.read_automations()
            return deployments, automations

    return asyncio.run(go())


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 180, poll_s: float = 1) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {path.read_text(errors='replace')[-3000:]}")
        time.sleep(poll_s)
    raise AssertionError(f"{text!r} not seen: {path.read_text(errors='replace')[-3000:]}")


def _clear_of_the_quarter_hour(margin_s: float = 150) -> None:
    """The served deadline watch runs at every quarter hour: a run that starts while the test stops
    `serve` is (rightly) waited for, and the stop outlasts the test's patience. Start well clear of it."""
    into = time.time() % 900
    if into > 900 - margin_s:
        time.sleep(900 - into + 20)


def _serve(tmp_path: Path, port: int, portal_port: int) -> tuple[subprocess.Popen, Path, dict[str, str]]:
    env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path / "home")}
    for key in ("PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(key, None)
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([CAMPAIGN, "serve", "--prefect-port", str(port), "--port", str(portal_port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log, env


def _stopped_by_sigterm_leaving_nothing(proc: subprocess.Popen, home: Path, ports: list[int], log: Path) -> None:
    """SIGTERM to `serve`'s pid alone (a service manager's stop): it exits 0, and so does all it started."""
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(180) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        left = left_behind(home)
    assert not left, f"left behind: {left}"
    for port in ports:   # nothing listens any more
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))


DOOMED_FLOW = """
import sys, time
from pathlib import Path
from prefect import flow
from prefect.runtime import flow_run

@flow(name="doomed-probe")
def doomed() -> None:
    Path(sys.argv[1]).write_text(flow_run.id)
    time.sleep(900)   # until killed

doomed()
"""


def _flow_run(api: str, run_id: str):
    from prefect.client.orchestration import PrefectClient

    async def go():
        async with PrefectClient(api) as client:
            return await client.read_flow_run(run_id)

    return asyncio.run(go())


def _alerts_since(api: str, since: float) -> list:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    async def go():
        async with PrefectClient(api) as client:
            runs = await client.read_flow_runs(deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=["alert-coordinators"])))
            return [r for r in runs if r.created and r.created.timestamp() >= since]

    return asyncio.run(go())


def _a_killed_run_is_crashed_by_the_automations_and_alerted(api: str, tmp_path: Path) -> None:
    """A flow run whose process is killed outright (kill -9: no state change of its own) is marked Crashed by
    `campaign-flow-run-no-heartbeat` three missed beats later, and `campaign-flow-run-failed` then starts the
    coordinators' alert for it. Real process, real signal, real automations of a served Prefect server."""
    from prefect.client.schemas.objects import StateType

    from campaign.runtime import HEARTBEAT_SECONDS

    id_file = tmp_path / "doomed-run-id"
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    with (tmp_path / "doomed.log").open("wb") as out:
        doomed = subprocess.Popen([sys.executable, "-c", DOOMED_FLOW, str(id_file)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 120
        while not (id_file.exists() and id_file.read_text()) and time.monotonic() < end:
            assert doomed.poll() is None, (tmp_path / "doomed.log").read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        run_id = id_file.read_text()
        assert _flow_run(api, run_id).state.type == StateType.RUNNING
        time.sleep(5)   # its first heartbeat (sent as the run starts) has reached the server
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(30)
    killed_at = time.time()
    end = time.monotonic() + 3 * HEARTBEAT_SECONDS + 120
    while (state := _flow_run(api, run_id).state).type != StateType.CRASHED and time.monotonic() < end:
        time.sleep(2)
    assert state.type == StateType.CRASHED, state
    assert "heartbeat" in (state.message or ""), state.message
    print(f"a killed run was marked Crashed {time.time() - killed_at:.0f} s after the kill")
    end = time.monotonic() + 90
    while not (alerts := _alerts_since(api, killed_at)) and time.monotonic() < end:
        time.sleep(2)
    assert alerts, "the failed-run automation did not start the coordinators' alert for the crashed run"


def test_serve_schedules_deployments_in_gia_lai_time_and_keeps_them_after_a_stop(tmp_path):
    _clear_of_the_quarter_hour()
    port, portal_port = _free_port(), _free_port()
    proc, log, env = _serve(tmp_path, port, portal_port)
    try:
        _wait_for(log, "automations:", proc)
        api = f"http://127.0.0.1:{port}/api"
        deployments, automations = _read(api)
        by_name = {d.name: d for d in deployments}
        assert {"deadline-watch", "readiness", "alert-coordinators"} <= set(by_name)
        (schedule,) = by_name["deadline-watch"].schedules
        assert schedule.schedule.cron == "*/15 * * * *" and schedule.schedule.timezone == "Asia/Ho_Chi_Minh"
        assert schedule.active
        assert sorted(a.name for a in automations) == ["campaign-deadline-watch-silent", "campaign-flow-run-failed",
                                                       "campaign-flow-run-no-heartbeat"]
        # the portal runs beside them, signed-out visitors are sent to the sign-in page
        from flows.serve import wait_healthy

        wait_healthy(f"http://127.0.0.1:{portal_port}/suc-khoe", 120, lambda: proc.poll() is None)
        with urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/dang-nhap", timeout=10) as page:
            assert "Đăng nhập" in page.read().decode()
        _a_killed_run_is_crashed_by_the_automations_and_alerted(api, tmp_path)
    finally:
        # the runner stops each served deployment first, then the portal, then the server: slower on a busy machine
        _stopped_by_sigterm_leaving_nothing(proc, tmp_path / "home", [port, portal_port], log)
    # after the stop: the same Prefect home, a bare server: the schedule is still active, not paused
    bare_log = tmp_path / "bare.log"
    bare_env = {**env, "PREFECT_HOME": str(tmp_path / "home" / "prefect")}
    with bare_log.open("wb") as out:
        bare = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], env=bare_env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        from flows.serve import wait_healthy

        wait_healthy(f"http://127.0.0.1:{port}/api/health", 120, lambda: bare.poll() is None)
        deployments, _ = _read(f"http://127.0.0.1:{port}/api")
        watch = next(d for d in deployments if d.name == "deadline-watch")
        assert not watch.paused and watch.schedules[0].active
    finally:
        os.killpg(bare.pid, signal.SIGTERM)
        bare.wait(60)


def test_serve_stopped_while_starting_leaves_nothing_behind(tmp_path):
    """SIGTERM once the Prefect server is up and the portal started, before the runner took over its own
    handler: Python's default SIGTERM left both running (and the next start could not bind the port)."""
    port, portal_port = _free_port(), _free_port()
    proc, log, _env = _serve(tmp_path, port, portal_port)
    try:
        _wait_for(log, f"portal: http://127.0.0.1:{portal_port}", proc, poll_s=0.05)
    finally:
        _stopped_by_sigterm_leaving_nothing(proc, tmp_path / "home", [port, portal_port], log)
    assert "deployments:" not in log.read_text(errors="replace")   # it was indeed stopped while starting


def test_a_port_already_taken_is_said_and_nothing_starts(tmp_path):
    port, portal_port = _free_port(), _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", portal_port))
        taken.listen()
        proc, log, _env = _serve(tmp_path, port, portal_port)
        try:
            code = proc.wait(120)
        finally:
            left = left_behind(tmp_path / "home", wait_s=0 if proc.poll() is None else 20)
        said = log.read_text(errors="replace")
        assert code == 1, said
        assert f"port {portal_port} on 127.0.0.1 (--port (the portal)) is already in use" in said, said
        assert "unexpected failure" not in said and "Traceback" not in said
        assert not left   # no Prefect server, no portal
        with socket.socket() as s:   # the Prefect server's port was never bound
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
