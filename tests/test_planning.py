"""Session planning (campaign.planning.rules): small cases with a known best plan, and properties that
must hold for any input (hypothesis): no session over capacity, no person twice, no lot after expiry,
stock never negative, dose 2 never before its interval, whole vials but the last."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.planning.rules import PlanRules, Product, plan_sessions
from campaign.planning.rules_figures import priority_inversions
from campaign.planning.rules_teams import DUTY_COLUMNS, assign_facilities, duty_rosters

DAY = dt.date(2021, 7, 29)
PRODUCTS = {"astrazeneca": Product(10, (56, 84)), "pfizer": Product(6, (21, 28))}


def _facilities(tables=(2, 1, 0)) -> pd.DataFrame:
    return pd.DataFrame({"facility_code": ["F1", "F2", "F3"][:len(tables)], "district": ["622"] * len(tables),
                         "commune_code": ["C1", "C2", "C3"][:len(tables)], "tables": list(tables),
                         "latitude": [13.90, 14.00, 13.91][:len(tables)],
                         "longitude": [108.00, 108.10, 108.01][:len(tables)]})


def _people(n: int, *, commune="C1", dose2: int = 0, eligible=True) -> pd.DataFrame:
    return pd.DataFrame({"person_id": pd.Series([f"P{i:05d}" for i in range(n)], dtype=object), "district": "622",
                         "commune_code": commune,
                         "eligible": eligible, "order": np.arange(n),
                         "next_dose": [2] * dose2 + [1] * (n - dose2),
                         "dose1_product": ["astrazeneca"] * dose2 + [None] * (n - dose2),
                         "dose1_date": [dt.date(2021, 6, 1)] * dose2 + [None] * (n - dose2)})


def _teams(*facilities: str, teams: int = 2, days: int = 7) -> pd.DataFrame:
    """Teams on duty at every session of the first `days` days."""
    rows = [(f, d, part, teams, f"Ê kíp {f}", "roster", frozenset()) for f in facilities for d in _days(days)
            for part in ("morning", "afternoon")]
    return pd.DataFrame(rows, columns=DUTY_COLUMNS)


def _stock(rows: list[tuple[str, str, str, dt.date, int]]) -> pd.DataFrame:
    return pd.DataFrame([{"facility_code": f, "product": p, "lot": lot, "expiry": e,
                          "doses_per_vial": PRODUCTS[p].doses_per_vial, "vials_on_hand": v} for f, p, lot, e, v in rows])


def _days(n: int) -> list[dt.date]:
    return [DAY + dt.timedelta(days=i) for i in range(n)]


def test_people_go_to_their_commune_else_the_nearest_facility_with_tables() -> None:
    people = pd.DataFrame({"district": ["622"] * 3, "commune_code": ["C1", "C3", "C9"]})
    out = assign_facilities(people, _facilities())
    assert out.tolist() == ["F1", "F1", "F1"]   # C3's station has no table: F1 is nearest; C9: the largest


def test_a_small_case_with_a_known_best_plan() -> None:
    """250 people, 2 tables x 100 per session, 10-dose vials: 200 in the morning, 50 in the afternoon,
    25 vials, nothing wasted; everybody at F1 in the order of the list."""
    plan = plan_sessions(_people(250), _facilities(), _teams("F1"),
                         _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 100)]), PRODUCTS, _days(1))
    assert plan.sessions[["part", "invited", "vials", "wasted_doses"]].values.tolist() == [
        ["morning", 200, 20, 0], ["afternoon", 50, 5, 0]]
    inv = plan.invitations
    assert inv.sort_values(["part"], key=lambda c: c.map({"morning": 0, "afternoon": 1}), kind="stable")[
        "person_id"].tolist()[:200] == [f"P{i:05d}" for i in range(200)]
    assert plan.unplanned.empty and plan.summary["province"]["wasted_doses"] == 0


def test_short_stock_and_capacity_leave_people_unplanned_with_the_reason() -> None:
    people = pd.concat([_people(30), _people(5, eligible=False).assign(person_id=lambda f: "N" + f["person_id"])])
    plan = plan_sessions(people, _facilities(), _teams("F1", teams=1),
                         _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 2)]), PRODUCTS, _days(1))
    assert len(plan.invitations) == 20
    reasons = plan.unplanned.set_index("person_id")["reason"]
    assert (reasons[reasons.index.str.startswith("N")] == "not_eligible").all()
    assert (reasons[reasons.index.str.startswith("P")] == "no_stock").sum() == 10


def test_an_expired_lot_is_never_used_and_the_earliest_expiry_goes_first() -> None:
    stock = _stock([("F1", "astrazeneca", "OLD", DAY - dt.timedelta(days=1), 50),
                    ("F1", "astrazeneca", "LATE", DAY + dt.timedelta(days=90), 50),
                    ("F1", "astrazeneca", "SOON", DAY + dt.timedelta(days=10), 5)])
    plan = plan_sessions(_people(100), _facilities(), _teams("F1"), stock, PRODUCTS, _days(1))
    lots = plan.invitations["lot"]
    assert "OLD" not in set(lots) and (lots == "SOON").sum() == 50 and (lots == "LATE").sum() == 50
    assert plan.invitations.loc[plan.invitations["lot"] == "SOON", "person_id"].max() < \
        plan.invitations.loc[plan.invitations["lot"] == "LATE", "person_id"].min()


def test_dose_two_waits_for_its_interval_and_comes_first_when_due() -> None:
    people = _people(40, dose2=10)
    people.loc[:4, "dose1_date"] = DAY - dt.timedelta(days=20)     # not due for weeks: AstraZeneca 8-12 weeks
    plan = plan_sessions(people, _facilities(), _teams("F1"),
                         _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 100)]), PRODUCTS, _days(2))
    given2 = plan.invitations[plan.invitations["dose"] == 2]
    assert set(given2["person_id"]) == {f"P{i:05d}" for i in range(5, 10)}
    assert (plan.unplanned.set_index("person_id").loc[[f"P{i:05d}" for i in range(5)], "reason"] == "dose2_not_due").all()


def test_a_facility_without_a_team_plans_nobody() -> None:
    plan = plan_sessions(_people(10, commune="C2"), _facilities(), _teams("F1"),
                         _stock([("F2", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 10)]), PRODUCTS, _days(3))
    assert plan.invitations.empty and set(plan.unplanned["reason"]) == {"no_team"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 500), dose2=st.integers(0, 50), tables=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       teams=st.integers(0, 3), vials=st.tuples(st.integers(0, 60), st.integers(0, 60)),
       expiry_days=st.tuples(st.integers(-2, 6), st.integers(-2, 6)), days=st.integers(1, 5),
       seed=st.integers(0, 10_000))
def test_plan_properties(n, dose2, tables, teams, vials, expiry_days, days, seed) -> None:
    rng = np.random.default_rng(seed)
    dose2 = min(dose2, n)
    people = _people(n, dose2=dose2)
    people["commune_code"] = rng.choice(["C1", "C2"], n) if n else []
    people["eligible"] = rng.random(n) > 0.1
    if dose2:
        people.loc[: dose2 - 1, "dose1_date"] = [DAY - dt.timedelta(days=int(x)) for x in rng.integers(30, 90, dose2)]
    facilities = _facilities(tables=(*tables, 0))
    stock = _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=expiry_days[0]), vials[0]),
                    ("F2", "pfizer", "P1", DAY + dt.timedelta(days=expiry_days[1]), vials[1]),
                    ("F2", "astrazeneca", "A2", DAY + dt.timedelta(days=expiry_days[1]), vials[1] // 2)])
    plan = plan_sessions(people, facilities, _teams("F1", "F2", teams=teams), stock, PRODUCTS, _days(days))
    inv = plan.invitations
    # no person twice, and every person either planned or unplanned with a reason, never both
    assert not inv[["person_id", "dose"]].duplicated().any()
    assert set(inv["person_id"]).isdisjoint(plan.unplanned["person_id"])
    assert set(inv["person_id"]) | set(plan.unplanned["person_id"]) == set(people["person_id"])
    # no session over its capacity
    per_session = inv.groupby(["facility_code", "date", "part"]).size()
    cap = plan.sessions.drop_duplicates(["facility_code", "date", "part"]).set_index(
        ["facility_code", "date", "part"])["capacity"]
    assert (per_session <= cap.reindex(per_session.index)).all()
    # no lot used after its expiry, stock never negative
    expiry = stock.set_index(["facility_code", "lot"])["expiry"]
    if len(inv):
        used_expiry = expiry.reindex(list(zip(inv["facility_code"], inv["lot"], strict=True))).to_numpy()
        assert (inv["date"].to_numpy() <= used_expiry).all()
        # in whole vials: a session opens whole vials, and what it leaves in them is never used again
        per_vial = stock.set_index(["facility_code", "lot"])["doses_per_vial"]
        doses = inv.groupby(["facility_code", "lot", "date", "part"]).size().reset_index(name="n")
        doses["vials"] = -(-doses["n"] // per_vial.reindex(list(zip(doses["facility_code"], doses["lot"],
                                                                       strict=True))).to_numpy())
        opened = doses.groupby(["facility_code", "lot"])["vials"].sum()
        on_hand = stock.set_index(["facility_code", "lot"])["vials_on_hand"]
        assert (opened <= on_hand.reindex(opened.index)).all()
        left = plan.lots_left.set_index(["facility_code", "lot"])["vials_left"]
        assert (left >= 0).all() and (opened + left.reindex(opened.index) == on_hand.reindex(opened.index)).all()
    # dose 2 never before its minimum interval, with the product of dose 1
    d2 = inv[inv["dose"] == 2].merge(people[["person_id", "dose1_date"]], on="person_id")
    assert ((pd.to_datetime(d2["date"]) - pd.to_datetime(d2["dose1_date"])).dt.days >= 56).all()
    assert (d2["product"] == "astrazeneca").all()
    # planned wastage never above one partly used vial per facility and product (the lower bound's unit)
    s = plan.summary["province"]
    assert s["wasted_doses"] <= s["wastage_lower_bound"] + sum(p.doses_per_vial for p in PRODUCTS.values()) * 2


def test_a_pfizer_dose_one_is_recalled_for_dose_two_inside_the_horizon_with_a_dose_held_back() -> None:
    """12 doses of Pfizer (6 per vial) for 20 people over 30 days: 6 get dose 1 and their 6 dose 2s are
    held back and given 21 days later; the others wait (no stock), nobody gets a dose meant for a dose 2."""
    plan = plan_sessions(_people(20), _facilities(), _teams("F1", days=30),
                         _stock([("F1", "pfizer", "P1", DAY + dt.timedelta(days=60), 2)]), PRODUCTS, _days(30))
    inv = plan.invitations
    first, second = inv[inv["dose"] == 1], inv[inv["dose"] == 2]
    assert len(first) == 6 and sorted(second["person_id"]) == sorted(first["person_id"])
    gap = (pd.to_datetime(second.set_index("person_id")["date"])
           - pd.to_datetime(first.set_index("person_id")["date"])).dt.days
    assert gap.between(21, 28).all()
    assert first["due_from"].iloc[0] == DAY + dt.timedelta(days=21)
    assert (plan.unplanned["reason"] == "no_stock").sum() == 14


def test_published_invitations_are_kept_and_freed_places_go_to_the_standby_list_in_order() -> None:
    people = _people(30)
    stock = _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 3)])
    duty = _teams("F1", teams=1)
    rules = PlanRules(people_per_table=10, standby_per_session=5)
    first = plan_sessions(people, _facilities(tables=(1, 0, 0)), duty, stock, PRODUCTS, _days(1), rules)
    morning = first.invitations[first.invitations["part"] == "morning"]
    assert morning["person_id"].tolist() == [f"P{i:05d}" for i in range(10)]
    # P00003 got vaccinated elsewhere (no longer to invite); new people of a higher priority arrive
    later = people[people["person_id"] != "P00003"]
    newcomers = _people(5).assign(person_id=lambda f: "N" + f["person_id"], order=-1)
    again = plan_sessions(pd.concat([later, newcomers]), _facilities(tables=(1, 0, 0)), duty, stock, PRODUCTS,
                          _days(1), rules, fixed=first.invitations, published_standby=first.standby)
    inv = again.invitations.set_index("person_id")
    kept = [f"P{i:05d}" for i in range(20) if i != 3]
    assert (inv.loc[kept, "source"] == "published").all()
    assert inv.loc["P00020", "source"] == "standby" and inv.loc["P00020", "part"] == "morning"
    assert again.freed["person_id"].tolist() == ["P00003"]
    assert set(again.invitations["person_id"]).isdisjoint({"P00003"})
    # the newcomers come first in the queue, but the published sessions are full: they wait, and say why
    assert set(again.unplanned.loc[again.unplanned["reason"] == "no_capacity", "person_id"]) == \
        {f"NP0000{i}" for i in range(5)} | {f"P{i:05d}" for i in range(21, 30)}
    assert first.standby.groupby("part")["person_id"].apply(list).to_dict() == {
        "morning": [f"P{i:05d}" for i in range(20, 25)], "afternoon": [f"P{i:05d}" for i in range(25, 30)]}


def test_nobody_is_on_duty_in_two_places_when_standing_rosters_overlap() -> None:
    members = pd.DataFrame({
        "facility_code": ["F1"] * 5 + ["F2"] * 5, "session_day": [DAY] * 10, "session_part": ["morning"] * 10,
        "team_no": [1] * 10, "role": ["reception", "screening", "vaccinator", "recorder", "observation"] * 2,
        "full_name": [f"Người {i}" for i in range(10)],
        "member_key": ["id:1", "id:2", "id:3", "id:4", "id:5", "id:6", "id:7", "id:3", "id:8", "id:9"]})
    # day 2: F2 sends a roster with id:3 on it; F1's standing team (with id:3) cannot be on duty then
    day2 = members[members["facility_code"] == "F2"].assign(session_day=DAY + dt.timedelta(days=1))
    duty = duty_rosters(pd.concat([members.iloc[:5], day2]), pd.Series(["F1", "F2"]), _days(2), ["morning"])
    on = duty.set_index(["facility_code", "date", "part"])
    assert on.loc[("F1", DAY, "morning"), "team_source"] == "roster"
    assert ("F1", DAY + dt.timedelta(days=1), "morning") not in on.index
    assert on.loc[("F2", DAY + dt.timedelta(days=1), "morning"), "team_source"] == "roster"
    # day 1: F2's first roster would stand in, but id:3 is on F1's rostered team then
    assert ("F2", DAY, "morning") not in on.index
    # without the clash, a standing team is on duty and says so
    alone = duty_rosters(members.iloc[:5], pd.Series(["F1"]), _days(3), ["morning", "afternoon"])
    assert len(alone) == 6 and (alone["team_source"] == "standing").sum() == 5


def test_no_unexplained_priority_inversion_within_a_commune() -> None:
    people = _people(60)
    people["priority_group"] = np.where(np.arange(60) < 30, 1, 9)
    people["order"] = np.arange(60)
    plan = plan_sessions(people, _facilities(), _teams("F1"),
                         _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 4)]), PRODUCTS, _days(1))
    assert len(plan.invitations) == 40
    assert priority_inversions(people, plan.invitations, list(range(1, 17))) == {"unexplained": 0, "explained": {}}
    # a plan that invited group 9 before the waiting group 1 is caught
    wrong = plan.invitations.assign(person_id=[f"P{i:05d}" for i in range(20, 60)])
    assert priority_inversions(people, wrong, list(range(1, 17)))["unexplained"] > 0


@settings(max_examples=40, deadline=None)
@given(rosters=st.lists(st.tuples(st.sampled_from(["F1", "F2", "F3"]), st.integers(0, 3),
                                  st.sampled_from(["morning", "afternoon"]), st.integers(1, 2),
                                  st.lists(st.integers(0, 8), min_size=1, max_size=4, unique=True)),
                        max_size=12))
def test_duty_rosters_never_put_a_person_in_two_places(rosters) -> None:
    rows = []
    for f, d, part, team, people in rosters:
        rows += [{"facility_code": f, "session_day": DAY + dt.timedelta(days=d), "session_part": part, "team_no": team,
                  "role": "vaccinator", "full_name": f"Người {k}", "member_key": f"id:{k}"} for k in people]
    members = pd.DataFrame(rows, columns=["facility_code", "session_day", "session_part", "team_no", "role",
                                          "full_name", "member_key"])
    # one roster per facility and session (what readiness gives: a person once per session)
    members = members.drop_duplicates(["facility_code", "session_day", "session_part", "team_no"], keep="first") \
        if members.empty else members[~members.duplicated(["session_day", "session_part", "member_key"])]
    duty = duty_rosters(members, pd.Series(["F1", "F2", "F3"]), _days(5), ["morning", "afternoon"])
    for _session, g in duty.groupby(["date", "part"]):
        keys = [k for ks in g["member_keys"] for k in ks]
        assert len(keys) == len(set(keys))
    # every roster that was sent is on duty as sent
    sent = members.groupby(["facility_code", "session_day", "session_part"])["team_no"].nunique()
    got = duty[duty["team_source"] == "roster"].set_index(["facility_code", "date", "part"])["complete_teams"]
    assert got.reindex(sent.index).tolist() == sent.tolist()


def test_a_replan_keeps_published_dose_two_recalls_and_sessions_past_its_own_horizon() -> None:
    """Pfizer dose 1 on day 1 and its dose 2 three weeks later, published; the plan made again from the
    next day, for a week only: the dose-2 invitations stay (with their held doses), and so do the
    published sessions after that week."""
    stock = _stock([("F1", "pfizer", "P1", DAY + dt.timedelta(days=90), 2)])
    first = plan_sessions(_people(20), _facilities(), _teams("F1", days=30), stock, PRODUCTS, _days(30))
    published = first.invitations
    assert (published["dose"] == 2).sum() == 6
    later = [DAY + dt.timedelta(days=i) for i in range(1, 8)]
    again = plan_sessions(_people(20), _facilities(), _teams("F1", days=30), stock, PRODUCTS, later,
                          fixed=published, published_standby=first.standby)
    kept = again.invitations[again.invitations["source"] == "published"]
    assert len(kept) == 6 and (kept["dose"] == 2).all() and again.freed.empty
    assert kept["date"].min() == DAY + dt.timedelta(days=21)
    assert again.sessions["district"].notna().all() and (again.sessions["vials"] >= 1).all()
    # their dose 1 (yesterday) awaits its result: not invited again; of the 12 doses the (stale) stock
    # report shows, 6 stay held for them and 6 go to the next people in the list
    planned = again.invitations[again.invitations["source"] == "planned"]
    assert set(planned["person_id"]) == {f"P{i:05d}" for i in range(6, 12)} and (planned["dose"] == 1).all()
    assert not again.invitations[["person_id", "dose"]].duplicated().any()


def test_a_kept_dose_two_must_still_be_due_with_the_same_product() -> None:
    people = _people(3, dose2=3)
    people["dose1_date"] = [DAY - dt.timedelta(days=60)] * 3
    stock = _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=60), 1)])
    first = plan_sessions(people, _facilities(), _teams("F1"), stock, PRODUCTS, _days(1))
    assert (first.invitations["dose"] == 2).sum() == 3
    corrected = people.assign(dose1_date=[DAY - dt.timedelta(days=60), DAY - dt.timedelta(days=10),
                                          DAY - dt.timedelta(days=60)])
    again = plan_sessions(corrected, _facilities(), _teams("F1"), stock, PRODUCTS, _days(1),
                          fixed=first.invitations)
    assert again.freed.set_index("person_id")["reason"].to_dict() == {"P00001": "not_due_any_more"}
    assert "P00001" not in set(again.invitations["person_id"])


# --- directive 1038 read exactly (issue 17) ----------------------------------------------------------------


def _with_hospital(tables=(2, 1, 0), hospital_tables: int = 1) -> pd.DataFrame:
    fac = _facilities(tables).assign(facility_type="commune_station")
    return pd.concat([fac, pd.DataFrame([{"facility_code": "H1", "district": "622", "commune_code": "C2",
                                          "tables": hospital_tables, "latitude": 14.0, "longitude": 108.1,
                                          "facility_type": "hospital"}])], ignore_index=True)


def test_people_referred_to_hospital_are_planned_at_a_hospital_of_their_district() -> None:
    """Screening result "Chuyển tiêm tại bệnh viện" (input_kinds.yaml, screening_result `referred`): such a
    person is vaccinated at a hospital site of the district, never at the commune's station."""
    people = _people(20).assign(referred=[True] * 3 + [False] * 17)
    stock = _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 10),
                    ("H1", "astrazeneca", "H1", DAY + dt.timedelta(days=30), 10)])
    plan = plan_sessions(people, _with_hospital(), _teams("F1", "H1"), stock, PRODUCTS, _days(1))
    where = plan.invitations.set_index("person_id")["facility_code"]
    assert {where[f"P{i:05d}"] for i in range(3)} == {"H1"}
    assert set(where.drop([f"P{i:05d}" for i in range(3)])) == {"F1"}
    assert plan.unplanned.empty


