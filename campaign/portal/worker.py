"""Warm workers for the portal's jobs: processes that imported Prefect, pandas and GX once and run each
upload's intake flow in-process, so a file of a few hundred rows has its feedback in about a second.

A served deployment would poll every ~10 s and start a fresh process per run (~4.5 s of imports; see
DESIGN.md's pitfalls). Each job still is a real flow run on the Prefect server (its id is recorded, the
coordinators' board links to it). Jobs live in the database (`campaign.jobs`): a worker that dies leaves
its job to be queued again at the next start.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from typing import Any

log = logging.getLogger("campaign.portal.worker")

IDLE_POLL_S = 0.1   # how often an idle worker looks at the queue (a few tiny indexed SELECTs a second)


def _run_intake(job: Any, username: str) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    from campaign.files import relative_path
    from campaign.resources import get_resources
    from flows.intake import intake_flow

    path = get_resources().settings.files_dir / relative_path(job.checksum)
    state = intake_flow(str(path), job.district_code, job.kind, job.facility_code, channel="portal",
                        submitted_by=username, received_at=job.received_at.isoformat(),
                        original_filename=job.original_filename, return_state=True)
    outcome = state.result()   # raises if the flow failed
    return outcome, _flow_run_id(state), {"submission_id": outcome["submission_id"]}


def _run_report(job: Any, username: str) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    from flows.compile_report import compile_report_flow

    # a facility's plan (the district asked for one of its own facilities) or the district's report
    level, unit = ("facility", job.facility_code) if job.facility_code else ("district", job.district_code)
    state = compile_report_flow(levels=[level], unit=unit, now=job.received_at.isoformat(), return_state=True)
    built = state.result()["reports"]
    return {"reports": built}, _flow_run_id(state), {"report_id": built[0]["report_id"] if built else None}


def _flow_run_id(state: Any) -> str | None:
    return str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None


RUNNERS = {"intake": _run_intake, "report": _run_report}


def work(name: str, stop: Any, env: dict[str, str]) -> None:
    """A worker process's loop: claim a job, run its flow, record the outcome; until `stop` is set."""
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the whole group: the portal stops us
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from campaign import jobs
    from campaign.resources import get_resources
    from campaign.store.models import PortalUser

    engine = get_resources().engine
    for module in ("flows.intake", "flows.compile_report", "expectations.gate"):   # warm: import once
        __import__(module)
    from expectations.gate import warm_up

    warm_up()
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:   # the portal is gone (killed): take no more jobs
            return
        job = jobs.claim_next(engine, name)
        if job is None:
            stop.wait(IDLE_POLL_S)
            continue
        with Session(engine) as session:
            username = session.scalar(select(PortalUser.username).where(PortalUser.id == job.user_id)) or "portal"
        flow_run_id = None
        try:
            outcome, flow_run_id, links = RUNNERS[job.action](job, username)
            jobs.finish(engine, job.id, outcome=outcome, flow_run_id=flow_run_id, **links)
        except Exception as exc:   # noqa: BLE001 - any failure of one job is recorded, the worker goes on
            log.error("job %s failed: %s", job.id, "".join(traceback.format_exception_only(exc)).strip())
            jobs.fail(engine, job.id, error=f"{type(exc).__name__}: {exc}", flow_run_id=flow_run_id)


class WorkerPool:
    """`size` worker processes (spawned: no state shared with the web server's process but the
    environment, which carries the database, the Prefect API and the logical clock)."""

    def __init__(self, size: int, env: dict[str, str], on_death: Any = None):
        self.size, self.env, self.on_death = max(1, size), env, on_death
        self._ctx = mp.get_context("spawn")
        self._stop = self._ctx.Event()
        self._procs: list[Any] = []
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        for i in range(self.size):
            self._spawn(i)
        self._watch = threading.Thread(target=self._keep_alive, name="portal-workers", daemon=True)
        self._watch.start()

    def _spawn(self, i: int) -> None:
        proc = self._ctx.Process(target=work, args=(self.name_of(i), self._stop, self.env),
                                 name=f"campaign-portal-worker-{i}", daemon=True)
        proc.start()
        if i < len(self._procs):
            self._procs[i] = proc
        else:
            self._procs.append(proc)

    def name_of(self, i: int) -> str:
        return f"worker-{os.getpid()}-{i}"

    def _keep_alive(self) -> None:
        # A worker that died (killed by the system, a crash in a native library) is replaced and the job
        # it was running is queued again (`on_death`).
        while not self._stop.wait(2.0):
            for i, proc in enumerate(self._procs):
                if not proc.is_alive():
                    log.warning("portal worker %s exited (%s); starting another", i, proc.exitcode)
                    if self.on_death is not None:
                        self.on_death(self.name_of(i))
                    self._spawn(i)

    def stop(self, timeout_s: float = 30) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for proc in self._procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)

    @property
    def alive(self) -> int:
        return sum(p.is_alive() for p in self._procs)
