"""Deadline logic replayed hour by hour over campaign windows (pure: no database, no sending)."""

from __future__ import annotations

import datetime as dt

import pytest

from campaign.config import load_campaign
from campaign.config_directive import EscalationStep
from campaign.deadlines.present import compose
from campaign.deadlines.rules import (
    DONE_LATE,
    DONE_ON_TIME,
    DUE,
    OVERDUE,
    Deliverable,
    Extension,
    WorkingCalendar,
    deliverables,
    fire_at,
    recipients,
    state_of,
    steps_due,
)
from tests.clock_support import at


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


@pytest.fixture(scope="module")
def calendar(campaign):
    return WorkingCalendar.from_config(campaign)


def replay(item: Deliverable, ladder, calendar, *, start: dt.datetime, end: dt.datetime,
           completed_at: dt.datetime | None = None, every: dt.timedelta = dt.timedelta(hours=1),
           watching=lambda t: True) -> list[tuple[str, dt.datetime]]:
    """Run the watch at every tick (when `watching`), sending each due step once: (step, tick sent)."""
    sent: dict[str, dt.datetime] = {}
    t = start
    while t <= end:
        if watching(t):
            for due in steps_due(item, ladder, completed_at, t, calendar):
                sent.setdefault(due.step.step, t)
        t += every
    return sorted(sent.items(), key=lambda kv: kv[1])


def item_of(campaign, deadline: str, party: str) -> Deliverable:
    return next(d for d in deliverables(campaign) if d.deadline == deadline and d.party == party)


# --- the directive's own deadlines ------------------------------------------------------------------------


def test_every_district_owes_the_district_deadlines_and_the_doh_its_report(campaign) -> None:
    items = deliverables(campaign)
    prep = [d for d in items if d.deadline == "district_preparation"]
    assert sorted(d.party for d in prep) == sorted(campaign.district_codes) and len(prep) == 17
    doh = [d for d in items if d.party == "doh"]
    assert [d.deadline for d in doh] == ["doh_central_report"]
    assert doh[0].due_at == at("30/07 00:00") and doh[0].report == "province"
    assert prep[0].due_at == at("29/07 00:00")   # "trước ngày 29/7" is due at the start of 29/7
    # the directive's 29/7 (annex II.1: "Thời gian hoàn thành các công việc nêu trên ... trước ngày 29/7/2021")
    # covers II.1's items; the facility list is II.2's, under the province's own date
    assert set(prep[0].kinds) == {"infrastructure", "training", "communication"}
    target = [d for d in items if d.deadline == "district_target_list"]
    assert "facilities" in target[0].kinds and target[0].source == "province"


def test_a_district_that_never_submits_gets_every_step_in_order(campaign, calendar) -> None:
    item = item_of(campaign, "district_preparation", "633")
    sent = replay(item, campaign.escalation_ladders[item.ladder], calendar, start=at("28/07 08:00"),
                  end=at("31/07 00:00"))
    assert sent == [("reminder", at("28/07 16:00")), ("warning", at("28/07 20:00")),
                    ("overdue", at("29/07 00:00")), ("escalated", at("29/07 12:00"))]


def test_done_before_a_step_stops_the_ladder_there(campaign, calendar) -> None:
    item = item_of(campaign, "district_preparation", "633")
    ladder = campaign.escalation_ladders[item.ladder]
    on_time = replay(item, ladder, calendar, start=at("28/07 08:00"), end=at("31/07 00:00"),
                     completed_at=at("28/07 18:30"))
    assert [s for s, _ in on_time] == ["reminder"]
    assert state_of(item, at("28/07 18:30"), at("31/07 00:00")) == DONE_ON_TIME
    late = replay(item, ladder, calendar, start=at("28/07 08:00"), end=at("31/07 00:00"),
                  completed_at=at("29/07 03:10"))
    assert [s for s, _ in late] == ["reminder", "warning", "overdue"]
    assert state_of(item, at("29/07 03:10"), at("31/07 00:00")) == DONE_LATE


