"""Processes killed outright (kill -9, as the OOM killer or a power cut does) in the middle of a load: nothing
half-written, the work is done again, the dead run is marked Crashed in Prefect, no process is left behind.

Real processes and real signals: `campaign intake` and `campaign portal` are started as a user starts them,
and SIGKILLed while their write transaction is open (PostgreSQL: while its COPY runs, seen in
pg_stat_activity; SQLite: while the database's write lock has been held for a while, which is the load).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from campaign.store.models import KIND_TABLES, PortalJob, PortalUser, QuarantineRow, RowIssue, Submission

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
HEADER = ("STT,Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),"
          "Số điện thoại (*),Số CMT/CCCD,Xã/Phường (*)\n")
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Ksor", "Rơ Châm", "Siu", "Nay"]
MIDDLE = ["Văn", "Thị", "Đức", "Ngọc", "Hữu"]
GIVEN = ["An", "Bình", "Hoa", "Lan", "H'Blang", "Thuận", "Nhi", "Dũng", "Minh", "Tú"]
DISTRICT, KIND = "633", "target_list"
ROWS = 100_000   # a load of 0.5-2 s on a 2-core machine: long enough to be killed in its middle


def big_target_list(path: Path, rows: int = ROWS, first_phone: int = 0) -> Path:
    """A district's target list with `rows` valid people (every row loads)."""
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        for i in range(rows):
            name = f"{FAMILY[i % 8]} {MIDDLE[(i // 8) % 5]} {GIVEN[(i // 40) % 10]} {GIVEN[(i // 400) % 10]}"
            f.write(f"{i + 1},{name},{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 50},{i % 2},{1 + i % 16},"
                    f"09{first_phone + i:08d},,{('Ia Blang', 'Ia Glai')[i % 2]}\n")
    return path


# ---------------------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, bytes] | None:
    """(ppid, start time) of a live process; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[1]), fields[19]) if fields[0] != b"Z" else None


def children_of(pid: int) -> dict[int, bytes]:
    """pid -> start time of the live children of `pid`."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (s := _stat(int(name))) is not None and s[0] == pid:
            out[int(name)] = s[1]
    return out


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def still_alive(procs: dict[int, bytes]) -> list[int]:
    return [pid for pid, started in procs.items() if (s := _stat(pid)) is not None and s[1] == started]


def processes_of(home: Path) -> list[int]:
    """Every live process started for this test's CAMPAIGN_HOME (its environment names it)."""
    marker = f"CAMPAIGN_HOME={home}".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in Path(f"/proc/{name}/environ").read_bytes().split(b"\0") and _stat(int(name)):
                    found.append(int(name))
    return found


def wait_for(what: str, check: Callable[[], object], timeout: float, proc: subprocess.Popen | None = None,
             log: Path | None = None) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (value := check()):
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited {proc.returncode} first\n{_tail(log)}")
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""


def left_behind(home: Path, wait_s: float = 20) -> dict[int, str]:
    """The processes of this home still alive after `wait_s` (a reaper looks once a second, then exits),
    killed: pid -> command line."""
    end = time.monotonic() + wait_s
    while processes_of(home) and time.monotonic() < end:
        time.sleep(0.2)
    left = {pid: cmdline(pid)[:200] for pid in processes_of(home)}
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


@contextlib.contextmanager
def nothing_left_behind(home: Path) -> Iterator[None]:
    """At the end, kill what a failed test left, and assert nothing of this home was left running."""
    try:
        yield
    finally:
        left = left_behind(home)
    assert not left, f"processes left behind: {left}"


# ---------------------------------------------------------------------------------------------------------
# The database
# ---------------------------------------------------------------------------------------------------------


