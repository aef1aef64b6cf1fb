"""`campaign.store.db.write_session`: the one helper for a write transaction (commit at the end, roll back on
an error, SQLite's write lock from the first statement)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from campaign.store.db import write_session
from campaign.store.models import StoredFile


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(StoredFile)).scalar_one()


def _file(n: int) -> StoredFile:
    return StoredFile(sha256=f"{n:064x}", size_bytes=n, original_filename=f"{n}.csv", relative_path=f"files/{n}")


def test_commits_at_the_end_and_rolls_back_on_an_error(migrated_engine):
    with write_session(migrated_engine) as s:
        s.add(_file(1))
    assert _count(migrated_engine) == 1
    with pytest.raises(RuntimeError), write_session(migrated_engine) as s:
        s.add(_file(2))
        s.flush()
        raise RuntimeError("the work failed half-way")
    assert _count(migrated_engine) == 1


def test_on_sqlite_a_second_writer_waits_for_the_first(fresh_migrated_engine, tmp_path):
    """BEGIN IMMEDIATE: the second transaction cannot even start reading while the first holds the lock,
    so a read-then-write (a version number, a count) is never computed from a state about to change.
    SQLite's lock only: on PostgreSQL the writers use row and advisory locks (test_intake_concurrency)."""
    with fresh_migrated_engine("sqlite", tmp_path) as engine:
        _second_waits(engine)


def _second_waits(migrated_engine) -> None:
    order: list[str] = []
    first_in = threading.Event()

    def first():
        with write_session(migrated_engine) as s:
            s.execute(sa.select(sa.func.count()).select_from(StoredFile)).scalar_one()
            first_in.set()
            time.sleep(0.5)
            s.add(_file(3))
            order.append("first committed")

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    with write_session(migrated_engine) as s:
        seen = s.execute(sa.select(sa.func.count()).select_from(StoredFile)).scalar_one()   # waits here
        order.append("second read")
        s.add(_file(4))
    t.join()
    assert order == ["first committed", "second read"]
    assert seen == 1   # it read the state the first writer left, not the one before
