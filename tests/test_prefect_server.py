"""Commands use the running Prefect server (issue 22, part 1): where `campaign serve` listens is found in
`<CAMPAIGN_HOME>/run/prefect-server.json`; PREFECT_API_URL wins; a stale file (its `serve` gone, or a server
that does not answer) is seen at once and ignored, and the command starts the ephemeral API as before.
The read-only commands start no flow: Prefect is not even imported. And the server `campaign serve` starts
is told its own address for its UI (any `--prefect-port`)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaign.prefect_server import (
    api_url_for,
    discover,
    remove_server_file,
    server_file,
    shown_url,
    ui_api_url_for,
    write_server_file,
)


class _Health(http.server.BaseHTTPRequestHandler):
    answer = b"true"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = self.answer if self.path == "/api/health" else b"no"
        self.send_response(200 if self.path == "/api/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def _fake_server() -> Iterator[str]:
    """A stand-in for a Prefect server's health endpoint."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield api_url_for("127.0.0.1", httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # closed again when the block ends: nothing listens there


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    with _fake_server() as api:
        write_server_file(tmp_path, api, os.getpid())
        found = discover(tmp_path, {"PREFECT_API_URL": "http://prefect.example:4200/api"})
    assert found is not None and found.source == "env" and found.api_url == "http://prefect.example:4200/api"


def test_the_file_of_a_running_serve_is_used(tmp_path: Path) -> None:
    with _fake_server() as api:
        path = write_server_file(tmp_path, api, os.getpid())
        assert path == server_file(tmp_path) == tmp_path / "run" / "prefect-server.json"
        assert oct(path.stat().st_mode & 0o777) == oct(0o600)
        found = discover(tmp_path, {})
    assert found is not None and found.source == "file" and found.api_url == api


def test_a_stale_file_is_ignored_quickly(tmp_path: Path) -> None:
    with _fake_server() as api:
        # the `serve` that wrote it was killed outright (its server answering or not)
        write_server_file(tmp_path, api, _dead_pid())
        started = time.monotonic()
        assert discover(tmp_path, {}) is None
    # its process alive but nothing listens any more (the server died): a refused connection, no wait
    write_server_file(tmp_path, api_url_for("127.0.0.1", _closed_port()), os.getpid())
    assert discover(tmp_path, {}) is None
    assert time.monotonic() - started < 1.0