def database_url(engine: Engine, application_name: str) -> str:
    """The test's database for another process (PostgreSQL: its schema, and a name to find its connections)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    base = make_url(os.environ["CAMPAIGN_TEST_DATABASE_URL"])
    return base.update_query_dict({"options": f"-csearch_path={schema}",
                                   "application_name": application_name}).render_as_string(hide_password=False)


def load_under_way(engine: Engine, application_name: str) -> Callable[[], bool]:
    """True once the other process is loading rows. PostgreSQL: its COPY runs. SQLite: the write lock has
    been held for 0.2 s (the intake's short writes take milliseconds; its load, most of a second or more)."""
    if engine.dialect.name == "postgresql":
        def copying() -> bool:
            with engine.connect() as conn:
                return bool(conn.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app AND state = 'active' "
                    "AND query ILIKE 'copy %'"), {"app": application_name}).scalar_one())
        return copying
    path = engine.url.database
    held_since: list[float] = []

    def locked_a_while() -> bool:
        probe = sqlite3.connect(path, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            held_since.clear()
            return False
        except sqlite3.OperationalError:   # "database is locked": a writer holds it
            held_since[:1] = held_since[:1] or [time.monotonic()]
            return time.monotonic() - held_since[0] >= 0.2
        finally:
            probe.close()
    return locked_a_while


def assert_consistent(engine: Engine) -> list[Submission]:
    """Every submission's rows are in the kind's table (rows_loaded of them), no row belongs to no
    submission, one current submission per district, kind and facility."""
    table = KIND_TABLES[KIND]
    with Session(engine) as s:
        subs = list(s.scalars(sa.select(Submission).order_by(Submission.id)))
        for sub in subs:
            rows = s.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.submission_id == sub.id))
            assert rows == sub.rows_loaded, (sub.id, sub.status, rows, sub.rows_loaded)
        known = sa.select(Submission.id)
        for t in (table, RowIssue.__table__, QuarantineRow.__table__):
            orphans = s.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.submission_id.not_in(known)))
            assert orphans == 0, t.name
        current = s.execute(sa.select(Submission.district_code, Submission.kind, Submission.facility_code,
                                      sa.func.count()).where(Submission.is_current.is_(True))
                            .group_by(Submission.district_code, Submission.kind, Submission.facility_code)).all()
        assert all(n == 1 for *_scope, n in current), current
        assert {(d, k) for d, k, _f, _n in current} == {(x.district_code, x.kind) for x in subs
                                                        if x.status == "accepted"}
    return subs


