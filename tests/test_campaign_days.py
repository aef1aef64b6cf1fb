"""Campaign days after the plan (issue 20.5): from a published plan in the database (SQLite and PostgreSQL),
the generator writes each day's results (no-shows left out, walk-ins added, one facility late, one silent),
backfill, AEFI (exactly one serious case, with its vaccination record) and stock ledgers; it is the same for
a seed; every file of a kind this checkout takes in passes intake."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.domain.text import fold
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.master_list import run as ml_run
from campaign.planning import run as planning
from campaign.settings import Settings
from campaign.store.models import KIND_TABLES, Submission
from campaign.synth import build_world
from campaign.synth.campaign_days import MANIFEST_NAME, draw_from_view, generate_campaign_days
from campaign.synth.days.plan_view import read_plan_view
from campaign.synth.days.write import LEDGER_KIND, LEDGER_SPEC
from tests.dedupe_support import store_rows

SEED = 2021
PEOPLE = 2000
# three districts of the generated province hold sessions (their facilities, teams and stock are in)
DISTRICTS = ("627", "629", "632")
AT = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
START = dt.date(2021, 7, 29)
CUT_OFF = "20:00"   # the daily results' cut-off the late facility misses (issue 20.2: "e.g. 20:00 the same day")


@pytest.fixture(scope="module")
def world():
    return build_world(PEOPLE, SEED)


def _e164(phones: pd.Series) -> pd.Series:
    s = phones.fillna("").astype(str)
    return s.where(~s.str.startswith("0"), "+84" + s.str[1:]).replace("", None)


def _published_plan(engine, world) -> None:
    """The province's target lists (all districts: the linkage model trains on them), and the facilities,
    teams and stock of three districts, stored as accepted submissions; the master list; a published plan."""
    e = world.entries
    none = lambda col: e[col].replace("", None).to_numpy(dtype=object)   # noqa: E731
    store_rows(engine, pd.DataFrame({
        "district": e["_listed_district"].to_numpy(), "full_name": e["full_name"].to_numpy(),
        "birth_date": pd.to_datetime(e["birth_date"]).dt.date.to_numpy(),
        "sex": np.where(e["female"].to_numpy(dtype=bool), "female", "male"), "phone": _e164(e["phone"]).to_numpy(),
        "id_number": none("id_number"), "insurance_number": none("insurance_number"),
        "commune_code": e["commune_code"].to_numpy(), "commune_name": e["commune_name"].to_numpy(),
        "workplace": none("workplace"), "priority_group": e["priority_group"].to_numpy(),
        "dose1_product": none("dose1_product"),
        "dose1_date": pd.to_datetime(e["dose1_date"]).dt.date.astype(object).where(e["dose1_date"].notna(), None)}),
        when=AT)
    fac = world.facilities[world.facilities["district_code"].isin(DISTRICTS)]
    store_rows(engine, fac[["facility_code", "facility_name", "facility_type", "commune_name", "commune_code",
                            "latitude", "longitude", "vaccination_tables", "person_in_charge", "phone_in_charge",
                            "address"]].assign(district=fac["district_code"],
                                               phone_in_charge=_e164(fac["phone_in_charge"])), when=AT,
               kind="facilities")
    st = world.staff[world.staff["district_code"].isin(DISTRICTS)]
    store_rows(engine, st[["facility_code", "session_date", "session_part", "team_no", "full_name", "role",
                           "staff_type", "updated_on"]].assign(
        district=st["district_code"], phone=_e164(st["phone"]), id_number=st["id_number"].replace("", None),
        session_date=pd.to_datetime(st["session_date"]).dt.date, updated_on=pd.to_datetime(st["updated_on"]).dt.date),
        when=AT, kind="staff")
    sk = world.stock[world.stock["district_code"].isin(DISTRICTS)]
    store_rows(engine, sk[["facility_code", "product", "lot", "doses_per_vial", "vials_received", "vials_issued",
                           "vials_on_hand"]].assign(
        district=sk["district_code"], expiry_date=pd.to_datetime(sk["expiry_date"]).dt.date,
        received_date=pd.to_datetime(sk["received_date"]).dt.date), when=AT, kind="vaccine_stock")
    campaign = load_campaign()
    ml_run.build(engine, campaign, as_of=AT)
    planning.make_plan(engine, campaign, start=START, days=14, as_of=AT, publish_by="test: DoH coordinator")


def _sha(out: Path, files) -> dict[str, str]:
    return {f.path: hashlib.sha256((out / f.path).read_bytes()).hexdigest() for f in files}


def _rows(engine, kind: str) -> pd.DataFrame:
    table = KIND_TABLES[kind]
    with Session(engine) as s:
        rows = s.execute(select(table, Submission.facility_code.label("sub_facility"), Submission.received_at)
                         .join(Submission, Submission.id == table.c.submission_id)
                         .where(Submission.is_current.is_(True))).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def test_campaign_days_follow_the_published_plan_and_pass_intake(migrated_engine, world, tmp_path) -> None:
    settings = Settings(home=tmp_path / "home")
    _published_plan(migrated_engine, world)
    campaign = load_campaign()

    # deterministic for a seed: the same database and seed give byte-identical files; another seed does not
    a = generate_campaign_days(migrated_engine, campaign, tmp_path / "a", days=3, seed=SEED)
    b = generate_campaign_days(migrated_engine, campaign, tmp_path / "b", days=3, seed=SEED)
    c = generate_campaign_days(migrated_engine, campaign, tmp_path / "c", days=3, seed=SEED + 1)
    assert a.files and _sha(tmp_path / "a", a.files) == _sha(tmp_path / "b", b.files)
    assert (tmp_path / "a" / MANIFEST_NAME).read_text() == (tmp_path / "b" / MANIFEST_NAME).read_text()
    assert _sha(tmp_path / "a", a.files) != _sha(tmp_path / "c", c.files)
    assert a.days == ["2021-07-29", "2021-07-30", "2021-07-31"]
    assert {f.kind for f in a.files} >= {"vaccinations", "aefi", "backfill", LEDGER_KIND}

    # every file passes intake at its planned time (kinds this checkout takes in), in upload order
    known = set(load_input_kinds().kinds)
    outcomes = {}
    for f in sorted(a.files, key=lambda f: (f.planned_upload_at, f.path)):
        if f.kind not in known:
            continue
        req = IntakeRequest(path=tmp_path / "a" / f.path, district=f.district, kind=f.kind, facility=f.facility,
                            received_at=clock.parse_instant(f.planned_upload_at))
        o = run_intake(req, engine=migrated_engine, settings=settings, campaign=campaign).to_json()
        assert o["status"] == "accepted" and o["rows_quarantined"] == 0 and o["rows_loaded"] == f.rows, (f.path, o)
        outcomes[f.path] = o

    vac = _rows(migrated_engine, "vaccinations")
    view = read_plan_view(migrated_engine, list(DISTRICTS))
    draw = draw_from_view(view, campaign, days=3, seed=SEED)
    truth = a.truth["per_day"]["2021-07-29"]
    assert len(vac) == sum(t["screened"] for t in a.truth["per_day"].values()) - _silent_rows(draw)
    # no-shows: invited to the day, not in any result; walk-ins: in the results, not invited that day
    inv = view.invitations[view.invitations["date"] == START]
    names = _people(vac["full_name"], pd.to_datetime(vac["birth_date"]).dt.date)
    no_shows = inv[inv["person_id"].isin(a.truth["no_show_persons"])]
    assert truth["no_shows"] > 0 and len(no_shows) == truth["no_shows"]
    assert not _people(no_shows["full_name"], no_shows["birth_date"]) & names
    invited = _people(inv["full_name"], inv["birth_date"])
    walk_ins = names - invited
    assert truth["walk_ins"] > 0 and len(walk_ins) == truth["walk_ins"] + truth["unlisted"] - _silent_walk_ins(draw)

    # exactly one serious AEFI, with its vaccination record (same person, product, lot, time; onset after)
    aefi = _rows(migrated_engine, "aefi")
    serious = aefi[aefi["serious"] == "yes"]
    assert len(serious) == 1 and len(aefi) > 1 and set(aefi["serious"]) == {"yes", "no"}
    s = serious.iloc[0]
    record = vac[(vac["full_name"].map(fold) == fold(s["full_name"])) & (vac["birth_date"] == s["birth_date"])]
    assert len(record) == 1
    r = record.iloc[0]
    assert (r["product"], r["lot"], r["facility_code"]) == (s["product"], s["lot"], s["facility_code"])
    assert pd.Timestamp(r["vaccinated_at"]) == pd.Timestamp(s["vaccinated_at"]) < pd.Timestamp(s["onset_at"])
    assert s["outcome"] == "hospitalised" and fold("phản vệ") in fold(s["symptoms"])
    assert a.behaviour["serious_aefi"]["facility"] == s["facility_code"]
    # its report arrives after its facility's results file, the same afternoon
    day = a.behaviour["serious_aefi"]["date"]
    [results] = [f for f in a.files if f.kind == "vaccinations" and f.facility == s["facility_code"]
                 and f.path.startswith(day)]
    [report] = [f for f in a.files if f.kind == "aefi" and f.facility == s["facility_code"]]
    assert clock.parse_instant(results.planned_upload_at) < clock.parse_instant(report.planned_upload_at) \
        < clock.parse_instant(f"{results.planned_upload_at[:10]}T{CUT_OFF}:00")

    # the late facility: its results of the first day come in after the day's cut-off, the next morning
    late = a.behaviour["late"]
    [late_file] = [f for f in a.files if f.kind == "vaccinations" and f.facility == late["facility"]
                   and f.path.startswith(late["date"])]
    cut_off = clock.parse_instant(f"{late['date']}T{CUT_OFF}:00")
    assert late_file.status == "event_late" and clock.parse_instant(late_file.planned_upload_at) > cut_off
    on_time = [f for f in a.files if f.kind == "vaccinations" and f.status == "event"]
    assert on_time and all(clock.parse_instant(f.planned_upload_at) < clock.parse_instant(
        f"{f.path[:10]}T{CUT_OFF}:00") for f in on_time)
    # the silent facility: invited people that day, no result row at all
    silent = a.behaviour["silent"]
    that_day = view.invitations[view.invitations["date"].astype(str) == silent["date"]]
    assert len(that_day[that_day["facility_code"] == silent["facility"]]) > 0
    assert not ((vac["facility_code"] == silent["facility"])
                & (pd.to_datetime(vac["session_date"]).dt.date.astype(str) == silent["date"])).any()

    # backfill: people of the master list with doses 1 and 2, and the other cases
    back = _rows(migrated_engine, "backfill")
    assert len(back) == sum(a.truth["backfill"].values()) and a.truth["backfill"].get("dose1_and_2", 0) >= 2
    both = [p for p in a.truth["backfill_persons"] if p["case"] == "dose1_and_2"]
    assert {p["dose"] for p in both} == {1, 2} and all(p["person_id"] for p in both)

    # the stock ledger: the template's headers, balanced on every row but the one planted off
    _check_ledgers(tmp_path / "a", a)

    # count once: the doses given of these days are one number wherever they are shown
    _doses_given_agree(migrated_engine, campaign, [dt.date.fromisoformat(d) for d in a.days])


def _doses_given_agree(engine, campaign, days: list[dt.date]) -> None:
    """The daily results (vaccinated per facility and day), the stock reconciliation (doses given per
    facility and day), the AEFI rates (doses per product) and the dose linking (result rows linked or
    listed) count the same doses: `campaign.doses.store.given_rows`, one per person, facility, day and dose.
    As of a moment before the last files came, all four count fewer, and again the same."""
    from campaign.aefi import run as aefi_run
    from campaign.daily_results import run as daily_run
    from campaign.doses import run as doses_run
    from campaign.doses import store as doses_store
    from campaign.stock import store as stock_store
    from campaign.store.models import DoseLink

    def per_facility_day(frame: pd.DataFrame, day_col: str, count: str | None) -> dict:
        g = frame.assign(_d=pd.to_datetime(frame[day_col]).dt.date)
        g = g.groupby(["facility_code", "_d"])[count].sum() if count else g.groupby(["facility_code", "_d"]).size()
        return {k: int(v) for k, v in g.items() if int(v)}

    late = dt.datetime.combine(days[-1] + dt.timedelta(days=3), dt.time(), dt.UTC)
    with Session(engine) as s:   # just before the last results file came (the late facility's)
        last = s.scalar(select(func.max(Submission.received_at)).where(Submission.kind == "vaccinations"))
    early = last - dt.timedelta(seconds=1)
    totals = []
    for now in (late, early):
        with Session(engine) as s:
            given = doses_store.given_rows(s, DISTRICTS, as_of=now)
            daily = daily_run.figures(s, campaign, now, days).facilities
            stock = stock_store.doses_given(s, list(DISTRICTS), as_of=now)
            aefi = aefi_run.assess(s, campaign, now).rates["by_product"]
        expected = per_facility_day(given, "session_date", None)
        assert expected and per_facility_day(daily, "date", "vaccinated") == expected
        assert per_facility_day(stock, "session_date", "doses") == expected
        by_product = given.groupby("product").size().to_dict()
        assert {r.product: int(r.doses) for r in aefi.itertuples() if r.doses} == by_product
        totals.append(len(given))
    assert totals[1] < totals[0]
    from campaign.store.current import current_rows

    for now, total in ((early, totals[1]), (late, totals[0])):   # the linking reads as of its moment too
        run = doses_run.link(engine, campaign, as_of=now)
        with Session(engine) as s:
            linked_results = s.query(DoseLink).filter(DoseLink.source == "result").count()
            back, _ = current_rows(s, "backfill", ["row_number"], list(DISTRICTS), per_facility=False, as_of=now)
        assert linked_results == total and run.rows == total + len(back)


def _silent_rows(draw) -> int:
    s = draw.behaviour["silent"]
    v = draw.vaccinations
    return int(((v["facility_code"] == s["facility"]) & (v["session_date"].astype(str) == s["date"])).sum()) if s else 0


def _silent_walk_ins(draw) -> int:
    s = draw.behaviour["silent"]
    v = draw.vaccinations
    m = (v["facility_code"] == s["facility"]) & (v["session_date"].astype(str) == s["date"]) if s else False
    return int((m & v["_who"].isin(["walk_in", "unlisted"])).sum())


def _people(full_names: pd.Series, births: pd.Series) -> set[tuple[str, dt.date]]:
    """People by name and birth date (a file written without diacritics still names the same people)."""
    return set(zip(full_names.map(fold), births, strict=True))


def _check_ledgers(out: Path, days) -> None:
    from tests.test_synth import sheet_rows

    files = [f for f in days.files if f.kind == LEDGER_KIND]
    assert files
    off = []
    for f in files:
        rows = sheet_rows(out, f)
        assert set(f.columns.values()) == {c.name for c in LEDGER_SPEC.columns}, f.path   # every column, read
        header = [" ".join(unicodedata.normalize("NFC", str(h or "")).split()) for h in rows[f.header_rows[0] - 1]]
        col = {f.columns[h]: j for j, h in enumerate(header) if h in f.columns}
        data = [r for r in rows[f.first_data_row - 1:] if len(r) > col["facility_code"]
                and re.match(r"^64\d{3}-", str(r[col["facility_code"]]))]
        assert len(data) == f.rows, f.path

        def n(r: list, name: str, col: dict[str, int] = col) -> int:
            v = r[col[name]]
            return int(float(v)) if str(v).strip() else 0

        for r in data:
            if n(r, "vials_opening") + n(r, "vials_received") - n(r, "vials_issued") - n(r, "vials_used") \
                    - n(r, "vials_damaged") - n(r, "vials_expired") != n(r, "vials_closing"):
                off.append((r[col["facility_code"]], str(r[col["lot"]])))
    planted = days.behaviour["stock_discrepancy"]
    assert off == [(planted["facility"], planted["lot"])]


def test_the_manifest_reads_back_and_says_who_sends_late_or_nothing(tmp_path) -> None:
    from campaign.synth.days.write import DaysManifest

    m = DaysManifest(seed=1, plan_run=2, days=["2021-07-29"], behaviour={"late": None}, truth={"per_day": {}})
    again = DaysManifest.from_json(m.to_json())
    assert again == m and json.loads(m.to_json())["plan_run"] == 2


# --- the draw alone (pure): a hand-made plan of two districts, two session days ------------------------------


def _view():
    from campaign.synth import names as nm
    from campaign.synth.days.plan_view import PlanView

    rng = np.random.Generator(np.random.PCG64(5))
    n = 400
    female = rng.random(n) < 0.5
    district = np.where(np.arange(n) < n // 2, "622", "623")
    people = pd.DataFrame({
        "person_id": [f"GL{i:08d}" for i in range(n)], "district": district, "eligible": True,
        "next_dose": np.where(np.arange(n) % 10 == 0, 2, 1),
        "dose1_product": np.where(np.arange(n) % 10 == 0, "astrazeneca", None),
        "dose1_date": [dt.date(2021, 4, 1) if i % 10 == 0 else None for i in range(n)],
        "full_name": nm.sample_names(rng, female, np.zeros(n, dtype=int)),
        "birth_date": [dt.date(1950, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 15000, n)],
        "sex": np.where(female, "female", "male"), "phone": [f"+8491{i:07d}" for i in range(n)],
        "id_number": [f"0640{i:08d}" for i in range(n)], "commune_code": np.where(district == "622", "23566", "23575")})
    facilities = [f"64{d}-TYT-0{k}" for d in ("622", "623") for k in (1, 2, 3)]
    stock = pd.DataFrame({"facility_code": facilities, "district": [f[2:5] for f in facilities],
                          "product": "astrazeneca", "lot": "ABV0001", "expiry_date": dt.date(2021, 10, 1),
                          "doses_per_vial": 10, "vials_on_hand": 60})
    sessions, invitations = [], []
    nxt = {"622": iter(range(0, n // 2)), "623": iter(range(n // 2, n))}   # each person invited once
    for day in (START, START + dt.timedelta(days=1)):
        for f in facilities:
            for part, slot in (("morning", "07:30"), ("afternoon", "13:30")):
                sessions.append({"facility_code": f, "district": f[2:5], "date": day, "part": part,
                                 "product": "astrazeneca", "lots": "ABV0001", "vials": 2, "invited": 12})
                for _ in range(12):
                    p = people.iloc[next(nxt[f[2:5]])]
                    invitations.append({"person_id": p["person_id"], "facility_code": f, "district": f[2:5], "date": day,
                                        "part": part, "slot": slot, "dose": int(p["next_dose"]),
                                        "product": "astrazeneca", "lot": "ABV0001",
                                        **{c: p[c] for c in ("full_name", "birth_date", "sex", "phone", "id_number",
                                                             "commune_code")}})
    return PlanView(run_id=1, start=START, plan_days=14, sessions=pd.DataFrame(sessions),
                    invitations=pd.DataFrame(invitations), people=people, stock=stock)


def test_the_draw_is_the_same_for_a_seed_with_one_serious_case_no_shows_walk_ins_and_a_late_facility() -> None:
    campaign = load_campaign()
    view = _view()
    a = draw_from_view(view, campaign, days=3, seed=7)
    b = draw_from_view(_view(), campaign, days=3, seed=7)
    c = draw_from_view(_view(), campaign, days=3, seed=8)
    for x, y in ((a.vaccinations, b.vaccinations), (a.aefi, b.aefi), (a.backfill, b.backfill), (a.ledger, b.ledger),
                 (a.results, b.results)):
        pd.testing.assert_frame_equal(x, y)
    assert a.behaviour == b.behaviour
    assert not a.vaccinations.equals(c.vaccinations)
    # exactly one serious case, of a vaccinated person of the first day, onset minutes after the injection
    serious = a.aefi[a.aefi["serious"]]
    assert len(serious) == 1 and (~a.aefi["serious"]).sum() >= 1
    s = serious.iloc[0]
    v = a.vaccinations[a.vaccinations["_person_id"] == s["_person_id"]].iloc[0]
    assert v["vaccinated"] and (v["product"], v["lot"], v["dose_number"]) == (s["product"], s["lot"], s["dose_number"])
    assert dt.timedelta(0) < pd.Timestamp(s["onset_at"]) - pd.Timestamp(v["vaccinated_at"]) < dt.timedelta(minutes=30)
    # no-shows are not in the results; walk-ins and people on no list are, on both session days
    assert len(a.no_shows) and not set(a.no_shows["person_id"]) & set(a.vaccinations["_person_id"].dropna())
    for k in (0, 1):
        day = a.vaccinations[a.vaccinations["_day"] == k]
        assert (day["_who"] == "walk_in").any() and (day["_who"] == "unlisted").sum() == 1
    # the late facility sends the next morning, the silent one never; everyone else by 20:00 the same day
    r = a.results
    late, silent = r[r["status"] == "late"], r[r["status"] == "never"]
    assert len(late) == 1 and len(silent) == 1 and late.iloc[0]["facility_code"] != silent.iloc[0]["facility_code"]
    assert late.iloc[0]["sent_at"].date() == late.iloc[0]["date"] + dt.timedelta(days=1)
    on_time = r[r["status"] == "on_time"]
    assert all(t.date() == d and t.hour < 20 for t, d in zip(on_time["sent_at"], on_time["date"], strict=True))
    assert silent.iloc[0]["date"] == START + dt.timedelta(days=1)   # the second day, which holds sessions here
    # backfill: doses 1 and 2 of one person, dose 2 of a person whose dose 1 the list has; the ledger balances
    cases = set(a.backfill["_case"])
    assert {"dose1", "dose1_and_2", "dose2_known_dose1", "unlisted"} <= cases
    led = a.ledger
    balance = led["opening"] + led["received"] - led["issued"] - led["used"] - led["expired"] - led["closing"]
    assert (balance != 0).sum() == 1 and a.behaviour["stock_discrepancy"]["vials"] == -int(balance[balance != 0].iloc[0])


def test_the_ledger_files_carry_the_stock_ledger_kinds_columns() -> None:
    """The columns issue 20.3 decided for the daily stock ledger (PLAN.md, 19:58 UTC), in its order; once the
    `stock_ledger` kind is in config/input_kinds.yaml the files follow it, and it must say the same."""
    from campaign.synth.days.write import ledger_spec

    decided = [("report_date", "Ngày báo cáo"), ("facility_code", "Mã cơ sở tiêm chủng"), ("product", "Tên vắc xin"),
               ("lot", "Số lô"), ("expiry_date", "Hạn sử dụng"), ("doses_per_vial", "Số liều/lọ"),
               ("vials_opening", "Tồn đầu"), ("vials_received", "Nhập"), ("vials_issued", "Xuất cho cơ sở khác"),
               ("vials_used", "Đã sử dụng"), ("vials_damaged", "Hủy/Hư hỏng"), ("vials_expired", "Hết hạn"),
               ("vials_closing", "Tồn cuối"), ("note", "Ghi chú")]
    required = {"report_date", "facility_code", "product", "lot", "vials_received", "vials_used", "vials_closing"}
    for spec in (LEDGER_SPEC, ledger_spec()):
        assert [(c.name, c.header) for c in spec.columns] == decided
        assert {c.name for c in spec.columns if c.required} == required
        assert (spec.mode, spec.scope, spec.natural_key) == ("event", "facility",
                                                             ["facility_code", "product", "lot", "report_date"])
