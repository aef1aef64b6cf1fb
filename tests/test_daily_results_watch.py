"""Daily results as deliverables (issue 20.2) through the generated-deliverables hook of the deadline watch,
on SQLite and PostgreSQL: each facility with a planned session owes its results of the day by the cut-off;
one that misses it gets its ladder's steps exactly once, through the outbox."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.config_directive import directive_text
from campaign.deadlines import run as deadlines_run
from campaign.deadlines.run import board, escalate
from campaign.store.models import Escalation, OutboxMessage
from tests.clock_support import at
from tests.daily_results_support import publish_plan, send_results

D30 = dt.date(2021, 7, 30)
DEADLINE = "daily_results:2021-07-30"


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


def watch_at(engine, campaign, when: dt.datetime) -> list[tuple[str, str, str]]:
    with Session(engine) as s, s.begin():
        return sorted((w.deadline, w.party, w.step) for w in escalate(s, campaign, when)
                      if w.deadline.startswith("daily_results:"))


def three_facilities(engine) -> None:
    publish_plan(engine, start=D30, days=2, published_at=at("28/07 12:00"), invitations={},
                 sessions=[("622", f, day, part) for f in ("F-A", "F-B", "F-C") for day in (D30, D30 + dt.timedelta(1))
                           for part in ("morning", "afternoon")])


def result(facility: str, day: dt.date = D30) -> dict:
    return {"facility_code": facility, "session_date": day, "full_name": "Nguyễn Văn A",
            "birth_date": dt.date(1980, 1, 1), "vaccinated": "yes"}


def test_the_cut_off_is_the_provinces_decision_on_the_directives_words(campaign) -> None:
    rule = campaign.daily_results
    assert rule.cut_off == "20:00" and rule.days_after == 0
    assert rule.source.by == "province"
    # directive II.3 asks for the data during vaccination, without an hour
    quote = ("Cập nhật dữ liệu trong quá trình tiêm chủng (kết quả khám sàng lọc, kết quả tiêm và ghi nhận phản ứng "
             "bất lợi sau tiêm chủng)")
    assert quote in directive_text() and quote in rule.source.note
    ladder = campaign.escalation_ladders[rule.escalation]
    assert [(s.step, s.to) for s in ladder] == [("reminder", ["health_centre"]), ("overdue", ["health_centre"])]


def test_the_hook_lists_the_daily_results_provider() -> None:
    assert "campaign.daily_results.run.provide" in deadlines_run.PROVIDERS
    assert all(callable(p) for p in deadlines_run.providers())


def test_a_facility_that_misses_the_cut_off_gets_its_ladder_once(migrated_engine, campaign) -> None:
    three_facilities(migrated_engine)
    send_results(migrated_engine, "622", at("30/07 15:00"), [result("F-A")])
    # before the day's first session nothing is owed yet
    assert watch_at(migrated_engine, campaign, at("30/07 07:00")) == []
    assert watch_at(migrated_engine, campaign, at("30/07 18:30")) == []
    first = watch_at(migrated_engine, campaign, at("30/07 19:30"))
    assert first == [(DEADLINE, "F-B", "reminder"), (DEADLINE, "F-C", "reminder")]
    assert watch_at(migrated_engine, campaign, at("30/07 19:30")) == []      # again: nothing new
    send_results(migrated_engine, "622", at("30/07 21:00"), [result("F-B")])  # late
    assert watch_at(migrated_engine, campaign, at("30/07 20:30")) == [(DEADLINE, "F-B", "overdue"),
                                                                       (DEADLINE, "F-C", "overdue")]
    assert watch_at(migrated_engine, campaign, at("30/07 23:00")) == []
    # the next day: everyone owes 31/7, nothing more about 30/7
    later = watch_at(migrated_engine, campaign, at("31/07 20:30"))
    assert Counter((d, s) for d, _p, s in later) == {("daily_results:2021-07-31", "reminder"): 3,
                                                      ("daily_results:2021-07-31", "overdue"): 3}
    with Session(migrated_engine) as s:
        rows = s.execute(select(Escalation.party, Escalation.step).where(Escalation.deadline_id == DEADLINE)).all()
        assert Counter(rows) == {("F-B", "reminder"): 1, ("F-C", "reminder"): 1, ("F-B", "overdue"): 1,
                                 ("F-C", "overdue"): 1}
        sent = s.execute(select(OutboxMessage.recipient, OutboxMessage.body).join(Escalation)
                         .where(Escalation.deadline_id == DEADLINE, Escalation.party == "F-C",
                                Escalation.step == "overdue")).all()
        assert [r for r, _b in sent] == ["ttyt.622@example.gov.vn"]
        assert "30/07/2021" in sent[0][1] and "Kết quả tiêm chủng" in sent[0][1]
        assert "theo quyết định của tỉnh" in sent[0][1]


def test_the_board_shows_each_facility_day_with_its_state(migrated_engine, campaign) -> None:
    three_facilities(migrated_engine)
    send_results(migrated_engine, "622", at("30/07 15:00"), [result("F-A")])
    send_results(migrated_engine, "622", at("30/07 21:00"), [result("F-B")])
    send_results(migrated_engine, "622", at("30/07 16:00"), [result("F-C")], status="withdrawn")
    with Session(migrated_engine) as s:
        summary = board(s, campaign, at("31/07 06:00"))
    mine = {r["party"]: r for r in summary["deliverables"] if r["deadline"] == DEADLINE}
    assert {p: r["state"] for p, r in mine.items()} == {"F-A": "done_on_time", "F-B": "done_late", "F-C": "overdue"}
    assert mine["F-C"]["missing"] == ["vaccinations"] and mine["F-C"]["district"] == "622"
    assert mine["F-A"]["due_at"] == at("30/07 20:00").isoformat()
    # 31/7's sessions have not begun at 06:00: not owed yet
    assert not [r for r in summary["deliverables"] if r["deadline"] == "daily_results:2021-07-31"]


def test_an_extension_moves_a_generated_deliverable(migrated_engine, campaign) -> None:
    from campaign.store.models import DeadlineExtension

    three_facilities(migrated_engine)
    with Session(migrated_engine) as s, s.begin():
        s.add(DeadlineExtension(deadline_id=DEADLINE, party="F-C", due_at=at("31/07 12:00"), reason="mất điện",
                                created_by="dieuphoi", created_at=at("30/07 18:00")))
    assert watch_at(migrated_engine, campaign, at("30/07 20:30")) == [
        (DEADLINE, "F-A", "overdue"), (DEADLINE, "F-A", "reminder"),
        (DEADLINE, "F-B", "overdue"), (DEADLINE, "F-B", "reminder")]
    assert watch_at(migrated_engine, campaign, at("31/07 12:30")) == [(DEADLINE, "F-C", "overdue"),
                                                                       (DEADLINE, "F-C", "reminder")]
