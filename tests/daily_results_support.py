"""Builds what the daily results read, by hand: published plans (sessions and invitations), master-list
persons with their target-list rows, and `vaccinations` submissions with their rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.store.models import (
    KIND_TABLES,
    LinkageModel,
    MasterListRun,
    MasterPerson,
    MasterRecord,
    PlanInvitation,
    PlanRun,
    PlanSession,
    StoredFile,
    Submission,
)

_seq = itertools.count(1)


def _submission(s: Session, district: str, kind: str, when: dt.datetime, status: str = "accepted",
                facility: str | None = None) -> Submission:
    sha = hashlib.sha256(f"{district}{kind}{when}{status}{next(_seq)}".encode()).hexdigest()
    s.add(StoredFile(sha256=sha, size_bytes=1, original_filename="f.xlsx", media_type=None,
                     relative_path=sha, first_seen_at=when))
    s.flush()
    version = 1 + (s.scalar(select(func.count()).select_from(Submission).where(
        Submission.district_code == district, Submission.kind == kind)) or 0)
    sub = Submission(district_code=district, kind=kind, version=version, status=status,
                     is_current=status == "accepted", checksum=sha, original_filename="f.xlsx", channel="cli",
                     submitted_by="t", received_at=when, facility_code=facility,
                     withdrawn_at=when if status == "withdrawn" else None)
    s.add(sub)
    s.flush()
    return sub


def publish_plan(engine: Engine, *, start: dt.date, days: int, published_at: dt.datetime,
                 sessions: list[tuple[str, str, dt.date, str]], invitations: dict[tuple[str, dt.date], list[str]],
                 district: str | None = None) -> int:
    """A published plan: `sessions` (district, facility, day, part); `invitations` (facility, day) ->
    person ids (all invited to the day's first session)."""
    with Session(engine) as s, s.begin():
        run = PlanRun(as_of=published_at, start_date=start, days=days, district=district, published_at=published_at,
                      published_by="t")
        s.add(run)
        s.flush()
        for d, f, day, part in sessions:
            people = invitations.get((f, day), []) if part == "morning" else []
            s.add(PlanSession(run_id=run.id, facility_code=f, district=d, date=day, part=part, product="astrazeneca",
                              lots="L1", tables=1, teams=1, capacity=100, invited=len(people), dose2=0, vials=1,
                              wasted_doses=0))
            for p in people:
                s.add(PlanInvitation(run_id=run.id, person_id=p, facility_code=f, district=d, date=day, part=part,
                                     slot="07:30", dose=1, product="astrazeneca", lot="L1", source="planned"))
        return run.id


def add_persons(engine: Engine, people: dict[str, tuple[str, str, str, str | None]]) -> None:
    """Master-list persons, each with one target-list row: person id -> (district, name, birth date, ID)."""
    with Session(engine) as s, s.begin():
        model = LinkageModel(version="t", trained_rows=0, seconds=0.0, model={})
        s.add(model)
        s.flush()
        run = MasterListRun(as_of=dt.datetime(2021, 7, 28, tzinfo=dt.UTC), model_id=model.id, trained=False, rows=0,
                            persons=len(people), review_pairs=0)
        s.add(run)
        by_district: dict[str, list[tuple[str, tuple]]] = {}
        for pid, value in people.items():
            by_district.setdefault(value[0], []).append((pid, value))
        table = KIND_TABLES["target_list"]
        for district, rows in by_district.items():
            sub = _submission(s, district, "target_list", dt.datetime(2021, 7, 27, tzinfo=dt.UTC))
            for n, (pid, (_d, name, born, ident)) in enumerate(rows, start=1):
                s.execute(insert(table).values(submission_id=sub.id, district=district, row_number=n, full_name=name,
                                               birth_date=dt.date.fromisoformat(born), id_number=ident))
                s.add(MasterRecord(run_id=run.id, submission_id=sub.id, row_number=n, district=district,
                                   fingerprint=pid, person_id=pid, status="unique", cluster_size=1))
                s.add(MasterPerson(person_id=pid, run_id=run.id, submission_id=sub.id, row_number=n, district=district,
                                   rows=1, districts=district, eligible=True, next_dose=1, outbreak=False))


def send_results(engine: Engine, district: str, when: dt.datetime, rows: list[dict], status: str = "accepted") -> int:
    """A `vaccinations` submission received at `when` with these rows (facility_code, session_date,
    full_name, birth_date, id_number, vaccinated yes/no, dose_number)."""
    table = KIND_TABLES["vaccinations"]
    with Session(engine) as s, s.begin():
        sub = _submission(s, district, "vaccinations", when, status)
        for n, r in enumerate(rows, start=1):
            values = {"sex": "female", "screening_result": "eligible", "dose_number": 1, "product": "astrazeneca",
                      **r}
            s.execute(insert(table).values(submission_id=sub.id, district=district, row_number=n, **values))
        return sub.id
