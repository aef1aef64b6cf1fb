"""Process-wide defaults set before Prefect or GX are imported (the faces call this first).

The embedded default keeps everything under CAMPAIGN_HOME (./var): the app's SQLite database,
Prefect's home (its own, separate database) and the outputs, so `campaign serve` shows the demo's runs.
This system holds personal data and runs on closed networks: analytics of Prefect and GX are off, and
the process's umask is 0o077 (directories 0700, files 0600).

Nothing a command starts outlives it (docs/reliability.md): SIGTERM ends a command the way Ctrl-C does
(its `finally` blocks and atexit run: Prefect's ephemeral API server is stopped by atexit), and a small
reaper process terminates the command's children if it is killed outright (SIGKILL, the OOM killer).
Flow runs send a heartbeat every HEARTBEAT_SECONDS: a run whose process died is marked Crashed by the
automation of flows/automations.yaml (under `campaign serve`). The reaper marks them itself first: every
flow of the campaign notes its run (`flows.hooks.note_flow_run`, an on_running hook, through
`note_run_for_reaper`) in a file the reaper reads once the command is gone, and the runs still Running
there are set Crashed through the same API, before the command's ephemeral API server is stopped (which
has no automations: its runs stayed Running forever).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from campaign.files import private_dir, private_umask
from campaign.settings import Settings

HEARTBEAT_SECONDS = 30
# The state message of a run whose command was killed (read by the coordinators in the Prefect UI).
KILLED_MESSAGE = ("Lệnh chạy lượt này đã bị dừng đột ngột (tiến trình bị tắt: kill -9, hết bộ nhớ, máy khởi động "
                  "lại); lượt chạy không hoàn thành. Chạy lại lệnh để làm lại")
_runs_file: str | None = None   # where this process notes its flow runs for its reaper


def configure_environment(settings: Settings) -> None:
    # Personal data at rest: everything this process and its children (Prefect's server, the portal's
    # workers) create is the system user's only, and so is the home (docs/data-protection.md).
    private_umask()
    home = private_dir(settings.home.resolve())
    defaults = {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        # The ephemeral API starts slowly on a loaded 2-core machine (docs/contracts.md, pitfalls).
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # Prefect's minimum (default 180 s): a dead run is seen 3 missed beats later (flows/automations.yaml).
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    os.environ.update(absolute_paths(settings, home))
    stop_on_sigterm()
    reap_children_when_killed(private_dir(home / "run") / f"{os.getpid()}.runs")


def absolute_paths(settings: Settings, home: Path) -> dict[str, str]:
    """The settings' paths as the environment of this process's children must hold them: absolute. Prefect's
    process worker (`campaign worker --prefect`) runs each flow run in a temporary working directory that is
    deleted afterwards, so a relative CAMPAIGN_HOME (`./var`) would send a scheduled run's database, outputs
    and keys (keys/aefi-case-ids.key) there. CAMPAIGN_HOME is `home` (resolved); a SQLite
    CAMPAIGN_DATABASE_URL with a relative file and a relative CAMPAIGN_CONFIG are resolved against the
    current directory, as this process reads them (other database URLs are left as they are)."""
    out = {"CAMPAIGN_HOME": str(home)}
    if settings.database_url:
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url)
        db = url.database
        if url.get_backend_name() == "sqlite" and db and db != ":memory:" and not db.startswith("file:") \
                and not Path(db).is_absolute():
            out["CAMPAIGN_DATABASE_URL"] = url.set(database=str(Path(db).resolve())).render_as_string(
                hide_password=False)
    if not Path(settings.config).is_absolute():
        out["CAMPAIGN_CONFIG"] = str(Path(settings.config).resolve())
    return out


# ---------------------------------------------------------------------------------------------------------
# Nothing left behind
# ---------------------------------------------------------------------------------------------------------


class PortInUse(RuntimeError):
    """A port this command must listen on is taken (by another program, or a `campaign serve` still running)."""


def ensure_ports_free(host: str, ports: dict[str, int]) -> None:
    """Raise PortInUse naming the first taken port, before anything is started. `ports`: what -> port."""
    for what, port in ports.items():
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # as uvicorn binds: a port whose last connection is in TIME_WAIT is free, a listening one is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise PortInUse(f"port {port} on {host} ({what}) is already in use: another program, or a "
                                f"`campaign serve` still running, listens on it ({exc.strerror}). Stop it or "
                                "choose another port; nothing was started.") from None


class Terminated(SystemExit):
    """SIGTERM: a stop asked for (exit status 143, as a process killed by SIGTERM has)."""


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise Terminated(128 + signum)


def stop_on_sigterm() -> None:
    """SIGTERM ends the command as a SystemExit (Python's default dies at once: no `finally`, no atexit, and
    Prefect's ephemeral API server, stopped by atexit, was left running). Prefect's own handler takes over
    while a flow runs (the run is marked Crashed), and `campaign serve` installs its own."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


# Run with `python -I -S`: no site, no imports but the interpreter's own. It lists the children of the
# command (argv[1]) every second; once the command is gone (this process is re-parented), it sets Crashed
# the command's flow runs still Running (argv[2]: lines "<API URL> <flow run id>", written by
# `note_run_for_reaper`; argv[3]: the state message) while the command's API server still answers, then
# terminates the children still alive (checked by their start time: a pid can be reused), then kills what
# ignored it.
_REAPER = r"""
import json, os, signal, sys, time, urllib.request
signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the command, which stops its children itself
parent, me = int(sys.argv[1]), os.getpid()
runs_file, message = sys.argv[2], sys.argv[3]

def stat(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[19]   # ppid, start time

children = {}
while os.getppid() == parent:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            s = stat(int(name))
            if s is not None and s[0] == parent:
                found[int(name)] = s[1]
    children = found
    time.sleep(1)

def alive():
    return [pid for pid, started in children.items() if (s := stat(pid)) is not None and s[1] == started]

def signal_all(sig):
    for pid in alive():
        try:
            os.kill(pid, sig)
        except OSError:
            pass

def crash_runs_left_running():
    try:
        with open(runs_file, encoding="utf-8") as f:
            noted = [line.split() for line in f if len(line.split()) == 2]
    except OSError:
        return   # no flow ran
    for api, run_id in noted:
        url = api.rstrip("/") + "/flow_runs/" + run_id
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                state = json.load(answer).get("state") or {}
            if state.get("type") not in ("RUNNING", "PENDING"):
                continue   # it ended (the command exited normally, or its own handler marked it)
            body = json.dumps({"state": {"type": "CRASHED", "name": "Crashed", "message": message},
                               "force": True}).encode()
            urllib.request.urlopen(urllib.request.Request(url + "/set_state", data=body, method="POST",
                                   headers={"Content-Type": "application/json"}), timeout=5).close()
        except Exception:
            pass   # the API is gone (a normal exit stopped it): the no-heartbeat automation is the second line
    try:
        os.remove(runs_file)
    except OSError:
        pass

crash_runs_left_running()
signal_all(signal.SIGTERM)
end = time.monotonic() + 10
while alive() and time.monotonic() < end:
    time.sleep(0.2)
signal_all(signal.SIGKILL)
"""
_reaper: subprocess.Popen[bytes] | None = None


def reap_children_when_killed(runs_file: Path) -> None:
    """Start, once per process, the reaper that marks this process's flow runs Crashed and stops its
    children if it dies without doing so (SIGKILL: no handler, no atexit). Linux only (/proc); elsewhere a
    no-op."""
    global _reaper, _runs_file
    if _reaper is not None or not os.path.isdir("/proc/self/task"):
        return
    _runs_file = str(runs_file)
    # no inherited stdout/stderr: a caller reading the command's output to its end must not wait for the reaper
    _reaper = subprocess.Popen([sys.executable, "-I", "-S", "-c", _REAPER, str(os.getpid()), _runs_file,
                                KILLED_MESSAGE],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               close_fds=True)


def note_run_for_reaper(api_url: str, flow_run_id: str) -> None:
    """Note a flow run and the API it reports to, for this process's reaper (flows/hooks.py calls this as
    every flow starts running). Without a reaper (not Linux, or not configured) nothing is noted: the
    no-heartbeat automation is then the only line."""
    if _runs_file is None:
        return
    with open(_runs_file, "a", encoding="utf-8") as f:
        f.write(f"{api_url} {flow_run_id}\n")


def process_alive(pid: object) -> bool:
    """A process of this machine with this pid exists (another user's counts: it is alive)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