def test_states_over_time(campaign) -> None:
    item = item_of(campaign, "district_preparation", "622")
    assert state_of(item, None, at("28/07 09:00")) == DUE
    assert state_of(item, None, at("29/07 00:00")) == OVERDUE          # due at 00:00 means overdue from 00:00
    assert state_of(item, at("28/07 23:59"), at("29/07 08:00")) == DONE_ON_TIME
    assert state_of(item, at("29/07 00:00"), at("29/07 08:00")) == DONE_LATE
    assert state_of(item, at("29/07 10:00"), at("29/07 08:00")) == OVERDUE   # not yet done at that moment


def test_a_deadline_two_days_after_the_directive_arrives(campaign, calendar) -> None:
    item = item_of(campaign, "doh_central_report", "doh")
    sent = replay(item, campaign.escalation_ladders[item.ladder], calendar, start=at("28/07 08:00"),
                  end=at("31/07 00:00"))
    assert sent == [("reminder", at("29/07 04:00")), ("warning", at("29/07 18:00")), ("overdue", at("30/07 00:00"))]


def test_a_watch_that_was_down_catches_up_each_step_once(campaign, calendar) -> None:
    item = item_of(campaign, "district_preparation", "633")
    sent = replay(item, campaign.escalation_ladders[item.ladder], calendar, start=at("28/07 08:00"),
                  end=at("30/07 00:00"), watching=lambda t: not (at("28/07 10:00") <= t < at("29/07 01:00")))
    assert sent == [("reminder", at("29/07 01:00")), ("warning", at("29/07 01:00")),
                    ("overdue", at("29/07 01:00")), ("escalated", at("29/07 12:00"))]


# --- working time ----------------------------------------------------------------------------------------


def _working_step(hours: float) -> EscalationStep:
    return EscalationStep.model_validate({"step": "warning", "when": {"working_hours_before_due": hours},
                                          "to": ["health_centre"], "channels": ["email"]})


def test_working_hours_skip_tet_and_weekends(calendar) -> None:
    assert not calendar.is_working_day(dt.date(2021, 2, 12))      # Tết
    assert not calendar.is_working_day(dt.date(2021, 5, 3))       # day off in lieu of 1/5
    assert not calendar.is_working_day(dt.date(2021, 8, 1))       # a Sunday
    assert calendar.is_working_day(dt.date(2021, 2, 17))
    tet = Deliverable("tet", "Tết", "633", at("08/02 08:00"), at("17/02 11:30"), (), None, "x")
    # 4 h on 17/2 morning, the whole Tết week (10-16/2) and its weekend skipped, 3.5 h on 9/2 afternoon
    assert fire_at(tet, _working_step(8), calendar) == at("09/02 11:00")
    assert calendar.between(at("09/02 11:00"), at("17/02 11:30")) == pytest.approx(8)


def test_a_deadline_on_a_sunday_counts_back_from_friday(calendar) -> None:
    sunday = Deliverable("sun", "Chủ nhật", "633", at("26/07 08:00"), at("01/08 17:00"), (), None, "x")
    assert fire_at(sunday, _working_step(4), calendar) == at("30/07 11:00")


def test_province_days_off_and_working_saturdays_are_config(campaign) -> None:
    cal = WorkingCalendar(WorkingCalendar.from_config(campaign).office_hours,
                          extra_days_off=frozenset({dt.date(2021, 7, 30)}),
                          extra_working_days=frozenset({dt.date(2021, 7, 31)}))
    sunday = Deliverable("sun", "Chủ nhật", "633", at("26/07 08:00"), at("01/08 17:00"), (), None, "x")
    assert fire_at(sunday, _working_step(4), cal) == at("31/07 11:00")   # Saturday worked, Friday off


def test_hours_before_due_never_before_the_window_opens(campaign, calendar) -> None:
    item = item_of(campaign, "district_preparation", "633")
    early = EscalationStep.model_validate({"step": "warning", "when": {"hours_before_due": 48},
                                           "to": ["health_centre"], "channels": ["email"]})
    assert fire_at(item, early, calendar) == item.opens_at


