"""The PostgreSQL connection cut in the middle of a load's COPY (the backend terminated from another
connection with pg_terminate_backend, as a server restart, a failover or a network cut does): nothing
half-written, the file not accepted, a clear error the sender reads in Vietnamese, and the next try loads."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.settings import Settings
from campaign.store.bulk import CONNECTION_LOST_MESSAGE, ConnectionLost, connection_lost_text
from campaign.store.db import make_engine
from campaign.store.models import KIND_TABLES, QuarantineRow, RowIssue, StoredFile, Submission
from tests.test_crashes import CAMPAIGN, ROWS, _env, assert_consistent, big_target_list, database_url


@contextlib.contextmanager
def cut_during_copy(admin: Engine, app: str) -> Iterator[list[int]]:
    """Terminates the backend of the connection named `app` as soon as it runs a COPY; yields the pids cut."""
    terminated: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with admin.connect() as conn:
                for pid in conn.execute(sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = :app AND state = 'active' "
                        "AND query ILIKE 'copy %'"), {"app": app}).scalars():
                    if conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one():
                        terminated.append(pid)
                        return
            time.sleep(0.02)

    cutter = threading.Thread(target=watch, daemon=True)
    cutter.start()
    try:
        yield terminated
    finally:
        stop.set()
        cutter.join(10)


@pytest.mark.parametrize("migrated_engine", ["postgresql"], indirect=True)   # COPY is PostgreSQL's
def test_a_connection_cut_during_copy_writes_nothing_and_says_so_in_vietnamese(migrated_engine, tmp_path):
    app = f"cut-{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url(migrated_engine, app))   # its connections are named: found, and only they

    def intake() -> object:
        request = IntakeRequest(path=path, district="633", kind="target_list",
                                received_at=dt.datetime(2021, 7, 28, 8, tzinfo=dt.UTC))
        return run_intake(request, engine=engine, settings=Settings(home=tmp_path / "home"), campaign=load_campaign())

    path = big_target_list(tmp_path / "danh-sach.csv")
    with cut_during_copy(migrated_engine, app) as terminated, pytest.raises(ConnectionLost) as lost:
        intake()
    assert terminated, "the COPY was never seen running"
    # the message for the person who sent the file: Vietnamese, saying nothing was written; then the cause
    message = str(lost.value)
    assert message.startswith(ConnectionLost.MESSAGE)
    assert "mất kết nối tới cơ sở dữ liệu" in message and "không dòng nào được ghi" in message
    assert lost.value.detail and f"({lost.value.detail.strip()})" in message   # the driver's words, for the DoH
    # nothing half-written: the transaction (its stored file, submission, rows, issues) died with the connection
    assert assert_consistent(migrated_engine) == []
    with Session(migrated_engine) as s:
        for table in (StoredFile.__table__, Submission.__table__, RowIssue.__table__, QuarantineRow.__table__,
                      KIND_TABLES["target_list"]):
            assert s.scalar(sa.select(sa.func.count()).select_from(table)) == 0, table.name
    # the dead connection left the pool: the same engine loads the same file at the next try
    again = intake()
    assert again.status == "accepted" and again.rows_loaded == ROWS
    (sub,) = assert_consistent(migrated_engine)
    assert sub.is_current and sub.rows_loaded == ROWS
    engine.dispose()


@pytest.mark.parametrize("migrated_engine", ["postgresql"], indirect=True)
def test_the_command_says_the_connection_was_lost_in_vietnamese_not_an_unexpected_failure(migrated_engine, tmp_path):
    app = f"cut-cli-{uuid.uuid4().hex[:8]}"
    env = _env(tmp_path / "home", database_url(migrated_engine, app))
    path = big_target_list(tmp_path / "danh-sach.csv")
    args = [CAMPAIGN, "intake", str(path), "--district", "633", "--kind", "target_list", "--json"]
    with cut_during_copy(migrated_engine, app) as terminated:
        cut = subprocess.run(args, env=env, capture_output=True, timeout=400)
    assert terminated, "the COPY was never seen running"
    said = cut.stderr.decode(errors="replace")
    assert cut.returncode == 1, said[-3000:]
    assert ConnectionLost.MESSAGE in said and "unexpected failure" not in said, said[-3000:]
    assert assert_consistent(migrated_engine) == []
    again = subprocess.run(args, env=env, capture_output=True, timeout=400)
    assert again.returncode == 0 and json.loads(again.stdout)["rows_loaded"] == ROWS, again.stderr[-3000:]


@pytest.mark.parametrize("migrated_engine", ["postgresql"], indirect=True)
def test_a_connection_lost_between_queries_is_named_as_such(migrated_engine):
    """Not only in the COPY: a query on a connection whose backend was terminated (a server restart)."""
    with migrated_engine.connect() as victim, migrated_engine.connect() as admin:
        pid = victim.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        with pytest.raises(sa.exc.DBAPIError) as raised:
            victim.execute(sa.text("SELECT 1"))
    text = connection_lost_text(raised.value)
    assert text is not None and text.startswith(CONNECTION_LOST_MESSAGE), text
    assert connection_lost_text(RuntimeError("something else")) is None
    assert connection_lost_text(ValueError("wrapped")) is None


def test_a_district_is_told_its_upload_met_a_lost_connection_not_a_generic_failure():
    from campaign.jobs import CONNECTION_LOST
    from campaign.store.models import PortalJob
    from faces.portal.pages import job_error

    lost = PortalJob(id=7, status="failed", error=f"{CONNECTION_LOST}: {ConnectionLost('server closed')}")
    assert job_error(lost, technical=False) == str(ConnectionLost("server closed"))
    assert job_error(lost, technical=True) == lost.error
    other = PortalJob(id=8, status="failed", error="ValueError: boom")
    assert "hệ thống gặp lỗi khi xử lý (việc số 8" in job_error(other, technical=False)
