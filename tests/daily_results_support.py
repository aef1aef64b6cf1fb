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
from tests.clock_support import at

_seq = itertools.count(1)

D = [dt.date(2021, 7, 30) + dt.timedelta(days=i) for i in range(7)]     # D[0] = 30/7 ... D[6] = 5/8
NOW = at("06/08 12:00")




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


def row(facility: str, day: dt.date, name: str = "Nguyễn Văn A", born: str = "1970-01-01", ident: str | None = None,
        vaccinated: str = "no") -> dict:
    return {"facility_code": facility, "session_date": day, "full_name": name, "birth_date": dt.date.fromisoformat(born),
            "id_number": ident, "vaccinated": vaccinated,
            "screening_result": "eligible" if vaccinated == "yes" else "deferred"}


def week(engine) -> None:
    """District 622: F1 holds a morning and an afternoon session every day, F2 a morning session on days
    1, 3, 5, 7; F4 (no session planned) sends results on day 2. District 623: F3, morning and afternoon,
    days 1-5. Cut-off 20:00 the same day.

    F1: day 1 at 18:00 (on time; again at 19:00 with P1's row: one result), day 2 19:00, day 3 the next
        morning 08:00 (late), day 4 never, day 5 17:00, day 6 21:00 (late), day 7 18:00.
    F2: day 1 never, day 3 19:59 (on time), day 5 20:00 exactly (late: on time is before the cut-off),
        day 7 never.
    F3: day 1 17:00, day 2 withdrawn at 17:00 then sent again 22:00 (late), day 3 12:00, day 4 never,
        day 5 16:00.
    People: P1, P2, P3 invited to F1 on day 1: P1 vaccinated (found by ID), P2 screened and deferred (found
    by name and birth date, written differently), P3 no result (a no-show: day 1 + 2 grace days has passed);
    W vaccinated at F1 on day 1 without an invitation (a walk-in). P4, P5 invited to F1 on day 7: P4
    vaccinated, P5 no result yet (awaited: 6/8 is within 2 days of 5/8). On day 2, F4 vaccinates T (a
    walk-in). Every other day's file holds one screened, deferred row."""
    f1 = [("622", "F1", d, part) for d in D for part in ("morning", "afternoon")]
    f2 = [("622", "F2", D[i], "morning") for i in (0, 2, 4, 6)]
    f3 = [("623", "F3", D[i], part) for i in range(5) for part in ("morning", "afternoon")]
    publish_plan(engine, start=D[0], days=7, published_at=at("28/07 12:00"), sessions=f1 + f2 + f3,
                 invitations={("F1", D[0]): ["P1", "P2", "P3"], ("F1", D[6]): ["P4", "P5"]})
    add_persons(engine, {"P1": ("622", "Nguyễn Văn Một", "1980-01-01", "079080000001"),
                         "P2": ("622", "Trần Thị Hai", "1985-05-05", None),
                         "P3": ("622", "Lê Văn Ba", "1990-03-03", None),
                         "P4": ("622", "Rơ Mah Bốn", "1975-04-04", None),
                         "P5": ("622", "Siu H'Năm", "1966-06-06", None)})
    send_results(engine, "622", at("30/07 18:00"), [
        row("F1", D[0], "Nguyen Van Mot", "1980-01-01", "079080000001", "yes"),
        row("F1", D[0], "TRẦN THỊ  HAI", "1985-05-05"),
        row("F1", D[0], "Đinh Văn Khách", "1999-09-09", vaccinated="yes")])
    send_results(engine, "622", at("30/07 19:00"), [
        row("F1", D[0], "Nguyễn Văn Một", "1980-01-01", "079080000001", "yes")])
    send_results(engine, "622", at("31/07 19:00"), [row("F1", D[1]), row("F4", D[1], "Ksor Tư", "2000-02-02",
                                                                           vaccinated="yes")])
    send_results(engine, "622", at("02/08 08:00"), [row("F1", D[2])])
    send_results(engine, "622", at("03/08 17:00"), [row("F1", D[4])])
    send_results(engine, "622", at("04/08 21:00"), [row("F1", D[5])])
    send_results(engine, "622", at("05/08 18:00"), [row("F1", D[6], "Rơ Mah Bốn", "1975-04-04", vaccinated="yes")])
    send_results(engine, "622", at("01/08 19:59"), [row("F2", D[2])])
    send_results(engine, "622", at("03/08 20:00"), [row("F2", D[4])])
    send_results(engine, "623", at("30/07 17:00"), [row("F3", D[0])])
    send_results(engine, "623", at("31/07 17:00"), [row("F3", D[1])], status="withdrawn")
    send_results(engine, "623", at("31/07 22:00"), [row("F3", D[1])])
    send_results(engine, "623", at("01/08 12:00"), [row("F3", D[2])])
    send_results(engine, "623", at("03/08 16:00"), [row("F3", D[4])])
