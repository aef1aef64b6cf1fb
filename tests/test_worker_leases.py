"""Workers on several machines sharing one database (issue 21.2): leases, with real worker processes.

Each worker here is a separate operating-system process running the portal's real worker loop
(`faces.portal.worker.work`: claim, heartbeat, take over expired leases, record) started as
`python -m tests.test_worker_leases <name>`; only the flow it runs is replaced by `_recording_runner`, which
writes a line when it starts and when it ends a job (in a file of its own per process), so that the test can
count how many times each job was run to the end. The lease is short (CAMPAIGN_JOB_LEASE_SECONDS=1.5) and a
job lasts longer than a lease, so a live worker must renew it to keep its job.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign import accounts, jobs
from campaign.store.models import PortalJob

LEASE_S = 1.5
PROJECT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------------------
# The worker process
# --------------------------------------------------------------------------------------------------------


def _recording_runner(job, username, on_running=()):   # noqa: ANN001, ANN202 - a RUNNERS entry
    marks = Path(os.environ["TEST_WORKER_MARKS"]) / f"{os.getpid()}.log"
    with marks.open("a", encoding="utf-8") as f:
        f.write(f"start {job.id}\n")
    time.sleep(float(os.environ.get("TEST_JOB_SECONDS", "0.2")))
    with marks.open("a", encoding="utf-8") as f:
        f.write(f"done {job.id}\n")
    return {"status": "accepted"}, None, {"submission_id": None}


def _main(name: str) -> None:
    from faces.portal import worker

    worker.RUNNERS["intake"] = _recording_runner
    for module in ("flows.intake", "flows.compile_report", "expectations.gate"):   # what work() warms first
        __import__(module)
    from expectations.gate import warm_up

    warm_up()   # (cached: work() finds it done)
    (Path(os.environ["TEST_WORKER_MARKS"]) / f"{os.getpid()}.ready").touch()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.work(name, stop, {})


def _url_of(engine: Engine) -> str:
    """The database URL a separate process connects with (on PostgreSQL, the test's own schema)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("select current_schema()")).scalar_one()
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    return url


class Workers:
    def __init__(self, engine: Engine, tmp_path: Path, job_seconds: float):
        self.marks = tmp_path / "marks"
        self.marks.mkdir(exist_ok=True)
        self.env = {**os.environ, "CAMPAIGN_DATABASE_URL": _url_of(engine), "CAMPAIGN_HOME": str(tmp_path / "home"),
                    "CAMPAIGN_JOB_LEASE_SECONDS": str(LEASE_S), "TEST_WORKER_MARKS": str(self.marks),
                    "TEST_JOB_SECONDS": str(job_seconds), "PYTHONPATH": str(PROJECT)}
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "tests.test_worker_leases", name], env=self.env, cwd=PROJECT)
        self.procs.append(proc)
        return proc

    def wait_ready(self, timeout_s: float = 180) -> None:
        _wait(lambda: all((self.marks / f"{p.pid}.ready").exists() for p in self.procs if p.poll() is None),
              timeout_s, "the workers to start")

    def lines(self, pid: int | None = None) -> list[tuple[str, int]]:
        files = [self.marks / f"{pid}.log"] if pid else sorted(self.marks.glob("*.log"))
        return [(word, int(job)) for f in files if f.exists()
                for word, job in (line.split() for line in f.read_text(encoding="utf-8").splitlines())]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _queue(engine: Engine, districts: list[str], per_district: int) -> list[int]:
    # SQLite: the write lock first (the workers write meanwhile; a read transaction could not become a write one)
    with Session(engine.execution_options(sqlite_begin="IMMEDIATE")) as s, s.begin():
        user = accounts.add_user(s, username="dieuphoi", password="mat-khau-du-dai", role="coordinator",
                                 district_code=None)
        made = [PortalJob(action="intake", user_id=user.id, district_code=d, kind="target_list",
                          checksum=f"{n:064x}", original_filename=f"{d}-{k}.xlsx", status=jobs.QUEUED,
                          received_at=dt.datetime(2021, 7, 28, 3, tzinfo=dt.UTC))
                for n, (d, k) in enumerate((d, k) for d in districts for k in range(per_district))]
        s.add_all(made)
        s.flush()
        return [j.id for j in made]


