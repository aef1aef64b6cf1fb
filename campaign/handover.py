"""Hand a command's flow run to the running `campaign serve`, whose portal process has Prefect, pandas and the
campaign already imported (issue 22: with a server running, a command paid ~5 s of imports and engine
start-up before any work; the served process pays them once).

The portal, once started, writes `<CAMPAIGN_HOME>/run/flow-runner.json`: its URL, its pid, a random token
and the fingerprint of its settings (database, campaign file). A command that finds the file, with the
process alive and the same fingerprint as its own, POSTs its flow's parameters to the portal's
`/internal/flows/<name>` (loopback only, the token in a header) and prints what comes back: the same result
and words as running the flow itself. Anything else (no file, another database, no answer) and the command
runs its flow in its own process, as before. No web or orchestrator library here: urllib and json.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campaign.files import private_dir
from campaign.runtime import process_alive

RUNNER_FILE = "flow-runner.json"
TOKEN_HEADER = "X-Campaign-Token"


class HandoverFailed(RuntimeError):
    """The served process ran the flow and it failed: its message, not a reason to run it again here."""


@dataclass(frozen=True)
class Runner:
    url: str
    token: str
    pid: int


def runner_file(home: Path) -> Path:
    return home / "run" / RUNNER_FILE


def fingerprint(settings: Any) -> str:
    """What must be the same on both sides for a hand-over to give the command's own answer: the database,
    the campaign file and the configuration's contents, and the code (a `git pull` or an edited YAML while
    `serve` runs: the served process still holds the old ones, so the command runs the flow itself). The
    logical clock travels with each request."""
    from campaign.config_files import CONFIG_DIR, PROJECT_ROOT

    digest = hashlib.sha256(json.dumps([settings.resolved_database_url, str(Path(settings.config).resolve())]).encode())
    for path in sorted({Path(settings.config).resolve(), *CONFIG_DIR.glob("*.yaml")}):
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    for package in ("campaign", "flows", "tasks", "faces", "expectations"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            with contextlib.suppress(OSError):
                st = path.stat()
                digest.update(f"{path}:{st.st_mtime_ns}:{st.st_size}".encode())
    return digest.hexdigest()


def write_runner_file(home: Path, url: str, pid: int, settings: Any) -> str:
    """Say where this portal takes flow runs (atomically, owner-only); returns the token it must be sent."""
    token = secrets.token_urlsafe(32)
    path = runner_file(home)
    private_dir(path.parent)
    tmp = path.with_name(f".{RUNNER_FILE}.{pid}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"url": url, "pid": pid, "token": token, "fingerprint": fingerprint(settings)}))
    os.replace(tmp, path)
    return token


def remove_runner_file(home: Path, pid: int) -> None:
    """Remove the file if it is this process's (another portal may have written it since)."""
    path = runner_file(home)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()


def discover_runner(home: Path, settings: Any) -> Runner | None:
    """The served process to hand a flow to, or None (run it here)."""
    try:
        noted = json.loads(runner_file(home).read_text(encoding="utf-8"))
        url, token, pid, fp = str(noted["url"]), str(noted["token"]), noted.get("pid"), noted.get("fingerprint")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process_alive(pid) or fp != fingerprint(settings):
        return None
    return Runner(url=url, token=token, pid=int(pid))


def run_remote(runner: Runner, name: str, params: dict[str, Any], timeout_s: float = 3600) -> dict[str, Any] | None:
    """The flow's answer from the served process; None when it could not be reached (run it here instead).
    Raises HandoverFailed when the flow ran there and failed."""
    request = urllib.request.Request(  # noqa: S310 - a URL this machine's portal wrote, loopback
        f"{runner.url.rstrip('/')}/internal/flows/{name}", data=json.dumps(params).encode(), method="POST",
        headers={"Content-Type": "application/json", TOKEN_HEADER: runner.token})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 500:
            try:
                message = json.loads(exc.read()).get("error", str(exc))
            except ValueError:
                message = str(exc)
            raise HandoverFailed(message) from exc
        return None   # refused (token, not loopback, unknown flow): the command runs it itself
    except (OSError, ValueError):
        return None   # not reachable (stopped since it wrote the file), or not an answer
