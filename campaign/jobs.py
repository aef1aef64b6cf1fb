"""The portal's job queue, in the application database: an upload is a job before it is a flow run.

The portal writes the job (and the uploaded file, content-addressed) and answers at once; a warm worker
claims it, runs the flow, and records the outcome. Kept in the database so that no upload is lost when
the portal or a worker stops: jobs left running by a stopped worker are queued again at the next start
(intake is idempotent for a file already accepted: it answers `duplicate` with the original submission).
A job's flow run id is kept as soon as the run starts (`started`), so that the run of a worker that died
can be marked Crashed in Prefect by whoever takes its job back (`take_back`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.accounts import SignedIn
from campaign.files import StoredOriginal
from campaign.store.db import write_session
from campaign.store.models import PortalJob, Submission, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_ATTEMPTS = 3
# Kept in `error` while a job whose worker died waits to run again (finish() clears it), and when it is given up.
INTERRUPTED = "lần xử lý trước bị dừng đột ngột (tiến trình xử lý bị tắt); đang chờ xử lý lại"
GIVEN_UP = "xử lý bị gián đoạn nhiều lần; đã dừng thử lại"
# The prefix of a job error that is a lost database connection: its sentence is shown to the district as is
CONNECTION_LOST = "ConnectionLost"


def enqueue_upload(session: Session, user: SignedIn, *, district: str, kind: str, facility: str | None,
                   stored: StoredOriginal, filename: str, received_at: dt.datetime) -> PortalJob:
    job = PortalJob(action="intake", user_id=user.user_id, district_code=district, kind=kind,
                    facility_code=facility, original_filename=filename, checksum=stored.sha256,
                    size_bytes=stored.size_bytes, received_at=received_at, status=QUEUED)
    session.add(job)
    session.flush()
    return job


def enqueue_report(session: Session, user: SignedIn, *, district: str, received_at: dt.datetime,
                   facility: str | None = None) -> PortalJob:
    """The district's report; with `facility`, that facility's plan (directive section 3: the health centre
    collects its facilities' plans), which the caller checked belongs to `district`."""
    job = PortalJob(action="report", user_id=user.user_id, district_code=district, facility_code=facility,
                    received_at=received_at, status=QUEUED)
    session.add(job)
    session.flush()
    return job


def claim_next(engine: Engine, worker: str) -> PortalJob | None:
    """The oldest queued job, now running for `worker`; None when the queue is empty. Two workers never
    get the same job: the claim is a conditional UPDATE that only one of them wins."""
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(5):
            job_id = session.scalar(select(PortalJob.id).where(PortalJob.status == QUEUED)
                                    .order_by(PortalJob.id).limit(1))
            session.rollback()
            if job_id is None:
                return None
            with session.begin():
                # flow_run_id: the previous attempt's run (already marked Crashed) is not this attempt's
                won = session.execute(update(PortalJob).where(PortalJob.id == job_id, PortalJob.status == QUEUED)
                                      .values(status=RUNNING, worker=worker, started_at=utcnow(), flow_run_id=None,
                                              attempts=PortalJob.attempts + 1)).rowcount
            if won:
                return session.get(PortalJob, job_id)
    return None


def started(engine: Engine, job_id: int, flow_run_id: str) -> None:
    """The job's flow run is running: its id is kept now, not only at the end, so that the run can be marked
    Crashed if the worker dies (by the pool's supervisor, or at the next start)."""
    with write_session(engine) as session:
        session.execute(update(PortalJob).where(PortalJob.id == job_id, PortalJob.status == RUNNING)
                        .values(flow_run_id=flow_run_id))


def finish(engine: Engine, job_id: int, *, outcome: dict[str, Any], flow_run_id: str | None,
           submission_id: int | None = None, report_id: int | None = None) -> None:
    with write_session(engine) as session:
        session.execute(update(PortalJob).where(PortalJob.id == job_id).values(
            status=DONE, outcome=outcome, flow_run_id=flow_run_id, submission_id=submission_id,
            report_id=report_id, finished_at=utcnow(), error=None))


def fail(engine: Engine, job_id: int, *, error: str, flow_run_id: str | None) -> None:
    with write_session(engine) as session:
        session.execute(update(PortalJob).where(PortalJob.id == job_id).values(
            status=FAILED, error=error[:4000], flow_run_id=flow_run_id, finished_at=utcnow()))


@dataclass(frozen=True)
class TakenBack:
    """Jobs taken back from dead workers: queued again, or given up; and the flow runs they were running,
    which nobody will finish (to be marked Crashed in Prefect)."""

    requeued: int = 0
    failed: int = 0
    flow_run_ids: list[str] = field(default_factory=list)


def take_back(engine: Engine, worker: str | None = None) -> TakenBack:
    """The jobs `worker` (None: any worker, at start) left running go back to the queue, or fail after
    MAX_ATTEMPTS (a file that kills its worker every time must not do it forever)."""
    with write_session(engine) as session:
        running = [PortalJob.status == RUNNING] + ([PortalJob.worker == worker] if worker else [])
        runs = [r for r in session.scalars(select(PortalJob.flow_run_id).where(*running)) if r]
        failed = session.execute(update(PortalJob).where(*running, PortalJob.attempts >= MAX_ATTEMPTS)
                                 .values(status=FAILED, finished_at=utcnow(), error=GIVEN_UP)).rowcount
        requeued = session.execute(update(PortalJob).where(*running)
                                   .values(status=QUEUED, worker=None, error=INTERRUPTED)).rowcount
    return TakenBack(requeued or 0, failed or 0, runs)


def requeue_worker(engine: Engine, worker: str) -> int:
    """A worker died: the job it was running goes back to the queue (or fails after MAX_ATTEMPTS)."""
    return take_back(engine, worker).requeued


def requeue_interrupted(engine: Engine, worker: str | None = None) -> tuple[int, int]:
    """At start: jobs a stopped worker left running go back to the queue, or fail after MAX_ATTEMPTS.
    Returns (requeued, failed)."""
    taken = take_back(engine, worker)
    return taken.requeued, taken.failed


def job_for(session: Session, user: SignedIn, job_id: int) -> PortalJob | None:
    """The job, if `user` may see it (a district sees only its own district's jobs)."""
    job = session.get(PortalJob, job_id)
    if job is None or not user.may_see(job.district_code):
        return None
    return job


def submission_ready(session: Session, job: PortalJob) -> int | None:
    """The submission a running upload job has already written, with its feedback file: the district can
    read it while the flow run finishes its last tasks (artifacts, the event). None if not there yet."""
    if job.action != "intake" or job.started_at is None or job.checksum is None:
        return None
    scope = (Submission.facility_code.is_(None) if job.facility_code is None
             else Submission.facility_code == job.facility_code)
    return session.scalar(select(Submission.id).where(
        Submission.district_code == job.district_code, Submission.kind == job.kind, scope,
        Submission.checksum == job.checksum, Submission.channel == "portal",
        Submission.created_at >= job.started_at, Submission.feedback_path.is_not(None))
        .order_by(Submission.id.desc()).limit(1))


def result(session: Session, job: PortalJob) -> tuple[str, str | None]:
    """The job's status as the person who started it sees it, and the page of its result: the
    submission's feedback (as soon as it is written, see `submission_ready`), or the district's report
    (a facility's plan: the district page's list of its facilities' plans)."""
    if job.submission_id:
        return job.status, f"/nop/{job.submission_id}"
    if job.status == DONE:
        return DONE, f"/huyen/{job.district_code}#{'ke-hoach-co-so' if job.facility_code else 'bao-cao'}"
    if job.status == RUNNING and (early := submission_ready(session, job)) is not None:
        # the feedback is written; the flow run is still publishing its artifacts and event
        return DONE, f"/nop/{early}"
    return job.status, None


def queue_position(session: Session, job: PortalJob) -> int:
    """How many queued jobs are ahead of this one (0 once it runs)."""
    if job.status != QUEUED:
        return 0
    return session.scalar(select(func.count()).select_from(PortalJob)
                          .where(PortalJob.status == QUEUED, PortalJob.id < job.id)) or 0


def queued_count(session: Session, *, at_most: int = 1000) -> int:
    """How many jobs wait in the queue, counted up to `at_most` (the health check's figure)."""
    return len(session.scalars(select(PortalJob.id).where(PortalJob.status == QUEUED).limit(at_most)).all())


@dataclass(frozen=True)
class Troubled:
    """The jobs created since a moment that were taken back after their worker died (attempts > 1) or that
    failed: how many of each, and the newest of them."""

    total: int
    retried: int
    failed: int
    jobs: list[PortalJob]


def troubled(session: Session, since: dt.datetime, *, newest: int) -> Troubled:
    """The jobs created since `since` (the real clock) that were taken back (attempts > 1) or that failed
    (given up after being taken back, or the flow failed): the counts, and the newest `newest` of them."""
    from sqlalchemy import case, or_

    failing = PortalJob.status == FAILED
    where = (PortalJob.created_at >= since, or_(PortalJob.attempts > 1, failing))
    total, failed = session.execute(select(func.count(), func.sum(case((failing, 1), else_=0))).where(*where)).one()
    retried = (total or 0) - (failed or 0)
    found = session.scalars(select(PortalJob).where(*where).order_by(PortalJob.id.desc()).limit(newest)).all()
    return Troubled(total or 0, retried or 0, failed or 0, list(found))
