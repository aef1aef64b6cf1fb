"""Warm workers for the portal's jobs: processes that imported Prefect, pandas and GX once and run each
upload's intake flow in-process, so a file of a few hundred rows has its feedback in about a second.

A served deployment would poll every ~10 s and start a fresh process per run (~4.5 s of imports; see
docs/contracts.md, pitfalls). Each job still is a real flow run on the Prefect server (its id is recorded, the
coordinators' board links to it). Jobs live in the database (`campaign.jobs`), held by a worker under a
lease it renews (`Heartbeat`): a worker that dies has its job queued again by its pool's supervisor at once,
or, if the whole portal or machine died, by any other worker once the lease ran out; its flow run, which
nobody will finish, is marked Crashed in Prefect (`mark_crashed`), so that the failed-run automation fires.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("campaign.portal.worker")

IDLE_POLL_S = 0.1   # how often an idle worker looks at the queue (a few tiny indexed SELECTs a second)
REAP_S = 2.0        # how often a worker looks for jobs whose lease ran out (at most half a lease apart)
SUPERVISE_S = 1.0   # how often the pool looks for dead workers: a killed worker's run is Crashed within ~1-2 s
# The state message of a run whose worker died (read by the coordinators in the Prefect UI).
CRASHED_MESSAGE = "Tiến trình xử lý của cổng tiếp nhận bị dừng đột ngột khi đang chạy lượt này; việc đã được xếp hàng lại"

Hook = Callable[[Any, Any, Any], None]   # a Prefect flow state hook: (flow, flow_run, state)


def _with_hooks(flow: Any, on_running: Iterable[Hook]) -> Any:
    hooks = list(on_running)
    return flow.with_options(on_running=[*flow.on_running_hooks, *hooks]) if hooks else flow


def _run_intake(job: Any, username: str, on_running: Iterable[Hook] = ()) -> tuple[dict[str, Any], str | None,
                                                                                      dict[str, Any]]:
    from campaign.files import relative_path
    from campaign.resources import get_resources
    from flows.intake import intake_flow

    path = get_resources().settings.files_dir / relative_path(job.checksum)
    state = _with_hooks(intake_flow, on_running)(
        str(path), job.district_code, job.kind, job.facility_code, channel="portal", submitted_by=username,
        received_at=job.received_at.isoformat(), original_filename=job.original_filename, return_state=True)
    outcome = state.result()   # raises if the flow failed
    return outcome, _flow_run_id(state), {"submission_id": outcome["submission_id"]}


def _run_report(job: Any, username: str, on_running: Iterable[Hook] = ()) -> tuple[dict[str, Any], str | None,
                                                                                      dict[str, Any]]:
    from flows.compile_report import compile_report_flow

    # a facility's plan (the district asked for one of its own facilities) or the district's report
    level, unit = ("facility", job.facility_code) if job.facility_code else ("district", job.district_code)
    state = _with_hooks(compile_report_flow, on_running)(levels=[level], unit=unit, now=job.received_at.isoformat(),
                                                         return_state=True)
    built = state.result()["reports"]
    return {"reports": built}, _flow_run_id(state), {"report_id": built[0]["report_id"] if built else None}


def _flow_run_id(state: Any) -> str | None:
    return str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None


RUNNERS = {"intake": _run_intake, "report": _run_report}


def mark_crashed(flow_run_ids: Iterable[str], message: str = CRASHED_MESSAGE) -> int:
    """Mark Crashed the flow runs of dead workers (left Running, they would stay so forever); a run that
    reached a final state meanwhile (or that the heartbeat automation marked first) is left as it is.
    Returns how many were marked; a Prefect API that cannot be reached is logged, not raised (the
    zombie-run automation of flows/automations.yaml still catches them once it can)."""
    from uuid import UUID

    ids = [UUID(str(i)) for i in flow_run_ids]
    if not ids:
        return 0
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    marked = 0
    try:
        with get_client(sync_client=True) as client:
            for run_id in ids:
                run = client.read_flow_run(run_id)
                if run.state is not None and run.state.is_final():
                    continue
                client.set_flow_run_state(run_id, Crashed(message=message), force=True)
                marked += 1
    except Exception as exc:   # noqa: BLE001 - best effort; the automation is the second line
        log.warning("could not mark flow runs %s crashed: %s", [str(i) for i in ids], exc)
    return marked


class Heartbeat:
    """Renews a job's lease every third of the lease while the job runs (a thread of the worker process). A
    renewal that finds the lease gone (the job was taken over after this worker could not renew for a whole
    lease) is logged and `lost` is set: the worker's result is then not recorded."""

    def __init__(self, engine: Any, job_id: int, owner: str, lease_s: float):
        self.engine, self.job_id, self.owner, self.lease_s = engine, job_id, owner, lease_s
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(self.lease_s)

    def _beat(self) -> None:
        from campaign import jobs

        while not self._done.wait(self.lease_s / 3):
            try:
                if not jobs.renew(self.engine, self.job_id, self.owner, lease_s=self.lease_s):
                    log.error("job %s: lease lost (taken over by another worker)", self.job_id)
                    self.lost.set()
                    return
            except Exception as exc:   # noqa: BLE001 - the database may be back before the lease runs out
                log.warning("job %s: lease not renewed: %s", self.job_id, exc)


