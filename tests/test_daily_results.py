"""Daily results per district and day (issue 20.2) on a hand-built week, on SQLite and PostgreSQL: sessions
held vs planned, reports on time / late / missing, completeness and timeliness as DHIS2 defines them
(received / expected, on time / expected), people invited and vaccinated, no-shows back to the pool and
walk-ins. Every expected number below is counted by hand from the week described in
`tests.daily_results_support.week`."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.daily_results import present, rules
from campaign.daily_results import run as daily
from campaign.doses.rules import one_result_each
from campaign.planning.rules import PlanRules, Product, plan_sessions, result_awaited
from tests.clock_support import at
from tests.daily_results_support import NOW, D, week


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


# (district, day index): sessions planned, held; reports expected, on time, late, missing; completeness %,
# timeliness % -- counted by hand from `week`
EXPECTED = {
    ("622", 0): (3, 2, 2, 1, 0, 1, 50.0, 50.0),
    ("622", 1): (2, 2, 1, 1, 0, 0, 100.0, 100.0),
    ("622", 2): (3, 3, 2, 1, 1, 0, 100.0, 50.0),
    ("622", 3): (2, 0, 1, 0, 0, 1, 0.0, 0.0),
    ("622", 4): (3, 3, 2, 1, 1, 0, 100.0, 50.0),
    ("622", 5): (2, 2, 1, 0, 1, 0, 100.0, 0.0),
    ("622", 6): (3, 2, 2, 1, 0, 1, 50.0, 50.0),
    ("623", 0): (2, 2, 1, 1, 0, 0, 100.0, 100.0),
    ("623", 1): (2, 2, 1, 0, 1, 0, 100.0, 0.0),
    ("623", 2): (2, 2, 1, 1, 0, 0, 100.0, 100.0),
    ("623", 3): (2, 0, 1, 0, 0, 1, 0.0, 0.0),
    ("623", 4): (2, 2, 1, 1, 0, 0, 100.0, 100.0),
}
COLUMNS = ["sessions_planned", "sessions_held", "reports_expected", "on_time", "late", "missing", "completeness_pct",
           "timeliness_pct"]


def figures(engine, campaign, now=NOW, days=D):
    with Session(engine) as s:
        return daily.figures(s, campaign, now, days)


def test_completeness_and_timeliness_per_district_per_day_on_a_hand_built_week(migrated_engine, campaign) -> None:
    week(migrated_engine)
    fig = figures(migrated_engine, campaign)
    got = {(r["district"], D.index(r["date"])): tuple(r[c] for c in COLUMNS)
           for r in fig.districts.to_dict("records")}
    assert got == EXPECTED
    # the province per day: sums, never an average of percentages (day 1: 3 expected, 2 on time)
    province = rules.province_totals(fig.districts).set_index("date")
    assert province.loc[D[0], ["reports_expected", "reports_received", "on_time"]].tolist() == [3, 2, 2]
    assert province.loc[D[0], "completeness_pct"] == pytest.approx(66.7)
    assert province.loc[D[3], ["completeness_pct", "timeliness_pct"]].tolist() == [0.0, 0.0]
    # per facility: F2 at exactly 20:00 is late; F3's withdrawn file does not count, its later one is late
    states = {(r["facility_code"], D.index(r["date"])): r["state"] for r in fig.facilities.to_dict("records")}
    assert states[("F2", 2)] == "on_time" and states[("F2", 4)] == "late" and states[("F2", 0)] == "missing"
    assert states[("F3", 1)] == "late" and states[("F1", 3)] == "missing" and states[("F4", 1)] == "unplanned"


def test_people_invited_vaccinated_no_shows_and_walk_ins(migrated_engine, campaign) -> None:
    week(migrated_engine)
    fig = figures(migrated_engine, campaign)
    d = fig.districts.set_index(["district", "date"])
    people = ["invited", "came", "vaccinated", "vaccinated_invited", "screened", "no_shows", "awaiting", "walk_ins"]
    # day 1 in 622: P1 (twice sent: once), P2 deferred, W walk-in; P3 no-show; F2 sent nothing
    assert d.loc[("622", D[0]), people].tolist() == [3, 2, 2, 1, 3, 1, 0, 1]
    # day 2: F1's deferred row, F4 (not in the plan) vaccinated T: a walk-in, one facility outside the plan
    assert d.loc[("622", D[1]), people].tolist() == [0, 0, 1, 0, 2, 0, 0, 1]
    assert d.loc[("622", D[1]), "facilities_unplanned"] == 1
    # day 7: P4 vaccinated, P5 awaited (not yet a no-show)
    assert d.loc[("622", D[6]), people].tolist() == [2, 1, 1, 1, 1, 0, 1, 0]
    # nothing personal in what is shown
    doc = present.figures_json(fig, NOW, D)
    text = str(doc) + "\n".join(present.text_lines(doc, {}, facilities=True)) + present.markdown(
        doc["days"][0], {}, doc["as_of"])
    for secret in ("079080000001", "Một", "Hai", "Khách", "P1", "P3"):
        assert secret not in text


def test_a_no_show_goes_back_to_the_pool_by_the_planners_own_rule(migrated_engine, campaign) -> None:
    """Planning keeps an invited person without a result out of the next plan while the day's results are
    awaited (`planning.results_grace_days`), then invites them again; the daily figures say the same:
    awaited, then a no-show."""
    week(migrated_engine)
    grace = campaign.planning.results_grace_days
    assert grace == 2
    on_last_day = figures(migrated_engine, campaign, now=at("01/08 21:00"), days=[D[0]])
    after = figures(migrated_engine, campaign, now=at("02/08 06:00"), days=[D[0]])
    assert on_last_day.districts.loc[0, ["no_shows", "awaiting"]].tolist() == [0, 1]
    assert after.districts.loc[0, ["no_shows", "awaiting"]].tolist() == [1, 0]
    assert result_awaited(D[0], D[2], grace) and not result_awaited(D[0], D[3], grace)
    # the planner: P3 invited on day 1 for dose 1, still next dose 1
    people = pd.DataFrame({"person_id": ["P3"], "district": ["622"], "commune_code": ["C1"], "eligible": [True],
                           "order": [0], "next_dose": [1], "dose1_product": [None], "dose1_date": [None]})
    facilities = pd.DataFrame({"facility_code": ["F1"], "district": ["622"], "commune_code": ["C1"], "tables": [1],
                               "latitude": [13.9], "longitude": [108.0]})
    fixed = pd.DataFrame([{"person_id": "P3", "facility_code": "F1", "district": "622", "date": D[0],
                           "part": "morning", "slot": "07:30", "dose": 1, "product": "astrazeneca", "lot": "L1",
                           "due_from": None, "due_to": None, "source": "planned"}])
    from campaign.planning.rules_teams import DUTY_COLUMNS

    def plan_from(start: dt.date):
        duty = pd.DataFrame([("F1", start, p, 1, "Ê kíp", "roster", frozenset()) for p in ("morning", "afternoon")],
                            columns=DUTY_COLUMNS)
        stock = pd.DataFrame([{"facility_code": "F1", "product": "astrazeneca", "lot": "L1",
                               "expiry": start + dt.timedelta(days=60), "doses_per_vial": 10, "vials_on_hand": 5}])
        return plan_sessions(people, facilities, duty, stock, {"astrazeneca": Product(10, (56, 84))}, [start],
                             PlanRules(results_grace_days=grace), fixed=fixed)

    held = plan_from(D[2])          # 1/8: day 1's results still awaited
    assert held.unplanned.set_index("person_id").loc["P3", "reason"] == "awaiting_result"
    back = plan_from(D[3])          # 2/8: a no-show, back in the pool, invited again
    assert back.invitations["person_id"].tolist() == ["P3"]


def test_the_plan_that_holds_a_day_is_the_latest_published_covering_it() -> None:
    runs = pd.DataFrame([(1, None, D[0], 7, at("28/07 12:00")), (2, "622", D[3], 7, at("01/08 12:00"))],
                        columns=rules.RUN_COLUMNS)
    sessions = pd.DataFrame([(1, "622", "F1", D[1], "morning", 10), (1, "622", "F1", D[3], "morning", 10),
                             (1, "623", "F3", D[3], "morning", 5), (1, "623", "F3", D[3], "morning", 7),
                             (2, "622", "F2", D[4], "morning", 3)], columns=rules.SESSION_COLUMNS)
    out = rules.planned_sessions(runs, sessions, ["622", "623"])
    # day 2 stays with plan 1; day 4 of 622 is plan 2's (which cancelled F1 that day); 623 stays with plan 1,
    # its two product rows one session
    assert out[["run_id", "district", "facility_code", "date", "invited"]].values.tolist() == [
        [1, "622", "F1", D[1], 10], [1, "623", "F3", D[3], 12], [2, "622", "F2", D[4], 3]]


def test_every_output_shows_the_same_figures(migrated_engine, campaign) -> None:
    """Count once: the JSON, the text, the artifact's markdown and the reports' table come from one
    `daily_figures`; the districts are the sums of their facilities."""
    week(migrated_engine)
    fig = figures(migrated_engine, campaign)
    assert present.total(fig.districts) == present.total(fig.facilities)
    doc = present.figures_json(fig, NOW, D)
    table = present.report_table(fig, {"622": "Chư Păh"})
    first = table["rows"][0]
    assert first[:2] == ["30/07/2021", "Chư Păh"]
    day1 = doc["days"][0]["districts"][0]
    assert first[2:] == [day1[c] if not c.endswith("_pct") else f"{day1[c]:.1f}" for c in present.REPORT_COLUMNS]
    md = present.markdown(doc["days"][0], {"622": "Chư Păh"}, doc["as_of"])
    assert "| Chư Păh | 2 | 1 | 0 | 1 | 0 | 50.0 | 50.0 |" in md and "F2 (Chư Păh)" in md
    text = "\n".join(present.text_lines(doc, {"622": "Chư Păh"}))
    assert "30/07/2021 toàn tỉnh: kế hoạch 5 buổi, có kết quả 4; báo cáo 2/3" in text


def test_the_reports_table_covers_the_planned_days_so_far(migrated_engine, campaign) -> None:
    week(migrated_engine)
    with Session(migrated_engine) as s:
        days = daily.days_so_far(s, campaign, at("01/08 12:00"))
        fig = daily.figures(s, campaign, at("01/08 12:00"), days)
    assert days == D[:3]
    table = present.report_table(fig, {}, level="district", unit="622")
    # 622's facility-days of 30/7-1/8: F1 x3, F2 x2 (30/7, 1/8), F4 (31/7, outside the plan)
    assert [(r[0], r[1]) for r in table["rows"]] == [("30/07/2021", "F1"), ("30/07/2021", "F2"), ("31/07/2021", "F1"),
                                                    ("31/07/2021", "F4"), ("01/08/2021", "F1"), ("01/08/2021", "F2")]
    # 1/8 at noon: F1's results of 1/8 not in yet and not due (pending), F2's neither
    assert table["rows"][4][2:8] == [2, 0, 1, 0, 0, 0]


def test_results_link_to_the_invited_by_id_then_name_and_birth_date() -> None:
    day = D[0]
    results = pd.DataFrame({
        "district": ["622"] * 5, "facility_code": ["F1"] * 5, "session_date": [day] * 5,
        "vaccinated": ["yes", "yes", "no", "yes", "yes"], "dose_number": [1] * 5,
        "id_number": ["079080000001", "079080000001", None, None, None],
        "full_name": ["Khác Tên", "Nguyễn Văn Một", "TRẦN THỊ  HAI", "Trần Thị Hai", "Không Rõ"],
        "birth_date": ["1980-01-01", "1980-01-01", "1985-05-05", "1985-05-05", None]})
    identities = pd.DataFrame({"person_id": ["P1", "P2"], "district": ["622", "622"],
                               "id_number": ["079080000001", None], "full_name": ["Nguyễn Văn Một", "Trần Thị Hai"],
                               "birth_date": ["1980-01-01", "1985-05-05"]})
    # the rows come as every count of doses reads them: one per person, facility, day and dose
    once = one_result_each(results.assign(submission_id=1, row_number=range(2, 7)))
    out = rules.link_results(once, identities)
    # P1 by ID whatever the name (sent twice: once); P2 by name and birth date, vaccinated wins over the
    # screening-only row; a row without a birth date links to nobody and stays one result
    linked = [(None if pd.isna(p) else p, bool(v)) for p, v in zip(out["person_id"], out["vaccinated"], strict=True)]
    assert linked == [("P1", True), ("P2", True), (None, True)]
