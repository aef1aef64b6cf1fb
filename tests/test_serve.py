"""`campaign serve` for real: a Prefect server, the deployments on their schedules, the automations; after a
stop the schedules stay active."""

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

pytestmark = pytest.mark.prefect


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


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {path.read_text(errors='replace')[-3000:]}")
        time.sleep(1)
    raise AssertionError(f"{text!r} not seen: {path.read_text(errors='replace')[-3000:]}")


def _clear_of_the_quarter_hour(margin_s: float = 150) -> None:
    """The served deadline watch runs at every quarter hour: a run that starts while the test stops
    `serve` is (rightly) waited for, and the stop outlasts the test's patience. Start well clear of it."""
    into = time.time() % 900
    if into > 900 - margin_s:
        time.sleep(900 - into + 20)


def test_serve_schedules_deployments_in_gia_lai_time_and_keeps_them_after_a_stop(tmp_path):
    _clear_of_the_quarter_hour()
    port, portal_port = _free_port(), _free_port()
    env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path / "home")}
    for key in ("PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(key, None)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "campaign"), "serve", "--prefect-port", str(port),
                                 "--port", str(portal_port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(log, "automations:", proc)
        api = f"http://127.0.0.1:{port}/api"
        deployments, automations = _read(api)
        by_name = {d.name: d for d in deployments}
        assert {"deadline-watch", "readiness", "alert-coordinators"} <= set(by_name)
        (schedule,) = by_name["deadline-watch"].schedules
        assert schedule.schedule.cron == "*/15 * * * *" and schedule.schedule.timezone == "Asia/Ho_Chi_Minh"
        assert schedule.active
        assert {a.name for a in automations} >= {"campaign-deadline-watch-silent", "campaign-flow-run-failed"}
        # the portal runs beside them, signed-out visitors are sent to the sign-in page
        from flows.serve import wait_healthy

        wait_healthy(f"http://127.0.0.1:{portal_port}/suc-khoe", 120, lambda: proc.poll() is None)
        with urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/dang-nhap", timeout=10) as page:
            assert "Đăng nhập" in page.read().decode()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(180)   # the runner stops each served deployment first: slower on a busy CI machine
    with pytest.raises(OSError):   # the portal stopped with it
        urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/suc-khoe", timeout=5)
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