def _env(home: Path, url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DATABASE_URL": url, **extra}
    for key in ("PREFECT_API_URL", "PREFECT_HOME", "CAMPAIGN_NOW"):
        if key not in extra:
            env.pop(key, None)
    return env


# ---------------------------------------------------------------------------------------------------------
# (a) kill -9 of `campaign intake` in the middle of its load, then the same command again
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("migrated_engine", ["postgresql"], indirect=True)   # SQLite: in (b)
def test_intake_killed_mid_load_leaves_nothing_and_no_prefect_server_then_the_rerun_loads(migrated_engine, tmp_path):
    app = f"crash-{uuid.uuid4().hex[:8]}"
    home = tmp_path / "home"
    env = _env(home, database_url(migrated_engine, app))
    path = big_target_list(tmp_path / "danh-sach.csv")
    log = tmp_path / "intake.log"
    args = [CAMPAIGN, "intake", str(path), "--district", DISTRICT, "--kind", KIND, "--json"]
    with nothing_left_behind(home):
        with log.open("wb") as out:
            cli = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for("the load", load_under_way(migrated_engine, app), 240, cli, log)
        except BaseException:
            os.killpg(cli.pid, signal.SIGKILL)
            raise
        children = children_of(cli.pid)
        cli.send_signal(signal.SIGKILL)   # the command alone (its group would take its children with it)
        assert cli.wait(30) == -signal.SIGKILL
        # its ephemeral Prefect API server (~230 MB) was running; the reaper stops it after the kill
        servers = [pid for pid in children if "prefect.server.api.server:create_app" in cmdline(pid)]
        assert servers, {pid: cmdline(pid)[:120] for pid in children}
        wait_for("the killed command's children to go", lambda: not still_alive(children), 30)
        # its flow run, left Running by the kill, was set Crashed by the reaper before the server went
        from campaign.runtime import KILLED_MESSAGE

        assert prefect_runs(home) == [("intake-633-target_list", "CRASHED", KILLED_MESSAGE)]
        # the transaction died with the process: no submission, no row
        assert assert_consistent(migrated_engine) == []

        again = subprocess.run(args, env=env, capture_output=True, timeout=400)
        assert again.returncode == 0, again.stderr.decode(errors="replace")[-3000:]
        outcome = json.loads(again.stdout)
        assert outcome["status"] == "accepted" and outcome["rows_loaded"] == ROWS
    (sub,) = assert_consistent(migrated_engine)
    assert sub.id == outcome["submission_id"] and sub.is_current and sub.rows_loaded == ROWS
    assert [r[1] for r in prefect_runs(home)] == ["CRASHED", "COMPLETED"]   # the rerun's own run completed


def prefect_runs(home: Path) -> list[tuple[str, str, str | None]]:
    """(name, state type, state message) of every flow run in the Prefect database of a command's home (the
    commands' ephemeral API servers keep it under CAMPAIGN_HOME/prefect), oldest first."""
    with contextlib.closing(sqlite3.connect(home / "prefect" / "prefect.db")) as db:
        return db.execute("SELECT r.name, r.state_type, s.message FROM flow_run r LEFT JOIN flow_run_state s "
                          "ON s.id = r.state_id ORDER BY r.created").fetchall()


# ---------------------------------------------------------------------------------------------------------
# (b) kill -9 of a portal worker mid-job (its supervisor), then of the whole portal (the next start)
# ---------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flow_run_state(flow_run_id: str) -> tuple[str | None, str | None]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(uuid.UUID(flow_run_id)).state
    return (state.type.value, state.message) if state else (None, None)


def _queue_upload(engine: Engine, home: Path, path: Path) -> int:
    from campaign import accounts, jobs
    from campaign.files import store_original
    from campaign.settings import Settings

    with Session(engine) as s, s.begin():
        user = s.scalar(sa.select(PortalUser).where(PortalUser.username == "ttyt633"))
        if user is None:
            user = accounts.add_user(s, username="ttyt633", password="mat-khau-huyen-633", role="district",
                                     district_code=DISTRICT, by="test")
        signed = accounts.SignedIn(user_id=user.id, username=user.username, display_name="", role="district",
                                   district_code=DISTRICT, csrf_token="")
        stored = store_original(path, Settings(home=home).files_dir)
        job = jobs.enqueue_upload(s, signed, district=DISTRICT, kind=KIND, facility=None, stored=stored,
                                  filename=path.name, received_at=dt.datetime.now(dt.UTC))
        return job.id


def _job(engine: Engine, job_id: int) -> PortalJob:
    with Session(engine) as s:
        return s.get(PortalJob, job_id)


def _start_portal(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([CAMPAIGN, "portal", "--port", str(port), "--workers", "1"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _running_with_its_flow_run(engine: Engine, job_id: int, under_way: Callable[[], bool]) -> Callable[[], str | None]:
    def check() -> str | None:
        job = _job(engine, job_id)
        return job.flow_run_id if job.status == "running" and job.flow_run_id and under_way() else None
    return check


@pytest.mark.prefect
@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)   # PostgreSQL: in (a)
def test_a_killed_portal_worker_has_its_run_crashed_and_its_job_done_again(prefect_harness, migrated_engine, tmp_path):
    from prefect.settings import PREFECT_API_URL

    from faces.portal.worker import CRASHED_MESSAGE

    home, port, log = tmp_path / "home", _free_port(), tmp_path / "portal.log"
    env = _env(home, database_url(migrated_engine, "portal"), PREFECT_API_URL=str(PREFECT_API_URL.value()))
    under_way = load_under_way(migrated_engine, "portal")
    first = _queue_upload(migrated_engine, home, big_target_list(tmp_path / "dot-1.csv"))
    with nothing_left_behind(home):
        portal = _start_portal(env, port, log)
        try:
            # 1. the worker alone is killed: the portal's supervisor takes its job back
            crashed_run = wait_for("the first job's load", _running_with_its_flow_run(migrated_engine, first, under_way),
                                   240, portal, log)
            (worker,) = [pid for pid in children_of(portal.pid) if "spawn_main" in cmdline(pid)]
            os.kill(worker, signal.SIGKILL)
            killed_at = time.monotonic()
            wait_for("the killed worker's run marked Crashed",
                     lambda: _flow_run_state(crashed_run)[0] == "CRASHED", 30, portal, log)
            seconds_to_crashed = time.monotonic() - killed_at
            assert _flow_run_state(crashed_run)[1] == CRASHED_MESSAGE
            wait_for("the first job done by a new worker", lambda: _job(migrated_engine, first).status == "done",
                     240, portal, log)
            done = _job(migrated_engine, first)
            assert done.attempts == 2 and done.error is None and done.flow_run_id != crashed_run
            assert _flow_run_state(done.flow_run_id)[0] == "COMPLETED"
            assert seconds_to_crashed < 10, seconds_to_crashed   # the supervisor looks every second
            print(f"a killed worker's run was marked Crashed {seconds_to_crashed:.1f} s after the kill")

            # 2. the whole portal is killed (its worker with it): a worker of the next start takes the job over
            # once its lease runs out (campaign.jobs: nothing is taken back at start)
            second = _queue_upload(migrated_engine, home, big_target_list(tmp_path / "dot-2.csv", first_phone=ROWS))
            orphaned_run = wait_for("the second job's load",
                                    _running_with_its_flow_run(migrated_engine, second, under_way), 240, portal, log)
            os.killpg(portal.pid, signal.SIGKILL)
            portal.wait(30)
            assert _flow_run_state(orphaned_run)[0] == "RUNNING"   # nobody left to say otherwise
            portal = _start_portal(env, port, log)
            wait_for("the second job done after the restart", lambda: _job(migrated_engine, second).status == "done",
                     240, portal, log)
            assert _flow_run_state(orphaned_run) == ("CRASHED", CRASHED_MESSAGE)
            assert _job(migrated_engine, second).attempts == 2
        finally:
            portal.terminate()   # SIGTERM: the portal stops its workers
            with contextlib.suppress(subprocess.TimeoutExpired):
                portal.wait(60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(portal.pid, signal.SIGKILL)
        assert portal.wait() == 0, _tail(log)
    subs = assert_consistent(migrated_engine)
    assert [(s.status, s.rows_loaded) for s in subs] == [("accepted", ROWS), ("accepted", ROWS)]
    assert [s.is_current for s in subs] == [False, True]
