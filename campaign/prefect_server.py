"""Where the running Prefect server is, so that a command runs its flow against it instead of starting
Prefect's ephemeral API (issue 22: ~10 s of a cold command on a 2-core machine went to that start).

`campaign serve` writes `<CAMPAIGN_HOME>/run/prefect-server.json` (its API URL and its pid) once its server
answers, and removes it when it stops. A command, before Prefect is imported, asks `discover`:

1. `PREFECT_API_URL` in the environment wins (as Prefect itself reads it): used as it is.
2. Else the file, if its `campaign serve` process is alive and the server answers `/health` within a
   tight timeout (a stale file, left by a `serve` killed outright, costs a refused connection, not a wait).
3. Else nothing: the command starts the ephemeral API, as before.

No Prefect import here (the core runs under any face); the health check is one HTTP GET.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from campaign.files import private_dir
from campaign.runtime import process_alive

SERVER_FILE = "prefect-server.json"
HEALTH_TIMEOUT_S = 1.0
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}   # noqa: S104 - the names of "all interfaces", compared, not bound


@dataclass(frozen=True)
class FoundServer:
    api_url: str
    source: Literal["env", "file"]


def server_file(home: Path) -> Path:
    return home / "run" / SERVER_FILE


def api_url_for(host: str, port: int) -> str:
    """The API URL a client on this machine uses for a server listening on host:port (all interfaces:
    through the loopback address)."""
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1" if host != "::" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/api"


def ui_api_url_for(host: str, port: int) -> str:
    """What the UI's browser code calls (Prefect's PREFECT_UI_API_URL): the address it was served from. Left
    to itself Prefect gives PREFECT_SERVER_API_HOST/PORT's defaults (127.0.0.1:4200), not the `--port` the
    server was started with. On all interfaces the browser's own origin is the only right answer: `/api`."""
    if host in WILDCARD_HOSTS:
        return "/api"
    return api_url_for(host, port)


def write_server_file(home: Path, api_url: str, pid: int) -> Path:
    """Say where this `campaign serve` listens (atomically: a reader never sees half a file)."""
    path = server_file(home)
    private_dir(path.parent)
    tmp = path.with_name(f".{SERVER_FILE}.{pid}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"api_url": api_url, "pid": pid}))
    os.replace(tmp, path)
    return path


def remove_server_file(home: Path, pid: int) -> None:
    """Remove the file if it is this process's (another `serve` may have written it since)."""
    path = server_file(home)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def healthy(api_url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """The server answers its health check (200, body `true`) within `timeout_s`."""
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout_s) as answer:  # noqa: S310
            return answer.status == 200 and answer.read(64).strip() == b"true"
    except (OSError, ValueError, urllib.error.URLError):
        return False


def discover(home: Path, environ: dict[str, str] | None = None,
             timeout_s: float = HEALTH_TIMEOUT_S) -> FoundServer | None:
    """The Prefect API a command should use, or None (start the ephemeral API)."""
    env = os.environ if environ is None else environ
    if env.get("PREFECT_API_URL", "").strip():
        return FoundServer(env["PREFECT_API_URL"].strip(), "env")
    try:
        noted = json.loads(server_file(home).read_text(encoding="utf-8"))
        api_url, pid = str(noted["api_url"]), noted.get("pid")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process_alive(pid) or not healthy(api_url, timeout_s):
        return None   # stale: its `serve` was killed, or its server does not answer
    return FoundServer(api_url, "file")


def shown_url(url: str) -> str:
    """The URL as it may be printed: no user or password, no query (a token could be there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
