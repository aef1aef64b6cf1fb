"""campaign.handover without a server: the note is owner-only, found only for a live process of the same
settings, and a command never hands its flow to a process holding another database, another campaign file's
contents or other code; a portal that is not there costs a refused connection, not a wait."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from campaign.handover import Runner, discover_runner, fingerprint, run_remote, runner_file, write_runner_file
from campaign.settings import Settings


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(home=tmp_path / "home", **kw)


def test_the_note_is_found_only_for_a_live_process_of_the_same_settings(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    write_runner_file(s.home, "http://127.0.0.1:1", os.getpid(), s)
    assert runner_file(s.home).stat().st_mode & 0o777 == 0o600
    found = discover_runner(s.home, s)
    assert found is not None and found.pid == os.getpid() and len(found.token) >= 32
    other_db = _settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert discover_runner(s.home, other_db) is None
    write_runner_file(s.home, "http://127.0.0.1:1", 2**22 + 12345, s)   # no such process
    assert discover_runner(s.home, s) is None


def test_the_fingerprint_follows_the_campaign_files_contents(tmp_path: Path) -> None:
    from campaign.config_files import DEFAULT_CAMPAIGN_FILE

    copy = tmp_path / "campaign.yaml"
    copy.write_bytes(DEFAULT_CAMPAIGN_FILE.read_bytes())
    s = _settings(tmp_path, config=copy)
    before = fingerprint(s)
    assert fingerprint(s) == before
    copy.write_bytes(DEFAULT_CAMPAIGN_FILE.read_bytes() + b"\n# edited while serve runs\n")
    assert fingerprint(s) != before


def test_a_portal_that_is_gone_costs_a_refused_connection(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]   # closed when the block ends: nobody listens there
    started = time.monotonic()
    assert run_remote(Runner(f"http://127.0.0.1:{port}", "t", os.getpid()), "readiness", {}) is None
    assert time.monotonic() - started < 5
