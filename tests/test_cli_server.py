"""With `campaign serve` running on a port other than 4200, the commands run their flows on its server
(no ephemeral API: not one byte of an ephemeral Prefect database is written), under names that say what
they did; its UI, opened in Debian's Chromium, calls its own API (not 127.0.0.1:4200: "Can't connect to
Server API") and lists those runs by name. Stopped, `serve` takes its note away.

Screenshot (1280x900): prefect-ui-runs.png in $CAMPAIGN_SCREENSHOTS when set, else the test's tmp dir."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import portal_e2e_support as sup
from tests.test_serve import (
    CAMPAIGN,
    _clear_of_the_quarter_hour,
    _stopped_by_sigterm_leaving_nothing,
    _wait_for,
)

pytestmark = pytest.mark.prefect
NOW = "2021-07-28T10:00"
DISTRICT = "622"


@dataclass
class Served:
    proc: subprocess.Popen
    port: int
    portal_port: int
    home: Path
    log: Path
    tmp: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command as a coordinator types it: no PREFECT_API_URL; a Prefect home of its own, so an
        ephemeral API (had it started one) would have written its database there, not the server's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update({"CAMPAIGN_HOME": str(self.home), "CAMPAIGN_NOW": NOW, "PREFECT_HOME": str(self.tmp / "cmd-prefect")})
        env.pop("CAMPAIGN_DATABASE_URL", None)
        return subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, timeout=600)

    def stop(self) -> None:
        if self.proc.returncode is None:
            _stopped_by_sigterm_leaving_nothing(self.proc, self.home, [self.port, self.portal_port], self.log)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    _clear_of_the_quarter_hour()
    tmp = tmp_path_factory.mktemp("served")
    port, portal_port = sup.free_port(), sup.free_port()
    assert port != 4200
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"CAMPAIGN_HOME": str(tmp / "home"), "CAMPAIGN_NOW": NOW})
    env.pop("CAMPAIGN_DATABASE_URL", None)
    log = tmp / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([CAMPAIGN, "serve", "--prefect-port", str(port), "--port", str(portal_port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    s = Served(proc, port, portal_port, tmp / "home", log, tmp)
    try:
        _wait_for(log, "automations:", proc, timeout=300)
        yield s
    finally:
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                s.stop()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def _flow_runs(api: str) -> list[dict]:
    req = urllib.request.Request(f"{api}/flow_runs/filter", data=json.dumps({"limit": 200}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as answer:   # noqa: S310 - the test's own server
        return json.load(answer)


def test_commands_run_their_flows_on_the_running_server_under_descriptive_names(served: Served) -> None:
    from campaign.prefect_server import server_file
    from campaign.synth.run import generate_campaign

    noted = json.loads(server_file(served.home).read_text())
    assert noted == {"api_url": served.api, "pid": served.proc.pid}
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/ui-settings", timeout=30) as answer:  # noqa: S310
        assert json.load(answer)["api_url"] == served.api   # not http://127.0.0.1:4200/api

    manifest = generate_campaign(served.tmp / "inputs", people=300, seed=7)
    entry = next(f for f in manifest.files if f.district == DISTRICT and f.kind == "facilities"
                 and f.status != "rejected_version")
    said = f"dùng máy chủ Prefect tại {served.api}"
    done = served.command("intake", str(served.tmp / "inputs" / entry.path), "--district", DISTRICT,
                          "--kind", "facilities", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["version"] == 1   # stdout: the JSON object alone
    assert said in done.stderr.splitlines()
    for args in (["readiness", "--json"], ["watch", "--json"]):
        done = served.command(*args)
        assert done.returncode == 0, done.stderr[-3000:]
        json.loads(done.stdout)
        assert said in done.stderr.splitlines(), done.stderr[-2000:]
    # no ephemeral API was started: its database would be in the commands' own Prefect home
    assert not (served.tmp / "cmd-prefect" / "prefect.db").exists()
    runs = {r["name"]: r for r in _flow_runs(served.api)}
    for name in (f"intake-{DISTRICT}-facilities-v1", "readiness-2021-07-28T10:00", "deadline-watch-2021-07-28T10:00"):
        assert name in runs, sorted(runs)
        assert runs[name]["state_type"] == "COMPLETED", runs[name]["state_type"]


def test_the_ui_on_another_port_lists_the_runs_by_name(served: Served, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = sup.chromium_path()
    base = f"http://127.0.0.1:{served.port}"
    shots = Path(os.environ.get("CAMPAIGN_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=sup.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=sup.VIEWPORT)
            api_calls: list[str] = []
            page.on("request", lambda r: api_calls.append(r.url) if "/api/" in r.url else None)
            page.goto(f"{base}/runs")
            for name in ("readiness-2021-07-28T10:00", f"intake-{DISTRICT}-facilities-v1",
                         "deadline-watch-2021-07-28T10:00"):
                page.get_by_text(name).first.wait_for(timeout=120_000)
            page.screenshot(path=str(shots / "prefect-ui-runs.png"), full_page=True)
            assert page.get_by_text("Can't connect").count() == 0
            assert api_calls and all(u.startswith(f"{base}/api/") for u in api_calls), \
                sorted({u.split("?")[0] for u in api_calls if not u.startswith(base)})[:5]
        finally:
            browser.close()


def test_a_command_hands_its_flow_to_the_served_process_and_gets_its_own_answer(served: Served) -> None:
    """With `serve` running, `readiness` runs in the portal's warm process (campaign.handover): the same
    JSON and words as running the flow itself (the served process's own CAMPAIGN_NOW aside: the command's
    clock travels with the request); the note is owner-only; the route refuses a caller without the token."""
    from campaign.handover import TOKEN_HEADER, runner_file

    note = runner_file(served.home)
    assert note.stat().st_mode & 0o777 == 0o600
    noted = json.loads(note.read_text())
    handed = served.command("readiness", "--json", "--district", DISTRICT, "--at", "2021-07-28T09:00")
    assert handed.returncode == 0, handed.stderr[-3000:]
    assert f"luồng readiness đã chạy trong tiến trình của campaign serve (pid {noted['pid']})" in handed.stderr
    aside = note.with_name("aside.json")
    note.rename(aside)
    try:   # the same command running the flow itself (still on the server)
        itself = served.command("readiness", "--json", "--district", DISTRICT, "--at", "2021-07-28T09:00")
    finally:
        aside.rename(note)
    assert itself.returncode == 0 and "tiến trình của campaign serve" not in itself.stderr, itself.stderr[-2000:]
    a, b = json.loads(handed.stdout), json.loads(itself.stdout)
    assert a.pop("run_id") != b.pop("run_id")
    assert a == b
    words = [ln for ln in handed.stderr.splitlines() if not ln.startswith(("dùng", "luồng"))]
    assert words and set(words) <= set(itself.stderr.splitlines())   # the same text (Prefect's own log aside)

    url = f"{noted['url']}/internal/flows/readiness"
    for headers in ({}, {TOKEN_HEADER: "not-the-token"}):
        req = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=30)   # noqa: S310 - the test's own portal
        assert refused.value.code == 403


def test_a_stopped_serve_takes_its_note_away(served: Served) -> None:
    from campaign.handover import runner_file
    from campaign.prefect_server import discover, server_file

    served.stop()
    assert not server_file(served.home).exists() and not runner_file(served.home).exists()
    started = time.monotonic()
    assert discover(served.home, {}) is None    # the next command starts the ephemeral API, at once
    assert time.monotonic() - started < 1
