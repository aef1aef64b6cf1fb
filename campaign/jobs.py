"""The portal's job queue, in the application database: an upload is a job before it is a flow run.

The portal writes the job (and the uploaded file, content-addressed) and answers at once; a warm worker
claims it, runs the flow, and records the outcome. Kept in the database so that no upload is lost when
the portal or a worker stops. Several portals and workers, on several machines, may share one database: a
worker holds the job it claimed with a lease (`lease_owner`, `lease_expires_at`) that it renews while it
runs (`renew`); a job whose lease ran out (its worker or machine died) is queued again by whichever worker
looks next (`take_over_expired`), and given up after MAX_ATTEMPTS. Nothing is taken back at start: another
portal may still be running what this one finds running. A worker records its result only while its lease
holds the job (intake is idempotent anyway for a file already accepted: it answers `duplicate` with the
original submission). A job's flow run id is kept as soon as the run starts (`started`), so that the run
of a worker that died can be marked Crashed in Prefect by whoever takes its job back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Interval, func, literal, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.accounts import SignedIn
from campaign.files import StoredOriginal
from campaign.store.db import write_session
from campaign.store.models import PortalJob, Submission, utcnow
from campaign.store.models.base import UTCDateTime

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


def _postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _now(engine: Engine) -> Any:
    """Now, for leases: on PostgreSQL the database server's clock (machines' clocks may differ), else this
    machine's (SQLite: one machine)."""
    return func.clock_timestamp() if _postgres(engine) else literal(utcnow(), UTCDateTime())


def _until(engine: Engine, seconds: float) -> Any:
    if _postgres(engine):
        return func.clock_timestamp() + literal(dt.timedelta(seconds=seconds), Interval())
    return literal(utcnow() + dt.timedelta(seconds=seconds), UTCDateTime())


def lease_seconds() -> float:
    from campaign.settings import get_settings

    return get_settings().job_lease_seconds


def _lease_token(worker: str) -> str:
    """Unique per claim: a worker replaced under the same name never mistakes its predecessor's lease for its own."""
    return f"{worker[:47]}/{uuid.uuid4().hex[:16]}"


def claim_next(engine: Engine, worker: str, *, lease_s: float | None = None) -> PortalJob | None:
    """The oldest queued job, now running for `worker` under a lease of `lease_s` seconds (default
    CAMPAIGN_JOB_LEASE_SECONDS) held by `job.lease_owner`; None when the queue is empty. Two workers never get
    the same job: on PostgreSQL the row is locked (FOR UPDATE SKIP LOCKED: concurrent claimers skip it and
    take the next one), elsewhere the claim is a conditional UPDATE that only one of them wins."""
    lease = lease_s if lease_s is not None else lease_seconds()
    owner = _lease_token(worker)

    def claim(session: Session, job_id: int) -> int:
        # flow_run_id: the previous attempt's run (already marked Crashed) is not this attempt's
        return session.execute(update(PortalJob).where(PortalJob.id == job_id, PortalJob.status == QUEUED)
                               .values(status=RUNNING, worker=worker[:64], started_at=utcnow(), flow_run_id=None,
                                       attempts=PortalJob.attempts + 1, lease_owner=owner,
                                       lease_expires_at=_until(engine, lease))
                               .execution_options(synchronize_session=False)).rowcount

    oldest = select(PortalJob.id).where(PortalJob.status == QUEUED).order_by(PortalJob.id).limit(1)
    with Session(engine, expire_on_commit=False) as session:
        if _postgres(engine):
            with session.begin():
                job_id = session.scalar(oldest.with_for_update(skip_locked=True))
                if job_id is None or not claim(session, job_id):
                    return None
            return session.get(PortalJob, job_id)
        for _ in range(5):
            job_id = session.scalar(oldest)
            session.rollback()
            if job_id is None:
                return None
            with session.begin():
                won = claim(session, job_id)
            if won:
                return session.get(PortalJob, job_id)
    return None


def renew(engine: Engine, job_id: int, owner: str, *, lease_s: float | None = None) -> bool:
    """The worker still runs the job: its lease is extended. False when the lease is no longer this
    worker's (it expired and the job was taken over): the worker's result will not be recorded."""
    lease = lease_s if lease_s is not None else lease_seconds()
    with write_session(engine) as session:
        return bool(session.execute(update(PortalJob).where(PortalJob.id == job_id, PortalJob.status == RUNNING,
                                                            PortalJob.lease_owner == owner)
                                    .values(lease_expires_at=_until(engine, lease))
                                    .execution_options(synchronize_session=False)).rowcount)