# --- extensions, recipients, messages -----------------------------------------------------------------------


def test_an_extension_moves_one_party_or_all(campaign) -> None:
    now = at("28/07 12:00")
    one = Extension("district_preparation", "622", at("30/07 00:00"), "lũ cắt đường", "coordinator", now)
    items = {d.party: d for d in deliverables(campaign, [one]) if d.deadline == "district_preparation"}
    assert items["622"].due_at == at("30/07 00:00") and items["622"].original_due_at == at("29/07 00:00")
    assert items["633"].due_at == at("29/07 00:00") and items["633"].original_due_at is None
    everyone = Extension("district_preparation", "*", at("29/07 12:00"), "hệ thống lỗi", "coordinator", now)
    items = {d.party: d for d in deliverables(campaign, [one, everyone]) if d.deadline == "district_preparation"}
    assert items["633"].due_at == at("29/07 12:00") and items["622"].due_at == at("30/07 00:00")


def test_recipients_of_each_step(campaign) -> None:
    ladder = {s.step: s for s in campaign.escalation_ladders["district_ladder"]}
    assert [(r.channel, r.address) for r in recipients(ladder["reminder"], "633", campaign)] == \
        [("email", "ttyt.633@example.gov.vn")]
    overdue = {(r.role, r.channel, r.address) for r in recipients(ladder["escalated"], "633", campaign)}
    assert overdue == {("doh.director", "email", "giamdoc.syt@example.gov.vn"),
                       ("doh.director", "webhook", "http://127.0.0.1:9/doh-director"),
                       ("provincial_committee.office", "email", "bcd.tinh@example.gov.vn")}


def test_messages_say_what_is_missing_and_where_the_feedback_is(campaign) -> None:
    item = item_of(campaign, "district_preparation", "633")
    subject, body, payload = compose(item, "overdue", party_name="Chư Sê", missing=["Hoạt động truyền thông"],
                                     feedback={"training": "var/outputs/feedback/633/12-training.xlsx"},
                                     now=at("29/07 02:00"))
    assert "Quá hạn" in subject and "Chư Sê" in subject and "00:00 29/07/2021" in subject
    assert "Còn thiếu: Hoạt động truyền thông." in body and "12-training.xlsx" in body
    assert "Đã quá hạn 2 giờ." in body
    assert payload["missing"] == ["Hoạt động truyền thông"] and payload["step"] == "overdue"


def test_a_window_over_tet_replayed_hour_by_hour(campaign, calendar) -> None:
    """A report due the Wednesday after Tết 2021 (holidays 10-16/2), with a ladder counted in office time."""
    ladder = [EscalationStep.model_validate(s) for s in (
        {"step": "reminder", "when": {"working_hours_before_due": 16}, "to": ["health_centre"], "channels": ["email"]},
        {"step": "warning", "when": {"working_hours_before_due": 4}, "to": ["health_centre", "steering_committee"],
         "channels": ["email"]},
        {"step": "overdue", "when": {"hours_after_due": 0}, "to": ["steering_committee"], "channels": ["email"]},
    )]
    item = Deliverable("tet_report", "Báo cáo sau Tết", "633", at("05/02 08:00"), at("17/02 17:00"), (), None, "x")
    sent = replay(item, ladder, calendar, start=at("05/02 08:00"), end=at("19/02 00:00"))
    # 16 office hours before Wed 17/2 17:00: 7.5 h on 17/2, then Tết and its weekend skipped,
    # 7.5 h on Tue 9/2, 1 h on Mon 8/2 (16:00-17:00)
    # 4 office hours before it: 13:30-17:00 and 11:00-11:30 of the same day
    assert sent == [("reminder", at("08/02 16:00")), ("warning", at("17/02 11:00")), ("overdue", at("17/02 17:00"))]
    assert [r.address for s in ladder for r in recipients(s, "633", campaign)] == [
        "ttyt.633@example.gov.vn", "ttyt.633@example.gov.vn", "bcd.633@example.gov.vn", "bcd.633@example.gov.vn"]