def test_a_server_that_does_not_answer_in_time_is_ignored(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:   # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        write_server_file(tmp_path, api_url_for("127.0.0.1", listener.getsockname()[1]), os.getpid())
        started = time.monotonic()
        assert discover(tmp_path, {}, timeout_s=0.3) is None
        assert time.monotonic() - started < 1.5


def test_no_file_or_a_garbled_one_means_the_ephemeral_api(tmp_path: Path) -> None:
    assert discover(tmp_path, {}) is None
    server_file(tmp_path).parent.mkdir(parents=True)
    for text in ("", "{", '["x"]', '{"pid": 1}', '{"api_url": 5, "pid": "x"}'):
        server_file(tmp_path).write_text(text)
        assert discover(tmp_path, {}) is None, text


def test_a_health_answer_other_than_true_is_not_a_prefect_server(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_Health, "answer", b"<html>another program</html>")
    with _fake_server() as api:
        write_server_file(tmp_path, api, os.getpid())
        assert discover(tmp_path, {}) is None


def test_serve_removes_only_its_own_file(tmp_path: Path) -> None:
    write_server_file(tmp_path, "http://127.0.0.1:4310/api", 111)
    remove_server_file(tmp_path, 222)       # another serve's stop: not its file
    assert json.loads(server_file(tmp_path).read_text())["pid"] == 111
    remove_server_file(tmp_path, 111)
    assert not server_file(tmp_path).exists()
    remove_server_file(tmp_path, 111)       # gone already: nothing to do


def _cli(args: list[str], home: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A command in its own process, with a probe saying whether Prefect (or a flow) was imported."""
    probe = ("import sys\nfrom faces.cli import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
             "    heavy = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'flows', 'tasks'})\n"
             "    sys.stderr.write('IMPORTED ' + ','.join(heavy) + '\\n')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"CAMPAIGN_HOME": str(home), "CAMPAIGN_NOW": "2021-07-28T08:00", **(env_extra or {})})
    env.pop("CAMPAIGN_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True,
                          timeout=300)


READ_ONLY = [["deadlines", "--json"], ["readiness", "--history", "--json"], ["review", "--json"],
             ["report", "history", "--json"], ["users", "list", "--json"]]


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a[:2]))
def test_read_only_commands_start_no_flow(tmp_path: Path, args: list[str]) -> None:
    """They read the database through the core: no Prefect import (so no flow run, no API, no server
    looked for), one JSON object on stdout, nothing said about a Prefect server."""
    with _fake_server() as api:
        write_server_file(tmp_path / "home", api, os.getpid())   # a server is up: still not used
        done = _cli(args, tmp_path / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "IMPORTED \n" in done.stderr, done.stderr[-500:]
    assert "Prefect" not in done.stderr
    json.loads(done.stdout)


def test_a_command_says_the_server_it_uses_on_stderr_only(tmp_path: Path, monkeypatch) -> None:
    """`prepare()` (what every flow-starting command calls first) points Prefect at the noted server and
    says so in one line on stderr; a stale file leaves PREFECT_API_URL unset and says nothing."""
    import click
    from click.testing import CliRunner

    from faces.cli.common import prepare

    @click.command()
    def probe() -> None:
        prepare()
        click.echo(os.environ.get("PREFECT_API_URL", "-"))

    monkeypatch.setenv("CAMPAIGN_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from campaign.settings import get_settings

    get_settings.cache_clear()
    try:
        with _fake_server() as api:
            write_server_file(tmp_path.resolve(), api, os.getpid())
            done = CliRunner().invoke(probe, [])
            assert done.exit_code == 0, done.output
            assert done.stdout.strip() == api
            assert done.stderr.strip() == f"dùng máy chủ Prefect tại {api}"
        monkeypatch.delenv("PREFECT_API_URL")
        done = CliRunner().invoke(probe, [])   # the server is gone: the ephemeral API, as before
        assert done.stdout.strip() == "-" and done.stderr == ""
    finally:
        get_settings.cache_clear()


def test_a_url_is_shown_without_credentials() -> None:
    assert shown_url("http://admin:s3cret@10.0.0.5:4310/api?token=abc") == "http://10.0.0.5:4310/api"
    assert shown_url("http://127.0.0.1:4200/api") == "http://127.0.0.1:4200/api"


def test_the_ui_is_told_the_address_it_is_served_from() -> None:
    """`prefect server start --port P` alone left the UI calling 127.0.0.1:4200 ("Can't connect to Server
    API"): the server `campaign serve` starts gets its host, port and the UI's API URL."""
    from flows.serve import server_environment

    assert server_environment("127.0.0.1", 4310, {}) == {
        "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": "4310",
        "PREFECT_UI_API_URL": "http://127.0.0.1:4310/api"}
    assert server_environment("10.20.0.7", 4200, {})["PREFECT_UI_API_URL"] == "http://10.20.0.7:4200/api"
    # on every interface the browser reaches it by an address only it knows: its own origin
    assert server_environment("0.0.0.0", 4310, {})["PREFECT_UI_API_URL"] == "/api"  # noqa: S104
    assert ui_api_url_for("::", 4310) == "/api" and api_url_for("::", 4310) == "http://[::1]:4310/api"
    assert api_url_for("0.0.0.0", 4310) == "http://127.0.0.1:4310/api"  # noqa: S104
    # an address the operator set (a reverse proxy) is kept
    assert "PREFECT_UI_API_URL" not in server_environment("0.0.0.0", 4310,  # noqa: S104
                                                          {"PREFECT_UI_API_URL": "https://prefect.soyte/api"})
