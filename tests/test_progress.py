"""Progress you can see (issue 22.3): the long commands show their stages and a bar on stderr when it is a
terminal, drawn by the CLI (faces/cli/progress.py, rich) from what the core reports (campaign/progress.py);
piped or under --json, both outputs are byte-equal to what they were without it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign import progress
from campaign.timing import Stopwatch
from faces.cli.progress import shown, wanted

ROOT = Path(__file__).resolve().parents[1]


def _long_step() -> None:
    """What a long command does: stages (the Stopwatch reports them), counted steps, its own output."""
    watch = Stopwatch()
    for stage in ("read", "standardize", "gate", "load"):
        with watch.stage(stage):
            print(f"stage {stage}", file=sys.stderr)
    for i in range(3):
        progress.report("load files", i, 3)
    print(json.dumps({"done": True}))


def test_piped_or_json_output_is_byte_equal_to_before(monkeypatch) -> None:
    def outputs(wrap: bool, as_json: bool) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if wrap:
                with shown(as_json):
                    assert progress._listeners == []   # nobody listens: nothing can be drawn
                    _long_step()
            else:
                _long_step()
        return out.getvalue(), err.getvalue()

    before = outputs(False, False)
    assert outputs(True, False) == before   # piped (a StringIO is no terminal)
    assert outputs(True, True) == before    # --json


def test_a_bar_only_on_a_terminal_and_never_under_json(monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    assert wanted(False) and not wanted(True)
    monkeypatch.setenv("CAMPAIGN_PROGRESS", "0")
    assert not wanted(False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delenv("CAMPAIGN_PROGRESS")
    assert not wanted(False)


def test_a_listener_that_fails_never_stops_the_work() -> None:
    seen = []

    def broken(step: progress.Step) -> None:
        seen.append(step)
        raise RuntimeError("a terminal gone away")

    with progress.listening(broken):
        progress.report("read")
        progress.report("load files", 1, 2)
    assert seen == [progress.Step("read"), progress.Step("load files", 1, 2)]
    assert progress._listeners == []


def _run_in_pty(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run `argv` with stderr (and stdin) on a pseudo-terminal and stdout piped; (exit code, the terminal's
    bytes as text)."""
    main, side = pty.openpty()
    proc = subprocess.Popen(argv, stdin=side, stdout=subprocess.PIPE, stderr=side, env=env, cwd=ROOT)
    os.close(side)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:   # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    os.close(main)
    return proc.returncode, seen.decode("utf-8", "replace")


def test_the_bar_appears_on_a_terminal() -> None:
    """A long step under `shown` with stderr on a pty: the stage and rich's bar are drawn on it."""
    code = ("import time\nfrom campaign import progress\nfrom faces.cli.progress import shown\n"
            "with shown(False):\n"
            "    for i in range(6):\n"
            "        progress.report('load files', i, 6)\n"
            "        time.sleep(0.15)\n")
    rc, screen = _run_in_pty([sys.executable, "-c", code], {**os.environ, "COLUMNS": "100", "TERM": "xterm"}, 60)
    assert rc == 0, screen
    assert "load files" in screen and "━" in screen and "/6" in screen, screen


@pytest.mark.prefect
def test_intake_shows_its_stages_on_a_terminal_and_nothing_when_piped(prefect_harness, tmp_path) -> None:
    """`campaign intake` end to end: on a terminal its stages are drawn; piped with --json, stdout is one JSON
    object and stderr carries no terminal codes."""
    from prefect.settings import PREFECT_API_URL

    from campaign.synth import generate_campaign

    manifest = generate_campaign(tmp_path / "in", people=150, seed=2021)
    f = next(f for f in manifest.files if f.kind == "facilities" and f.district == "622")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "100", "TERM": "xterm",
           "CAMPAIGN_NOW": "2021-07-28T08:00"}
    env.pop("CAMPAIGN_DATABASE_URL", None)
    argv = [sys.executable, "-m", "faces.cli", "intake", str(tmp_path / "in" / f.path), "--district", "622",
            "--kind", "facilities"]
    rc, screen = _run_in_pty(argv, {**env, "CAMPAIGN_HOME": str(tmp_path / "tty")}, 240)
    assert rc == 0, screen
    assert "standardize" in screen and "\x1b[" in screen, screen   # the stage, drawn with terminal codes

    piped = subprocess.run([*argv, "--json"], env={**env, "CAMPAIGN_HOME": str(tmp_path / "pipe")}, cwd=ROOT,
                           capture_output=True, timeout=240)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["status"] == "accepted"
    assert b"\x1b[" not in piped.stderr and "━".encode() not in piped.stderr


def test_shell_completion_is_offered_for_bash_and_zsh() -> None:
    """README: `eval "$(_CAMPAIGN_COMPLETE=bash_source campaign)"` (zsh: zsh_source); click completes the
    commands, `status` among them."""
    from faces.cli import main

    for shell in ("bash", "zsh"):
        script = CliRunner().invoke(main, [], prog_name="campaign",
                                    env={"_CAMPAIGN_COMPLETE": f"{shell}_source"}).output
        assert "_CAMPAIGN_COMPLETE" in script and "campaign" in script, (shell, script[:200])
    done = CliRunner().invoke(main, [], prog_name="campaign",
                              env={"_CAMPAIGN_COMPLETE": "bash_complete", "COMP_WORDS": "campaign sta",
                                   "COMP_CWORD": "1"}).output
    assert "plain,status" in done.splitlines(), done


@pytest.mark.prefect
def test_the_demo_reports_its_stages_and_counts_its_files(prefect_harness, campaign_home, tmp_path) -> None:
    """What the demo's bar shows comes from the core: the files counted as they load, then each step."""
    from flows.demo import demo_flow

    steps: list[progress.Step] = []
    with progress.listening(steps.append):
        summary = demo_flow(out_dir=str(tmp_path / "inputs"), people=300, seed=7, now="2021-07-28T08:00:00+07:00")
    stages = [s.stage for s in steps]
    files = [s for s in steps if s.stage == "load files"]
    assert stages[0] == "generate"
    assert files and [s.done for s in files] == list(range(len(files))) and {s.total for s in files} == {len(files)}
    assert len(files) == summary["submissions"]["total"]   # every file loaded by the flow (seed 7: 129)
    for stage in ("read", "standardize", "gate", "load", "readiness", "plan: sessions"):
        assert stage in stages, stage
    assert any(s.startswith("report district ") for s in stages) and any(s == "report province 64" for s in stages)
    assert progress._listeners == []
