"""Moving a deadline (campaign.deadlines.extension): who may be given more time, and what is recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.deadlines.extension import ExtensionError, Target, extend_deadline, extension_target
from campaign.deadlines.rules import deliverables
from campaign.deadlines.store import extensions

ICT = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


@pytest.mark.parametrize(("party", "code"), [("chu se", "633"), ("633", "633"), ("all", "*"), ("*", "*"),
                                             ("ALL", "*")])
def test_a_district_deadline_moves_for_a_district_or_all(campaign, party, code):
    assert extension_target(campaign, "district_preparation", party) == Target("district_preparation", code)


def test_a_facility_deadline_moves_for_a_district(campaign):
    assert extension_target(campaign, "facility_plan", "Chư Sê") == Target("facility_plan", "633")


@pytest.mark.parametrize("party", ["doh", "DoH", "all"])
def test_a_doh_deadline_moves_for_the_doh_or_all(campaign, party):
    assert extension_target(campaign, "doh_central_report", party).party in ("doh", "*")


@pytest.mark.parametrize(("deadline", "party", "message"), [
    ("doh_central_report", "633", "doh_central_report is owed by doh, not by 633"),
    ("district_preparation", "doh", "district_preparation is owed by districts, not by doh"),
    ("facility_plan", "DOH", "facility_plan is owed by facilities, not by DOH"),
    ("district_preparation", "Ba Đình", "unknown party 'Ba Đình'"),
])
def test_a_party_that_does_not_owe_the_deadline_is_refused(campaign, deadline, party, message):
    with pytest.raises(ExtensionError) as raised:
        extension_target(campaign, deadline, party)
    assert str(raised.value) == message


def test_an_unknown_deadline_names_the_known_ones(campaign):
    with pytest.raises(ExtensionError) as raised:
        extension_target(campaign, "nope", "633")
    assert str(raised.value) == ("unknown deadline 'nope'; expected one of: "
                                 + ", ".join(d.id for d in campaign.deadlines))


def test_an_extension_is_recorded_in_utc_and_moves_the_board(campaign, migrated_engine):
    due = dt.datetime(2021, 7, 30, 0, 0, tzinfo=ICT)
    at = dt.datetime(2021, 7, 28, 2, 0, tzinfo=dt.UTC)
    with Session(migrated_engine) as session, session.begin():
        row = extend_deadline(session, campaign, "district_preparation", "chu se", due_at=due, reason="mất điện",
                              by="coordinator", at=at)
        assert row.due_at == dt.datetime(2021, 7, 29, 17, 0, tzinfo=dt.UTC)
    with Session(migrated_engine) as session:
        [ext] = extensions(session)
    assert (ext.deadline, ext.party, ext.reason, ext.by) == ("district_preparation", "633", "mất điện", "coordinator")
    board = {(d.deadline, d.party): d for d in deliverables(campaign, [ext])}
    assert board[("district_preparation", "633")].due_at == due
    assert board[("district_preparation", "622")].extension_reason is None


def test_nothing_is_written_when_refused(campaign, migrated_engine):
    with Session(migrated_engine) as session, session.begin(), pytest.raises(ExtensionError):
        extend_deadline(session, campaign, "doh_central_report", "633", due_at=dt.datetime(2021, 8, 1, tzinfo=ICT),
                        reason="x", by="cli", at=dt.datetime(2021, 7, 28, tzinfo=dt.UTC))
    with Session(migrated_engine) as session:
        assert extensions(session) == []