def _wait(predicate, timeout_s: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def _jobs(engine: Engine) -> list[PortalJob]:
    with Session(engine) as s:
        return list(s.scalars(select(PortalJob).order_by(PortalJob.id)))


# --------------------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------------------


def test_a_killed_worker_s_job_is_taken_over_after_its_lease_and_done_once(migrated_engine, tmp_path):
    """kill -9 of a worker mid-job (no supervisor to tell anyone): the job stays its until the lease runs
    out, then exactly one of two live workers takes it over and does it; each renews its lease meanwhile
    (a job lasts 3 leases), so the other never starts it too."""
    workers = Workers(migrated_engine, tmp_path, job_seconds=3 * LEASE_S)
    try:
        first = workers.start("machine-a-0")
        workers.wait_ready()
        [job_id] = _queue(migrated_engine, ["622"], 1)
        _wait(lambda: ("start", job_id) in workers.lines(first.pid), 120, "the first worker to start the job")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        (job,) = _jobs(migrated_engine)
        assert job.status == jobs.RUNNING and job.worker == "machine-a-0" and job.attempts == 1
        others = [workers.start("machine-b-0"), workers.start("machine-c-0")]
        _wait(lambda: _jobs(migrated_engine)[0].status == jobs.DONE, 120, "the job to be done by another worker")
        took_s = time.monotonic() - killed_at
        time.sleep(LEASE_S * 2)   # any second run would have started by now
    finally:
        workers.stop()
    (job,) = _jobs(migrated_engine)
    assert job.status == jobs.DONE and job.attempts == 2 and job.error is None
    assert job.worker in {"machine-b-0", "machine-c-0"} and job.lease_owner.startswith(job.worker + "/")
    assert workers.lines(first.pid) == [("start", job_id)]           # killed mid-job: never finished there
    runs = [(p.pid, word) for p in others for word, _ in workers.lines(p.pid)]
    assert sorted(word for _, word in runs) == ["done", "start"]      # one live worker ran it, once, to the end
    print(f"\nkilled worker's job done by another {took_s:.1f} s after the kill (lease {LEASE_S} s)")


def test_two_machines_do_17_districts_x_3_uploads_each_exactly_once(migrated_engine, tmp_path):
    """Two "machines" of two worker processes each on one database, 51 uploads queued at once: every job
    done, each run to the end exactly once, by workers of both machines."""
    districts = [f"{622 + i}" for i in range(17)]
    workers = Workers(migrated_engine, tmp_path, job_seconds=0.3)
    try:
        procs = [workers.start(f"machine-{m}-{i}") for m in "ab" for i in range(2)]
        workers.wait_ready()
        ids = _queue(migrated_engine, districts, 3)   # at once, all four workers waiting
        _wait(lambda: all(j.status == jobs.DONE for j in _jobs(migrated_engine)), 300, "all 51 jobs done")
    finally:
        workers.stop()
    done = Counter(job for word, job in workers.lines() if word == "done")
    assert set(done) == set(ids) and set(done.values()) == {1}
    started = Counter(job for word, job in workers.lines() if word == "start")
    assert started == done                                            # none started twice (none was killed)
    rows = _jobs(migrated_engine)
    assert {j.attempts for j in rows} == {1} and all(j.error is None for j in rows)
    by_machine = Counter(j.worker.split("-")[1] for j in rows)
    assert set(by_machine) == {"a", "b"}, by_machine
    assert all(p.returncode is not None for p in procs)


@pytest.mark.parametrize("processes", [4])
def test_claims_from_concurrent_processes_never_give_one_job_to_two(migrated_engine, tmp_path, processes):
    """Claims only (no runs), from separate processes at once: each queued job to exactly one claimer."""
    ids = _queue(migrated_engine, ["622", "623"], 20)
    url = _url_of(migrated_engine)
    code = ("import sys,json; from campaign.store.db import make_engine; from campaign import jobs\n"
            "e = make_engine(sys.argv[1]); got = []\n"
            "while (j := jobs.claim_next(e, sys.argv[2], lease_s=60)) is not None: got.append(j.id)\n"
            "print(json.dumps(got))")
    procs = [subprocess.Popen([sys.executable, "-c", code, url, f"p{i}"], stdout=subprocess.PIPE, text=True,
                              cwd=PROJECT, env={**os.environ, "PYTHONPATH": str(PROJECT)}) for i in range(processes)]
    import json

    claimed = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    every = [j for got in claimed for j in got]
    assert sorted(every) == sorted(ids) and len(every) == len(set(every))
    rows = _jobs(migrated_engine)
    assert {j.status for j in rows} == {jobs.RUNNING} and len({j.lease_owner for j in rows}) == len(rows)


def test_a_worker_whose_lease_was_taken_over_records_nothing(migrated_engine):
    [job_id] = _queue(migrated_engine, ["622"], 1)
    late = jobs.claim_next(migrated_engine, "frozen", lease_s=60)
    assert jobs.renew(migrated_engine, job_id, late.lease_owner, lease_s=0.05)   # its last renewal, short
    time.sleep(0.2)
    assert jobs.take_over_expired(migrated_engine).requeued == 1
    successor = jobs.claim_next(migrated_engine, "alive", lease_s=60)
    assert successor.id == job_id and successor.lease_owner != late.lease_owner
    assert not jobs.renew(migrated_engine, job_id, late.lease_owner)
    assert not jobs.finish(migrated_engine, job_id, outcome={"late": True}, flow_run_id=None, owner=late.lease_owner)
    assert not jobs.fail(migrated_engine, job_id, error="late", flow_run_id=None, owner=late.lease_owner)
    assert jobs.finish(migrated_engine, job_id, outcome={"ok": True}, flow_run_id=None, owner=successor.lease_owner)
    (job,) = _jobs(migrated_engine)
    assert job.status == jobs.DONE and job.outcome == {"ok": True} and job.worker == "alive"


if __name__ == "__main__":
    _main(sys.argv[1])