def work(name: str, stop: Any, env: dict[str, str], busy: Any = None) -> None:
    """A worker process's loop: claim a job, run its flow under a renewed lease, record the outcome; until
    `stop` is set. Now and then (every REAP_S) it also takes over the jobs whose lease ran out, whichever
    machine's worker held them. `busy` (a shared flag) is set while a job is in hand: a stopping pool waits
    for those workers only."""
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the whole group: the portal stops us
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from campaign import jobs
    from campaign.resources import get_resources
    from campaign.store.bulk import connection_lost_text
    from campaign.store.models import PortalUser

    engine = get_resources().engine
    lease_s = jobs.lease_seconds()
    for module in ("flows.intake", "flows.compile_report", "expectations.gate"):   # warm: import once
        __import__(module)
    from expectations.gate import warm_up

    warm_up()
    parent = os.getppid()
    reaped_at = 0.0
    while not stop.is_set():
        if os.getppid() != parent:   # the portal is gone (killed): take no more jobs
            return
        if time.monotonic() - reaped_at >= min(REAP_S, lease_s / 2):
            reaped_at = time.monotonic()
            try:
                taken = jobs.take_over_expired(engine)
                if taken.requeued or taken.failed:
                    log.warning("%s job(s) whose lease ran out queued again, %s given up", taken.requeued,
                                taken.failed)
                    mark_crashed(taken.flow_run_ids)
            except Exception as exc:   # noqa: BLE001 - the next look will do it
                log.warning("taking over expired jobs failed: %s", exc)
        if busy is not None:
            busy.value = 1   # before the claim: a stop that reads 0 finds no job in hand
        job = jobs.claim_next(engine, name, lease_s=lease_s)
        if job is None:
            if busy is not None:
                busy.value = 0
            stop.wait(IDLE_POLL_S)
            continue
        owner = job.lease_owner
        flow_run_id = None

        def keep_run_id(_flow: Any, flow_run: Any, _state: Any, job_id: int = job.id, owner: str = owner) -> None:
            jobs.started(engine, job_id, str(flow_run.id), owner)

        with Heartbeat(engine, job.id, owner, lease_s) as beat:
            with Session(engine) as session:
                username = session.scalar(select(PortalUser.username).where(PortalUser.id == job.user_id)) or "portal"
            try:
                outcome, flow_run_id, links = RUNNERS[job.action](job, username, on_running=[keep_run_id])
                recorded = jobs.finish(engine, job.id, outcome=outcome, flow_run_id=flow_run_id, owner=owner, **links)
            except Exception as exc:   # noqa: BLE001 - any failure of one job is recorded, the worker goes on
                log.error("job %s failed: %s", job.id, "".join(traceback.format_exception_only(exc)).strip())
                lost = connection_lost_text(exc)   # kept apart: the district is told what it is (job_error)
                error = f"{jobs.CONNECTION_LOST}: {lost}" if lost is not None else f"{type(exc).__name__}: {exc}"
                recorded = jobs.fail(engine, job.id, error=error, flow_run_id=flow_run_id, owner=owner)
        if not recorded or beat.lost.is_set():
            log.error("job %s: its lease was taken over; this worker's result was not recorded", job.id)
        if busy is not None:
            busy.value = 0


class WorkerPool:
    """`size` worker processes (spawned: no state shared with the web server's process but the
    environment, which carries the database, the Prefect API and the logical clock)."""

    def __init__(self, size: int, env: dict[str, str], on_death: Any = None):
        self.size, self.env, self.on_death = max(1, size), env, on_death
        self._ctx = mp.get_context("spawn")
        self._stop = self._ctx.Event()
        self._procs: list[Any] = []
        self._busy = [self._ctx.Value("b", 0, lock=False) for _ in range(self.size)]
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        for i in range(self.size):
            self._spawn(i)
        self._watch = threading.Thread(target=self._keep_alive, name="portal-workers", daemon=True)
        self._watch.start()

    def _spawn(self, i: int) -> None:
        self._busy[i].value = 0
        proc = self._ctx.Process(target=work, args=(self.name_of(i), self._stop, self.env, self._busy[i]),
                                 name=f"campaign-portal-worker-{i}", daemon=True)
        proc.start()
        if i < len(self._procs):
            self._procs[i] = proc
        else:
            self._procs.append(proc)

    def name_of(self, i: int) -> str:
        # unique across machines sharing the database: the host, this process, the slot
        return f"worker-{socket.gethostname()[:32]}-{os.getpid()}-{i}"

    def _keep_alive(self) -> None:
        # A worker that died (killed by the system, a crash in a native library) is replaced and the job
        # it was running is taken back (`on_death`: queued again, its flow run marked Crashed).
        while not self._stop.wait(SUPERVISE_S):
            for i, proc in enumerate(self._procs):
                if not proc.is_alive() and not self._stop.is_set():
                    log.warning("portal worker %s exited (%s); starting another", i, proc.exitcode)
                    self._died(i)
                    self._spawn(i)

    def _died(self, i: int) -> None:
        if self.on_death is not None:
            try:
                self.on_death(self.name_of(i))
            except Exception:   # noqa: BLE001 - the supervisor must go on replacing workers
                log.exception("taking back the job of portal worker %s failed", i)

    def stop(self, timeout_s: float = 30) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(SUPERVISE_S + 5)
        deadline = time.monotonic() + timeout_s
        for i, proc in enumerate(self._procs):
            # one still warming up (imports) or idle holds no job: it need not be waited for
            proc.join(max(0.1, deadline - time.monotonic()) if self._busy[i].value else 1.0)
            if proc.is_alive():
                holding = self._busy[i].value
                proc.terminate()
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
                if holding:   # its job outlasted the stop: taken back now (queued for the next start)
                    self._died(i)

    @property
    def alive(self) -> int:
        return sum(p.is_alive() for p in self._procs)
