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


def test_a_coordinator_extends_a_facility_day_from_the_command_line_target(campaign) -> None:
    from campaign.deadlines.extension import ExtensionError, extension_target

    assert tuple(extension_target(campaign, DEADLINE, "F-C").__dict__.values()) == (DEADLINE, "F-C")
    assert extension_target(campaign, DEADLINE, "all").party == "*"
    with pytest.raises(ExtensionError):
        extension_target(campaign, "daily_results:", "F-C")
    with pytest.raises(ExtensionError):
        extension_target(campaign, "no_such_thing:2021-07-30", "622")


def test_results_that_come_through_intake_close_the_day(migrated_engine, campaign, tmp_path) -> None:
    """The real path: a facility's results file read, checked and loaded by intake (a cumulative file the
    next day loads only its new rows); the board and the daily figures agree on what came when."""
    from campaign.daily_results import run as daily
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.settings import Settings

    f = "64633-TYT-01"
    publish_plan(migrated_engine, start=D30, days=2, published_at=at("28/07 12:00"), invitations={},
                 sessions=[("633", f, day, "morning") for day in (D30, D30 + dt.timedelta(1))])
    header = ("Mã cơ sở tiêm chủng,Họ và tên,Ngày sinh,Giới tính,Ngày tiêm,Kết quả khám sàng lọc,Đã tiêm,"
              "Tên vắc xin,Mũi số\n")
    day1 = (f"{f},Nguyễn Văn An,12/05/1980,Nam,30/07/2021,Đủ điều kiện tiêm,Có,AstraZeneca,1\n"
            f"{f},Siu H'Nhi,01/02/1990,Nữ,30/07/2021,Hoãn tiêm,Không,,1\n")
    day2 = f"{f},Rơ Châm Thuận,20/11/1969,Nam,31/07/2021,Đủ điều kiện tiêm,Có,AstraZeneca,1\n"
    settings = Settings(home=tmp_path / "home")
    for name, text, when in (("d1.csv", header + day1, at("30/07 19:00")),
                             ("d2.csv", header + day1 + day2, at("31/07 21:00"))):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        out = run_intake(IntakeRequest(path=path, district="633", kind="vaccinations", received_at=when),
                         engine=migrated_engine, settings=settings, campaign=campaign)
        assert out.status == "accepted"
    now = at("01/08 09:00")
    with Session(migrated_engine) as s:
        states = {r["deadline"]: r["state"] for r in board(s, campaign, now)["deliverables"] if r["party"] == f}
        fig = daily.figures(s, campaign, now, [D30, D30 + dt.timedelta(1)])
    assert states == {DEADLINE: "done_on_time", "daily_results:2021-07-31": "done_late"}
    rows = fig.facilities.set_index("date")
    assert rows.loc[D30, ["state", "vaccinated", "screened", "walk_ins"]].tolist() == ["on_time", 1, 2, 1]
    assert rows.loc[D30 + dt.timedelta(1), ["state", "vaccinated", "screened"]].tolist() == ["late", 1, 1]