def _held(job_id: int, owner: str | None) -> list[Any]:
    """The job, and (given `owner`) only while that lease holds it: a worker whose job was taken over
    records nothing (its successor does)."""
    return [PortalJob.id == job_id] + ([PortalJob.status == RUNNING, PortalJob.lease_owner == owner] if owner else [])


def started(engine: Engine, job_id: int, flow_run_id: str, owner: str | None = None) -> None:
    """The job's flow run is running: its id is kept now, not only at the end, so that the run can be marked
    Crashed if the worker dies (by the pool's supervisor, or by the worker that takes the job over)."""
    with write_session(engine) as session:
        session.execute(update(PortalJob).where(*_held(job_id, owner), PortalJob.status == RUNNING)
                        .values(flow_run_id=flow_run_id).execution_options(synchronize_session=False))


def finish(engine: Engine, job_id: int, *, outcome: dict[str, Any], flow_run_id: str | None,
           submission_id: int | None = None, report_id: int | None = None, owner: str | None = None) -> bool:
    """The job is done. With `owner` (a worker's lease), only if that lease still holds it; False if not."""
    with write_session(engine) as session:
        return bool(session.execute(update(PortalJob).where(*_held(job_id, owner)).values(
            status=DONE, outcome=outcome, flow_run_id=flow_run_id, submission_id=submission_id,
            report_id=report_id, finished_at=utcnow(), error=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)).rowcount)


def fail(engine: Engine, job_id: int, *, error: str, flow_run_id: str | None, owner: str | None = None) -> bool:
    with write_session(engine) as session:
        return bool(session.execute(update(PortalJob).where(*_held(job_id, owner)).values(
            status=FAILED, error=error[:4000], flow_run_id=flow_run_id, finished_at=utcnow(),
            lease_expires_at=None).execution_options(synchronize_session=False)).rowcount)


@dataclass(frozen=True)
class TakenBack:
    """Jobs taken back from dead workers: queued again, or given up; and the flow runs they were running,
    which nobody will finish (to be marked Crashed in Prefect)."""

    requeued: int = 0
    failed: int = 0
    flow_run_ids: list[str] = field(default_factory=list)


def _take_back(engine: Engine, which: list[Any]) -> TakenBack:
    """The running jobs matched by `which` go back to the queue, or fail after MAX_ATTEMPTS (a file that
    kills its worker every time must not do it forever). Each row changes once, whoever else tries at the
    same moment: both UPDATEs repeat the condition (PostgreSQL re-reads it after a concurrent writer's commit)."""
    running = [PortalJob.status == RUNNING, *which]
    cleared = {"worker": None, "lease_owner": None, "lease_expires_at": None}
    with Session(engine) as session:   # a read first: most looks find nothing (no write lock taken on SQLite)
        if session.scalar(select(PortalJob.id).where(*running).limit(1)) is None:
            return TakenBack()
    with write_session(engine) as session:
        given_up = session.execute(update(PortalJob).where(*running, PortalJob.attempts >= MAX_ATTEMPTS)
                                   .values(status=FAILED, finished_at=utcnow(), error=GIVEN_UP, lease_expires_at=None)
                                   .returning(PortalJob.flow_run_id)
                                   .execution_options(synchronize_session=False)).scalars().all()
        requeued = session.execute(update(PortalJob).where(*running)
                                   .values(status=QUEUED, error=INTERRUPTED, **cleared)
                                   .returning(PortalJob.flow_run_id)
                                   .execution_options(synchronize_session=False)).scalars().all()
    return TakenBack(len(requeued), len(given_up), [r for r in [*given_up, *requeued] if r])


def take_over_expired(engine: Engine) -> TakenBack:
    """Any worker, on any machine, now and then: the running jobs whose lease ran out (their worker died, or
    its machine, or it lost the database for longer than the lease) go back to the queue for the next claim
    (or fail after MAX_ATTEMPTS). A running job without a lease was left by a version before leases."""
    return _take_back(engine, [or_(PortalJob.lease_expires_at.is_(None), PortalJob.lease_expires_at < _now(engine))])


def take_back(engine: Engine, worker: str) -> TakenBack:
    """A worker process its supervisor saw die: its job goes back to the queue at once (or fails after
    MAX_ATTEMPTS), without waiting for the lease to run out."""
    return _take_back(engine, [PortalJob.worker == worker])


def requeue_worker(engine: Engine, worker: str) -> int:
    """A worker died: the job it was running goes back to the queue (or fails after MAX_ATTEMPTS)."""
    return take_back(engine, worker).requeued


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
