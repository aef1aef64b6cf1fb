"""Session planning (campaign.planning.core): small cases with a known best plan, and properties that
must hold for any input (hypothesis): no session over capacity, no person twice, no lot after expiry,
stock never negative, dose 2 never before its interval, whole vials but the last."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.planning.core import Product, assign_facilities, plan_sessions

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


def _teams(*facilities: str, teams: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"facility_code": list(facilities), "date": [DAY] * len(facilities),
                         "part": ["morning"] * len(facilities), "complete_teams": [teams] * len(facilities)})


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
    assert not inv["person_id"].duplicated().any()
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
        used = inv.groupby(["facility_code", "lot"]).size()
        doses = (stock.set_index(["facility_code", "lot"])["vials_on_hand"]
                 * stock.set_index(["facility_code", "lot"])["doses_per_vial"])
        assert (used <= doses.reindex(used.index)).all()
    # dose 2 never before its minimum interval, with the product of dose 1
    d2 = inv[inv["dose"] == 2].merge(people[["person_id", "dose1_date"]], on="person_id")
    assert ((pd.to_datetime(d2["date"]) - pd.to_datetime(d2["dose1_date"])).dt.days >= 56).all()
    assert (d2["product"] == "astrazeneca").all()
    # planned wastage never above one partly used vial per facility and product (the lower bound's unit)
    s = plan.summary["province"]
    assert s["wasted_doses"] <= s["wastage_lower_bound"] + sum(p.doses_per_vial for p in PRODUCTS.values()) * 2