def test_a_published_invitation_at_the_commune_is_freed_when_the_person_is_referred() -> None:
    """Referred after the plan was published: the invitation at the commune's station is not kept (never the
    commune's site), the person is invited at the hospital."""
    people = _people(20).assign(referred=False)
    stock = _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 10),
                    ("H1", "astrazeneca", "H1", DAY + dt.timedelta(days=30), 10)])
    first = plan_sessions(people, _with_hospital(), _teams("F1", "H1"), stock, PRODUCTS, _days(1))
    assert first.invitations.set_index("person_id").at["P00000", "facility_code"] == "F1"
    referred = people.assign(referred=[True] + [False] * 19)
    again = plan_sessions(referred, _with_hospital(), _teams("F1", "H1"), stock, PRODUCTS, _days(1),
                          fixed=first.invitations)
    assert again.freed.set_index("person_id").at["P00000", "reason"] == "referred"
    assert again.invitations.set_index("person_id").at["P00000", "facility_code"] == "H1"


def test_people_referred_to_hospital_without_one_are_left_out_with_the_reason() -> None:
    """"Chuyển tiêm tại bệnh viện" and no hospital site with tables in the district: not planned at the
    commune's site instead, but left out with `referred_no_hospital` (its Vietnamese label in REASON_TEXT)."""
    from campaign.planning.rules import UNPLANNED_REASONS
    from campaign.vocabulary import UNPLANNED_LABELS as REASON_TEXT

    people = _people(20).assign(referred=[True] * 3 + [False] * 17)
    stock = _stock([("F1", "astrazeneca", "A1", DAY + dt.timedelta(days=30), 10)])
    for facilities in (_facilities(), _with_hospital(hospital_tables=0)):
        plan = plan_sessions(people, facilities, _teams("F1", "H1"), stock, PRODUCTS, _days(1))
        un = plan.unplanned.set_index("person_id")["reason"]
        assert {un[f"P{i:05d}"] for i in range(3)} == {"referred_no_hospital"}
        assert set(plan.invitations["person_id"]) == {f"P{i:05d}" for i in range(3, 20)}
    assert "referred_no_hospital" in UNPLANNED_REASONS and "bệnh viện" in REASON_TEXT["referred_no_hospital"]


def test_a_three_dose_product_is_planned_as_dose_3() -> None:
    """Abdala: 3 doses 14 days apart (docs/domain.md; vaccine_products.abdala.doses: 3). A person with dose 2 of
    Abdala given is invited for dose 3 from 14 days after it, with Abdala."""
    products = {**PRODUCTS, "abdala": Product(10, (14, 14))}
    people = _people(10).assign(next_dose=[3] * 10, dose1_product=["abdala"] * 10,
                                dose1_date=[DAY - dt.timedelta(days=13)] * 10)
    stock = pd.DataFrame([{"facility_code": "F1", "product": "abdala", "lot": "AB1",
                           "expiry": DAY + dt.timedelta(days=30), "doses_per_vial": 10, "vials_on_hand": 5}])
    plan = plan_sessions(people, _facilities(), _teams("F1"), stock, products, _days(3))
    inv = plan.invitations
    assert len(inv) == 10 and set(inv["dose"]) == {3} and set(inv["product"]) == {"abdala"}
    assert set(inv["date"]) == {DAY + dt.timedelta(days=1)}   # 14 days after dose 2, not before
